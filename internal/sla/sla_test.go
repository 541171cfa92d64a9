package sla_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vision-ios/vios/internal/audit"
	"github.com/vision-ios/vios/internal/deviation"
	"github.com/vision-ios/vios/internal/fault"
	"github.com/vision-ios/vios/internal/gov"
	"github.com/vision-ios/vios/internal/layout"
	"github.com/vision-ios/vios/internal/ledger"
	"github.com/vision-ios/vios/internal/sla"
	"github.com/vision-ios/vios/internal/state"
	"github.com/vision-ios/vios/internal/testutil"
)

// TestTimeline walks a signature deviation (SLA 1h) through its escalation
// timeline with ticks at chosen offsets from detection.
func TestTimeline(t *testing.T) {
	e := newEnv(t)
	d := e.open(t, deviation.SignatureFailure, 1, detected)[0]
	sink := &fakeSink{name: "fake"}
	steps := []struct {
		at   time.Duration
		want []string // event types appended
	}{
		{0, []string{"alert"}},
		{0, nil},
		{4 * time.Minute, nil},
		{5 * time.Minute, []string{"investigation_started"}},
		{29 * time.Minute, nil},
		{30 * time.Minute, []string{"status_update"}},
		{45 * time.Minute, nil},
		{60 * time.Minute, []string{"status_update"}},
		{61 * time.Minute, []string{"sla_breached", "escalated"}},
		{65 * time.Minute, nil},
		{90 * time.Minute, []string{"status_update"}},
	}
	for _, st := range steps {
		head, _ := e.r.Head()
		rep := e.tick(t, []sla.Sink{sink}, detected.Add(st.at))
		var got []string
		for _, ev := range rep.Events {
			got = append(got, ev.Type)
		}
		if diff := cmp.Diff(st.want, got); diff != "" {
			t.Fatalf("tick at +%s: events (-want +got):\n%s", st.at, diff)
		}
		now, _ := e.r.Head()
		if (rep.Commit != "") != (len(st.want) > 0) || (now != head) != (len(st.want) > 0) {
			t.Fatalf("tick at +%s: commit %q, head moved %v, want a commit only when events were due", st.at, rep.Commit, now != head)
		}
		if rep.Failed != 0 || rep.Open != 1 {
			t.Fatalf("tick at +%s: %+v", st.at, rep)
		}
	}
	rec := e.record(t, d.ID)
	want := []string{"detected", "alert", "investigation_started", "status_update", "status_update", "sla_breached", "escalated", "status_update"}
	if diff := cmp.Diff(want, types(rec)); diff != "" {
		t.Fatalf("history (-want +got):\n%s", diff)
	}
	if rec.Status != deviation.StatusEscalated || rec.BreachedAt != detected.Add(61*time.Minute).Format(time.RFC3339) {
		t.Fatalf("status %q breached %q", rec.Status, rec.BreachedAt)
	}
	esc := rec.Events[6]
	if !slices.Equal(esc.Recipients, []string{"LARS"}) || esc.Severity != "critical" || esc.Due != rec.DueAt {
		t.Fatalf("escalation %+v: want LARS, critical, due at the SLA", esc)
	}
	// Every notifying event reached the sink once, in order; the SLA facts
	// are recorded, not sent.
	var sentTypes []string
	for _, s := range sink.sent() {
		sentTypes = append(sentTypes, s.event)
		if s.id != d.ID {
			t.Fatalf("notification for %s", s.id)
		}
	}
	if diff := cmp.Diff([]string{"alert", "investigation_started", "status_update", "status_update", "escalated", "status_update"}, sentTypes); diff != "" {
		t.Fatalf("sent (-want +got):\n%s", diff)
	}
	for i, ev := range rec.Events {
		if deviation.Notifying(ev.Type) && (len(ev.Deliveries) != 1 || ev.Deliveries[0].DeliveredAt != ev.At) {
			t.Fatalf("event %d %s deliveries %+v", i, ev.Type, ev.Deliveries)
		}
	}
	// The status updates are due on the half hour from detection.
	if rec.Events[3].Due != detected.Add(30*time.Minute).Format(time.RFC3339) || rec.Events[4].Due != detected.Add(time.Hour).Format(time.RFC3339) {
		t.Fatalf("status update slots %s, %s", rec.Events[3].Due, rec.Events[4].Due)
	}
	// Every modification of the record appended events: the audit agrees.
	rep, err := audit.Verify(context.Background(), e.r, audit.Options{Now: detected})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Passed {
		t.Fatalf("audit after the timeline: %+v", rep.Failures)
	}
}

