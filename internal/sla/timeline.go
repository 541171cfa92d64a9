package sla

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/vision-ios/vios/internal/deviation"
	"github.com/vision-ios/vios/internal/policy"
)

// EmergencyRecipient and EmergencySeverity are the emergency protocol an
// SLA breach escalates to.
const (
	EmergencyRecipient = "LARS"
	EmergencySeverity  = "critical"
)

// DefaultBudget bounds the time one pass spends sending.
const DefaultBudget = 2 * time.Minute

// maxRetryPause caps the pause between two ticks' retries of a delivery.
const maxRetryPause = 30 * time.Minute

// Notifier moves deviations along their escalation timeline: it appends the
// events due, sends the notifying ones through the sinks (one notification
// per deviation and event, never grouped), retries deliveries that failed
// before, and records each outcome in the events. It never commits.
type Notifier struct {
	Policy *policy.Set
	Sinks  []Sink
	// Budget bounds the time spent sending in one pass (DefaultBudget when
	// zero); what it leaves unsent is recorded as not attempted and goes out
	// with the next tick.
	Budget time.Duration
}

// pass is one run of the notifier over some deviations.
type pass struct {
	n    *Notifier
	now  time.Time
	ts   string
	down map[string]string // sinks that failed in this pass: why
	rep  *Report
}

// Report says what a pass appended and delivered.
type Report struct {
	Events    []TickEvent `json:"events"`
	Delivered int         `json:"delivered"`
	Failed    int         `json:"failed"`
	Skipped   int         `json:"skipped"`
	Breaches  int         `json:"sla_breaches"`
	Missed    int         `json:"alerts_missed"`
}

// TickEvent is one event appended to one deviation.
type TickEvent struct {
	Deviation  string               `json:"deviation"`
	Index      int                  `json:"index"`
	Type       string               `json:"type"`
	Of         *int                 `json:"of,omitempty"`
	Deliveries []deviation.Delivery `json:"deliveries,omitempty"`
}

// Advance appends to each record every event due at now and delivers what
// is due, in one pass with one send budget. It reports what it did; the
// records are changed in place (those that gained events are listed in the
// report).
func (n *Notifier) Advance(ctx context.Context, recs []*deviation.Record, now time.Time) *Report {
	budget := n.Budget
	if budget <= 0 {
		budget = DefaultBudget
	}
	ctx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()
	p := &pass{n: n, now: now.UTC(), ts: now.UTC().Format(time.RFC3339), down: map[string]string{}, rep: &Report{Events: []TickEvent{}}}
	for _, d := range recs {
		p.advance(ctx, d)
	}
	return p.rep
}

// Opened is the hook a committing command hands the deviations it detects
// (cycle.Options.Alert): the alert goes out at once, inside the command.
func (n *Notifier) Opened(ctx context.Context, opened []*deviation.Record, now time.Time) *Report {
	return n.Advance(ctx, opened, now)
}

// advance moves one deviation along; it reports whether it gained events.
func (p *pass) advance(ctx context.Context, d *deviation.Record) bool {
	before := len(d.Events)
	p.retry(ctx, d)
	if d.Open() {
		for _, ev := range p.due(d) {
			p.append(ctx, d, ev)
		}
	}
	p.checkAlertWindow(ctx, d)
	return len(d.Events) > before
}

