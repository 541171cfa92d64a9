package integration

import (
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// csvRows writes n consistent daily OHLCV rows starting at the UTC
// midnight start, with a header: each open is the previous close, high and
// low bracket open and close, prices have two decimals.
func csvRows(t *testing.T, start time.Time, n int) []byte {
	t.Helper()
	var b strings.Builder
	b.WriteString("open_time,open,high,low,close,volume\n")
	round := func(v float64) float64 { return math.Round(v*100) / 100 }
	prev := 42000.0
	for i := 0; i < n; i++ {
		open := prev
		close := round(open * (1 + 0.03*math.Sin(float64(i)*0.7) + 0.002))
		high := round(math.Max(open, close) * 1.012)
		low := round(math.Min(open, close) * 0.988)
		vol := 1000 + float64(i*37%500)
		fmt.Fprintf(&b, "%s,%s,%s,%s,%s,%s\n", start.AddDate(0, 0, i).Format(time.RFC3339),
			ff(open), ff(high), ff(low), ff(close), ff(vol))
		prev = close
	}
	return []byte(b.String())
}

func ff(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) }

// TestCSVSource: a cycle on `--source csv:PATH` ingests the last 90 daily
// candles that closed before the slot, and records the source.
func TestCSVSource(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 0)

	// 120 days; the last two bars (the slot's day and the next) have not
	// closed at the slot and must be left out.
	at := time.Date(2026, 1, 1, 5, 0, 0, 0, time.UTC)
	start := time.Date(2026, 1, 3, 0, 0, 0, 0, time.UTC).AddDate(0, 0, -120)
	data := csvRows(t, start, 120)
	csvPath := filepath.Join(f.dir, "btc.csv")
	writeFile(t, csvPath, data, 0o644)

	rows := strings.Split(strings.TrimSpace(string(data)), "\n")[1:]
	var lastBefore []string
	var idx int
	for i, r := range rows {
		cols := strings.Split(r, ",")
		open, _ := time.Parse(time.RFC3339, cols[0])
		if open.Add(24*time.Hour - time.Millisecond).Before(at) {
			lastBefore, idx = cols, i
		}
	}
	if idx != 117 {
		t.Fatalf("test data: the last closed bar is row %d, want 117", idx)
	}
	firstWant := strings.Split(rows[idx-89], ",")[0]

	stdout, stderr := mustRun(t, 0, "cycle", "run", "--repo", f.repo, "--keys", f.keys,
		"--at", at.Format(time.RFC3339), "--source", "csv:"+csvPath, "-o", "json")
	var out struct {
		CycleID string `json:"cycle_id"`
		Status  string `json:"verification_status"`
	}
	if err := json.Unmarshal([]byte(stdout), &out); err != nil {
		t.Fatalf("-o json: %v\n%s\n%s", err, stdout, stderr)
	}
	if out.Status != "PASS" {
		t.Errorf("verification_status %q, want PASS", out.Status)
	}

	evPath := "05_GOVERNANCE/CYCLE_EVIDENCE/" + at.Format("2006/01/02") + "/CYCLE_" + cycleID(at) + ".json"
	var ev struct {
		Sources struct {
			Market string `json:"market"`
		} `json:"sources"`
		Steps []struct {
			Step   int             `json:"step"`
			Agent  string          `json:"agent"`
			Input  json.RawMessage `json:"input"`
			Output json.RawMessage `json:"output"`
		} `json:"steps"`
	}
	if err := json.Unmarshal([]byte(git(t, f.repo, "show", "HEAD:"+evPath)), &ev); err != nil {
		t.Fatalf("%s: %v", evPath, err)
	}
	if ev.Sources.Market != "csv:"+csvPath {
		t.Errorf("evidence sources.market = %q, want %q", ev.Sources.Market, "csv:"+csvPath)
	}
	if len(ev.Steps) == 0 || ev.Steps[0].Step != 1 || ev.Steps[0].Agent != "LINE" {
		t.Fatalf("evidence step 1 is not LINE's ingest: %+v", ev.Steps)
	}
	var s1 struct {
		Count     int     `json:"count"`
		LastClose float64 `json:"last_close"`
		Candles   []struct {
			OpenTime string  `json:"open_time"`
			Open     float64 `json:"open"`
			High     float64 `json:"high"`
			Low      float64 `json:"low"`
			Close    float64 `json:"close"`
			Volume   float64 `json:"volume"`
		} `json:"candles"`
	}
	if err := json.Unmarshal(ev.Steps[0].Output, &s1); err != nil {
		t.Fatalf("step 1 output: %v\n%s", err, ev.Steps[0].Output)
	}
	if s1.Count != 90 || len(s1.Candles) != 90 {
		t.Fatalf("step 1 output: count %d, %d candles; want 90", s1.Count, len(s1.Candles))
	}
	wantClose, _ := strconv.ParseFloat(lastBefore[4], 64)
	last := s1.Candles[89]
	if last.Close != wantClose || s1.LastClose != wantClose {
		t.Errorf("last close = %v (last_close %v), want the CSV's last closed row %v", last.Close, s1.LastClose, wantClose)
	}
	if last.OpenTime != lastBefore[0] {
		t.Errorf("last candle open_time %s, want %s", last.OpenTime, lastBefore[0])
	}
	if s1.Candles[0].OpenTime != firstWant {
		t.Errorf("first candle open_time %s, want %s (90 bars back)", s1.Candles[0].OpenTime, firstWant)
	}
	// Every candle is the CSV row of its day, unchanged.
	for i, c := range s1.Candles {
		cols := strings.Split(rows[idx-89+i], ",")
		got := []string{c.OpenTime, ff(c.Open), ff(c.High), ff(c.Low), ff(c.Close), ff(c.Volume)}
		if strings.Join(got, ",") != strings.Join(cols, ",") {
			t.Errorf("candle %d = %v, CSV row %v", i, got, cols)
			break
		}
	}
	if !strings.Contains(string(ev.Steps[0].Input), "csv:"+csvPath) {
		t.Errorf("step 1 input does not name the CSV source: %s", ev.Steps[0].Input)
	}

	if rep, code := audit(t, f.repo); code != 0 {
		t.Errorf("audit after a CSV cycle: exit %d\n%s", code, dumpFailures(rep))
	}
}
