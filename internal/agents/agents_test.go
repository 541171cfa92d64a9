package agents

import (
	"math"
	"testing"
	"time"

	"github.com/vision-ios/vios/internal/market"
	"github.com/vision-ios/vios/internal/news"
	"github.com/vision-ios/vios/internal/policy"
)

var slot = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

func series(closes ...float64) []market.Candle {
	out := make([]market.Candle, len(closes))
	for i, c := range closes {
		t := slot.Truncate(24*time.Hour).AddDate(0, 0, -len(closes)+i)
		out[i] = market.Candle{OpenTime: t, Open: c, High: c * 1.01, Low: c * 0.99, Close: c, Volume: 1, CloseTime: t.Add(24*time.Hour - time.Millisecond)}
	}
	return out
}

func params(t *testing.T) (CDSParams, RegimeParams, policy.ADR010) {
	p, err := policy.Defaults()
	if err != nil {
		t.Fatal(err)
	}
	return CDSParamsFrom(p), RegimeParamsFrom(p), p.Determinism.ADR010
}

func TestComputeCDS(t *testing.T) {
	cp, _, _ := params(t)
	// A steady rally: price signal strongly positive.
	up := make([]float64, 90)
	for i := range up {
		up[i] = 50000 * math.Pow(1.01, float64(i)) * (1 + 0.005*math.Sin(float64(i)))
	}
	bearish := []news.Event{
		{ID: "a", PublishedAt: slot.Add(-2 * time.Hour), Sentiment: -0.9, Relevance: 1, Keywords: []string{"hack"}},
		{ID: "b", PublishedAt: slot.Add(-30 * time.Hour), Sentiment: -0.7, Relevance: 0.5, Keywords: []string{"regulation"}},
		{ID: "late", PublishedAt: slot.Add(time.Hour), Sentiment: 1, Relevance: 1, Keywords: []string{"etf"}},
	}
	out := ComputeCDS(series(up...), bearish, slot, cp)
	if out.PriceSignal < 0.5 || out.SentimentScore > -0.7 || out.EventCount != 2 {
		t.Fatalf("signals %+v", out)
	}
	want := math.Min(1, math.Abs(out.PriceSignal-out.SentimentScore)/cp.DivergenceScale)
	if out.CDSScore != want || out.CDSTier != "high" {
		t.Fatalf("cds %v tier %s, want %v high", out.CDSScore, out.CDSTier, want)
	}
	// Agreement: bullish news on a rally scores low.
	bullish := []news.Event{{ID: "c", PublishedAt: slot.Add(-time.Hour), Sentiment: 0.8, Relevance: 1, Keywords: []string{"etf"}}}
	if got := ComputeCDS(series(up...), bullish, slot, cp); got.CDSScore > 0.3 || got.CDSTier != "low" {
		t.Fatalf("agreement scored %+v", got)
	}
	// Deterministic: same inputs, same bits.
	if a, b := ComputeCDS(series(up...), bearish, slot, cp), ComputeCDS(series(up...), bearish, slot, cp); a != b {
		t.Fatal("not deterministic")
	}
	// No events, flat prices: zero.
	flat := make([]float64, 90)
	for i := range flat {
		flat[i] = 100
	}
	if got := ComputeCDS(series(flat...), nil, slot, cp); got.CDSScore != 0 || got.PriceSignal != 0 {
		t.Fatalf("flat: %+v", got)
	}
}

func TestTierBoundaries(t *testing.T) {
	cp, _, _ := params(t)
	for _, tc := range []struct {
		cds  float64
		tier string
	}{{0, "low"}, {0.2999, "low"}, {0.30, "medium"}, {0.65, "medium"}, {0.6501, "high"}, {1, "high"}} {
		if got := Tier(tc.cds, cp); got != tc.tier {
			t.Errorf("Tier(%v) = %s, want %s", tc.cds, got, tc.tier)
		}
	}
}

