package gov_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/vision-ios/vios/internal/deviation"
	"github.com/vision-ios/vios/internal/fault"
	"github.com/vision-ios/vios/internal/gov"
	"github.com/vision-ios/vios/internal/layout"
	"github.com/vision-ios/vios/internal/ledger"
	"github.com/vision-ios/vios/internal/state"
	"github.com/vision-ios/vios/internal/testutil"
)

// TestStopsNamesStates: the states deviations stop production with are the
// operational states resume lifts.
func TestStopsNamesStates(t *testing.T) {
	if deviation.Stops[deviation.SignatureFailure] != state.Halted || deviation.Stops[deviation.ADRCompliance] != state.Paused || len(deviation.Stops) != 2 {
		t.Fatalf("deviation.Stops = %v", deviation.Stops)
	}
}

// TestResumeRefusedWhileTheStoppingDeviationIsOpen: HALTED and PAUSED are
// lifted only by a LARS-signed resolution. Resume refuses (exit 1) while
// an open deviation of the kind that causes the current state exists —
// escalated after an SLA breach counts as open — naming it and the resolve
// command; a deviation of another kind, or a resolved one, does not stand
// in the way of lifting a stop no open deviation explains.
func TestResumeRefusedWhileTheStoppingDeviationIsOpen(t *testing.T) {
	signers := testutil.Signers(t, "resume")
	r := testutil.OpenRepo(t, testutil.InitRepo(t, signers))
	ctx := context.Background()
	at := testutil.Epoch.Add(time.Hour)
	snap, err := gov.Load(r)
	if err != nil {
		t.Fatal(err)
	}
	commit := func(files ...ledger.File) {
		t.Helper()
		head, _ := r.Head()
		ssh, err := signers["CODE"].SSH()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.Apply(ctx, &ledger.Change{Subject: "test", Trailers: [][2]string{{"Vios-Agent", "CODE"}},
			Files: files, Author: gov.Author("CODE"), When: at, Signer: ssh, Parent: head}); err != nil {
			t.Fatal(err)
		}
	}
	setState := func(mode string) {
		t.Helper()
		st, err := gov.Load(r)
		if err != nil {
			t.Fatal(err)
		}
		s := *st.State
		s.Transition(mode, "set by the test", "CODE", at)
		commit(ledger.File{Path: layout.StateFile, Data: s.Marshal()})
	}
	newDev := func(typ, id string) *deviation.Record {
		t.Helper()
		d, err := deviation.New(snap.Policy, typ, id, "", "test", at)
		if err != nil {
			t.Fatal(err)
		}
		commit(ledger.File{Path: d.Path(), Data: d.Marshal()})
		return d
	}
	resume := func(reason string) (*state.State, error) {
		_, st, err := gov.Resume(ctx, r, signers["LARS"], reason, at.Add(time.Minute))
		return st, err
	}

	// PAUSED with its ADR-compliance deviation open, and another one that
	// breached its SLA (escalated, still open): refused, naming both.
	setState(state.Paused)
	a := newDev(deviation.ADRCompliance, "A")
	b := newDev(deviation.ADRCompliance, "B")
	b.Append(deviation.Event{At: at.Add(5 * time.Hour).Format(time.RFC3339), Type: deviation.EventBreached, By: "CODE", Detail: "SLA passed"})
	commit(ledger.File{Path: b.Path(), Data: b.Marshal()})
	before, _ := r.Head()
	_, err = resume("try")
	if !errors.Is(err, gov.ErrOpenDeviation) || fault.Code(err) != fault.CodeGovernance {
		t.Fatalf("resume while PAUSED by open deviations: %v", err)
	}
	for _, want := range []string{a.ID, b.ID, "PAUSED", "vios deviation resolve " + a.ID + " --signer LARS"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("refusal %q does not name %q", err, want)
		}
	}
	if head, _ := r.Head(); head != before {
		t.Fatal("a refused resume committed")
	}

	// Resolved ones do not count; a signature deviation does not explain
	// a pause.
	for _, d := range []*deviation.Record{a, b} {
		d.Append(deviation.Event{At: at.Add(6 * time.Hour).Format(time.RFC3339), Type: deviation.EventResolved, By: "LARS", RootCause: "x", Plan: "y"})
		commit(ledger.File{Path: d.Path(), Data: d.Marshal()})
	}
	newDev(deviation.SignatureFailure, "S")
	if st, err := resume("the pause was recorded by hand"); err != nil || st.State != state.Running {
		t.Fatalf("resume of a pause no open deviation explains: %v", err)
	}

	// HALTED with that signature deviation open: refused.
	setState(state.Halted)
	if _, err := resume("try"); !errors.Is(err, gov.ErrOpenDeviation) || !strings.Contains(err.Error(), "DEV-"+deviation.SignatureFailure+"-S") {
		t.Fatalf("resume while HALTED by an open deviation: %v", err)
	}
	// Only LARS, still: the checks before the deviation scan hold.
	if _, _, err := gov.Resume(ctx, r, signers["VEGA"], "x", at); !fault.IsInput(err) {
		t.Fatalf("VEGA resume: %v", err)
	}
}