// due lists the timeline events owed at now that the history lacks: the
// alert (at once), the investigation start (when the alert window closes),
// the latest half-hourly status update, and on a missed SLA the breach and
// the emergency escalation.
func (p *pass) due(d *deviation.Record) []deviation.Event {
	gov := p.n.Policy.Governance
	detected, err1 := time.Parse(time.RFC3339, d.DetectedAt)
	dueAt, err2 := time.Parse(time.RFC3339, d.DueAt)
	if err1 != nil || err2 != nil || p.now.Before(detected) {
		return nil
	}
	window := gov.AlertWithin.D()
	var out []deviation.Event
	ev := func(typ string, due time.Time, detail string) deviation.Event {
		return deviation.Event{At: p.ts, Type: typ, By: "CODE", Due: due.UTC().Format(time.RFC3339), Detail: detail}
	}
	if !d.Has(deviation.EventAlert) {
		out = append(out, ev(deviation.EventAlert, detected.Add(window), d.Reason))
	}
	if !d.Has(deviation.EventInvestigation) && !p.now.Before(detected.Add(window)) {
		out = append(out, ev(deviation.EventInvestigation, detected.Add(window),
			fmt.Sprintf("assigned to %s; root cause and remediation plan due %s", strings.Join(d.Recipients, ", "), d.DueAt)))
	}
	if every := gov.StatusUpdateInterval.D(); every > 0 {
		if k := p.now.Sub(detected) / every; k >= 1 {
			slot := detected.Add(k * every)
			if last := lastDue(d, deviation.EventStatusUpdate); last.Before(slot) {
				out = append(out, ev(deviation.EventStatusUpdate, slot, statusLine(d, slot, dueAt)))
			}
		}
	}
	if p.now.After(dueAt) && !d.Has(deviation.EventBreached) {
		out = append(out, ev(deviation.EventBreached, dueAt,
			fmt.Sprintf("no root cause and remediation plan by %s (SLA %s)", d.DueAt, d.SLA)))
		esc := ev(deviation.EventEscalated, dueAt,
			fmt.Sprintf("SLA of %s breached: emergency protocol, %s, %s", d.SLA, EmergencyRecipient, EmergencySeverity))
		esc.Recipients, esc.Severity = []string{EmergencyRecipient}, EmergencySeverity
		out = append(out, esc)
	}
	return out
}

func statusLine(d *deviation.Record, slot, dueAt time.Time) string {
	detected, _ := time.Parse(time.RFC3339, d.DetectedAt)
	open := slot.Sub(detected)
	if slot.After(dueAt) {
		return fmt.Sprintf("still open after %s; SLA breached %s ago (due %s)", open, slot.Sub(dueAt), d.DueAt)
	}
	if slot.Equal(dueAt) {
		return fmt.Sprintf("still open after %s; root cause and remediation plan due now (%s)", open, d.DueAt)
	}
	return fmt.Sprintf("still open after %s; root cause and remediation plan due %s (%s left)", open, d.DueAt, dueAt.Sub(slot))
}

// lastDue is the latest Due of the events of type typ (zero if none).
func lastDue(d *deviation.Record, typ string) time.Time {
	var last time.Time
	for _, e := range d.Events {
		if e.Type != typ {
			continue
		}
		if t, err := time.Parse(time.RFC3339, e.Due); err == nil && t.After(last) {
			last = t
		}
	}
	return last
}

// append records ev and, if it notifies, sends it to every sink.
func (p *pass) append(ctx context.Context, d *deviation.Record, ev deviation.Event) {
	d.Append(ev)
	i := len(d.Events) - 1
	if deviation.Notifying(ev.Type) && len(p.n.Sinks) > 0 {
		dl := make([]deviation.Delivery, 0, len(p.n.Sinks))
		for _, s := range p.n.Sinks {
			dl = append(dl, p.send(ctx, d, i, s))
		}
		d.Events[i].Deliveries = dl
	}
	switch ev.Type {
	case deviation.EventBreached:
		p.rep.Breaches++
	case deviation.EventAlertMissed:
		p.rep.Missed++
	}
	p.rep.Events = append(p.rep.Events, TickEvent{Deviation: d.ID, Index: i, Type: ev.Type, Of: ev.Of, Deliveries: d.Events[i].Deliveries})
}

// send delivers event i of d to sink s, unless s already failed in this
// pass or the budget ran out.
func (p *pass) send(ctx context.Context, d *deviation.Record, i int, s Sink) deviation.Delivery {
	name := s.Name()
	out := deviation.Delivery{Sink: name}
	if why, ok := p.down[name]; ok {
		out.LastError = "not attempted: " + why
		p.rep.Skipped++
		return out
	}
	if ctx.Err() != nil {
		p.down[name] = "the tick's send budget ran out"
		out.LastError = "not attempted: " + p.down[name]
		p.rep.Skipped++
		return out
	}
	ref, retry := sinkRef(d, name)
	n := &Notification{Deviation: d, Event: d.Events[i], Index: i, Ref: ref, Retry: retry, Text: Text(d, d.Events[i]), SentAt: p.now}
	rc, err := s.Send(ctx, n)
	out.Attempts, out.Ref = rc.Attempts, rc.Ref
	if out.Ref == "" {
		out.Ref = ref
	}
	if err != nil {
		out.LastError = oneLine(err.Error())
		if out.Attempts == 0 {
			out.Attempts = 1
		}
		p.down[name] = name + " failed earlier in this tick"
		p.rep.Failed++
		return out
	}
	out.DeliveredAt = p.ts
	p.rep.Delivered++
	return out
}

