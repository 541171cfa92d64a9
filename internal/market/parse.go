package market

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/vision-ios/vios/internal/fault"
)

// parseDecimal parses a plain decimal number: an optional sign, digits with
// an optional fraction, and an optional exponent. Hex floats, underscores,
// NaN and Inf are refused, and so is a value that overflows float64.
func parseDecimal(s string) (float64, bool) {
	if !isDecimal(s) {
		return 0, false
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(v, 0) || math.IsNaN(v) {
		return 0, false
	}
	return v, true
}

func isDecimal(s string) bool {
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	digits := 0
	for i < len(s) && isDigit(s[i]) {
		i++
		digits++
	}
	if i < len(s) && s[i] == '.' {
		i++
		for i < len(s) && isDigit(s[i]) {
			i++
			digits++
		}
	}
	if digits == 0 {
		return false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		exp := 0
		for i < len(s) && isDigit(s[i]) {
			i++
			exp++
		}
		if exp == 0 {
			return false
		}
	}
	return i == len(s)
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// Millisecond bounds matching [minTime, maxTime].
var (
	minMilli = minTime.UnixMilli()
	maxMilli = maxTime.UnixMilli()
)

// isInteger reports whether s is an optionally negative run of digits.
func isInteger(s string) bool {
	t := strings.TrimPrefix(s, "-")
	if t == "" {
		return false
	}
	for i := 0; i < len(t); i++ {
		if !isDigit(t[i]) {
			return false
		}
	}
	return true
}

// parseMilli parses a base-10 integer millisecond count inside the time
// bounds.
func parseMilli(s string) (time.Time, bool) {
	if !isInteger(s) {
		return time.Time{}, false
	}
	ms, err := strconv.ParseInt(s, 10, 64)
	if err != nil || ms < minMilli || ms > maxMilli {
		return time.Time{}, false
	}
	return time.UnixMilli(ms).UTC(), true
}

// parseCSVTime parses an RFC 3339 time or an integer epoch-millisecond count.
func parseCSVTime(s string) (time.Time, bool) {
	if isInteger(s) {
		return parseMilli(s)
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, false
	}
	return t.UTC(), true
}

// csvColumns is the required CSV header; close_time may follow.
var csvColumns = [...]string{"open_time", "open", "high", "low", "close", "volume"}

// ParseCSV reads candles from CSV. The header row is required and must be
// exactly open_time,open,high,low,close,volume with an optional trailing
// close_time; times are RFC 3339 or integer epoch milliseconds, numbers are
// plain decimals, close_time defaults to open_time+24h-1ms and the bars must
// pass Validate (sorted, no duplicates, no gaps). Every data error is a
// fault.Input error naming the line and the column; an error reading r is
// returned unmarked.
func ParseCSV(r io.Reader) ([]Candle, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, fault.Inputf("csv: empty input, want header %s[,close_time]", strings.Join(csvColumns[:], ","))
	}
	if err != nil {
		return nil, csvReadError(err)
	}
	cols := make([]string, len(header))
	for i, h := range header {
		cols[i] = strings.TrimSpace(h)
	}
	if len(cols) > 0 {
		cols[0] = strings.TrimPrefix(cols[0], "\ufeff")
	}
	if err := checkCSVHeader(cols); err != nil {
		return nil, err
	}
	var out []Candle
	var lines []int
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, csvReadError(err)
		}
		line, _ := cr.FieldPos(0)
		if len(rec) != len(cols) {
			return nil, fault.Inputf("csv: line %d: %d columns, want %d like the header", line, len(rec), len(cols))
		}
		var c Candle
		for i, raw := range rec {
			v := strings.TrimSpace(raw)
			switch cols[i] {
			case "open_time", "close_time":
				t, ok := parseCSVTime(v)
				if !ok {
					return nil, fault.Inputf("csv: line %d, column %q: invalid time %s (want RFC 3339 or epoch milliseconds %s..%s)",
						line, cols[i], quoteShort(v), fmtTime(minTime), fmtTime(maxTime))
				}
				if cols[i] == "open_time" {
					c.OpenTime = t
				} else {
					c.CloseTime = t
				}
			default:
				f, ok := parseDecimal(v)
				if !ok {
					return nil, fault.Inputf("csv: line %d, column %q: invalid number %s", line, cols[i], quoteShort(v))
				}
				switch cols[i] {
				case "open":
					c.Open = f
				case "high":
					c.High = f
				case "low":
					c.Low = f
				case "close":
					c.Close = f
				case "volume":
					c.Volume = f
				}
			}
		}
		if len(cols) == len(csvColumns) {
			c.CloseTime = c.OpenTime.Add(Day - time.Millisecond)
		}
		out = append(out, c)
		lines = append(lines, line)
	}
	if err := validateAt(out, func(i int) string { return fmt.Sprintf("csv: line %d", lines[i]) }); err != nil {
		return nil, err
	}
	return out, nil
}

