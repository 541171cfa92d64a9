package agents

import (
	"math"
	"strings"
	"time"
	"unicode"

	"github.com/vision-ios/vios/internal/policy"
)

// FieldKind selects the ADR-010 tolerance of a compared field.
type FieldKind int

// Field kinds of ADR-010.
const (
	Float FieldKind = iota
	Integer
	String
	Timestamp
)

// Field is one compared value: the original and the recomputed one.
type Field struct {
	Name       string
	Kind       FieldKind
	Original   any
	Recomputed any
}

// Discrepancy is an ADR-010 score with its per-field deltas.
type Discrepancy struct {
	Score  float64        `json:"discrepancy_score"`
	Band   string         `json:"band"`
	Deltas map[string]int `json:"field_deltas"`
}

// Bands of the ADR-010 discrepancy score.
const (
	BandNormal       = "normal"
	BandWarning      = "warning"
	BandCatastrophic = "catastrophic"
)

// Score computes score = Σ(weight·δ)/Σ(weight), δ∈{0,1} per field, under
// the tolerances of policies/determinism.yaml: floats relative, integers
// exact, strings case-insensitive, timestamps ± seconds. A field without a
// configured weight weighs 1.
func Score(fields []Field, cfg policy.ADR010) Discrepancy {
	d := Discrepancy{Deltas: make(map[string]int, len(fields))}
	var sw, sd float64
	for _, f := range fields {
		w, ok := cfg.Weights[f.Name]
		if !ok {
			w = 1
		}
		delta := 0
		if !agree(f, cfg) {
			delta = 1
		}
		d.Deltas[f.Name] = delta
		sw += w
		sd += w * float64(delta)
	}
	if sw > 0 {
		d.Score = sd / sw
	}
	d.Band = Band(d.Score, cfg)
	return d
}

// Band classifies a discrepancy score.
func Band(score float64, cfg policy.ADR010) string {
	switch {
	case score <= cfg.Bands.NormalMax:
		return BandNormal
	case score <= cfg.Bands.WarningMax:
		return BandWarning
	}
	return BandCatastrophic
}

func agree(f Field, cfg policy.ADR010) bool {
	switch f.Kind {
	case Float:
		a, ok1 := f.Original.(float64)
		b, ok2 := f.Recomputed.(float64)
		if !ok1 || !ok2 || math.IsNaN(a) || math.IsNaN(b) {
			return false
		}
		return math.Abs(a-b) <= cfg.Tolerances.FloatRelative*math.Max(math.Abs(a), math.Abs(b))
	case Integer:
		a, ok1 := f.Original.(int)
		b, ok2 := f.Recomputed.(int)
		return ok1 && ok2 && a == b
	case String:
		a, ok1 := f.Original.(string)
		b, ok2 := f.Recomputed.(string)
		if cfg.Tolerances.String == "exact" {
			return ok1 && ok2 && a == b
		}
		return ok1 && ok2 && strings.EqualFold(a, b)
	case Timestamp:
		a, ok1 := f.Original.(time.Time)
		b, ok2 := f.Recomputed.(time.Time)
		return ok1 && ok2 && math.Abs(a.Sub(b).Seconds()) <= cfg.Tolerances.TimestampSeconds
	}
	return false
}

// Validation statuses STIG records.
const (
	Approved            = "approved"
	ApprovedWithWarning = "approved_with_warning"
	Rejected            = "rejected"
)

// StatusOf maps a band to STIG's validation status.
func StatusOf(band string) string {
	switch band {
	case BandNormal:
		return Approved
	case BandWarning:
		return ApprovedWithWarning
	}
	return Rejected
}

// CDSValidation is STIG's validate_cds_computation output.
type CDSValidation struct {
	Recomputed CDSOutput `json:"recomputed"`
	Discrepancy
	ValidationStatus string `json:"validation_status"`
}

// ValidateCDS recomputes the CDS from the same inputs and scores FINN's
// claim against it under ADR-010.
func ValidateCDS(claimed, recomputed CDSOutput, cfg policy.ADR010) CDSValidation {
	d := Score([]Field{
		{"cds_score", Float, claimed.CDSScore, recomputed.CDSScore},
		{"cds_tier", String, claimed.CDSTier, recomputed.CDSTier},
		{"price_signal", Float, claimed.PriceSignal, recomputed.PriceSignal},
		{"sentiment_score", Float, claimed.SentimentScore, recomputed.SentimentScore},
		{"event_count", Integer, claimed.EventCount, recomputed.EventCount},
	}, cfg)
	return CDSValidation{Recomputed: recomputed, Discrepancy: d, ValidationStatus: StatusOf(d.Band)}
}

// SummaryValidation is STIG's validate_conflict_summary output.
type SummaryValidation struct {
	SentenceCount     int      `json:"sentence_count"`
	RequiredSentences int      `json:"required_sentences"`
	KeywordsFound     []string `json:"keywords_found"`
	KeywordsMissing   []string `json:"keywords_missing"`
	KeywordCoverage   int      `json:"keyword_coverage"`
	RequiredKeywords  int      `json:"required_keywords"`
	Discrepancy
	ValidationStatus string `json:"validation_status"`
}

// ValidateSummary is the anti-hallucination check: the summary has exactly
// the required number of sentences and names at least the required number
// of the top event keywords (case-insensitive).
func ValidateSummary(summary string, keywords []string, sentences, required int, cfg policy.ADR010) SummaryValidation {
	v := SummaryValidation{
		SentenceCount:     CountSentences(summary),
		RequiredSentences: sentences,
		RequiredKeywords:  required,
		KeywordsFound:     []string{},
		KeywordsMissing:   []string{},
	}
	lower := strings.ToLower(summary)
	for _, k := range keywords {
		if k != "" && strings.Contains(lower, strings.ToLower(k)) {
			v.KeywordsFound = append(v.KeywordsFound, k)
		} else {
			v.KeywordsMissing = append(v.KeywordsMissing, k)
		}
	}
	v.KeywordCoverage = len(v.KeywordsFound)
	covered := min(v.KeywordCoverage, required)
	v.Discrepancy = Score([]Field{
		{"sentence_count", Integer, v.SentenceCount, sentences},
		{"keyword_coverage", Integer, covered, required},
	}, cfg)
	v.ValidationStatus = StatusOf(v.Band)
	return v
}

// CountSentences counts sentences: runs of text ended by '.', '!' or '?'
// followed by white space or the end. A decimal point inside a number does
// not end a sentence; a trailing fragment without a full stop counts as one.
func CountSentences(s string) int {
	rs := []rune(strings.TrimSpace(s))
	n, content := 0, false
	for i, r := range rs {
		if r == '.' || r == '!' || r == '?' {
			if i == len(rs)-1 || unicode.IsSpace(rs[i+1]) {
				if content {
					n++
				}
				content = false
				continue
			}
		}
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			content = true
		}
	}
	if content {
		n++
	}
	return n
}
