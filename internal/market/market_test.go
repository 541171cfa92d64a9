package market

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vision-ios/vios/internal/fault"
	"github.com/vision-ios/vios/internal/gctune"
)

func day(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

func req90(slot time.Time) Request {
	return Request{Symbol: "BTCUSDT", Interval: "1d", Limit: 90, Slot: slot}
}

// wantInput asserts err is a one-line fault.Input error containing every
// fragment.
func wantInput(t *testing.T, err error, frags ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want input error containing %q", frags)
	}
	if !fault.IsInput(err) {
		t.Errorf("error %q: exit code %d, want %d (input)", err, fault.Code(err), fault.CodeInput)
	}
	checkMessage(t, err, frags...)
}

// wantRuntime asserts err is an unmarked (exit 3) error containing every
// fragment.
func wantRuntime(t *testing.T, err error, frags ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want runtime error containing %q", frags)
	}
	if c := fault.Code(err); c != fault.CodeRuntime {
		t.Errorf("error %q: exit code %d, want %d (runtime)", err, c, fault.CodeRuntime)
	}
	checkMessage(t, err, frags...)
}

func checkMessage(t *testing.T, err error, frags ...string) {
	t.Helper()
	msg := err.Error()
	if strings.ContainsAny(msg, "\n\r") {
		t.Errorf("error %q spans several lines", msg)
	}
	for _, f := range frags {
		if !strings.Contains(msg, f) {
			t.Errorf("error %q does not contain %q", msg, f)
		}
	}
}

func mustJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestNewSource(t *testing.T) {
	tests := []struct {
		spec, name string
		opt        Options
		err        string // "" = ok
	}{
		{spec: "builtin", name: "builtin"},
		{spec: "csv:data/btc.csv", name: "csv:data/btc.csv"},
		{spec: "binance", name: "binance"},
		{spec: "binance", name: "binance", opt: Options{BinanceBaseURL: "http://127.0.0.1:8080/proxy/"}},
		{spec: "", err: `market source "": want builtin, csv:PATH or binance`},
		{spec: "Builtin", err: `market source "Builtin"`},
		{spec: "csv:", err: "empty csv path"},
		{spec: "binance:x", err: `market source "binance:x"`},
		{spec: "binance", opt: Options{BinanceBaseURL: "ftp://api.binance.com"}, err: "want http(s)://host"},
		{spec: "binance", opt: Options{BinanceBaseURL: "https://"}, err: "want http(s)://host"},
		{spec: "binance", opt: Options{BinanceBaseURL: "api.binance.com"}, err: "want http(s)://host"},
		{spec: "binance", opt: Options{BinanceBaseURL: "https://h/?x=1"}, err: "must not carry a query"},
		{spec: "binance", opt: Options{BinanceBaseURL: "https://h\x7f"}, err: "binance base url"},
		{spec: "binance", opt: Options{Timeout: -time.Second}, err: "binance timeout -1s: must be positive"},
		{spec: "binance", opt: Options{Retries: 11}, err: "binance retries 11: at most 10"},
	}
	for _, tt := range tests {
		t.Run(tt.spec+"/"+tt.opt.BinanceBaseURL, func(t *testing.T) {
			s, err := NewSource(tt.spec, tt.opt)
			if tt.err != "" {
				wantInput(t, err, tt.err)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s.Name() != tt.name {
				t.Errorf("Name() = %q, want %q", s.Name(), tt.name)
			}
		})
	}
}

func TestBinanceDefaults(t *testing.T) {
	tests := []struct {
		opt         Options
		retries     int
		timeout     time.Duration
		endpointURL string
	}{
		{Options{}, 3, 10 * time.Second, "https://api.binance.com/api/v3/klines"},
		{Options{Retries: -1, Timeout: time.Second}, 0, time.Second, "https://api.binance.com/api/v3/klines"},
		{Options{Retries: 7, BinanceBaseURL: "http://x:1/p/"}, 7, 10 * time.Second, "http://x:1/p/api/v3/klines"},
	}
	for i, tt := range tests {
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			s, err := newBinance(tt.opt)
			if err != nil {
				t.Fatal(err)
			}
			if s.retries != tt.retries || s.timeout != tt.timeout || s.endpoint != tt.endpointURL || s.client == nil {
				t.Errorf("got retries %d timeout %s endpoint %s", s.retries, s.timeout, s.endpoint)
			}
		})
	}
}

func TestRequestCheck(t *testing.T) {
	slot := day(2025, 3, 1)
	tests := []struct {
		name string
		req  Request
		err  string
	}{
		{"symbol empty", Request{Interval: "1d", Limit: 90, Slot: slot}, `invalid symbol ""`},
		{"symbol lower", Request{Symbol: "btcusdt", Interval: "1d", Limit: 90, Slot: slot}, `invalid symbol "btcusdt"`},
		{"symbol slash", Request{Symbol: "BTC/USDT", Interval: "1d", Limit: 90, Slot: slot}, `invalid symbol "BTC/USDT"`},
		{"interval", Request{Symbol: "BTCUSDT", Interval: "1h", Limit: 90, Slot: slot}, `unsupported interval "1h" (only 1d)`},
		{"limit 0", Request{Symbol: "BTCUSDT", Interval: "1d", Slot: slot}, "limit 0 outside 1..1000"},
		{"limit big", Request{Symbol: "BTCUSDT", Interval: "1d", Limit: 1001, Slot: slot}, "limit 1001 outside 1..1000"},
		{"zero slot", Request{Symbol: "BTCUSDT", Interval: "1d", Limit: 90}, "slot 0001-01-01T00:00:00Z outside"},
		{"far slot", Request{Symbol: "BTCUSDT", Interval: "1d", Limit: 90, Slot: day(9999, 6, 1)}, "slot 9999-06-01T00:00:00Z outside"},
	}
	src := []string{"builtin", "csv:/nonexistent.csv", "binance"}
	for _, tt := range tests {
		for _, spec := range src {
			t.Run(tt.name+"/"+spec, func(t *testing.T) {
				s, err := NewSource(spec, Options{BinanceBaseURL: "http://127.0.0.1:1"})
				if err != nil {
					t.Fatal(err)
				}
				_, err = s.Fetch(context.Background(), tt.req)
				wantInput(t, err, "market request: "+tt.err)
			})
		}
	}
}

