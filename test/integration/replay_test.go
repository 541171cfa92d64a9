package integration

import (
	"encoding/json"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// replayOut is the part of `vios replay -o json` the replay tests read.
type replayOut struct {
	Cycles       int     `json:"cycles"`
	Provider     string  `json:"provider"`
	Model        string  `json:"model"`
	Tier4Steps   int     `json:"tier4_steps"`
	Tier4Match   int     `json:"tier4_matched"`
	Tier2Steps   int     `json:"tier2_steps"`
	Tier2Match   int     `json:"tier2_matched"`
	Tier2Blocked int     `json:"tier2_blocked"`
	Tier2Rate    float64 `json:"tier2_rate"`
	Tier4Rate    float64 `json:"tier4_rate"`
	Blocked      []struct {
		CycleID string `json:"cycle_id"`
		Step    int    `json:"step"`
		Rule    string `json:"rule"`
		Reason  string `json:"reason"`
	} `json:"blocked"`
	Mismatches []json.RawMessage `json:"mismatches"`
	Cost       *struct {
		ReplayID       string  `json:"replay_id"`
		Day            string  `json:"charged_day"`
		Provider       string  `json:"provider"`
		Model          string  `json:"model"`
		Summaries      int     `json:"summaries_charged"`
		CostUSD        float64 `json:"cost_usd"`
		Blocked        int     `json:"blocked"`
		SummariesToday int     `json:"summaries_today"`
		SpendTodayUSD  float64 `json:"spend_today_usd"`
		Path           string  `json:"path"`
		Commit         string  `json:"commit"`
		Deviation      string  `json:"deviation"`
	} `json:"cost"`
}

// replayCostReport is the part of the cost report a paid replay adds to.
type replayCostReport struct {
	costReport
	Replays []struct {
		ReplayID  string  `json:"replay_id"`
		Path      string  `json:"path"`
		Summaries int     `json:"summaries_charged"`
		CostUSD   float64 `json:"cost_usd"`
		Blocked   int     `json:"blocked"`
	} `json:"replay_charges"`
}

// replay runs `vios replay` over econDay at now with OPENAI_API_KEY set and
// decodes its JSON.
func replayEconDay(t *testing.T, f *fixture, now string, extra ...string) (replayOut, string, int) {
	t.Helper()
	args := append([]string{"replay", "--repo", f.repo, "--keys", f.keys, "--now", now,
		"--since", econDate, "--until", econDay.AddDate(0, 0, 1).Format("2006-01-02"), "-o", "json"}, extra...)
	stdout, stderr, code := runEnv(t, []string{"OPENAI_API_KEY=sk-test"}, args...)
	var out replayOut
	if err := json.Unmarshal([]byte(stdout), &out); err != nil {
		t.Fatalf("vios %s: exit %d, stdout is not JSON: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, err, stdout, stderr)
	}
	return out, stderr, code
}

// TestReplayThroughPaidProvider: `vios replay` regenerates the Tier-2
// summaries through the configured provider. The built-in provider is free
// and commits nothing; `--provider openai` calls the OpenAI-compatible
// server once per summary, charges the usage it reports to the ADR-012
// tally of the UTC day the replay runs (not the cycles' day), commits the
// charge record with the state in one CODE-signed commit, and that day's
// cost report counts it.
func TestReplayThroughPaidProvider(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 0)
	data := summaryData(t, f)
	larsPolicyEdit(t, f, "ADR-012: summaries by gpt-4o-mini (G4 approved)", [2]string{"model: builtin-summarizer-v1", "model: gpt-4o-mini"})
	cycleSrv := newChatServer(t, true)
	for i := 1; i <= 2; i++ {
		f.mustCycle(t, i, append([]string{"--provider", "openai", "--llm-url", cycleSrv.URL + "/v1"}, data...)...)
	}
	perSummary := float64(chatPromptTokens)/1000*0.00015 + float64(chatCompletionTokens)/1000*0.0006
	cyclesState := readState(t, f.repo)
	if cyclesState.EconomicsDay != econDate || cyclesState.SummariesToday != 2 {
		t.Fatalf("state after the cycles: %+v, want 2 summaries on %s", cyclesState, econDate)
	}
	replayDay := econDay.AddDate(0, 0, 1)
	replayDate := replayDay.Format("2006-01-02")
	replayNow := replayDay.Add(10 * time.Hour).Format(time.RFC3339)

	// 1. The built-in provider (the policy's default): free, nothing committed.
	head := f.head(t)
	free, stderr, code := replayEconDay(t, f, replayNow)
	if code != 0 || free.Provider != "builtin" || free.Cost != nil || free.Tier2Steps != 2 || free.Tier2Match != 2 || free.Tier2Blocked != 0 {
		t.Fatalf("free replay: exit %d, %+v\nstderr:\n%s", code, free, stderr)
	}
	if f.head(t) != head {
		t.Errorf("a free replay committed something")
	}

	// 2. The paid provider: one request per summary, charged to the replay's
	// day, the charge pushed to the shared remote (--push).
	bare := filepath.Join(t.TempDir(), "remote.git")
	git(t, "", "init", "-q", "--bare", "-b", "main", bare)
	srv := newChatServer(t, true)
	paid, stderr, code := replayEconDay(t, f, replayNow, "--provider", "openai", "--llm-url", srv.URL+"/v1", "--push", "--remote", bare)
	if code != 0 {
		t.Fatalf("paid replay: exit %d, %+v\nstderr:\n%s", code, paid, stderr)
	}
	if remoteHead := git(t, bare, "rev-parse", "main"); remoteHead != f.head(t) || paid.Cost == nil || paid.Cost.Commit != remoteHead {
		t.Fatalf("replay --push: remote main %s, local HEAD %s, reported charge commit %+v", remoteHead, f.head(t), paid.Cost)
	}
	calls := srv.seen()
	if len(calls) != 2 {
		t.Fatalf("the server saw %d requests, want 2 (one per recorded summary)", len(calls))
	}
	for _, c := range calls {
		if c.path != "/v1/chat/completions" || c.auth != "Bearer sk-test" || c.body["model"] != "gpt-4o-mini" || c.body["max_tokens"] != float64(256) {
			t.Errorf("request %s auth %q body %s", c.path, c.auth, c.raw)
		}
	}
	// The server's answer rewords the recorded summary but keeps the
	// keywords and three sentences: Tier-2 deterministic.
	if paid.Provider != "openai" || paid.Tier2Steps != 2 || paid.Tier2Match != 2 || paid.Tier2Rate != 1 || paid.Tier4Rate != 1 || paid.Tier2Blocked != 0 {
		t.Errorf("paid replay report %+v", paid)
	}
	c := paid.Cost
	if c == nil {
		t.Fatalf("paid replay reports no cost")
	}
	if c.Day != replayDate || c.Summaries != 2 || math.Abs(c.CostUSD-2*perSummary) > 1e-12 || c.Blocked != 0 || c.Model != "gpt-4o-mini" ||
		c.SummariesToday != 2 || math.Abs(c.SpendTodayUSD-2*perSummary) > 1e-12 || c.Deviation != "" {
		t.Errorf("cost %+v; want 2 summaries, $%v charged to %s", *c, 2*perSummary, replayDate)
	}
	if got := f.head(t); got != c.Commit || git(t, f.repo, "rev-parse", "HEAD~1") != head {
		t.Errorf("HEAD %s, want one new commit %s on %s", got, c.Commit, head)
	}
	wantPath := "05_GOVERNANCE/COST_REPORTS/REPLAY_CHARGES/" + replayDay.Format("2006/01/02") + "/REPLAY_" + c.ReplayID + ".json"
	if c.Path != wantPath {
		t.Errorf("charge record %s, want %s", c.Path, wantPath)
	}
	var rec struct {
		Day       string  `json:"charged_day"`
		Summaries int     `json:"summaries_charged"`
		CostUSD   float64 `json:"cost_usd"`
		Calls     []struct {
			CycleID string  `json:"cycle_id"`
			Status  string  `json:"status"`
			CostUSD float64 `json:"cost_usd"`
		} `json:"calls"`
	}
	showJSON(t, f.repo, "HEAD", wantPath, &rec)
	if rec.Day != replayDate || rec.Summaries != 2 || len(rec.Calls) != 2 || rec.Calls[0].Status != "charged" {
		t.Errorf("charge record %+v", rec)
	}
	st := readState(t, f.repo)
	if st.EconomicsDay != replayDate || st.SummariesToday != 2 || math.Abs(st.SpendTodayUSD-2*perSummary) > 1e-12 || st.Summaries != "ALLOWED" {
		t.Errorf("state after the paid replay %+v; want 2 summaries, $%v on %s", st, 2*perSummary, replayDate)
	}
	if subj := git(t, f.repo, "log", "-1", "--format=%s%n%b"); !strings.Contains(subj, "replay "+c.ReplayID) || !strings.Contains(subj, "Vios-Artifact: replay_charge") {
		t.Errorf("commit message:\n%s", subj)
	}

	// The replay's day's cost report counts the charge; the cycles' day is unchanged.
	reportAt := replayDay.AddDate(0, 0, 1).Add(5 * time.Minute).Format(time.RFC3339)
	stdout, stderr, code := run(t, "report", "cost", "--repo", f.repo, "--keys", f.keys, "--date", replayDate, "--now", reportAt, "-o", "json")
	var rep replayCostReport
	if err := json.Unmarshal([]byte(stdout), &rep); code != 0 || err != nil {
		t.Fatalf("report cost --date %s: exit %d (%v)\nstdout:\n%s\nstderr:\n%s", replayDate, code, err, stdout, stderr)
	}
	if s := rep.DailySummary; s.TotalCycles != 0 || s.TotalSummaries != 2 || math.Abs(s.TotalCostUSD-2*perSummary) > 1e-12 || rep.ADR012.Status != "PASS" ||
		len(rep.Replays) != 1 || rep.Replays[0].ReplayID != c.ReplayID || rep.Replays[0].Path != wantPath {
		t.Errorf("cost report of %s: %+v, replays %+v", replayDate, rep.DailySummary, rep.Replays)
	}
	stdout, stderr, code = run(t, "report", "cost", "--repo", f.repo, "--keys", f.keys, "--date", econDate, "--now", reportAt, "-o", "json")
	var cyc replayCostReport
	if err := json.Unmarshal([]byte(stdout), &cyc); code != 0 || err != nil {
		t.Fatalf("report cost --date %s: exit %d (%v)\nstdout:\n%s\nstderr:\n%s", econDate, code, err, stdout, stderr)
	}
	if s := cyc.DailySummary; s.TotalCycles != 2 || s.TotalSummaries != 2 || len(cyc.Replays) != 0 {
		t.Errorf("cost report of the cycles' day %s: %+v, replays %+v; want the 2 cycles only", econDate, s, cyc.Replays)
	}

	// The text output names the provider and the charge.
	stdout, stderr, code = runEnv(t, []string{"OPENAI_API_KEY=sk-test"}, "replay", "--repo", f.repo, "--keys", f.keys, "--now", replayDay.Add(11*time.Hour).Format(time.RFC3339),
		"--since", econDate, "--until", replayDate, "--provider", "openai", "--llm-url", srv.URL+"/v1")
	if code != 0 || !strings.Contains(stdout, "provider openai (gpt-4o-mini): 2 summaries charged") || !strings.Contains(stdout, "to "+replayDate+" (day tally 4 summaries") {
		t.Errorf("text replay: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if r := gitRun(t, f.repo, "log", "-p", "--all"); r.code != 0 || strings.Contains(r.stdout, "sk-test") {
		t.Errorf("the API key is in the repository history (or git log failed: exit %d)", r.code)
	}
	mustAudit(t, f.repo)
	allCommitsGood(t, f.repo)
}

// TestReplayBlockedByExhaustedBudget: when the day's budget is already
// spent, a paid replay makes no request at all: every summary is reported
// blocked and not replayed, Tier-2 is computed on nothing, and the blocks
// are committed as a charge record with a cost-ceiling deviation.
func TestReplayBlockedByExhaustedBudget(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 0)
	data := summaryData(t, f)
	// A daily cap that fits the two cycles' summaries (each checked at its
	// worst case, ~$0.0002; each costs ~$0.0001) but not a third.
	larsPolicyEdit(t, f, "ADR-012: gpt-4o-mini with a tiny daily cap (G4 approved)",
		[2]string{"model: builtin-summarizer-v1", "model: gpt-4o-mini"},
		[2]string{"daily_budget_cap_usd: 500", "daily_budget_cap_usd: 0.00033"},
		[2]string{"per_summary_ceiling_usd: 0.050", "per_summary_ceiling_usd: 0.0003"})
	cycleSrv := newChatServer(t, true)
	for i := 1; i <= 2; i++ {
		f.mustCycle(t, i, append([]string{"--provider", "openai", "--llm-url", cycleSrv.URL + "/v1"}, data...)...)
		if ev := readEvidence(t, f.repo, evidencePath(slotTime(t, i))); ev.Outcome.SummaryStatus != "generated" {
			t.Fatalf("cycle %d: summary %s, want generated (the cap must fit two summaries)", i, ev.Outcome.SummaryStatus)
		}
	}
	before := readState(t, f.repo)

	// The replay runs later the same day: the two summaries' spend is there.
	srv := newChatServer(t, true)
	out, stderr, code := replayEconDay(t, f, econDay.Add(20*time.Hour).Format(time.RFC3339), "--provider", "openai", "--llm-url", srv.URL+"/v1")
	if n := len(srv.seen()); n != 0 {
		t.Fatalf("the server saw %d requests, want none: the budget was exhausted", n)
	}
	if code != 0 {
		t.Errorf("replay: exit %d, want 0 (Tier-4 replays; the blocked summaries are not scored)\nstderr:\n%s", code, stderr)
	}
	if out.Tier2Steps != 0 || out.Tier2Blocked != 2 || len(out.Blocked) != 2 || out.Tier4Rate != 1 || out.Tier4Steps == 0 {
		t.Errorf("report %+v; want 0 Tier-2 steps replayed, 2 blocked, Tier-4 all replayed", out)
	}
	for _, b := range out.Blocked {
		if b.Step != 5 || b.Rule != "daily_budget_cap" || !strings.Contains(b.Reason, "daily budget cap") {
			t.Errorf("blocked %+v, want step 5 by daily_budget_cap", b)
		}
	}
	c := out.Cost
	if c == nil || c.Day != econDate || c.Summaries != 0 || c.CostUSD != 0 || c.Blocked != 2 || c.Commit == "" || c.Deviation == "" {
		t.Fatalf("cost %+v; want 2 blocked, nothing charged, a commit and a deviation", c)
	}
	st := readState(t, f.repo)
	if st.SummariesToday != before.SummariesToday || st.SpendTodayUSD != before.SpendTodayUSD || st.Summaries != "BLOCKED" || !strings.Contains(st.SummariesWhy, "daily_budget_cap") {
		t.Errorf("state %+v; want the tally unchanged (%d, $%v) and summaries BLOCKED by the daily cap", st, before.SummariesToday, before.SpendTodayUSD)
	}
	var dev struct {
		Type   string `json:"type"`
		Reason string `json:"reason"`
		Status string `json:"status"`
	}
	showJSON(t, f.repo, "HEAD", "05_GOVERNANCE/DEVIATIONS/"+c.Deviation+".json", &dev)
	if dev.Type != "cost_ceiling_breach" || !strings.Contains(dev.Reason, "replay "+c.ReplayID) {
		t.Errorf("deviation %+v", dev)
	}
	rep, _ := mustReportCost(t, f, econDate)
	if rep.DailySummary.TotalSummaries != 2 || rep.BlockedSummaries != 2 || rep.ADR012.BudgetBreaches != 2 {
		t.Errorf("cost report: %d summaries, %d blocked, %d budget breaches; want 2, 2, 2", rep.DailySummary.TotalSummaries, rep.BlockedSummaries, rep.ADR012.BudgetBreaches)
	}
	mustAudit(t, f.repo)
	allCommitsGood(t, f.repo)
}

// TestReplayPaidNeedsCodeKey: a paid replay records its charges signed by
// CODE, so without CODE's key it is refused before any request (exit 2).
func TestReplayPaidNeedsCodeKey(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 0)
	data := summaryData(t, f)
	f.mustCycle(t, 1, data...)
	srv := newChatServer(t, true)
	head := f.head(t)
	stdout, stderr, code := runEnv(t, []string{"OPENAI_API_KEY=sk-test"}, "replay", "--repo", f.repo, "--keys", t.TempDir(), "--now", slot(3),
		"--since", econDate, "--provider", "openai", "--llm-url", srv.URL+"/v1")
	if code != 2 || len(srv.seen()) != 0 || f.head(t) != head {
		t.Errorf("paid replay without keys: exit %d, %d requests; want exit 2, none\nstdout:\n%s\nstderr:\n%s", code, len(srv.seen()), stdout, stderr)
	}
	// The free replay needs no key.
	if stdout, stderr, code := run(t, "replay", "--repo", f.repo, "--keys", t.TempDir(), "--now", slot(3), "--since", econDate); code != 0 || f.head(t) != head {
		t.Errorf("free replay without keys: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
}
