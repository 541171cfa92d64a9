package news

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/vision-ios/vios/internal/fault"
)

// The builtin source is a deterministic synthetic crypto news feed for
// BTCUSDT. Events are generated hour by hour: the hour starting at H (UTC)
// draws 0 (50 %), 1 (35 %) or 2 (15 %) events from a stream seeded by
// sha256("vios-builtin-news:" + H in RFC 3339), so an hour always holds the
// same events and the windows of consecutive slots share them; a 48h window
// holds about 30 events.
//
// Each event's sentiment is the market mood plus noise: the mood of day d is
// tanh(moodGain * m(d)) with m(d) a normalised exponentially weighted sum of
// the daily draws u(d), u(d-1), ..., u(d-7) (weight 0.75^k, u(d) standard
// normal seeded by sha256("vios-builtin-news:mood:" + YYYY-MM-DD)), so moods
// last several days; within a day it is interpolated linearly from the
// previous day's. The mood is independent of the price, so news sometimes
// disagrees strongly with the trend: with the builtin market and the v1.0
// CDS policy (trigger 0.65) about a third of hourly slots reach the summary
// trigger (see TestBuiltinCDSTriggerRate). The headline template is chosen
// to match the sentiment's sign (bullish above 0.15, bearish below -0.15,
// neutral between), its keywords come from a fixed vocabulary with the
// primary keyword first, and its relevance is the template's base relevance
// plus noise. Sentiment and relevance are rounded to 3 decimals.
type builtinSource struct{}

func (builtinSource) Name() string { return "builtin" }

const (
	moodDays      = 8    // daily draws blended into one day's mood
	moodDecay     = 0.75 // weight of each earlier day
	moodGain      = 1.3  // spread of the mood before tanh
	sentMoodScale = 0.85 // event sentiment = scale*mood + noise
	sentNoise     = 0.3
)

func (b builtinSource) Fetch(ctx context.Context, req Request) ([]Event, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := req.check(); err != nil {
		return nil, err
	}
	if req.Asset != "BTCUSDT" {
		return nil, fault.Inputf("builtin news: unsupported asset %q (only BTCUSDT)", req.Asset)
	}
	ev := builtinEvents(req)
	if err := Validate(ev); err != nil {
		return nil, fmt.Errorf("builtin news: internal error: %v", err) // a bug, not bad input
	}
	return ev, nil
}

// builtinEvents generates the events of every hour overlapping the window
// and keeps those inside it.
func builtinEvents(req Request) []Event {
	from := req.Slot.Add(-req.Window).UTC()
	first := from.Truncate(time.Hour)
	moods := moodCache{}
	var out []Event
	for h := first; h.Before(req.Slot); h = h.Add(time.Hour) {
		for _, e := range hourEvents(h, moods.at(h)) {
			if req.inWindow(e.PublishedAt) {
				out = append(out, e)
			}
		}
	}
	sortEvents(out)
	return out
}

// splitmix is the SplitMix64 generator: tiny and fully specified, so the
// synthetic feed cannot change with a Go release.
type splitmix struct{ s uint64 }

