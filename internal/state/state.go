// Package state owns OPERATIONAL_STATE.json: whether production runs
// (RUNNING), is halted by a signature failure (HALTED), paused by an ADR
// failure (PAUSED), and whether summaries are blocked; plus the tip of the
// lineage chain the next cycle links to.
package state

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/vision-ios/vios/internal/fault"
)

// Operational modes.
const (
	Running = "RUNNING"
	Halted  = "HALTED"
	Paused  = "PAUSED"
)

// Summary modes.
const (
	SummariesAllowed = "ALLOWED"
	SummariesBlocked = "BLOCKED"
)

// ErrHalted and ErrPaused are returned when production may not run.
var (
	ErrHalted = errors.New("production is HALTED")
	ErrPaused = errors.New("production is PAUSED")
)

// State is the operational state of a governance repository.
type State struct {
	State           string  `json:"state"`
	Summaries       string  `json:"summaries"`
	Reason          string  `json:"reason"`
	Since           string  `json:"since"`
	UpdatedAt       string  `json:"updated_at"`
	UpdatedBy       string  `json:"updated_by"`
	LastCycleID     string  `json:"last_cycle_id"`
	LastCycleSlot   string  `json:"last_cycle_slot"`
	LastLineageHash *string `json:"last_lineage_hash"`
	CyclesRecorded  int     `json:"cycles_recorded"`
	// The ADR-012 tally of the UTC day of the latest cycle: the guard's
	// reservations are settled here in the same commit as the cycle.
	EconomicsDay   string  `json:"economics_day,omitempty"`
	SummariesToday int     `json:"summaries_today"`
	SpendTodayUSD  float64 `json:"spend_today_usd"`
	SummariesWhy   string  `json:"summaries_reason,omitempty"`
}

// Initial is the state a new governance repository starts in.
func Initial(t time.Time) *State {
	ts := t.UTC().Format(time.RFC3339)
	return &State{State: Running, Summaries: SummariesAllowed, Reason: "initialised", Since: ts, UpdatedAt: ts, UpdatedBy: "CODE"}
}

// Parse strictly reads OPERATIONAL_STATE.json.
func Parse(data []byte) (*State, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var s State
	if err := dec.Decode(&s); err != nil {
		return nil, fault.Inputf("operational state: %v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fault.Inputf("operational state: trailing data")
	}
	switch s.State {
	case Running, Halted, Paused:
	default:
		return nil, fault.Inputf("operational state: state %q is not RUNNING, HALTED or PAUSED", s.State)
	}
	if s.Summaries != SummariesAllowed && s.Summaries != SummariesBlocked {
		return nil, fault.Inputf("operational state: summaries %q is not ALLOWED or BLOCKED", s.Summaries)
	}
	return &s, nil
}

// Marshal writes the state as indented JSON.
func (s *State) Marshal() []byte {
	b, _ := json.MarshalIndent(s, "", "  ")
	return append(b, '\n')
}

// CanRun returns ErrHalted or ErrPaused (as governance faults) when no cycle
// may start.
func (s *State) CanRun() error {
	switch s.State {
	case Halted:
		return fault.Governance(fmt.Errorf("%w since %s: %s; LARS lifts it by resolving the deviation (`vios deviation list --open`, `vios deviation resolve DEV --signer LARS`)", ErrHalted, s.Since, s.Reason))
	case Paused:
		return fault.Governance(fmt.Errorf("%w since %s: %s; LARS lifts it by resolving the deviation (`vios deviation list --open`, `vios deviation resolve DEV --signer LARS`)", ErrPaused, s.Since, s.Reason))
	}
	return nil
}

// Transition moves to a new mode, recording why, when and who.
func (s *State) Transition(mode, reason, by string, t time.Time) {
	ts := t.UTC().Format(time.RFC3339)
	if s.State != mode {
		s.Since = ts
	}
	s.State, s.Reason, s.UpdatedAt, s.UpdatedBy = mode, reason, ts, by
}