// TestOneAlertPerDeviation: three deviations detected together get three
// alerts, never one grouped message.
func TestOneAlertPerDeviation(t *testing.T) {
	e := newEnv(t)
	recs := e.open(t, deviation.CostCeiling, 3, detected)
	sink := &fakeSink{name: "fake"}
	rep := e.tick(t, []sla.Sink{sink}, detected.Add(time.Minute))
	got := sink.sent()
	if len(got) != 3 || rep.Changed != 3 || rep.Delivered != 3 {
		t.Fatalf("sent %+v, report %+v", got, rep)
	}
	for i, s := range got {
		if s.id != recs[i].ID || s.event != "alert" || s.index != 1 {
			t.Fatalf("notification %d: %+v", i, s)
		}
	}
}

// TestFailedSinkRetriedByNextTick: a sink that fails does not stop the
// others, its failure is recorded, and a later tick redelivers.
func TestFailedSinkRetriedByNextTick(t *testing.T) {
	e := newEnv(t)
	d := e.open(t, deviation.ADRCompliance, 1, detected)[0]
	good, bad := &fakeSink{name: "good"}, &fakeSink{name: "bad", fail: errDown}
	sinks := []sla.Sink{good, bad}

	rep := e.tick(t, sinks, detected)
	if rep.Delivered != 1 || rep.Failed != 1 {
		t.Fatalf("first tick %+v", rep)
	}
	rec := e.record(t, d.ID)
	dl := rec.Events[1].Deliveries
	if len(dl) != 2 || dl[0].DeliveredAt == "" || dl[1].DeliveredAt != "" || dl[1].LastError != "receiver down" || dl[1].Attempts != 1 {
		t.Fatalf("alert deliveries %+v", dl)
	}
	// Within the retry pause nothing happens.
	if rep := e.tick(t, sinks, detected.Add(30*time.Second)); len(rep.Events) != 0 {
		t.Fatalf("tick inside the retry pause: %+v", rep.Events)
	}
	bad.setFail(nil)
	rep = e.tick(t, sinks, detected.Add(2*time.Minute))
	if len(rep.Events) != 1 || rep.Events[0].Type != deviation.EventRedelivery || *rep.Events[0].Of != 1 || rep.Delivered != 1 {
		t.Fatalf("retry tick %+v", rep)
	}
	if got := bad.sent(); len(got) != 1 || got[0].event != "alert" || got[0].index != 1 {
		t.Fatalf("bad sink received %+v", got)
	}
	if got := good.sent(); len(got) != 1 {
		t.Fatalf("good sink received the alert %d times", len(got))
	}
	// Delivered inside the alert window: no SLA miss.
	e.tick(t, sinks, detected.Add(6*time.Minute))
	if rec := e.record(t, d.ID); rec.Has(deviation.EventAlertMissed) {
		t.Fatalf("alert miss recorded although every sink had it within 5 min: %v", types(rec))
	}
}

