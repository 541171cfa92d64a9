package deviation

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"slices"
	"sync"

	"github.com/vision-ios/vios/internal/fault"
)

// Event types of a deviation's history, in the order of its timeline.
const (
	EventDetected      = "detected"
	EventAlert         = "alert"
	EventAlertMissed   = "alert_sla_missed"
	EventInvestigation = "investigation_started"
	EventStatusUpdate  = "status_update"
	EventNote          = "note"
	EventBreached      = "sla_breached"
	EventEscalated     = "escalated"
	EventResolved      = "resolved"
	EventRedelivery    = "redelivery"
)

// Record statuses, derived from the events.
const (
	StatusOpen      = "open"
	StatusEscalated = "escalated" // the SLA passed unmet; still open
	StatusResolved  = "resolved"
)

// Notifying reports whether an event of type typ is sent to the alert
// sinks. The others are recorded only: detection (announced by the alert),
// the SLA facts, and redeliveries (which are themselves deliveries).
func Notifying(typ string) bool {
	switch typ {
	case EventAlert, EventInvestigation, EventStatusUpdate, EventNote, EventEscalated, EventResolved:
		return true
	}
	return false
}

// idRe is compiled on first use, not at every start of the binary.
var idRe = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^DEV-[a-z_]+-[A-Za-z0-9_-]{1,64}$`) })

// CheckID refuses anything that is not a deviation id, so an id given on
// the command line can never name another path.
func CheckID(id string) error {
	if !idRe().MatchString(id) {
		return fault.Inputf("deviation id %q: want DEV-<type>-<id>, e.g. DEV-signature_verification_failure-75c6040e1e25f939", id)
	}
	return nil
}

// Parse strictly reads a DEV-*.json record.
func Parse(data []byte) (*Record, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var r Record
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("deviation record: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("deviation record: trailing data")
	}
	if err := CheckID(r.ID); err != nil {
		return nil, fmt.Errorf("deviation record: %w", err)
	}
	if len(r.Events) == 0 || r.Events[0].Type != EventDetected {
		return nil, fmt.Errorf("deviation record %s: the history must start with %q", r.ID, EventDetected)
	}
	return &r, nil
}

// Append adds events to the history and updates the derived status fields.
func (r *Record) Append(evs ...Event) {
	r.Events = append(r.Events, evs...)
	r.derive()
}

// derive sets Status, BreachedAt and ResolvedAt from the events.
func (r *Record) derive() {
	r.Status, r.BreachedAt, r.ResolvedAt = StatusOpen, "", ""
	for _, e := range r.Events {
		switch e.Type {
		case EventBreached:
			if r.BreachedAt == "" {
				r.BreachedAt = e.At
			}
		case EventResolved:
			if r.ResolvedAt == "" {
				r.ResolvedAt = e.At
			}
		}
	}
	switch {
	case r.ResolvedAt != "":
		r.Status = StatusResolved
	case r.BreachedAt != "":
		r.Status = StatusEscalated
	}
}

// Open reports whether the deviation is not resolved yet.
func (r *Record) Open() bool { return r.Status != StatusResolved }

// Has reports whether the history holds an event of type typ.
func (r *Record) Has(typ string) bool {
	return slices.ContainsFunc(r.Events, func(e Event) bool { return e.Type == typ })
}

// Extends checks that next is prev with events appended: the same
// deviation (id, type, detection, SLA and the other fixed fields), prev's
// events a strict prefix of next's, and next's status fields the ones its
// events imply. It is the only way a deviation file may change.
func Extends(prev, next *Record) error {
	type fixed struct {
		ID, Type, Severity, Action, SLA, DetectedAt, DueAt, CycleID, Reason string
		Recipients                                                          []string
	}
	a := fixed{prev.ID, prev.Type, prev.Severity, prev.Action, prev.SLA, prev.DetectedAt, prev.DueAt, prev.CycleID, prev.Reason, prev.Recipients}
	b := fixed{next.ID, next.Type, next.Severity, next.Action, next.SLA, next.DetectedAt, next.DueAt, next.CycleID, next.Reason, next.Recipients}
	if !reflect.DeepEqual(a, b) {
		return errors.New("its id, type, detection time or SLA fields changed")
	}
	if len(next.Events) <= len(prev.Events) {
		return fmt.Errorf("it has %d events, the previous version %d: events may only be appended", len(next.Events), len(prev.Events))
	}
	for i, e := range prev.Events {
		if !reflect.DeepEqual(e, next.Events[i]) {
			return fmt.Errorf("event %d (%s at %s) was changed: events may only be appended", i, e.Type, e.At)
		}
	}
	want := *next
	want.derive()
	if want.Status != next.Status || want.BreachedAt != next.BreachedAt || want.ResolvedAt != next.ResolvedAt {
		return fmt.Errorf("status %q does not follow from its events (want %q)", next.Status, want.Status)
	}
	return nil
}
