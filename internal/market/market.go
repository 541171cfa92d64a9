// Package market owns LINE's market data: the daily OHLCV candle type that
// goes into signed evidence, its invariants (Validate), the strict parsers for
// the two external formats (Binance klines JSON and CSV) and the three
// sources a cycle can ingest from: a deterministic synthetic market
// ("builtin"), a CSV file ("csv:PATH") and the Binance public REST API
// ("binance").
//
// Every source returns the Request.Limit most recent bars that closed
// before the cycle's slot, oldest first, and validated. Errors caused by bad
// input (a malformed file or answer, a failed invariant, a 4xx answer, too
// little history) are marked with fault.Input; network and I/O failures are
// left unmarked.
package market

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/vision-ios/vios/internal/fault"
)

// Day is the length of a 1d bar.
const Day = 24 * time.Hour

// MaxLimit is the largest Request.Limit any source accepts (Binance's own
// per-request maximum).
const MaxLimit = 1000

// Candle is one OHLCV bar. JSON field names are fixed (they go into signed
// evidence).
type Candle struct {
	OpenTime  time.Time `json:"open_time"` // UTC
	Open      float64   `json:"open"`
	High      float64   `json:"high"`
	Low       float64   `json:"low"`
	Close     float64   `json:"close"`
	Volume    float64   `json:"volume"`
	CloseTime time.Time `json:"close_time"` // UTC, OpenTime + 24h - 1ms for 1d bars
}

// Request says which bars a cycle needs.
type Request struct {
	Symbol   string    // e.g. "BTCUSDT"
	Interval string    // only "1d" is supported
	Limit    int       // number of bars, 1..MaxLimit
	Slot     time.Time // the cycle's slot: bars must close strictly before it
}

// Source provides candles.
type Source interface {
	// Name is the source's spec: "builtin", "csv:PATH" or "binance".
	Name() string
	// Fetch returns the req.Limit most recent bars whose CloseTime is before
	// req.Slot, oldest first; they pass Validate.
	Fetch(ctx context.Context, req Request) ([]Candle, error)
}

// Options configures the network source; the zero value gives the defaults.
type Options struct {
	BinanceBaseURL string        // default "https://api.binance.com"
	HTTPClient     *http.Client  // default: a client with Timeout
	Timeout        time.Duration // per request (attempt); default 10s
	// Retries bounds the retries after a failed first attempt on 429, 418,
	// 5xx and transport errors: 0 means the default 3, a negative value means
	// no retries, at most 10.
	Retries int

	backoff time.Duration // first retry delay, doubled per retry; tests shorten it
}

// Defaults of Options.
const (
	DefaultBinanceBaseURL = "https://api.binance.com"
	DefaultTimeout        = 10 * time.Second
	DefaultRetries        = 3
	maxRetries            = 10
)

// NewSource returns the source for spec: "builtin", "csv:PATH" or "binance".
// An unknown spec or a bad option is a fault.Input error.
func NewSource(spec string, opt Options) (Source, error) {
	switch {
	case spec == "builtin":
		return builtinSource{}, nil
	case strings.HasPrefix(spec, "csv:"):
		path := strings.TrimPrefix(spec, "csv:")
		if strings.TrimSpace(path) == "" {
			return nil, fault.Inputf("market source %q: empty csv path", spec)
		}
		return csvSource{path: path}, nil
	case spec == "binance":
		return newBinance(opt)
	default:
		return nil, fault.Inputf("market source %q: want builtin, csv:PATH or binance", spec)
	}
}

// Time bounds of bars and slots: generous, but they keep every timestamp
// formattable as RFC 3339 and every millisecond count far from overflow.
var (
	minTime = time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)
	maxTime = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)
	// slots are later bounded to the Unix era so that the history before
	// them stays inside [minTime, maxTime).
	minSlot = time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)
)

// check validates a request; every failure is bad input.
func (r Request) check() error {
	if !validSymbol(r.Symbol) {
		return fault.Inputf("market request: invalid symbol %q (want 2-20 upper-case letters or digits)", r.Symbol)
	}
	if r.Interval != "1d" {
		return fault.Inputf("market request: unsupported interval %q (only 1d)", r.Interval)
	}
	if r.Limit < 1 || r.Limit > MaxLimit {
		return fault.Inputf("market request: limit %d outside 1..%d", r.Limit, MaxLimit)
	}
	if r.Slot.Before(minSlot) || !r.Slot.Before(maxTime) {
		return fault.Inputf("market request: slot %s outside %s..%s", fmtTime(r.Slot), fmtTime(minSlot), fmtTime(maxTime))
	}
	return nil
}

