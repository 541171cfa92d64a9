// Package news owns FINN's news input: the news Event type that goes into
// signed evidence, its invariants (Validate), the strict JSON Lines parser
// for event files, and the two sources a cycle can read events from: a
// deterministic synthetic crypto news feed ("builtin") and a JSON Lines file
// ("file:PATH").
//
// Every source returns the events published in [Slot-Window, Slot), sorted
// by PublishedAt then ID. Errors caused by bad input are marked with
// fault.Input; I/O failures are left unmarked.
package news

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/vision-ios/vios/internal/fault"
)

// Event is one news item. JSON field names are fixed (they go into signed
// evidence).
type Event struct {
	ID          string    `json:"id"`
	PublishedAt time.Time `json:"published_at"` // UTC
	Source      string    `json:"source"`
	Headline    string    `json:"headline"`
	Keywords    []string  `json:"keywords"`  // 1..5 lowercase words or short phrases, the first is the primary keyword
	Sentiment   float64   `json:"sentiment"` // [-1, 1], negative = bearish
	Relevance   float64   `json:"relevance"` // [0, 1]
}

// Request says which events a cycle needs.
type Request struct {
	Asset  string        // e.g. "BTCUSDT"
	Slot   time.Time     // the cycle's slot
	Window time.Duration // events with Slot-Window <= PublishedAt < Slot
}

// Source provides events.
type Source interface {
	// Name is the source's spec: "builtin" or "file:PATH".
	Name() string
	// Fetch returns the events inside the request's window, sorted by
	// PublishedAt then ID; they pass Validate.
	Fetch(ctx context.Context, req Request) ([]Event, error)
}

// MaxWindow bounds Request.Window.
const MaxWindow = 90 * 24 * time.Hour

// Limits of the event fields beyond the documented ones.
const (
	MaxKeywords    = 5
	maxIDLen       = 128
	maxSourceLen   = 64
	maxHeadlineLen = 512
	maxKeywordLen  = 48
	maxLineBytes   = 1 << 20
)

var (
	minTime = time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)
	maxTime = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)
	minSlot = time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)
)

// NewSource returns the source for spec: "builtin" or "file:PATH". An
// unknown spec is a fault.Input error.
func NewSource(spec string) (Source, error) {
	switch {
	case spec == "builtin":
		return builtinSource{}, nil
	case strings.HasPrefix(spec, "file:"):
		path := strings.TrimPrefix(spec, "file:")
		if strings.TrimSpace(path) == "" {
			return nil, fault.Inputf("news source %q: empty file path", spec)
		}
		return fileSource{path: path}, nil
	default:
		return nil, fault.Inputf("news source %q: want builtin or file:PATH", spec)
	}
}

func (r Request) check() error {
	if strings.TrimSpace(r.Asset) == "" || len(r.Asset) > 20 {
		return fault.Inputf("news request: invalid asset %q", r.Asset)
	}
	if r.Slot.Before(minSlot) || !r.Slot.Before(maxTime) {
		return fault.Inputf("news request: slot %s outside %s..%s", fmtTime(r.Slot), fmtTime(minSlot), fmtTime(maxTime))
	}
	if r.Window <= 0 || r.Window > MaxWindow {
		return fault.Inputf("news request: window %s outside (0, %s]", r.Window, MaxWindow)
	}
	return nil
}

// inWindow reports whether t is in [slot-window, slot).
func (r Request) inWindow(t time.Time) bool {
	return !t.Before(r.Slot.Add(-r.Window)) && t.Before(r.Slot)
}

