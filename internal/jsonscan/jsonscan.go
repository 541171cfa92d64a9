// Package jsonscan finds where a JSON value ends, validating it on the way
// exactly as the JSON v2 decoder (jsontext) does by default: RFC 8259
// grammar, valid UTF-8, escapes that are valid UTF-16, no duplicate member
// names in an object (compared unescaped), and at most MaxDepth nested
// objects and arrays. It builds nothing and allocates only for member names
// written with escapes, so it reads a value several times faster than a
// decoder that also records what it reads.
//
// The audit uses it to step over the large inputs and outputs of evidence
// bundles (cycle.EvidenceReader); a fuzz test holds it to jsontext's verdict.
package jsonscan

import (
	"encoding/binary"
	"errors"
	"fmt"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/go-json-experiment/json/jsontext"
)

// MaxDepth is jsontext's limit on nested objects and arrays.
const MaxDepth = 10000

// ErrInvalid wraps every error the scanner returns.
var ErrInvalid = errors.New("invalid JSON")

// Scanner validates JSON values. Its zero value is ready to use; it keeps
// storage for member names from value to value, so it is not safe for
// concurrent use.
type Scanner struct {
	names [][]byte // member names of the objects being read, innermost last
}

// Value returns the length of the JSON value at the start of b (which must
// not start with whitespace), read as if depth objects or arrays were
// already open around it. What follows the value is not looked at.
func (s *Scanner) Value(b []byte, depth int) (int, error) {
	s.names = s.names[:0]
	return s.value(b, 0, depth)
}

func fail(b []byte, i int, what string) error {
	if i >= len(b) {
		return fmt.Errorf("%w: unexpected end of input", ErrInvalid)
	}
	return fmt.Errorf("%w: %s at offset %d", ErrInvalid, what, i)
}

func (s *Scanner) value(b []byte, i, depth int) (int, error) {
	if i >= len(b) {
		return i, fail(b, i, "")
	}
	switch c := b[i]; {
	case c == '{':
		return s.object(b, i, depth)
	case c == '[':
		return s.array(b, i, depth)
	case c == '"':
		end, _, err := str(b, i)
		return end, err
	case c == '-' || '0' <= c && c <= '9':
		return number(b, i)
	case c == 't':
		return literal(b, i, "true")
	case c == 'f':
		return literal(b, i, "false")
	case c == 'n':
		return literal(b, i, "null")
	}
	return i, fail(b, i, "invalid character at start of value")
}

func (s *Scanner) object(b []byte, i, depth int) (int, error) {
	if depth >= MaxDepth {
		return i, fail(b, i, "nesting deeper than jsontext allows")
	}
	first := len(s.names)
	end, err := s.members(b, i, depth, first)
	s.names = s.names[:first]
	return end, err
}

// members reads the members of the object at b[i], recording their names
// from s.names[first].
func (s *Scanner) members(b []byte, i, depth, first int) (int, error) {
	var seen map[string]struct{} // past a few dozen names, instead of a linear search
	i = ws(b, i+1)
	if i < len(b) && b[i] == '}' {
		return i + 1, nil
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return i, fail(b, i, "expecting a member name")
		}
		end, escaped, err := str(b, i)
		if err != nil {
			return end, err
		}
		name := b[i+1 : end-1]
		if escaped {
			if name, err = jsontext.AppendUnquote(nil, b[i:end]); err != nil {
				return i, fmt.Errorf("%w: %v", ErrInvalid, err)
			}
		}
		if dup := s.insert(name, first, &seen); dup {
			return i, fail(b, i, fmt.Sprintf("duplicate member name %q", name))
		}
		i = ws(b, end)
		if i >= len(b) || b[i] != ':' {
			return i, fail(b, i, "expecting ':' after member name")
		}
		if i, err = s.value(b, ws(b, i+1), depth+1); err != nil {
			return i, err
		}
		var closed bool
		if i, closed, err = Next(b, i, '}'); err != nil || closed {
			return i, err
		}
	}
}

// insert records a member name of the object whose names start at first,
// reporting whether the object already has it.
func (s *Scanner) insert(name []byte, first int, seen *map[string]struct{}) bool {
	own := s.names[first:]
	if *seen == nil && len(own) < 32 {
		for _, n := range own {
			if string(n) == string(name) {
				return true
			}
		}
		s.names = append(s.names, name)
		return false
	}
	if *seen == nil {
		*seen = make(map[string]struct{}, 2*len(own))
		for _, n := range own {
			(*seen)[string(n)] = struct{}{}
		}
	}
	if _, ok := (*seen)[string(name)]; ok {
		return true
	}
	(*seen)[string(name)] = struct{}{}
	return false
}

func (s *Scanner) array(b []byte, i, depth int) (int, error) {
	if depth >= MaxDepth {
		return i, fail(b, i, "nesting deeper than jsontext allows")
	}
	i = ws(b, i+1)
	if i < len(b) && b[i] == ']' {
		return i + 1, nil
	}
	for {
		var err error
		if i, err = s.value(b, i, depth+1); err != nil {
			return i, err
		}
		var closed bool
		if i, closed, err = Next(b, i, ']'); err != nil || closed {
			return i, err
		}
	}
}

