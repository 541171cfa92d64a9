// Package deviation owns deviation records: the four deviation types of the
// operations document with their SLA, action, recipients and severity from
// policies/governance.yaml, and the append-only event history of each.
package deviation

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/vision-ios/vios/internal/layout"
	"github.com/vision-ios/vios/internal/policy"
	"github.com/vision-ios/vios/internal/state"
)

// Deviation types.
const (
	SignatureFailure = "signature_verification_failure"
	CostCeiling      = "cost_ceiling_breach"
	ADRCompliance    = "adr_compliance_failure"
	Determinism      = "determinism_below_threshold"
)

// Stops maps the deviation types whose action stops production to the
// operational state they put it in.
// That state is lifted only by LARS resolving the deviation: the
// resolution of the last open one of its type moves production back to
// RUNNING in the same commit.
var Stops = map[string]string{
	SignatureFailure: state.Halted,
	ADRCompliance:    state.Paused,
}

// Event is one entry of a deviation's history. Events are only ever
// appended: a record's file changes by gaining events (and the status
// fields derived from them), never by editing one.
type Event struct {
	At     string `json:"at"`
	Type   string `json:"type"`
	By     string `json:"by"`
	Detail string `json:"detail"`
	// Due is the deadline of the timeline point this event answers.
	Due string `json:"due,omitempty"`
	// Recipients and Severity override the record's for this event (an
	// emergency escalation goes to LARS as critical).
	Recipients []string `json:"recipients,omitempty"`
	Severity   string   `json:"severity,omitempty"`
	// Of is the index of the event a redelivery retries.
	Of *int `json:"of,omitempty"`
	// RootCause and Plan are LARS's resolution.
	RootCause string `json:"root_cause,omitempty"`
	Plan      string `json:"remediation_plan,omitempty"`
	// Deliveries record, per alert sink, whether the event reached it.
	Deliveries []Delivery `json:"deliveries,omitempty"`
}

// Delivery is the outcome of sending one event to one alert sink.
type Delivery struct {
	Sink        string `json:"sink"`
	DeliveredAt string `json:"delivered_at,omitempty"`
	Attempts    int    `json:"attempts"`
	LastError   string `json:"last_error,omitempty"`
	// Ref is the sink's handle for the deviation (a GitHub issue number).
	Ref string `json:"ref,omitempty"`
}

// Record is DEV-<type>-<id>.json.
type Record struct {
	ID         string   `json:"id"`
	Type       string   `json:"type"`
	Severity   string   `json:"severity"`
	Action     string   `json:"action"`
	Recipients []string `json:"recipients"`
	SLA        string   `json:"sla"`
	DetectedAt string   `json:"detected_at"`
	DueAt      string   `json:"due_at"`
	CycleID    string   `json:"cycle_id,omitempty"`
	Reason     string   `json:"reason"`
	Status     string   `json:"status"`
	BreachedAt string   `json:"breached_at,omitempty"`
	ResolvedAt string   `json:"resolved_at,omitempty"`
	Events     []Event  `json:"events"`
}

// New opens a deviation of type typ detected at t, with its SLA clock
// starting at detection. id must be a cycle id or another safe token.
func New(p *policy.Set, typ, id, cycleID, reason string, t time.Time) (*Record, error) {
	d, ok := p.Governance.Deviations[typ]
	if !ok {
		return nil, fmt.Errorf("deviation type %q is not in governance.yaml", typ)
	}
	at := t.UTC().Format(time.RFC3339)
	return &Record{
		ID: "DEV-" + typ + "-" + id, Type: typ, Severity: d.Severity, Action: d.Action,
		Recipients: d.Recipients, SLA: d.SLA.D().String(), DetectedAt: at,
		DueAt: t.UTC().Add(d.SLA.D()).Format(time.RFC3339), CycleID: cycleID, Reason: reason, Status: StatusOpen,
		Events: []Event{{At: at, Type: EventDetected, By: "CODE", Detail: reason}},
	}, nil
}

// Path is where the record lives in the repository.
func (r *Record) Path() string { return layout.Deviations + "/" + r.ID + ".json" }

// Marshal writes the record as indented JSON.
func (r *Record) Marshal() []byte {
	b, _ := json.MarshalIndent(r, "", "  ")
	return append(b, '\n')
}
