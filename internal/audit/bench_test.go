package audit_test

import (
	"context"
	"crypto/ed25519"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vision-ios/vios/internal/audit"
	"github.com/vision-ios/vios/internal/gctune"
	"github.com/vision-ios/vios/internal/ledger"
	"github.com/vision-ios/vios/internal/testutil"
	"github.com/vision-ios/vios/internal/testutil/cputime"
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
	ceiling := ed25519Rate(time.Second)
	b.ResetTimer()
	startCPU := cputime.Self()
	var rep *audit.Report
	for i := 0; i < b.N; i++ {
		rep, err = audit.Verify(ctx, r, audit.Options{})
		if err != nil || !rep.Passed {
			b.Fatalf("audit: %v %+v", err, rep)
		}
	}
	b.StopTimer()
	cpu := cputime.Self() - startCPU
	ceiling = (ceiling + ed25519Rate(time.Second)) / 2
	sec := b.Elapsed().Seconds() / float64(b.N)
	sigs := float64(rep.CommitSignatures+rep.OperationSignatures) / sec
	b.ReportMetric(float64(rep.CommitsChecked)/sec, "commits/s")
	b.ReportMetric(sigs, "sigs/s")
	b.ReportMetric(ceiling, "ed25519/s")
	b.ReportMetric(100*sigs/ceiling, "%ed25519")
	if cpu > 0 {
		b.ReportMetric(float64(cpu.Microseconds())/float64(b.N*rep.CommitsChecked), "cpu-µs/commit")
	}
}

// ed25519Rate is the machine's bare stdlib Ed25519 verify rate on all its
// cores, as BenchmarkEd25519Verify measures it, over about d. The audit
// benchmark measures it just before and just after auditing and reports
// the audit's signature rate against their mean, so that a shared
// machine's changing speed weighs on both sides of the ratio alike.
func ed25519Rate(d time.Duration) float64 {
	priv := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	msg := make([]byte, 400)
	sig := ed25519.Sign(priv, msg)
	pub := priv.Public().(ed25519.PublicKey)
	var total atomic.Int64
	start := time.Now()
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			n := int64(0)
			for time.Since(start) < d {
				for range 32 {
					if !ed25519.Verify(pub, msg, sig) {
						panic("ed25519: a good signature does not verify")
					}
				}
				n += 32
			}
			total.Add(n)
		})
	}
	wg.Wait()
	return float64(total.Load()) / time.Since(start).Seconds()
}

// benchHistory commits n hourly cycles to a new governance repository and
// returns its directory.
func benchHistory(b *testing.B, n int) string {
	signers := testutil.Signers(b, "bench")
	dir := testutil.InitRepo(b, signers)
	testutil.HourlyCycles(b, testutil.OpenRepo(b, dir), signers, testutil.Epoch.Add(time.Hour), n)
	return dir
}
