package llm

import (
	"context"
	"strings"
	"testing"

	"github.com/vision-ios/vios/internal/agents"
	"github.com/vision-ios/vios/internal/policy"
)

func TestBuiltinSummaryPassesSTIG(t *testing.T) {
	p, _ := policy.Defaults()
	req := Request{Asset: "BTCUSDT", CDSScore: 0.81, PriceSignal: 0.6, SentimentScore: -0.62, Regime: "bull", Sentences: 3, MaxTokens: 256,
		Events: []Event{{Headline: "Exchange hack drains hot wallet", Keyword: "hack", Sentiment: -0.9}, {Headline: "ETF outflows", Keyword: "etf", Sentiment: -0.5}, {Headline: "Miners sell", Keyword: "miners", Sentiment: -0.4}}}
	resp, err := Builtin{}.Summarize(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	v := agents.ValidateSummary(resp.Text, []string{"hack", "etf", "miners"}, 3, 2, p.Determinism.ADR010)
	if v.SentenceCount != 3 || v.KeywordCoverage < 2 || v.ValidationStatus != agents.Approved {
		t.Fatalf("summary %q: %+v", resp.Text, v)
	}
	if resp.OutputTokens != CountTokens(resp.Text) || resp.InputTokens != CountTokens(Prompt(req)) || resp.InputTokens == 0 {
		t.Fatalf("tokens %+v", resp)
	}
	again, _ := Builtin{}.Summarize(context.Background(), req)
	if again != resp {
		t.Fatal("builtin provider is not deterministic")
	}
	req.MaxTokens = 10
	if _, err := (Builtin{}).Summarize(context.Background(), req); err == nil || !strings.Contains(err.Error(), "max_tokens") {
		t.Fatalf("max_tokens not enforced: %v", err)
	}
	if _, err := New("gpt-anything", "", OpenAIConfig{}); err == nil {
		t.Fatal("unknown provider accepted")
	}
}

func TestCountTokens(t *testing.T) {
	for s, n := range map[string]int{"": 0, "a": 1, "abcd": 1, "abcde": 2} {
		if CountTokens(s) != n {
			t.Errorf("CountTokens(%q) = %d, want %d", s, CountTokens(s), n)
		}
	}
}
