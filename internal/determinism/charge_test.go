package determinism_test

import (
	"context"
	"errors"
	"maps"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vision-ios/vios/internal/clock"
	"github.com/vision-ios/vios/internal/costreport"
	"github.com/vision-ios/vios/internal/cycle"
	"github.com/vision-ios/vios/internal/determinism"
	"github.com/vision-ios/vios/internal/economics"
	"github.com/vision-ios/vios/internal/gov"
	"github.com/vision-ios/vios/internal/layout"
	"github.com/vision-ios/vios/internal/ledger"
	"github.com/vision-ios/vios/internal/llm"
	"github.com/vision-ios/vios/internal/policy"
	"github.com/vision-ios/vios/internal/testutil"
)

// The usage the fake paid provider reports for every summary, priced at the
// embedded gpt-4o-mini rates.
const (
	paidIn  = 400
	paidOut = 60
)

var paidCost = paidIn/1000.0*0.00015 + paidOut/1000.0*0.0006

// paidProvider is a fake paid provider: it rewords every summary (new
// sentences, same keywords) and reports a fixed usage; it counts its calls.
type paidProvider struct {
	calls atomic.Int64
	err   error
	gate  chan struct{} // when set, every call waits for it
}

func (*paidProvider) Name() string  { return "fakepaid" }
func (*paidProvider) Model() string { return "gpt-4o-mini" }

func (p *paidProvider) Summarize(ctx context.Context, req llm.Request) (llm.Response, error) {
	p.calls.Add(1)
	if p.gate != nil {
		<-p.gate
	}
	if p.err != nil {
		return llm.Response{}, p.err
	}
	var kw []string
	for _, e := range req.Events {
		kw = append(kw, e.Keyword)
	}
	text := "Headlines and the tape part ways. Reports on " + strings.Join(kw, ", ") + " drive the gloom. Nobody should trust one signal alone."
	return llm.Response{Text: text, Model: "gpt-4o-mini", InputTokens: paidIn, OutputTokens: paidOut}, nil
}

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-12 }

// withEconomics returns a copy of rp's policy with economics edited.
func withEconomics(rp *determinism.Replayer, edit func(*policy.Economics)) *policy.Set {
	p := *rp.Policy
	p.Economics.Models = maps.Clone(p.Economics.Models)
	edit(&p.Economics)
	return &p
}

// TestMeter: a paid provider's Tier-2 replay goes through the ADR-012
// guard and is charged the usage it reports (one week of recorded cycles,
// 24 with a summary, shared by the subtests).
func TestMeter(t *testing.T) {
	_, bs, base := week(t, true)
	t.Run("charges usage and stops at the rate limit", func(t *testing.T) { meterRateLimit(t, bs, *base) })
	t.Run("blocks before any call", func(t *testing.T) { meterBlocks(t, bs, *base) })
	t.Run("failure charges nothing", func(t *testing.T) { meterFailure(t, bs, *base) })
}

func meterRateLimit(t *testing.T, bs []determinism.Bundle, rp determinism.Replayer) {
	e := rp.Policy.Economics
	prov := &paidProvider{}
	rp.Provider, rp.Workers = prov, 4
	// Room for five more summaries today; the 24 summaries of the week
	// race for it on four workers.
	m := determinism.NewMeter(e, economics.Usage{Day: "2026-11-20", Summaries: e.DailyRateLimit - 5, SpendUSD: 1})
	rp.Budget = m
	rep := rp.Replay(context.Background(), bs)
	if n := prov.calls.Load(); n != 5 {
		t.Fatalf("the provider was called %d times, want 5 (the rate limit's headroom)", n)
	}
	if rep.Tier2Steps != 5 || rep.Tier2Match != 5 || rep.Tier2Blocked != 19 || len(rep.Blocked) != 19 || rep.Tier2Rate != 1 || rep.Tier4Rate != 1 {
		t.Fatalf("report: tier2 %d/%d, %d blocked (%d listed), rates %v/%v", rep.Tier2Match, rep.Tier2Steps, rep.Tier2Blocked, len(rep.Blocked), rep.Tier2Rate, rep.Tier4Rate)
	}
	for _, b := range rep.Blocked {
		if b.Step != 5 || b.Rule != economics.RuleRate || b.CycleID == "" {
			t.Errorf("blocked %+v, want step 5 by %s", b, economics.RuleRate)
		}
	}
	u := m.Usage()
	if u.Summaries != e.DailyRateLimit || !near(u.SpendUSD, 1+5*paidCost) {
		t.Errorf("tally %+v, want %d summaries and $%v", u, e.DailyRateLimit, 1+5*paidCost)
	}
	var charged, blocked int
	for _, c := range m.Calls() {
		switch c.Status {
		case economics.ReplayCharged:
			charged++
			if !near(c.CostUSD, paidCost) || c.InputTokens != paidIn || c.OutputTokens != paidOut || c.Model != "gpt-4o-mini" {
				t.Errorf("charged call %+v, want %d/%d tokens of gpt-4o-mini at $%v", c, paidIn, paidOut, paidCost)
			}
		case economics.ReplayBlocked:
			blocked++
			if c.CostUSD != 0 || c.Rule != economics.RuleRate {
				t.Errorf("blocked call %+v", c)
			}
		}
	}
	if charged != 5 || blocked != 19 {
		t.Errorf("calls: %d charged, %d blocked; want 5, 19", charged, blocked)
	}
}

