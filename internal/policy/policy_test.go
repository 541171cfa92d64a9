package policy

import (
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/vision-ios/vios/internal/fault"
	"github.com/vision-ios/vios/policies"
)

func TestDefaultsValid(t *testing.T) {
	p, err := Defaults()
	if err != nil {
		t.Fatal(err)
	}
	if p.Cycle.Asset != "BTCUSDT" || len(p.Cycle.Steps) != 7 || p.Economics.PerSummaryCeilingUSD != 0.05 || p.Economics.DailyRateLimit != 100 {
		t.Fatalf("unexpected defaults: %+v", p.Cycle)
	}
	if a, _ := p.OwnerOf("tier2_conflict_summary"); a != "FINN" {
		t.Fatalf("owner = %s", a)
	}
	if !p.MaySign("vega_attestation", "VEGA") || p.MaySign("vega_attestation", "CODE") {
		t.Fatal("commit signer rules")
	}
}

// mutate returns the embedded policies with one file's text replaced.
func mutate(t *testing.T, file, old, new string) fs.FS {
	t.Helper()
	m := fstest.MapFS{}
	fs.WalkDir(policies.FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			data, _ := fs.ReadFile(policies.FS, p)
			m[p] = &fstest.MapFile{Data: data}
		}
		return err
	})
	f, ok := m[file]
	if !ok {
		t.Fatalf("no %s", file)
	}
	if old != "" && !strings.Contains(string(f.Data), old) {
		t.Fatalf("%s does not contain %q", file, old)
	}
	if old == "" {
		delete(m, file)
	} else {
		f.Data = []byte(strings.Replace(string(f.Data), old, new, 1))
	}
	return m
}

func TestBrokenPoliciesRefused(t *testing.T) {
	for _, tc := range []struct{ name, file, old, new, want string }{
		{"unknown key", "economics.yaml", "daily_rate_limit: 100", "daily_rate_limit: 100\nsurprise: 1", "surprise"},
		{"negative price", "economics.yaml", "input_per_1k_usd: 0.010", "input_per_1k_usd: -0.010", "non-negative"},
		{"non-numeric", "economics.yaml", "daily_budget_cap_usd: 500", "daily_budget_cap_usd: lots", "line 3: cannot unmarshal !!str `lots`"},
		{"ceiling above cap", "economics.yaml", "daily_budget_cap_usd: 500", "daily_budget_cap_usd: 0.01", "above daily_budget_cap_usd"},
		{"unknown model", "economics.yaml", "model: builtin-summarizer-v1", "model: gpt-9", "no entry in models"},
		{"rate limit", "economics.yaml", "daily_rate_limit: 100", "daily_rate_limit: -1", "daily_rate_limit"},
		{"asset", "cycle.yaml", "asset: BTCUSDT", "asset: ETHUSDT", "only asset"},
		{"step order", "cycle.yaml", "{step: 2, agent: FINN", "{step: 2, agent: STIG", "steps[1]"},
		{"bad duration", "cycle.yaml", "window: 48h", "window: forever", "duration"},
		{"algorithm", "signatures.yaml", "algorithm: ed25519", "algorithm: rsa", "ed25519 only"},
		{"contract", "agents/finn.yaml", "operations: [compute_cds_score, compute_relevance_score, tier2_conflict_summary]", "operations: [compute_cds_score]", "not in the contract"},
		{"llm", "agents/stig.yaml", "may_call_llm: false", "may_call_llm: true", "only FINN"},
		{"category", "governance.yaml", "  determinism_thresholds:", "  vibes: [x]\n  determinism_thresholds:", "unknown category"},
		{"missing file", "determinism.yaml", "", "", "missing"},
		{"two documents", "governance.yaml", "alert_within: 5m", "alert_within: 5m\n---\nx: 1", "more than one"},
		{"not yaml", "cycle.yaml", "version: v1.0", "version: [", "cycle.yaml"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(mutate(t, tc.file, tc.old, tc.new))
			if err == nil {
				t.Fatal("broken policy accepted")
			}
			if !fault.IsInput(err) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v\nwant an input error containing %q", err, tc.want)
			}
		})
	}
}

func FuzzDecodePolicy(f *testing.F) {
	for _, name := range Files {
		data, _ := fs.ReadFile(policies.FS, name)
		f.Add(name, data)
	}
	f.Fuzz(func(t *testing.T, name string, data []byte) {
		var targets = map[string]any{"cycle.yaml": &Cycle{}, "economics.yaml": &Economics{}, "determinism.yaml": &Determinism{}, "signatures.yaml": &Signatures{}, "governance.yaml": &Governance{}}
		v, ok := targets[name]
		if !ok {
			v = &Economics{}
		}
		_ = Decode(data, v) // must not panic
	})
}

// TestAnswerCost: an answer is priced at the model that answered, and an
// answer from a model without a price at the model asked for, never free.
func TestAnswerCost(t *testing.T) {
	e := Economics{Models: map[string]Price{
		"asked": {InputPer1K: 1, OutputPer1K: 2},
		"other": {InputPer1K: 10, OutputPer1K: 20},
	}}
	if c, ok := e.AnswerCost("asked", "other", 1000, 1000); !ok || c != 30 {
		t.Errorf("priced answer: $%v, %v; want $30, true", c, ok)
	}
	if c, ok := e.AnswerCost("asked", "unknown-echo", 1000, 1000); ok || c != 3 {
		t.Errorf("unpriced answer: $%v, %v; want $3 at the asked model's price, false", c, ok)
	}
}
