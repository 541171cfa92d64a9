package determinism

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/vision-ios/vios/internal/clock"
	"github.com/vision-ios/vios/internal/cycle"
	"github.com/vision-ios/vios/internal/deviation"
	"github.com/vision-ios/vios/internal/economics"
	"github.com/vision-ios/vios/internal/fault"
	"github.com/vision-ios/vios/internal/gov"
	"github.com/vision-ios/vios/internal/layout"
	"github.com/vision-ios/vios/internal/ledger"
	"github.com/vision-ios/vios/internal/llm"
	"github.com/vision-ios/vios/internal/policy"
	"github.com/vision-ios/vios/internal/signing"
)

// Paid reports whether replaying a summary through p spends money: every
// provider but the offline built-in one, whose replay is free.
func Paid(p llm.Provider) bool { return p != nil && p.Name() != "builtin" }

// Meter is the ADR-012 guard of a replay through a paid provider. Before
// each Tier-2 call it runs economics.Check, the guard a cycle runs, against
// the charged day's tally plus the worst case of the calls still in flight
// (so parallel replay workers never spend the same headroom twice); a
// refused call is not made. An answered call is settled at the actual cost
// of the usage the provider reported. Safe for concurrent use.
type Meter struct {
	econ policy.Economics

	mu       sync.Mutex
	usage    economics.Usage // the day's tally including this replay's settled calls
	held     float64         // worst cases reserved by calls in flight
	inflight int
	calls    []economics.ReplayCall
}

// NewMeter guards against the policy's limits, starting from the charged
// day's tally.
func NewMeter(e policy.Economics, start economics.Usage) *Meter {
	return &Meter{econ: e, usage: start}
}

// Summarize asks p for the summary of cycleID when the guard allows it.
// When the guard refuses, the decision is returned and p is not called.
// The request's max_tokens is capped at the policy's, which the guard's
// worst case assumes.
func (m *Meter) Summarize(ctx context.Context, p llm.Provider, cycleID string, req llm.Request) (llm.Response, *economics.Decision, error) {
	if err := ctx.Err(); err != nil {
		return llm.Response{}, nil, err
	}
	if limit := m.econ.Summary.MaxTokens; req.MaxTokens <= 0 || req.MaxTokens > limit {
		req.MaxTokens = limit
	}
	d, err := m.reserve(p.Model(), llm.InputTokens(req))
	if err != nil {
		return llm.Response{}, nil, err
	}
	if !d.Allowed {
		m.record(economics.ReplayCall{CycleID: cycleID, Status: economics.ReplayBlocked, Model: d.Model, WorstCaseUSD: d.WorstCaseUSD, Rule: d.Rule, Reason: d.Reason})
		return llm.Response{}, &d, nil
	}
	resp, err := p.Summarize(ctx, req)
	m.settle(d, cycleID, resp, err)
	return resp, nil, err
}

func (m *Meter) reserve(model string, inputTokens int) (economics.Decision, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	today := m.usage
	today.SpendUSD += m.held
	today.Summaries += m.inflight
	d, err := economics.Check(m.econ, model, inputTokens, today)
	if err == nil && d.Allowed {
		m.held += d.WorstCaseUSD
		m.inflight++
	}
	return d, err
}

