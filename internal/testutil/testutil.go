// Package testutil builds governance repositories for tests and benchmarks:
// fresh agent keys and an initialised repository on disk.
package testutil

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"math"
	"testing"
	"time"

	"github.com/vision-ios/vios/internal/market"
	"github.com/vision-ios/vios/internal/news"

	"github.com/vision-ios/vios/internal/clock"
	"github.com/vision-ios/vios/internal/cycle"
	"github.com/vision-ios/vios/internal/gov"
	"github.com/vision-ios/vios/internal/ledger"
	"github.com/vision-ios/vios/internal/policy"
	"github.com/vision-ios/vios/internal/signing"
)

// Epoch is the fixed time test repositories are initialised at.
var Epoch = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

// Signers returns deterministic signers for all agents, derived from seed.
func Signers(tb testing.TB, seed string) map[string]*signing.Signer {
	tb.Helper()
	out := map[string]*signing.Signer{}
	for _, a := range policy.Agents {
		s := sha256.Sum256([]byte(seed + "/" + a))
		sg, err := signing.NewSigner(a, ed25519.NewKeyFromSeed(s[:]))
		if err != nil {
			tb.Fatal(err)
		}
		out[a] = sg
	}
	return out
}

// InitRepo initialises a governance repository in a temporary directory.
func InitRepo(tb testing.TB, signers map[string]*signing.Signer) string {
	tb.Helper()
	dir := tb.TempDir() + "/gov"
	if _, err := gov.Init(context.Background(), dir, signers, Epoch); err != nil {
		tb.Fatal(err)
	}
	return dir
}

// HourlyCycles commits n built-in cycles to r, one an hour from first,
// each run on a simulated clock starting at its slot.
func HourlyCycles(tb testing.TB, r *ledger.Repo, signers map[string]*signing.Signer, first time.Time, n int) {
	tb.Helper()
	for i := range n {
		slot := first.Add(time.Duration(i) * time.Hour)
		if _, err := cycle.RunAndCommit(context.Background(), r, cycle.Options{Slot: slot, Clock: clock.NewSim(slot, time.Second), Signers: signers}); err != nil {
			tb.Fatalf("cycle at %s: %v", slot.Format(time.RFC3339), err)
		}
	}
}

// OpenRepo opens the repository at dir for the test, closed when it ends.
func OpenRepo(tb testing.TB, dir string) *ledger.Repo {
	tb.Helper()
	r, err := ledger.Open(dir)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { r.Close() })
	return r
}

// Rally is a market source of a steady rally: its price signal is strongly
// positive, so with Bearish news every cycle's CDS is near 1.
type Rally struct{}

// Name implements market.Source.
func (Rally) Name() string { return "test:rally" }

// Fetch implements market.Source.
func (Rally) Fetch(_ context.Context, req market.Request) ([]market.Candle, error) {
	last := req.Slot.UTC().Truncate(24 * time.Hour)
	out := make([]market.Candle, req.Limit)
	for i := range out {
		t := last.AddDate(0, 0, i-req.Limit)
		c := math.Round(50000*math.Pow(1.01, float64(i))*(1+0.004*math.Sin(float64(i)))*100) / 100
		out[i] = market.Candle{OpenTime: t, Open: c, High: c * 1.01, Low: c * 0.99, Close: c, Volume: 1000, CloseTime: t.Add(24*time.Hour - time.Millisecond)}
	}
	return out, nil
}

// Bearish is a news source of strongly bearish events just before the slot.
type Bearish struct{}

// Name implements news.Source.
func (Bearish) Name() string { return "test:bearish" }

// Fetch implements news.Source.
func (Bearish) Fetch(_ context.Context, req news.Request) ([]news.Event, error) {
	kw := []string{"hack", "regulation", "liquidation"}
	var out []news.Event
	for i, k := range kw {
		out = append(out, news.Event{ID: "bear-" + k, PublishedAt: req.Slot.Add(-time.Duration(i+1) * time.Hour), Source: "test",
			Headline: "Bearish " + k + " news", Keywords: []string{k}, Sentiment: -0.9, Relevance: 1})
	}
	return out, nil
}
