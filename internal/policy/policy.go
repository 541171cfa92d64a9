// Package policy loads and validates the governance policy set: agent
// contracts, the cycle step graph, economics, determinism, signature and
// governance rules. Policies are read from a governance repository (or the
// embedded v1.0 defaults) and refused with a clear error when broken.
package policy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"path"
	"slices"
	"sort"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/vision-ios/vios/internal/fault"
	"github.com/vision-ios/vios/policies"
)

// Agents, in the order they are listed everywhere.
var Agents = []string{"LARS", "FINN", "STIG", "LINE", "VEGA", "CODE"}

// IsAgent reports whether name is one of the six agents.
func IsAgent(name string) bool { return slices.Contains(Agents, name) }

// Set is the whole validated policy set.
type Set struct {
	Agents       map[string]Contract
	Cycle        Cycle
	Economics    Economics
	Determinism  Determinism
	Signatures   Signatures
	Governance   Governance
	FilesVersion string // cycle.yaml's version, e.g. "v1.0"
}

// Contract is an agent contract (policies/agents/<agent>.yaml).
type Contract struct {
	Agent       string   `yaml:"agent"`
	Role        string   `yaml:"role"`
	Description string   `yaml:"description"`
	Operations  []string `yaml:"operations"`
	Approvals   []string `yaml:"approvals"`
	MayCallLLM  bool     `yaml:"may_call_llm"`
}

// Cycle is policies/cycle.yaml.
type Cycle struct {
	Version  string `yaml:"version"`
	Asset    string `yaml:"asset"`
	Schedule struct {
		Interval Duration `yaml:"interval"`
		Cron     string   `yaml:"cron"`
	} `yaml:"schedule"`
	Market struct {
		Source         string   `yaml:"source"`
		Interval       string   `yaml:"interval"`
		Lookback       int      `yaml:"lookback_candles"`
		BinanceBaseURL string   `yaml:"binance_base_url"`
		Timeout        Duration `yaml:"timeout"`
		Retries        int      `yaml:"retries"`
	} `yaml:"market"`
	Events struct {
		Source string   `yaml:"source"`
		Window Duration `yaml:"window"`
	} `yaml:"events"`
	Summary struct {
		Provider         string  `yaml:"provider"`
		OpenAI           OpenAI  `yaml:"openai"`
		CDSTrigger       float64 `yaml:"cds_trigger"`
		Sentences        int     `yaml:"sentences"`
		KeywordsRequired int     `yaml:"keywords_required"`
		TopEvents        int     `yaml:"top_events"`
	} `yaml:"summary"`
	CDS struct {
		MomentumDays    int      `yaml:"momentum_days"`
		HalfLife        Duration `yaml:"sentiment_half_life"`
		DivergenceScale float64  `yaml:"divergence_scale"`
		Tiers           struct {
			LowBelow  float64 `yaml:"low_below"`
			HighAbove float64 `yaml:"high_above"`
		} `yaml:"tiers"`
	} `yaml:"cds"`
	Regime Regime `yaml:"regime"`
	Steps  []Step `yaml:"steps"`
}

// OpenAI configures the OpenAI-compatible chat-completions provider.
type OpenAI struct {
	BaseURL     string   `yaml:"base_url"`
	APIKeyEnv   string   `yaml:"api_key_env"`
	Timeout     Duration `yaml:"timeout"`
	Retries     int      `yaml:"retries"`
	Seed        int      `yaml:"seed"`
	Temperature float64  `yaml:"temperature"`
}

// Regime holds the deterministic regime rule and the relevance weights.
type Regime struct {
	CrisisDrawdown float64            `yaml:"crisis_drawdown"`
	BearReturn     float64            `yaml:"bear_return"`
	VolatileVol    float64            `yaml:"volatile_vol"`
	BullReturn     float64            `yaml:"bull_return"`
	Weights        map[string]float64 `yaml:"weights"`
}

// Step is one node of the frozen step graph.
type Step struct {
	Step        int    `yaml:"step"`
	Agent       string `yaml:"agent"`
	Operation   string `yaml:"operation"`
	Tier        int    `yaml:"tier"`
	Conditional string `yaml:"conditional,omitempty"`
}