// settle releases a reservation and charges the actual cost of an answer
// (a failed call, or one without usage, charges nothing, as in a cycle).
func (m *Meter) settle(d economics.Decision, cycleID string, resp llm.Response, callErr error) {
	c := economics.ReplayCall{CycleID: cycleID, Status: economics.ReplayFailed, Model: d.Model, WorstCaseUSD: d.WorstCaseUSD}
	if callErr != nil {
		c.Reason = callErr.Error()
	} else {
		cost, priced := m.econ.AnswerCost(d.Model, resp.Model, resp.InputTokens, resp.OutputTokens)
		if priced {
			c.Model = resp.Model
		}
		c.Status, c.InputTokens, c.OutputTokens, c.CostUSD = economics.ReplayCharged, resp.InputTokens, resp.OutputTokens, cost
		if c.CostUSD > m.econ.PerSummaryCeilingUSD {
			c.Rule = economics.RuleCeiling
			c.Reason = fmt.Sprintf("summary cost $%.6f exceeds the ADR-012 ceiling $%.3f", c.CostUSD, m.econ.PerSummaryCeilingUSD)
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.held -= d.WorstCaseUSD
	m.inflight--
	if c.Status == economics.ReplayCharged {
		m.usage.Settle(c.CostUSD)
	}
	m.calls = append(m.calls, c)
}

func (m *Meter) record(c economics.ReplayCall) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls = append(m.calls, c)
}

// Usage is the charged day's tally with every settled call.
func (m *Meter) Usage() economics.Usage {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.usage
}

// Calls are the calls made or blocked so far, by cycle id.
func (m *Meter) Calls() []economics.ReplayCall {
	m.mu.Lock()
	out := append([]economics.ReplayCall(nil), m.calls...)
	m.mu.Unlock()
	sort.SliceStable(out, func(i, j int) bool { return out[i].CycleID < out[j].CycleID })
	return out
}

// Charged is what a paid replay spent and where it was recorded.
type Charged struct {
	ReplayID string `json:"replay_id,omitempty"`
	Day      string `json:"charged_day"`
	Provider string `json:"provider"`
	Model    string `json:"model"`
	economics.ReplayTotals
	// The charged day's ADR-012 tally after the replay.
	SummariesToday int     `json:"summaries_today"`
	SpendTodayUSD  float64 `json:"spend_today_usd"`
	// The committed record, commit and any cost-ceiling deviation opened;
	// empty when no paid call was due (nothing to record).
	Path      string `json:"path,omitempty"`
	Commit    string `json:"commit,omitempty"`
	Deviation string `json:"deviation,omitempty"`
}

// ChargeOptions configure ReplayAndCharge.
type ChargeOptions struct {
	// Code signs the commit recording the charges; it must hold CODE's
	// ACTIVE registry key.
	Code *signing.Signer
	// Clock decides the charged day: the UTC day of Clock.Now() when the
	// replay takes the lock (the day the money is spent; a replay running
	// past midnight stays on its first day), never the recorded cycles' days.
	Clock clock.Clock
	// Alert, when set, is called with the deviation the replay opens just
	// before it is committed (as a cycle's hook is).
	Alert func(ctx context.Context, opened []*deviation.Record, now time.Time)
	// Replayed is the commit the bundles were read at, for the record
	// (zero: HEAD when the replay takes the lock).
	Replayed plumbing.Hash
}

// ReplayAndCharge replays bundles with rp's paid provider under the
// ADR-012 guard and commits what it spent, the way a cycle commits its
// summary cost. It holds the repository lock from reading the day's tally
// to committing it, so a concurrent cycle (which holds the same lock around
// its own guard check, provider call and commit) and this replay never
// spend the same headroom. The tally is cycle.DayTally of the charged day,
// settled with cycle.SettleTally; the commit, signed by CODE, adds the
// replay charge record (counted by the day's cost report and by
// cycle.DayUsage), the updated OPERATIONAL_STATE.json and, when the guard
// blocked a call or an answer cost more than the ceiling, a cost-ceiling
// deviation. Nothing is committed when no paid call was due. The commit is
// made even when ctx is cancelled mid-replay: money spent is recorded.
func ReplayAndCharge(ctx context.Context, r *ledger.Repo, rp *Replayer, bundles []Bundle, opt ChargeOptions) (*Report, *Charged, error) {
	if !Paid(rp.Provider) {
		return nil, nil, fmt.Errorf("replay: provider %v is not a paid provider", rp.Provider)
	}
	if opt.Code == nil {
		return nil, nil, fault.Inputf("replay: a paid replay commits its charges signed by CODE: no CODE key")
	}
	clk := opt.Clock
	if clk == nil {
		clk = clock.Real{}
	}
	start := clk.Now().UTC()
	snap, unlock, err := gov.Begin(ctx, r, start, opt.Code)
	if err != nil {
		return nil, nil, err
	}
	defer unlock()
	e := snap.Policy.Economics
	model := rp.Provider.Model()
	if _, ok := e.Models[model]; !ok {
		return nil, nil, fault.Inputf("replay: model %q has no price in policies/economics.yaml, so the cost of replaying through %s cannot be bounded", model, rp.Provider.Name())
	}
	tally, err := cycle.DayTally(r, snap, start)
	if err != nil {
		return nil, nil, err
	}
	meter := NewMeter(e, *tally)
	paid := *rp
	paid.Budget = meter
	rep := paid.Replay(ctx, bundles)

	u := meter.Usage()
	ch := &Charged{Day: u.Day, Provider: rp.Provider.Name(), Model: model, SummariesToday: u.Summaries, SpendTodayUSD: u.SpendUSD}
	calls := meter.Calls()
	if len(calls) == 0 {
		return rep, ch, nil
	}
	now := clk.Now().UTC()
	id := replayID(start, snap.Commit.String())
	replayed := opt.Replayed
	if replayed.IsZero() {
		replayed = snap.Commit
	}
	rec := &economics.ReplayCharge{
		ReplayID: id, Day: u.Day, ReplayedAt: start.Format(time.RFC3339), Replayed: replayed.String(),
		Provider: rp.Provider.Name(), Model: model, Calls: calls,
	}
	rec.Total()
	ch.ReplayID, ch.ReplayTotals = id, rec.ReplayTotals
	ch.Path = layout.ReplayCharge(id, start) // u.Day is start's UTC day (the tally's)

	// The guard's latest word for the state: a block if any call was blocked.
	var last *economics.Decision
	var breaches []string
	for _, c := range calls {
		switch {
		case c.Status == economics.ReplayBlocked:
			if last == nil || last.Allowed {
				last = &economics.Decision{Rule: c.Rule, Reason: c.Reason, Model: c.Model, WorstCaseUSD: c.WorstCaseUSD}
			}
			breaches = append(breaches, fmt.Sprintf("cycle %s blocked by %s", c.CycleID, c.Rule))
		case last == nil:
			last = &economics.Decision{Allowed: true, Model: c.Model}
		}
		if c.Status == economics.ReplayCharged && c.Rule == economics.RuleCeiling {
			breaches = append(breaches, fmt.Sprintf("cycle %s: %s", c.CycleID, c.Reason))
		}
	}
	st := *snap.State
	files := []ledger.File{{Path: ch.Path, Data: rec.Marshal()}}
	if cycle.SettleTally(&st, &u, last, "replay "+id) {
		st.UpdatedAt, st.UpdatedBy = now.Format(time.RFC3339), "CODE"
		files = append(files, ledger.File{Path: layout.StateFile, Data: st.Marshal()})
	}
	subject := fmt.Sprintf("replay %s: %d summaries by %s charged $%.6f to %s", id, rec.Summaries, model, rec.CostUSD, u.Day)
	if rec.Blocked > 0 {
		subject += fmt.Sprintf(", %d blocked by ADR-012", rec.Blocked)
	}
	body := fmt.Sprintf("Replayed %d cycles at %s through %s. Day %s now at %d summaries, $%.6f.", len(bundles), replayed.String()[:12], rp.Provider.Name(), u.Day, u.Summaries, u.SpendUSD)
	var opened []*deviation.Record
	if len(breaches) > 0 {
		why := fmt.Sprintf("replay %s through %s: %s", id, rp.Provider.Name(), strings.Join(firstN(breaches, 5), "; "))
		if len(breaches) > 5 {
			why += fmt.Sprintf("; and %d more", len(breaches)-5)
		}
		if last != nil && !last.Allowed {
			why += " (" + last.Reason + ")"
		}
		dev, err := deviation.New(snap.Policy, deviation.CostCeiling, "replay-"+id, "", why, now)
		if err != nil {
			return nil, nil, err
		}
		opened = append(opened, dev)
		ch.Deviation = dev.ID
		body += "\nADR-012 breach: " + why + "; opened " + dev.ID + "."
	}
	if opt.Alert != nil && len(opened) > 0 {
		opt.Alert(context.WithoutCancel(ctx), opened, now)
	}
	for _, d := range opened {
		files = append(files, ledger.File{Path: d.Path(), Data: d.Marshal()})
	}
	ssh, err := opt.Code.SSH()
	if err != nil {
		return nil, nil, err
	}
	h, err := r.Apply(context.WithoutCancel(ctx), &ledger.Change{
		Subject: subject,
		Body:    body,
		Trailers: [][2]string{
			{"Vios-Artifact", "replay_charge"},
			{"Vios-Replay", id},
			{"Vios-Date", u.Day},
			{"Vios-Agent", "CODE"},
			{"Vios-Baseline", snap.Policy.Cycle.Version},
		},
		Files:  files,
		Author: gov.Author("CODE"),
		When:   now,
		Signer: ssh,
		Parent: snap.Commit,
	})
	if err != nil {
		return rep, ch, fmt.Errorf("replay spent $%.6f on %d summaries but recording it failed: %w", rec.CostUSD, rec.Summaries, err)
	}
	ch.Commit = h.String()
	return rep, ch, nil
}

// replayID names a replay run: 16 hex digits of sha256 over its start and
// the commit it replayed (each paid replay commits, so two never share both).
func replayID(start time.Time, head string) string {
	sum := sha256.Sum256([]byte(start.Format(time.RFC3339Nano) + " " + head))
	return hex.EncodeToString(sum[:])[:16]
}

func firstN(s []string, n int) []string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