func meterBlocks(t *testing.T, bs []determinism.Bundle, rp determinism.Replayer) {
	for _, tc := range []struct {
		name  string
		pol   *policy.Set
		usage economics.Usage
		rule  string
	}{
		{"budget exhausted", rp.Policy, economics.Usage{Day: "2026-11-20", Summaries: 3, SpendUSD: rp.Policy.Economics.DailyBudgetCapUSD}, economics.RuleBudget},
		{"rate limit reached", rp.Policy, economics.Usage{Day: "2026-11-20", Summaries: rp.Policy.Economics.DailyRateLimit}, economics.RuleRate},
		{"worst case above the ceiling", withEconomics(&rp, func(e *policy.Economics) {
			e.Models["gpt-4o-mini"] = policy.Price{InputPer1K: 0.00015, OutputPer1K: 1}
		}), economics.Usage{Day: "2026-11-20"}, economics.RuleCeiling},
	} {
		t.Run(tc.name, func(t *testing.T) {
			prov := &paidProvider{}
			m := determinism.NewMeter(tc.pol.Economics, tc.usage)
			p := rp
			p.Policy, p.Provider, p.Budget = tc.pol, prov, m
			rep := p.Replay(context.Background(), bs)
			if n := prov.calls.Load(); n != 0 {
				t.Fatalf("the provider was called %d times, want 0", n)
			}
			if rep.Tier2Steps != 0 || rep.Tier2Blocked != 24 || rep.Tier4Rate != 1 || rep.OverallRate != 1 || len(rep.Mismatches) != 0 {
				t.Fatalf("report: tier2 %d steps, %d blocked, tier4 %v, overall %v, %d mismatches", rep.Tier2Steps, rep.Tier2Blocked, rep.Tier4Rate, rep.OverallRate, len(rep.Mismatches))
			}
			if b := rep.Blocked[0]; b.Rule != tc.rule || b.Reason == "" {
				t.Errorf("blocked %+v, want rule %s", b, tc.rule)
			}
			if u := m.Usage(); u != tc.usage {
				t.Errorf("tally %+v changed, want %+v", u, tc.usage)
			}
		})
	}
}

func meterFailure(t *testing.T, bs []determinism.Bundle, rp determinism.Replayer) {
	prov := &paidProvider{err: llm.ErrNoUsage}
	m := determinism.NewMeter(rp.Policy.Economics, economics.Usage{Day: "2026-11-20"})
	rp.Provider, rp.Budget = prov, m
	rep := rp.Replay(context.Background(), bs)
	if prov.calls.Load() != 24 || rep.Tier2Steps != 24 || rep.Tier2Match != 0 || rep.Tier2Blocked != 0 {
		t.Fatalf("%d calls; report tier2 %d/%d, %d blocked", prov.calls.Load(), rep.Tier2Match, rep.Tier2Steps, rep.Tier2Blocked)
	}
	if u := m.Usage(); u.Summaries != 0 || u.SpendUSD != 0 {
		t.Errorf("tally %+v after failed calls, want nothing charged", u)
	}
	for _, c := range m.Calls() {
		if c.Status != economics.ReplayFailed || c.CostUSD != 0 || !strings.Contains(c.Reason, "usage") {
			t.Errorf("call %+v, want failed at no cost", c)
		}
	}
}

// setTally commits a state whose ADR-012 tally of day is n summaries and
// spend dollars, signed by CODE.
func setTally(t *testing.T, r *ledger.Repo, day time.Time, n int, spend float64) {
	t.Helper()
	code := testutil.Signers(t, "replay")["CODE"]
	snap, err := gov.Load(r)
	if err != nil {
		t.Fatal(err)
	}
	st := *snap.State
	st.EconomicsDay, st.SummariesToday, st.SpendTodayUSD = economics.DayOf(day), n, spend
	ssh, err := code.SSH()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Apply(context.Background(), &ledger.Change{
		Subject: "test: set the tally", Files: []ledger.File{{Path: layout.StateFile, Data: st.Marshal()}},
		Author: gov.Author("CODE"), When: day, Signer: ssh, Parent: snap.Commit,
	}); err != nil {
		t.Fatal(err)
	}
}

