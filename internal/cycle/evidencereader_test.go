package cycle

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// bundle returns an evidence bundle as vios writes it, with candles
// candles in the first step's output.
func bundle(candles int) []byte {
	var out strings.Builder
	out.WriteString(`{"candles":[`)
	for i := range candles {
		if i > 0 {
			out.WriteString(",")
		}
		fmt.Fprintf(&out, `{"close":%d.35,"close_time":"2026-08-23T23:59:59.999Z","high":70102.84,"low":65495.54,"open":68305.67,"open_time":"2026-08-23T00:00:00Z","volume":22896.1479}`, 65000+i)
	}
	out.WriteString(`]}`)
	ev := &Evidence{
		CycleID: "0123456789abcdef", CycleTimestamp: "2026-11-21T17:00:00Z", Asset: "BTCUSDT",
		Sources: Sources{Market: "builtin", Events: "builtin", Provider: "builtin"},
		Outcome: Outcome{Status: "completed", Verdict: "GRANTED", SummaryStatus: "skipped", CDSScore: 0.61},
		Steps: []StepRecord{
			{Step: 1, Agent: "LINE", Operation: "ingest_binance_ohlcv", Tier: 4, Status: StatusCompleted, InputHash: "sha256:00", OutputHash: "sha256:11",
				Input: json.RawMessage(`{"asset":"BTCUSDT","lookback_candles":90}`), Output: json.RawMessage(out.String())},
			{Step: 2, Agent: "FINN", Operation: "compute_cds_score", Tier: 2, Status: StatusCompleted,
				Input: json.RawMessage(`[1,2,{"a":"é\u2028"}]`), Output: json.RawMessage(`{"cds":0.61}`)},
			{Step: 5, Agent: "FINN", Operation: "tier2_conflict_summary", Tier: 2, Status: StatusSkipped, Reason: "cds below 0.65"},
		},
	}
	return ev.Marshal()
}

// TestEvidenceReaderSkeleton: the reader parses the bundles vios writes
// through their skeleton, to the same result as ParseEvidence, and sends
// anything unusual to the decoder, with the same result or error.
func TestEvidenceReaderSkeleton(t *testing.T) {
	written := bundle(90)
	var r EvidenceReader
	if _, ok := r.quick(written); !ok {
		t.Fatal("a bundle as vios writes it did not take the skeleton path")
	}
	if _, ok := r.quick(indent(t, written)); !ok {
		t.Fatal("a reindented bundle did not take the skeleton path")
	}
	for name, data := range map[string][]byte{
		"as written":            written,
		"reindented":            indent(t, written),
		"escaped name":          bytes.Replace(written, []byte(`"output"`), []byte(`"outp\u0075t"`), 1),
		"input null":            []byte(`{"cycle_id":"0123456789abcdef","steps":[{"step":1,"input":null,"output":"x"}]}`),
		"duplicate input":       []byte(`{"cycle_id":"0123456789abcdef","steps":[{"step":1,"input":{},"input":[1]}]}`),
		"bad value inside":      bytes.Replace(written, []byte(`"volume":22896.1479`), []byte(`"volume":022896`), 1),
		"duplicate name inside": bytes.Replace(written, []byte(`"high":70102.84`), []byte(`"low":70102.84`), 1),
		"unknown member":        bytes.Replace(written, []byte(`"tier":4`), []byte(`"tier":4,"extra":{"a":1}`), 1),
		"steps twice":           []byte(`{"cycle_id":"0123456789abcdef","steps":[{"input":{"a":1}}],"steps":[]}`),
		"trailing data":         append(bytes.Clone(written), `{}`...),
		"step not an object":    []byte(`{"cycle_id":"0123456789abcdef","steps":[null,{"step":2,"output":[[]]}]}`),
		"truncated":             written[:len(written)/2],
	} {
		want, wantErr := ParseEvidence(data)
		got, err := r.Parse(data)
		if fmt.Sprint(err) != fmt.Sprint(wantErr) {
			t.Errorf("%s: reader error %v, ParseEvidence %v", name, err, wantErr)
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("%s: reader and ParseEvidence differ (-want +got):\n%s", name, d)
		}
	}
}

func indent(t *testing.T, data []byte) []byte {
	var b bytes.Buffer
	if err := json.Indent(&b, data, "", "\t"); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// BenchmarkEvidenceReader parses a bundle of 90 candles with the reader and
// with ParseEvidence.
func BenchmarkEvidenceReader(b *testing.B) {
	data := bundle(90)
	b.Run("reader", func(b *testing.B) {
		var r EvidenceReader
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			if _, err := r.Parse(data); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("ParseEvidence", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			if _, err := ParseEvidence(data); err != nil {
				b.Fatal(err)
			}
		}
	})
}
