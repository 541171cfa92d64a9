package audit_test

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/vision-ios/vios/internal/audit"
	"github.com/vision-ios/vios/internal/clock"
	"github.com/vision-ios/vios/internal/cycle"
	"github.com/vision-ios/vios/internal/ledger"
	"github.com/vision-ios/vios/internal/testutil"
)

// BenchmarkAuditVerify audits a history of built-in cycles (VIOS_BENCH_CYCLES,
// default 300) and reports commits/s and signatures/s, counting every commit
// signature and operation signature checked. VIOS_BENCH_REPO, when set,
// keeps the history there for scripts/bench-git.sh to replay with git.
func BenchmarkAuditVerify(b *testing.B) {
	n := 300
	if v, err := strconv.Atoi(os.Getenv("VIOS_BENCH_CYCLES")); err == nil && v > 0 {
		n = v
	}
	signers := testutil.Signers(b, "bench")
	dir := testutil.InitRepo(b, signers)
	r, err := ledger.Open(dir)
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	ctx := context.Background()
	for i := 1; i <= n; i++ {
		slot := testutil.Epoch.Add(time.Duration(i) * time.Hour)
		if _, err := cycle.RunAndCommit(ctx, r, cycle.Options{Slot: slot, Clock: clock.NewSim(slot, time.Second), Signers: signers}); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	var rep *audit.Report
	for i := 0; i < b.N; i++ {
		rep, err = audit.Verify(ctx, r, audit.Options{})
		if err != nil || !rep.Passed {
			b.Fatalf("audit: %v %+v", err, rep)
		}
	}
	sec := b.Elapsed().Seconds() / float64(b.N)
	b.ReportMetric(float64(rep.CommitsChecked)/sec, "commits/s")
	b.ReportMetric(float64(rep.CommitSignatures+rep.OperationSignatures)/sec, "sigs/s")
}
