package news

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vision-ios/vios/internal/fault"
	"github.com/vision-ios/vios/internal/gctune"
	"github.com/vision-ios/vios/internal/market"
)

func hour(y int, m time.Month, d, h int) time.Time { return time.Date(y, m, d, h, 0, 0, 0, time.UTC) }

func req48(slot time.Time) Request {
	return Request{Asset: "BTCUSDT", Slot: slot, Window: 48 * time.Hour}
}

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
	tests := []struct{ spec, name, err string }{
		{"builtin", "builtin", ""},
		{"file:events.jsonl", "file:events.jsonl", ""},
		{"", "", `news source "": want builtin or file:PATH`},
		{"file:", "", `news source "file:": empty file path`},
		{"file: ", "", "empty file path"},
		{"rss:http://x", "", `news source "rss:http://x": want builtin or file:PATH`},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			s, err := NewSource(tt.spec)
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

func TestRequestCheck(t *testing.T) {
	slot := hour(2025, 3, 1, 12)
	tests := []struct {
		name string
		req  Request
		err  string
	}{
		{"no asset", Request{Slot: slot, Window: time.Hour}, `news request: invalid asset ""`},
		{"zero slot", Request{Asset: "BTCUSDT", Window: time.Hour}, "news request: slot 0001-01-01T00:00:00Z outside"},
		{"zero window", Request{Asset: "BTCUSDT", Slot: slot}, "news request: window 0s outside (0, 2160h0m0s]"},
		{"negative window", Request{Asset: "BTCUSDT", Slot: slot, Window: -time.Hour}, "window -1h0m0s outside"},
		{"huge window", Request{Asset: "BTCUSDT", Slot: slot, Window: 1000 * 24 * time.Hour}, "window 24000h0m0s outside"},
	}
	for _, tt := range tests {
		for _, spec := range []string{"builtin", "file:/nonexistent.jsonl"} {
			t.Run(tt.name+"/"+spec, func(t *testing.T) {
				s, _ := NewSource(spec)
				_, err := s.Fetch(context.Background(), tt.req)
				wantInput(t, err, tt.err)
			})
		}
	}
	s, _ := NewSource("builtin")
	_, err := s.Fetch(context.Background(), Request{Asset: "ETHUSDT", Slot: slot, Window: time.Hour})
	wantInput(t, err, `builtin news: unsupported asset "ETHUSDT" (only BTCUSDT)`)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Fetch(ctx, req48(slot)); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: got %v", err)
	}
}

// vocabulary is every keyword the builtin templates use.
func vocabulary() map[string]bool {
	v := map[string]bool{}
	for _, pool := range [][]template{bullishTemplates, bearishTemplates, neutralTemplates} {
		for _, t := range pool {
			for _, k := range t.keywords {
				v[k] = true
			}
		}
	}
	return v
}

func TestBuiltinTemplates(t *testing.T) {
	for _, pool := range [][]template{bullishTemplates, bearishTemplates, neutralTemplates} {
		for _, tp := range pool {
			if len(tp.keywords) < 1 || len(tp.keywords) > MaxKeywords || tp.relevance <= 0 || tp.relevance > 1 {
				t.Errorf("template %q: %d keywords, relevance %v", tp.text, len(tp.keywords), tp.relevance)
			}
			r := seeded(tp.text)
			if h := expand(tp.text, &r); strings.ContainsAny(h, "{}") {
				t.Errorf("template %q expands to %q", tp.text, h)
			}
		}
	}
}