func TestRegimes(t *testing.T) {
	_, rp, _ := params(t)
	mk := func(f func(i int) float64) []market.Candle {
		c := make([]float64, 90)
		for i := range c {
			c[i] = f(i)
		}
		return series(c...)
	}
	for _, tc := range []struct {
		name string
		c    []market.Candle
		want string
	}{
		{"crash", mk(func(i int) float64 { return 60000 * math.Pow(0.99, float64(i)) }), "crisis"},
		{"slide", mk(func(i int) float64 { return 60000 * math.Pow(0.996, float64(i)) }), "bear"},
		{"rally", mk(func(i int) float64 { return 40000 * math.Pow(1.004, float64(i)) }), "bull"},
		{"chop", mk(func(i int) float64 { return 50000 * (1 + 0.06*float64(i%2*2-1)) }), "volatile"},
		{"flat", mk(func(i int) float64 { return 50000 + float64(i%3) }), "neutral"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := ComputeRelevance(tc.c, 0.8, rp)
			if out.Regime != tc.want {
				t.Fatalf("regime %s (%+v), want %s", out.Regime, out, tc.want)
			}
			if out.RelevanceScore != 0.8*rp.Weights[tc.want] {
				t.Fatalf("relevance %v", out.RelevanceScore)
			}
		})
	}
}

func TestCountSentences(t *testing.T) {
	for _, tc := range []struct {
		s string
		n int
	}{
		{"", 0},
		{"One.", 1},
		{"Price 0.72 rose. News fell! Why?", 3},
		{"No stop at the end", 1},
		{"Two. Sentences", 2},
		{"...", 0},
		{"A CDS of 0.65 is high. The ETF and the hack drive it. Watch miners.", 3},
	} {
		if got := CountSentences(tc.s); got != tc.n {
			t.Errorf("CountSentences(%q) = %d, want %d", tc.s, got, tc.n)
		}
	}
}

func TestValidateSummaryAndScore(t *testing.T) {
	_, _, adr := params(t)
	ok := ValidateSummary("ETF flows rose. A hack hit sentiment. Miners sold.", []string{"etf", "hack", "halving"}, 3, 2, adr)
	if ok.ValidationStatus != Approved || ok.KeywordCoverage != 2 || ok.Score != 0 {
		t.Fatalf("good summary: %+v", ok)
	}
	bad := ValidateSummary("ETF flows rose. Nothing else.", []string{"etf", "hack", "halving"}, 3, 2, adr)
	if bad.ValidationStatus != Rejected || bad.Band != BandCatastrophic {
		t.Fatalf("bad summary: %+v", bad)
	}
	// ADR-010 tolerances: 0.1 % relative floats, case-insensitive strings.
	d := Score([]Field{{"cds_score", Float, 0.7000, 0.70069}, {"cds_tier", String, "High", "high"}}, adr)
	if d.Score != 0 || d.Band != BandNormal {
		t.Fatalf("within tolerance: %+v", d)
	}
	d = Score([]Field{{"cds_score", Float, 0.70, 0.71}, {"event_count", Integer, 3, 3}, {"price_signal", Float, 1.0, 1.0}, {"sentiment_score", Float, 1.0, 1.0}, {"cds_tier", String, "a", "a"}}, adr)
	if want := 1.0 / 2.75; math.Abs(d.Score-want) > 1e-12 || d.Band != BandCatastrophic {
		t.Fatalf("weighted score %v band %s, want %v", d.Score, d.Band, want)
	}
	if Band(0.05, adr) != BandNormal || Band(0.10, adr) != BandWarning || Band(0.1001, adr) != BandCatastrophic {
		t.Fatal("band edges")
	}
}

func TestTopEventsDistinctKeywords(t *testing.T) {
	ev := []news.Event{
		{ID: "1", PublishedAt: slot.Add(-time.Hour), Sentiment: -0.9, Relevance: 1, Keywords: []string{"hack", "exchange"}},
		{ID: "2", PublishedAt: slot.Add(-time.Hour), Sentiment: -0.8, Relevance: 1, Keywords: []string{"hack", "custody"}},
		{ID: "3", PublishedAt: slot.Add(-time.Hour), Sentiment: 0.1, Relevance: 1, Keywords: []string{"etf"}},
		{ID: "4", PublishedAt: slot.Add(-50 * time.Hour), Sentiment: 0.9, Relevance: 1, Keywords: []string{"halving"}},
	}
	top := TopEvents(ev, slot, 24, 3)
	if len(top) != 3 || top[0].Keyword != "hack" || top[1].Keyword != "custody" || top[2].Keyword != "halving" {
		t.Fatalf("top %+v", top)
	}
}
