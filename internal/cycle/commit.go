package cycle

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/vision-ios/vios/internal/clock"
	"github.com/vision-ios/vios/internal/deviation"
	"github.com/vision-ios/vios/internal/economics"
	"github.com/vision-ios/vios/internal/fault"
	"github.com/vision-ios/vios/internal/gov"
	"github.com/vision-ios/vios/internal/keys"
	"github.com/vision-ios/vios/internal/layout"
	"github.com/vision-ios/vios/internal/ledger"
	"github.com/vision-ios/vios/internal/llm"
	"github.com/vision-ios/vios/internal/market"
	"github.com/vision-ios/vios/internal/news"
	"github.com/vision-ios/vios/internal/policy"
	"github.com/vision-ios/vios/internal/signing"
	"github.com/vision-ios/vios/internal/state"
)

// Options configure one committed cycle.
type Options struct {
	// Slot is the cycle's slot; zero means now truncated to the schedule.
	Slot  time.Time
	Clock clock.Clock
	// Signers holds LINE FINN STIG VEGA CODE; nil entries are loaded from KeysDir.
	Signers map[string]*signing.Signer
	KeysDir string
	// Source overrides; empty means the policy's choice.
	MarketSpec, EventsSpec, ProviderSpec string
	// BinanceURL overrides the policy's Binance base URL (a mirror or proxy).
	BinanceURL string
	// LLMURL overrides the policy's OpenAI-compatible base URL.
	LLMURL string
	// Market, News and Provider, when set, replace the named sources (tests).
	Market   market.Source
	News     news.Source
	Provider llm.Provider
	// Alert, when set, is called with the deviations the cycle opens just
	// before they are committed with it, so the alert goes out at detection;
	// it may append events (the alert and its deliveries) to them. It cannot
	// fail the cycle: delivery problems are recorded in the events.
	Alert func(ctx context.Context, opened []*deviation.Record, now time.Time)
}

// Committed reports a cycle that was run and committed, or found recorded.
type Committed struct {
	CycleID  string
	Slot     time.Time
	Commit   plumbing.Hash
	LogPath  string
	Existing bool // the slot was already recorded: nothing was done
	Result   *Result
}

// ErrCycleHalted is returned (as a governance fault) when a cycle halted.
var ErrCycleHalted = errors.New("cycle halted")

// ErrCycleDenied is returned (as a governance fault) when VEGA denied a cycle.
var ErrCycleDenied = errors.New("cycle denied by VEGA")

