package market

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/vision-ios/vios/internal/fault"
)

// The builtin source is a deterministic synthetic BTCUSDT market. Every
// day n (days since the Unix epoch, UTC) has its own random stream, seeded
// by sha256("vios-builtin-market:" + YYYY-MM-DD), and its candle is a pure
// function of n: hourly slots on one day see identical history and the next
// day's history is the same list shifted by one bar, whatever slot asks.
//
// The log close of day n is
//
//	L(n) = center + bound * tanh((S(n) + R(n)) / bound)
//
// where
//
//   - S(n) is a sum of four slow sinusoids (periods of about 4 years, 13,
//     5 and 2 months) that carries the price between bull and bear phases;
//   - R(n) = sum_{k<60} g(k) * x(n-k) is a tapered window over the last 60
//     daily shocks, g(k) = 1 for k < 30 and falling linearly to 0 at 60, so
//     a day's return is essentially its own shock x(n) and old shocks fade
//     out over one to two months (a short random walk that never drifts
//     off); summing in a fixed order keeps L(n) bit-identical whichever
//     window computes it;
//   - x(n) = mu + sigma*z + jump: mu and sigma come from the regime of the
//     24-day block holding n (up, down, volatile or calm, chosen by
//     sha256("vios-builtin-market:regime:" + block)), z is standard normal
//     and a jump of 6-15 % in either direction occurs on about 3 % of days;
//   - the tanh keeps prices within about 17k-125k USDT (center 47k).
//
// Open(n) is Close(n-1); the wicks add a random extension scaled by the
// regime's sigma; the volume is about 15k BTC, lognormal, scaled by the
// regime and by (1 + 10*|return|). Prices are rounded to 2 decimals and
// volumes to 4, which also absorbs last-bit differences between math
// library implementations on other architectures. One Fetch of 90 bars hashes about 160 days and does
// about 5k multiply-adds: a few tens of microseconds.
type builtinSource struct{}

func (builtinSource) Name() string { return "builtin" }

const (
	bWindow      = 60 // shocks in R(n)
	bFlat        = 30 // full-weight part of the window
	bCenter      = 10.758
	bBound       = 1.0
	bRegimeDays  = 24
	bRegimeShift = 11 // block boundaries do not fall on the Unix epoch
	bJumpProb    = 0.03
)

// bRegime is one market regime.
type bRegime struct {
	mu, sigma float64 // daily log drift and volatility
	volume    float64 // volume multiplier
}

var bRegimes = [...]bRegime{
	{mu: 0.0055, sigma: 0.026, volume: 1.1},  // trending up
	{mu: -0.0055, sigma: 0.032, volume: 1.3}, // trending down
	{mu: 0, sigma: 0.046, volume: 1.5},       // volatile
	{mu: 0.0005, sigma: 0.015, volume: 0.75}, // calm
}

// bSines are the slow components of S(n): amplitude, period in days, phase.
var bSines = [...][3]float64{
	{0.45, 1461, 0.7},
	{0.20, 397, 2.1},
	{0.09, 151, 4.4},
	{0.04, 59, 1.3},
}

// bWeights are g(0..bWindow-1).
var bWeights = func() (g [bWindow]float64) {
	for k := range g {
		if k < bFlat {
			g[k] = 1
		} else {
			g[k] = float64(bWindow-k) / float64(bWindow-bFlat)
		}
	}
	return g
}()

// bDay is the random draw of one day.
type bDay struct {
	regime int
	shock  float64 // x(n)
	hiZ    float64 // wick draws
	loZ    float64
	volZ   float64 // volume draw
}

// splitmix is the SplitMix64 generator: tiny, fully specified, so the
// synthetic data cannot change with a Go release.
type splitmix struct{ s uint64 }

