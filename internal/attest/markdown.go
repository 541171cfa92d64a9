package attest

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/text"
)

// Required headings of an attestation, in order.
var Headings = []string{
	"1. ADR compliance",
	"2. Signature verification",
	"3. Economic safety (ADR-012)",
	"4. Determinism",
	"Deviations",
	"Evidence digest",
	"Outcome",
}

func cell(s string) string { return strings.ReplaceAll(strings.ReplaceAll(s, "|", "\\|"), "\n", " ") }

// Markdown renders the attestation. charts names the SVG files committed
// beside it (may be empty).
func (a *Attestation) Markdown(charts map[string]string) []byte {
	var b bytes.Buffer
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	w("# VEGA Weekly Attestation — week ending %s\n\n", a.Date)
	w("- **Period:** %s to %s (UTC)\n", a.PeriodStart, a.PeriodEnd)
	w("- **Cycles covered:** %d of %d scheduled\n", a.Cycles, a.ExpectedCycles)
	w("- **Baseline:** %s, commit `%s`\n", a.BaselineVersion, a.BaselineCommit)
	w("- **Attested by:** VEGA (audit and attestation)\n\n")

	w("## %s\n\n| ADR | Rule | Verdict | Evidence |\n|---|---|---|---|\n", Headings[0])
	for _, adr := range a.ADRs {
		w("| %s | %s | %s | %s |\n", adr.ID, cell(adr.Title), adr.Verdict, cell(adr.Evidence))
	}
	if len(a.AuditFailures) > 0 {
		w("\nAudit findings against this week's evidence:\n\n")
		for _, f := range a.AuditFailures {
			w("- `%.12s` %s — %s: %s\n", f.Commit, f.File, f.Check, f.Reason)
		}
	}

	s := a.Signatures
	w("\n## %s\n\n%d of %d operation signatures verified (%.2f%%), %d failed. Every signature is checked against the agent registry key valid at signing time.\n\n", Headings[1], s.Verified, s.Required, s.RatePct, s.Failed)

	e := a.Economics
	w("## %s\n\nCeiling $%.3f per summary, daily cap $%.2f, %d summaries per day. Week total $%.4f; most expensive summary $%.4f; %d ceiling breaches, %d budget breaches, %d rate-limit blocks, %d alerts.\n\n",
		Headings[2], e.CeilingUSD, e.DailyCapUSD, e.DailyRateLimit, e.TotalCostUSD, e.MaxSummaryUSD, e.CeilingBreaches, e.BudgetBreaches, e.RateBreaches, e.Alerts)
	w("| Day | Cycles | Summaries | Cost (USD) | Blocked | Alerts | ADR-012 |\n|---|---|---|---|---|---|---|\n")
	for _, d := range e.Days {
		w("| %s | %d | %d | %.4f | %d | %d | %s |\n", d.Date, d.Cycles, d.Summaries, d.CostUSD, d.Blocked, d.Alerts, d.Status)
	}
	if c := charts["economics"]; c != "" {
		w("\n![Daily cost against the cap and summaries against the rate limit](%s)\n", c)
	}

	d := a.Determinism
	w("\n## %s\n\nEvery cycle of the week replayed from its evidence: Tier-4 %.2f%% (%d/%d steps), Tier-2 %.2f%% (%d/%d summaries), overall %.2f%%.\n\n",
		Headings[3], 100*d.Tier4Rate, d.Tier4Match, d.Tier4Steps, 100*d.Tier2Rate, d.Tier2Match, d.Tier2Steps, 100*d.OverallRate)
	if len(d.Mismatches) > 0 {
		w("| Cycle | Step | Field | Original | Replayed |\n|---|---|---|---|---|\n")
		for i, m := range d.Mismatches {
			if i == 20 {
				w("| … | | %d more | | |\n", len(d.Mismatches)-20)
				break
			}
			w("| %s | %d | %s | %s | %s |\n", m.CycleID, m.Step, cell(m.Field), cell(m.Original), cell(m.Replayed))
		}
		w("\n")
	}
	if c := charts["determinism"]; c != "" {
		w("![Determinism per day](%s)\n\n", c)
	}

	w("## %s\n\n", Headings[4])
	if len(a.Deviations) == 0 {
		w("No deviations were detected in the period.\n\n")
	}
	for _, dv := range a.Deviations {
		w("- %s\n", dv)
	}
	if len(a.Problems) > 0 {
		w("\nArtifacts that could not be read:\n\n")
		for _, p := range a.Problems {
			w("- %s: %s\n", p.Path, p.Reason)
		}
	}
	if len(a.Deviations) > 0 || len(a.Problems) > 0 {
		w("\n")
	}

	w("## %s\n\n`%s` — SHA-256 over the sorted paths and blob ids of the week's %d artifacts (signature logs, evidence bundles, cost reports, paid replay charges).\n\n", Headings[5], a.Digest, a.DigestArtifacts)

	w("## %s\n\n**Outcome:** %s\n", Headings[6], a.Outcome)
	if len(a.Reasons) > 0 {
		w("\n")
		for _, r := range a.Reasons {
			w("- %s\n", cell(r))
		}
	}
	return b.Bytes()
}

// Check parses the Markdown back with goldmark and verifies the required
// headings (in order) and exactly one outcome line, which must read want.
func Check(md []byte, want string) error {
	gm := goldmark.New(goldmark.WithExtensions(extension.Table))
	doc := gm.Parser().Parse(text.NewReader(md))
	var heads []string
	var outcomes []string
	title := false
	err := ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			return ast.WalkContinue, nil
		}
		switch v := n.(type) {
		case *ast.Heading:
			t := string(v.Lines().Value(md))
			if v.Level == 1 {
				title = true
			} else if v.Level == 2 {
				heads = append(heads, strings.TrimSpace(t))
			}
		case *ast.Paragraph:
			t := strings.TrimSpace(string(v.Lines().Value(md)))
			if rest, ok := strings.CutPrefix(t, "**Outcome:**"); ok {
				outcomes = append(outcomes, strings.TrimSpace(rest))
			}
		}
		return ast.WalkContinue, nil
	})
	if err != nil {
		return err
	}
	if !title {
		return errors.New("attestation markdown has no title")
	}
	i := 0
	for _, h := range heads {
		if i < len(Headings) && h == Headings[i] {
			i++
		}
	}
	if i != len(Headings) {
		return fmt.Errorf("attestation markdown lacks the heading %q (or has it out of order)", Headings[i])
	}
	if len(outcomes) != 1 {
		return fmt.Errorf("attestation markdown has %d outcome lines, want exactly one", len(outcomes))
	}
	switch outcomes[0] {
	case Pass, PassConditions, Fail:
	default:
		return fmt.Errorf("attestation outcome %q is not PASS, PASS WITH CONDITIONS or FAIL", outcomes[0])
	}
	if outcomes[0] != want {
		return fmt.Errorf("attestation outcome line says %s, the attestation decided %s", outcomes[0], want)
	}
	return nil
}
