package costreport_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vision-ios/vios/internal/clock"
	"github.com/vision-ios/vios/internal/costreport"
	"github.com/vision-ios/vios/internal/cycle"
	"github.com/vision-ios/vios/internal/economics"
	"github.com/vision-ios/vios/internal/fault"
	"github.com/vision-ios/vios/internal/gov"
	"github.com/vision-ios/vios/internal/layout"
	"github.com/vision-ios/vios/internal/ledger"
	"github.com/vision-ios/vios/internal/llm"
	"github.com/vision-ios/vios/internal/signing"
	"github.com/vision-ios/vios/internal/state"
	"github.com/vision-ios/vios/internal/testutil"
)

// counting wraps a provider and counts the calls that reach it.
type counting struct {
	llm.Provider
	calls atomic.Int64
}

func (c *counting) Summarize(ctx context.Context, req llm.Request) (llm.Response, error) {
	c.calls.Add(1)
	return c.Provider.Summarize(ctx, req)
}

// fixed answers with a given token usage, to hit exact costs.
type fixed struct{ in, out int }

func (fixed) Name() string  { return "fixed" }
func (fixed) Model() string { return "builtin-summarizer-v1" }
func (f fixed) Summarize(ctx context.Context, req llm.Request) (llm.Response, error) {
	req.MaxTokens = 0 // the guard enforced max_tokens; the fixed usage is the point
	r, err := llm.Builtin{}.Summarize(ctx, req)
	r.InputTokens, r.OutputTokens = f.in, f.out
	return r, err
}

type env struct {
	dir     string
	r       *ledger.Repo
	signers map[string]*signing.Signer
}

func setup(t *testing.T) *env {
	t.Helper()
	e := &env{signers: testutil.Signers(t, t.Name())}
	e.dir = testutil.InitRepo(t, e.signers)
	r, err := ledger.Open(e.dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	e.r = r
	return e
}

// policy commits an edit of a policy file, signed by LARS as a G4 change would be.
func (e *env) policy(t *testing.T, file, old, new string) {
	t.Helper()
	p := layout.Policies + "/" + file
	data, err := e.r.HeadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), old) {
		t.Fatalf("%s has no %q", p, old)
	}
	head, _ := e.r.Head()
	ssh, _ := e.signers["LARS"].SSH()
	if _, err := e.r.Apply(context.Background(), &ledger.Change{Subject: "policy change", Files: []ledger.File{{Path: p, Data: []byte(strings.Replace(string(data), old, new, 1))}},
		Author: gov.Author("LARS"), When: testutil.Epoch.Add(time.Minute), Signer: ssh, Parent: head}); err != nil {
		t.Fatal(err)
	}
}

func (e *env) cycle(t *testing.T, slot time.Time, p llm.Provider) *cycle.Committed {
	t.Helper()
	c, err := cycle.RunAndCommit(context.Background(), e.r, cycle.Options{Slot: slot, Clock: clock.NewSim(slot, time.Second), Signers: e.signers,
		Market: testutil.Rally{}, News: testutil.Bearish{}, Provider: p})
	if err != nil {
		t.Fatalf("cycle %s: %v", slot, err)
	}
	return c
}

func (e *env) report(t *testing.T, day time.Time) *costreport.Committed {
	t.Helper()
	c, err := costreport.Commit(context.Background(), e.r, e.signers["CODE"], day, day.AddDate(0, 0, 1))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var day = time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)

