package cycle

import (
	"github.com/vision-ios/vios/internal/agents"
	"github.com/vision-ios/vios/internal/llm"
	"github.com/vision-ios/vios/internal/market"
	"github.com/vision-ios/vios/internal/news"
)

// The step inputs and outputs below are what each agent signs (their
// canonical JSON is hashed into the statement) and what the evidence bundle
// keeps for replay. Later steps refer to earlier outputs by hash.

// IngestInput is LINE's ingest_binance_ohlcv input.
type IngestInput struct {
	Asset    string `json:"asset"`
	Interval string `json:"interval"`
	Lookback int    `json:"lookback_candles"`
	Slot     string `json:"slot"`
	Source   string `json:"source"`
}

// IngestOutput is LINE's output: the candles themselves.
type IngestOutput struct {
	Count     int             `json:"count"`
	LastClose float64         `json:"last_close"`
	Candles   []market.Candle `json:"candles"`
}

// CDSInput is FINN's compute_cds_score input.
type CDSInput struct {
	OHLCVHash string           `json:"ohlcv_hash"`
	Slot      string           `json:"slot"`
	Params    agents.CDSParams `json:"params"`
	Events    []news.Event     `json:"events"`
}

// ValidateCDSInput is STIG's validate_cds_computation input.
type ValidateCDSInput struct {
	OHLCVHash     string           `json:"ohlcv_hash"`
	CDSInputHash  string           `json:"cds_input_hash"`
	CDSOutputHash string           `json:"cds_output_hash"`
	Claimed       agents.CDSOutput `json:"claimed"`
}

// RelevanceInput is FINN's compute_relevance_score input.
type RelevanceInput struct {
	OHLCVHash string              `json:"ohlcv_hash"`
	CDSScore  float64             `json:"cds_score"`
	Params    agents.RegimeParams `json:"params"`
}

// SummaryInput is FINN's tier2_conflict_summary input.
type SummaryInput struct {
	Provider  string            `json:"provider"`
	Model     string            `json:"model"`
	Request   llm.Request       `json:"request"`
	TopEvents []agents.TopEvent `json:"top_events"`
}

// SummaryOutput is FINN's summary with its usage and cost.
type SummaryOutput struct {
	Summary      string  `json:"summary"`
	Model        string  `json:"model"`
	InputTokens  int     `json:"input_tokens"`
	OutputTokens int     `json:"output_tokens"`
	CostUSD      float64 `json:"cost_usd"`
	Error        string  `json:"error,omitempty"`
}

// ValidateSummaryInput is STIG's validate_conflict_summary input.
type ValidateSummaryInput struct {
	SummaryOutputHash string   `json:"summary_output_hash"`
	Keywords          []string `json:"keywords"`
	RequiredSentences int      `json:"required_sentences"`
	RequiredKeywords  int      `json:"required_keywords"`
}

// AttestedOperation is a prior operation as VEGA sees it.
type AttestedOperation struct {
	Step                int     `json:"step"`
	Agent               string  `json:"agent"`
	Operation           string  `json:"operation"`
	OperationTimestamp  string  `json:"operation_timestamp"`
	InputHash           string  `json:"input_hash"`
	OperationOutputHash string  `json:"operation_output_hash"`
	ParentHash          *string `json:"parent_hash"`
	LineageHash         string  `json:"lineage_hash"`
	Signature           string  `json:"signature"`
	PublicKey           string  `json:"public_key"`
}

// AttestationInput is VEGA's final_attestation input.
type AttestationInput struct {
	Operations []AttestedOperation `json:"operations"`
}

// Check is one rule VEGA checked.
type Check struct {
	ADR    string `json:"adr"`
	Rule   string `json:"rule"`
	Passed bool   `json:"passed"`
	Detail string `json:"detail"`
}

// AttestationOutput is VEGA's verdict.
type AttestationOutput struct {
	Verdict           string  `json:"verdict"`
	SignaturesChecked int     `json:"signatures_checked"`
	SignaturesValid   int     `json:"signatures_valid"`
	Checks            []Check `json:"checks"`
}
