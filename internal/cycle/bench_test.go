package cycle_test

import (
	"context"
	"testing"
	"time"

	"github.com/vision-ios/vios/internal/clock"
	"github.com/vision-ios/vios/internal/cycle"
	"github.com/vision-ios/vios/internal/gctune"
	"github.com/vision-ios/vios/internal/testutil"
)

// BenchmarkCycle runs built-in cycles end to end: seven agent operations
// signed and verified, VEGA's attestation, and one commit signed by CODE.
func BenchmarkCycle(b *testing.B) {
	gctune.Apply() // as the vios binary runs
	signers := testutil.Signers(b, "bench")
	dir := testutil.InitRepo(b, signers)
	r := testutil.OpenRepo(b, dir)
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		slot := testutil.Epoch.Add(time.Duration(i+1) * time.Hour)
		if _, err := cycle.RunAndCommit(ctx, r, cycle.Options{Slot: slot, Clock: clock.NewSim(slot, time.Second), Signers: signers}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "cycles/s")
}
