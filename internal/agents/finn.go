// Package agents holds the cycle operations of LINE, FINN, STIG and VEGA as
// pure, deterministic functions (Tier-4): the same inputs give bit-identical
// outputs, which is what replay checks. The formulas are written down in
// policies/cycle.yaml and restated on each function.
package agents

import (
	"math"
	"sort"
	"strings"
	"time"

	"github.com/vision-ios/vios/internal/market"
	"github.com/vision-ios/vios/internal/news"
	"github.com/vision-ios/vios/internal/policy"
)

// CDSParams are the CDS formula parameters of policies/cycle.yaml, recorded
// in each cycle's evidence so a replay uses the parameters of its day.
type CDSParams struct {
	MomentumDays    int     `json:"momentum_days"`
	HalfLifeHours   float64 `json:"sentiment_half_life_hours"`
	DivergenceScale float64 `json:"divergence_scale"`
	LowBelow        float64 `json:"tier_low_below"`
	HighAbove       float64 `json:"tier_high_above"`
}

// CDSParamsFrom reads the parameters from the policy set.
func CDSParamsFrom(p *policy.Set) CDSParams {
	c := p.Cycle.CDS
	return CDSParams{
		MomentumDays:    c.MomentumDays,
		HalfLifeHours:   c.HalfLife.D().Hours(),
		DivergenceScale: c.DivergenceScale,
		LowBelow:        c.Tiers.LowBelow,
		HighAbove:       c.Tiers.HighAbove,
	}
}

// CDSOutput is FINN's compute_cds_score output.
type CDSOutput struct {
	CDSScore        float64 `json:"cds_score"`
	CDSTier         string  `json:"cds_tier"`
	PriceSignal     float64 `json:"price_signal"`
	SentimentScore  float64 `json:"sentiment_score"`
	MomentumReturn  float64 `json:"momentum_log_return"`
	DailyVolatility float64 `json:"daily_volatility"`
	EventCount      int     `json:"event_count"`
}

// ComputeCDS scores the Cognitive Dissonance between price action and news:
//
//	r_i       = ln(close_i / close_{i-1})
//	sigma     = sample standard deviation of r_i
//	price     = tanh( ln(close_N / close_{N-m}) / (sigma * sqrt(m)) )
//	sentiment = sum(w_e * s_e) / sum(w_e),  w_e = relevance_e * 2^(-age_e / half_life)
//	CDS       = clamp(|price - sentiment| / divergence_scale, 0, 1)
//
// Events at or after the slot are ignored; with no weight, sentiment is 0.
func ComputeCDS(candles []market.Candle, events []news.Event, slot time.Time, p CDSParams) CDSOutput {
	out := CDSOutput{}
	n := len(candles)
	if n > p.MomentumDays && p.MomentumDays > 0 {
		sigma := dailyVolatility(candles)
		mom := math.Log(candles[n-1].Close / candles[n-1-p.MomentumDays].Close)
		out.MomentumReturn = mom
		out.DailyVolatility = sigma
		switch {
		case sigma > 0:
			out.PriceSignal = math.Tanh(mom / (sigma * math.Sqrt(float64(p.MomentumDays))))
		case mom > 0:
			out.PriceSignal = 1
		case mom < 0:
			out.PriceSignal = -1
		}
	}
	var sw, s float64
	for _, e := range events {
		if !e.PublishedAt.Before(slot) {
			continue
		}
		out.EventCount++
		age := slot.Sub(e.PublishedAt).Hours()
		w := e.Relevance * math.Exp2(-age/p.HalfLifeHours)
		sw += w
		s += w * e.Sentiment
	}
	if sw > 0 {
		out.SentimentScore = s / sw
	}
	cds := math.Abs(out.PriceSignal-out.SentimentScore) / p.DivergenceScale
	out.CDSScore = math.Max(0, math.Min(1, cds))
	out.CDSTier = Tier(out.CDSScore, p)
	return out
}

// Tier names the CDS tier: low < low_below <= medium <= high_above < high.
func Tier(cds float64, p CDSParams) string {
	switch {
	case cds < p.LowBelow:
		return "low"
	case cds <= p.HighAbove:
		return "medium"
	}
	return "high"
}

func dailyVolatility(c []market.Candle) float64 {
	if len(c) < 3 {
		return 0
	}
	rets := make([]float64, 0, len(c)-1)
	var mean float64
	for i := 1; i < len(c); i++ {
		r := math.Log(c[i].Close / c[i-1].Close)
		rets = append(rets, r)
		mean += r
	}
	mean /= float64(len(rets))
	var ss float64
	for _, r := range rets {
		ss += (r - mean) * (r - mean)
	}
	return math.Sqrt(ss / float64(len(rets)-1))
}

