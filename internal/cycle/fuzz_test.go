package cycle

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func FuzzParseLog(f *testing.F) {
	f.Add([]byte(`{"log_id":"SIGLOG-0123456789abcdef","cycle_id":"0123456789abcdef","operation_signatures":[{"step":1,"parent_hash":null}]}`))
	f.Add([]byte(`{"cycle_id":"../../etc/passwd"}`))
	f.Add([]byte(`{"cycle_id":"0123456789abcdef","extra":1}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		l, err := ParseLog(data)
		if err == nil && (len(l.CycleID) != 16 || l.CycleID == "") {
			t.Fatalf("accepted cycle id %q", l.CycleID)
		}
	})
}

func FuzzParseEvidence(f *testing.F) {
	f.Add([]byte(`{"cycle_id":"0123456789abcdef","steps":[{"step":1,"input":{"a":1},"output":[1,2]}]}`))
	f.Add([]byte(`{"cycle_id":"0123456789ABCDEF"}`))
	f.Add([]byte(`{"cycle_id":"0123456789abcdef"} trailing`))
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := ParseEvidence(data)
		if err == nil && len(e.CycleID) != 16 {
			t.Fatalf("accepted cycle id %q", e.CycleID)
		}
	})
}

// FuzzEvidenceReader: a reused EvidenceReader parses every input exactly as
// ParseEvidence does, same bundle or same error.
func FuzzEvidenceReader(f *testing.F) {
	f.Add([]byte(`{"cycle_id":"0123456789abcdef","steps":[{"step":1,"input":{"a":1},"output":[1,2]},{"step":2,"input":null,"output":"x"}]}`))
	f.Add([]byte(`{"cycle_id":"0123456789abcdef","steps":[{"step":1,"input":{"a":1,"a":2}}]}`))
	f.Add([]byte(`{"cycle_id":"0123456789abcdef","steps":[{"step":1,"output":"` + "\xff" + `"}]}`))
	f.Add([]byte(`{"cycle_id":"0123456789abcdef","steps":[{"step":1,"output":[1,}]}`))
	f.Add([]byte(`{"cycle_id":"0123456789abcdef","steps":[{"step":1,"input":{"b":[{"c":{}}]},"extra":1}]}`))
	f.Add([]byte(`{"cycle_id":"0123456789abcdef","steps":[{"step":1,"input":1}],"steps":[]}`))
	f.Add([]byte(`{"cycle_id":"0123456789abcdef","steps":null}`))
	f.Add(bundle(2))
	var r EvidenceReader
	f.Fuzz(func(t *testing.T, data []byte) {
		want, wantErr := ParseEvidence(data)
		got, err := r.Parse(data)
		if fmt.Sprint(err) != fmt.Sprint(wantErr) {
			t.Fatalf("reader error %v, ParseEvidence %v", err, wantErr)
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Fatalf("reader and ParseEvidence differ (-want +got):\n%s", d)
		}
	})
}