func TestBuiltinDeterminismAndInvariants(t *testing.T) {
	s, _ := NewSource("builtin")
	vocab := vocabulary()
	base := hour(2017, 1, 1, 0)
	for i := 0; i < 120; i++ {
		slot := base.Add(time.Duration(i) * (29*24*time.Hour + 7*time.Hour + 13*time.Minute))
		t.Run(slot.Format(time.RFC3339), func(t *testing.T) {
			a, err := s.Fetch(context.Background(), req48(slot))
			if err != nil {
				t.Fatal(err)
			}
			b, _ := s.Fetch(context.Background(), req48(slot))
			if mustJSON(t, a) != mustJSON(t, b) {
				t.Fatal("two fetches of one slot differ")
			}
			if err := Validate(a); err != nil {
				t.Fatal(err)
			}
			if len(a) < 12 || len(a) > 60 {
				t.Errorf("%d events in 48h, want about 20-40", len(a))
			}
			for j, e := range a {
				if e.PublishedAt.Before(slot.Add(-48*time.Hour)) || !e.PublishedAt.Before(slot) {
					t.Errorf("event %s published %s outside the window", e.ID, e.PublishedAt)
				}
				if j > 0 {
					p := a[j-1]
					if p.PublishedAt.After(e.PublishedAt) || p.PublishedAt.Equal(e.PublishedAt) && p.ID >= e.ID {
						t.Errorf("events %s and %s out of order", p.ID, e.ID)
					}
				}
				for _, k := range e.Keywords {
					if !vocab[k] {
						t.Errorf("keyword %q not in the vocabulary", k)
					}
				}
				if e.Sentiment != math.Round(e.Sentiment*1000)/1000 || e.Relevance != math.Round(e.Relevance*1000)/1000 {
					t.Errorf("event %s: sentiment %v / relevance %v not rounded to 3 decimals", e.ID, e.Sentiment, e.Relevance)
				}
				if math.Signbit(e.Sentiment) && e.Sentiment == 0 {
					t.Errorf("event %s: negative zero sentiment", e.ID)
				}
			}
		})
	}
}

func TestBuiltinOverlappingWindows(t *testing.T) {
	s, _ := NewSource("builtin")
	start := hour(2025, 7, 1, 0)
	prev, _ := s.Fetch(context.Background(), req48(start))
	for h := 1; h <= 72; h++ {
		slot := start.Add(time.Duration(h) * time.Hour)
		cur, err := s.Fetch(context.Background(), req48(slot))
		if err != nil {
			t.Fatal(err)
		}
		// prev's events from slot-48h on are exactly cur's events before
		// the previous slot.
		lo, hi := slot.Add(-48*time.Hour), slot.Add(-time.Hour)
		var a, b []Event
		for _, e := range prev {
			if !e.PublishedAt.Before(lo) {
				a = append(a, e)
			}
		}
		for _, e := range cur {
			if e.PublishedAt.Before(hi) {
				b = append(b, e)
			}
		}
		if mustJSON(t, a) != mustJSON(t, b) {
			t.Fatalf("slot %s: the overlap with the previous slot differs", slot)
		}
		// A window that is not hour-aligned, and a longer one, agree too.
		odd, _ := s.Fetch(context.Background(), Request{Asset: "BTCUSDT", Slot: slot.Add(-30 * time.Minute), Window: 47 * time.Hour})
		long, _ := s.Fetch(context.Background(), Request{Asset: "BTCUSDT", Slot: slot, Window: 96 * time.Hour})
		var c, l []Event
		for _, e := range cur {
			if !e.PublishedAt.Before(slot.Add(-30*time.Minute-47*time.Hour)) && e.PublishedAt.Before(slot.Add(-30*time.Minute)) {
				c = append(c, e)
			}
		}
		for _, e := range long {
			if !e.PublishedAt.Before(slot.Add(-48 * time.Hour)) {
				l = append(l, e)
			}
		}
		if mustJSON(t, odd) != mustJSON(t, c) || mustJSON(t, l) != mustJSON(t, cur) {
			t.Fatalf("slot %s: windows of other lengths disagree", slot)
		}
		prev = cur
	}
}

