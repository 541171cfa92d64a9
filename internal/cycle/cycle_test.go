package cycle_test

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/vision-ios/vios/internal/clock"
	"github.com/vision-ios/vios/internal/cycle"
	"github.com/vision-ios/vios/internal/fault"
	"github.com/vision-ios/vios/internal/gov"
	"github.com/vision-ios/vios/internal/layout"
	"github.com/vision-ios/vios/internal/ledger"
	"github.com/vision-ios/vios/internal/market"
	"github.com/vision-ios/vios/internal/signing"
	"github.com/vision-ios/vios/internal/sla"
	"github.com/vision-ios/vios/internal/state"
	"github.com/vision-ios/vios/internal/testutil"
)

func runAt(t *testing.T, r *ledger.Repo, signers map[string]*signing.Signer, slot time.Time) (*cycle.Committed, error) {
	t.Helper()
	return cycle.RunAndCommit(context.Background(), r, cycle.Options{Slot: slot, Clock: clock.NewSim(slot, time.Second), Signers: signers})
}

func TestCyclesChainAndRecord(t *testing.T) {
	signers := testutil.Signers(t, "chain")
	r := testutil.OpenRepo(t, testutil.InitRepo(t, signers))
	var prevLast *string
	generated, skipped := 0, 0
	for i := 1; i <= 30; i++ {
		slot := testutil.Epoch.Add(time.Duration(i*7) * time.Hour) // spread over 9 days of news moods
		c, err := runAt(t, r, signers, slot)
		if err != nil {
			t.Fatalf("cycle %d: %v", i, err)
		}
		lg, ev := c.Result.Log, c.Result.Evidence
		if c.CycleID != layout.CycleID(slot) || lg.CycleID != c.CycleID {
			t.Fatalf("cycle id %s", c.CycleID)
		}
		s := lg.Summary
		if s.VerificationStatus != "PASS" || s.SignaturesVerified != s.SignaturesRequired || s.VerificationRatePct != 100 || lg.FinalVerdict != cycle.Granted {
			t.Fatalf("cycle %d summary %+v verdict %s", i, s, lg.FinalVerdict)
		}
		if !sameP(lg.Operations[0].ParentHash, prevLast) {
			t.Fatalf("cycle %d does not link to the previous cycle", i)
		}
		for j := 1; j < len(lg.Operations); j++ {
			if *lg.Operations[j].ParentHash != lg.Operations[j-1].LineageHash {
				t.Fatalf("cycle %d step %d parent", i, lg.Operations[j].Step)
			}
		}
		l := lg.Operations[len(lg.Operations)-1].LineageHash
		prevLast = &l
		switch ev.Outcome.SummaryStatus {
		case "generated":
			generated++
			if len(lg.Operations) != 7 || ev.Outcome.CostUSD <= 0 || ev.Outcome.CDSScore < 0.65 {
				t.Fatalf("generated summary: %d ops, cost %v, cds %v", len(lg.Operations), ev.Outcome.CostUSD, ev.Outcome.CDSScore)
			}
		case "skipped":
			skipped++
			if len(lg.Operations) != 5 || len(lg.SkippedOperations) != 2 || ev.Outcome.CDSScore >= 0.65 {
				t.Fatalf("skipped summary: %d ops %d skipped", len(lg.Operations), len(lg.SkippedOperations))
			}
		default:
			t.Fatalf("summary status %q", ev.Outcome.SummaryStatus)
		}
		if len(ev.Steps) != 7 {
			t.Fatalf("evidence has %d steps", len(ev.Steps))
		}
	}
	if generated == 0 || skipped == 0 {
		t.Fatalf("30 cycles: %d summaries generated, %d skipped; want both", generated, skipped)
	}
	snap, err := gov.Load(r)
	if err != nil {
		t.Fatal(err)
	}
	if snap.State.CyclesRecorded != 30 || !sameP(snap.State.LastLineageHash, prevLast) {
		t.Fatalf("state %+v", snap.State)
	}
}

func sameP(a, b *string) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return *a == *b
}

func TestSameSlotTwiceDoesNothing(t *testing.T) {
	signers := testutil.Signers(t, "idem")
	r := testutil.OpenRepo(t, testutil.InitRepo(t, signers))
	slot := testutil.Epoch.Add(5 * time.Hour)
	c1, err := runAt(t, r, signers, slot)
	if err != nil {
		t.Fatal(err)
	}
	c2, err := runAt(t, r, signers, slot)
	if err != nil {
		t.Fatal(err)
	}
	head, _ := r.Head()
	if !c2.Existing || c2.Commit != c1.Commit || head != c1.Commit {
		t.Fatalf("second run: existing=%v commit=%s head=%s", c2.Existing, c2.Commit, head)
	}
}