func TestLastClosedOpen(t *testing.T) {
	tests := []struct {
		slot, want time.Time
	}{
		{day(2025, 5, 10), day(2025, 5, 9)},
		{day(2025, 5, 10).Add(time.Nanosecond), day(2025, 5, 9)},
		{day(2025, 5, 10).Add(13 * time.Hour), day(2025, 5, 9)},
		{day(2025, 5, 10).Add(Day - time.Millisecond), day(2025, 5, 9)},
		{day(2025, 5, 10).Add(Day - time.Millisecond + time.Nanosecond), day(2025, 5, 10)},
		{day(2025, 5, 10).Add(-time.Nanosecond), day(2025, 5, 9)},
		{day(2025, 5, 10).Add(-time.Millisecond), day(2025, 5, 8)},
		{time.Date(2025, 5, 10, 2, 0, 0, 0, time.FixedZone("X", 5*3600)), day(2025, 5, 8)},
		{day(1970, 1, 1), day(1969, 12, 31)},
	}
	for _, tt := range tests {
		t.Run(tt.slot.Format(time.RFC3339Nano), func(t *testing.T) {
			if got := lastClosedOpen(tt.slot); !got.Equal(tt.want) {
				t.Errorf("lastClosedOpen = %s, want %s", got, tt.want)
			}
		})
	}
}

// testSlots returns slots spread over many years, at odd hours and
// sub-second offsets.
func testSlots() []time.Time {
	var out []time.Time
	base := day(2017, 8, 17)
	for i := 0; i < 160; i++ {
		out = append(out, base.Add(time.Duration(i)*(37*Day+5*time.Hour+17*time.Minute+time.Duration(i)*time.Millisecond)))
	}
	return append(out, day(1970, 3, 1), day(2000, 2, 29), day(2100, 1, 1).Add(time.Nanosecond), day(9998, 12, 1))
}

func TestBuiltinDeterminismAndInvariants(t *testing.T) {
	s, _ := NewSource("builtin", Options{})
	for _, slot := range testSlots() {
		t.Run(slot.Format(time.RFC3339Nano), func(t *testing.T) {
			a, err := s.Fetch(context.Background(), req90(slot))
			if err != nil {
				t.Fatal(err)
			}
			b, err := s.Fetch(context.Background(), req90(slot))
			if err != nil {
				t.Fatal(err)
			}
			if mustJSON(t, a) != mustJSON(t, b) {
				t.Fatal("two fetches of one slot differ")
			}
			if len(a) != 90 {
				t.Fatalf("got %d bars, want 90", len(a))
			}
			if err := Validate(a); err != nil {
				t.Fatal(err)
			}
			last := a[len(a)-1]
			if !last.CloseTime.Before(slot) || !last.CloseTime.Add(Day).After(slot) && !last.CloseTime.Add(Day).Equal(slot) {
				t.Errorf("last bar closes %s: not the latest bar closing before slot %s", last.CloseTime, slot)
			}
			for _, c := range a {
				for _, p := range []float64{c.Open, c.High, c.Low, c.Close} {
					if p != math.Round(p*100)/100 {
						t.Fatalf("%s: price %v not rounded to 2 decimals", c.OpenTime, p)
					}
					if p < 10000 || p > 200000 {
						t.Fatalf("%s: price %v outside the plausible range", c.OpenTime, p)
					}
				}
				if c.Volume != math.Round(c.Volume*1e4)/1e4 || c.Volume < 1000 || c.Volume > 300000 {
					t.Fatalf("%s: volume %v", c.OpenTime, c.Volume)
				}
				if c.OpenTime.Hour() != 0 || c.OpenTime.Minute() != 0 {
					t.Fatalf("open time %s not at midnight", c.OpenTime)
				}
			}
			for i := 1; i < len(a); i++ {
				if a[i].Open != a[i-1].Close {
					t.Fatalf("bar %d opens at %v, previous close %v", i, a[i].Open, a[i-1].Close)
				}
			}
		})
	}
}

func TestBuiltinSameDayAndShift(t *testing.T) {
	s, _ := NewSource("builtin", Options{})
	for _, d := range []time.Time{day(2019, 1, 1), day(2024, 2, 29), day(2026, 7, 14), day(2031, 12, 31)} {
		t.Run(d.Format("2006-01-02"), func(t *testing.T) {
			ref, err := s.Fetch(context.Background(), req90(d))
			if err != nil {
				t.Fatal(err)
			}
			want := mustJSON(t, ref)
			for h := 1; h < 24; h++ {
				got, err := s.Fetch(context.Background(), req90(d.Add(time.Duration(h)*time.Hour+time.Duration(h)*time.Minute)))
				if err != nil {
					t.Fatal(err)
				}
				if mustJSON(t, got) != want {
					t.Fatalf("slot %02d:00 sees another history than 00:00", h)
				}
			}
			next, err := s.Fetch(context.Background(), req90(d.Add(Day)))
			if err != nil {
				t.Fatal(err)
			}
			if mustJSON(t, next[:89]) != mustJSON(t, ref[1:]) {
				t.Fatal("the next day's history is not shifted by one bar")
			}
			if !next[89].OpenTime.Equal(d) {
				t.Errorf("the next day's last bar opens %s, want %s", next[89].OpenTime, d)
			}
			// A longer lookback is the same series.
			long, err := s.Fetch(context.Background(), Request{Symbol: "BTCUSDT", Interval: "1d", Limit: 1000, Slot: d})
			if err != nil {
				t.Fatal(err)
			}
			if mustJSON(t, long[910:]) != want {
				t.Fatal("the 1000-bar history does not end with the 90-bar history")
			}
		})
	}
}

