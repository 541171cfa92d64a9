package audit_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/vision-ios/vios/internal/clock"
	"github.com/vision-ios/vios/internal/cycle"
	"github.com/vision-ios/vios/internal/gov"
	"github.com/vision-ios/vios/internal/llm"
	"github.com/vision-ios/vios/internal/market"
	"github.com/vision-ios/vios/internal/news"
)

func engine(t *testing.T, f *fixture) *cycle.Engine {
	t.Helper()
	snap, err := gov.Load(f.r)
	if err != nil {
		t.Fatal(err)
	}
	ms, _ := market.NewSource("builtin", market.Options{})
	ns, _ := news.NewSource("builtin")
	return &cycle.Engine{Policy: snap.Policy, Registry: snap.Registry, Signers: f.signers, Market: ms, News: ns,
		Provider: llm.Builtin{}, Clock: clock.NewSim(f.slots[len(f.slots)-1].Add(40*time.Hour), time.Second)}
}

func lastLineage(t *testing.T, f *fixture) *string {
	snap, err := gov.Load(f.r)
	if err != nil {
		t.Fatal(err)
	}
	return snap.State.LastLineageHash
}

func mustJSON(t *testing.T, v any) []byte {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return b
}