// sinkRef returns the sink's latest handle for the deviation and whether an
// earlier attempt to it failed.
func sinkRef(d *deviation.Record, sink string) (ref string, failed bool) {
	for _, e := range d.Events {
		for _, dl := range e.Deliveries {
			if dl.Sink != sink {
				continue
			}
			if dl.Ref != "" {
				ref = dl.Ref
			}
			if dl.Attempts > 0 && dl.DeliveredAt == "" {
				failed = true
			}
		}
	}
	return ref, failed && ref == ""
}

// retry re-sends, oldest first, the notifications a configured sink has
// not received since the last one it did, each after a pause that doubles
// with every failed tick (1 min, 2 min, … at most 30 min). The outcome of a
// retry is a redelivery event pointing at the original.
func (p *pass) retry(ctx context.Context, d *deviation.Record) {
	for _, s := range p.n.Sinks {
		name := s.Name()
		st := deliveryState(d, name)
		for _, i := range st.pending {
			if _, down := p.down[name]; down {
				break
			}
			if tries := st.tries[i]; tries > 0 && p.now.Before(st.last[i].Add(retryPause(tries))) {
				break // keep the order: nothing newer goes before it
			}
			of := i
			ev := deviation.Event{At: p.ts, Type: deviation.EventRedelivery, By: "CODE", Of: &of,
				Detail: fmt.Sprintf("retry of event %d (%s) to %s", i, d.Events[i].Type, name)}
			d.Append(ev)
			j := len(d.Events) - 1
			dl := p.send(ctx, d, i, s)
			d.Events[j].Deliveries = []deviation.Delivery{dl}
			p.rep.Events = append(p.rep.Events, TickEvent{Deviation: d.ID, Index: j, Type: ev.Type, Of: ev.Of, Deliveries: d.Events[j].Deliveries})
			if dl.DeliveredAt == "" {
				break
			}
		}
	}
}

func retryPause(tries int) time.Duration {
	if tries > 6 {
		return maxRetryPause
	}
	return min(time.Minute<<(tries-1), maxRetryPause)
}

// sinkState is what the history says about one sink's deliveries.
type sinkState struct {
	pending []int             // notifying events it has not received, after the last it did
	tries   map[int]int       // failed attempts per pending event
	last    map[int]time.Time // when each was last tried
}

func deliveryState(d *deviation.Record, sink string) sinkState {
	st := sinkState{tries: map[int]int{}, last: map[int]time.Time{}}
	lastOK := -1
	addressed := map[int]bool{}
	for i, e := range d.Events {
		target := i
		if e.Type == deviation.EventRedelivery {
			if e.Of == nil || *e.Of < 0 || *e.Of >= i {
				continue
			}
			target = *e.Of
		}
		for _, dl := range e.Deliveries {
			if dl.Sink != sink {
				continue
			}
			addressed[target] = true
			if dl.DeliveredAt != "" {
				lastOK = max(lastOK, target)
				continue
			}
			if dl.Attempts > 0 {
				st.tries[target]++
				if t, err := time.Parse(time.RFC3339, e.At); err == nil {
					st.last[target] = t
				}
			}
		}
	}
	for i, e := range d.Events {
		if i > lastOK && addressed[i] && e.Type != deviation.EventRedelivery && deviation.Notifying(e.Type) {
			st.pending = append(st.pending, i)
		}
	}
	return st
}

