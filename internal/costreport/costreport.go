// Package costreport builds and commits the ADR-012 daily cost report
// (COST_REPORT_YYYY_MM_DD.json) from a governance repository: it reads the
// report day's evidence, the paid replay charges made that day, and the
// 30-day trajectory (from earlier reports where they exist), never the
// whole history.
package costreport

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/vision-ios/vios/internal/cycle"
	"github.com/vision-ios/vios/internal/economics"
	"github.com/vision-ios/vios/internal/fault"
	"github.com/vision-ios/vios/internal/gov"
	"github.com/vision-ios/vios/internal/layout"
	"github.com/vision-ios/vios/internal/ledger"
	"github.com/vision-ios/vios/internal/policy"
	"github.com/vision-ios/vios/internal/signing"
)

// Report is the daily cost report. The keys of the operations document come
// first, with their names and JSON types; the rest are extras.
type Report struct {
	ReportDate   string       `json:"report_date"`
	DailySummary DailySummary `json:"daily_summary"`
	ADR012       Compliance   `json:"adr012_compliance"`
	Utilization  Utilization  `json:"budget_utilization"`
	Trajectory   Trajectory   `json:"cost_trajectory"`
	Alerts       []Alert      `json:"alerts"`

	ReportID         string      `json:"report_id"`
	BaselineVersion  string      `json:"baseline_version"`
	BlockedSummaries int         `json:"blocked_summaries"`
	FailedSummaries  int         `json:"failed_summaries"`
	Cycles           []CycleCost `json:"per_cycle_breakdown"`
	// Replays are the paid replay runs charged to the day: their summaries
	// count in the totals, utilisation and breaches like the cycles'.
	Replays []ReplayCost `json:"replay_charges,omitempty"`
}

// ReplayCost is one paid replay run charged to the day.
type ReplayCost struct {
	ReplayID   string `json:"replay_id"`
	Path       string `json:"path"`
	ReplayedAt string `json:"replayed_at"`
	Provider   string `json:"provider"`
	Model      string `json:"model"`
	economics.ReplayTotals
}

// DailySummary totals the day.
type DailySummary struct {
	TotalCycles    int     `json:"total_cycles"`
	TotalSummaries int     `json:"total_summaries_generated"`
	TotalCostUSD   float64 `json:"total_cost_usd"`
	AverageUSD     float64 `json:"average_cost_per_summary_usd"`
	MaxUSD         float64 `json:"max_cost_per_summary_usd"`
	MinUSD         float64 `json:"min_cost_per_summary_usd"`
	MedianUSD      float64 `json:"median_cost_per_summary_usd"`
	StdDevUSD      float64 `json:"std_dev_cost_usd"`
}

// Compliance is the ADR-012 verdict of the day.
type Compliance struct {
	CeilingUSD        float64 `json:"per_summary_ceiling_usd"`
	DailyCapUSD       float64 `json:"daily_budget_cap_usd"`
	DailyRateLimit    int     `json:"daily_rate_limit"`
	CeilingBreaches   int     `json:"ceiling_breaches"`
	BudgetBreaches    int     `json:"budget_breaches"`
	RateLimitBreaches int     `json:"rate_limit_breaches"`
	Status            string  `json:"compliance_status"`
}

// Utilization is how much of the day's limits was used.
type Utilization struct {
	BudgetUsedPct float64 `json:"daily_budget_used_pct"`
	RateUsedPct   float64 `json:"daily_rate_used_pct"`
	HeadroomUSD   float64 `json:"budget_headroom_usd"`
}

// Trajectory compares the 7-day and 30-day average cost per summary.
type Trajectory struct {
	Avg7USD  float64 `json:"7day_average_cost_usd"`
	Avg30USD float64 `json:"30day_average_cost_usd"`
	Trend    string  `json:"trend"`
	Basis    string  `json:"basis"`
}

// Alert is one alert of the day.
type Alert struct {
	Type        string  `json:"type"`
	Severity    string  `json:"severity"`
	Message     string  `json:"message"`
	MetricValue float64 `json:"metric_value"`
	Threshold   float64 `json:"threshold"`
	CycleID     string  `json:"cycle_id,omitempty"`
}

// CycleCost is one cycle's line in the report.
type CycleCost struct {
	CycleID       string  `json:"cycle_id"`
	Slot          string  `json:"cycle_timestamp"`
	SummaryStatus string  `json:"summary_status"`
	Model         string  `json:"model,omitempty"`
	InputTokens   int     `json:"input_tokens,omitempty"`
	OutputTokens  int     `json:"output_tokens,omitempty"`
	CostUSD       float64 `json:"cost_usd"`
	BlockedRule   string  `json:"blocked_rule,omitempty"`
	WorstCaseUSD  float64 `json:"worst_case_usd,omitempty"`
}