func TestBuiltinRealism(t *testing.T) {
	s, _ := NewSource("builtin", Options{})
	var all []Candle
	for k := 1; k <= 4; k++ {
		c, err := s.Fetch(context.Background(), Request{Symbol: "BTCUSDT", Interval: "1d", Limit: 1000, Slot: day(2018, 1, 1).Add(time.Duration(k*1000) * Day)})
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, c...)
	}
	if err := Validate(all); err != nil {
		t.Fatal(err)
	}
	minP, maxP, bigMoves := math.Inf(1), 0.0, 0
	var up, down, calm, wild int
	var rets []float64
	for i, c := range all {
		minP, maxP = math.Min(minP, c.Low), math.Max(maxP, c.High)
		if i > 0 {
			r := math.Log(c.Close / all[i-1].Close)
			rets = append(rets, r)
			if math.Abs(r) > 0.08 {
				bigMoves++
			}
		}
	}
	var volHigh, volLow, nHigh, nLow float64
	for i, r := range rets {
		if math.Abs(r) > 0.05 {
			volHigh += all[i+1].Volume
			nHigh++
		} else if math.Abs(r) < 0.01 {
			volLow += all[i+1].Volume
			nLow++
		}
	}
	for i := 30; i <= len(rets); i += 30 {
		w := rets[i-30 : i]
		mean, ss := 0.0, 0.0
		for _, r := range w {
			mean += r
		}
		mean /= 30
		for _, r := range w {
			ss += (r - mean) * (r - mean)
		}
		sd := math.Sqrt(ss / 29)
		switch {
		case mean*30 > 0.12:
			up++
		case mean*30 < -0.12:
			down++
		}
		if sd < 0.022 {
			calm++
		}
		if sd > 0.038 {
			wild++
		}
	}
	t.Logf("price %.0f..%.0f, %d moves > 8%%, months: %d up, %d down, %d calm, %d volatile", minP, maxP, bigMoves, up, down, calm, wild)
	if minP < 12000 || maxP > 140000 || maxP/minP < 3 {
		t.Errorf("price range %.0f..%.0f, want roughly 20k-120k", minP, maxP)
	}
	if bigMoves < 10 {
		t.Errorf("%d daily moves above 8%% in 12 years, want occasional large moves", bigMoves)
	}
	if up < 5 || down < 5 || calm < 5 || wild < 5 {
		t.Errorf("regimes: %d up, %d down, %d calm, %d volatile months; want each present", up, down, calm, wild)
	}
	if volHigh/nHigh < 1.3*volLow/nLow {
		t.Errorf("mean volume on big-move days %.0f vs quiet days %.0f: not correlated with |return|", volHigh/nHigh, volLow/nLow)
	}
}

func TestBuiltinRejects(t *testing.T) {
	s, _ := NewSource("builtin", Options{})
	r := req90(day(2025, 1, 1))
	r.Symbol = "ETHUSDT"
	_, err := s.Fetch(context.Background(), r)
	wantInput(t, err, `builtin market: unsupported symbol "ETHUSDT" (only BTCUSDT)`)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Fetch(ctx, req90(day(2025, 1, 1))); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: got %v", err)
	}
}

// goodBar is a valid bar opening on d.
func goodBar(d time.Time) Candle {
	return Candle{OpenTime: d, Open: 100, High: 110, Low: 90, Close: 105, Volume: 12.5, CloseTime: d.Add(Day - time.Millisecond)}
}

func TestValidate(t *testing.T) {
	d := day(2025, 1, 1)
	mod := func(f func(c []Candle)) []Candle {
		c := []Candle{goodBar(d), goodBar(d.Add(Day)), goodBar(d.Add(2 * Day))}
		f(c)
		return c
	}
	tests := []struct {
		name string
		c    []Candle
		err  string
	}{
		{"ok", mod(func([]Candle) {}), ""},
		{"empty", nil, ""},
		{"zero volume", mod(func(c []Candle) { c[1].Volume = 0 }), ""},
		{"flat bar", mod(func(c []Candle) { c[1].Open, c[1].High, c[1].Low, c[1].Close = 5, 5, 5, 5 }), ""},
		{"nan open", mod(func(c []Candle) { c[1].Open = math.NaN() }), "candle 1 (open_time 2025-01-02T00:00:00Z): open NaN: must be finite and > 0"},
		{"inf high", mod(func(c []Candle) { c[0].High = math.Inf(1) }), "candle 0 (open_time 2025-01-01T00:00:00Z): high +Inf: must be finite and > 0"},
		{"zero low", mod(func(c []Candle) { c[2].Low = 0 }), "candle 2 (open_time 2025-01-03T00:00:00Z): low 0: must be finite and > 0"},
		{"negative close", mod(func(c []Candle) { c[2].Close = -1 }), "close -1: must be finite and > 0"},
		{"negative volume", mod(func(c []Candle) { c[2].Volume = -0.5 }), "volume -0.5: must be finite and >= 0"},
		{"nan volume", mod(func(c []Candle) { c[2].Volume = math.NaN() }), "volume NaN"},
		{"high below close", mod(func(c []Candle) { c[1].High = 104 }), "candle 1 (open_time 2025-01-02T00:00:00Z): high 104 < max(open, close) 105"},
		{"low above open", mod(func(c []Candle) { c[1].Low = 101 }), "low 101 > min(open, close) 100"},
		{"low above high", mod(func(c []Candle) { c[1].Low, c[1].High = 120, 110 }), "low 120 > high 110"},
		{"duplicate", mod(func(c []Candle) { c[2] = goodBar(d.Add(Day)) }), "candle 2 (open_time 2025-01-02T00:00:00Z): duplicate open_time 2025-01-02T00:00:00Z"},
		{"unsorted", mod(func(c []Candle) { c[2] = goodBar(d) }), "open_time 2025-01-01T00:00:00Z is before the previous bar's 2025-01-02T00:00:00Z (unsorted)"},
		{"gap", mod(func(c []Candle) { c[2] = goodBar(d.Add(3 * Day)) }), "open_time 2025-01-04T00:00:00Z is not 24h after the previous bar's 2025-01-02T00:00:00Z (gap)"},
		{"close time", mod(func(c []Candle) { c[0].CloseTime = c[0].CloseTime.Add(time.Millisecond) }), "close_time 2025-01-02T00:00:00Z, want open_time+24h-1ms = 2025-01-01T23:59:59.999Z"},
		{"not utc", mod(func(c []Candle) { c[0].OpenTime = c[0].OpenTime.In(time.FixedZone("CET", 3600)) }), "open_time is not UTC"},
		{"close not utc", mod(func(c []Candle) { c[0].CloseTime = c[0].CloseTime.In(time.FixedZone("CET", 3600)) }), "close_time is not UTC"},
		{"ancient", []Candle{goodBar(day(1800, 1, 1))}, "open_time 1800-01-01T00:00:00Z outside 1900-01-01T00:00:00Z..9999-01-01T00:00:00Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Validate(tt.c)
			if tt.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			wantInput(t, err, tt.err)
		})
	}
}

const csvHeader = "open_time,open,high,low,close,volume\n"

