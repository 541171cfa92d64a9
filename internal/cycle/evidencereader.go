package cycle

import (
	"encoding/json"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/vision-ios/vios/internal/jsonscan"
)

// EvidenceReader parses evidence bundles exactly as ParseEvidence does, for
// a reader of many (the audit). A bundle it returns is only good until the
// next Parse: the raw step inputs and outputs of a bundle go into one
// buffer that the next Parse reuses, instead of an allocation each.
//
// It is also faster. Nearly all of a bundle is the steps' inputs and
// outputs, which the JSON decoder would validate while recording every
// token. The reader steps over them with jsonscan, which validates them
// as strictly but records nothing, and hands the decoder the rest: the
// bundle with each input and output object or array replaced by an empty
// one ("{}" or "[]"). Replacing a valid value by another keeps the bundle
// valid or invalid for the decoder alike, so the decoder still decides
// everything it decides for ParseEvidence; the values are put back into
// what it returns. Anything the reader does not expect (a member name
// with escapes, a bundle that is not an object, any error) sends the
// bundle to the decoder whole, so that errors read exactly as
// ParseEvidence's.
type EvidenceReader struct {
	raw   []byte
	into  *jsonv2.Unmarshalers
	scan  jsonscan.Scanner
	skel  []byte      // the bundle with inputs and outputs emptied
	spans []valueSpan // where they were
}

// valueSpan is where in a bundle an input or output value stood.
type valueSpan struct {
	step     int // index in steps
	output   bool
	off, end int
}

// Parse parses one evidence bundle, reusing the previous one's storage.
func (r *EvidenceReader) Parse(data []byte) (*Evidence, error) {
	if r.into == nil {
		r.into = jsonv2.UnmarshalFromFunc(r.rawValue)
	}
	if ev, ok := r.quick(data); ok {
		return ev, nil
	}
	r.raw = r.raw[:0]
	return parseEvidence(data, jsonv2.WithUnmarshalers(r.into))
}

// rawValue stores a raw JSON value in the reader's buffer. It reads the
// value as json.RawMessage's own UnmarshalJSON is fed: one ReadValue of the
// same decoder, so the same checks apply.
func (r *EvidenceReader) rawValue(dec *jsontext.Decoder, m *json.RawMessage) error {
	val, err := dec.ReadValue()
	if err != nil {
		return err
	}
	*m = r.keep(val)
	return nil
}

// keep copies a raw value into the reader's buffer.
func (r *EvidenceReader) keep(val []byte) json.RawMessage {
	n := len(r.raw)
	r.raw = append(r.raw, val...)
	return r.raw[n:len(r.raw):len(r.raw)]
}

// quick parses a bundle through its skeleton (see EvidenceReader), or
// reports false for the decoder to parse it whole.
func (r *EvidenceReader) quick(data []byte) (*Evidence, bool) {
	r.skel, r.spans = r.skel[:0], r.spans[:0]
	last := 0 // data[:last] is in the skeleton
	i := jsonscan.WS(data)
	if i >= len(data) || data[i] != '{' {
		return nil, false
	}
	i = ws(data, i+1)
	for closed := false; !closed; {
		key, v, ok := member(data, i)
		if !ok {
			return nil, false
		}
		if string(key) == "steps" && v < len(data) && data[v] == '[' {
			if i, last, ok = r.steps(data, v, last); !ok {
				return nil, false
			}
		} else {
			n, err := r.scan.Value(data[v:], 1)
			if err != nil {
				return nil, false
			}
			i = v + n
		}
		var err error
		if i, closed, err = jsonscan.Next(data, i, '}'); err != nil {
			return nil, false
		}
	}
	if ws(data, i) != len(data) {
		return nil, false
	}
	r.skel = append(r.skel, data[last:]...)
	r.raw = r.raw[:0]
	ev, err := parseEvidence(r.skel, jsonv2.WithUnmarshalers(r.into))
	if err != nil {
		return nil, false
	}
	for _, sp := range r.spans {
		if sp.step >= len(ev.Steps) {
			return nil, false
		}
		s := &ev.Steps[sp.step]
		if sp.output {
			s.Output = r.keep(data[sp.off:sp.end])
		} else {
			s.Input = r.keep(data[sp.off:sp.end])
		}
	}
	return ev, true
}

// steps reads the steps array at data[i], emptying each object or array
// input and output of its objects into the skeleton, and returns the index
// after the array and how much of data the skeleton now holds.
func (r *EvidenceReader) steps(data []byte, i, last int) (int, int, bool) {
	i = ws(data, i+1)
	if i < len(data) && data[i] == ']' {
		return i + 1, last, true
	}
	for k := 0; ; k++ {
		if i < len(data) && data[i] == '{' {
			var ok bool
			if i, last, ok = r.step(data, k, i, last); !ok {
				return i, last, false
			}
		} else {
			n, err := r.scan.Value(data[i:], 2)
			if err != nil {
				return i, last, false
			}
			i += n
		}
		var closed bool
		var err error
		if i, closed, err = jsonscan.Next(data, i, ']'); err != nil || closed {
			return i, last, err == nil
		}
	}
}

// step reads the k-th step object at data[i] (see steps).
func (r *EvidenceReader) step(data []byte, k, i, last int) (int, int, bool) {
	if i = ws(data, i+1); i < len(data) && data[i] == '}' {
		return i + 1, last, true
	}
	for {
		key, v, ok := member(data, i)
		if !ok {
			return i, last, false
		}
		n, err := r.scan.Value(data[v:], 3)
		if err != nil {
			return i, last, false
		}
		if (string(key) == "input" || string(key) == "output") && (data[v] == '{' || data[v] == '[') {
			r.skel = append(r.skel, data[last:v]...)
			r.skel = append(r.skel, data[v], data[v+n-1]) // "{}" or "[]"
			r.spans = append(r.spans, valueSpan{step: k, output: string(key) == "output", off: v, end: v + n})
			last = v + n
		}
		var closed bool
		if i, closed, err = jsonscan.Next(data, v+n, '}'); err != nil || closed {
			return i, last, err == nil
		}
	}
}

// member reads the object member at data[i] up to its value: a name,
// which must be a string without escapes, and a colon. It returns the
// name and the index of the value.
func member(data []byte, i int) (name []byte, value int, ok bool) {
	if i >= len(data) {
		return nil, i, false
	}
	n, escaped, err := jsonscan.String(data[i:])
	if err != nil || escaped {
		return nil, i, false
	}
	name, i = data[i+1:i+n-1], ws(data, i+n)
	if i >= len(data) || data[i] != ':' {
		return nil, i, false
	}
	return name, ws(data, i+1), true
}

func ws(data []byte, i int) int { return i + jsonscan.WS(data[i:]) }
