// Package determinism replays recorded cycles from their evidence bundles
// (no network: every input comes from the evidence) and measures how
// deterministic they are: Tier-4 steps must reproduce every field within
// the policy's float tolerance; the Tier-2 summary is regenerated through a
// provider and compared on its checked properties (sentence count, keyword
// coverage, STIG's verdict), not its exact text. Each step gets an ADR-010
// discrepancy score; the rates per tier feed the weekly attestation.
//
// The built-in provider replays the summary for free. A paid provider's
// replay goes through the ADR-012 guard (see Meter and ReplayAndCharge):
// each call is checked before any money is spent, a blocked call is
// reported and not replayed, and the actual cost is charged to the day's
// tally.
package determinism

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/vision-ios/vios/internal/agents"
	"github.com/vision-ios/vios/internal/cycle"
	"github.com/vision-ios/vios/internal/economics"
	"github.com/vision-ios/vios/internal/keys"
	"github.com/vision-ios/vios/internal/llm"
	"github.com/vision-ios/vios/internal/market"
	"github.com/vision-ios/vios/internal/policy"
)

// Mismatch is one field that did not replay.
type Mismatch struct {
	CycleID  string `json:"cycle_id"`
	Step     int    `json:"step"`
	Field    string `json:"field"`
	Original string `json:"original"`
	Replayed string `json:"replayed"`
}

// StepResult is one replayed step.
type StepResult struct {
	CycleID     string  `json:"cycle_id"`
	Step        int     `json:"step"`
	Tier        int     `json:"tier"`
	Matched     bool    `json:"matched"`
	Discrepancy float64 `json:"discrepancy_score"`
}

// Blocked is a Tier-2 step the ADR-012 guard did not let a paid provider
// replay: no call was made, and the step counts in no rate.
type Blocked struct {
	CycleID      string  `json:"cycle_id"`
	Step         int     `json:"step"`
	Rule         string  `json:"rule"`
	Reason       string  `json:"reason"`
	WorstCaseUSD float64 `json:"worst_case_usd"`
}

// Report sums up a replay. The rates count replayed steps only: Tier-2
// steps the guard blocked are listed in Blocked and counted in
// Tier2Blocked, not in Tier2Steps.
type Report struct {
	Cycles       int          `json:"cycles"`
	Provider     string       `json:"provider,omitempty"`
	Model        string       `json:"model,omitempty"`
	Tier4Steps   int          `json:"tier4_steps"`
	Tier4Match   int          `json:"tier4_matched"`
	Tier2Steps   int          `json:"tier2_steps"`
	Tier2Match   int          `json:"tier2_matched"`
	Tier2Blocked int          `json:"tier2_blocked"`
	Tier4Rate    float64      `json:"tier4_rate"`
	Tier2Rate    float64      `json:"tier2_rate"`
	OverallRate  float64      `json:"overall_rate"`
	Mismatches   []Mismatch   `json:"mismatches"`
	Blocked      []Blocked    `json:"blocked"`
	Errors       []string     `json:"errors"`
	Steps        []StepResult `json:"-"`
	PerDay       []DayRate    `json:"per_day"`
}

// DayRate is the overall determinism of one UTC day.
type DayRate struct {
	Day     string  `json:"day"`
	Steps   int     `json:"steps"`
	Matched int     `json:"matched"`
	Rate    float64 `json:"rate"`
}

// Bundle is one recorded cycle: its log and evidence.
type Bundle struct {
	Log      *cycle.SignatureLog
	Evidence *cycle.Evidence
}

// Replayer replays bundles under one policy set and registry.
type Replayer struct {
	Policy   *policy.Set
	Registry *keys.Registry
	Provider llm.Provider // Tier-2 replay; nil skips Tier-2
	// Budget, when set, guards and charges every Tier-2 call (a paid
	// provider); nil calls the provider unmetered (the free built-in one).
	Budget  *Meter
	Workers int
}