func validSymbol(s string) bool {
	if len(s) < 2 || len(s) > 20 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 'A' || c > 'Z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// lastClosedOpen returns the open time of the most recent UTC-midnight 1d bar
// whose close time (open + 24h - 1ms) is strictly before slot.
func lastClosedOpen(slot time.Time) time.Time {
	t := slot.UTC().Add(-(Day - time.Millisecond))
	d := t.Truncate(Day) // the zero time is a UTC midnight
	if !d.Before(t) {
		d = d.Add(-Day)
	}
	return d
}

// selectBefore keeps the bars that close before slot and returns the last
// limit of them; fewer is bad input naming how many were found.
func selectBefore(name string, c []Candle, req Request) ([]Candle, error) {
	n := 0
	for n < len(c) && c[n].CloseTime.Before(req.Slot) {
		n++
	}
	// c is sorted by open time and every close time is open+24h-1ms, so
	// the bars closing before the slot are a prefix.
	if n < req.Limit {
		return nil, fault.Inputf("%s: only %d bars close before slot %s, need %d", name, n, fmtTime(req.Slot), req.Limit)
	}
	out := make([]Candle, req.Limit)
	copy(out, c[n-req.Limit:n])
	return out, nil
}

// Validate checks the candle invariants: prices finite and > 0, volume
// finite and >= 0, Low <= min(Open, Close) <= max(Open, Close) <= High, all
// times UTC, CloseTime = OpenTime + 24h - 1ms and OpenTime strictly
// increasing by exactly 24h. A violation is a fault.Input error naming the
// bar and the field.
func Validate(c []Candle) error {
	return validateAt(c, func(i int) string {
		return fmt.Sprintf("candle %d (open_time %s)", i, fmtTime(c[i].OpenTime))
	})
}

// validateAt is Validate with the bars located by where (a line, an index).
func validateAt(c []Candle, where func(i int) string) error {
	for i := range c {
		if err := checkBar(&c[i]); err != nil {
			return fault.Inputf("%s: %v", where(i), err)
		}
		if i > 0 {
			if err := checkStep(&c[i-1], &c[i]); err != nil {
				return fault.Inputf("%s: %v", where(i), err)
			}
		}
	}
	return nil
}

// checkBar checks one bar on its own.
func checkBar(b *Candle) error {
	if b.OpenTime.Location() != time.UTC {
		return errors.New("open_time is not UTC")
	}
	if b.CloseTime.Location() != time.UTC {
		return errors.New("close_time is not UTC")
	}
	if b.OpenTime.Before(minTime) || !b.OpenTime.Before(maxTime) {
		return fmt.Errorf("open_time %s outside %s..%s", fmtTime(b.OpenTime), fmtTime(minTime), fmtTime(maxTime))
	}
	if want := b.OpenTime.Add(Day - time.Millisecond); !b.CloseTime.Equal(want) {
		return fmt.Errorf("close_time %s, want open_time+24h-1ms = %s", fmtTime(b.CloseTime), fmtTime(want))
	}
	for _, f := range [...]struct {
		name string
		v    float64
	}{{"open", b.Open}, {"high", b.High}, {"low", b.Low}, {"close", b.Close}} {
		if math.IsNaN(f.v) || math.IsInf(f.v, 0) || f.v <= 0 {
			return fmt.Errorf("%s %v: must be finite and > 0", f.name, f.v)
		}
	}
	if math.IsNaN(b.Volume) || math.IsInf(b.Volume, 0) || b.Volume < 0 {
		return fmt.Errorf("volume %v: must be finite and >= 0", b.Volume)
	}
	if b.Low > b.High {
		return fmt.Errorf("low %v > high %v", b.Low, b.High)
	}
	if hi := math.Max(b.Open, b.Close); b.High < hi {
		return fmt.Errorf("high %v < max(open, close) %v", b.High, hi)
	}
	if lo := math.Min(b.Open, b.Close); b.Low > lo {
		return fmt.Errorf("low %v > min(open, close) %v", b.Low, lo)
	}
	return nil
}

// checkStep checks that cur opens exactly 24h after prev.
func checkStep(prev, cur *Candle) error {
	switch {
	case cur.OpenTime.Equal(prev.OpenTime):
		return fmt.Errorf("duplicate open_time %s", fmtTime(cur.OpenTime))
	case cur.OpenTime.Before(prev.OpenTime):
		return fmt.Errorf("open_time %s is before the previous bar's %s (unsorted)", fmtTime(cur.OpenTime), fmtTime(prev.OpenTime))
	case !cur.OpenTime.Equal(prev.OpenTime.Add(Day)):
		return fmt.Errorf("open_time %s is not 24h after the previous bar's %s (gap)", fmtTime(cur.OpenTime), fmtTime(prev.OpenTime))
	}
	return nil
}

func fmtTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// notExistInput marks a missing file as bad input (the path is
// configuration); other file errors stay runtime errors.
func notExistInput(err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return fault.Input(err)
	}
	return err
}
