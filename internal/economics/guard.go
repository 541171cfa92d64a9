// Package economics enforces ADR-012: the pre-flight guard that decides,
// before any money is spent, whether a summary may be generated; the alert
// thresholds; and the daily cost report built from the repository.
package economics

import (
	"fmt"
	"math"
	"time"

	"github.com/vision-ios/vios/internal/fault"
	"github.com/vision-ios/vios/internal/policy"
)

// Usage is one UTC day's summary spend so far.
type Usage struct {
	Day       string  `json:"day"` // YYYY-MM-DD
	Summaries int     `json:"summaries"`
	SpendUSD  float64 `json:"spend_usd"`
}

// Rules the guard enforces.
const (
	RuleCeiling = "per_summary_ceiling"
	RuleBudget  = "daily_budget_cap"
	RuleRate    = "daily_rate_limit"
)

// Decision is the guard's verdict on one summary.
type Decision struct {
	Allowed      bool    `json:"allowed"`
	Rule         string  `json:"rule,omitempty"`
	Reason       string  `json:"reason,omitempty"`
	Model        string  `json:"model"`
	InputTokens  int     `json:"input_tokens"`
	MaxTokens    int     `json:"max_tokens"`
	WorstCaseUSD float64 `json:"worst_case_usd"`
	SpendBefore  float64 `json:"spend_today_usd"`
	CountBefore  int     `json:"summaries_today"`
}

// Check decides whether a summary of inputTokens prompt tokens may be asked
// of model today: the worst case (the prompt plus max_tokens of output,
// priced by the table) must fit under the per-summary ceiling and, added to
// today's spend, under the daily cap; and today's count must be under the
// rate limit. An unpriced model is refused: its cost cannot be bounded.
func Check(e policy.Economics, model string, inputTokens int, today Usage) (Decision, error) {
	price, ok := e.Models[model]
	if !ok {
		return Decision{}, fault.Inputf("economics: model %q has no price in policies/economics.yaml", model)
	}
	d := Decision{Model: model, InputTokens: inputTokens, MaxTokens: e.Summary.MaxTokens, SpendBefore: today.SpendUSD, CountBefore: today.Summaries}
	d.WorstCaseUSD = price.Cost(inputTokens, e.Summary.MaxTokens)
	switch {
	case inputTokens > e.Summary.MaxInputTokens:
		d.Rule = RuleCeiling
		d.Reason = fmt.Sprintf("prompt of %d tokens exceeds max_input_tokens %d", inputTokens, e.Summary.MaxInputTokens)
	case d.WorstCaseUSD > e.PerSummaryCeilingUSD:
		d.Rule = RuleCeiling
		d.Reason = fmt.Sprintf("worst case $%.6f (%d input + %d output tokens of %s) exceeds the per-summary ceiling $%.3f", d.WorstCaseUSD, inputTokens, e.Summary.MaxTokens, model, e.PerSummaryCeilingUSD)
	case today.Summaries >= e.DailyRateLimit:
		d.Rule = RuleRate
		d.Reason = fmt.Sprintf("%d summaries already generated on %s; the daily rate limit is %d", today.Summaries, today.Day, e.DailyRateLimit)
	case today.SpendUSD+d.WorstCaseUSD > e.DailyBudgetCapUSD:
		d.Rule = RuleBudget
		d.Reason = fmt.Sprintf("spend today $%.6f + worst case $%.6f exceeds the daily budget cap $%.2f", today.SpendUSD, d.WorstCaseUSD, e.DailyBudgetCapUSD)
	default:
		d.Allowed = true
	}
	return d, nil
}

// Settle records an actual summary cost against today's usage.
func (u *Usage) Settle(costUSD float64) {
	u.Summaries++
	u.SpendUSD += costUSD
}

// DayOf names the UTC day of a slot.
func DayOf(t time.Time) string { return t.UTC().Format("2006-01-02") }

// AtLeast reports v >= pct% of limit, exact at the boundary: a value equal
// to the threshold up to floating-point rounding counts as reaching it.
func AtLeast(v, pct, limit float64) bool {
	th := pct / 100 * limit
	return v >= th || math.Abs(v-th) <= 1e-9*math.Max(1, math.Abs(th))
}
