package jsonscan

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/go-json-experiment/json/jsontext"
)

// valid reports whether b is one JSON value with optional whitespace
// around it, as the scanner reads it.
func valid(b []byte) bool {
	var s Scanner
	i := WS(b)
	n, err := s.Value(b[i:], 0)
	if err != nil {
		if !errors.Is(err, ErrInvalid) {
			panic("error not wrapping ErrInvalid: " + err.Error())
		}
		return false
	}
	return i+n+WS(b[i+n:]) == len(b)
}

var cases = []string{
	`null`, `true`, `false`, `nul`, `truex`, ` 0 `, `-0`, `01`, `-`, `1.`, `1.5e`, `1.5e+3`, `1E-2`, `.5`, `+1`, `1e999`,
	`""`, `"a\"b"`, `"\u00e9"`, `"\u00G9"`, `"\ud83d\ude00"`, `"\ud83d"`, `"\ude00"`, `"\ud83d\u0041"`, `"\ud83dx"`,
	`"\x"`, "\"\x01\"", "\"\xff\"", "\"\xed\xa0\x80\"", `"é"`, `"\/"`, `"abc`,
	`{}`, `{"a":1}`, `{"a":1,}`, `{"a":1,"a":2}`, `{"a":1,"\u0061":2}`, `{"a":{"a":1}}`, `{"a" 1}`, `{1:2}`,
	`[]`, `[1,]`, `[1 2]`, `[,1]`, `[1,[2,[3]]]`, `{"a":[{"b":{}},{"b":{}}]}`, `[1]]`, `{"a":1}}`, `  `, ``,
}

// TestMatchesJSONText: the scanner's verdict is jsontext's on
// hand-picked values, and it accepts real documents: the repository's
// baseline manifest and a bundle shaped like a cycle's evidence, with
// escapes, non-ASCII text and numbers of every form.
func TestMatchesJSONText(t *testing.T) {
	for _, c := range cases {
		if got, want := valid([]byte(c)), jsontext.Value(c).IsValid(); got != want {
			t.Errorf("%q: scanner valid=%v, jsontext %v", c, got, want)
		}
	}
	baseline, err := os.ReadFile("../../baseline/v1.0.json")
	if err != nil {
		t.Fatal(err)
	}
	var ev strings.Builder
	ev.WriteString(`{"cycle_id":"dd0a970687ea8eb0","steps":[`)
	for i := range 90 {
		if i > 0 {
			ev.WriteString(",")
		}
		fmt.Fprintf(&ev, `{"close":%d.%02d,"volume":%de-3,"open_time":"2026-08-%02dT00:00:00Z","note":"\u00e9t\u00e9 \"bull\"\n café \ud83d\ude00","ok":%t,"prev":null}`, 60000+i, i%100, 24647272+i, i%28+1, i%2 == 0)
	}
	ev.WriteString(`],"outcome":{"cds_score":-0.3293508436342667,"cost_usd":0}}`)
	for name, data := range map[string][]byte{"baseline/v1.0.json": baseline, "evidence": []byte(ev.String())} {
		if !jsontext.Value(data).IsValid() {
			t.Fatalf("%s: not valid JSON to begin with", name)
		}
		if !valid(data) {
			t.Errorf("%s: the scanner refuses a valid document", name)
		}
	}
}

// TestManyNames: past the linear search, duplicates are still found.
func TestManyNames(t *testing.T) {
	var b strings.Builder
	b.WriteString("{")
	for i := range 100 {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(`"k` + strings.Repeat("x", i) + `":1`)
	}
	ok := b.String() + "}"
	dup := b.String() + `,"kxxx":2}`
	if !valid([]byte(ok)) || valid([]byte(dup)) {
		t.Fatalf("100 names: valid=%v, with a duplicate valid=%v", valid([]byte(ok)), valid([]byte(dup)))
	}
}

// TestDepth: the nesting limit is jsontext's, counting containers already
// open around the value.
func TestDepth(t *testing.T) {
	for _, n := range []int{MaxDepth - 1, MaxDepth, MaxDepth + 1} {
		doc := strings.Repeat("[", n) + strings.Repeat("]", n)
		if got, want := valid([]byte(doc)), jsontext.Value(doc).IsValid(); got != want {
			t.Errorf("%d nested arrays: scanner %v, jsontext %v", n, got, want)
		}
	}
	var s Scanner
	if _, err := s.Value([]byte("[[]]"), MaxDepth-2); err != nil {
		t.Errorf("two arrays inside %d: %v", MaxDepth-2, err)
	}
	if _, err := s.Value([]byte("[[]]"), MaxDepth-1); err == nil {
		t.Errorf("two arrays inside %d: accepted", MaxDepth-1)
	}
}

// FuzzMatchesJSONText: on any input the scanner and jsontext agree on
// whether it is a valid JSON document.
func FuzzMatchesJSONText(f *testing.F) {
	for _, c := range cases {
		f.Add([]byte(c))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := valid(b), jsontext.Value(b).IsValid(); got != want {
			t.Fatalf("%q: scanner valid=%v, jsontext %v", b, got, want)
		}
	})
}
