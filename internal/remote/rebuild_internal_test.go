package remote

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/google/go-cmp/cmp"

	"github.com/vision-ios/vios/internal/ledger"
	"github.com/vision-ios/vios/internal/state"
)

func TestParseMessageRoundTrip(t *testing.T) {
	for _, c := range []ledger.Change{
		{Subject: "cycle 0123456789abcdef: 7/7 signatures verified, VEGA GRANTED", Body: "Slot 2026-11-01T01:00:00Z. CDS 0.1234, summary skipped.",
			Trailers: [][2]string{{"Vios-Artifact", "signature_log"}, {"Vios-Cycle", "0123456789abcdef"}, {"Vios-Agent", "CODE"}}},
		{Subject: "halt", Body: "first line\nsecond: line\n\nADR-012 breach: too much; opened DEV-x.", Trailers: [][2]string{{"Vios-Agent", "CODE"}}},
		{Subject: "no body", Trailers: [][2]string{{"Vios-Artifact", "cost_report"}}},
		{Subject: "no trailers", Body: "just a body"},
		{Subject: "bare subject"},
	} {
		msg := c.Message()
		subject, body, trailers := ParseMessage(msg)
		got := ledger.Change{Subject: subject, Body: body, Trailers: trailers}
		if got.Message() != msg {
			t.Errorf("round trip of %q:\n got %q", msg, got.Message())
		}
	}
	if v := trailer("s\n\nb\n\nVios-Agent: VEGA\nVios-Date: 2026-11-01\n", "Vios-Agent"); v != "VEGA" {
		t.Errorf("trailer = %q", v)
	}
	if v := trailer("s\n\nVios-Agent: in the body, not a trailer block\nplain line\n", "Vios-Agent"); v != "" {
		t.Errorf("trailer from a body paragraph = %q", v)
	}
}

func TestMergeStateJSON(t *testing.T) {
	base := state.Initial(time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC))
	at := func(s state.State, f func(*state.State)) []byte { f(&s); return s.Marshal() }
	b := base.Marshal()
	t1 := time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)
	lin := "sha256:abc"
	theirsCycle := at(*base, func(s *state.State) {
		s.LastCycleID, s.LastLineageHash, s.CyclesRecorded, s.UpdatedAt = "0123456789abcdef", &lin, 1, "2026-11-01T05:00:00Z"
	})
	oursPause := at(*base, func(s *state.State) { s.Transition(state.Paused, "attestation FAIL", "CODE", t1) })
	theirsHalt := at(*base, func(s *state.State) { s.Transition(state.Halted, "signature failure", "CODE", t1.Add(time.Hour)) })

	// Our pause lands on their cycle: both kept, the newest stamp wins.
	got, err := mergeStateJSON(b, oursPause, theirsCycle, plumbing.ZeroHash)
	if err != nil {
		t.Fatal(err)
	}
	st, err := state.Parse(got)
	if err != nil {
		t.Fatal(err)
	}
	want := *base
	want.Transition(state.Paused, "attestation FAIL", "CODE", t1)
	want.LastCycleID, want.LastLineageHash, want.CyclesRecorded = "0123456789abcdef", &lin, 1
	if d := cmp.Diff(&want, st); d != "" {
		t.Errorf("merged state (-want +got):\n%s", d)
	}
	// The remote already made the same change: nothing to write.
	if got, err := mergeStateJSON(b, oursPause, oursPause, plumbing.ZeroHash); err != nil || got != nil {
		t.Errorf("same change: %q, %v", got, err)
	}
	// Both sides moved the state differently: a conflict naming a field.
	_, err = mergeStateJSON(b, oursPause, theirsHalt, plumbing.ZeroHash)
	var ce *ConflictError
	if !errors.As(err, &ce) || ce.Path != "05_GOVERNANCE/OPERATIONAL_STATE.json" || ce.Field == "" || !strings.Contains(err.Error(), "refusing to overwrite") {
		t.Errorf("conflicting transitions: %v", err)
	}
}

func TestBackoffBounds(t *testing.T) {
	s := &syncer{opt: Options{BaseDelay: 20 * time.Millisecond, MaxDelay: time.Second}}
	for n := 1; n <= 40; n++ {
		d := s.backoff(n)
		full := min(20*time.Millisecond<<min(n-1, 30), time.Second)
		if d < full/2 || d > full {
			t.Fatalf("backoff(%d) = %v, want in [%v, %v]", n, d, full/2, full)
		}
	}
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"https://user:secret@git.example.com/gov.git": "https://***@git.example.com/gov.git",
		"https://git.example.com/gov.git":             "https://git.example.com/gov.git",
		"file:///srv/gov.git":                         "file:///srv/gov.git",
	} {
		if got := redact(in); got != want {
			t.Errorf("redact(%q) = %q", in, got)
		}
	}
}