func checkCSVHeader(cols []string) error {
	want := strings.Join(csvColumns[:], ",") + "[,close_time]"
	for i, name := range csvColumns {
		if i >= len(cols) {
			return fault.Inputf("csv: line 1: header has %d columns, want %s", len(cols), want)
		}
		if cols[i] != name {
			return fault.Inputf("csv: line 1: header column %d is %s, want %q (header %s)", i+1, quoteShort(cols[i]), name, want)
		}
	}
	if len(cols) > len(csvColumns) {
		if cols[len(csvColumns)] != "close_time" {
			return fault.Inputf("csv: line 1: unknown header column %d %s (header %s)", len(csvColumns)+1, quoteShort(cols[len(csvColumns)]), want)
		}
		if len(cols) > len(csvColumns)+1 {
			return fault.Inputf("csv: line 1: unknown header column %d %s (header %s)", len(csvColumns)+2, quoteShort(cols[len(csvColumns)+1]), want)
		}
	}
	return nil
}

// csvReadError marks CSV syntax errors as bad input; read errors stay
// runtime errors.
func csvReadError(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return fault.Inputf("csv: %v", pe)
	}
	return fmt.Errorf("csv: read: %w", err)
}

// quoteShort quotes s for an error message, cut to a readable length.
func quoteShort(s string) string { return quoteMax(s, 40) }

// quoteMax quotes s, cut to max bytes.
func quoteMax(s string, max int) string {
	if len(s) > max {
		cut := max
		for cut > 0 && cut < len(s) && s[cut]&0xC0 == 0x80 { // UTF-8 continuation byte
			cut--
		}
		return strconv.Quote(s[:cut]) + "..."
	}
	return strconv.Quote(s)
}

// klineFields names the first seven elements of a Binance kline row.
var klineFields = [...]string{"open_time", "open", "high", "low", "close", "volume", "close_time"}

// ParseKlines parses a Binance /api/v3/klines body: a JSON array of rows
// [openTime, "open", "high", "low", "close", "volume", closeTime, ...].
// Each row needs at least the first six elements; the times must be JSON
// integers (milliseconds), the prices and volume JSON strings holding plain
// decimals; elements after closeTime are ignored. A missing closeTime
// defaults to openTime+24h-1ms. The bars must pass Validate. Every error is
// a fault.Input error naming the row and element.
func ParseKlines(data []byte) ([]Candle, error) {
	body := bytes.TrimSpace(data)
	if len(body) == 0 || body[0] != '[' {
		return nil, fault.Inputf("klines: body is not a JSON array: %s", quoteShort(string(body)))
	}
	var rows []json.RawMessage
	if err := json.Unmarshal(body, &rows); err != nil {
		return nil, fault.Inputf("klines: invalid JSON: %v", err)
	}
	out := make([]Candle, 0, len(rows))
	for i, raw := range rows {
		raw = bytes.TrimSpace(raw)
		if len(raw) == 0 || raw[0] != '[' {
			return nil, fault.Inputf("klines[%d]: row is not an array: %s", i, quoteShort(string(raw)))
		}
		var cells []json.RawMessage
		if err := json.Unmarshal(raw, &cells); err != nil {
			return nil, fault.Inputf("klines[%d]: invalid JSON: %v", i, err)
		}
		if len(cells) < 6 {
			return nil, fault.Inputf("klines[%d]: %d elements, want at least 6", i, len(cells))
		}
		var c Candle
		var err error
		if c.OpenTime, err = klineTime(cells[0]); err != nil {
			return nil, fault.Inputf("klines[%d][0] (open_time): %v", i, err)
		}
		for k, dst := range [...]*float64{&c.Open, &c.High, &c.Low, &c.Close, &c.Volume} {
			if *dst, err = klineDecimal(cells[k+1]); err != nil {
				return nil, fault.Inputf("klines[%d][%d] (%s): %v", i, k+1, klineFields[k+1], err)
			}
		}
		if len(cells) > 6 {
			if c.CloseTime, err = klineTime(cells[6]); err != nil {
				return nil, fault.Inputf("klines[%d][6] (close_time): %v", i, err)
			}
		} else {
			c.CloseTime = c.OpenTime.Add(Day - time.Millisecond)
		}
		out = append(out, c)
	}
	if err := validateAt(out, func(i int) string { return fmt.Sprintf("klines[%d]", i) }); err != nil {
		return nil, err
	}
	return out, nil
}

// klineTime parses a JSON integer millisecond count.
func klineTime(raw json.RawMessage) (time.Time, error) {
	s := string(bytes.TrimSpace(raw))
	t, ok := parseMilli(s)
	if !ok {
		return time.Time{}, fmt.Errorf("want a JSON integer of milliseconds in %s..%s, got %s", fmtTime(minTime), fmtTime(maxTime), quoteShort(s))
	}
	return t, nil
}

// klineDecimal parses a JSON string holding a plain decimal.
func klineDecimal(raw json.RawMessage) (float64, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '"' {
		return 0, fmt.Errorf("want a JSON string holding a decimal, got %s", quoteShort(string(raw)))
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return 0, fmt.Errorf("invalid JSON string %s", quoteShort(string(raw)))
	}
	v, ok := parseDecimal(s)
	if !ok {
		return 0, fmt.Errorf("invalid decimal %s", quoteShort(s))
	}
	return v, nil
}