// sortEvents orders events by PublishedAt, then ID.
func sortEvents(ev []Event) {
	slices.SortFunc(ev, func(a, b Event) int {
		if c := a.PublishedAt.Compare(b.PublishedAt); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
}

// Validate checks the event invariants: non-empty single-line id, source
// and headline; 1..5 distinct, non-empty, lowercase keywords; a UTC
// PublishedAt; finite Sentiment in [-1, 1] and Relevance in [0, 1]; unique
// ids. A violation is a fault.Input error naming the event and the field.
func Validate(ev []Event) error {
	seen := make(map[string]int, len(ev))
	for i := range ev {
		if err := checkEvent(&ev[i]); err != nil {
			return fault.Inputf("event %d (id %s): %v", i, quoteShort(ev[i].ID), err)
		}
		if j, dup := seen[ev[i].ID]; dup {
			return fault.Inputf("event %d: duplicate id %s (also event %d)", i, quoteShort(ev[i].ID), j)
		}
		seen[ev[i].ID] = i
	}
	return nil
}

// checkEvent checks one event on its own.
func checkEvent(e *Event) error {
	if err := checkText("id", e.ID, maxIDLen); err != nil {
		return err
	}
	if err := checkText("source", e.Source, maxSourceLen); err != nil {
		return err
	}
	if err := checkText("headline", e.Headline, maxHeadlineLen); err != nil {
		return err
	}
	if e.PublishedAt.Location() != time.UTC {
		return errors.New("published_at is not UTC")
	}
	if e.PublishedAt.Before(minTime) || !e.PublishedAt.Before(maxTime) {
		return fmt.Errorf("published_at %s outside %s..%s", fmtTime(e.PublishedAt), fmtTime(minTime), fmtTime(maxTime))
	}
	if len(e.Keywords) < 1 || len(e.Keywords) > MaxKeywords {
		return fmt.Errorf("keywords: %d given, want 1..%d", len(e.Keywords), MaxKeywords)
	}
	for i, k := range e.Keywords {
		if err := checkText(fmt.Sprintf("keywords[%d]", i), k, maxKeywordLen); err != nil {
			return err
		}
		if strings.ToLower(k) != k {
			return fmt.Errorf("keywords[%d] %s: must be lowercase", i, quoteShort(k))
		}
		if slices.Contains(e.Keywords[:i], k) {
			return fmt.Errorf("keywords[%d] %s: duplicate keyword", i, quoteShort(k))
		}
	}
	if math.IsNaN(e.Sentiment) || e.Sentiment < -1 || e.Sentiment > 1 {
		return fmt.Errorf("sentiment %v: outside [-1, 1]", e.Sentiment)
	}
	if math.IsNaN(e.Relevance) || e.Relevance < 0 || e.Relevance > 1 {
		return fmt.Errorf("relevance %v: outside [0, 1]", e.Relevance)
	}
	return nil
}

// checkText requires valid UTF-8, no control characters, no surrounding
// space, 1..max bytes.
func checkText(field, s string, max int) error {
	switch {
	case strings.TrimSpace(s) == "":
		return fmt.Errorf("%s: empty", field)
	case len(s) > max:
		return fmt.Errorf("%s: %d bytes, at most %d", field, len(s), max)
	case !utf8.ValidString(s):
		return fmt.Errorf("%s %s: invalid UTF-8", field, quoteShort(s))
	case strings.TrimSpace(s) != s:
		return fmt.Errorf("%s %s: leading or trailing space", field, quoteShort(s))
	case strings.ContainsFunc(s, unicode.IsControl):
		return fmt.Errorf("%s %s: control character", field, quoteShort(s))
	}
	return nil
}

// wireEvent is Event with every field required (a pointer left nil means
// the key was missing or null).
type wireEvent struct {
	ID          *string    `json:"id"`
	PublishedAt *time.Time `json:"published_at"`
	Source      *string    `json:"source"`
	Headline    *string    `json:"headline"`
	Keywords    []string   `json:"keywords"`
	Sentiment   *float64   `json:"sentiment"`
	Relevance   *float64   `json:"relevance"`
}

// ParseJSONLines reads one JSON event object per line. Blank lines are
// skipped; every key of Event is required and unknown keys are refused;
// published_at is RFC 3339 (converted to UTC); the events must pass Validate
// and keep file order. Every data error is a fault.Input error naming the
// line; an error reading r is returned unmarked.
func ParseJSONLines(r io.Reader) ([]Event, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxLineBytes)
	var out []Event
	lineOf := map[string]int{}
	line := 0
	for sc.Scan() {
		line++
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		e, err := decodeEvent(b)
		if err != nil {
			return nil, fault.Inputf("jsonl: line %d: %v", line, err)
		}
		if err := checkEvent(&e); err != nil {
			return nil, fault.Inputf("jsonl: line %d: %v", line, err)
		}
		if first, dup := lineOf[e.ID]; dup {
			return nil, fault.Inputf("jsonl: line %d: duplicate id %s (first on line %d)", line, quoteShort(e.ID), first)
		}
		lineOf[e.ID] = line
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, fault.Inputf("jsonl: line %d: longer than %d bytes", line+1, maxLineBytes)
		}
		return nil, fmt.Errorf("jsonl: read: %w", err)
	}
	return out, nil
}