func TestWorstCaseAboveCeilingBlocksWithoutCallingTheProvider(t *testing.T) {
	e := setup(t)
	// The built-in model's output price makes 256 tokens cost $0.256.
	e.policy(t, "economics.yaml", "output_per_1k_usd: 0.030", "output_per_1k_usd: 1.000")
	prov := &counting{Provider: llm.Builtin{}}
	c := e.cycle(t, day.Add(9*time.Hour), prov)
	if prov.calls.Load() != 0 {
		t.Fatalf("the provider was called %d times", prov.calls.Load())
	}
	res := c.Result
	if res.Evidence.Outcome.SummaryStatus != cycle.StatusBlocked || res.Guard == nil || res.Guard.Rule != economics.RuleCeiling {
		t.Fatalf("outcome %+v guard %+v", res.Evidence.Outcome, res.Guard)
	}
	if res.Evidence.Outcome.CDSScore < 0.65 {
		t.Fatalf("CDS %v did not trigger a summary", res.Evidence.Outcome.CDSScore)
	}
	if res.Log.FinalVerdict != cycle.Granted || len(res.Log.Operations) != 5 {
		t.Fatalf("cycle did not finish its other steps: %s, %d ops", res.Log.FinalVerdict, len(res.Log.Operations))
	}
	snap, _ := gov.Load(e.r)
	if snap.State.Summaries != state.SummariesBlocked || snap.State.SpendTodayUSD != 0 {
		t.Fatalf("state %+v", snap.State)
	}
	dev, err := e.r.HeadFile(layout.Deviations + "/DEV-cost_ceiling_breach-" + c.CycleID + ".json")
	if err != nil || !strings.Contains(string(dev), `"status": "open"`) {
		t.Fatalf("deviation record: %v\n%s", err, dev)
	}
	rep := e.report(t, day).Report
	if rep.ADR012.Status != "FAIL" || rep.ADR012.CeilingBreaches != 1 || rep.BlockedSummaries != 1 {
		t.Fatalf("report %+v", rep.ADR012)
	}
	if len(rep.Alerts) != 1 || rep.Alerts[0].Type != "cost_ceiling_breach" || rep.Alerts[0].CycleID != c.CycleID {
		t.Fatalf("alerts %+v", rep.Alerts)
	}
}

func TestRateLimitBlocksThe101stSummary(t *testing.T) {
	e := setup(t)
	prov := &counting{Provider: llm.Builtin{}}
	var last *cycle.Committed
	for i := 0; i < 101; i++ {
		last = e.cycle(t, day.Add(time.Duration(i)*14*time.Minute), prov)
		want := "generated"
		if i == 100 {
			want = cycle.StatusBlocked
		}
		if got := last.Result.Evidence.Outcome.SummaryStatus; got != want {
			t.Fatalf("cycle %d: summary %s, want %s", i+1, got, want)
		}
	}
	if prov.calls.Load() != 100 || last.Result.Guard.Rule != economics.RuleRate {
		t.Fatalf("calls %d, rule %s", prov.calls.Load(), last.Result.Guard.Rule)
	}
	rep := e.report(t, day).Report
	if rep.DailySummary.TotalSummaries != 100 || rep.ADR012.RateLimitBreaches != 1 || rep.Utilization.RateUsedPct != 100 {
		t.Fatalf("report %+v %+v", rep.DailySummary, rep.ADR012)
	}
	types := map[string]int{}
	for _, a := range rep.Alerts {
		types[a.Type]++
	}
	if types["rate_limit_approach"] != 1 || types["rate_limit_breach"] != 1 {
		t.Fatalf("alerts %v", types)
	}
	// The next UTC day starts afresh.
	next := e.cycle(t, day.Add(24*time.Hour), prov)
	if next.Result.Evidence.Outcome.SummaryStatus != "generated" {
		t.Fatalf("next day: %s", next.Result.Evidence.Outcome.SummaryStatus)
	}
	snap, _ := gov.Load(e.r)
	if snap.State.Summaries != state.SummariesAllowed || snap.State.SummariesToday != 1 {
		t.Fatalf("state %+v", snap.State)
	}
}

func TestCeilingApproachAlertBoundary(t *testing.T) {
	e := setup(t)
	// $1 per 1k output tokens: 45 tokens cost exactly 90 % of the $0.05
	// ceiling, 35 tokens one cent under.
	e.policy(t, "economics.yaml", "  builtin-summarizer-v1:\n    input_per_1k_usd: 0.010\n    output_per_1k_usd: 0.030", "  builtin-summarizer-v1:\n    input_per_1k_usd: 0\n    output_per_1k_usd: 1.0")
	e.policy(t, "economics.yaml", "max_tokens: 256", "max_tokens: 50")
	at := e.cycle(t, day.Add(time.Hour), fixed{0, 45})
	under := e.cycle(t, day.Add(2*time.Hour), fixed{0, 35})
	if at.Result.Evidence.Outcome.CostUSD != 0.045 || under.Result.Evidence.Outcome.CostUSD != 0.035 {
		t.Fatalf("costs %v %v", at.Result.Evidence.Outcome.CostUSD, under.Result.Evidence.Outcome.CostUSD)
	}
	rep := e.report(t, day).Report
	if len(rep.Alerts) != 1 || rep.Alerts[0].Type != "cost_ceiling_approach" || rep.Alerts[0].CycleID != at.CycleID {
		t.Fatalf("alerts %+v", rep.Alerts)
	}
	if rep.ADR012.Status != "PASS" {
		t.Fatalf("status %s", rep.ADR012.Status)
	}
}