func TestParseCSV(t *testing.T) {
	d := day(2025, 1, 1)
	ms := strconv.FormatInt(d.UnixMilli(), 10)
	ms2 := strconv.FormatInt(d.Add(Day).UnixMilli(), 10)
	good := []struct {
		name, in string
		n        int
		first    Candle
	}{
		{"rfc3339", csvHeader + "2025-01-01T00:00:00Z,100,110,90,105,12.5\n2025-01-02T00:00:00Z,100,110,90,105,12.5\n", 2, goodBar(d)},
		{"epoch ms", csvHeader + ms + ",100,110,90,105,12.5\n" + ms2 + ",100,110,90,105,12.5\n", 2, goodBar(d)},
		{"offset time", csvHeader + "2025-01-01T01:00:00+01:00,100,110,90,105,12.5\n", 1, goodBar(d)},
		{"close_time", "open_time,open,high,low,close,volume,close_time\n2025-01-01T00:00:00Z,100,110,90,105,12.5,2025-01-01T23:59:59.999Z\n", 1, goodBar(d)},
		{"close_time ms", "open_time,open,high,low,close,volume,close_time\n" + ms + ",100,110,90,105,12.5," + strconv.FormatInt(d.Add(Day).UnixMilli()-1, 10) + "\n", 1, goodBar(d)},
		{"bom crlf spaces quotes", "\ufeffopen_time, open ,high,low,close,volume\r\n 2025-01-01T00:00:00Z , 100.00 ,\"110\",9e1,1.05E2,12.5\r\n\r\n", 1, goodBar(d)},
		{"header only", csvHeader, 0, Candle{}},
	}
	for _, tt := range good {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseCSV(strings.NewReader(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if len(c) != tt.n {
				t.Fatalf("got %d bars, want %d", len(c), tt.n)
			}
			if tt.n > 0 && !reflect.DeepEqual(c[0], tt.first) {
				t.Errorf("first bar %+v, want %+v", c[0], tt.first)
			}
		})
	}
	row := "2025-01-01T00:00:00Z,100,110,90,105,12.5\n"
	row2 := "2025-01-02T00:00:00Z,100,110,90,105,12.5\n"
	bad := []struct{ name, in, err string }{
		{"empty", "", "csv: empty input, want header open_time,open,high,low,close,volume[,close_time]"},
		{"no header", row, `csv: line 1: header column 1 is "2025-01-01T00:00:00Z", want "open_time"`},
		{"short header", "open_time,open,high\n", "csv: line 1: header has 3 columns, want open_time,open,high,low,close,volume[,close_time]"},
		{"wrong order", "open_time,open,low,high,close,volume\n", `csv: line 1: header column 3 is "low", want "high"`},
		{"upper case", "OPEN_TIME,open,high,low,close,volume\n", `header column 1 is "OPEN_TIME", want "open_time"`},
		{"unknown column", "open_time,open,high,low,close,volume,trades\n", `csv: line 1: unknown header column 7 "trades"`},
		{"extra after close_time", "open_time,open,high,low,close,volume,close_time,x\n", `csv: line 1: unknown header column 8 "x"`},
		{"too many columns", csvHeader + row + "2025-01-02T00:00:00Z,100,110,90,105,12.5,7\n", "csv: line 3: 7 columns, want 6 like the header"},
		{"too few columns", csvHeader + "2025-01-01T00:00:00Z,100,110,90,105\n", "csv: line 2: 5 columns, want 6 like the header"},
		{"bad number", csvHeader + row + "2025-01-02T00:00:00Z,100,11O,90,105,12.5\n", `csv: line 3, column "high": invalid number "11O"`},
		{"comma decimal", csvHeader + "2025-01-01T00:00:00Z,\"100,5\",110,90,105,12.5\n", `csv: line 2, column "open": invalid number "100,5"`},
		{"nan", csvHeader + "2025-01-01T00:00:00Z,NaN,110,90,105,12.5\n", `column "open": invalid number "NaN"`},
		{"inf", csvHeader + "2025-01-01T00:00:00Z,100,Inf,90,105,12.5\n", `column "high": invalid number "Inf"`},
		{"overflow", csvHeader + "2025-01-01T00:00:00Z,100,1e400,90,105,12.5\n", `column "high": invalid number "1e400"`},
		{"hex", csvHeader + "2025-01-01T00:00:00Z,100,0x1p7,90,105,12.5\n", `column "high": invalid number "0x1p7"`},
		{"empty cell", csvHeader + "2025-01-01T00:00:00Z,100,110,90,105,\n", `csv: line 2, column "volume": invalid number ""`},
		{"bad time", csvHeader + "2025-01-01 00:00:00,100,110,90,105,12.5\n", `csv: line 2, column "open_time": invalid time "2025-01-01 00:00:00"`},
		{"seconds not ms", csvHeader + "1e12,100,110,90,105,12.5\n", `column "open_time": invalid time "1e12"`},
		{"ms out of range", csvHeader + "999999999999999999,100,110,90,105,12.5\n", `column "open_time": invalid time "999999999999999999"`},
		{"bad close_time", "open_time,open,high,low,close,volume,close_time\n2025-01-01T00:00:00Z,100,110,90,105,12.5,soon\n", `csv: line 2, column "close_time": invalid time "soon"`},
		{"wrong close_time", "open_time,open,high,low,close,volume,close_time\n2025-01-01T00:00:00Z,100,110,90,105,12.5,2025-01-01T23:59:59Z\n", "csv: line 2: close_time 2025-01-01T23:59:59Z, want open_time+24h-1ms = 2025-01-01T23:59:59.999Z"},
		{"duplicate", csvHeader + row + row, "csv: line 3: duplicate open_time 2025-01-01T00:00:00Z"},
		{"unsorted", csvHeader + row2 + row, "csv: line 3: open_time 2025-01-01T00:00:00Z is before the previous bar's 2025-01-02T00:00:00Z (unsorted)"},
		{"gap", csvHeader + row + "2025-01-03T00:00:00Z,100,110,90,105,12.5\n", "csv: line 3: open_time 2025-01-03T00:00:00Z is not 24h after the previous bar's 2025-01-01T00:00:00Z (gap)"},
		{"high too low", csvHeader + "2025-01-01T00:00:00Z,100,101,90,105,12.5\n", "csv: line 2: high 101 < max(open, close) 105"},
		{"negative volume", csvHeader + "2025-01-01T00:00:00Z,100,110,90,105,-1\n", "csv: line 2: volume -1: must be finite and >= 0"},
		{"zero price", csvHeader + "2025-01-01T00:00:00Z,0,110,90,105,1\n", "csv: line 2: open 0: must be finite and > 0"},
		{"bad quote", csvHeader + "2025-01-01T00:00:00Z,1\"00,110,90,105,12.5\n", `csv: parse error on line 2, column 23: bare " in non-quoted-field`},
		{"line after blank", csvHeader + row + "\n\n" + "2025-01-02T00:00:00Z,x,110,90,105,12.5\n", `csv: line 5, column "open": invalid number "x"`},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseCSV(strings.NewReader(tt.in))
			if c != nil {
				t.Errorf("got %d bars with an error", len(c))
			}
			wantInput(t, err, tt.err)
		})
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("disk on fire") }

