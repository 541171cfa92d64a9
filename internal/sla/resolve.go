package sla

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/vision-ios/vios/internal/deviation"
	"github.com/vision-ios/vios/internal/fault"
	"github.com/vision-ios/vios/internal/gov"
	"github.com/vision-ios/vios/internal/layout"
	"github.com/vision-ios/vios/internal/ledger"
	"github.com/vision-ios/vios/internal/signing"
	"github.com/vision-ios/vios/internal/state"
)

// Change is the result of a note or a resolution: the commit, the record
// as committed, what was delivered, and any change of operational state.
type Change struct {
	Commit    string            `json:"commit"`
	Deviation *deviation.Record `json:"deviation"`
	Delivery  *Report           `json:"delivery"`
	StateFrom string            `json:"state_from,omitempty"`
	StateTo   string            `json:"state_to,omitempty"`
	// StateNote says why production stays HALTED or PAUSED after a
	// resolution (another open deviation of the same kind).
	StateNote string `json:"state_note,omitempty"`
}

// Note appends a status note to a deviation, sends it to the sinks and
// commits it signed by CODE. An unknown id or an empty note is bad input.
func Note(ctx context.Context, r *ledger.Repo, code *signing.Signer, sinks []Sink, id, note string, now time.Time) (*Change, error) {
	note = strings.TrimSpace(note)
	if note == "" {
		return nil, fault.Inputf("deviation update: --note is required")
	}
	if err := deviation.CheckID(id); err != nil {
		return nil, err
	}
	snap, unlock, err := begin(ctx, r, code, "CODE", now)
	if err != nil {
		return nil, err
	}
	defer unlock()
	d, err := Find(r, snap.Commit, id)
	if err != nil {
		return nil, err
	}
	if sinks == nil {
		if sinks, err = NewSinks(snap.Policy.Governance.AlertSinks, SinkOptions{}); err != nil {
			return nil, err
		}
	}
	n := &Notifier{Policy: snap.Policy, Sinks: sinks}
	rep := n.Record(ctx, d, deviation.Event{Type: deviation.EventNote, By: "CODE", Detail: note}, now)
	ssh, err := code.SSH()
	if err != nil {
		return nil, err
	}
	h, err := r.Apply(ctx, &ledger.Change{
		Subject: fmt.Sprintf("deviation %s: status note", d.ID),
		Body:    note,
		Trailers: [][2]string{
			{"Vios-Artifact", "deviation"},
			{"Vios-Agent", "CODE"},
			{"Vios-Baseline", snap.Policy.Cycle.Version},
		},
		Files:  []ledger.File{{Path: d.Path(), Data: d.Marshal()}},
		Author: gov.Author("CODE"), When: now, Signer: ssh, Parent: snap.Commit,
	})
	if err != nil {
		return nil, err
	}
	return &Change{Commit: h.String(), Deviation: d, Delivery: rep}, nil
}

// Resolve records LARS's resolution of a deviation — root cause and
// remediation plan — sends it (the GitHub issue closes), and commits it
// signed by LARS. Resolving a signature-verification deviation lifts
// HALTED, an ADR-compliance one PAUSED, in the same commit, unless another
// deviation of that kind is still open. Only LARS's ACTIVE registry key may
// resolve: another agent is bad input (exit 2), a key that is not LARS's a
// governance failure (exit 1).
func Resolve(ctx context.Context, r *ledger.Repo, lars *signing.Signer, sinks []Sink, id, rootCause, plan string, now time.Time) (*Change, error) {
	if lars == nil || lars.Agent != "LARS" {
		who := "nobody"
		if lars != nil {
			who = lars.Agent
		}
		return nil, fault.Inputf("deviation resolve: only LARS may resolve a deviation, not %s", who)
	}
	rootCause, plan = strings.TrimSpace(rootCause), strings.TrimSpace(plan)
	if rootCause == "" || plan == "" {
		return nil, fault.Inputf("deviation resolve: --root-cause and --plan are both required (they go into the audit trail)")
	}
	if err := deviation.CheckID(id); err != nil {
		return nil, err
	}
	snap, unlock, err := begin(ctx, r, lars, "LARS", now)
	if err != nil {
		return nil, err
	}
	defer unlock()
	d, err := Find(r, snap.Commit, id)
	if err != nil {
		return nil, err
	}
	if !d.Open() {
		return nil, fault.Inputf("deviation resolve: %s was already resolved at %s", d.ID, d.ResolvedAt)
	}
	if sinks == nil {
		if sinks, err = NewSinks(snap.Policy.Governance.AlertSinks, SinkOptions{}); err != nil {
			return nil, err
		}
	}
	out := &Change{}
	files := []ledger.File{}
	st := *snap.State
	if mode, ok := deviation.Stops[d.Type]; ok && st.State == mode {
		others, err := openOfType(r, snap, d)
		if err != nil {
			return nil, err
		}
		if len(others) > 0 {
			out.StateNote = fmt.Sprintf("production stays %s: %s still open", st.State, strings.Join(others, ", "))
		} else {
			out.StateFrom, out.StateTo = st.State, state.Running
			st.Transition(state.Running, "resumed by LARS resolving "+d.ID+": "+rootCause, "LARS", now)
			files = append(files, ledger.File{Path: layout.StateFile, Data: st.Marshal()})
		}
	}
	n := &Notifier{Policy: snap.Policy, Sinks: sinks}
	out.Delivery = n.Record(ctx, d, deviation.Event{Type: deviation.EventResolved, By: "LARS", RootCause: rootCause, Plan: plan,
		Detail: "root cause and remediation plan recorded by LARS"}, now)
	files = append(files, ledger.File{Path: d.Path(), Data: d.Marshal()})
	ssh, err := lars.SSH()
	if err != nil {
		return nil, err
	}
	subject := fmt.Sprintf("deviation %s: resolved by LARS", d.ID)
	if out.StateTo != "" {
		subject += fmt.Sprintf(", %s -> RUNNING", out.StateFrom)
	}
	h, err := r.Apply(ctx, &ledger.Change{
		Subject: subject,
		Body:    "Root cause: " + rootCause + "\nRemediation plan: " + plan,
		Trailers: [][2]string{
			{"Vios-Artifact", "deviation"},
			{"Vios-Agent", "LARS"},
			{"Vios-Baseline", snap.Policy.Cycle.Version},
		},
		Files: files, Author: gov.Author("LARS"), When: now, Signer: ssh, Parent: snap.Commit,
	})
	if err != nil {
		return nil, err
	}
	out.Commit, out.Deviation = h.String(), d
	return out, nil
}

// openOfType lists the other open deviations of d's type.
func openOfType(r *ledger.Repo, snap *gov.Snapshot, d *deviation.Record) ([]string, error) {
	recs, _, err := deviation.Load(r, snap.Commit)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, o := range recs {
		if o.ID != d.ID && o.Type == d.Type && o.Open() {
			out = append(out, o.ID)
		}
	}
	return out, nil
}
