package integration

import (
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// Helpers of the ADR-012 economics tests: market and news data that make
// every cycle of 2026-01-01 trigger a Tier-2 summary, LARS-signed policy
// edits, and readers for evidence, state and the cost report.

// econDay is the UTC day the economics tests run their cycles on: slots
// slot(1)..slot(23) all fall on it.
var econDay = initTime

// econDate is econDay as --date takes it.
var econDate = econDay.Format("2006-01-02")

// reportNow is the --now of `report cost`: the 00:05 UTC run after the day.
var reportNow = econDay.AddDate(0, 0, 1).Add(5 * time.Minute).Format(time.RFC3339)

// policyEditDate is when the LARS-signed policy edits are committed: after
// init (the keys are valid from then on) and before the first slot.
var policyEditDate = initTime.Add(30 * time.Minute)

// econCostReportPath is the documented path of econDay's cost report.
var econCostReportPath = "05_GOVERNANCE/COST_REPORTS/COST_REPORT_" + econDay.Format("2006_01_02") + ".json"

// summaryKeywords are the primary keywords of the bearish events, so the
// top-3 keywords of every cycle on econDay.
var summaryKeywords = []string{"outflows", "regulation", "hack"}

// summaryData writes a rallying CSV market and a file of strongly bearish
// events into f.dir and returns the --source and --events flags: the price
// signal is ~+1, the news sentiment -0.9, so the CDS is 1 and every slot of
// econDay triggers a summary.
func summaryData(t *testing.T, f *fixture) []string {
	t.Helper()
	// 120 daily bars up to the day before econDay, each ~1% above the last
	// (with a small deterministic wiggle so the volatility is not zero).
	var b strings.Builder
	b.WriteString("open_time,open,high,low,close,volume\n")
	round := func(v float64) float64 { return math.Round(v*100) / 100 }
	start := econDay.AddDate(0, 0, -120)
	prev := 30000.0
	for i := 0; i < 120; i++ {
		open := prev
		close := round(open * (1.01 + 0.002*math.Sin(float64(i))))
		high := round(math.Max(open, close) * 1.004)
		low := round(math.Min(open, close) * 0.996)
		fmt.Fprintf(&b, "%s,%s,%s,%s,%s,%s\n", start.AddDate(0, 0, i).Format(time.RFC3339),
			ff(open), ff(high), ff(low), ff(close), ff(1500+float64(i%7)*10))
		prev = close
	}
	csvPath := filepath.Join(f.dir, "rally.csv")
	writeFile(t, csvPath, []byte(b.String()), 0o644)

	// Three bearish events within the 48h before every slot of econDay.
	var ev strings.Builder
	for i, e := range []struct {
		at       time.Time
		keywords []string
		headline string
	}{
		{econDay.Add(-12 * time.Hour), []string{"hack", "exchange"}, "Major exchange hack drains hot wallets"},
		{econDay.Add(-6 * time.Hour), []string{"regulation", "ban"}, "Regulators weigh a sweeping crypto trading ban"},
		{econDay.Add(-30 * time.Minute), []string{"outflows", "etf"}, "Record ETF outflows as funds dump bitcoin"},
	} {
		line, err := json.Marshal(map[string]any{
			"id": fmt.Sprintf("bear-%d", i), "published_at": e.at.Format(time.RFC3339), "source": "wire",
			"headline": e.headline, "keywords": e.keywords, "sentiment": -0.9, "relevance": 1,
		})
		if err != nil {
			t.Fatal(err)
		}
		ev.Write(line)
		ev.WriteByte('\n')
	}
	eventsPath := filepath.Join(f.dir, "bearish.jsonl")
	writeFile(t, eventsPath, []byte(ev.String()), 0o644)
	return []string{"--source", "csv:" + csvPath, "--events", "file:" + eventsPath}
}

// larsPolicyEdit applies the (old, new) replacements to
// policies/economics.yaml and commits them SSH-signed with LARS's key, as
// a G4-approved policy change; stock git must say G. It returns the commit.
func larsPolicyEdit(t *testing.T, f *fixture, msg string, edits ...[2]string) string {
	t.Helper()
	key := filepath.Join(f.dir, "lars_ssh")
	if !fileExists(key) {
		openSSHKey(t, filepath.Join(f.keys, "lars.key"), key)
	}
	for _, e := range edits {
		editFile(t, f.repo, "policies/economics.yaml", e[0], e[1])
	}
	d := fmt.Sprintf("@%d +0000", policyEditDate.Unix())
	args := gitArgs([]string{"-c", "gpg.format=ssh", "-c", "user.signingkey=" + key, "commit", "-q", "-S", "-am", msg})
	if r := execute(t, f.repo, []string{"GIT_AUTHOR_DATE=" + d, "GIT_COMMITTER_DATE=" + d}, "git", args...); r.code != 0 {
		t.Fatalf("LARS-signed policy commit: %s", r)
	}
	h := f.head(t)
	if got := sigStatus(t, f.repo, h); got != "G" {
		t.Fatalf("stock git %%G? of the LARS-signed policy commit = %q, want G", got)
	}
	return h
}

// slotTime is slot(i) as a time.
func slotTime(t *testing.T, i int) time.Time {
	t.Helper()
	s, err := time.Parse(time.RFC3339, slot(i))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// evidencePath is the documented evidence path of a slot.
func evidencePath(s time.Time) string {
	return "05_GOVERNANCE/CYCLE_EVIDENCE/" + s.Format("2006/01/02") + "/CYCLE_" + cycleID(s) + ".json"
}

// deviationPath is the documented path of a cycle's cost-ceiling deviation.
func deviationPath(id string) string {
	return "05_GOVERNANCE/DEVIATIONS/DEV-cost_ceiling_breach-" + id + ".json"
}

// evidenceDoc is the part of an evidence bundle the economics tests read.
type evidenceDoc struct {
	CycleID string `json:"cycle_id"`
	Sources struct {
		Provider string `json:"provider"`
	} `json:"sources"`
	Outcome struct {
		Status        string  `json:"status"`
		Verdict       string  `json:"verdict"`
		SummaryStatus string  `json:"summary_status"`
		CDSScore      float64 `json:"cds_score"`
		CostUSD       float64 `json:"cost_usd"`
	} `json:"outcome"`
	Steps []struct {
		Step   int             `json:"step"`
		Agent  string          `json:"agent"`
		Status string          `json:"status"`
		Reason string          `json:"reason"`
		Input  json.RawMessage `json:"input"`
		Output json.RawMessage `json:"output"`
	} `json:"steps"`
}

// step returns step n of the bundle, failing the test when it is missing.
func (e evidenceDoc) step(t *testing.T, n int) (status, reason string, input, output json.RawMessage) {
	t.Helper()
	for _, s := range e.Steps {
		if s.Step == n {
			return s.Status, s.Reason, s.Input, s.Output
		}
	}
	t.Fatalf("evidence %s has no step %d", e.CycleID, n)
	return
}

// showJSON decodes the committed file p at rev into v.
func showJSON(t *testing.T, repo, rev, p string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(git(t, repo, "show", rev+":"+p)), v); err != nil {
		t.Fatalf("%s:%s: %v", rev, p, err)
	}
}

func readEvidence(t *testing.T, repo, p string) evidenceDoc {
	t.Helper()
	var ev evidenceDoc
	showJSON(t, repo, "HEAD", p, &ev)
	return ev
}

// dayEvidence lists the evidence bundles of the UTC day of s at HEAD.
func dayEvidence(t *testing.T, repo string, s time.Time) []string {
	t.Helper()
	dir := "05_GOVERNANCE/CYCLE_EVIDENCE/" + s.Format("2006/01/02") + "/"
	out := strings.Fields(git(t, repo, "ls-tree", "--name-only", "HEAD", dir))
	sort.Strings(out)
	return out
}

// opState is the part of OPERATIONAL_STATE.json the economics tests read.
type opState struct {
	State          string  `json:"state"`
	Summaries      string  `json:"summaries"`
	SummariesWhy   string  `json:"summaries_reason"`
	EconomicsDay   string  `json:"economics_day"`
	SummariesToday int     `json:"summaries_today"`
	SpendTodayUSD  float64 `json:"spend_today_usd"`
}

func readState(t *testing.T, repo string) opState {
	t.Helper()
	var st opState
	showJSON(t, repo, "HEAD", "05_GOVERNANCE/OPERATIONAL_STATE.json", &st)
	return st
}

// costReport is the part of the cost report the economics tests read.
type costReport struct {
	ReportDate   string `json:"report_date"`
	DailySummary struct {
		TotalCycles    int     `json:"total_cycles"`
		TotalSummaries int     `json:"total_summaries_generated"`
		TotalCostUSD   float64 `json:"total_cost_usd"`
	} `json:"daily_summary"`
	ADR012 struct {
		CeilingUSD        float64 `json:"per_summary_ceiling_usd"`
		DailyCapUSD       float64 `json:"daily_budget_cap_usd"`
		DailyRateLimit    int     `json:"daily_rate_limit"`
		CeilingBreaches   int     `json:"ceiling_breaches"`
		BudgetBreaches    int     `json:"budget_breaches"`
		RateLimitBreaches int     `json:"rate_limit_breaches"`
		Status            string  `json:"compliance_status"`
	} `json:"adr012_compliance"`
	Alerts []struct {
		Type        string  `json:"type"`
		Severity    string  `json:"severity"`
		Message     string  `json:"message"`
		MetricValue float64 `json:"metric_value"`
		Threshold   float64 `json:"threshold"`
		CycleID     string  `json:"cycle_id"`
	} `json:"alerts"`
	BlockedSummaries int `json:"blocked_summaries"`
}

func (r costReport) alertTypes() []string {
	var out []string
	for _, a := range r.Alerts {
		out = append(out, a.Type)
	}
	return out
}

// reportCost runs `vios report cost --date date -o json` at reportNow and
// returns its stdout, stderr and exit code.
func reportCost(t *testing.T, f *fixture, date string) (stdout, stderr string, code int) {
	t.Helper()
	return run(t, "report", "cost", "--repo", f.repo, "--keys", f.keys, "--date", date, "--now", reportNow, "-o", "json")
}

// mustReportCost is reportCost that wants exit 0 and decodes the report.
func mustReportCost(t *testing.T, f *fixture, date string) (costReport, string) {
	t.Helper()
	stdout, stderr, code := reportCost(t, f, date)
	if code != 0 {
		t.Fatalf("report cost --date %s: exit %d, want 0\nstdout:\n%s\nstderr:\n%s", date, code, stdout, stderr)
	}
	var rep costReport
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("report cost -o json: %v\n%s", err, stdout)
	}
	return rep, stdout
}

// allCommitsGood fails the test unless stock git with the repository's
// allowed_signers says G for every commit.
func allCommitsGood(t *testing.T, repo string) {
	t.Helper()
	r := gitVerified(t, repo, "log", "--format=%H %G? %s")
	if r.code != 0 {
		t.Fatalf("git log %%G?: %s", r)
	}
	for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		if f := strings.Fields(line); len(f) < 2 || f[1] != "G" {
			t.Errorf("stock git does not say G: %s", line)
		}
	}
}

// mustAudit fails the test unless `vios audit verify` passes.
func mustAudit(t *testing.T, repo string) auditReport {
	t.Helper()
	rep, code := audit(t, repo)
	if code != 0 {
		t.Errorf("audit verify: exit %d, want 0\n%s", code, dumpFailures(rep))
	}
	return rep
}