func TestConcurrentCyclesNeverOverspend(t *testing.T) {
	e := setup(t)
	e.policy(t, "economics.yaml", "daily_rate_limit: 100", "daily_rate_limit: 3")
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			r, err := ledger.Open(e.dir) // its own handle, as a separate process has
			if err != nil {
				errs <- err
				return
			}
			defer r.Close()
			slot := day.Add(time.Duration(i+1) * time.Hour)
			_, err = cycle.RunAndCommit(context.Background(), r, cycle.Options{Slot: slot, Clock: clock.NewSim(slot, time.Second), Signers: e.signers,
				Market: testutil.Rally{}, News: testutil.Bearish{}, Provider: llm.Builtin{}})
			errs <- err
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	rep := e.report(t, day).Report
	if rep.DailySummary.TotalCycles != 8 || rep.DailySummary.TotalSummaries != 3 || rep.BlockedSummaries != 5 {
		t.Fatalf("8 concurrent cycles: %+v, blocked %d", rep.DailySummary, rep.BlockedSummaries)
	}
}

func TestReportIdempotentAndAppendOnly(t *testing.T) {
	e := setup(t)
	e.cycle(t, day.Add(time.Hour), llm.Builtin{})
	first := e.report(t, day)
	again := e.report(t, day)
	if !again.Existing || again.Commit != first.Commit {
		t.Fatal("identical re-run committed again")
	}
	e.cycle(t, day.Add(2*time.Hour), llm.Builtin{}) // a late cycle changes the day
	_, err := costreport.Commit(context.Background(), e.r, e.signers["CODE"], day, day.AddDate(0, 0, 1))
	if fault.Code(err) != fault.CodeGovernance || !strings.Contains(err.Error(), "already committed") {
		t.Fatalf("different content: %v", err)
	}
	// A day without cycles still gets a valid report.
	empty := e.report(t, day.AddDate(0, 0, 3)).Report
	if empty.DailySummary.TotalCycles != 0 || empty.ADR012.Status != "PASS" || empty.Alerts == nil {
		t.Fatalf("empty day %+v", empty)
	}
}

// schema is the operations document's report: every key with its JSON type.
var schema = map[string]string{
	"report_date":                                "string",
	"daily_summary":                              "object",
	"daily_summary.total_cycles":                 "number",
	"daily_summary.total_summaries_generated":    "number",
	"daily_summary.total_cost_usd":               "number",
	"daily_summary.average_cost_per_summary_usd": "number",
	"daily_summary.max_cost_per_summary_usd":     "number",
	"daily_summary.min_cost_per_summary_usd":     "number",
	"adr012_compliance":                          "object",
	"adr012_compliance.per_summary_ceiling_usd":  "number",
	"adr012_compliance.daily_budget_cap_usd":     "number",
	"adr012_compliance.daily_rate_limit":         "number",
	"adr012_compliance.ceiling_breaches":         "number",
	"adr012_compliance.budget_breaches":          "number",
	"adr012_compliance.rate_limit_breaches":      "number",
	"adr012_compliance.compliance_status":        "string",
	"budget_utilization":                         "object",
	"budget_utilization.daily_budget_used_pct":   "number",
	"budget_utilization.daily_rate_used_pct":     "number",
	"budget_utilization.budget_headroom_usd":     "number",
	"cost_trajectory":                            "object",
	"cost_trajectory.7day_average_cost_usd":      "number",
	"cost_trajectory.30day_average_cost_usd":     "number",
	"cost_trajectory.trend":                      "string",
	"alerts":                                     "array",
	"alerts[].type":                              "string",
	"alerts[].severity":                          "string",
	"alerts[].message":                           "string",
	"alerts[].metric_value":                      "number",
	"alerts[].threshold":                         "number",
}