// Economics is policies/economics.yaml (ADR-012).
type Economics struct {
	PerSummaryCeilingUSD float64 `yaml:"per_summary_ceiling_usd"`
	DailyBudgetCapUSD    float64 `yaml:"daily_budget_cap_usd"`
	DailyRateLimit       int     `yaml:"daily_rate_limit"`
	Alerts               struct {
		CeilingApproachPct float64 `yaml:"ceiling_approach_pct"`
		BudgetPct          float64 `yaml:"budget_pct"`
		RatePct            float64 `yaml:"rate_pct"`
	} `yaml:"alerts"`
	Summary struct {
		Model          string `yaml:"model"`
		MaxTokens      int    `yaml:"max_tokens"`
		MaxInputTokens int    `yaml:"max_input_tokens"`
	} `yaml:"summary"`
	Models map[string]Price `yaml:"models"`
}

// Price is a model's price per 1,000 tokens in USD.
type Price struct {
	InputPer1K  float64 `yaml:"input_per_1k_usd"`
	OutputPer1K float64 `yaml:"output_per_1k_usd"`
}

// Cost prices a token usage.
func (p Price) Cost(inputTokens, outputTokens int) float64 {
	return float64(inputTokens)/1000*p.InputPer1K + float64(outputTokens)/1000*p.OutputPer1K
}

// AnswerCost prices a summary answer's usage at the price of the model that
// answered. When the provider names a model without a price, the usage is
// charged at the price of the model asked for (the one the guard approved),
// so no spend goes uncounted, and priced is false for the caller to alert.
func (e Economics) AnswerCost(asked, answered string, inputTokens, outputTokens int) (cost float64, priced bool) {
	price, priced := e.Models[answered]
	if !priced {
		price = e.Models[asked]
	}
	return price.Cost(inputTokens, outputTokens), priced
}

// Determinism is policies/determinism.yaml (tiers and ADR-010).
type Determinism struct {
	Tiers struct {
		Tier4 struct {
			Description    string  `yaml:"description"`
			FloatTolerance float64 `yaml:"float_tolerance"`
			Target         float64 `yaml:"target"`
		} `yaml:"tier4"`
		Tier2 struct {
			Description string  `yaml:"description"`
			Target      float64 `yaml:"target"`
		} `yaml:"tier2"`
	} `yaml:"tiers"`
	OverallTarget float64 `yaml:"overall_target"`
	ADR010        ADR010  `yaml:"adr010"`
}

// ADR010 holds the discrepancy tolerances, bands and field weights.
type ADR010 struct {
	Tolerances struct {
		TimestampSeconds float64 `yaml:"timestamp_seconds"`
		FloatRelative    float64 `yaml:"float_relative"`
		Integer          string  `yaml:"integer"`
		String           string  `yaml:"string"`
	} `yaml:"tolerances"`
	Bands struct {
		NormalMax  float64 `yaml:"normal_max"`
		WarningMax float64 `yaml:"warning_max"`
	} `yaml:"bands"`
	Weights map[string]float64 `yaml:"weights"`
}

// Signatures is policies/signatures.yaml (ADR-008).
type Signatures struct {
	Algorithm       string `yaml:"algorithm"`
	PayloadType     string `yaml:"payload_type"`
	Verification    string `yaml:"verification"`
	PublicKeySource string `yaml:"public_key_source"`
	Rotation        struct {
		MaxAgeDays   int `yaml:"max_age_days"`
		OverlapHours int `yaml:"overlap_hours"`
	} `yaml:"rotation"`
	CommitSigners map[string][]string `yaml:"commit_signers"`
	// RetentionDays is how long signature logs must be kept (0: the
	// operations document's 365 days; never less).
	RetentionDays int `yaml:"retention_days,omitempty"`
}

// MinLogRetentionDays is the operations document's signature-log retention.
const MinLogRetentionDays = 365

// LogRetentionDays is the signature-log retention in days.
func (s Signatures) LogRetentionDays() int {
	if s.RetentionDays == 0 {
		return MinLogRetentionDays
	}
	return s.RetentionDays
}