// Next reads what follows a value inside the object or array that close
// ('}' or ']') ends: whitespace, then either a comma and whitespace (more
// follows, at the index returned) or close (the container is closed, and
// the index returned is after it).
func Next(b []byte, i int, close byte) (next int, closed bool, err error) {
	i = ws(b, i)
	switch {
	case i >= len(b):
		return i, false, fail(b, i, "")
	case b[i] == ',':
		return ws(b, i+1), false, nil
	case b[i] == close:
		return i + 1, true, nil
	}
	return i, false, fail(b, i, fmt.Sprintf("expecting ',' or '%c'", close))
}

// ws skips JSON whitespace from i.
func ws(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// WS returns the length of the JSON whitespace at the start of b.
func WS(b []byte) int { return ws(b, 0) }

// String returns the length of the JSON string at the start of b (a
// quote) and whether it has escapes.
func String(b []byte) (n int, escaped bool, err error) {
	if len(b) == 0 || b[0] != '"' {
		return 0, false, fail(b, 0, "expecting a string")
	}
	return str(b, 0)
}

// str validates the string starting at b[i] (a quote) and returns the
// index after its closing quote and whether it has escapes.
func str(b []byte, i int) (end int, escaped bool, err error) {
	i++
	for {
		// Eight bytes at a time while none ends the run of plain ASCII.
		for i+8 <= len(b) && plain8(binary.LittleEndian.Uint64(b[i:])) {
			i += 8
		}
		for i < len(b) && plain[b[i]] {
			i++
		}
		if i >= len(b) {
			return i, escaped, fail(b, i, "")
		}
		switch c := b[i]; {
		case c == '"':
			return i + 1, escaped, nil
		case c == '\\':
			escaped = true
			n, err := escape(b, i)
			if err != nil {
				return i, escaped, err
			}
			i += n
		case c < ' ':
			return i, escaped, fail(b, i, "control character in string")
		default:
			r, n := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && n <= 1 {
				return i, escaped, fail(b, i, "invalid UTF-8 in string")
			}
			i += n
		}
	}
}

// plain marks the bytes that stand for themselves inside a string:
// printable ASCII but the quote and the backslash.
var plain = func() (t [256]bool) {
	for c := ' '; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// plain8 reports whether all eight bytes of x are plain (SWAR: a byte
// below 0x20, at or above 0x80, or equal to '"' or '\\' sets its top bit
// in the result).
func plain8(x uint64) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	q, bs := x^(ones*'"'), x^(ones*'\\')
	return ((q-ones)&^q|(bs-ones)&^bs|(x-ones*' ')&^x|x)&highs == 0
}

// escape validates the escape sequence at b[i] (a backslash) and returns
// its length: a \u escape of half a UTF-16 surrogate pair must be followed
// by the other half.
func escape(b []byte, i int) (int, error) {
	if i+1 >= len(b) {
		return 0, fail(b, len(b), "")
	}
	switch b[i+1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		return 2, nil
	case 'u':
	default:
		return 0, fail(b, i, "invalid escape sequence")
	}
	v1, ok := hex4(b, i+2)
	if !ok {
		return 0, fail(b, i, "invalid \\u escape")
	}
	if !utf16.IsSurrogate(rune(v1)) {
		return 6, nil
	}
	if i+7 >= len(b) || b[i+6] != '\\' || b[i+7] != 'u' {
		return 0, fail(b, i, "unpaired UTF-16 surrogate")
	}
	v2, ok := hex4(b, i+8)
	if !ok || utf16.DecodeRune(rune(v1), rune(v2)) == utf8.RuneError {
		return 0, fail(b, i, "invalid UTF-16 surrogate pair")
	}
	return 12, nil
}

func hex4(b []byte, i int) (uint16, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	var v uint16
	for _, c := range b[i : i+4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		v = v<<4 | uint16(c)
	}
	return v, true
}

// number validates the number at b[i]: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
func number(b []byte, i int) (int, error) {
	if b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && '1' <= b[i] && b[i] <= '9':
		i = digits(b, i+1)
	default:
		return i, fail(b, i, "invalid number")
	}
	if i < len(b) && b[i] == '.' {
		j := digits(b, i+1)
		if j == i+1 {
			return j, fail(b, j, "invalid number")
		}
		i = j
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := digits(b, i)
		if j == i {
			return j, fail(b, j, "invalid number")
		}
		i = j
	}
	return i, nil
}

func digits(b []byte, i int) int {
	for i < len(b) && '0' <= b[i] && b[i] <= '9' {
		i++
	}
	return i
}

func literal(b []byte, i int, lit string) (int, error) {
	if len(b)-i < len(lit) || string(b[i:i+len(lit)]) != lit {
		return i, fail(b, i, "invalid literal")
	}
	return i + len(lit), nil
}