func TestSignatureFailureHalts(t *testing.T) {
	signers := testutil.Signers(t, "halt")
	r := testutil.OpenRepo(t, testutil.InitRepo(t, signers))
	if _, err := runAt(t, r, signers, testutil.Epoch.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	// FINN's private key no longer matches the registry.
	swapped := map[string]*signing.Signer{}
	for k, v := range signers {
		swapped[k] = v
	}
	seed := sha256.Sum256([]byte("rogue"))
	swapped["FINN"], _ = signing.NewSigner("FINN", ed25519.NewKeyFromSeed(seed[:]))
	slot := testutil.Epoch.Add(2 * time.Hour)
	c, err := runAt(t, r, swapped, slot)
	if !errors.Is(err, cycle.ErrCycleHalted) || fault.Code(err) != fault.CodeGovernance {
		t.Fatalf("err = %v (code %d), want a halt", err, fault.Code(err))
	}
	lg := c.Result.Log
	if lg.Summary.VerificationStatus != "FAIL" || lg.Summary.SignaturesFailed != 1 || len(lg.Operations) != 2 || lg.Operations[1].Verified {
		t.Fatalf("halted log: %+v, %d ops", lg.Summary, len(lg.Operations))
	}
	for _, s := range c.Result.Evidence.Steps[2:] {
		if s.Status != cycle.StatusNotRun {
			t.Fatalf("step %d ran after the halt: %s", s.Step, s.Status)
		}
	}
	if len(lg.Alerts) == 0 || lg.Alerts[0].Type != "signature_verification_failure" {
		t.Fatalf("alerts %+v", lg.Alerts)
	}
	snap, _ := gov.Load(r)
	if snap.State.State != state.Halted || snap.Commit != c.Commit {
		t.Fatalf("state %s at %s, want HALTED in the cycle commit %s", snap.State.State, snap.Commit, c.Commit)
	}
	// While halted, nothing runs and nothing is committed.
	_, err = runAt(t, r, signers, testutil.Epoch.Add(3*time.Hour))
	if !errors.Is(err, state.ErrHalted) || fault.Code(err) != fault.CodeGovernance {
		t.Fatalf("run while halted: %v", err)
	}
	if head, _ := r.Head(); head != c.Commit {
		t.Fatal("a commit was made while halted")
	}
	// Only LARS resumes.
	if _, _, err := gov.Resume(context.Background(), r, signers["VEGA"], "try", slot); !fault.IsInput(err) {
		t.Fatalf("VEGA resume: %v", err)
	}
	if _, _, err := gov.Resume(context.Background(), r, signers["LARS"], "", slot); !fault.IsInput(err) {
		t.Fatalf("resume without reason: %v", err)
	}
	rogueLars, _ := signing.NewSigner("LARS", ed25519.NewKeyFromSeed(seed[:]))
	if _, _, err := gov.Resume(context.Background(), r, rogueLars, "x", slot); fault.Code(err) != fault.CodeGovernance {
		t.Fatalf("resume with a non-registry LARS key: %v", err)
	}
	// HALTED is lifted only by LARS resolving the deviation the halt
	// opened: resuming around it is refused, naming it.
	devID := "DEV-" + lg.Alerts[0].Type + "-" + c.CycleID
	if _, _, err := gov.Resume(context.Background(), r, signers["LARS"], "FINN key restored", slot.Add(time.Minute)); !errors.Is(err, gov.ErrOpenDeviation) ||
		fault.Code(err) != fault.CodeGovernance || !strings.Contains(err.Error(), devID) || !strings.Contains(err.Error(), "vios deviation resolve") {
		t.Fatalf("LARS resume with the deviation open: %v", err)
	}
	res, err := sla.Resolve(context.Background(), r, signers["LARS"], []sla.Sink{}, devID, "FINN key restored", "check keys before each cycle", slot.Add(time.Minute))
	if err != nil || res.StateTo != state.Running {
		t.Fatalf("LARS resolution: %+v, %v", res, err)
	}
	if _, _, err := gov.Resume(context.Background(), r, signers["LARS"], "again", slot.Add(2*time.Minute)); !fault.IsInput(err) {
		t.Fatalf("resume when RUNNING: %v", err)
	}
	if _, err := runAt(t, r, signers, testutil.Epoch.Add(3*time.Hour)); err != nil {
		t.Fatalf("cycle after resume: %v", err)
	}
}

type failingMarket struct{}

func (failingMarket) Name() string { return "broken" }
func (failingMarket) Fetch(context.Context, market.Request) ([]market.Candle, error) {
	return nil, fault.Inputf("csv line 3: bad close")
}

func TestBadInputCommitsNothing(t *testing.T) {
	signers := testutil.Signers(t, "bad")
	r := testutil.OpenRepo(t, testutil.InitRepo(t, signers))
	before, _ := r.Head()
	slot := testutil.Epoch.Add(time.Hour)
	_, err := cycle.RunAndCommit(context.Background(), r, cycle.Options{Slot: slot, Clock: clock.NewSim(slot, time.Second), Signers: signers, Market: failingMarket{}})
	if !fault.IsInput(err) || !strings.Contains(err.Error(), "bad close") {
		t.Fatalf("err = %v", err)
	}
	_, err = cycle.RunAndCommit(context.Background(), r, cycle.Options{Slot: slot, Clock: clock.NewSim(slot, time.Second), Signers: signers, MarketSpec: "ftp://x"})
	if !fault.IsInput(err) {
		t.Fatalf("unknown source: %v", err)
	}
	if after, _ := r.Head(); after != before {
		t.Fatal("bad input produced a commit")
	}
}