// Governance is policies/governance.yaml.
type Governance struct {
	Reviewers            map[string][]string  `yaml:"reviewers"`
	Deviations           map[string]Deviation `yaml:"deviations"`
	StatusUpdateInterval Duration             `yaml:"status_update_interval"`
	AlertWithin          Duration             `yaml:"alert_within"`
	AlertSinks           []AlertSink          `yaml:"alert_sinks"`
	Frozen               map[string][]string  `yaml:"frozen"`
	Regenerated          []string             `yaml:"regenerated"`
}

// Deviation is one row of the deviation SLA table.
type Deviation struct {
	SLA        Duration `yaml:"sla"`
	Action     string   `yaml:"action"`
	Recipients []string `yaml:"recipients"`
	Severity   string   `yaml:"severity"`
}

// AlertSink configures where deviation alerts go.
type AlertSink struct {
	Type   string `yaml:"type"`
	URL    string `yaml:"url,omitempty"`
	Secret string `yaml:"secret_env,omitempty"`
	Repo   string `yaml:"repo,omitempty"`
}

// Duration is a time.Duration written as "1h", "30m" in YAML.
type Duration time.Duration

// UnmarshalYAML parses a Go duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return fmt.Errorf("line %d: duration must be a string like \"1h\"", n.Line)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes the duration as a string.
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// D returns the time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// Files names the policy files, relative to policies/.
var Files = []string{"cycle.yaml", "economics.yaml", "determinism.yaml", "signatures.yaml", "governance.yaml"}

// Defaults returns the embedded v1.0 policy set.
func Defaults() (*Set, error) { return Load(policies.FS) }

// Load reads and validates a policy set from fsys, whose root is the
// policies/ directory. Every problem is a fault.Input error naming the file.
func Load(fsys fs.FS) (*Set, error) {
	s := &Set{Agents: map[string]Contract{}}
	targets := map[string]any{
		"cycle.yaml":       &s.Cycle,
		"economics.yaml":   &s.Economics,
		"determinism.yaml": &s.Determinism,
		"signatures.yaml":  &s.Signatures,
		"governance.yaml":  &s.Governance,
	}
	for _, name := range Files {
		if err := decodeFile(fsys, name, targets[name]); err != nil {
			return nil, err
		}
	}
	for _, a := range Agents {
		name := "agents/" + strings.ToLower(a) + ".yaml"
		var c Contract
		if err := decodeFile(fsys, name, &c); err != nil {
			return nil, err
		}
		if c.Agent != a {
			return nil, fault.Inputf("policies/%s: agent is %q, want %q", name, c.Agent, a)
		}
		s.Agents[a] = c
	}
	s.FilesVersion = s.Cycle.Version
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return s, nil
}

func decodeFile(fsys fs.FS, name string, v any) error {
	data, err := fs.ReadFile(fsys, name)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fault.Inputf("policies/%s: missing", name)
		}
		return fmt.Errorf("policies/%s: %w", name, err)
	}
	if err := Decode(data, v); err != nil {
		return fault.Inputf("policies/%s: %v", name, err)
	}
	return nil
}

// Decode strictly decodes one YAML document into v: unknown keys, a second
// document or trailing garbage are errors.
func Decode(data []byte, v any) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return errors.New("empty document")
		}
		return cleanYAMLError(err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return errors.New("more than one YAML document")
	}
	return nil
}

func cleanYAMLError(err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	msg = strings.ReplaceAll(msg, "unmarshal errors:\n  ", "")
	msg = strings.ReplaceAll(msg, "\n  ", "; ")
	return errors.New(msg)
}

