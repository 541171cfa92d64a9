package cycle_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/vision-ios/vios/internal/audit"
	"github.com/vision-ios/vios/internal/clock"
	"github.com/vision-ios/vios/internal/cycle"
	"github.com/vision-ios/vios/internal/ledger"
	"github.com/vision-ios/vios/internal/llm"
	"github.com/vision-ios/vios/internal/market"
	"github.com/vision-ios/vios/internal/news"
	"github.com/vision-ios/vios/internal/testutil"
)

// unreachable fails every call: a rebuilt cycle must not fetch or call a
// provider again.
type unreachable struct{}

func (unreachable) Name() string  { return "unreachable" }
func (unreachable) Model() string { return "none" }
func (unreachable) Fetch(context.Context, market.Request) ([]market.Candle, error) {
	return nil, errors.New("market called")
}
func (unreachable) Summarize(context.Context, llm.Request) (llm.Response, error) {
	return llm.Response{}, errors.New("provider called")
}

type unreachableNews struct{}

func (unreachableNews) Name() string { return "unreachable" }
func (unreachableNews) Fetch(context.Context, news.Request) ([]news.Event, error) {
	return nil, errors.New("news called")
}

// TestRebuildReRunsOnNewTip: a cycle committed on an old tip is re-run on a
// tip that recorded another cycle meanwhile: from its recorded candles,
// events and summary (no source or provider is called), with the same
// outputs, its lineage linked to the other cycle's, and an audit that
// passes. Rebuilding it again does nothing.
func TestRebuildReRunsOnNewTip(t *testing.T) {
	signers := testutil.Signers(t, "rebuild")
	r := testutil.OpenRepo(t, testutil.InitRepo(t, signers))
	ctx := context.Background()
	base, _ := r.Head()
	run := func(i int) *cycle.Committed {
		slot := testutil.Epoch.Add(time.Duration(i) * time.Hour)
		c, err := cycle.RunAndCommit(ctx, r, cycle.Options{Slot: slot, Clock: clock.NewSim(slot, time.Second), Signers: signers,
			Market: testutil.Rally{}, News: testutil.Bearish{}})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	mine := run(5) // a summary is generated: Rally against Bearish news
	if mine.Result.Evidence.Outcome.SummaryStatus != "generated" {
		t.Fatalf("summary %s", mine.Result.Evidence.Outcome.SummaryStatus)
	}
	old, err := r.Commit(mine.Commit)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Reset(ctx, mine.Commit, base); err != nil {
		t.Fatal(err)
	}
	theirs := run(6) // another orchestrator's cycle on the old tip

	slot := testutil.Epoch.Add(5 * time.Hour)
	opt := cycle.Options{Clock: clock.NewSim(slot.Add(time.Hour), time.Second), Signers: signers,
		Market: unreachable{}, News: unreachableNews{}, Provider: unreachable{}}
	re, err := cycle.Rebuild(ctx, r, old, opt)
	if err != nil {
		t.Fatal(err)
	}
	if re.Existing || re.CycleID != mine.CycleID {
		t.Fatalf("rebuilt %+v", re)
	}
	first := re.Result.Log.Operations[0].ParentHash
	last := theirs.Result.Log.Operations[len(theirs.Result.Log.Operations)-1].LineageHash
	if first == nil || *first != last {
		t.Fatalf("rebuilt cycle links to %v, want the other cycle's last lineage %s", first, last)
	}
	for i, s := range re.Result.Evidence.Steps {
		if o := mine.Result.Evidence.Steps[i]; s.OutputHash != o.OutputHash || s.Status != o.Status {
			t.Errorf("step %d: output %s/%s, first run %s/%s", s.Step, s.OutputHash, s.Status, o.OutputHash, o.Status)
		}
	}
	if re.Result.Log.Operations[0].Signature == mine.Result.Log.Operations[0].Signature {
		t.Error("the rebuilt cycle reuses the first run's signature")
	}
	rep, err := audit.Verify(ctx, r, audit.Options{})
	if err != nil || !rep.Passed || rep.LogsChecked != 2 {
		t.Fatalf("audit: %v %+v", err, rep)
	}
	again, err := cycle.Rebuild(ctx, r, old, opt)
	if err != nil || !again.Existing {
		t.Fatalf("second rebuild: %+v, %v", again, err)
	}
	if _, err := cycle.Rebuild(ctx, r, mustCommit(t, r, base), opt); err == nil {
		t.Fatal("rebuilt a commit that is not a cycle")
	}
}

func mustCommit(t *testing.T, r *ledger.Repo, h plumbing.Hash) *object.Commit {
	t.Helper()
	c, err := r.Commit(h)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
