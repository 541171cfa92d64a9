package economics

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
)

// Outcomes of one Tier-2 summary a replay asked of a paid provider.
const (
	ReplayCharged = "charged" // the provider answered; its usage was priced and charged
	ReplayBlocked = "blocked" // the guard refused it: no provider call, no money
	ReplayFailed  = "failed"  // the call failed (or reported no usage): nothing charged
)

// ReplayCall is one Tier-2 summary of a replay run: charged, blocked by the
// pre-flight guard, or failed.
type ReplayCall struct {
	CycleID      string  `json:"cycle_id"`
	Status       string  `json:"status"`
	Model        string  `json:"model"`
	InputTokens  int     `json:"input_tokens,omitempty"`
	OutputTokens int     `json:"output_tokens,omitempty"`
	CostUSD      float64 `json:"cost_usd"`
	WorstCaseUSD float64 `json:"worst_case_usd"`
	Rule         string  `json:"rule,omitempty"`
	Reason       string  `json:"reason,omitempty"`
}

// ReplayCharge is the committed record of what one replay run through a
// paid provider spent (05_GOVERNANCE/COST_REPORTS/REPLAY_CHARGES/…): every
// summary call it made or the guard blocked, charged to the UTC day the
// replay ran (not the days of the cycles it replayed). The day's tally
// (OPERATIONAL_STATE.json) and cost report count it with the cycles'.
type ReplayCharge struct {
	ReplayID   string `json:"replay_id"`
	Day        string `json:"charged_day"`
	ReplayedAt string `json:"replayed_at"`
	Replayed   string `json:"replayed_commit"`
	Provider   string `json:"provider"`
	Model      string `json:"model"`
	ReplayTotals
	Calls []ReplayCall `json:"calls"`
}

// ReplayTotals count a replay run's calls by outcome and add up what the
// charged ones cost: derived from the calls (see ReplayCharge.Total), and
// carried as they are by the replay's result and the day's cost report.
type ReplayTotals struct {
	Summaries int     `json:"summaries_charged"`
	CostUSD   float64 `json:"cost_usd"`
	Blocked   int     `json:"blocked"`
	Failed    int     `json:"failed"`
}

// Total recomputes the counts and the cost from the calls.
func (c *ReplayCharge) Total() {
	c.ReplayTotals = ReplayTotals{}
	for _, k := range c.Calls {
		switch k.Status {
		case ReplayCharged:
			c.Summaries++
			c.CostUSD += k.CostUSD
		case ReplayBlocked:
			c.Blocked++
		case ReplayFailed:
			c.Failed++
		}
	}
}

// Marshal writes the record as indented JSON.
func (c *ReplayCharge) Marshal() []byte {
	b, _ := json.MarshalIndent(c, "", "  ")
	return append(b, '\n')
}

// ParseReplayCharge strictly reads a replay charge record.
func ParseReplayCharge(data []byte) (*ReplayCharge, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var c ReplayCharge
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("replay charge: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("replay charge: trailing data")
	}
	for i, k := range c.Calls {
		switch k.Status {
		case ReplayCharged, ReplayBlocked, ReplayFailed:
		default:
			return nil, fmt.Errorf("replay charge: calls[%d] status %q is not charged, blocked or failed", i, k.Status)
		}
		if k.CostUSD < 0 {
			return nil, fmt.Errorf("replay charge: calls[%d] has a negative cost", i)
		}
	}
	// The totals are derived from the calls; a record whose totals say
	// otherwise would make the cost report contradict itself.
	sum := c
	sum.Total()
	if sum.Summaries != c.Summaries || sum.Blocked != c.Blocked || sum.Failed != c.Failed || math.Abs(sum.CostUSD-c.CostUSD) > 1e-9 {
		return nil, fmt.Errorf("replay charge: totals (%d charged, $%.6f, %d blocked, %d failed) do not add up from the calls (%d, $%.6f, %d, %d)",
			c.Summaries, c.CostUSD, c.Blocked, c.Failed, sum.Summaries, sum.CostUSD, sum.Blocked, sum.Failed)
	}
	return &c, nil
}
