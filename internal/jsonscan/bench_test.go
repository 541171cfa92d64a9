package jsonscan

import (
	"os"
	"testing"

	"github.com/go-json-experiment/json/jsontext"
)

// BenchmarkScan reads an evidence bundle (VIOS_BENCH_JSON, else a
// generated one) with the scanner and with jsontext.
func BenchmarkScan(b *testing.B) {
	data := benchDoc(b)
	b.Run("scanner", func(b *testing.B) {
		var s Scanner
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			if _, err := s.Value(data, 0); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("jsontext", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			if !jsontext.Value(data).IsValid() {
				b.Fatal("invalid")
			}
		}
	})
}

func benchDoc(b *testing.B) []byte {
	if f := os.Getenv("VIOS_BENCH_JSON"); f != "" {
		data, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		return data
	}
	doc := []byte(`{"candles":[`)
	for i := range 90 {
		if i > 0 {
			doc = append(doc, ',')
		}
		doc = append(doc, `{"close":65723.35,"close_time":"2026-08-23T23:59:59.999Z","high":70102.84,"low":65495.54,"open":68305.67,"open_time":"2026-08-23T00:00:00Z","volume":22896.1479}`...)
	}
	return append(doc, "]}"...)
}