func TestParseCSVReadError(t *testing.T) {
	_, err := ParseCSV(failingReader{})
	wantRuntime(t, err, "csv: read: disk on fire")
}

// writeCSV writes bars as CSV, with epoch-millisecond times when ms.
func writeCSV(t *testing.T, c []Candle, ms bool) string {
	t.Helper()
	var b bytes.Buffer
	b.WriteString(csvHeader)
	for _, x := range c {
		ts := x.OpenTime.Format(time.RFC3339)
		if ms {
			ts = strconv.FormatInt(x.OpenTime.UnixMilli(), 10)
		}
		fmt.Fprintf(&b, "%s,%s,%s,%s,%s,%s\n", ts, ff(x.Open), ff(x.High), ff(x.Low), ff(x.Close), ff(x.Volume))
	}
	p := filepath.Join(t.TempDir(), "btc.csv")
	if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func ff(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

func TestCSVSource(t *testing.T) {
	last := day(2025, 6, 30)
	series := builtinCandles(last, 200) // 2024-12-13 .. 2025-06-30
	for _, ms := range []bool{false, true} {
		path := writeCSV(t, series, ms)
		s, err := NewSource("csv:"+path, Options{})
		if err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			name  string
			slot  time.Time
			limit int
			last  time.Time
			err   string
		}{
			{"after the file", day(2025, 9, 1), 90, last, ""},
			{"midnight", day(2025, 6, 1), 90, day(2025, 5, 31), ""},
			{"mid-day", day(2025, 6, 1).Add(15 * time.Hour), 90, day(2025, 5, 31), ""},
			{"whole file", day(2025, 7, 1), 200, last, ""},
			{"too early", day(2025, 2, 1), 90, time.Time{}, "only 50 bars close before slot 2025-02-01T00:00:00Z, need 90"},
			{"before the file", day(2024, 1, 1), 90, time.Time{}, "only 0 bars close before slot"},
		}
		for _, tt := range tests {
			t.Run(fmt.Sprintf("ms=%v/%s", ms, tt.name), func(t *testing.T) {
				c, err := s.Fetch(context.Background(), Request{Symbol: "BTCUSDT", Interval: "1d", Limit: tt.limit, Slot: tt.slot})
				if tt.err != "" {
					wantInput(t, err, "market csv:"+path+": "+tt.err)
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				if len(c) != tt.limit || !c[len(c)-1].OpenTime.Equal(tt.last) {
					t.Fatalf("got %d bars ending %s, want %d ending %s", len(c), c[len(c)-1].OpenTime, tt.limit, tt.last)
				}
				want := builtinCandles(tt.last, tt.limit)
				if mustJSON(t, c) != mustJSON(t, want) {
					t.Error("bars read back differ from the bars written")
				}
			})
		}
	}
	t.Run("missing file", func(t *testing.T) {
		s, _ := NewSource("csv:"+filepath.Join(t.TempDir(), "nope.csv"), Options{})
		_, err := s.Fetch(context.Background(), req90(day(2025, 1, 1)))
		wantInput(t, err, "nope.csv", "no such file")
	})
	t.Run("bad file", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "bad.csv")
		os.WriteFile(p, []byte(csvHeader+"2025-01-01T00:00:00Z,100,110,90,105,x\n"), 0o644)
		s, _ := NewSource("csv:"+p, Options{})
		_, err := s.Fetch(context.Background(), req90(day(2025, 1, 1)))
		wantInput(t, err, "market csv:"+p+`: csv: line 2, column "volume": invalid number "x"`)
	})
	t.Run("directory", func(t *testing.T) {
		s, _ := NewSource("csv:"+t.TempDir(), Options{})
		_, err := s.Fetch(context.Background(), req90(day(2025, 1, 1)))
		wantRuntime(t, err, "csv: read")
	})
}

// klineRow renders a bar in Binance's full 12-element row format.
func klineRow(c Candle) string {
	f8 := func(v float64) string { return strconv.Quote(strconv.FormatFloat(v, 'f', 8, 64)) }
	return fmt.Sprintf(`[%d,%s,%s,%s,%s,%s,%d,%s,%d,%s,%s,"0"]`,
		c.OpenTime.UnixMilli(), f8(c.Open), f8(c.High), f8(c.Low), f8(c.Close), f8(c.Volume),
		c.CloseTime.UnixMilli(), f8(c.Volume*c.Close), 1000+int(c.Volume), f8(c.Volume/2), f8(c.Volume*c.Close/2))
}

func klinesBody(c []Candle) string {
	rows := make([]string, len(c))
	for i, x := range c {
		rows[i] = klineRow(x)
	}
	return "[" + strings.Join(rows, ",") + "]"
}