func walk(prefix string, v any, out map[string]string) {
	typ := func(v any) string {
		switch v.(type) {
		case string:
			return "string"
		case float64:
			return "number"
		case bool:
			return "boolean"
		case []any:
			return "array"
		case map[string]any:
			return "object"
		}
		return "null"
	}
	switch t := v.(type) {
	case map[string]any:
		for k, c := range t {
			p := k
			if prefix != "" {
				p = prefix + "." + k
			}
			out[p] = typ(c)
			walk(p, c, out)
		}
	case []any:
		for _, c := range t {
			walk(prefix+"[]", c, out)
		}
	}
}

func TestReportKeysAndTypes(t *testing.T) {
	e := setup(t)
	e.policy(t, "economics.yaml", "daily_rate_limit: 100", "daily_rate_limit: 2")
	for i := 0; i < 3; i++ {
		e.cycle(t, day.Add(time.Duration(i+1)*time.Hour), llm.Builtin{})
	}
	data, err := e.r.HeadFile(e.report(t, day).Path)
	if err != nil {
		t.Fatal(err)
	}
	var doc any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	walk("", doc, got)
	var missing []string
	for k, want := range schema {
		if got[k] != want {
			missing = append(missing, fmt.Sprintf("%s: %s, want %s", k, got[k], want))
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Fatalf("report does not match the operations document:\n%s", strings.Join(missing, "\n"))
	}
	var trend struct {
		T costreport.Trajectory `json:"cost_trajectory"`
	}
	json.Unmarshal(data, &trend)
	switch trend.T.Trend {
	case "stable", "increasing", "decreasing":
	default:
		t.Fatalf("trend %q is not stable, increasing or decreasing", trend.T.Trend)
	}
}

type failing struct{}

func (failing) Name() string  { return "failing" }
func (failing) Model() string { return "builtin-summarizer-v1" }
func (failing) Summarize(context.Context, llm.Request) (llm.Response, error) {
	return llm.Response{}, fmt.Errorf("openai provider: %w", llm.ErrNoUsage)
}

func TestProviderFailureIsARecordedStepAndCostsNothing(t *testing.T) {
	e := setup(t)
	c := e.cycle(t, day.Add(time.Hour), failing{})
	res := c.Result
	if res.Evidence.Outcome.SummaryStatus != cycle.StatusFailed || res.Evidence.Outcome.CostUSD != 0 {
		t.Fatalf("outcome %+v", res.Evidence.Outcome)
	}
	if s := res.Evidence.Steps[4]; s.Status != cycle.StatusFailed || !strings.Contains(s.Reason, "no token usage") {
		t.Fatalf("step 5 %+v", s)
	}
	snap, _ := gov.Load(e.r)
	if snap.State.SummariesToday != 0 || snap.State.SpendTodayUSD != 0 {
		t.Fatalf("money counted for a failed summary: %+v", snap.State)
	}
	rep := e.report(t, day).Report
	if rep.FailedSummaries != 1 || rep.DailySummary.TotalSummaries != 0 || rep.DailySummary.TotalCostUSD != 0 {
		t.Fatalf("report %+v", rep.DailySummary)
	}
}

func TestOpenAIProviderCostFromReportedUsage(t *testing.T) {
	e := setup(t)
	e.policy(t, "economics.yaml", "model: builtin-summarizer-v1", "model: gpt-4o-mini")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"id":"c","object":"chat.completion","model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant","content":"Price rose on hack fears. Regulation news weighs. Liquidation risk grows."},"finish_reason":"stop"}],"usage":{"prompt_tokens":1000,"completion_tokens":2000,"total_tokens":3000}}`)
	}))
	defer srv.Close()
	slot := day.Add(time.Hour)
	c, err := cycle.RunAndCommit(context.Background(), e.r, cycle.Options{Slot: slot, Clock: clock.NewSim(slot, time.Second), Signers: e.signers,
		Market: testutil.Rally{}, News: testutil.Bearish{}, ProviderSpec: "openai", LLMURL: srv.URL + "/v1"})
	if err != nil {
		t.Fatal(err)
	}
	// gpt-4o-mini: $0.00015 per 1k input, $0.0006 per 1k output.
	if got, want := c.Result.Evidence.Outcome.CostUSD, 0.00135; math.Abs(got-want) > 1e-15 {
		t.Fatalf("cost %v, want %v", got, want)
	}
	if c.Result.Log.FinalVerdict != cycle.Granted {
		t.Fatalf("verdict %s", c.Result.Log.FinalVerdict)
	}
}