// Path is where the report for day lives.
func Path(day time.Time) string {
	return layout.CostReports + "/COST_REPORT_" + day.UTC().Format("2006_01_02") + ".json"
}

// Build computes the report for the UTC day of day at commit h.
func Build(r *ledger.Repo, h plumbing.Hash, pol *policy.Set, day time.Time) (*Report, error) {
	day = day.UTC().Truncate(24 * time.Hour)
	e := pol.Economics
	rep := &Report{
		ReportDate: day.Format("2006-01-02"), ReportID: "COST-" + day.Format("2006-01-02"), BaselineVersion: pol.Cycle.Version,
		ADR012: Compliance{CeilingUSD: e.PerSummaryCeilingUSD, DailyCapUSD: e.DailyBudgetCapUSD, DailyRateLimit: e.DailyRateLimit},
		Alerts: []Alert{}, Cycles: []CycleCost{},
	}
	files, err := cycle.DayEvidence(r, h, day)
	if err != nil {
		return nil, err
	}
	var costs []float64
	for _, f := range files {
		data, err := r.ReadBlob(f.Blob)
		if err != nil {
			return nil, err
		}
		ev, err := cycle.ParseEvidence(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.Path, err)
		}
		cc := cycleCost(ev)
		rep.Cycles = append(rep.Cycles, cc)
		rep.DailySummary.TotalCycles++
		switch cc.SummaryStatus {
		case "generated":
			costs = append(costs, cc.CostUSD)
			rep.generated(e, "summary", cc.CostUSD, cc.CycleID)
		case cycle.StatusBlocked:
			rep.blocked(e, "summary", cc.BlockedRule, cc.WorstCaseUSD, cc.CycleID)
		case cycle.StatusFailed:
			rep.FailedSummaries++
		}
	}
	// Paid replays charged to the day count like the cycles' summaries.
	replays, err := cycle.DayReplayCharges(r, h, day)
	if err != nil {
		return nil, err
	}
	for _, f := range replays {
		c := f.Charge
		rep.Replays = append(rep.Replays, ReplayCost{ReplayID: c.ReplayID, Path: f.Path, ReplayedAt: c.ReplayedAt, Provider: c.Provider, Model: c.Model, ReplayTotals: c.ReplayTotals})
		for _, k := range c.Calls {
			switch k.Status {
			case economics.ReplayCharged:
				costs = append(costs, k.CostUSD)
				rep.generated(e, "replayed summary (replay "+c.ReplayID+")", k.CostUSD, k.CycleID)
			case economics.ReplayBlocked:
				rep.blocked(e, "replayed summary (replay "+c.ReplayID+")", k.Rule, k.WorstCaseUSD, k.CycleID)
			case economics.ReplayFailed:
				rep.FailedSummaries++
			}
		}
	}
	sort.SliceStable(rep.Cycles, func(i, j int) bool { return rep.Cycles[i].Slot < rep.Cycles[j].Slot })
	s := &rep.DailySummary
	s.TotalSummaries = len(costs)
	for _, c := range costs {
		s.TotalCostUSD += c
	}
	if n := len(costs); n > 0 {
		sorted := append([]float64(nil), costs...)
		sort.Float64s(sorted)
		s.MinUSD, s.MaxUSD = sorted[0], sorted[n-1]
		s.AverageUSD = s.TotalCostUSD / float64(n)
		if n%2 == 1 {
			s.MedianUSD = sorted[n/2]
		} else {
			s.MedianUSD = (sorted[n/2-1] + sorted[n/2]) / 2
		}
		var ss float64
		for _, c := range costs {
			ss += (c - s.AverageUSD) * (c - s.AverageUSD)
		}
		s.StdDevUSD = math.Sqrt(ss / float64(n))
	}
	u := &rep.Utilization
	u.BudgetUsedPct = 100 * s.TotalCostUSD / e.DailyBudgetCapUSD
	u.RateUsedPct = 100 * float64(s.TotalSummaries) / float64(e.DailyRateLimit)
	u.HeadroomUSD = e.DailyBudgetCapUSD - s.TotalCostUSD
	if economics.AtLeast(s.TotalCostUSD, e.Alerts.BudgetPct, e.DailyBudgetCapUSD) {
		rep.alert("daily_budget_approach", "high", fmt.Sprintf("spend $%.4f is at or above %.0f%% of the $%.2f daily cap", s.TotalCostUSD, e.Alerts.BudgetPct, e.DailyBudgetCapUSD), s.TotalCostUSD, e.Alerts.BudgetPct/100*e.DailyBudgetCapUSD, "")
	}
	if economics.AtLeast(float64(s.TotalSummaries), e.Alerts.RatePct, float64(e.DailyRateLimit)) {
		rep.alert("rate_limit_approach", "high", fmt.Sprintf("%d summaries is at or above %.0f%% of the daily limit %d", s.TotalSummaries, e.Alerts.RatePct, e.DailyRateLimit), float64(s.TotalSummaries), e.Alerts.RatePct/100*float64(e.DailyRateLimit), "")
	}
	rep.ADR012.Status = "PASS"
	if rep.ADR012.CeilingBreaches > 0 || rep.ADR012.BudgetBreaches > 0 {
		rep.ADR012.Status = "FAIL"
	}
	if err := rep.trajectory(r, h, day); err != nil {
		return nil, err
	}
	return rep, nil
}