// TestBuiltinMoods checks that the daily mean sentiment persists from day
// to day and swings both ways.
func TestBuiltinMoods(t *testing.T) {
	s, _ := NewSource("builtin")
	var daily []float64
	for d := 0; d < 400; d++ {
		ev, err := s.Fetch(context.Background(), Request{Asset: "BTCUSDT", Slot: hour(2024, 1, 1, 0).Add(time.Duration(d) * 24 * time.Hour), Window: 24 * time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		m := 0.0
		for _, e := range ev {
			m += e.Sentiment
		}
		if len(ev) > 0 {
			m /= float64(len(ev))
		}
		daily = append(daily, m)
	}
	mean := 0.0
	for _, v := range daily {
		mean += v
	}
	mean /= float64(len(daily))
	var num, den float64
	bull, bear := 0, 0
	for i, v := range daily {
		den += (v - mean) * (v - mean)
		if i > 0 {
			num += (v - mean) * (daily[i-1] - mean)
		}
		if v > 0.4 {
			bull++
		}
		if v < -0.4 {
			bear++
		}
	}
	ac := num / den
	t.Logf("lag-1 autocorrelation %.2f, %d bullish and %d bearish days of 400", ac, bull, bear)
	if ac < 0.5 {
		t.Errorf("daily sentiment autocorrelation %.2f: moods do not persist", ac)
	}
	if bull < 40 || bear < 40 {
		t.Errorf("%d strongly bullish and %d strongly bearish days: moods do not swing", bull, bear)
	}
}

// cds is the v1.0 Cognitive Dissonance Score of policies/cycle.yaml
// (momentum 7 days, half-life 24h, divergence scale 1.5).
func cds(c []market.Candle, ev []Event, slot time.Time) float64 {
	n := len(c)
	r := make([]float64, 0, n-1)
	mean := 0.0
	for i := 1; i < n; i++ {
		r = append(r, math.Log(c[i].Close/c[i-1].Close))
		mean += r[i-1]
	}
	mean /= float64(len(r))
	ss := 0.0
	for _, x := range r {
		ss += (x - mean) * (x - mean)
	}
	sigma := math.Sqrt(ss / float64(len(r)-1))
	price := math.Tanh(math.Log(c[n-1].Close/c[n-8].Close) / (sigma * math.Sqrt(7)))
	var sw, s, sent float64
	for _, e := range ev {
		w := e.Relevance * math.Exp(-slot.Sub(e.PublishedAt).Hours()/24*math.Ln2)
		sw += w
		s += w * e.Sentiment
	}
	if sw > 0 {
		sent = s / sw
	}
	return math.Min(1, math.Abs(price-sent)/1.5)
}

// TestBuiltinCDSTriggerRate checks the calibration of the builtin feed
// against the builtin market: the summary trigger (CDS >= 0.65) fires in
// roughly 20-40 % of hourly slots.
func TestBuiltinCDSTriggerRate(t *testing.T) {
	ms, _ := market.NewSource("builtin", market.Options{})
	ns, _ := NewSource("builtin")
	start := hour(2025, 1, 1, 0)
	fired, total := 0, 0
	for h := 0; h < 2*365*24; h += 11 {
		slot := start.Add(time.Duration(h) * time.Hour)
		c, err := ms.Fetch(context.Background(), market.Request{Symbol: "BTCUSDT", Interval: "1d", Limit: 90, Slot: slot})
		if err != nil {
			t.Fatal(err)
		}
		ev, err := ns.Fetch(context.Background(), req48(slot))
		if err != nil {
			t.Fatal(err)
		}
		if cds(c, ev, slot) >= 0.65 {
			fired++
		}
		total++
	}
	rate := float64(fired) / float64(total)
	t.Logf("summary trigger fired in %d of %d slots (%.1f%%)", fired, total, 100*rate)
	if rate < 0.20 || rate > 0.40 {
		t.Errorf("trigger rate %.1f%%, want 20-40%%", 100*rate)
	}
}

func goodEvent(id string, at time.Time) Event {
	return Event{ID: id, PublishedAt: at, Source: "reuters", Headline: "Bitcoin ETF inflows rise", Keywords: []string{"etf", "inflows"}, Sentiment: 0.4, Relevance: 0.8}
}

func TestValidate(t *testing.T) {
	at := hour(2025, 1, 1, 10)
	mod := func(f func(e *Event)) []Event {
		ev := []Event{goodEvent("a", at), goodEvent("b", at)}
		f(&ev[1])
		return ev
	}
	tests := []struct {
		name string
		ev   []Event
		err  string
	}{
		{"ok", mod(func(*Event) {}), ""},
		{"empty", nil, ""},
		{"bounds", mod(func(e *Event) {
			e.Sentiment, e.Relevance = -1, 0
			e.Keywords = []string{"a", "b", "c", "d", "exchange outflows"}
		}), ""},
		{"empty id", mod(func(e *Event) { e.ID = "" }), `event 1 (id ""): id: empty`},
		{"blank source", mod(func(e *Event) { e.Source = "  " }), `event 1 (id "b"): source: empty`},
		{"empty headline", mod(func(e *Event) { e.Headline = "" }), "headline: empty"},
		{"multi-line headline", mod(func(e *Event) { e.Headline = "a\nb" }), `headline "a\nb": control character`},
		{"padded id", mod(func(e *Event) { e.ID = " b" }), `id " b": leading or trailing space`},
		{"bad utf8", mod(func(e *Event) { e.Headline = "a\xffb" }), `headline "a\xffb": invalid UTF-8`},
		{"long headline", mod(func(e *Event) { e.Headline = strings.Repeat("x", 513) }), "headline: 513 bytes, at most 512"},
		{"no keywords", mod(func(e *Event) { e.Keywords = nil }), "keywords: 0 given, want 1..5"},
		{"six keywords", mod(func(e *Event) { e.Keywords = []string{"a", "b", "c", "d", "e", "f"} }), "keywords: 6 given, want 1..5"},
		{"empty keyword", mod(func(e *Event) { e.Keywords = []string{"etf", ""} }), "keywords[1]: empty"},
		{"upper keyword", mod(func(e *Event) { e.Keywords = []string{"ETF"} }), `keywords[0] "ETF": must be lowercase`},
		{"duplicate keyword", mod(func(e *Event) { e.Keywords = []string{"etf", "fed", "etf"} }), `keywords[2] "etf": duplicate keyword`},
		{"sentiment high", mod(func(e *Event) { e.Sentiment = 1.0001 }), `event 1 (id "b"): sentiment 1.0001: outside [-1, 1]`},
		{"sentiment nan", mod(func(e *Event) { e.Sentiment = math.NaN() }), "sentiment NaN: outside [-1, 1]"},
		{"sentiment inf", mod(func(e *Event) { e.Sentiment = math.Inf(-1) }), "sentiment -Inf: outside [-1, 1]"},
		{"relevance negative", mod(func(e *Event) { e.Relevance = -0.1 }), "relevance -0.1: outside [0, 1]"},
		{"relevance nan", mod(func(e *Event) { e.Relevance = math.NaN() }), "relevance NaN: outside [0, 1]"},
		{"not utc", mod(func(e *Event) { e.PublishedAt = at.In(time.FixedZone("X", 3600)) }), "published_at is not UTC"},
		{"zero time", mod(func(e *Event) { e.PublishedAt = time.Time{} }), "published_at 0001-01-01T00:00:00Z outside"},
		{"duplicate id", mod(func(e *Event) { e.ID = "a" }), `event 1: duplicate id "a" (also event 0)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Validate(tt.ev)
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

const line1 = `{"id":"e1","published_at":"2025-01-01T10:00:00Z","source":"reuters","headline":"Bitcoin ETF inflows rise","keywords":["etf","inflows"],"sentiment":0.4,"relevance":0.8}`

func TestParseJSONLines(t *testing.T) {
	e1 := goodEvent("e1", hour(2025, 1, 1, 10))
	good := []struct {
		name, in string
		want     []Event
	}{
		{"one", line1 + "\n", []Event{e1}},
		{"no final newline", line1, []Event{e1}},
		{"blank lines and crlf", "\r\n  \n" + line1 + "\r\n\n", []Event{e1}},
		{"offset converted to utc", strings.Replace(line1, "2025-01-01T10:00:00Z", "2025-01-01T12:00:00+02:00", 1), []Event{e1}},
		{"key order free", `{"relevance":0.8,"sentiment":0.4,"keywords":["etf","inflows"],"headline":"Bitcoin ETF inflows rise","source":"reuters","published_at":"2025-01-01T10:00:00Z","id":"e1"}`, []Event{e1}},
		{"file order kept", strings.Replace(line1, "10:00", "11:00", 1) + "\n" + strings.Replace(line1, `"e1"`, `"e0"`, 1),
			[]Event{goodEvent("e1", hour(2025, 1, 1, 11)), goodEvent("e0", hour(2025, 1, 1, 10))}},
		{"empty", "", nil},
	}
	for _, tt := range good {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := ParseJSONLines(strings.NewReader(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(ev, tt.want) {
				t.Errorf("got %+v, want %+v", ev, tt.want)
			}
		})
	}
	repl := func(old, new string) string { return strings.Replace(line1, old, new, 1) }
	bad := []struct{ name, in, err string }{
		{"unknown key", repl(`"id":"e1"`, `"id":"e1","url":"x"`), `jsonl: line 1: unknown field "url" (want id, published_at, source, headline, keywords, sentiment, relevance)`},
		{"case-folded key", repl(`"id"`, `"ID"`), `jsonl: line 1: unknown field "ID"`},
		{"missing key", repl(`"source":"reuters",`, ``), `jsonl: line 1: missing field "source"`},
		{"null key", repl(`"sentiment":0.4`, `"sentiment":null`), `jsonl: line 1: missing field "sentiment"`},
		{"null keywords", repl(`["etf","inflows"]`, `null`), `jsonl: line 1: missing field "keywords"`},
		{"not json", "\n\nhello\n", `jsonl: line 3: want a JSON object, got "hello"`},
		{"array", `[` + line1 + `]`, `jsonl: line 1: want a JSON object, got "[{\"id\":\"e1\"`},
		{"truncated", line1[:50], "jsonl: line 1: invalid event JSON: unexpected end of JSON input"},
		{"trailing data", line1 + ` {}`, "jsonl: line 1: invalid event JSON"},
		{"two objects", line1 + line1, "jsonl: line 1: invalid event JSON"},
		{"sentiment string", repl(`0.4`, `"0.4"`), "jsonl: line 1: invalid event JSON: json: cannot unmarshal string into Go struct field"},
		{"bad time", repl("2025-01-01T10:00:00Z", "2025-01-01 10:00"), `jsonl: line 1: invalid event JSON: parsing time "2025-01-01 10:00"`},
		{"sentiment range", repl(`0.4`, `-1.5`), "jsonl: line 1: sentiment -1.5: outside [-1, 1]"},
		{"relevance range", repl(`0.8`, `2`), "jsonl: line 1: relevance 2: outside [0, 1]"},
		{"huge number", repl(`0.8`, `1e999`), "jsonl: line 1: invalid event JSON"},
		{"no keywords", repl(`["etf","inflows"]`, `[]`), "jsonl: line 1: keywords: 0 given, want 1..5"},
		{"upper keyword", repl(`"etf"`, `"ETF"`), `jsonl: line 1: keywords[0] "ETF": must be lowercase`},
		{"empty id", repl(`"e1"`, `""`), "jsonl: line 1: id: empty"},
		{"duplicate id", line1 + "\n\n" + line1, `jsonl: line 3: duplicate id "e1" (first on line 1)`},
		{"second line bad", line1 + "\n" + repl(`"e1"`, `"e2"`)[:20], "jsonl: line 2: invalid event JSON"},
		{"line too long", line1 + "\n" + strings.Repeat(" ", maxLineBytes+10) + "x", "jsonl: line 2: longer than 1048576 bytes"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := ParseJSONLines(strings.NewReader(tt.in))
			if ev != nil {
				t.Errorf("got %d events with an error", len(ev))
			}
			wantInput(t, err, tt.err)
		})
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("disk on fire") }

func TestParseJSONLinesReadError(t *testing.T) {
	_, err := ParseJSONLines(failingReader{})
	if err == nil || fault.Code(err) != fault.CodeRuntime {
		t.Fatalf("got %v, want a runtime error", err)
	}
	checkMessage(t, err, "jsonl: read: disk on fire")
}

func TestFileSource(t *testing.T) {
	slot := hour(2025, 1, 3, 0)
	var lines []string
	// Unsorted, with a tie on time, and events on both window edges.
	for i, e := range []Event{
		goodEvent("late", slot.Add(-time.Second)),
		goodEvent("at-slot", slot),
		goodEvent("b-tie", hour(2025, 1, 2, 6)),
		goodEvent("edge", slot.Add(-48*time.Hour)),
		goodEvent("too-old", slot.Add(-48*time.Hour-time.Nanosecond)),
		goodEvent("a-tie", hour(2025, 1, 2, 6)),
	} {
		e.Sentiment = float64(i) / 10
		b, _ := json.Marshal(e)
		lines = append(lines, string(b))
	}
	path := filepath.Join(t.TempDir(), "events.jsonl")
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s, _ := NewSource("file:" + path)
	ev, err := s.Fetch(context.Background(), req48(slot))
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, e := range ev {
		ids = append(ids, e.ID)
	}
	if want := []string{"edge", "a-tie", "b-tie", "late"}; !slices.Equal(ids, want) {
		t.Errorf("got %v, want %v", ids, want)
	}
	ev, _ = s.Fetch(context.Background(), Request{Asset: "ETHUSDT", Slot: slot, Window: time.Hour})
	if len(ev) != 1 || ev[0].ID != "late" {
		t.Errorf("1h window: got %+v", ev)
	}

	t.Run("missing file", func(t *testing.T) {
		s, _ := NewSource("file:" + filepath.Join(t.TempDir(), "nope.jsonl"))
		_, err := s.Fetch(context.Background(), req48(slot))
		wantInput(t, err, "nope.jsonl", "no such file")
	})
	t.Run("invalid file", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "bad.jsonl")
		os.WriteFile(p, []byte(line1+"\n"+strings.Replace(line1, "0.8", "7", 1)), 0o644)
		s, _ := NewSource("file:" + p)
		_, err := s.Fetch(context.Background(), req48(slot))
		wantInput(t, err, fmt.Sprintf("news file:%s: jsonl: line 2: relevance 7: outside [0, 1]", p))
	})
	t.Run("directory", func(t *testing.T) {
		s, _ := NewSource("file:" + t.TempDir())
		_, err := s.Fetch(context.Background(), req48(slot))
		if err == nil || fault.Code(err) != fault.CodeRuntime {
			t.Fatalf("got %v, want a runtime error", err)
		}
	})
}

func FuzzParseJSONLines(f *testing.F) {
	ev := builtinEvents(req48(hour(2025, 5, 1, 0)))
	var b strings.Builder
	for _, e := range ev[:5] {
		j, _ := json.Marshal(e)
		b.Write(j)
		b.WriteByte('\n')
	}
	f.Add(b.String())
	f.Add(line1)
	f.Add("\r\n" + line1 + "\r\n\r\n")
	f.Add(line1 + "\n" + line1)
	f.Add(strings.Replace(line1, `"id"`, `"Id"`, 1))
	f.Add(strings.Replace(line1, `0.4`, `1e400`, 1))
	f.Add(strings.Replace(line1, `["etf","inflows"]`, `[]`, 1))
	f.Add(`{"id":"x"}`)
	f.Add(`[]`)
	f.Add("")
	f.Fuzz(func(t *testing.T, in string) {
		ev, err := ParseJSONLines(strings.NewReader(in))
		if err != nil {
			if ev != nil {
				t.Fatal("events returned with an error")
			}
			if !fault.IsInput(err) || strings.ContainsAny(err.Error(), "\n\r") {
				t.Fatalf("error %q: want a one-line input error", err)
			}
			return
		}
		if err := Validate(ev); err != nil {
			t.Fatalf("accepted events fail Validate: %v", err)
		}
		if _, err := json.Marshal(ev); err != nil {
			t.Fatalf("accepted events do not marshal: %v", err)
		}
	})
}

func BenchmarkBuiltinFetch(b *testing.B) {
	gctune.Apply() // as the vios binary runs
	s, _ := NewSource("builtin")
	r := req48(hour(2025, 5, 10, 13))
	for b.Loop() {
		if _, err := s.Fetch(context.Background(), r); err != nil {
			b.Fatal(err)
		}
	}
}
