package integration

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// TestRateLimitUnderConcurrency: with a LARS-approved daily_rate_limit of
// 3, eight cycle processes started at once for eight slots of one UTC day
// serialise on the repository lock; the ADR-012 guard lets exactly three
// summaries through and blocks the other five without a provider call. The
// cost report counts them, the audit passes and stock git says G for every
// commit.
func TestRateLimitUnderConcurrency(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 0)
	data := summaryData(t, f)
	larsPolicyEdit(t, f, "ADR-012: daily rate limit 3 (G4 approved)", [2]string{"daily_rate_limit: 100", "daily_rate_limit: 3"})

	const n = 8
	results := make([]result, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			args := append([]string{"cycle", "run", "--repo", f.repo, "--keys", f.keys, "--at", slot(1 + i), "-o", "json"}, data...)
			r, err := tryExecute(tmpDir, nil, viosBin, args...)
			if err != nil {
				r.code, r.stderr = -1, err.Error()
			}
			results[i] = r
		}(i)
	}
	wg.Wait()
	outcome := map[string]string{} // cycle id -> summary status reported on stdout
	for i, r := range results {
		if strings.Contains(r.stderr, "WARNING: DATA RACE") || r.code == 66 {
			t.Errorf("BUG: data race in concurrent cycle run %d:\n%s", i, r.stderr)
		}
		if r.code != 0 {
			t.Errorf("concurrent cycle run %d (slot %s): exit %d, want 0\n%s", i, slot(1+i), r.code, r)
			continue
		}
		var out struct {
			CycleID string `json:"cycle_id"`
			Summary string `json:"summary_status"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
			t.Errorf("cycle run %d -o json: %v\n%s", i, err, r.stdout)
			continue
		}
		outcome[out.CycleID] = out.Summary
	}
	if t.Failed() {
		t.FailNow()
	}
	if c := f.commits(t); c != n+2 {
		t.Errorf("%d commits, want %d (init, policy edit, one per slot)", c, n+2)
	}

	files := dayEvidence(t, f.repo, econDay)
	if len(files) != n {
		t.Fatalf("%d evidence bundles on %s, want %d: %v", len(files), econDate, n, files)
	}
	count := map[string]int{}
	var generatedCost float64
	for i := 1; i <= n; i++ {
		s := slotTime(t, i)
		ev := readEvidence(t, f.repo, evidencePath(s))
		st := ev.Outcome.SummaryStatus
		count[st]++
		if outcome[ev.CycleID] != st {
			t.Errorf("cycle %s: stdout said summary %q, evidence says %q", ev.CycleID, outcome[ev.CycleID], st)
		}
		if ev.Outcome.CDSScore < 0.65 {
			t.Fatalf("cycle %s: CDS %v below the trigger: the test data does not force a summary", ev.CycleID, ev.Outcome.CDSScore)
		}
		step5, reason, _, _ := ev.step(t, 5)
		dev := gitRun(t, f.repo, "cat-file", "-e", "HEAD:"+deviationPath(ev.CycleID)).code == 0
		switch st {
		case "generated":
			generatedCost += ev.Outcome.CostUSD
			if step5 != "completed" || ev.Outcome.CostUSD <= 0 {
				t.Errorf("generated cycle %s: step 5 %q, cost %v", ev.CycleID, step5, ev.Outcome.CostUSD)
			}
			if dev {
				t.Errorf("generated cycle %s has a cost-ceiling deviation", ev.CycleID)
			}
		case "blocked":
			if step5 != "blocked" || !strings.Contains(reason, "daily_rate_limit") || ev.Outcome.CostUSD != 0 {
				t.Errorf("blocked cycle %s: step 5 %q (%s), cost %v; want blocked by daily_rate_limit at no cost", ev.CycleID, step5, reason, ev.Outcome.CostUSD)
			}
			if !dev {
				t.Errorf("blocked cycle %s: %s is not committed", ev.CycleID, deviationPath(ev.CycleID))
			}
		}
	}
	if count["generated"] != 3 || count["blocked"] != 5 || len(count) != 2 {
		t.Errorf("summary statuses %v, want exactly 3 generated and 5 blocked", count)
	}
	st := readState(t, f.repo)
	if st.Summaries != "BLOCKED" || st.SummariesToday != 3 || st.EconomicsDay != econDate {
		t.Errorf("state: summaries %q, %d summaries on %q; want BLOCKED, 3 on %s", st.Summaries, st.SummariesToday, st.EconomicsDay, econDate)
	}
	if diff := st.SpendTodayUSD - generatedCost; diff > 1e-12 || diff < -1e-12 {
		t.Errorf("state spend_today_usd %v, want the sum of the generated costs %v", st.SpendTodayUSD, generatedCost)
	}

	rep, _ := mustReportCost(t, f, econDate)
	if rep.DailySummary.TotalSummaries != 3 || rep.ADR012.RateLimitBreaches != 5 || rep.DailySummary.TotalCycles != n || rep.BlockedSummaries != 5 {
		t.Errorf("cost report: %d cycles, %d summaries, %d rate-limit breaches, %d blocked; want %d, 3, 5, 5",
			rep.DailySummary.TotalCycles, rep.DailySummary.TotalSummaries, rep.ADR012.RateLimitBreaches, rep.BlockedSummaries, n)
	}
	if rep.ADR012.DailyRateLimit != 3 {
		t.Errorf("cost report daily_rate_limit %d, want the policy's 3", rep.ADR012.DailyRateLimit)
	}
	if d := rep.DailySummary.TotalCostUSD - generatedCost; d > 1e-12 || d < -1e-12 {
		t.Errorf("cost report total_cost_usd %v, want %v", rep.DailySummary.TotalCostUSD, generatedCost)
	}
	if gitRun(t, f.repo, "cat-file", "-e", "HEAD:"+econCostReportPath).code != 0 {
		t.Errorf("%s is not committed at HEAD", econCostReportPath)
	}
	if got := git(t, f.repo, "log", "-1", "--format=%an", "HEAD"); got != "CODE" {
		t.Errorf("cost report commit authored by %q, want CODE", got)
	}

	mustAudit(t, f.repo)
	allCommitsGood(t, f.repo)
	if r := gitRun(t, f.repo, "fsck", "--strict"); r.code != 0 {
		t.Errorf("git fsck --strict: %s", r)
	}
}

// TestWorstCaseAboveCeiling: a LARS-approved output price of $1/1k tokens
// makes the worst case of a 256-token summary more than $0.256, above the
// $0.05 ceiling: the summary is blocked before any provider call, a
// cost-ceiling deviation is committed, summaries are BLOCKED in the state,
// and the day's cost report FAILs ADR-012. The report is append-only: the
// same content again is a no-op, different content is refused.
func TestWorstCaseAboveCeiling(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 0)
	data := summaryData(t, f)
	larsPolicyEdit(t, f, "ADR-012: reprice builtin output (G4 approved)", [2]string{"output_per_1k_usd: 0.030", "output_per_1k_usd: 1.000"})

	stdout := f.mustCycle(t, 1, append(data, "-o", "json")...)
	var out struct {
		CycleID  string `json:"cycle_id"`
		Verdict  string `json:"verdict"`
		Summary  string `json:"summary_status"`
		Status   string `json:"verification_status"`
		Verified int    `json:"signatures_verified"`
		Required int    `json:"signatures_required"`
	}
	if err := json.Unmarshal([]byte(stdout), &out); err != nil {
		t.Fatalf("cycle run -o json: %v\n%s", err, stdout)
	}
	s1 := slotTime(t, 1)
	id := cycleID(s1)
	if out.CycleID != id || out.Summary != "blocked" || out.Verdict != "GRANTED" {
		t.Errorf("cycle run: %+v; want cycle %s, summary blocked, VEGA GRANTED", out, id)
	}
	ev := readEvidence(t, f.repo, evidencePath(s1))
	status, reason, _, output := ev.step(t, 5)
	if status != "blocked" || !strings.Contains(reason, "per_summary_ceiling") {
		t.Errorf("evidence step 5: status %q (%s), want blocked by per_summary_ceiling", status, reason)
	}
	var dec struct {
		Allowed   bool    `json:"allowed"`
		Rule      string  `json:"rule"`
		MaxTokens int     `json:"max_tokens"`
		WorstCase float64 `json:"worst_case_usd"`
	}
	if err := json.Unmarshal(output, &dec); err != nil {
		t.Fatalf("step 5 output (the guard's decision): %v\n%s", err, output)
	}
	if dec.Allowed || dec.Rule != "per_summary_ceiling" || dec.MaxTokens != 256 || dec.WorstCase <= 0.256 {
		t.Errorf("guard decision %+v: want not allowed, per_summary_ceiling, 256 max tokens, worst case > $0.256", dec)
	}
	if ev.Outcome.SummaryStatus != "blocked" || ev.Outcome.CostUSD != 0 {
		t.Errorf("evidence outcome: summary %q, cost %v; want blocked, 0", ev.Outcome.SummaryStatus, ev.Outcome.CostUSD)
	}
	if st6, _, _, _ := ev.step(t, 6); st6 != "skipped" {
		t.Errorf("evidence step 6: %q, want skipped", st6)
	}
	var devDoc struct {
		Type    string `json:"type"`
		CycleID string `json:"cycle_id"`
		Status  string `json:"status"`
	}
	showJSON(t, f.repo, "HEAD", deviationPath(id), &devDoc)
	if devDoc.Type != "cost_ceiling_breach" || devDoc.CycleID != id || devDoc.Status != "open" {
		t.Errorf("deviation %+v: want an open cost_ceiling_breach of cycle %s", devDoc, id)
	}
	if st := readState(t, f.repo); st.Summaries != "BLOCKED" || st.SummariesToday != 0 || st.SpendTodayUSD != 0 || !strings.Contains(st.SummariesWhy, "per_summary_ceiling") {
		t.Errorf("state %+v: want summaries BLOCKED (per_summary_ceiling), nothing spent", st)
	}
	mustAudit(t, f.repo)

	head := f.head(t)
	rep, first := mustReportCost(t, f, econDate)
	if rep.ADR012.Status != "FAIL" || rep.ADR012.CeilingBreaches != 1 || rep.DailySummary.TotalSummaries != 0 || rep.DailySummary.TotalCostUSD != 0 {
		t.Errorf("cost report: status %q, %d ceiling breaches, %d summaries, $%v; want FAIL, 1, 0, $0",
			rep.ADR012.Status, rep.ADR012.CeilingBreaches, rep.DailySummary.TotalSummaries, rep.DailySummary.TotalCostUSD)
	}
	found := false
	for _, a := range rep.Alerts {
		if a.Type == "cost_ceiling_breach" {
			found = true
			if a.Severity != "critical" || a.Threshold != 0.05 || a.MetricValue <= 0.256 || a.CycleID != id {
				t.Errorf("cost_ceiling_breach alert %+v: want critical, threshold 0.05, metric > 0.256, cycle %s", a, id)
			}
		}
	}
	if !found {
		t.Errorf("cost report lists no cost_ceiling_breach alert: %v", rep.alertTypes())
	}
	reportHead := f.head(t)
	if reportHead == head || commitCount(t, f.repo) != 4 {
		t.Fatalf("report cost did not commit the report")
	}
	if got := sigStatus(t, f.repo, reportHead); got != "G" {
		t.Errorf("stock git %%G? of the cost report commit = %q, want G", got)
	}
	if committed := git(t, f.repo, "show", "HEAD:"+econCostReportPath); strings.TrimSpace(committed) != strings.TrimSpace(first) {
		t.Errorf("-o json output differs from the committed report:\n%s\nvs\n%s", first, committed)
	}

	// The same report again: nothing to do.
	again, _ := mustReportCost(t, f, econDate)
	if h := f.head(t); h != reportHead {
		t.Errorf("re-running report cost committed %s", h)
	}
	if again.ADR012.Status != "FAIL" {
		t.Errorf("re-run report: status %q", again.ADR012.Status)
	}
	// And once more without --date: the default is yesterday (UTC) of --now.
	stdout, _ = mustRun(t, 0, "report", "cost", "--repo", f.repo, "--keys", f.keys, "--now", reportNow)
	if !strings.Contains(stdout, "already committed") || !strings.Contains(stdout, econDate) {
		t.Errorf("report cost without --date at %s: want the %s report found already committed:\n%s", reportNow, econDate, stdout)
	}
	if h := f.head(t); h != reportHead {
		t.Errorf("re-running report cost without --date committed %s", h)
	}

	// One more cycle on the day changes the report: refused, exit 1.
	f.mustCycle(t, 2, data...)
	afterCycle := f.head(t)
	stdout, stderr, code := reportCost(t, f, econDate)
	if code != 1 {
		t.Errorf("report cost for a reported day with new cycles: exit %d, want 1\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stderr, "COST_REPORT_"+econDay.Format("2006_01_02")) {
		t.Errorf("refusal does not name the report file:\n%s", stderr)
	}
	if h := f.head(t); h != afterCycle {
		t.Errorf("refused report cost moved HEAD to %s", h)
	}
	if st := git(t, f.repo, "status", "--porcelain", "--untracked-files=all"); st != "" {
		t.Errorf("refused report cost left the worktree dirty:\n%s", st)
	}
	mustAudit(t, f.repo)
	allCommitsGood(t, f.repo)
}

// TestBlockedSummaryIsNotASignatureFailure: a summary blocked by the
// ADR-012 guard is not an operation, so there is no signature to require:
// the cycle's signature log must still say PASS with every required
// signature verified, as the README reserves FAIL for signature failures.
func TestBlockedSummaryIsNotASignatureFailure(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 0)
	data := summaryData(t, f)
	larsPolicyEdit(t, f, "ADR-012: reprice builtin output (G4 approved)", [2]string{"output_per_1k_usd: 0.030", "output_per_1k_usd: 1.000"})
	stdout := f.mustCycle(t, 1, append(data, "-o", "json")...)
	var out struct {
		Summary  string `json:"summary_status"`
		Status   string `json:"verification_status"`
		Verified int    `json:"signatures_verified"`
		Required int    `json:"signatures_required"`
		Verdict  string `json:"verdict"`
	}
	if err := json.Unmarshal([]byte(stdout), &out); err != nil {
		t.Fatalf("cycle run -o json: %v\n%s", err, stdout)
	}
	if out.Summary != "blocked" || out.Verdict != "GRANTED" {
		t.Fatalf("cycle run: %+v; want a blocked summary and VEGA GRANTED", out)
	}
	var log struct {
		Summary struct {
			Required int    `json:"signatures_required"`
			Verified int    `json:"signatures_verified"`
			Failed   int    `json:"signatures_failed"`
			Status   string `json:"verification_status"`
		} `json:"signature_verification_summary"`
	}
	showJSON(t, f.repo, "HEAD", f.artifact(t, "log", 1), &log)
	subject := git(t, f.repo, "log", "-1", "--format=%s")
	if log.Summary.Status == "" || log.Summary.Failed != 0 {
		t.Fatalf("signature log: status %q, %d failed signatures for a blocked summary", log.Summary.Status, log.Summary.Failed)
	}
	if out.Status != "PASS" || out.Verified != out.Required || log.Summary.Status != "PASS" || log.Summary.Verified != log.Summary.Required {
		t.Fatalf("a summary blocked by the ADR-012 guard counts as a missing signature: "+
			"cycle run says %d/%d signatures verified, verification_status %s; the log says %d/%d %s; commit %q",
			out.Verified, out.Required, out.Status, log.Summary.Verified, log.Summary.Required, log.Summary.Status, subject)
	}
}

// TestCostReportKeys walks every key of the documented cost report, with
// its JSON type, in the -o json output and in the committed file.
func TestCostReportKeys(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 0)
	data := summaryData(t, f)
	// A rate limit of 1 and two summary cycles: one generated, one blocked,
	// so the report has real numbers and alerts.
	larsPolicyEdit(t, f, "ADR-012: daily rate limit 1 (G4 approved)", [2]string{"daily_rate_limit: 100", "daily_rate_limit: 1"})
	f.mustCycle(t, 1, data...)
	f.mustCycle(t, 2, data...)
	_, stdout := mustReportCost(t, f, econDate)
	committed := git(t, f.repo, "show", "HEAD:"+econCostReportPath)

	for _, doc := range []struct{ name, text string }{{"report cost -o json", stdout}, {econCostReportPath, committed}} {
		var m map[string]any
		if err := json.Unmarshal([]byte(doc.text), &m); err != nil {
			t.Fatalf("%s: %v\n%s", doc.name, err, doc.text)
		}
		want := map[string]string{"report_date": "string", "alerts": "array",
			"adr012_compliance.compliance_status": "string", "cost_trajectory.trend": "string"}
		for _, k := range []string{"daily_summary.total_cycles", "daily_summary.total_summaries_generated", "daily_summary.total_cost_usd",
			"daily_summary.average_cost_per_summary_usd", "daily_summary.max_cost_per_summary_usd", "daily_summary.min_cost_per_summary_usd",
			"adr012_compliance.per_summary_ceiling_usd", "adr012_compliance.daily_budget_cap_usd", "adr012_compliance.daily_rate_limit",
			"adr012_compliance.ceiling_breaches", "adr012_compliance.budget_breaches", "adr012_compliance.rate_limit_breaches",
			"budget_utilization.daily_budget_used_pct", "budget_utilization.daily_rate_used_pct", "budget_utilization.budget_headroom_usd",
			"cost_trajectory.7day_average_cost_usd", "cost_trajectory.30day_average_cost_usd"} {
			want[k] = "number"
		}
		values := map[string]any{}
		for path, typ := range want {
			v, ok := jsonPath(m, path)
			if !ok {
				t.Errorf("%s: no key %s", doc.name, path)
				continue
			}
			if got := jsonType(v); got != typ {
				t.Errorf("%s: %s is a %s (%v), want a %s", doc.name, path, got, v, typ)
			}
			values[path] = v
		}
		if v := values["report_date"]; v != econDate {
			t.Errorf("%s: report_date %v, want %s", doc.name, v, econDate)
		}
		if v, _ := values["adr012_compliance.compliance_status"].(string); v != "PASS" && v != "FAIL" {
			t.Errorf("%s: compliance_status %q, want PASS or FAIL", doc.name, v)
		}
		if v, _ := values["cost_trajectory.trend"].(string); !slices.Contains([]string{"stable", "increasing", "decreasing"}, v) {
			t.Errorf("%s: trend %q, want stable, increasing or decreasing", doc.name, v)
		}
		for path, want := range map[string]float64{
			"daily_summary.total_cycles": 2, "daily_summary.total_summaries_generated": 1,
			"adr012_compliance.daily_rate_limit": 1, "adr012_compliance.rate_limit_breaches": 1,
			"adr012_compliance.per_summary_ceiling_usd": 0.05, "adr012_compliance.daily_budget_cap_usd": 500,
			"budget_utilization.daily_rate_used_pct": 100,
		} {
			if got, _ := values[path].(float64); got != want {
				t.Errorf("%s: %s = %v, want %v", doc.name, path, values[path], want)
			}
		}
		alerts, _ := values["alerts"].([]any)
		if len(alerts) == 0 {
			t.Errorf("%s: no alerts for a day with a rate-limit breach", doc.name)
		}
		for i, a := range alerts {
			obj, ok := a.(map[string]any)
			if !ok {
				t.Errorf("%s: alerts[%d] is a %s, want an object", doc.name, i, jsonType(a))
				continue
			}
			for k, typ := range map[string]string{"type": "string", "severity": "string", "message": "string", "metric_value": "number", "threshold": "number"} {
				v, ok := obj[k]
				if !ok {
					t.Errorf("%s: alerts[%d] has no %s: %v", doc.name, i, k, obj)
				} else if got := jsonType(v); got != typ {
					t.Errorf("%s: alerts[%d].%s is a %s, want a %s", doc.name, i, k, got, typ)
				}
			}
		}
	}
	mustAudit(t, f.repo)
}

// jsonPath follows a dotted path of object keys.
func jsonPath(m map[string]any, path string) (any, bool) {
	var cur any = m
	for _, k := range strings.Split(path, ".") {
		obj, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = obj[k]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// jsonType names the JSON type of a value decoded into any.
func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
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
	return "unknown"
}

// TestEconomicsBadInputExit2: a malformed --date, a directory that is not a
// governance repository, and broken (but LARS-signed) economics policies
// are bad input: exit 2 naming the problem, nothing committed.
func TestEconomicsBadInputExit2(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// setup returns the argument lists to try and the repository to
		// watch (f.repo when empty).
		setup  func(t *testing.T, f *fixture) (runs [][]string, repo string)
		stderr []string
		// after, when set, checks more afterwards.
		after func(t *testing.T, f *fixture)
	}{
		{
			name: "report cost with month 13",
			setup: func(t *testing.T, f *fixture) ([][]string, string) {
				return [][]string{{"report", "cost", "--repo", f.repo, "--keys", f.keys, "--date", "2026-13-01"}}, ""
			},
			stderr: []string{"--date", "2026-13-01"},
		},
		{
			name: "report cost with a word for a date",
			setup: func(t *testing.T, f *fixture) ([][]string, string) {
				return [][]string{{"report", "cost", "--repo", f.repo, "--keys", f.keys, "--date", "yesterday", "-o", "json"}}, ""
			},
			stderr: []string{"--date", "yesterday"},
		},
		{
			name: "report cost on a plain directory",
			setup: func(t *testing.T, f *fixture) ([][]string, string) {
				dir := filepath.Join(f.dir, "nothing")
				if err := os.Mkdir(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				return [][]string{{"report", "cost", "--repo", dir, "--keys", f.keys, "--date", econDate, "--now", reportNow}}, ""
			},
			after: func(t *testing.T, f *fixture) {
				if ents, _ := os.ReadDir(filepath.Join(f.dir, "nothing")); len(ents) != 0 {
					t.Errorf("report cost wrote into a plain directory: %v", ents)
				}
			},
		},
		{
			name: "report cost on a plain git repository",
			setup: func(t *testing.T, f *fixture) ([][]string, string) {
				plain := filepath.Join(f.dir, "plain")
				git(t, f.dir, "init", "-q", plain)
				writeFile(t, filepath.Join(plain, "README.md"), []byte("hello\n"), 0o644)
				git(t, plain, "add", "README.md")
				git(t, plain, "commit", "-q", "-m", "hello")
				return [][]string{{"report", "cost", "--repo", plain, "--keys", f.keys, "--date", econDate, "--now", reportNow}}, plain
			},
			stderr: []string{"not a vios governance repository"},
		},
		{
			name: "ceiling above the daily cap",
			setup: func(t *testing.T, f *fixture) ([][]string, string) {
				data := summaryData(t, f)
				larsPolicyEdit(t, f, "ceiling 600", [2]string{"per_summary_ceiling_usd: 0.050", "per_summary_ceiling_usd: 600"})
				return [][]string{
					append([]string{"cycle", "run", "--repo", f.repo, "--keys", f.keys, "--at", slot(1)}, data...),
					{"report", "cost", "--repo", f.repo, "--keys", f.keys, "--date", econDate, "--now", reportNow},
				}, ""
			},
			stderr: []string{"policies/economics.yaml", "per_summary_ceiling_usd"},
		},
		{
			name: "negative price",
			setup: func(t *testing.T, f *fixture) ([][]string, string) {
				data := summaryData(t, f)
				larsPolicyEdit(t, f, "negative price", [2]string{"input_per_1k_usd: 0.010", "input_per_1k_usd: -0.010"})
				return [][]string{append([]string{"cycle", "run", "--repo", f.repo, "--keys", f.keys, "--at", slot(1)}, data...)}, ""
			},
			stderr: []string{"policies/economics.yaml", "builtin-summarizer-v1"},
		},
		{
			name: "unknown summary model",
			setup: func(t *testing.T, f *fixture) ([][]string, string) {
				data := summaryData(t, f)
				larsPolicyEdit(t, f, "unknown model", [2]string{"model: builtin-summarizer-v1", "model: gpt-9-turbo"})
				return [][]string{append([]string{"cycle", "run", "--repo", f.repo, "--keys", f.keys, "--at", slot(1)}, data...)}, ""
			},
			stderr: []string{"policies/economics.yaml", "gpt-9-turbo"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, 0)
			runs, repo := tc.setup(t, f)
			if repo == "" {
				repo = f.repo
			}
			before := takeSnapshot(t, repo, f.keys)
			repoBefore := takeSnapshot(t, f.repo, "")
			for _, args := range runs {
				stdout, stderr, code := run(t, args...)
				if code != 2 {
					t.Errorf("vios %s: exit %d, want 2\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, stdout, stderr)
					continue
				}
				for _, w := range tc.stderr {
					if !strings.Contains(stderr, w) {
						t.Errorf("vios %s: stderr does not mention %q:\n%s", strings.Join(args, " "), w, stderr)
					}
				}
				if strings.TrimSpace(stdout) != "" {
					t.Errorf("vios %s: stdout is not empty on bad input:\n%s", strings.Join(args, " "), stdout)
				}
			}
			for _, d := range before.diff(takeSnapshot(t, repo, f.keys)) {
				t.Errorf("bad input wrote something: %s", d)
			}
			for _, d := range repoBefore.diff(takeSnapshot(t, f.repo, "")) {
				t.Errorf("bad input wrote to the governance repository: %s", d)
			}
			if tc.after != nil {
				tc.after(t, f)
			}
		})
	}
}

// TestBackfillSlotKeepsTodaysSummaryState: a late slot of an earlier UTC
// day is guarded against its own day's tally (correct), but it must not
// overwrite the state's verdict on today's summaries: with today's rate
// limit used up, OPERATIONAL_STATE.json must keep saying BLOCKED.
func TestBackfillSlotKeepsTodaysSummaryState(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 0)
	data := summaryData(t, f)
	larsPolicyEdit(t, f, "ADR-012: daily rate limit 1 (G4 approved)", [2]string{"daily_rate_limit: 100", "daily_rate_limit: 1"})
	today := econDay.AddDate(0, 0, 1).Format("2006-01-02")

	f.mustCycle(t, 25, data...) // today 01:00: generated
	f.mustCycle(t, 26, data...) // today 02:00: blocked, the limit is 1
	if ev := readEvidence(t, f.repo, evidencePath(slotTime(t, 26))); ev.Outcome.SummaryStatus != "blocked" {
		t.Fatalf("second summary of %s: %q, want blocked", today, ev.Outcome.SummaryStatus)
	}
	if st := readState(t, f.repo); st.Summaries != "BLOCKED" || st.EconomicsDay != today || st.SummariesToday != 1 {
		t.Fatalf("state %+v: want BLOCKED, 1 summary on %s", st, today)
	}

	// A late slot of yesterday: yesterday had no summary, so it may have one.
	f.mustCycle(t, 5, data...)
	if ev := readEvidence(t, f.repo, evidencePath(slotTime(t, 5))); ev.Outcome.SummaryStatus != "generated" {
		t.Errorf("late slot of %s: summary %q, want generated (that day's limit is unused)", econDate, ev.Outcome.SummaryStatus)
	}
	mustAudit(t, f.repo)
	st := readState(t, f.repo)
	if st.EconomicsDay != today || st.SummariesToday != 1 {
		t.Errorf("state tally %s/%d after a late slot, want %s/1 (today's)", st.EconomicsDay, st.SummariesToday, today)
	}
	if st.Summaries != "BLOCKED" {
		t.Fatalf("a late slot of an earlier day overwrites today's summary verdict: state says summaries %q (%q) for economics_day %s "+
			"with %d/1 summaries used",
			st.Summaries, st.SummariesWhy, st.EconomicsDay, st.SummariesToday)
	}
}