// RunAndCommit runs one cycle on the repository and commits its signature
// log, evidence bundle and operational state in one commit signed by CODE.
// It holds the repository lock throughout, refuses to run while HALTED or
// PAUSED, and does nothing for a slot already recorded.
func RunAndCommit(ctx context.Context, r *ledger.Repo, opt Options) (*Committed, error) {
	unlock, err := r.Lock(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
	snap, err := gov.Load(r)
	if err != nil {
		return nil, err
	}
	p := snap.Policy
	clk := opt.Clock
	if clk == nil {
		clk = clock.Real{}
	}
	slot := opt.Slot
	if slot.IsZero() {
		slot = clk.Now().Truncate(p.Cycle.Schedule.Interval.D())
	}
	slot = slot.UTC().Truncate(time.Second)
	id := layout.CycleID(slot)
	logPath := layout.SignatureLog(id, slot)
	if _, err := r.ReadFile(snap.Commit, logPath); err == nil {
		return &Committed{CycleID: id, Slot: slot, Commit: snap.Commit, LogPath: logPath, Existing: true}, nil
	} else if !errors.Is(err, ledger.ErrNotFound) {
		return nil, err
	}
	if err := snap.State.CanRun(); err != nil {
		return nil, err
	}

	signers := map[string]*signing.Signer{}
	for _, a := range []string{"LINE", "FINN", "STIG", "VEGA", "CODE"} {
		if s := opt.Signers[a]; s != nil {
			signers[a] = s
			continue
		}
		s, err := keys.Load(opt.KeysDir, a)
		if err != nil {
			return nil, err
		}
		signers[a] = s
	}
	code := signers["CODE"]
	if _, ok := snap.Registry.KeyAt("CODE", code.Public(), clk.Now()); !ok {
		return nil, fault.Governancef("CODE's key does not match its ACTIVE registry key; refusing to sign governance commits")
	}

	eng, err := buildEngine(snap, signers, clk, opt)
	if err != nil {
		return nil, err
	}
	if eng.Usage, err = DayTally(r, snap, slot); err != nil {
		return nil, err
	}
	res, err := eng.Run(ctx, slot, snap.State.LastLineageHash)
	if err != nil {
		return nil, err
	}

	st := *snap.State
	now := clk.Now()
	st.LastCycleID = id
	st.LastCycleSlot = slot.Format(time.RFC3339)
	st.LastLineageHash = res.LastLineage
	st.CyclesRecorded++
	st.UpdatedAt, st.UpdatedBy = now.UTC().Format(time.RFC3339), "CODE"
	if res.Halted {
		st.Transition(state.Halted, res.HaltReason+" (cycle "+id+")", "CODE", now)
	}
	SettleTally(&st, eng.Usage, res.Guard, "cycle "+id)
	ssh, err := code.SSH()
	if err != nil {
		return nil, err
	}
	sum := res.Log.Summary
	subject := fmt.Sprintf("cycle %s: %d/%d signatures verified, VEGA %s", id, sum.SignaturesVerified, sum.SignaturesRequired, res.Log.FinalVerdict)
	if res.Halted {
		subject = fmt.Sprintf("cycle %s: signature verification FAILED, orchestrator HALTED", id)
	}
	body := fmt.Sprintf("Slot %s. CDS %.4f, summary %s.", slot.Format(time.RFC3339), res.Evidence.Outcome.CDSScore, res.Evidence.Outcome.SummaryStatus)
	if res.Halted {
		body += "\n" + res.HaltReason + "."
	}
	change := &ledger.Change{
		Subject: subject,
		Body:    body,
		Trailers: [][2]string{
			{"Vios-Artifact", "signature_log"},
			{"Vios-Cycle", id},
			{"Vios-Date", slot.Format("2006-01-02")},
			{"Vios-Agent", "CODE"},
			{"Vios-Baseline", p.Cycle.Version},
		},
		Files: []ledger.File{
			{Path: logPath, Data: marshal(res.Log)},
			{Path: layout.Evidence(id, slot), Data: res.Evidence.Marshal()},
			{Path: layout.StateFile, Data: st.Marshal()},
		},
		Author: gov.Author("CODE"),
		When:   now,
		Signer: ssh,
		Parent: snap.Commit,
	}
	var opened []*deviation.Record
	if res.Halted {
		dev, err := deviation.New(p, deviation.SignatureFailure, id, id, res.HaltReason, now)
		if err != nil {
			return nil, err
		}
		opened = append(opened, dev)
		change.Body += "\nOpened " + dev.ID + "."
	}
	if res.Breach != "" {
		dev, err := deviation.New(p, deviation.CostCeiling, id, id, res.Breach, now)
		if err != nil {
			return nil, err
		}
		opened = append(opened, dev)
		change.Body += "\nADR-012 breach: " + res.Breach + "; opened " + dev.ID + "."
	}
	if opt.Alert != nil && len(opened) > 0 {
		opt.Alert(ctx, opened, now)
	}
	for _, dev := range opened {
		change.Files = append(change.Files, ledger.File{Path: dev.Path(), Data: dev.Marshal()})
	}
	h, err := r.Apply(ctx, change)
	if err != nil {
		return nil, err
	}
	c := &Committed{CycleID: id, Slot: slot, Commit: h, LogPath: logPath, Result: res}
	if res.Halted {
		return c, fault.Governance(fmt.Errorf("%w: %s", ErrCycleHalted, res.HaltReason))
	}
	if res.Log.FinalVerdict == Denied {
		return c, fault.Governance(fmt.Errorf("%w: %s", ErrCycleDenied, deniedChecks(res)))
	}
	return c, nil
}

func deniedChecks(res *Result) string {
	for _, s := range res.Evidence.Steps {
		if s.Step == 7 && len(s.Output) > 0 {
			var out AttestationOutput
			if err := strictJSON(s.Output, &out); err == nil {
				var failed []string
				for _, c := range out.Checks {
					if !c.Passed {
						failed = append(failed, c.ADR+" "+c.Detail)
					}
				}
				return strings.Join(failed, "; ")
			}
		}
	}
	return "see the cycle log"
}

func buildEngine(snap *gov.Snapshot, signers map[string]*signing.Signer, clk clock.Clock, opt Options) (*Engine, error) {
	p := snap.Policy
	var err error
	ms := opt.Market
	if ms == nil {
		spec := p.Cycle.Market.Source
		if opt.MarketSpec != "" {
			spec = opt.MarketSpec
		}
		retries := p.Cycle.Market.Retries
		if retries == 0 {
			retries = -1 // policy 0 means no retries; market's 0 means its default
		}
		base := p.Cycle.Market.BinanceBaseURL
		if opt.BinanceURL != "" {
			base = opt.BinanceURL
		}
		ms, err = market.NewSource(spec, market.Options{
			BinanceBaseURL: base,
			Timeout:        p.Cycle.Market.Timeout.D(),
			Retries:        retries,
		})
		if err != nil {
			return nil, err
		}
	}
	ns := opt.News
	if ns == nil {
		spec := p.Cycle.Events.Source
		if opt.EventsSpec != "" {
			spec = opt.EventsSpec
		}
		if ns, err = news.NewSource(spec); err != nil {
			return nil, err
		}
	}
	prov := opt.Provider
	if prov == nil {
		if prov, err = NewProvider(p, opt.ProviderSpec, opt.LLMURL); err != nil {
			return nil, err
		}
	}
	return &Engine{Policy: p, Registry: snap.Registry, Signers: signers, Market: ms, News: ns, Provider: prov, Clock: clk}, nil
}

// NewProvider returns the Tier-2 summary provider a cycle (and a replay)
// uses: spec (builtin or openai) when given, else policies/cycle.yaml
// summary.provider; the model is economics.yaml summary.model; the
// OpenAI-compatible endpoint is llmURL when given, else the policy's
// base_url, with the API key from the environment variable the policy
// names.
func NewProvider(p *policy.Set, spec, llmURL string) (llm.Provider, error) {
	if spec == "" {
		spec = p.Cycle.Summary.Provider
	}
	o := p.Cycle.Summary.OpenAI
	cfg := llm.OpenAIConfig{BaseURL: o.BaseURL, Timeout: o.Timeout.D(), Retries: o.Retries, Seed: o.Seed, Temperature: o.Temperature}
	if llmURL != "" {
		cfg.BaseURL = llmURL
	}
	if o.APIKeyEnv != "" {
		cfg.APIKey = os.Getenv(o.APIKeyEnv)
	}
	return llm.New(spec, p.Economics.Summary.Model, cfg)
}

// DayTally is the ADR-012 tally of the UTC day of t that the guard checks
// summaries against, as of snap (which must be read under the repository
// lock, so concurrent writers never both spend the same headroom): the
// state's tally when it tracks that day; the day's recorded evidence and
// replay charges when the state has moved on to a later day (a late slot);
// a fresh tally for a day the state has not reached yet.
func DayTally(r *ledger.Repo, snap *gov.Snapshot, t time.Time) (*economics.Usage, error) {
	day := economics.DayOf(t)
	switch st := snap.State; {
	case st.EconomicsDay == day:
		return &economics.Usage{Day: day, Summaries: st.SummariesToday, SpendUSD: st.SpendTodayUSD}, nil
	case st.EconomicsDay > day:
		return DayUsage(r, snap.Commit, t)
	}
	return &economics.Usage{Day: day}, nil
}

// SettleTally writes the settled tally u into the state when it is the
// newest day's (the state tracks the newest day; a tally of an earlier day
// leaves it alone, that day's artifacts keep the count) and, when g is the
// guard's latest decision, whether summaries are allowed; ref names who
// decided ("cycle <id>", "replay <id>"). It reports whether the state took
// the tally.
func SettleTally(st *state.State, u *economics.Usage, g *economics.Decision, ref string) bool {
	if u == nil || u.Day < st.EconomicsDay {
		return false
	}
	st.EconomicsDay, st.SummariesToday, st.SpendTodayUSD = u.Day, u.Summaries, u.SpendUSD
	if g != nil {
		if g.Allowed {
			st.Summaries, st.SummariesWhy = state.SummariesAllowed, ""
		} else {
			st.Summaries, st.SummariesWhy = state.SummariesBlocked, "ADR-012 "+g.Rule+": "+g.Reason+" ("+ref+")"
		}
	}
	return true
}