// Replay replays every bundle, in parallel, and aggregates the rates.
func (rp *Replayer) Replay(ctx context.Context, bundles []Bundle) *Report {
	type out struct {
		steps   []StepResult
		mism    []Mismatch
		blocked []Blocked
		err     error
	}
	outs := make([]out, len(bundles))
	workers := rp.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	var wg sync.WaitGroup
	next := make(chan int, len(bundles))
	for i := range bundles {
		next <- i
	}
	close(next)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if ctx.Err() != nil {
					outs[i].err = ctx.Err()
					continue
				}
				outs[i].steps, outs[i].mism, outs[i].blocked, outs[i].err = rp.cycle(ctx, bundles[i])
			}
		}()
	}
	wg.Wait()
	rep := &Report{Cycles: len(bundles), Mismatches: []Mismatch{}, Blocked: []Blocked{}, Errors: []string{}}
	if rp.Provider != nil {
		rep.Provider, rep.Model = rp.Provider.Name(), rp.Provider.Model()
	}
	days := map[string]*DayRate{}
	for i, o := range outs {
		if o.err != nil {
			rep.Errors = append(rep.Errors, fmt.Sprintf("cycle %s: %v", bundles[i].Evidence.CycleID, o.err))
		}
		day := dayOf(bundles[i].Evidence.CycleTimestamp)
		if days[day] == nil {
			days[day] = &DayRate{Day: day}
		}
		for _, s := range o.steps {
			rep.Steps = append(rep.Steps, s)
			d := days[day]
			d.Steps++
			if s.Tier == 2 {
				rep.Tier2Steps++
			} else {
				rep.Tier4Steps++
			}
			if s.Matched {
				d.Matched++
				if s.Tier == 2 {
					rep.Tier2Match++
				} else {
					rep.Tier4Match++
				}
			}
		}
		rep.Mismatches = append(rep.Mismatches, o.mism...)
		rep.Blocked = append(rep.Blocked, o.blocked...)
	}
	rep.Tier2Blocked = len(rep.Blocked)
	rep.Tier4Rate = rate(rep.Tier4Match, rep.Tier4Steps)
	rep.Tier2Rate = rate(rep.Tier2Match, rep.Tier2Steps)
	rep.OverallRate = rate(rep.Tier4Match+rep.Tier2Match, rep.Tier4Steps+rep.Tier2Steps)
	for _, d := range days {
		d.Rate = rate(d.Matched, d.Steps)
		rep.PerDay = append(rep.PerDay, *d)
	}
	sort.Slice(rep.PerDay, func(i, j int) bool { return rep.PerDay[i].Day < rep.PerDay[j].Day })
	return rep
}

func dayOf(ts string) string {
	t, err := time.Parse(time.RFC3339, ts)
	if err != nil {
		return "unknown"
	}
	return t.UTC().Format("2006-01-02")
}

func rate(n, d int) float64 {
	if d == 0 {
		return 1
	}
	return float64(n) / float64(d)
}

// replayed is the recomputation of one step: its output, or the Tier-2
// properties, as a JSON value to compare with the original.
type replayed struct {
	step int
	tier int
	orig json.RawMessage
	got  any
	err  error
}

// cycle replays one bundle.
func (rp *Replayer) cycle(ctx context.Context, b Bundle) ([]StepResult, []Mismatch, []Blocked, error) {
	var blocked []Blocked
	steps, mism, err := rp.steps(ctx, b, &blocked)
	return steps, mism, blocked, err
}

// summarize regenerates one Tier-2 summary: unmetered, or through the
// budget, which returns the guard's decision instead of calling the
// provider when the call could break ADR-012.
func (rp *Replayer) summarize(ctx context.Context, cycleID string, req llm.Request) (llm.Response, *economics.Decision, error) {
	if rp.Budget == nil {
		resp, err := rp.Provider.Summarize(ctx, req)
		return resp, nil, err
	}
	return rp.Budget.Summarize(ctx, rp.Provider, cycleID, req)
}