func TestParseKlines(t *testing.T) {
	d := day(2025, 1, 1)
	ot := strconv.FormatInt(d.UnixMilli(), 10)
	ct := strconv.FormatInt(d.Add(Day).UnixMilli()-1, 10)
	real := `[[1735689600000,"93576.00000000","95151.15000000","92888.00000000","94591.79000000","10373.32613000",1735775999999,"975444290.88590630",1516556,"5281.22643000","496667924.61063590","0"],` +
		`[1735776000000,"94591.78000000","97839.50000000","94392.00000000","96984.79000000","21970.48948000",1735862399999,"2118411852.33370070",3569079,"10915.96986000","1052573138.62423120","0"]]`
	good := []struct {
		name, in string
		n        int
		first    Candle
	}{
		{"real", real, 2, Candle{OpenTime: d, Open: 93576, High: 95151.15, Low: 92888, Close: 94591.79, Volume: 10373.32613, CloseTime: d.Add(Day - time.Millisecond)}},
		{"six elements", `[[` + ot + `,"100","110","90","105","12.5"]]`, 1, goodBar(d)},
		{"seven elements", `[[` + ot + `,"100","110","90","105","12.5",` + ct + `]]`, 1, goodBar(d)},
		{"extra elements ignored", `[[` + ot + `,"100","110","90","105","12.5",` + ct + `,{},null,[],true,"x",1]]`, 1, goodBar(d)},
		{"whitespace", " \n[ [ " + ot + " , \"100\" , \"110\",\"90\",\"105\",\"12.5\" ] ]\n", 1, goodBar(d)},
		{"empty", `[]`, 0, Candle{}},
	}
	for _, tt := range good {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseKlines([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if len(c) != tt.n {
				t.Fatalf("got %d bars, want %d", len(c), tt.n)
			}
			if tt.n > 0 && !reflect.DeepEqual(c[0], tt.first) {
				t.Errorf("first bar %+v, want %+v", c[0], tt.first)
			}
		})
	}
	row := func(cells string) string { return `[[` + cells + `]]` }
	bad := []struct{ name, in, err string }{
		{"empty body", ``, `klines: body is not a JSON array: ""`},
		{"object", `{"code":-1121,"msg":"Invalid symbol."}`, `klines: body is not a JSON array: "{\"code\":-1121`},
		{"null", `null`, "klines: body is not a JSON array"},
		{"truncated", `[[` + ot + `,"100"`, "klines: invalid JSON"},
		{"trailing", `[] []`, "klines: invalid JSON"},
		{"row not array", `[{"a":1}]`, `klines[0]: row is not an array: "{\"a\":1}"`},
		{"row null", `[null]`, `klines[0]: row is not an array: "null"`},
		{"short row", row(ot + `,"100","110","90","105"`), "klines[0]: 5 elements, want at least 6"},
		{"time as string", row(`"` + ot + `","100","110","90","105","12.5"`), `klines[0][0] (open_time): want a JSON integer of milliseconds in 1900-01-01T00:00:00Z..9999-01-01T00:00:00Z, got "\"1735689600000\""`},
		{"time float", row(`1.7356896e12,"100","110","90","105","12.5"`), `klines[0][0] (open_time): want a JSON integer`},
		{"time huge", row(`99999999999999999999,"100","110","90","105","12.5"`), `klines[0][0] (open_time): want a JSON integer`},
		{"price number", row(ot + `,100,"110","90","105","12.5"`), `klines[0][1] (open): want a JSON string holding a decimal, got "100"`},
		{"price garbage", row(ot + `,"100","abc","90","105","12.5"`), `klines[0][2] (high): invalid decimal "abc"`},
		{"price nan", row(ot + `,"100","110","NaN","105","12.5"`), `klines[0][3] (low): invalid decimal "NaN"`},
		{"price inf", row(ot + `,"100","110","90","Infinity","12.5"`), `klines[0][4] (close): invalid decimal "Infinity"`},
		{"price empty", row(ot + `,"100","110","90","105",""`), `klines[0][5] (volume): invalid decimal ""`},
		{"negative volume", row(ot + `,"100","110","90","105","-12.5"`), "klines[0]: volume -12.5: must be finite and >= 0"},
		{"negative price", row(ot + `,"-100","110","90","105","12.5"`), "klines[0]: open -100: must be finite and > 0"},
		{"close time string", row(ot + `,"100","110","90","105","12.5","` + ct + `"`), `klines[0][6] (close_time): want a JSON integer`},
		{"close time wrong", row(ot + `,"100","110","90","105","12.5",` + ot), "klines[0]: close_time 2025-01-01T00:00:00Z, want open_time+24h-1ms"},
		{"high below", row(ot + `,"100","104","90","105","12.5"`), "klines[0]: high 104 < max(open, close) 105"},
		{"unsorted", strings.Replace(real, "1735689600000", "1735862400000", 1), "klines[0]: close_time"},
		{"duplicate", `[` + klineRow(goodBar(d)) + `,` + klineRow(goodBar(d)) + `]`, "klines[1]: duplicate open_time 2025-01-01T00:00:00Z"},
		{"gap", `[` + klineRow(goodBar(d)) + `,` + klineRow(goodBar(d.Add(2*Day))) + `]`, "klines[1]: open_time 2025-01-03T00:00:00Z is not 24h after"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseKlines([]byte(tt.in))
			if c != nil {
				t.Errorf("got %d bars with an error", len(c))
			}
			wantInput(t, err, tt.err)
		})
	}
}

// fakeBinance serves klines of the builtin market like the real endpoint.
type fakeBinance struct {
	t       *testing.T
	hits    atomic.Int32
	handler func(n int32, w http.ResponseWriter, r *http.Request) bool // true: handled
	extra   int                                                        // bars served beyond endTime
}

func (f *fakeBinance) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := f.hits.Add(1)
	if f.handler != nil && f.handler(n, w, r) {
		return
	}
	q := r.URL.Query()
	if r.URL.Path != "/api/v3/klines" || r.Method != http.MethodGet {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	end, err1 := strconv.ParseInt(q.Get("endTime"), 10, 64)
	limit, err2 := strconv.Atoi(q.Get("limit"))
	if q.Get("symbol") != "BTCUSDT" || q.Get("interval") != "1d" || err1 != nil || err2 != nil || len(q) != 4 {
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `{"code":-1100,"msg":"Illegal characters found in a parameter."}`)
		return
	}
	// Binance returns the bars opening at or before endTime.
	last := time.UnixMilli(end).UTC().Truncate(Day)
	c := builtinCandles(last.Add(time.Duration(f.extra)*Day), limit+f.extra)
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprint(w, klinesBody(c))
}

func newFake(t *testing.T, f *fakeBinance, opt Options) (Source, *httptest.Server) {
	t.Helper()
	f.t = t
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	opt.BinanceBaseURL = srv.URL
	if opt.backoff == 0 {
		opt.backoff = time.Millisecond
	}
	s, err := NewSource("binance", opt)
	if err != nil {
		t.Fatal(err)
	}
	return s, srv
}

func TestBinanceFetch(t *testing.T) {
	for _, slot := range []time.Time{day(2025, 5, 10), day(2025, 5, 10).Add(13 * time.Hour), day(2025, 5, 10).Add(Day - time.Millisecond)} {
		t.Run(slot.Format(time.RFC3339Nano), func(t *testing.T) {
			var got url.Values
			f := &fakeBinance{handler: func(_ int32, _ http.ResponseWriter, r *http.Request) bool {
				got = r.URL.Query()
				return false
			}}
			s, _ := newFake(t, f, Options{})
			c, err := s.Fetch(context.Background(), req90(slot))
			if err != nil {
				t.Fatal(err)
			}
			wantQ := url.Values{"symbol": {"BTCUSDT"}, "interval": {"1d"}, "limit": {"90"},
				"endTime": {strconv.FormatInt(day(2025, 5, 10).UnixMilli()-1, 10)}}
			if !reflect.DeepEqual(got, wantQ) {
				t.Errorf("query %v, want %v", got, wantQ)
			}
			b, _ := NewSource("builtin", Options{})
			want, _ := b.Fetch(context.Background(), req90(slot))
			if mustJSON(t, c) != mustJSON(t, want) {
				t.Error("binance bars differ from the served bars")
			}
		})
	}
}

