// Package llm holds FINN's Tier-2 summary providers behind one interface.
// The built-in provider is offline and deterministic and counts tokens by a
// documented rule, so the costs it reports are real numbers derived from
// real text, priced by policies/economics.yaml.
package llm

import (
	"context"
	"fmt"
	"strings"

	"github.com/vision-ios/vios/internal/fault"
)

// Event is what a summary must address: one of the top events.
type Event struct {
	Headline  string  `json:"headline"`
	Keyword   string  `json:"keyword"`
	Sentiment float64 `json:"sentiment"`
}

// Request asks for a conflict summary.
type Request struct {
	Asset          string  `json:"asset"`
	CDSScore       float64 `json:"cds_score"`
	PriceSignal    float64 `json:"price_signal"`
	SentimentScore float64 `json:"sentiment_score"`
	Regime         string  `json:"regime"`
	Events         []Event `json:"events"`
	Sentences      int     `json:"sentences"`
	MaxTokens      int     `json:"max_tokens"`
}

// Response is a provider's answer with its reported token usage.
type Response struct {
	Text         string `json:"summary"`
	Model        string `json:"model"`
	InputTokens  int    `json:"input_tokens"`
	OutputTokens int    `json:"output_tokens"`
}

// Provider generates Tier-2 conflict summaries.
type Provider interface {
	// Name identifies the provider in evidence ("builtin", "openai").
	Name() string
	// Model is the model whose price applies.
	Model() string
	Summarize(ctx context.Context, req Request) (Response, error)
}

// New returns the provider a policy or flag names; openai uses cfg.
func New(name, model string, cfg OpenAIConfig) (Provider, error) {
	switch name {
	case "builtin", "":
		return Builtin{ModelName: model}, nil
	case "openai":
		cfg.Model = model
		return NewOpenAI(cfg)
	}
	return nil, fault.Inputf("summary provider %q: unknown (available: builtin, openai)", name)
}

// SystemPrompt is the system message chat providers receive; the guard
// counts it in the worst case.
const SystemPrompt = "You are FINN, a research agent. Answer in plain prose."

// Prompt renders the instruction every provider receives, so input token
// counts are comparable across providers.
func Prompt(req Request) string {
	var b strings.Builder
	fmt.Fprintf(&b, "You are FINN, a research agent. Write exactly %d sentences explaining the conflict between %s price action and news sentiment. ", req.Sentences, req.Asset)
	fmt.Fprintf(&b, "Cognitive dissonance score %.4f; price signal %+.4f; news sentiment %+.4f; market regime %s. ", req.CDSScore, req.PriceSignal, req.SentimentScore, req.Regime)
	b.WriteString("Name these event keywords: ")
	for i, e := range req.Events {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(e.Keyword)
	}
	b.WriteString(". Events:\n")
	for _, e := range req.Events {
		fmt.Fprintf(&b, "- [%s] %s (sentiment %+.3f)\n", e.Keyword, e.Headline, e.Sentiment)
	}
	return b.String()
}

// InputTokens is the input of a summary request (system message and
// prompt) as the ADR-012 guard estimates it before the call.
func InputTokens(req Request) int { return CountTokens(SystemPrompt) + CountTokens(Prompt(req)) }

// CountTokens is the built-in token rule: one token per started four bytes
// of UTF-8 text, the usual rule of thumb for English with BPE tokenisers.
func CountTokens(s string) int { return (len(s) + 3) / 4 }

// Builtin is the offline, deterministic provider.
type Builtin struct{ ModelName string }

// Name implements Provider.
func (Builtin) Name() string { return "builtin" }

// Model implements Provider.
func (b Builtin) Model() string {
	if b.ModelName == "" {
		return "builtin-summarizer-v1"
	}
	return b.ModelName
}

// Summarize writes three sentences naming the top event keywords.
func (b Builtin) Summarize(ctx context.Context, req Request) (Response, error) {
	if err := ctx.Err(); err != nil {
		return Response{}, err
	}
	kw := make([]string, 0, 3)
	for _, e := range req.Events {
		kw = append(kw, e.Keyword)
	}
	for len(kw) < 3 {
		kw = append(kw, "market structure")
	}
	dir := func(v float64) string {
		switch {
		case v > 0.15:
			return "bullish"
		case v < -0.15:
			return "bearish"
		}
		return "flat"
	}
	s1 := fmt.Sprintf("%s price action reads %s (signal %+.2f) while news sentiment reads %s (%+.2f), a cognitive dissonance score of %.2f.",
		req.Asset, dir(req.PriceSignal), req.PriceSignal, dir(req.SentimentScore), req.SentimentScore, req.CDSScore)
	s2 := fmt.Sprintf("The disagreement is driven by coverage of %s and %s, which the tape has not confirmed.", kw[0], kw[1])
	s3 := fmt.Sprintf("Watch %s in the %s regime before trusting either signal.", kw[2], req.Regime)
	text := s1 + " " + s2 + " " + s3
	out := CountTokens(text)
	if req.MaxTokens > 0 && out > req.MaxTokens {
		return Response{}, fmt.Errorf("builtin provider: summary needs %d tokens, max_tokens is %d", out, req.MaxTokens)
	}
	return Response{Text: text, Model: b.Model(), InputTokens: CountTokens(Prompt(req)), OutputTokens: out}, nil
}
