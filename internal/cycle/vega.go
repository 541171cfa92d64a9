package cycle

import (
	"fmt"
	"strings"
	"time"

	"github.com/vision-ios/vios/internal/agents"
	"github.com/vision-ios/vios/internal/keys"
	"github.com/vision-ios/vios/internal/policy"
	"github.com/vision-ios/vios/internal/signing"
)

// attest is VEGA's final_attestation over the running cycle.
func (r *run) attest() AttestationOutput {
	return Attest(r.e.Policy, r.e.Registry, r.id, r.ev.Asset, r.log.Operations, r.outputs)
}

// Attest is VEGA's final_attestation: it re-verifies every prior signature
// against the registry, recomputes the lineage chain and checks the cycle's
// ADR rules. Any failed check denies the cycle. outputs holds the decoded
// outputs of steps 3, 5 and 6 (CDSValidation, SummaryOutput,
// SummaryValidation) where they ran.
func Attest(p *policy.Set, reg *keys.Registry, cycleID, asset string, ops []OperationSignature, outputs map[int]any) AttestationOutput {
	out := AttestationOutput{Checks: []Check{}}
	add := func(adr, rule string, ok bool, detail string) {
		out.Checks = append(out.Checks, Check{ADR: adr, Rule: rule, Passed: ok, Detail: detail})
	}

	// ADR-008: signatures, keys.
	var bad []string
	var parent *string
	if len(ops) > 0 {
		parent = ops[0].ParentHash
	}
	lineageOK := true
	for _, o := range ops {
		out.SignaturesChecked++
		ts, err := time.Parse(time.RFC3339, o.OperationTimestamp)
		var entry *keys.Entry
		found := false
		if pub, perr := signing.ParseKey(o.PublicKey); perr == nil && err == nil {
			entry, found = reg.KeyAt(o.Agent, pub, ts)
		}
		st := signing.Statement{Agent: o.Agent, CycleID: cycleID, InputHash: o.InputHash, Operation: o.Operation,
			OperationOutputHash: o.OperationOutputHash, OperationTimestamp: o.OperationTimestamp, ParentHash: o.ParentHash, Step: o.Step}
		switch {
		case !found:
			bad = append(bad, fmt.Sprintf("step %d: not signed with a registry key of %s valid at %s", o.Step, o.Agent, o.OperationTimestamp))
		default:
			v, err := signing.NewVerifier(entry.Public())
			if err == nil {
				err = v.VerifyStatement(st, o.Signature)
			}
			if err != nil {
				bad = append(bad, fmt.Sprintf("step %d: %v", o.Step, err))
			} else {
				out.SignaturesValid++
			}
		}
		if !samePtr(o.ParentHash, parent) || signing.Lineage(o.ParentHash, o.OperationOutputHash, o.Signature) != o.LineageHash {
			lineageOK = false
		}
		l := o.LineageHash
		parent = &l
	}
	add("ADR-008", "every operation signed with the agent's ACTIVE Ed25519 registry key", len(bad) == 0,
		fmt.Sprintf("%d/%d signatures verified%s", out.SignaturesValid, out.SignaturesChecked, joinPrefix("; ", bad)))

	// ADR-001: contract ownership and asset.
	var owner []string
	for _, o := range ops {
		if a, ok := p.OwnerOf(o.Operation); !ok || a != o.Agent {
			owner = append(owner, fmt.Sprintf("step %d %s by %s", o.Step, o.Operation, o.Agent))
		}
	}
	add("ADR-001", "each operation performed by its contract owner; BTCUSDT only", len(owner) == 0 && asset == "BTCUSDT",
		fmt.Sprintf("asset %s%s", asset, joinPrefix("; not owner: ", owner)))

	// ADR-007: frozen order and lineage.
	orderOK := true
	last := 0
	for _, o := range ops {
		if o.Step < 1 || o.Step > len(p.Cycle.Steps) {
			orderOK = false
			continue
		}
		s := p.Cycle.Steps[o.Step-1]
		if o.Step <= last || s.Agent != o.Agent || s.Operation != o.Operation {
			orderOK = false
		}
		last = o.Step
	}
	add("ADR-007", "steps ran in the frozen order; lineage chain intact", orderOK && lineageOK,
		fmt.Sprintf("order ok: %t, lineage ok: %t", orderOK, lineageOK))

	// ADR-010: STIG's recomputations.
	tol := true
	var detail []string
	for _, step := range []int{3, 6} {
		switch v := outputs[step].(type) {
		case agents.CDSValidation:
			tol = tol && v.ValidationStatus != agents.Rejected
			detail = append(detail, fmt.Sprintf("CDS %s (score %.2f)", v.ValidationStatus, v.Score))
		case agents.SummaryValidation:
			tol = tol && v.ValidationStatus != agents.Rejected
			detail = append(detail, fmt.Sprintf("summary %s (%d sentences, %d/%d keywords)", v.ValidationStatus, v.SentenceCount, v.KeywordCoverage, len(v.KeywordsFound)+len(v.KeywordsMissing)))
		}
	}
	add("ADR-010", "STIG recomputation within tolerance", tol, strings.Join(detail, "; "))

	// ADR-012: cost ceiling.
	costOK := true
	costDetail := "no summary generated"
	if s, ok := outputs[5].(SummaryOutput); ok && s.Error == "" {
		costOK = s.CostUSD <= p.Economics.PerSummaryCeilingUSD
		costDetail = fmt.Sprintf("summary cost $%.6f, ceiling $%.3f", s.CostUSD, p.Economics.PerSummaryCeilingUSD)
	}
	add("ADR-012", "summary cost within the per-summary ceiling", costOK, costDetail)

	out.Verdict = Granted
	for _, c := range out.Checks {
		if !c.Passed {
			out.Verdict = Denied
		}
	}
	return out
}

func samePtr(a, b *string) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return *a == *b
}

func joinPrefix(prefix string, s []string) string {
	if len(s) == 0 {
		return ""
	}
	return prefix + strings.Join(s, ", ")
}