// RegimeParams are the regime rule and weights of policies/cycle.yaml.
type RegimeParams struct {
	CrisisDrawdown float64            `json:"crisis_drawdown"`
	BearReturn     float64            `json:"bear_return"`
	VolatileVol    float64            `json:"volatile_vol"`
	BullReturn     float64            `json:"bull_return"`
	Weights        map[string]float64 `json:"weights"`
}

// RegimeParamsFrom reads the parameters from the policy set.
func RegimeParamsFrom(p *policy.Set) RegimeParams {
	r := p.Cycle.Regime
	return RegimeParams{CrisisDrawdown: r.CrisisDrawdown, BearReturn: r.BearReturn, VolatileVol: r.VolatileVol, BullReturn: r.BullReturn, Weights: r.Weights}
}

// RelevanceOutput is FINN's compute_relevance_score output.
type RelevanceOutput struct {
	Regime           string  `json:"regime"`
	RegimeWeight     float64 `json:"regime_weight"`
	RelevanceScore   float64 `json:"relevance_score"`
	Return30d        float64 `json:"return_30d"`
	AnnualVolatility float64 `json:"annual_volatility"`
	Drawdown         float64 `json:"drawdown"`
	SMA50            float64 `json:"sma50"`
}

// ComputeRelevance classifies the market regime (first rule that matches:
// crisis drawdown, bear 30-day return, volatile annualised volatility, bull
// 30-day return above the 50-day mean, else neutral) and weights the CDS:
// relevance = CDS × weight(regime).
func ComputeRelevance(candles []market.Candle, cds float64, p RegimeParams) RelevanceOutput {
	n := len(candles)
	out := RelevanceOutput{}
	if n == 0 {
		out.Regime = "neutral"
		out.RegimeWeight = p.Weights["neutral"]
		out.RelevanceScore = cds * out.RegimeWeight
		return out
	}
	last := candles[n-1].Close
	back := min(30, n-1)
	out.Return30d = last/candles[n-1-back].Close - 1
	out.AnnualVolatility = dailyVolatility(candles) * math.Sqrt(365)
	peak := 0.0
	for _, c := range candles {
		peak = math.Max(peak, c.High)
	}
	out.Drawdown = last/peak - 1
	k := min(50, n)
	var sum float64
	for _, c := range candles[n-k:] {
		sum += c.Close
	}
	out.SMA50 = sum / float64(k)
	switch {
	case out.Drawdown <= p.CrisisDrawdown:
		out.Regime = "crisis"
	case out.Return30d <= p.BearReturn:
		out.Regime = "bear"
	case out.AnnualVolatility >= p.VolatileVol:
		out.Regime = "volatile"
	case out.Return30d >= p.BullReturn && last > out.SMA50:
		out.Regime = "bull"
	default:
		out.Regime = "neutral"
	}
	out.RegimeWeight = p.Weights[out.Regime]
	out.RelevanceScore = cds * out.RegimeWeight
	return out
}

// TopEvent is one of the events a conflict summary must address.
type TopEvent struct {
	ID        string  `json:"id"`
	Headline  string  `json:"headline"`
	Keyword   string  `json:"keyword"`
	Sentiment float64 `json:"sentiment"`
	Weight    float64 `json:"weight"`
}

// TopEvents ranks events by relevance × |sentiment| × recency decay and
// returns the first n, each with a distinct keyword (its first keyword not
// already taken).
func TopEvents(events []news.Event, slot time.Time, halfLifeHours float64, n int) []TopEvent {
	type ranked struct {
		e news.Event
		w float64
	}
	var rs []ranked
	for _, e := range events {
		if !e.PublishedAt.Before(slot) {
			continue
		}
		age := slot.Sub(e.PublishedAt).Hours()
		rs = append(rs, ranked{e, e.Relevance * math.Abs(e.Sentiment) * math.Exp2(-age/halfLifeHours)})
	}
	sort.SliceStable(rs, func(i, j int) bool {
		if rs[i].w != rs[j].w {
			return rs[i].w > rs[j].w
		}
		return rs[i].e.ID < rs[j].e.ID
	})
	taken := map[string]bool{}
	var out []TopEvent
	for _, r := range rs {
		if len(out) == n {
			break
		}
		for _, k := range r.e.Keywords {
			k = strings.ToLower(strings.TrimSpace(k))
			if k == "" || taken[k] {
				continue
			}
			taken[k] = true
			out = append(out, TopEvent{ID: r.e.ID, Headline: r.e.Headline, Keyword: k, Sentiment: r.e.Sentiment, Weight: r.w})
			break
		}
	}
	return out
}