// generated checks one generated summary's cost against the ceiling.
func (rep *Report) generated(e policy.Economics, what string, cost float64, id string) {
	if cost > e.PerSummaryCeilingUSD {
		rep.ADR012.CeilingBreaches++
		rep.alert("cost_ceiling_breach", "critical", fmt.Sprintf("%s cost $%.6f exceeds the $%.3f ceiling", what, cost, e.PerSummaryCeilingUSD), cost, e.PerSummaryCeilingUSD, id)
	} else if economics.AtLeast(cost, e.Alerts.CeilingApproachPct, e.PerSummaryCeilingUSD) {
		rep.alert("cost_ceiling_approach", "high", fmt.Sprintf("%s cost $%.6f is at or above %.0f%% of the $%.3f ceiling", what, cost, e.Alerts.CeilingApproachPct, e.PerSummaryCeilingUSD), cost, e.Alerts.CeilingApproachPct/100*e.PerSummaryCeilingUSD, id)
	}
}

// blocked counts one summary the guard blocked, as a breach of its rule.
func (rep *Report) blocked(e policy.Economics, what, rule string, worst float64, id string) {
	rep.BlockedSummaries++
	switch rule {
	case economics.RuleCeiling:
		rep.ADR012.CeilingBreaches++
		rep.alert("cost_ceiling_breach", "critical", what+" blocked: worst case exceeds the per-summary ceiling", worst, e.PerSummaryCeilingUSD, id)
	case economics.RuleBudget:
		rep.ADR012.BudgetBreaches++
		rep.alert("daily_budget_breach", "critical", what+" blocked: the daily budget cap would be exceeded", worst, e.DailyBudgetCapUSD, id)
	case economics.RuleRate:
		rep.ADR012.RateLimitBreaches++
		rep.alert("rate_limit_breach", "critical", what+" blocked: the daily rate limit is reached", float64(e.DailyRateLimit), float64(e.DailyRateLimit), id)
	}
}

func (rep *Report) alert(typ, sev, msg string, v, th float64, id string) {
	rep.Alerts = append(rep.Alerts, Alert{Type: typ, Severity: sev, Message: msg, MetricValue: v, Threshold: th, CycleID: id})
}

func cycleCost(ev *cycle.Evidence) CycleCost {
	cc := CycleCost{CycleID: ev.CycleID, Slot: ev.CycleTimestamp, SummaryStatus: ev.Outcome.SummaryStatus, CostUSD: ev.Outcome.CostUSD}
	for _, s := range ev.Steps {
		if s.Operation != "tier2_conflict_summary" {
			continue
		}
		switch s.Status {
		case cycle.StatusCompleted:
			var out cycle.SummaryOutput
			if json.Unmarshal(s.Output, &out) == nil {
				cc.Model, cc.InputTokens, cc.OutputTokens = out.Model, out.InputTokens, out.OutputTokens
			}
		case cycle.StatusBlocked:
			var d economics.Decision
			if json.Unmarshal(s.Output, &d) == nil {
				cc.BlockedRule, cc.WorstCaseUSD, cc.Model = d.Rule, d.WorstCaseUSD, d.Model
			}
		}
	}
	return cc
}

// dayTotal is one day of the trajectory.
type dayTotal struct {
	cost      float64
	summaries int
}

