package costreport_test

import (
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/vision-ios/vios/internal/costreport"
	"github.com/vision-ios/vios/internal/economics"
	"github.com/vision-ios/vios/internal/gctune"
	"github.com/vision-ios/vios/internal/gov"
	"github.com/vision-ios/vios/internal/policy"
	"github.com/vision-ios/vios/internal/testutil"
)

// BenchmarkDailyReport builds the cost report of the last day of a
// repository holding VIOS_BENCH_DAYS (default 365) days of hourly cycles,
// without cost reports for the earlier days, so the 30-day trajectory is
// read from evidence: the worst case.
func BenchmarkDailyReport(b *testing.B) {
	gctune.Apply() // as the vios binary runs
	days := 365
	if v, err := strconv.Atoi(os.Getenv("VIOS_BENCH_DAYS")); err == nil && v > 0 {
		days = v
	}
	signers := testutil.Signers(b, "bench")
	dir := testutil.InitRepo(b, signers)
	r := testutil.OpenRepo(b, dir)
	start := testutil.Epoch.Add(time.Hour)
	testutil.HourlyCycles(b, r, signers, start, days*24)
	snap, err := gov.Load(r)
	if err != nil {
		b.Fatal(err)
	}
	last := start.Add(time.Duration(days*24-2) * time.Hour).Truncate(24 * time.Hour)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rep, err := costreport.Build(r, snap.Commit, snap.Policy, last)
		if err != nil || rep.DailySummary.TotalCycles != 24 {
			b.Fatalf("report: %v", err)
		}
	}
	b.ReportMetric(float64(days*24), "cycles-in-repo")
}

// BenchmarkGuard is the ADR-012 pre-flight check a cycle adds.
func BenchmarkGuard(b *testing.B) {
	gctune.Apply() // as the vios binary runs
	p, _ := policy.Defaults()
	u := economics.Usage{Day: "2026-11-24", Summaries: 40, SpendUSD: 0.2}
	for i := 0; i < b.N; i++ {
		if d, err := economics.Check(p.Economics, "builtin-summarizer-v1", 180, u); err != nil || !d.Allowed {
			b.Fatal(err)
		}
	}
}
