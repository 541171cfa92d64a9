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
	"github.com/vision-ios/vios/internal/gctune"
	"github.com/vision-ios/vios/internal/ledger"
	"github.com/vision-ios/vios/internal/testutil"
)

// BenchmarkAuditVerify audits a history of built-in cycles (VIOS_BENCH_CYCLES,
// default 300), or the governance repository VIOS_BENCH_AUDIT_REPO names
// (scripts/bench-git.sh passes the history it gives git), and reports
// commits/s and signatures/s, counting every commit signature and operation
// signature checked. The audit reads through a freshly opened repository,
// as `vios audit verify` does, not through the handle that wrote the
// history and still holds its last commits in memory.
func BenchmarkAuditVerify(b *testing.B) {
	gctune.Apply() // as the vios binary runs
	dir := os.Getenv("VIOS_BENCH_AUDIT_REPO")
	if dir == "" {
		n := 300
		if v, err := strconv.Atoi(os.Getenv("VIOS_BENCH_CYCLES")); err == nil && v > 0 {
			n = v
		}
		dir = benchHistory(b, n)
	}
	ctx := context.Background()
	r, err := ledger.Open(dir)
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
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

// benchHistory commits n hourly cycles to a new governance repository and
// returns its directory.
func benchHistory(b *testing.B, n int) string {
	signers := testutil.Signers(b, "bench")
	dir := testutil.InitRepo(b, signers)
	r, err := ledger.Open(dir)
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	for i := 1; i <= n; i++ {
		slot := testutil.Epoch.Add(time.Duration(i) * time.Hour)
		if _, err := cycle.RunAndCommit(context.Background(), r, cycle.Options{Slot: slot, Clock: clock.NewSim(slot, time.Second), Signers: signers}); err != nil {
			b.Fatal(err)
		}
	}
	return dir
}