// trajectory averages the cost per summary over the 7 and 30 UTC days
// ending on the report day, reading each earlier day's committed report when
// there is one and that day's evidence outcomes otherwise.
func (rep *Report) trajectory(r *ledger.Repo, h plumbing.Hash, day time.Time) error {
	totals := make([]dayTotal, 30)
	totals[0] = dayTotal{rep.DailySummary.TotalCostUSD, rep.DailySummary.TotalSummaries}
	c, err := r.Commit(h)
	if err != nil {
		return err
	}
	for i := 1; i < 30; i++ {
		d := day.AddDate(0, 0, -i)
		if data, err := r.ReadTreeFile(c.TreeHash, Path(d)); err == nil {
			var prev struct {
				DailySummary DailySummary `json:"daily_summary"`
			}
			if err := json.Unmarshal(data, &prev); err != nil {
				return fmt.Errorf("%s: %w", Path(d), err)
			}
			totals[i] = dayTotal{prev.DailySummary.TotalCostUSD, prev.DailySummary.TotalSummaries}
			continue
		} else if !errors.Is(err, ledger.ErrNotFound) {
			return err
		}
		u, err := cycle.DayUsage(r, h, d)
		if err != nil {
			return err
		}
		totals[i] = dayTotal{u.SpendUSD, u.Summaries}
	}
	avg := func(n int) float64 {
		var cost float64
		var k int
		for _, t := range totals[:n] {
			cost += t.cost
			k += t.summaries
		}
		if k == 0 {
			return 0
		}
		return cost / float64(k)
	}
	t := &rep.Trajectory
	t.Avg7USD, t.Avg30USD = avg(7), avg(30)
	t.Basis = "average cost per generated summary over the UTC days ending on report_date; trend compares 7-day to 30-day with a ±5% band"
	switch {
	case t.Avg30USD == 0 || math.Abs(t.Avg7USD-t.Avg30USD) <= 0.05*t.Avg30USD:
		t.Trend = "stable"
	case t.Avg7USD > t.Avg30USD:
		t.Trend = "increasing"
	default:
		t.Trend = "decreasing"
	}
	return nil
}

// Marshal writes the report as indented JSON.
func (rep *Report) Marshal() []byte {
	b, _ := json.MarshalIndent(rep, "", "  ")
	return append(b, '\n')
}

// Committed is the outcome of Commit.
type Committed struct {
	Report   *Report
	Path     string
	Commit   plumbing.Hash
	Existing bool
}

// ErrReportDiffers is returned when a report for the date is already
// committed with other content: canonical evidence is append-only.
var ErrReportDiffers = errors.New("a different report for this date is already committed")

// Commit builds the report for day and commits it signed by CODE. A report
// already committed with identical content is left alone; different content
// is refused.
func Commit(ctx context.Context, r *ledger.Repo, code *signing.Signer, day, now time.Time) (*Committed, error) {
	snap, unlock, err := gov.Begin(ctx, r, now, code)
	if err != nil {
		return nil, err
	}
	defer unlock()
	rep, err := Build(r, snap.Commit, snap.Policy, day)
	if err != nil {
		return nil, err
	}
	data := rep.Marshal()
	p := Path(day)
	if old, err := r.ReadFile(snap.Commit, p); err == nil {
		if bytes.Equal(old, data) {
			return &Committed{Report: rep, Path: p, Commit: snap.Commit, Existing: true}, nil
		}
		return &Committed{Report: rep, Path: p, Commit: snap.Commit}, fault.Governance(fmt.Errorf("%s: %w", p, ErrReportDiffers))
	} else if !errors.Is(err, ledger.ErrNotFound) {
		return nil, err
	}
	ssh, err := code.SSH()
	if err != nil {
		return nil, err
	}
	s := rep.DailySummary
	h, err := r.Apply(ctx, &ledger.Change{
		Subject: fmt.Sprintf("cost report %s: %d cycles, %d summaries, $%.2f, ADR-012 %s", rep.ReportDate, s.TotalCycles, s.TotalSummaries, s.TotalCostUSD, rep.ADR012.Status),
		Body:    alertsLine(rep),
		Trailers: [][2]string{
			{"Vios-Artifact", "cost_report"},
			{"Vios-Date", rep.ReportDate},
			{"Vios-Agent", "CODE"},
			{"Vios-Baseline", snap.Policy.Cycle.Version},
		},
		Files:  []ledger.File{{Path: p, Data: data}},
		Author: gov.Author("CODE"),
		When:   now,
		Signer: ssh,
		Parent: snap.Commit,
	})
	if err != nil {
		return nil, err
	}
	return &Committed{Report: rep, Path: p, Commit: h}, nil
}

func alertsLine(rep *Report) string {
	if len(rep.Alerts) == 0 {
		return "No alerts."
	}
	count := map[string]int{}
	for _, a := range rep.Alerts {
		count[a.Type]++
	}
	var parts []string
	for t, n := range count {
		parts = append(parts, fmt.Sprintf("%s x%d", t, n))
	}
	sort.Strings(parts)
	return "Alerts: " + strings.Join(parts, ", ") + "."
}