func TestReplayAndChargeCommitsTheDaysCharges(t *testing.T) {
	r, bs, rp := week(t, true)
	code := testutil.Signers(t, "replay")["CODE"]
	ctx := context.Background()
	first := bs[0].Evidence.CycleTimestamp
	firstDay, _ := time.Parse(time.RFC3339, first)
	head0, _ := r.Head()
	before, err := cycle.DayUsage(r, head0, firstDay)
	if err != nil {
		t.Fatal(err)
	}

	// The replay runs days after the cycles: it is charged to its own day.
	now := testutil.Epoch.Add(5*24*time.Hour + 10*time.Hour)
	prov := &paidProvider{}
	rp.Provider = prov
	rep, ch, err := determinism.ReplayAndCharge(ctx, r, rp, bs, determinism.ChargeOptions{Code: code, Clock: clock.NewSim(now, time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	day := economics.DayOf(now)
	if rep.Tier2Steps != 24 || rep.Tier2Rate != 1 || rep.Tier4Rate != 1 || prov.calls.Load() != 24 {
		t.Fatalf("report tier2 %d steps at %v, tier4 %v; %d calls", rep.Tier2Steps, rep.Tier2Rate, rep.Tier4Rate, prov.calls.Load())
	}
	if ch.Day != day || ch.Summaries != 24 || !near(ch.CostUSD, 24*paidCost) || ch.Blocked != 0 || ch.Commit == "" || ch.Deviation != "" ||
		ch.SummariesToday != 24 || !near(ch.SpendTodayUSD, 24*paidCost) {
		t.Fatalf("charged %+v", ch)
	}
	head, _ := r.Head()
	if head.String() != ch.Commit {
		t.Fatalf("HEAD %s, want the charge commit %s", head, ch.Commit)
	}
	if ch.Path != layout.ReplayCharge(ch.ReplayID, now) {
		t.Errorf("path %s", ch.Path)
	}
	data, err := r.ReadFile(head, ch.Path)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := economics.ParseReplayCharge(data)
	if err != nil || rec.Day != day || rec.Summaries != 24 || len(rec.Calls) != 24 || rec.Provider != "fakepaid" || rec.Replayed != head0.String() {
		t.Fatalf("record %+v (%v)", rec, err)
	}
	snap, err := gov.Load(r)
	if err != nil {
		t.Fatal(err)
	}
	if st := snap.State; st.EconomicsDay != day || st.SummariesToday != 24 || !near(st.SpendTodayUSD, 24*paidCost) || st.Summaries != "ALLOWED" {
		t.Errorf("state %+v", st)
	}
	// The day's usage and cost report count the replay; the replayed
	// cycles' day is not charged.
	if u, err := cycle.DayUsage(r, head, now); err != nil || u.Summaries != 24 || !near(u.SpendUSD, 24*paidCost) {
		t.Errorf("DayUsage of the replay's day %+v (%v)", u, err)
	}
	if u, err := cycle.DayUsage(r, head, firstDay); err != nil || *u != *before {
		t.Errorf("DayUsage of the replayed day %+v (%v), want unchanged %+v", u, err, before)
	}
	cr, err := costreport.Build(r, head, snap.Policy, now)
	if err != nil {
		t.Fatal(err)
	}
	if s := cr.DailySummary; s.TotalCycles != 0 || s.TotalSummaries != 24 || !near(s.TotalCostUSD, 24*paidCost) || len(cr.Replays) != 1 || cr.Replays[0].ReplayID != ch.ReplayID || cr.ADR012.Status != "PASS" {
		t.Errorf("cost report %+v, replays %+v", s, cr.Replays)
	}

	// A day with one summary of headroom left: one call, 23 blocked, a
	// cost-ceiling deviation, the state's summaries BLOCKED.
	setTally(t, r, now.Add(time.Hour), snap.Policy.Economics.DailyRateLimit-1, 2)
	prov2 := &paidProvider{}
	rp.Provider = prov2
	rep, ch, err = determinism.ReplayAndCharge(ctx, r, rp, bs, determinism.ChargeOptions{Code: code, Clock: clock.NewSim(now.Add(2*time.Hour), time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	if prov2.calls.Load() != 1 || rep.Tier2Steps != 1 || rep.Tier2Blocked != 23 || ch.Summaries != 1 || ch.Blocked != 23 || ch.Deviation == "" {
		t.Fatalf("%d calls; report %d/%d blocked; charged %+v", prov2.calls.Load(), rep.Tier2Steps, rep.Tier2Blocked, ch)
	}
	head, _ = r.Head()
	if _, err := r.ReadFile(head, layout.Deviations+"/"+ch.Deviation+".json"); err != nil {
		t.Errorf("deviation %s: %v", ch.Deviation, err)
	}
	snap, _ = gov.Load(r)
	if st := snap.State; st.SummariesToday != snap.Policy.Economics.DailyRateLimit || !near(st.SpendTodayUSD, 2+paidCost) || st.Summaries != "BLOCKED" || !strings.Contains(st.SummariesWhy, "replay "+ch.ReplayID) {
		t.Errorf("state %+v", st)
	}
	cr, err = costreport.Build(r, head, snap.Policy, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(cr.Replays) != 2 || cr.BlockedSummaries != 23 || cr.ADR012.RateLimitBreaches != 23 || cr.DailySummary.TotalSummaries != 25 {
		t.Errorf("cost report: %d replays, %d blocked, %d rate breaches, %d summaries", len(cr.Replays), cr.BlockedSummaries, cr.ADR012.RateLimitBreaches, cr.DailySummary.TotalSummaries)
	}

	// A builtin provider is not paid: ReplayAndCharge refuses it.
	rp.Provider = llm.Builtin{}
	if _, _, err := determinism.ReplayAndCharge(ctx, r, rp, bs, determinism.ChargeOptions{Code: code, Clock: clock.NewSim(now, time.Second)}); err == nil {
		t.Error("ReplayAndCharge accepted the free built-in provider")
	}
}

// TestReplayAndCycleShareTheBudget: a paid replay and summary cycles of the
// same day run at once with ten summaries of headroom left; the repository
// lock serialises their guard checks and settlements, so together they
// generate exactly ten, never more.
func TestReplayAndCycleShareTheBudget(t *testing.T) {
	r, bs, rp := week(t, true)
	signers := testutil.Signers(t, "replay")
	ctx := context.Background()
	day := testutil.Epoch.AddDate(0, 0, 6)
	limit := rp.Policy.Economics.DailyRateLimit
	setTally(t, r, day, limit-10, 0)

	prov := &paidProvider{gate: make(chan struct{})}
	rp.Provider, rp.Workers = prov, 2
	var wg sync.WaitGroup
	var ch *determinism.Charged
	var rerr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, ch, rerr = determinism.ReplayAndCharge(ctx, r, rp, bs, determinism.ChargeOptions{Code: signers["CODE"], Clock: clock.NewSim(day.Add(12*time.Hour), time.Second)})
	}()
	// Wait until the replay holds the lock and is calling the provider.
	for prov.calls.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	cycles := make([]error, 6)
	for i := range cycles {
		wg.Add(1)
		go func() {
			defer wg.Done()
			slot := day.Add(time.Duration(1+i) * time.Hour)
			_, cycles[i] = cycle.RunAndCommit(ctx, r, cycle.Options{Slot: slot, Clock: clock.NewSim(slot, time.Second), Signers: signers, Market: testutil.Rally{}, News: testutil.Bearish{}})
		}()
	}
	time.Sleep(20 * time.Millisecond) // the cycles queue on the lock
	close(prov.gate)
	wg.Wait()
	if rerr != nil {
		t.Fatal(rerr)
	}
	for i, err := range cycles {
		if err != nil && !errors.Is(err, cycle.ErrCycleDenied) {
			t.Fatalf("cycle %d: %v", i, err)
		}
	}
	snap, err := gov.Load(r)
	if err != nil {
		t.Fatal(err)
	}
	if st := snap.State; st.EconomicsDay != economics.DayOf(day) || st.SummariesToday != limit {
		t.Fatalf("state tally %s: %d summaries, want exactly the limit %d", st.EconomicsDay, st.SummariesToday, limit)
	}
	// The replay got the lock first: it took all ten; every cycle's summary was blocked.
	if ch.Summaries != 10 || ch.Blocked != 14 {
		t.Errorf("replay charged %d, blocked %d; want 10, 14", ch.Summaries, ch.Blocked)
	}
	head, _ := r.Head()
	u, err := cycle.DayUsage(r, head, day)
	if err != nil {
		t.Fatal(err)
	}
	if u.Summaries != 10 {
		t.Errorf("the day's artifacts count %d summaries, want the 10 the replay was charged", u.Summaries)
	}
}
