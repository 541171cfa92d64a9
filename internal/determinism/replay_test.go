package determinism_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/vision-ios/vios/internal/clock"
	"github.com/vision-ios/vios/internal/cycle"
	"github.com/vision-ios/vios/internal/determinism"
	"github.com/vision-ios/vios/internal/gctune"
	"github.com/vision-ios/vios/internal/gov"
	"github.com/vision-ios/vios/internal/ledger"
	"github.com/vision-ios/vios/internal/llm"
	"github.com/vision-ios/vios/internal/testutil"
)

// reworded keeps the keywords but changes every sentence.
type reworded struct{ llm.Builtin }

func (reworded) Summarize(ctx context.Context, req llm.Request) (llm.Response, error) {
	var kw []string
	for _, e := range req.Events {
		kw = append(kw, e.Keyword)
	}
	return llm.Response{Text: "Markets and headlines disagree today. Coverage of " + strings.Join(kw, " and ") + " leads the story. Caution is warranted.", Model: "builtin-summarizer-v1", InputTokens: 10, OutputTokens: 20}, nil
}

// forgetful drops the keywords.
type forgetful struct{ llm.Builtin }

func (forgetful) Summarize(ctx context.Context, req llm.Request) (llm.Response, error) {
	return llm.Response{Text: "Prices moved. News moved. Nobody knows why.", Model: "builtin-summarizer-v1", InputTokens: 10, OutputTokens: 10}, nil
}

func week(t *testing.T, generate bool) (*ledger.Repo, []determinism.Bundle, *determinism.Replayer) {
	t.Helper()
	signers := testutil.Signers(t, "replay")
	r := testutil.OpenRepo(t, testutil.InitRepo(t, signers))
	start := testutil.Epoch.Add(time.Hour)
	for i := 0; i < 48; i++ {
		slot := start.Add(time.Duration(i) * time.Hour)
		opt := cycle.Options{Slot: slot, Clock: clock.NewSim(slot, time.Second), Signers: signers}
		if generate && i%2 == 0 {
			opt.Market, opt.News = testutil.Rally{}, testutil.Bearish{}
		}
		if _, err := cycle.RunAndCommit(context.Background(), r, opt); err != nil {
			t.Fatal(err)
		}
	}
	snap, _ := gov.Load(r)
	bs, probs, err := determinism.LoadRange(r, snap.Commit, start, start.Add(48*time.Hour))
	if err != nil || len(probs) != 0 || len(bs) != 48 {
		t.Fatalf("load: %v %v %d", err, probs, len(bs))
	}
	return r, bs, &determinism.Replayer{Policy: snap.Policy, Registry: snap.Registry, Provider: llm.Builtin{}}
}

func TestReplayCleanHistoryIsDeterministic(t *testing.T) {
	_, bs, rp := week(t, true)
	rep := rp.Replay(context.Background(), bs)
	if rep.Tier4Rate != 1 || rep.Tier2Rate != 1 || rep.OverallRate != 1 || len(rep.Mismatches) != 0 || len(rep.Errors) != 0 {
		t.Fatalf("replay %+v", rep)
	}
	if rep.Tier2Steps != 24 || rep.Tier4Steps < 48*5 {
		t.Fatalf("steps: tier2 %d tier4 %d", rep.Tier2Steps, rep.Tier4Steps)
	}
	// A provider that rewords but keeps the keywords stays Tier-2 deterministic.
	rp.Provider = reworded{}
	if rep := rp.Replay(context.Background(), bs); rep.Tier2Rate != 1 {
		t.Fatalf("reworded: tier2 %v %+v", rep.Tier2Rate, rep.Mismatches)
	}
	// One that drops the keywords does not.
	rp.Provider = forgetful{}
	rep = rp.Replay(context.Background(), bs)
	if rep.Tier2Rate != 0 || rep.Tier4Rate != 1 || rep.OverallRate >= 1 {
		t.Fatalf("forgetful: %+v", rep)
	}
	if m := rep.Mismatches[0]; m.Step != 5 || m.Field != "keyword_coverage_ok" || m.Original != "true" || m.Replayed != "false" {
		t.Fatalf("mismatch %+v", m)
	}
}

func TestReplayFindsATamperedOutput(t *testing.T) {
	_, bs, rp := week(t, false)
	ev := bs[3].Evidence
	ev.Steps[1].Output = []byte(strings.Replace(string(ev.Steps[1].Output), `"cds_tier":"`, `"cds_tier":"x`, 1))
	rep := rp.Replay(context.Background(), bs)
	if rep.Tier4Rate >= 1 || len(rep.Mismatches) != 1 || rep.Mismatches[0].Field != "cds_tier" || rep.Mismatches[0].CycleID != ev.CycleID {
		t.Fatalf("replay %+v", rep.Mismatches)
	}
}

func BenchmarkReplay(b *testing.B) {
	gctune.Apply() // as the vios binary runs
	signers := testutil.Signers(b, "replay")
	r := testutil.OpenRepo(b, testutil.InitRepo(b, signers))
	start := testutil.Epoch.Add(time.Hour)
	testutil.HourlyCycles(b, r, signers, start, 168)
	snap, _ := gov.Load(r)
	bs, _, _ := determinism.LoadRange(r, snap.Commit, start, start.Add(168*time.Hour))
	rp := &determinism.Replayer{Policy: snap.Policy, Registry: snap.Registry, Provider: llm.Builtin{}}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if rep := rp.Replay(context.Background(), bs); rep.OverallRate != 1 {
			b.Fatal("not deterministic")
		}
	}
	b.ReportMetric(float64(len(bs)*b.N)/b.Elapsed().Seconds(), "cycles/s")
}