// checkAlertWindow records, once, an alert that did not reach every sink
// within alert_within of detection: an SLA miss of its own.
func (p *pass) checkAlertWindow(ctx context.Context, d *deviation.Record) {
	if d.Has(deviation.EventAlertMissed) {
		return
	}
	detected, err := time.Parse(time.RFC3339, d.DetectedAt)
	if err != nil {
		return
	}
	deadline := detected.Add(p.n.Policy.Governance.AlertWithin.D())
	if !p.now.After(deadline) {
		return
	}
	alert := -1
	for i, e := range d.Events {
		if e.Type == deviation.EventAlert {
			alert = i
			break
		}
	}
	var missed []string
	switch {
	case alert < 0:
		missed = append(missed, "no alert was sent")
	case len(d.Events[alert].Deliveries) == 0:
		missed = append(missed, "no alert sink is configured")
	default:
		for _, dl := range d.Events[alert].Deliveries {
			at, ok := deliveredAt(d, alert, dl.Sink)
			switch {
			case !ok:
				missed = append(missed, dl.Sink+" (not delivered)")
			case at.After(deadline):
				missed = append(missed, fmt.Sprintf("%s (delivered %s after detection)", dl.Sink, at.Sub(detected)))
			}
		}
	}
	if len(missed) == 0 {
		return
	}
	p.append(ctx, d, deviation.Event{At: p.ts, Type: deviation.EventAlertMissed, By: "CODE", Due: deadline.UTC().Format(time.RFC3339),
		Detail: fmt.Sprintf("alert not delivered within %s of detection: %s", p.n.Policy.Governance.AlertWithin.D(), strings.Join(missed, "; "))})
}

// deliveredAt is when event i first reached sink.
func deliveredAt(d *deviation.Record, i int, sink string) (time.Time, bool) {
	var first time.Time
	for j, e := range d.Events {
		if j != i && (e.Type != deviation.EventRedelivery || e.Of == nil || *e.Of != i) {
			continue
		}
		for _, dl := range e.Deliveries {
			if dl.Sink != sink || dl.DeliveredAt == "" {
				continue
			}
			if t, err := time.Parse(time.RFC3339, dl.DeliveredAt); err == nil && (first.IsZero() || t.Before(first)) {
				first = t
			}
		}
	}
	return first, !first.IsZero()
}

// Text is the one-line human message of an event: what happened, to which
// deviation, for whom, and what is due when.
func Text(d *deviation.Record, e deviation.Event) string {
	sev, rcpt := d.Severity, d.Recipients
	if e.Severity != "" {
		sev = e.Severity
	}
	if len(e.Recipients) > 0 {
		rcpt = e.Recipients
	}
	head := fmt.Sprintf("[%s] %s (%s) for %s: ", strings.ToUpper(sev), d.ID, strings.ReplaceAll(d.Type, "_", " "), strings.Join(rcpt, ", "))
	var body string
	switch e.Type {
	case deviation.EventAlert:
		body = fmt.Sprintf("detected %s: %s. Action: %s. Root cause and remediation plan due %s (SLA %s).", d.DetectedAt, d.Reason, d.Action, d.DueAt, d.SLA)
	case deviation.EventInvestigation:
		body = "investigation started: " + e.Detail + "."
	case deviation.EventStatusUpdate:
		body = "status update: " + e.Detail + "."
	case deviation.EventNote:
		body = "note: " + e.Detail
	case deviation.EventEscalated:
		body = fmt.Sprintf("SLA BREACHED — no root cause and remediation plan by %s. Escalated to the emergency protocol (%s, %s).", d.DueAt, EmergencyRecipient, EmergencySeverity)
	case deviation.EventResolved:
		body = fmt.Sprintf("resolved by %s. Root cause: %s Remediation plan: %s", e.By, e.RootCause, e.Plan)
	default:
		body = e.Type + ": " + e.Detail
	}
	return oneLine(head + body)
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 2000 {
		s = s[:2000] + "…"
	}
	return s
}

// Record appends one event to d and, if it notifies, sends it to every
// sink (a note, a resolution).
func (n *Notifier) Record(ctx context.Context, d *deviation.Record, ev deviation.Event, now time.Time) *Report {
	budget := n.Budget
	if budget <= 0 {
		budget = DefaultBudget
	}
	ctx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()
	p := &pass{n: n, now: now.UTC(), ts: now.UTC().Format(time.RFC3339), down: map[string]string{}, rep: &Report{Events: []TickEvent{}}}
	if ev.At == "" {
		ev.At = p.ts
	}
	p.append(ctx, d, ev)
	return p.rep
}