// Validate checks the cross-file rules of the policy set.
func (s *Set) Validate() error {
	var errs []string
	bad := func(file, format string, args ...any) {
		errs = append(errs, fmt.Sprintf("policies/%s: %s", file, fmt.Sprintf(format, args...)))
	}
	finite := func(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

	// cycle.yaml
	c := s.Cycle
	if c.Version == "" {
		bad("cycle.yaml", "version is empty")
	}
	if c.Asset != "BTCUSDT" {
		bad("cycle.yaml", "asset %q: BTCUSDT is the only asset (ADR-001)", c.Asset)
	}
	if c.Schedule.Interval.D() < time.Minute {
		bad("cycle.yaml", "schedule.interval %s: must be at least 1m", c.Schedule.Interval.D())
	}
	if c.Market.Interval != "1d" {
		bad("cycle.yaml", "market.interval %q: only 1d is supported", c.Market.Interval)
	}
	if c.Market.Lookback < 30 || c.Market.Lookback > 1000 {
		bad("cycle.yaml", "market.lookback_candles %d: must be 30..1000", c.Market.Lookback)
	}
	if c.Market.Timeout.D() <= 0 {
		bad("cycle.yaml", "market.timeout must be positive")
	}
	if c.Market.Retries < 0 || c.Market.Retries > 10 {
		bad("cycle.yaml", "market.retries %d: must be 0..10", c.Market.Retries)
	}
	if c.Events.Window.D() <= 0 {
		bad("cycle.yaml", "events.window must be positive")
	}
	if c.Summary.CDSTrigger <= 0 || c.Summary.CDSTrigger > 1 {
		bad("cycle.yaml", "summary.cds_trigger %v: must be in (0,1]", c.Summary.CDSTrigger)
	}
	if c.Summary.Sentences < 1 || c.Summary.TopEvents < 1 || c.Summary.KeywordsRequired < 1 || c.Summary.KeywordsRequired > c.Summary.TopEvents {
		bad("cycle.yaml", "summary: sentences, top_events >= 1 and 1 <= keywords_required <= top_events")
	}
	switch c.Summary.Provider {
	case "builtin":
	case "openai":
		if c.Summary.OpenAI.BaseURL == "" {
			bad("cycle.yaml", "summary.openai.base_url is required for the openai provider")
		}
	default:
		bad("cycle.yaml", "summary.provider %q: builtin or openai", c.Summary.Provider)
	}
	if o := c.Summary.OpenAI; o.Retries < 0 || o.Retries > 10 || o.Timeout.D() < 0 || o.Temperature < 0 || o.Temperature > 2 {
		bad("cycle.yaml", "summary.openai: retries 0..10, timeout >= 0, temperature 0..2")
	}
	if c.CDS.MomentumDays < 1 || c.CDS.MomentumDays >= c.Market.Lookback {
		bad("cycle.yaml", "cds.momentum_days %d: must be 1..lookback-1", c.CDS.MomentumDays)
	}
	if c.CDS.HalfLife.D() <= 0 {
		bad("cycle.yaml", "cds.sentiment_half_life must be positive")
	}
	if !(c.CDS.DivergenceScale > 0) || !finite(c.CDS.DivergenceScale) {
		bad("cycle.yaml", "cds.divergence_scale must be positive")
	}
	if !(0 < c.CDS.Tiers.LowBelow && c.CDS.Tiers.LowBelow < c.CDS.Tiers.HighAbove && c.CDS.Tiers.HighAbove < 1) {
		bad("cycle.yaml", "cds.tiers: need 0 < low_below < high_above < 1")
	}
	for _, r := range []string{"bull", "volatile", "neutral", "bear", "crisis"} {
		w, ok := c.Regime.Weights[r]
		if !ok {
			bad("cycle.yaml", "regime.weights: %s missing", r)
		} else if !(w >= 0 && w <= 1) {
			bad("cycle.yaml", "regime.weights.%s %v: must be in [0,1]", r, w)
		}
	}
	for r := range c.Regime.Weights {
		if !slices.Contains([]string{"bull", "volatile", "neutral", "bear", "crisis"}, r) {
			bad("cycle.yaml", "regime.weights: unknown regime %q", r)
		}
	}
	s.validateSteps(bad)

	// economics.yaml
	e := s.Economics
	for name, v := range map[string]float64{"per_summary_ceiling_usd": e.PerSummaryCeilingUSD, "daily_budget_cap_usd": e.DailyBudgetCapUSD} {
		if !(v > 0) || !finite(v) {
			bad("economics.yaml", "%s %v: must be a positive number", name, v)
		}
	}
	if e.PerSummaryCeilingUSD > e.DailyBudgetCapUSD {
		bad("economics.yaml", "per_summary_ceiling_usd %v is above daily_budget_cap_usd %v", e.PerSummaryCeilingUSD, e.DailyBudgetCapUSD)
	}
	if e.DailyRateLimit < 1 {
		bad("economics.yaml", "daily_rate_limit %d: must be at least 1", e.DailyRateLimit)
	}
	for name, v := range map[string]float64{"ceiling_approach_pct": e.Alerts.CeilingApproachPct, "budget_pct": e.Alerts.BudgetPct, "rate_pct": e.Alerts.RatePct} {
		if !(v > 0 && v <= 100) {
			bad("economics.yaml", "alerts.%s %v: must be in (0,100]", name, v)
		}
	}
	if e.Summary.MaxTokens < 1 || e.Summary.MaxInputTokens < 1 {
		bad("economics.yaml", "summary.max_tokens and max_input_tokens must be positive")
	}
	if _, ok := e.Models[e.Summary.Model]; !ok {
		bad("economics.yaml", "summary.model %q has no entry in models", e.Summary.Model)
	}
	for _, m := range sortedKeys(e.Models) {
		p := e.Models[m]
		if !(p.InputPer1K >= 0) || !(p.OutputPer1K >= 0) || !finite(p.InputPer1K) || !finite(p.OutputPer1K) {
			bad("economics.yaml", "models.%s: prices must be non-negative numbers", m)
		}
	}

	// determinism.yaml
	d := s.Determinism
	if !(d.Tiers.Tier4.FloatTolerance > 0 && d.Tiers.Tier4.FloatTolerance < 1e-3) {
		bad("determinism.yaml", "tiers.tier4.float_tolerance %v: must be in (0, 1e-3)", d.Tiers.Tier4.FloatTolerance)
	}
	for name, v := range map[string]float64{"tiers.tier4.target": d.Tiers.Tier4.Target, "tiers.tier2.target": d.Tiers.Tier2.Target, "overall_target": d.OverallTarget} {
		if !(v > 0 && v <= 1) {
			bad("determinism.yaml", "%s %v: must be in (0,1]", name, v)
		}
	}
	a := d.ADR010
	if !(a.Tolerances.FloatRelative >= 0) || a.Tolerances.TimestampSeconds < 0 {
		bad("determinism.yaml", "adr010.tolerances must be non-negative")
	}
	if a.Tolerances.Integer != "exact" {
		bad("determinism.yaml", "adr010.tolerances.integer %q: only exact is defined", a.Tolerances.Integer)
	}
	if a.Tolerances.String != "case_insensitive" && a.Tolerances.String != "exact" {
		bad("determinism.yaml", "adr010.tolerances.string %q: case_insensitive or exact", a.Tolerances.String)
	}
	if !(0 <= a.Bands.NormalMax && a.Bands.NormalMax <= a.Bands.WarningMax && a.Bands.WarningMax <= 1) {
		bad("determinism.yaml", "adr010.bands: need 0 <= normal_max <= warning_max <= 1")
	}
	for _, f := range sortedKeys(a.Weights) {
		if !(a.Weights[f] > 0) {
			bad("determinism.yaml", "adr010.weights.%s must be positive", f)
		}
	}

	// signatures.yaml
	g := s.Signatures
	if g.Algorithm != "ed25519" {
		bad("signatures.yaml", "algorithm %q: ADR-008 allows ed25519 only", g.Algorithm)
	}
	if g.PayloadType == "" {
		bad("signatures.yaml", "payload_type is empty")
	}
	if g.Verification != "strict" {
		bad("signatures.yaml", "verification %q: only strict is allowed", g.Verification)
	}
	if g.RetentionDays != 0 && (g.RetentionDays < MinLogRetentionDays || g.RetentionDays > 100*366) {
		bad("signatures.yaml", "retention_days %d: signature logs are kept at least %d days", g.RetentionDays, MinLogRetentionDays)
	}
	for _, kind := range sortedKeys(g.CommitSigners) {
		for _, a := range g.CommitSigners[kind] {
			if !IsAgent(a) {
				bad("signatures.yaml", "commit_signers.%s: unknown agent %q", kind, a)
			}
		}
	}
	for _, kind := range ArtifactKinds {
		if len(g.CommitSigners[kind]) == 0 {
			bad("signatures.yaml", "commit_signers.%s: no agent may sign it", kind)
		}
	}

	// governance.yaml
	v := s.Governance
	for _, r := range sortedKeys(v.Reviewers) {
		if !IsAgent(r) {
			bad("governance.yaml", "reviewers: unknown agent %q", r)
		}
	}
	for _, name := range sortedKeys(v.Deviations) {
		dv := v.Deviations[name]
		if dv.SLA.D() <= 0 {
			bad("governance.yaml", "deviations.%s.sla must be positive", name)
		}
		for _, r := range dv.Recipients {
			if !IsAgent(r) {
				bad("governance.yaml", "deviations.%s.recipients: unknown agent %q", name, r)
			}
		}
	}
	for _, cat := range FrozenCategories {
		if len(v.Frozen[cat]) == 0 {
			bad("governance.yaml", "frozen.%s: no paths", cat)
		}
	}
	for _, cat := range sortedKeys(v.Frozen) {
		if !slices.Contains(FrozenCategories, cat) {
			bad("governance.yaml", "frozen: unknown category %q", cat)
		}
		for _, p := range v.Frozen[cat] {
			if _, err := path.Match(strings.ReplaceAll(p, "**", "*"), ""); err != nil || strings.HasPrefix(p, "/") || strings.Contains(p, "..") {
				bad("governance.yaml", "frozen.%s: bad path glob %q", cat, p)
			}
		}
	}
	if len(errs) > 0 {
		return fault.Input(errors.New(strings.Join(errs, "; ")))
	}
	return nil
}

func (s *Set) validateSteps(bad func(file, format string, args ...any)) {
	want := []struct{ agent, op string }{
		{"LINE", "ingest_binance_ohlcv"},
		{"FINN", "compute_cds_score"},
		{"STIG", "validate_cds_computation"},
		{"FINN", "compute_relevance_score"},
		{"FINN", "tier2_conflict_summary"},
		{"STIG", "validate_conflict_summary"},
		{"VEGA", "final_attestation"},
	}
	steps := s.Cycle.Steps
	if len(steps) != len(want) {
		bad("cycle.yaml", "steps: %d steps, the v1.0 graph has %d", len(steps), len(want))
		return
	}
	for i, st := range steps {
		if st.Step != i+1 || st.Agent != want[i].agent || st.Operation != want[i].op {
			bad("cycle.yaml", "steps[%d]: %d %s %s, the v1.0 graph has %d %s %s", i, st.Step, st.Agent, st.Operation, i+1, want[i].agent, want[i].op)
			continue
		}
		c, ok := s.Agents[st.Agent]
		if !ok || !slices.Contains(c.Operations, st.Operation) {
			bad("agents/"+strings.ToLower(st.Agent)+".yaml", "operation %s of step %d is not in the contract", st.Operation, st.Step)
		}
		if st.Tier != 2 && st.Tier != 4 {
			bad("cycle.yaml", "steps[%d].tier %d: 2 or 4", i, st.Tier)
		}
		if st.Conditional != "" && st.Conditional != "summary" {
			bad("cycle.yaml", "steps[%d].conditional %q: only summary", i, st.Conditional)
		}
	}
	for _, a := range sortedKeys(s.Agents) {
		c := s.Agents[a]
		if c.MayCallLLM != (a == "FINN") {
			bad("agents/"+strings.ToLower(a)+".yaml", "may_call_llm: only FINN calls an LLM")
		}
	}
}

// OwnerOf returns the agent whose contract owns operation op.
func (s *Set) OwnerOf(op string) (string, bool) {
	for _, a := range Agents {
		if slices.Contains(s.Agents[a].Operations, op) {
			return a, true
		}
	}
	return "", false
}

// FrozenCategories are the seven prohibited change categories of the freeze.
var FrozenCategories = []string{
	"agent_contracts",
	"orchestrator_logic",
	"adr_compliance_checks",
	"economic_safety_constraints",
	"signature_verification_requirements",
	"determinism_thresholds",
	"canonical_evidence",
}

// ArtifactKinds are the kinds of governance commit, each with its allowed signers.
var ArtifactKinds = []string{
	"bootstrap", "policy", "baseline", "signature_log", "cycle_evidence", "operational_state", "operational_status",
	"cost_report", "vega_attestation", "phase3_brief", "deviation", "change_request", "governance_readme",
}

// MaySign reports whether agent may sign a commit carrying an artifact of kind.
func (s *Set) MaySign(kind, agent string) bool {
	return slices.Contains(s.Signatures.CommitSigners[kind], agent)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