func TestBinanceDropsUnfinished(t *testing.T) {
	// A server that also returns the running day and a future one: those
	// bars are dropped.
	f := &fakeBinance{extra: 2}
	s, _ := newFake(t, f, Options{})
	slot := day(2025, 5, 10).Add(13 * time.Hour)
	c, err := s.Fetch(context.Background(), req90(slot))
	if err != nil {
		t.Fatal(err)
	}
	want := builtinCandles(day(2025, 5, 9), 90)
	if mustJSON(t, c) != mustJSON(t, want) {
		t.Errorf("got bars %s..%s, want the 90 ending 2025-05-09", c[0].OpenTime, c[len(c)-1].OpenTime)
	}
}

func TestBinanceErrors(t *testing.T) {
	write := func(status int, body string, hdr ...string) func(int32, http.ResponseWriter, *http.Request) bool {
		return func(_ int32, w http.ResponseWriter, _ *http.Request) bool {
			for i := 0; i+1 < len(hdr); i += 2 {
				w.Header().Set(hdr[i], hdr[i+1])
			}
			w.WriteHeader(status)
			fmt.Fprint(w, body)
			return true
		}
	}
	good := builtinCandles(day(2025, 5, 9), 90)
	tests := []struct {
		name    string
		handler func(int32, http.ResponseWriter, *http.Request) bool
		opt     Options
		input   bool // fault.Input, else runtime
		err     string
		hits    int32
	}{
		{"400 binance error", write(400, `{"code":-1121,"msg":"Invalid symbol."}`), Options{}, true,
			`binance: HTTP 400: code -1121: "Invalid symbol."`, 1},
		{"403 plain", write(403, "<html>\nforbidden</html>"), Options{}, true, `binance: HTTP 403: body "<html>\nforbidden</html>"`, 1},
		{"404 empty", write(404, ""), Options{}, true, "binance: HTTP 404: empty body", 1},
		{"500 forever", write(500, `{"code":-1001,"msg":"Internal error; unable to process your request. Please try again."}`), Options{Retries: 2}, false,
			`binance: gave up after 3 attempt(s): HTTP 500: code -1001: "Internal error; unable to process your request`, 3},
		{"503 default retries", write(503, "busy"), Options{}, false, `binance: gave up after 4 attempt(s): HTTP 503: body "busy"`, 4},
		{"429 no retries", write(429, `{"code":-1003,"msg":"Too many requests."}`, "Retry-After", "0"), Options{Retries: -1}, false,
			`binance: gave up after 1 attempt(s): HTTP 429: code -1003`, 1},
		{"302 unfollowed", write(304, ""), Options{}, false, "binance: unexpected HTTP 304", 1},
		{"malformed body", write(200, `[[1,2,3]]`), Options{}, true, "binance: klines[0]: 3 elements, want at least 6", 1},
		{"html body", write(200, `<html>`), Options{}, true, `binance: klines: body is not a JSON array: "<html>"`, 1},
		{"invalid bars", write(200, strings.Replace(klinesBody(good), `"0"]`, `"0"],[1,"1","1","1","1","1"]`, 1)), Options{}, true,
			"binance: klines[1]: open_time 1970-01-01T00:00:00.001Z is before the previous bar's", 1},
		{"too few bars", write(200, klinesBody(good[:10])), Options{}, true, "binance: only 10 bars close before slot 2025-05-10T00:00:00Z, need 90", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeBinance{handler: tt.handler}
			s, _ := newFake(t, f, tt.opt)
			c, err := s.Fetch(context.Background(), req90(day(2025, 5, 10)))
			if c != nil {
				t.Errorf("got %d bars with an error", len(c))
			}
			if tt.input {
				wantInput(t, err, tt.err)
			} else {
				wantRuntime(t, err, tt.err)
			}
			if got := f.hits.Load(); got != tt.hits {
				t.Errorf("server hit %d times, want %d", got, tt.hits)
			}
		})
	}
}

func TestBinanceRetryThenSuccess(t *testing.T) {
	tests := []struct {
		name   string
		status int
		header string
		fails  int32
	}{
		{"429 retry-after 0", 429, "0", 1},
		{"429 retry-after 1s", 429, "1", 1},
		{"418 banned", 418, "", 1},
		{"502 twice", 502, "", 2},
		{"500 three times", 500, "", 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeBinance{handler: func(n int32, w http.ResponseWriter, _ *http.Request) bool {
				if n > tt.fails {
					return false
				}
				if tt.header != "" {
					w.Header().Set("Retry-After", tt.header)
				}
				w.WriteHeader(tt.status)
				fmt.Fprint(w, `{"code":-1003,"msg":"Too much request weight used."}`)
				return true
			}}
			s, _ := newFake(t, f, Options{})
			start := time.Now()
			c, err := s.Fetch(context.Background(), req90(day(2025, 5, 10)))
			if err != nil {
				t.Fatal(err)
			}
			if len(c) != 90 || f.hits.Load() != tt.fails+1 {
				t.Errorf("got %d bars after %d hits, want 90 after %d", len(c), f.hits.Load(), tt.fails+1)
			}
			if tt.header == "1" && time.Since(start) < 900*time.Millisecond {
				t.Errorf("retried after %s, Retry-After asked for 1s", time.Since(start))
			}
		})
	}
}

func TestBinanceTimeoutAndCancel(t *testing.T) {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	hang := func(_ int32, w http.ResponseWriter, r *http.Request) bool {
		select {
		case <-r.Context().Done():
		case <-release:
		}
		return true
	}
	t.Run("hanging server", func(t *testing.T) {
		f := &fakeBinance{handler: hang}
		s, _ := newFake(t, f, Options{Timeout: 50 * time.Millisecond, Retries: 1})
		start := time.Now()
		_, err := s.Fetch(context.Background(), req90(day(2025, 5, 10)))
		wantRuntime(t, err, "binance: gave up after 2 attempt(s): request timed out after 50ms")
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("took %s", d)
		}
		if f.hits.Load() != 2 {
			t.Errorf("%d hits, want 2", f.hits.Load())
		}
	})
	t.Run("slow body", func(t *testing.T) {
		f := &fakeBinance{handler: func(n int32, w http.ResponseWriter, r *http.Request) bool {
			w.WriteHeader(200)
			fmt.Fprint(w, "[")
			w.(http.Flusher).Flush()
			return hang(n, w, r)
		}}
		s, _ := newFake(t, f, Options{Timeout: 50 * time.Millisecond, Retries: -1})
		_, err := s.Fetch(context.Background(), req90(day(2025, 5, 10)))
		wantRuntime(t, err, "binance: gave up after 1 attempt(s): HTTP 200: reading body timed out after 50ms")
	})
	t.Run("cancelled during backoff", func(t *testing.T) {
		f := &fakeBinance{handler: func(_ int32, w http.ResponseWriter, _ *http.Request) bool {
			w.Header().Set("Retry-After", "30")
			w.WriteHeader(429)
			return true
		}}
		s, _ := newFake(t, f, Options{})
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := s.Fetch(ctx, req90(day(2025, 5, 10)))
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("got %v, want the context's deadline", err)
		}
		checkMessage(t, err, "binance: context deadline exceeded (while waiting to retry after: HTTP 429: empty body)")
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("took %s: backoff ignores the context", d)
		}
	})
	t.Run("cancelled while hanging", func(t *testing.T) {
		f := &fakeBinance{handler: hang}
		s, _ := newFake(t, f, Options{})
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		_, err := s.Fetch(ctx, req90(day(2025, 5, 10)))
		if !errors.Is(err, context.DeadlineExceeded) || f.hits.Load() != 1 {
			t.Fatalf("got %v after %d hits, want the context's deadline after 1", err, f.hits.Load())
		}
	})
	t.Run("connection refused", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		base := srv.URL
		srv.Close()
		s, err := NewSource("binance", Options{BinanceBaseURL: base, Retries: 2, backoff: time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		_, err = s.Fetch(context.Background(), req90(day(2025, 5, 10)))
		wantRuntime(t, err, "binance: gave up after 3 attempt(s): GET "+base+"/api/v3/klines?")
	})
}