var eventKeys = [...]string{"id", "published_at", "source", "headline", "keywords", "sentiment", "relevance"}

func decodeEvent(b []byte) (Event, error) {
	if b[0] != '{' {
		return Event{}, fmt.Errorf("want a JSON object, got %s", quoteShort(string(b)))
	}
	// encoding/json matches keys case-insensitively: insist on the exact
	// names first.
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(b, &keys); err != nil {
		return Event{}, fmt.Errorf("invalid event JSON: %v", err)
	}
	for _, k := range slices.Sorted(maps.Keys(keys)) {
		if !slices.Contains(eventKeys[:], k) {
			return Event{}, fmt.Errorf("unknown field %s (want %s)", quoteShort(k), strings.Join(eventKeys[:], ", "))
		}
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var w wireEvent
	if err := dec.Decode(&w); err != nil {
		return Event{}, fmt.Errorf("invalid event JSON: %v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Event{}, errors.New("trailing data after the JSON object")
	}
	for _, f := range [...]struct {
		name    string
		missing bool
	}{
		{"id", w.ID == nil}, {"published_at", w.PublishedAt == nil}, {"source", w.Source == nil},
		{"headline", w.Headline == nil}, {"keywords", w.Keywords == nil},
		{"sentiment", w.Sentiment == nil}, {"relevance", w.Relevance == nil},
	} {
		if f.missing {
			return Event{}, fmt.Errorf("missing field %q", f.name)
		}
	}
	return Event{
		ID:          *w.ID,
		PublishedAt: w.PublishedAt.UTC(),
		Source:      *w.Source,
		Headline:    *w.Headline,
		Keywords:    w.Keywords,
		Sentiment:   *w.Sentiment,
		Relevance:   *w.Relevance,
	}, nil
}

// fileSource reads events from a JSON Lines file on every Fetch.
type fileSource struct{ path string }

func (s fileSource) Name() string { return "file:" + s.path }

func (s fileSource) Fetch(ctx context.Context, req Request) ([]Event, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := req.check(); err != nil {
		return nil, err
	}
	f, err := os.Open(s.path)
	if err != nil {
		err = fmt.Errorf("news %s: %w", s.Name(), err)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fault.Input(err)
		}
		return nil, err
	}
	defer f.Close()
	all, err := ParseJSONLines(f)
	if err != nil {
		return nil, fmt.Errorf("news %s: %w", s.Name(), err)
	}
	out := make([]Event, 0, len(all))
	for _, e := range all {
		if req.inWindow(e.PublishedAt) {
			out = append(out, e)
		}
	}
	sortEvents(out)
	return out, nil
}

func fmtTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// quoteShort quotes s for an error message, cut to a readable length.
func quoteShort(s string) string {
	const max = 40
	if len(s) > max {
		cut := max
		for cut > 0 && s[cut]&0xC0 == 0x80 { // do not split a UTF-8 sequence
			cut--
		}
		return strconv.Quote(s[:cut]) + "..."
	}
	return strconv.Quote(s)
}