// steps replays the steps of one bundle; Tier-2 steps the guard blocked
// are appended to blocked instead of being scored.
func (rp *Replayer) steps(ctx context.Context, b Bundle, blocked *[]Blocked) ([]StepResult, []Mismatch, error) {
	ev := b.Evidence
	slot, err := time.Parse(time.RFC3339, ev.CycleTimestamp)
	if err != nil {
		return nil, nil, fmt.Errorf("cycle_timestamp: %v", err)
	}
	steps := map[int]cycle.StepRecord{}
	for _, s := range ev.Steps {
		steps[s.Step] = s
	}
	done := func(n int) (cycle.StepRecord, bool) {
		s, ok := steps[n]
		return s, ok && s.Status == cycle.StatusCompleted
	}
	var reps []replayed

	var ingest cycle.IngestOutput
	if s, ok := done(1); ok {
		if err := json.Unmarshal(s.Output, &ingest); err != nil {
			return nil, nil, fmt.Errorf("step 1 output: %v", err)
		}
		out := cycle.IngestOutput{Count: len(ingest.Candles), Candles: ingest.Candles}
		if n := len(ingest.Candles); n > 0 {
			out.LastClose = ingest.Candles[n-1].Close
		}
		if err := market.Validate(ingest.Candles); err != nil {
			return nil, nil, fmt.Errorf("step 1 candles: %v", err)
		}
		reps = append(reps, replayed{step: 1, tier: 4, orig: s.Output, got: out})
	}
	var cdsIn cycle.CDSInput
	var cdsOrig agents.CDSOutput
	if s, ok := done(2); ok {
		if err := json.Unmarshal(s.Input, &cdsIn); err != nil {
			return nil, nil, fmt.Errorf("step 2 input: %v", err)
		}
		json.Unmarshal(s.Output, &cdsOrig)
		reps = append(reps, replayed{step: 2, tier: 4, orig: s.Output, got: agents.ComputeCDS(ingest.Candles, cdsIn.Events, slot, cdsIn.Params)})
	}
	outputs := map[int]any{}
	if s, ok := done(3); ok {
		var in cycle.ValidateCDSInput
		if err := json.Unmarshal(s.Input, &in); err != nil {
			return nil, nil, fmt.Errorf("step 3 input: %v", err)
		}
		v := agents.ValidateCDS(in.Claimed, agents.ComputeCDS(ingest.Candles, cdsIn.Events, slot, cdsIn.Params), rp.Policy.Determinism.ADR010)
		outputs[3] = v
		reps = append(reps, replayed{step: 3, tier: 4, orig: s.Output, got: v})
	}
	if s, ok := done(4); ok {
		var in cycle.RelevanceInput
		if err := json.Unmarshal(s.Input, &in); err != nil {
			return nil, nil, fmt.Errorf("step 4 input: %v", err)
		}
		reps = append(reps, replayed{step: 4, tier: 4, orig: s.Output, got: agents.ComputeRelevance(ingest.Candles, in.CDSScore, in.Params)})
	}
	var sumOut cycle.SummaryOutput
	var sumIn cycle.SummaryInput
	if s, ok := done(5); ok {
		json.Unmarshal(s.Output, &sumOut)
		json.Unmarshal(s.Input, &sumIn)
		outputs[5] = sumOut
	}
	if s, ok := done(6); ok {
		var in cycle.ValidateSummaryInput
		if err := json.Unmarshal(s.Input, &in); err != nil {
			return nil, nil, fmt.Errorf("step 6 input: %v", err)
		}
		var orig agents.SummaryValidation
		json.Unmarshal(s.Output, &orig)
		v := agents.ValidateSummary(sumOut.Summary, in.Keywords, in.RequiredSentences, in.RequiredKeywords, rp.Policy.Determinism.ADR010)
		outputs[6] = v
		reps = append(reps, replayed{step: 6, tier: 4, orig: s.Output, got: v})
		// Tier-2: regenerate and compare the checked properties.
		if _, ok := done(5); ok && rp.Provider != nil {
			r := replayed{step: 5, tier: 2, orig: mustJSON(properties(orig.SentenceCount == in.RequiredSentences, orig.KeywordCoverage >= in.RequiredKeywords, orig.ValidationStatus))}
			resp, dec, err := rp.summarize(ctx, ev.CycleID, sumIn.Request)
			switch {
			case dec != nil: // ADR-012: not replayed, no money spent
				*blocked = append(*blocked, Blocked{CycleID: ev.CycleID, Step: 5, Rule: dec.Rule, Reason: dec.Reason, WorstCaseUSD: dec.WorstCaseUSD})
			case err != nil:
				r.err = err
				reps = append(reps, r)
			default:
				nv := agents.ValidateSummary(resp.Text, in.Keywords, in.RequiredSentences, in.RequiredKeywords, rp.Policy.Determinism.ADR010)
				r.got = properties(nv.SentenceCount == in.RequiredSentences, nv.KeywordCoverage >= in.RequiredKeywords, nv.ValidationStatus)
				reps = append(reps, r)
			}
		}
	}
	if s, ok := done(7); ok && b.Log != nil {
		var prior []cycle.OperationSignature
		for _, o := range b.Log.Operations {
			if o.Step < 7 {
				prior = append(prior, o)
			}
		}
		reps = append(reps, replayed{step: 7, tier: 4, orig: s.Output, got: cycle.Attest(rp.Policy, rp.Registry, ev.CycleID, ev.Asset, prior, outputs)})
	}

	var results []StepResult
	var mism []Mismatch
	tol := rp.Policy.Determinism.Tiers.Tier4.FloatTolerance
	for _, r := range reps {
		var diffs []Mismatch
		if r.err != nil {
			diffs = []Mismatch{{CycleID: ev.CycleID, Step: r.step, Field: "(replay)", Original: "ran", Replayed: r.err.Error()}}
		} else {
			var want, got any
			if err := json.Unmarshal(r.orig, &want); err != nil {
				diffs = []Mismatch{{CycleID: ev.CycleID, Step: r.step, Field: "(output)", Original: "unreadable", Replayed: err.Error()}}
			} else {
				json.Unmarshal(mustJSON(r.got), &got)
				compare(ev.CycleID, r.step, "", want, got, tol, &diffs)
			}
		}
		fields := countFields(r.orig)
		res := StepResult{CycleID: ev.CycleID, Step: r.step, Tier: r.tier, Matched: len(diffs) == 0}
		if fields > 0 {
			res.Discrepancy = math.Min(1, float64(len(diffs))/float64(fields))
		}
		results = append(results, res)
		mism = append(mism, diffs...)
	}
	return results, mism, nil
}