func TestRetryAfter(t *testing.T) {
	tests := []struct {
		h    string
		want time.Duration
	}{
		{"", 0},
		{"0", time.Millisecond},
		{"2", 2 * time.Second},
		{" 5 ", 5 * time.Second},
		{"3600", maxBackoff},
		{"-4", time.Millisecond},
		{"soon", 0},
		{"Wed, 21 Oct 2015 07:28:00 GMT", time.Millisecond},
		{time.Now().Add(time.Hour).UTC().Format(http.TimeFormat), maxBackoff},
	}
	for _, tt := range tests {
		t.Run(tt.h, func(t *testing.T) {
			if got := retryAfter(tt.h); got != tt.want {
				t.Errorf("retryAfter(%q) = %s, want %s", tt.h, got, tt.want)
			}
		})
	}
}

func TestIsDecimal(t *testing.T) {
	for s, want := range map[string]bool{
		"0": true, "1.5": true, "-2": true, "+3.": true, ".5": true, "1e5": true, "1E-5": true, "65000.01000000": true,
		"": false, ".": false, "-": false, "e5": false, "1e": false, "1e+": false, "0x10": false, "1_000": false,
		"NaN": false, "Inf": false, "infinity": false, " 1": false, "1 ": false, "1.2.3": false, "١": false,
	} {
		if got := isDecimal(s); got != want {
			t.Errorf("isDecimal(%q) = %v, want %v", s, got, want)
		}
	}
}

func FuzzParseKlines(f *testing.F) {
	good := builtinCandles(day(2025, 5, 9), 3)
	f.Add([]byte(klinesBody(good)))
	f.Add([]byte(`[[1735689600000,"93576.00000000","95151.15000000","92888.00000000","94591.79000000","10373.32613000",1735775999999,"975444290.88590630",1516556,"5281.22643000","496667924.61063590","0"]]`))
	f.Add([]byte(`[[1735689600000,"1","1","1","1","0"]]`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`{"code":-1121,"msg":"Invalid symbol."}`))
	f.Add([]byte(`[[1,"NaN","1","1","1","1"]]`))
	f.Add([]byte(`[[1e3,"1","1","1","1","1"]]`))
	f.Add([]byte(`[[-1,"-1","1","1","1","1"]]`))
	f.Add([]byte(`[null,[],{}]`))
	f.Add([]byte(`[[253402300799999,"1","1","1","1","1"]]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseKlines(data)
		if err != nil {
			if c != nil {
				t.Fatal("bars returned with an error")
			}
			if !fault.IsInput(err) || strings.ContainsAny(err.Error(), "\n\r") {
				t.Fatalf("error %q: want a one-line input error", err)
			}
			return
		}
		if err := Validate(c); err != nil {
			t.Fatalf("accepted bars fail Validate: %v", err)
		}
		if _, err := json.Marshal(c); err != nil {
			t.Fatalf("accepted bars do not marshal: %v", err)
		}
	})
}

func FuzzParseCSV(f *testing.F) {
	good := builtinCandles(day(2025, 5, 9), 3)
	var b strings.Builder
	b.WriteString(csvHeader)
	for _, c := range good {
		fmt.Fprintf(&b, "%s,%s,%s,%s,%s,%s\n", c.OpenTime.Format(time.RFC3339), ff(c.Open), ff(c.High), ff(c.Low), ff(c.Close), ff(c.Volume))
	}
	f.Add(b.String())
	f.Add(csvHeader + "1735689600000,100,110,90,105,12.5\n1735776000000,100,110,90,105,12.5\n")
	f.Add("open_time,open,high,low,close,volume,close_time\n2025-01-01T00:00:00Z,100,110,90,105,12.5,2025-01-01T23:59:59.999Z\n")
	f.Add("\ufeffopen_time,open,high,low,close,volume\r\n\"2025-01-01T00:00:00Z\",1,1,1,1,0\r\n")
	f.Add(csvHeader + "2025-01-01T00:00:00Z,NaN,110,90,105,12.5\n")
	f.Add(csvHeader + "2025-01-01T00:00:00Z,1\"00,110,90,105,12.5\n")
	f.Add(csvHeader + "2025-01-02T00:00:00Z,100,110,90,105,12.5\n2025-01-01T00:00:00Z,100,110,90,105,12.5\n")
	f.Add("open_time,open\n")
	f.Add("")
	f.Fuzz(func(t *testing.T, in string) {
		c, err := ParseCSV(strings.NewReader(in))
		if err != nil {
			if c != nil {
				t.Fatal("bars returned with an error")
			}
			if !fault.IsInput(err) || strings.ContainsAny(err.Error(), "\n\r") {
				t.Fatalf("error %q: want a one-line input error", err)
			}
			return
		}
		if err := Validate(c); err != nil {
			t.Fatalf("accepted bars fail Validate: %v", err)
		}
		if _, err := json.Marshal(c); err != nil {
			t.Fatalf("accepted bars do not marshal: %v", err)
		}
	})
}

func BenchmarkBuiltinFetch(b *testing.B) {
	gctune.Apply() // as the vios binary runs
	s, _ := NewSource("builtin", Options{})
	slot := day(2025, 5, 10).Add(13 * time.Hour)
	for b.Loop() {
		if _, err := s.Fetch(context.Background(), req90(slot)); err != nil {
			b.Fatal(err)
		}
	}
}
