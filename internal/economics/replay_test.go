package economics_test

import (
	"strings"
	"testing"

	"github.com/vision-ios/vios/internal/economics"
)

func TestReplayChargeRoundTrip(t *testing.T) {
	c := &economics.ReplayCharge{
		ReplayID: "0123456789abcdef", Day: "2026-11-20", ReplayedAt: "2026-11-20T10:00:00Z", Replayed: "abc",
		Provider: "openai", Model: "gpt-4o-mini",
		Calls: []economics.ReplayCall{
			{CycleID: "a", Status: economics.ReplayCharged, Model: "gpt-4o-mini", InputTokens: 400, OutputTokens: 60, CostUSD: 0.0001},
			{CycleID: "b", Status: economics.ReplayCharged, Model: "gpt-4o-mini", CostUSD: 0.0002},
			{CycleID: "c", Status: economics.ReplayBlocked, Rule: economics.RuleBudget, Reason: "cap", WorstCaseUSD: 0.0003},
			{CycleID: "d", Status: economics.ReplayFailed, Reason: "no usage"},
		},
	}
	c.Total()
	if c.Summaries != 2 || c.Blocked != 1 || c.Failed != 1 || c.CostUSD < 0.0003-1e-15 || c.CostUSD > 0.0003+1e-15 {
		t.Fatalf("totals %+v", c)
	}
	got, err := economics.ParseReplayCharge(c.Marshal())
	if err != nil || got.Summaries != 2 || len(got.Calls) != 4 || got.Calls[2].Rule != economics.RuleBudget {
		t.Fatalf("round trip %+v (%v)", got, err)
	}
	for name, bad := range map[string]string{
		"unknown field":             `{"replay_id":"x","extra":1}`,
		"bad status":                `{"calls":[{"cycle_id":"a","status":"free","model":"m","cost_usd":0,"worst_case_usd":0}]}`,
		"negative cost":             `{"calls":[{"cycle_id":"a","status":"charged","model":"m","cost_usd":-1,"worst_case_usd":0}]}`,
		"trailing data":             `{} {}`,
		"not an object":             `[]`,
		"truncated JSON":            `{"calls":[`,
		"totals that do not add up": `{"summaries_charged":3,"cost_usd":0.1,"calls":[{"cycle_id":"a","status":"charged","model":"m","cost_usd":0.1,"worst_case_usd":0}]}`,
	} {
		if _, err := economics.ParseReplayCharge([]byte(bad)); err == nil || !strings.Contains(err.Error(), "replay charge") {
			t.Errorf("%s: %v, want a replay charge error", name, err)
		}
	}
}
