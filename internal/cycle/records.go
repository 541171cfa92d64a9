package cycle

import (
	"bytes"
	"encoding/json"

	jsonv2 "github.com/go-json-experiment/json"

	"github.com/vision-ios/vios/internal/fault"
	"github.com/vision-ios/vios/internal/layout"
)

// SignatureLog is SIGNATURE_LOG_CYCLE_<id>.json: every operation signature
// of one cycle with its verification result and lineage.
type SignatureLog struct {
	LogID              string               `json:"log_id"`
	CycleID            string               `json:"cycle_id"`
	CycleTimestamp     string               `json:"cycle_timestamp"`
	System             string               `json:"system"`
	BaselineVersion    string               `json:"baseline_version"`
	PayloadType        string               `json:"payload_type"`
	Summary            VerificationSummary  `json:"signature_verification_summary"`
	Operations         []OperationSignature `json:"operation_signatures"`
	SkippedOperations  []SkippedOperation   `json:"skipped_operations"`
	Alerts             []Alert              `json:"alerts"`
	FinalVerdict       string               `json:"final_verdict"`
	LogGeneratedAt     string               `json:"log_generated_at"`
	EvidenceBundlePath string               `json:"evidence_bundle"`
}

// VerificationSummary counts a cycle's signatures.
type VerificationSummary struct {
	TotalOperations     int     `json:"total_operations"`
	SignaturesRequired  int     `json:"signatures_required"`
	SignaturesPresent   int     `json:"signatures_present"`
	SignaturesVerified  int     `json:"signatures_verified"`
	SignaturesFailed    int     `json:"signatures_failed"`
	VerificationRatePct float64 `json:"verification_rate_pct"`
	VerificationStatus  string  `json:"verification_status"`
}

// OperationSignature is one signed operation.
type OperationSignature struct {
	Step                  int     `json:"step"`
	Agent                 string  `json:"agent"`
	Operation             string  `json:"operation"`
	OperationTimestamp    string  `json:"operation_timestamp"`
	InputHash             string  `json:"input_hash"`
	OperationOutputHash   string  `json:"operation_output_hash"`
	ParentHash            *string `json:"parent_hash"`
	LineageHash           string  `json:"lineage_hash"`
	Signature             string  `json:"signature"`
	PublicKey             string  `json:"public_key"`
	KeyID                 string  `json:"key_id"`
	SignatureAlgorithm    string  `json:"signature_algorithm"`
	PublicKeySource       string  `json:"public_key_source"`
	Verified              bool    `json:"verified"`
	VerificationTimestamp string  `json:"verification_timestamp"`
}

// SkippedOperation is a step that did not run, with the reason.
type SkippedOperation struct {
	Step      int    `json:"step"`
	Agent     string `json:"agent"`
	Operation string `json:"operation"`
	Status    string `json:"status"`
	Reason    string `json:"reason"`
}

// Alert is raised in a log when something needs a person.
type Alert struct {
	Type     string `json:"type"`
	Severity string `json:"severity"`
	Step     int    `json:"step,omitempty"`
	Message  string `json:"message"`
}

// Evidence is CYCLE_<id>.json: each step's status, input and output, enough
// to replay the cycle without the network.
type Evidence struct {
	CycleID        string       `json:"cycle_id"`
	CycleTimestamp string       `json:"cycle_timestamp"`
	Asset          string       `json:"asset"`
	Sources        Sources      `json:"sources"`
	Steps          []StepRecord `json:"steps"`
	Outcome        Outcome      `json:"outcome"`
}

// Sources names where a cycle's inputs came from.
type Sources struct {
	Market   string `json:"market"`
	Events   string `json:"events"`
	Provider string `json:"provider"`
}

// Outcome summarises a cycle.
type Outcome struct {
	Status        string  `json:"status"`         // completed | halted
	Verdict       string  `json:"verdict"`        // GRANTED | DENIED | "" when halted
	SummaryStatus string  `json:"summary_status"` // generated | skipped | blocked | failed
	CDSScore      float64 `json:"cds_score"`
	CostUSD       float64 `json:"cost_usd"`
}

// Step statuses in evidence.
const (
	StatusCompleted = "completed"
	StatusSkipped   = "skipped"
	StatusBlocked   = "blocked"
	StatusFailed    = "failed"
	StatusNotRun    = "not_run"
)

// StepRecord is one step of the evidence bundle.
type StepRecord struct {
	Step       int             `json:"step"`
	Agent      string          `json:"agent"`
	Operation  string          `json:"operation"`
	Tier       int             `json:"tier"`
	Status     string          `json:"status"`
	Reason     string          `json:"reason,omitempty"`
	InputHash  string          `json:"input_hash,omitempty"`
	OutputHash string          `json:"operation_output_hash,omitempty"`
	Input      json.RawMessage `json:"input,omitempty"`
	Output     json.RawMessage `json:"output,omitempty"`
}

// ParseLog strictly parses a signature log and checks that its id is safe.
func ParseLog(data []byte) (*SignatureLog, error) {
	var l SignatureLog
	if err := strictJSON(data, &l); err != nil {
		return nil, fault.Inputf("signature log: %v", err)
	}
	if err := layout.CheckCycleID(l.CycleID); err != nil {
		return nil, fault.Inputf("signature log: %v", err)
	}
	return &l, nil
}

// ParseEvidence strictly parses an evidence bundle.
func ParseEvidence(data []byte) (*Evidence, error) {
	return parseEvidence(data)
}

func parseEvidence(data []byte, opts ...jsonv2.Options) (*Evidence, error) {
	var e Evidence
	if err := strictJSON(data, &e, opts...); err != nil {
		return nil, fault.Inputf("evidence: %v", err)
	}
	if err := layout.CheckCycleID(e.CycleID); err != nil {
		return nil, fault.Inputf("evidence: %v", err)
	}
	return &e, nil
}

// strictJSON decodes exactly one JSON value into v, refusing unknown or
// duplicate keys, keys that differ only in case, invalid UTF-8 and
// trailing data. It uses the JSON v2 decoder, which is several times
// faster than encoding/json on evidence bundles and is stricter by
// default; an audit parses two records per cycle.
func strictJSON(data []byte, v any, opts ...jsonv2.Options) error {
	return jsonv2.Unmarshal(data, v, jsonv2.RejectUnknownMembers(true), jsonv2.JoinOptions(opts...))
}

// Marshal writes the evidence bundle: the envelope indented for people, each
// step on one line with its input and output embedded exactly as hashed
// (RFC 8785 canonical form), so a verifier can hash the bytes as they stand
// and canonicalise only when they were reformatted.
func (e *Evidence) Marshal() []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	env := marshal(struct {
		CycleID        string  `json:"cycle_id"`
		CycleTimestamp string  `json:"cycle_timestamp"`
		Asset          string  `json:"asset"`
		Sources        Sources `json:"sources"`
		Outcome        Outcome `json:"outcome"`
	}{e.CycleID, e.CycleTimestamp, e.Asset, e.Sources, e.Outcome})
	// Splice the steps in before the closing brace of the envelope.
	env = bytes.TrimSuffix(bytes.TrimSuffix(env, []byte("\n")), []byte("}"))
	env = bytes.TrimRight(env, "\n")
	b.Write(env)
	b.WriteString(",\n  \"steps\": [")
	for i, s := range e.Steps {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("\n    ")
		enc.Encode(s)
		b.Truncate(b.Len() - 1) // Encode's newline
	}
	b.WriteString("\n  ]\n}\n")
	return b.Bytes()
}

func marshal(v any) []byte {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		panic(err) // records hold only marshalable types
	}
	return append(b, '\n')
}