func (r *splitmix) next() uint64 {
	r.s += 0x9e3779b97f4a7c15
	z := r.s
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// uniform returns a float in (0, 1).
func (r *splitmix) uniform() float64 { return (float64(r.next()>>11) + 0.5) / (1 << 53) }

// intn returns an int in [0, n).
func (r *splitmix) intn(n int) int { return int(r.uniform() * float64(n)) }

// normal returns a standard normal draw (Box-Muller).
func (r *splitmix) normal() float64 {
	u1, u2 := r.uniform(), r.uniform()
	return math.Sqrt(-2*math.Log(u1)) * math.Cos(2*math.Pi*u2)
}

func seeded(label string) splitmix {
	sum := sha256.Sum256([]byte(label))
	return splitmix{s: binary.BigEndian.Uint64(sum[:8]) ^ binary.BigEndian.Uint64(sum[8:16])}
}

// moodCache memoises the daily mood draws within one Fetch.
type moodCache map[int64]float64

func (c moodCache) draw(day int64) float64 {
	if v, ok := c[day]; ok {
		return v
	}
	r := seeded("vios-builtin-news:mood:" + time.Unix(day*86400, 0).UTC().Format("2006-01-02"))
	v := r.normal()
	c[day] = v
	return v
}

// day returns the mood of a whole day, in (-1, 1).
func (c moodCache) day(day int64) float64 {
	sum, norm, w := 0.0, 0.0, 1.0
	for k := int64(0); k < moodDays; k++ {
		sum += w * c.draw(day-k)
		norm += w * w
		w *= moodDecay
	}
	return math.Tanh(moodGain * sum / math.Sqrt(norm))
}

// at returns the mood at an hour, moving linearly from the previous day's
// mood at midnight towards the day's mood.
func (c moodCache) at(h time.Time) float64 {
	sec := h.Unix()
	day := sec / 86400
	if sec%86400 < 0 {
		day--
	}
	frac := float64(sec-day*86400) / 86400
	return (1-frac)*c.day(day-1) + frac*c.day(day)
}

// hourEvents generates the events of the hour starting at h.
func hourEvents(h time.Time, mood float64) []Event {
	stamp := h.UTC().Format(time.RFC3339)
	r := seeded("vios-builtin-news:" + stamp)
	n := 0
	switch u := r.uniform(); {
	case u < 0.50:
		n = 0
	case u < 0.85:
		n = 1
	default:
		n = 2
	}
	out := make([]Event, 0, n)
	for i := 0; i < n; i++ {
		at := h.Add(time.Duration(r.intn(3600)) * time.Second).UTC()
		s := sentMoodScale*mood + sentNoise*r.normal()
		s = round3(math.Max(-1, math.Min(1, s)))
		pool := neutralTemplates
		switch {
		case s > 0.15:
			pool = bullishTemplates
		case s < -0.15:
			pool = bearishTemplates
		}
		t := pool[r.intn(len(pool))]
		rel := round3(math.Max(0.05, math.Min(1, t.relevance+0.08*r.normal())))
		out = append(out, Event{
			ID:          fmt.Sprintf("builtin-%s-%d", h.UTC().Format("20060102T15"), i),
			PublishedAt: at,
			Source:      newsOutlets[r.intn(len(newsOutlets))],
			Headline:    expand(t.text, &r),
			Keywords:    append([]string(nil), t.keywords...),
			Sentiment:   s,
			Relevance:   rel,
		})
	}
	return out
}

func round3(v float64) float64 {
	v = math.Round(v*1000) / 1000
	if v == 0 {
		return 0 // no negative zero in evidence
	}
	return v
}

// expand fills the {placeholders} of a headline template.
func expand(text string, r *splitmix) string {
	var b strings.Builder
	for {
		i := strings.IndexByte(text, '{')
		if i < 0 {
			b.WriteString(text)
			return b.String()
		}
		j := strings.IndexByte(text[i:], '}')
		if j < 0 {
			b.WriteString(text)
			return b.String()
		}
		b.WriteString(text[:i])
		b.WriteString(fill(text[i+1:i+j], r))
		text = text[i+j+1:]
	}
}

func pick(r *splitmix, list []string) string { return list[r.intn(len(list))] }

// between returns an integer in [lo, hi].
func between(r *splitmix, lo, hi int) int { return lo + r.intn(hi-lo+1) }

func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func fill(name string, r *splitmix) string {
	switch name {
	case "usdm":
		return "$" + strconv.Itoa(between(r, 8, 150)*10) + "M"
	case "usdb":
		return "$" + strconv.Itoa(between(r, 120, 260)) + "B"
	case "btc":
		return thousands(between(r, 10, 600)*100) + " BTC"
	case "eh":
		return strconv.Itoa(between(r, 300, 900)) + " EH/s"
	case "pct":
		return strconv.Itoa(between(r, 2, 25)) + "%"
	case "days":
		return strconv.Itoa(between(r, 3, 400))
	case "years":
		return strconv.Itoa(between(r, 5, 13))
	case "ord":
		return pick(r, []string{"third", "fourth", "fifth", "sixth", "seventh"})
	case "bank":
		return pick(r, []string{"BlackRock", "Fidelity", "Morgan Stanley", "Goldman Sachs", "JPMorgan", "BNY", "State Street", "UBS"})
	case "exchange":
		return pick(r, []string{"Binance", "Coinbase", "Kraken", "OKX", "Bybit", "Bitstamp", "Gemini"})
	case "country":
		return pick(r, []string{"Japan", "South Korea", "the UK", "Brazil", "Singapore", "Hong Kong", "the UAE", "Germany", "India", "Australia"})
	case "agency":
		return pick(r, []string{"SEC", "CFTC", "ESMA", "FCA", "MAS"})
	case "company":
		return pick(r, []string{"A Nasdaq-listed software firm", "A Japanese investment firm", "A US medical device maker", "A Hong Kong gaming company", "A Texas energy company"})
	case "state":
		return pick(r, []string{"Texas", "Kazakhstan", "Georgia", "Paraguay"})
	case "event":
		return pick(r, []string{"the FOMC decision", "US CPI data", "the jobs report", "quarterly options expiry"})
	}
	return "{" + name + "}"
}

// template is a headline pattern with its keywords (primary first) and
// base relevance.
type template struct {
	text      string
	keywords  []string
	relevance float64
}

var newsOutlets = []string{"coindesk", "reuters", "bloomberg", "theblock", "cointelegraph", "decrypt", "ft", "wsj"}

var bullishTemplates = []template{
	{"Spot bitcoin ETFs log {usdm} of net inflows as demand broadens", []string{"etf", "inflows", "institutions"}, 0.9},
	{"{bank} expands bitcoin ETF access to wealth-management clients", []string{"etf", "institutions", "adoption"}, 0.8},
	{"Bitcoin hashrate hits a record {eh} as miners add capacity", []string{"hashrate", "miners", "network security"}, 0.55},
	{"{btc} leave exchanges in a week, the largest outflow in months", []string{"exchange outflows", "self-custody", "supply"}, 0.75},
	{"Whale wallets add {btc} during the dip, on-chain data shows", []string{"whales", "accumulation", "on-chain"}, 0.7},
	{"Fed signals rate cuts ahead; risk assets and bitcoin rally", []string{"fed", "rates", "macro"}, 0.8},
	{"{country} passes a clear crypto licensing framework", []string{"regulation", "licensing", "adoption"}, 0.65},
	{"{bank} launches bitcoin custody for institutional clients", []string{"custody", "institutions", "adoption"}, 0.7},
	{"Stablecoin supply climbs to {usdb}, signalling fresh liquidity", []string{"stablecoin", "liquidity"}, 0.6},
	{"{company} adds bitcoin to its corporate treasury", []string{"treasury", "institutions", "adoption"}, 0.65},
	{"Short squeeze liquidates {usdm} of bearish bets", []string{"liquidation", "short squeeze", "derivatives", "leverage"}, 0.75},
	{"Analysts see the post-halving supply squeeze tightening bitcoin's float", []string{"halving", "supply", "miners"}, 0.7},
	{"Funding rates turn positive as traders rebuild long positions", []string{"derivatives", "funding rates", "leverage"}, 0.55},
	{"Pension fund discloses a spot bitcoin ETF stake", []string{"etf", "institutions", "pension"}, 0.7},
}

var bearishTemplates = []template{
	{"Spot bitcoin ETFs see {usdm} of outflows, the {ord} straight day", []string{"etf", "outflows", "institutions"}, 0.9},
	{"{agency} sues {exchange} over unregistered securities offerings", []string{"regulation", "enforcement", "exchange"}, 0.8},
	{"{country} moves to restrict crypto trading for retail investors", []string{"regulation", "ban", "retail"}, 0.65},
	{"{exchange} halts withdrawals after a {usdm} hot-wallet hack", []string{"hack", "exchange", "security"}, 0.85},
	{"Long liquidations top {usdm} as leverage unwinds", []string{"liquidation", "leverage", "derivatives"}, 0.8},
	{"Hotter-than-expected inflation print dims Fed rate-cut hopes", []string{"fed", "inflation", "macro", "rates"}, 0.75},
	{"Miners send {btc} to exchanges as margins compress", []string{"miners", "selling pressure", "exchange inflows"}, 0.6},
	{"Dormant whale moves {btc} to an exchange after {years} years", []string{"whales", "exchange inflows", "selling pressure"}, 0.7},
	{"Stablecoin briefly loses its dollar peg, rattling traders", []string{"stablecoin", "depeg", "contagion"}, 0.7},
	{"Hashrate drops {pct} as a heat wave curtails mining in {state}", []string{"hashrate", "miners", "energy"}, 0.45},
	{"Creditor repayments put {btc} of supply overhang on the market", []string{"repayments", "supply", "selling pressure"}, 0.7},
	{"Funding rates flip negative as traders pile into shorts", []string{"derivatives", "funding rates", "shorts"}, 0.55},
	{"Custodian outage freezes client bitcoin withdrawals", []string{"custody", "outage", "security"}, 0.6},
	{"Government wallet moves {btc} of seized bitcoin to exchanges", []string{"government", "selling pressure", "exchange inflows"}, 0.75},
}

var neutralTemplates = []template{
	{"Bitcoin trades sideways ahead of {event}", []string{"macro", "volatility", "range"}, 0.5},
	{"{agency} opens a public consultation on stablecoin rules", []string{"regulation", "stablecoin", "consultation"}, 0.45},
	{"Miners brace for a {pct} difficulty adjustment this week", []string{"miners", "difficulty", "hashrate"}, 0.4},
	{"Options market prices a {pct} move into Friday's expiry", []string{"options", "volatility", "derivatives"}, 0.5},
	{"{exchange} lists new bitcoin perpetual contracts", []string{"exchange", "derivatives", "listing"}, 0.35},
	{"Halving countdown: {days} days until the block reward falls", []string{"halving", "miners", "supply"}, 0.5},
	{"Custody providers report steady institutional demand", []string{"custody", "institutions"}, 0.45},
	{"Fed minutes due; crypto desks expect a muted reaction", []string{"fed", "macro", "rates"}, 0.5},
	{"ETF issuers file routine fee updates with the {agency}", []string{"etf", "fees", "regulation"}, 0.35},
	{"On-chain activity flat as fees stay near yearly lows", []string{"on-chain", "fees", "activity"}, 0.35},
}
