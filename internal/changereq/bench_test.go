package changereq

import (
	"context"
	"testing"

	"github.com/vision-ios/vios/internal/gctune"
)

// BenchmarkGateOffline judges a complete, approved change request on its
// signed records: diff, document, two signature verifications, manifest.
func BenchmarkGateOffline(b *testing.B) {
	gctune.Apply() // as the vios binary runs
	f := newFixture(b)
	cr, br, _ := f.ready()
	f.approve(cr.ID)
	in := Input{Repo: f.r, Base: f.main, Head: f.tip(br)}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		res, err := Gate(context.Background(), in)
		if err != nil || !res.Passed {
			b.Fatalf("%v %+v", err, res)
		}
	}
}