// TestAlertNotDeliveredInTimeIsAnSLAMiss: an alert still undelivered five
// minutes after detection is recorded, once, as an SLA miss; the sink gets
// its notifications in order once it recovers.
func TestAlertNotDeliveredInTimeIsAnSLAMiss(t *testing.T) {
	e := newEnv(t)
	d := e.open(t, deviation.Determinism, 1, detected)[0]
	bad := &fakeSink{name: "bad", fail: errDown}
	sinks := []sla.Sink{bad}
	e.tick(t, sinks, detected)
	rep := e.tick(t, sinks, detected.Add(6*time.Minute))
	var got []string
	for _, ev := range rep.Events {
		got = append(got, ev.Type)
	}
	// The retry failed, so the sink is down for the rest of the tick: the
	// investigation start is recorded as not attempted.
	if diff := cmp.Diff([]string{"redelivery", "investigation_started", "alert_sla_missed"}, got); diff != "" {
		t.Fatalf("events (-want +got):\n%s", diff)
	}
	rec := e.record(t, d.ID)
	if inv := rec.Events[3].Deliveries[0]; inv.Attempts != 0 || !strings.HasPrefix(inv.LastError, "not attempted") {
		t.Fatalf("investigation delivery %+v", inv)
	}
	if miss := rec.Events[4]; !strings.Contains(miss.Detail, "bad (not delivered)") || miss.Due != detected.Add(5*time.Minute).Format(time.RFC3339) {
		t.Fatalf("miss %+v", miss)
	}
	bad.setFail(nil)
	e.tick(t, sinks, detected.Add(9*time.Minute))
	var order []string
	for _, s := range bad.sent() {
		order = append(order, s.event)
	}
	if diff := cmp.Diff([]string{"alert", "investigation_started"}, order); diff != "" {
		t.Fatalf("recovered sink received (-want +got):\n%s", diff)
	}
	e.tick(t, sinks, detected.Add(10*time.Minute))
	rec = e.record(t, d.ID)
	n := 0
	for _, ev := range rec.Events {
		if ev.Type == deviation.EventAlertMissed {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d alert misses recorded: %v", n, types(rec))
	}
}

// TestFailingSinkTriedOncePerTick: with many deviations and a dead sink,
// one tick makes one attempt on it, not one per deviation.
func TestFailingSinkTriedOncePerTick(t *testing.T) {
	e := newEnv(t)
	e.open(t, deviation.CostCeiling, 5, detected)
	calls := 0
	bad := sinkFunc{"bad", func(*sla.Notification) error { calls++; return errDown }}
	rep := e.tick(t, []sla.Sink{bad}, detected)
	if calls != 1 || rep.Failed != 1 || rep.Skipped != 4 || rep.Changed != 5 {
		t.Fatalf("calls %d, report %+v", calls, rep)
	}
}

type sinkFunc struct {
	name string
	f    func(*sla.Notification) error
}

func (s sinkFunc) Name() string { return s.name }
func (s sinkFunc) Send(_ context.Context, n *sla.Notification) (sla.Receipt, error) {
	return sla.Receipt{Attempts: 1}, s.f(n)
}

// TestUnreadableRecordDoesNotStopTheOthers: a broken file is reported and
// left alone; the other deviations are alerted.
func TestUnreadableRecordDoesNotStopTheOthers(t *testing.T) {
	e := newEnv(t)
	e.open(t, deviation.CostCeiling, 2, detected)
	e.commit(t, "CODE", detected, ledger.File{Path: layout.Deviations + "/DEV-cost_ceiling_breach-broken.json", Data: []byte("{")})
	sink := &fakeSink{name: "fake"}
	rep := e.tick(t, []sla.Sink{sink}, detected)
	if len(rep.Problems) != 1 || len(sink.sent()) != 2 {
		t.Fatalf("problems %v, sent %d", rep.Problems, len(sink.sent()))
	}
}

// TestTickRefusesAForeignKey: only CODE's registry key signs ticks.
func TestTickRefusesAForeignKey(t *testing.T) {
	e := newEnv(t)
	e.open(t, deviation.CostCeiling, 1, detected)
	head, _ := e.r.Head()
	_, err := sla.Tick(context.Background(), e.r, testutil.Signers(t, "other")["CODE"], []sla.Sink{}, detected)
	if fault.Code(err) != fault.CodeGovernance {
		t.Fatalf("foreign CODE key: %v (exit %d), want exit 1", err, fault.Code(err))
	}
	_, err = sla.Tick(context.Background(), e.r, e.signers["FINN"], []sla.Sink{}, detected)
	if fault.Code(err) != fault.CodeInput {
		t.Fatalf("FINN key: %v (exit %d), want exit 2", err, fault.Code(err))
	}
	if h, _ := e.r.Head(); h != head {
		t.Fatal("a refused tick committed")
	}
}

// TestNoteAndResolve: notes are CODE-signed events sent to the sinks; only
// LARS resolves; resolving the ADR-compliance deviation lifts PAUSED only
// once no other one is open.
func TestNoteAndResolve(t *testing.T) {
	e := newEnv(t)
	recs := e.open(t, deviation.ADRCompliance, 2, detected)
	snap, err := gov.Load(e.r)
	if err != nil {
		t.Fatal(err)
	}
	st := *snap.State
	st.Transition(state.Paused, "test pause", "CODE", detected)
	e.commit(t, "CODE", detected, ledger.File{Path: layout.StateFile, Data: st.Marshal()})
	sink := &fakeSink{name: "fake"}
	sinks := []sla.Sink{sink}
	ctx := context.Background()
	at := detected.Add(20 * time.Minute)

	if _, err := sla.Note(ctx, e.r, e.signers["CODE"], sinks, "DEV-adr_compliance_failure-nope", "x", at); !fault.IsInput(err) || !strings.Contains(err.Error(), "unknown deviation") {
		t.Fatalf("note on an unknown id: %v", err)
	}
	if _, err := sla.Note(ctx, e.r, e.signers["CODE"], sinks, "../../etc/passwd", "x", at); !fault.IsInput(err) {
		t.Fatalf("note on a path: %v", err)
	}
	c, err := sla.Note(ctx, e.r, e.signers["CODE"], sinks, recs[0].ID, "looking at the attestation", at)
	if err != nil {
		t.Fatal(err)
	}
	if last := c.Deviation.Events[len(c.Deviation.Events)-1]; last.Type != "note" || last.Detail != "looking at the attestation" || len(last.Deliveries) != 1 {
		t.Fatalf("note event %+v", last)
	}

	for _, bad := range []struct {
		name       string
		signer     string
		other      bool
		cause, pln string
		code       int
	}{
		{"FINN", "FINN", false, "c", "p", fault.CodeInput},
		{"LARS without a plan", "LARS", false, "c", "", fault.CodeInput},
		{"a key that is not LARS's", "LARS", true, "c", "p", fault.CodeGovernance},
	} {
		s := e.signers[bad.signer]
		if bad.other {
			s = testutil.Signers(t, "impostor")[bad.signer]
		}
		if _, err := sla.Resolve(ctx, e.r, s, sinks, recs[0].ID, bad.cause, bad.pln, at); fault.Code(err) != bad.code {
			t.Fatalf("resolve by %s: %v (exit %d), want exit %d", bad.name, err, fault.Code(err), bad.code)
		}
	}
	c, err = sla.Resolve(ctx, e.r, e.signers["LARS"], sinks, recs[0].ID, "a stale contract", "re-attest", at)
	if err != nil {
		t.Fatal(err)
	}
	if c.StateTo != "" || !strings.Contains(c.StateNote, recs[1].ID) || c.Deviation.Status != deviation.StatusResolved {
		t.Fatalf("first resolution %+v", c)
	}
	if _, err := sla.Resolve(ctx, e.r, e.signers["LARS"], sinks, recs[0].ID, "c", "p", at); !fault.IsInput(err) {
		t.Fatalf("resolving twice: %v", err)
	}
	c, err = sla.Resolve(ctx, e.r, e.signers["LARS"], sinks, recs[1].ID, "a stale contract", "re-attest", at)
	if err != nil {
		t.Fatal(err)
	}
	if c.StateFrom != state.Paused || c.StateTo != state.Running {
		t.Fatalf("second resolution %+v", c)
	}
	snap, _ = gov.Load(e.r)
	if snap.State.State != state.Running || snap.State.UpdatedBy != "LARS" {
		t.Fatalf("state %+v", snap.State)
	}
	// A resolved deviation gets no more timeline events.
	if rep := e.tick(t, sinks, detected.Add(5*time.Hour)); rep.Open != 0 || rep.Breaches != 0 {
		t.Fatalf("tick after resolution %+v", rep)
	}
	rep, err := audit.Verify(ctx, e.r, audit.Options{Now: detected})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Passed {
		t.Fatalf("audit: %+v", rep.Failures)
	}
}