func (r *splitmix) next() uint64 {
	r.s += 0x9e3779b97f4a7c15
	z := r.s
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// uniform returns a float in (0, 1).
func (r *splitmix) uniform() float64 {
	return (float64(r.next()>>11) + 0.5) / (1 << 53)
}

// normal returns a standard normal draw (Box-Muller, one value per call).
func (r *splitmix) normal() float64 {
	u1, u2 := r.uniform(), r.uniform()
	return math.Sqrt(-2*math.Log(u1)) * math.Cos(2*math.Pi*u2)
}

func seeded(label string) splitmix {
	sum := sha256.Sum256([]byte(label))
	return splitmix{s: binary.BigEndian.Uint64(sum[:8]) ^ binary.BigEndian.Uint64(sum[8:16])}
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func bRegimeOf(block int64) int {
	r := seeded("vios-builtin-market:regime:" + strconv.FormatInt(block, 10))
	u := r.uniform()
	switch {
	case u < 0.30:
		return 0
	case u < 0.55:
		return 1
	case u < 0.75:
		return 2
	default:
		return 3
	}
}

func bDate(n int64) string { return time.Unix(n*86400, 0).UTC().Format("2006-01-02") }

func bDraw(n int64, regime int) bDay {
	r := seeded("vios-builtin-market:" + bDate(n))
	reg := bRegimes[regime]
	d := bDay{regime: regime}
	d.shock = reg.mu + reg.sigma*r.normal()
	if r.uniform() < bJumpProb {
		size := 0.06 + 0.09*r.uniform()
		if r.uniform() < 0.5 {
			size = -size
		}
		d.shock += size
	} else {
		r.uniform()
		r.uniform()
	}
	d.hiZ = r.normal()
	d.loZ = r.normal()
	d.volZ = r.normal()
	return d
}

func bSlow(n int64) float64 {
	s := 0.0
	x := float64(n)
	for _, c := range bSines {
		s += c[0] * math.Sin(2*math.Pi*x/c[1]+c[2])
	}
	return s
}

func round2(v float64) float64 { return math.Round(v*100) / 100 }
func round4(v float64) float64 { return math.Round(v*1e4) / 1e4 }

func (b builtinSource) Fetch(ctx context.Context, req Request) ([]Candle, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := req.check(); err != nil {
		return nil, err
	}
	if req.Symbol != "BTCUSDT" {
		return nil, fault.Inputf("builtin market: unsupported symbol %q (only BTCUSDT)", req.Symbol)
	}
	c := builtinCandles(lastClosedOpen(req.Slot), req.Limit)
	if err := Validate(c); err != nil {
		return nil, fmt.Errorf("builtin market: internal error: %v", err) // a bug, not bad input
	}
	return c, nil
}

// builtinCandles returns the limit daily bars ending with the one opening
// at last (a UTC midnight).
func builtinCandles(last time.Time, limit int) []Candle {
	nLast := floorDiv(last.Unix(), 86400)
	nFirst := nLast - int64(limit) + 1
	// L is needed from nFirst-1 (the first open) to nLast, and each L(n)
	// needs the shocks of n-bWindow+1..n.
	lo := nFirst - 1 - (bWindow - 1)
	days := make([]bDay, nLast-lo+1)
	block, regime := int64(math.MinInt64), 0
	for i := range days {
		n := lo + int64(i)
		if bl := floorDiv(n+bRegimeShift, bRegimeDays); bl != block {
			block, regime = bl, bRegimeOf(bl)
		}
		days[i] = bDraw(n, regime)
	}
	logClose := func(n int64) float64 {
		r := 0.0
		base := int(n - lo)
		for k := 0; k < bWindow; k++ {
			r += bWeights[k] * days[base-k].shock
		}
		return bCenter + bBound*math.Tanh((bSlow(n)+r)/bBound)
	}
	out := make([]Candle, limit)
	prevL := logClose(nFirst - 1)
	prevClose := round2(math.Exp(prevL))
	for i := range out {
		n := nFirst + int64(i)
		d := days[n-lo]
		reg := bRegimes[d.regime]
		l := logClose(n)
		open, cls := prevClose, round2(math.Exp(l))
		hi := math.Max(open, cls)
		lw := math.Min(open, cls)
		high := math.Max(round2(hi*math.Exp(0.002+0.45*reg.sigma*math.Abs(d.hiZ))), hi)
		low := math.Min(round2(lw*math.Exp(-(0.002+0.45*reg.sigma*math.Abs(d.loZ)))), lw)
		ret := math.Abs(l - prevL)
		vol := round4(15000 * math.Exp(0.25*d.volZ) * reg.volume * (1 + 10*ret))
		ot := time.Unix(n*86400, 0).UTC()
		out[i] = Candle{
			OpenTime:  ot,
			Open:      open,
			High:      high,
			Low:       low,
			Close:     cls,
			Volume:    vol,
			CloseTime: ot.Add(Day - time.Millisecond),
		}
		prevL, prevClose = l, cls
	}
	return out
}