// properties are the Tier-2 checked properties of a summary.
func properties(sentencesOK, keywordsOK bool, verdict string) map[string]any {
	return map[string]any{"sentence_count_ok": sentencesOK, "keyword_coverage_ok": keywordsOK, "stig_verdict": verdict}
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		return []byte("null")
	}
	return b
}

// compare walks two JSON values; numbers match within tol (absolute, or
// relative for large magnitudes), strings and booleans exactly.
func compare(id string, step int, path string, want, got any, tol float64, out *[]Mismatch) {
	add := func() {
		*out = append(*out, Mismatch{CycleID: id, Step: step, Field: strings.TrimPrefix(path, "."), Original: short(want), Replayed: short(got)})
	}
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			add()
			return
		}
		keys := make([]string, 0, len(w))
		for k := range w {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			compare(id, step, path+"."+k, w[k], g[k], tol, out)
		}
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			add()
			return
		}
		for i := range w {
			compare(id, step, fmt.Sprintf("%s[%d]", path, i), w[i], g[i], tol, out)
		}
	case float64:
		g, ok := got.(float64)
		if !ok || math.Abs(w-g) > tol*math.Max(1, math.Max(math.Abs(w), math.Abs(g))) {
			add()
		}
	default:
		if want != got {
			add()
		}
	}
}

func short(v any) string {
	b, _ := json.Marshal(v)
	s := string(b)
	if len(s) > 80 {
		s = s[:80] + "…"
	}
	return s
}

func countFields(raw json.RawMessage) int {
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return 0
	}
	n := 0
	var walk func(any)
	walk = func(v any) {
		switch t := v.(type) {
		case map[string]any:
			for _, c := range t {
				walk(c)
			}
		case []any:
			for _, c := range t {
				walk(c)
			}
		default:
			n++
		}
	}
	walk(v)
	return n
}
