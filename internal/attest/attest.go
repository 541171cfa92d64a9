// Package attest builds VEGA's weekly attestation: the ADR compliance of
// the week's cycles, the signature verification rate, economic safety from
// the week's cost data, determinism from replaying every cycle, the
// deviations opened, and a digest binding the attestation to the exact
// evidence it read. The Markdown is generated, parsed back with goldmark
// and checked before VEGA signs it.
package attest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/vision-ios/vios/internal/agents"
	"github.com/vision-ios/vios/internal/audit"
	"github.com/vision-ios/vios/internal/costreport"
	"github.com/vision-ios/vios/internal/cycle"
	"github.com/vision-ios/vios/internal/determinism"
	"github.com/vision-ios/vios/internal/deviation"
	"github.com/vision-ios/vios/internal/fault"
	"github.com/vision-ios/vios/internal/gov"
	"github.com/vision-ios/vios/internal/layout"
	"github.com/vision-ios/vios/internal/ledger"
	"github.com/vision-ios/vios/internal/llm"
)

// Outcomes of an attestation.
const (
	Pass           = "PASS"
	PassConditions = "PASS WITH CONDITIONS"
	Fail           = "FAIL"
)

// Verdicts of one ADR.
const (
	VerdictPass       = "PASS"
	VerdictConditions = "CONDITIONS"
	VerdictFail       = "FAIL"
)

// ADR is one ADR's verdict with its evidence line.
type ADR struct {
	ID       string `json:"adr"`
	Title    string `json:"title"`
	Verdict  string `json:"verdict"`
	Evidence string `json:"evidence"`
}

// Signatures is the week's signature verification.
type Signatures struct {
	Required int     `json:"required"`
	Verified int     `json:"verified"`
	Failed   int     `json:"failed"`
	RatePct  float64 `json:"rate_pct"`
}

// Day is one day of economic data.
type Day struct {
	Date      string  `json:"date"`
	Cycles    int     `json:"cycles"`
	Summaries int     `json:"summaries"`
	CostUSD   float64 `json:"cost_usd"`
	Blocked   int     `json:"blocked"`
	Alerts    int     `json:"alerts"`
	Status    string  `json:"compliance_status"`
}

// Economics is the week's ADR-012 data.
type Economics struct {
	CeilingUSD      float64 `json:"per_summary_ceiling_usd"`
	DailyCapUSD     float64 `json:"daily_budget_cap_usd"`
	DailyRateLimit  int     `json:"daily_rate_limit"`
	Days            []Day   `json:"days"`
	TotalCostUSD    float64 `json:"total_cost_usd"`
	MaxSummaryUSD   float64 `json:"max_cost_per_summary_usd"`
	CeilingBreaches int     `json:"ceiling_breaches"`
	BudgetBreaches  int     `json:"budget_breaches"`
	RateBreaches    int     `json:"rate_limit_breaches"`
	Alerts          int     `json:"alerts"`
}

// Attestation is the weekly attestation.
type Attestation struct {
	Date            string                `json:"date"`
	PeriodStart     string                `json:"period_start"`
	PeriodEnd       string                `json:"period_end"`
	Cycles          int                   `json:"cycles"`
	ExpectedCycles  int                   `json:"expected_cycles"`
	BaselineVersion string                `json:"baseline_version"`
	BaselineCommit  string                `json:"baseline_commit"`
	ADRs            []ADR                 `json:"adr_compliance"`
	Signatures      Signatures            `json:"signature_verification"`
	Economics       Economics             `json:"economic_safety"`
	Determinism     *determinism.Report   `json:"determinism"`
	Deviations      []string              `json:"deviations"`
	Problems        []determinism.Problem `json:"problems"`
	AuditFailures   []audit.Failure       `json:"audit_failures"`
	DigestArtifacts int                   `json:"digest_artifacts"`
	Digest          string                `json:"evidence_digest"`
	Outcome         string                `json:"outcome"`
	Reasons         []string              `json:"reasons"`
}

// Path is where the attestation for a Sunday lives.
func Path(sunday time.Time) string {
	return layout.Attestations + "/VEGA_ATTESTATION_" + sunday.UTC().Format("2006_01_02") + ".md"
}

// LastSunday returns the most recent Sunday 00:00 UTC at or before t.
func LastSunday(t time.Time) time.Time {
	d := t.UTC().Truncate(24 * time.Hour)
	return d.AddDate(0, 0, -int(d.Weekday()))
}

// CheckSunday refuses a date that is not a Sunday at 00:00 UTC.
func CheckSunday(d time.Time) error {
	if d.UTC().Weekday() != time.Sunday || !d.Equal(d.UTC().Truncate(24*time.Hour)) {
		return fault.Inputf("--date %s is a %s: weekly attestations are dated the Sunday (00:00 UTC) that ends the week", d.Format("2006-01-02"), d.UTC().Weekday())
	}
	return nil
}

var adrTitles = map[string]string{
	"ADR-001": "Charter: contract ownership, BTCUSDT only",
	"ADR-002": "Audit & reconciliation: complete logs, matching evidence",
	"ADR-007": "Orchestrator: frozen step order, every action signed",
	"ADR-008": "Keys: Ed25519, ACTIVE registry keys",
	"ADR-009": "Suspension: no suspended agent acted",
	"ADR-010": "Discrepancy: STIG recomputation and replay",
	"ADR-012": "Economic safety: ceiling, budget, rate limit",
}

// adrOf maps an audit check to the ADR it enforces.
func adrOf(check string) string {
	switch check {
	case "commit-signature", "commit-signer", "operation-signature":
		return "ADR-008"
	case "lineage":
		return "ADR-007"
	case "resume":
		return "ADR-009"
	}
	return "ADR-002"
}

// Build attests the week ending on sunday from the repository at HEAD.
func Build(ctx context.Context, r *ledger.Repo, snap *gov.Snapshot, sunday time.Time) (*Attestation, error) {
	if err := CheckSunday(sunday); err != nil {
		return nil, err
	}
	p := snap.Policy
	start := sunday.AddDate(0, 0, -7)
	a := &Attestation{
		Date: sunday.Format("2006-01-02"), PeriodStart: start.Format(time.RFC3339), PeriodEnd: sunday.Format(time.RFC3339),
		ExpectedCycles: int(7 * 24 * time.Hour / p.Cycle.Schedule.Interval.D()), BaselineVersion: p.Cycle.Version,
		Deviations: []string{}, Problems: []determinism.Problem{}, AuditFailures: []audit.Failure{}, Reasons: []string{},
	}
	root, err := rootCommit(r, snap.Commit)
	if err != nil {
		return nil, err
	}
	a.BaselineCommit = root.String()

	bundles, probs, err := determinism.LoadRange(r, snap.Commit, start, sunday)
	if err != nil {
		return nil, err
	}
	a.Problems = append(a.Problems, probs...)
	a.Cycles = len(bundles)

	// The week's artifacts and their digest.
	artifacts := map[string]plumbing.Hash{}
	for d := start; d.Before(sunday); d = d.AddDate(0, 0, 1) {
		for _, f := range []func(*ledger.Repo, plumbing.Hash, time.Time) ([]cycle.DayFile, error){cycle.DayLogs, cycle.DayEvidence, cycle.DayReplayChargeFiles} {
			files, err := f(r, snap.Commit, d)
			if err != nil {
				return nil, err
			}
			for _, df := range files {
				artifacts[df.Path] = df.Blob
			}
		}
		c, _ := r.Commit(snap.Commit)
		if bh, err := r.Lookup(c.TreeHash, costreport.Path(d)); err == nil {
			artifacts[costreport.Path(d)] = bh
		}
	}
	a.Digest, a.DigestArtifacts = digest(artifacts)

	// Whole-history audit; failures touching the week's artifacts or made
	// during the week count against it.
	rep, err := audit.Verify(ctx, r, audit.Options{})
	if err != nil {
		return nil, err
	}
	for _, f := range rep.Failures {
		if _, ours := artifacts[f.File]; ours || commitInPeriod(r, f.Commit, start, sunday) {
			a.AuditFailures = append(a.AuditFailures, f)
		}
	}

	// Signatures, per-cycle ADR rules.
	owner, asset, order, stig, warn := 0, 0, 0, 0, 0
	for _, b := range bundles {
		s := b.Log.Summary
		a.Signatures.Required += s.SignaturesRequired
		a.Signatures.Verified += s.SignaturesVerified
		a.Signatures.Failed += s.SignaturesRequired - s.SignaturesVerified
		if b.Evidence.Asset != "BTCUSDT" {
			asset++
		}
		last := 0
		for _, o := range b.Log.Operations {
			if ow, ok := p.OwnerOf(o.Operation); !ok || ow != o.Agent {
				owner++
			}
			if o.Step <= last {
				order++
			}
			last = o.Step
		}
		for _, st := range b.Evidence.Steps {
			if st.Status != cycle.StatusCompleted || (st.Step != 3 && st.Step != 6) {
				continue
			}
			var v struct {
				Status string `json:"validation_status"`
			}
			json.Unmarshal(st.Output, &v)
			switch v.Status {
			case agents.Rejected:
				stig++
			case agents.ApprovedWithWarning:
				warn++
			}
		}
	}
	if a.Signatures.Required > 0 {
		a.Signatures.RatePct = 100 * float64(a.Signatures.Verified) / float64(a.Signatures.Required)
	} else {
		a.Signatures.RatePct = 100
	}

	// Economics from the week's cost data.
	e := p.Economics
	a.Economics = Economics{CeilingUSD: e.PerSummaryCeilingUSD, DailyCapUSD: e.DailyBudgetCapUSD, DailyRateLimit: e.DailyRateLimit}
	for d := start; d.Before(sunday); d = d.AddDate(0, 0, 1) {
		cr, err := costreport.Build(r, snap.Commit, p, d)
		if err != nil {
			a.Problems = append(a.Problems, determinism.Problem{Path: costreport.Path(d), Reason: err.Error()})
			continue
		}
		s := cr.DailySummary
		a.Economics.Days = append(a.Economics.Days, Day{Date: cr.ReportDate, Cycles: s.TotalCycles, Summaries: s.TotalSummaries, CostUSD: s.TotalCostUSD, Blocked: cr.BlockedSummaries, Alerts: len(cr.Alerts), Status: cr.ADR012.Status})
		a.Economics.TotalCostUSD += s.TotalCostUSD
		a.Economics.MaxSummaryUSD = max(a.Economics.MaxSummaryUSD, s.MaxUSD)
		a.Economics.CeilingBreaches += cr.ADR012.CeilingBreaches
		a.Economics.BudgetBreaches += cr.ADR012.BudgetBreaches
		a.Economics.RateBreaches += cr.ADR012.RateLimitBreaches
		a.Economics.Alerts += len(cr.Alerts)
	}

	// Determinism: replay every cycle of the week.
	rp := &determinism.Replayer{Policy: p, Registry: snap.Registry, Provider: llm.Builtin{ModelName: e.Summary.Model}}
	a.Determinism = rp.Replay(ctx, bundles)

	a.Deviations, err = deviationsIn(r, snap.Commit, start, sunday)
	if err != nil {
		return nil, err
	}

	// Verdicts per ADR.
	auditBy := map[string][]string{}
	for _, f := range a.AuditFailures {
		id := adrOf(f.Check)
		auditBy[id] = append(auditBy[id], fmt.Sprintf("%s %s (%s, commit %.12s)", f.Check, f.File, f.Reason, f.Commit))
	}
	verdict := func(id string, fail bool, cond bool, ok string) ADR {
		adr := ADR{ID: id, Title: adrTitles[id], Verdict: VerdictPass, Evidence: ok}
		if fs := auditBy[id]; len(fs) > 0 {
			fail = true
			adr.Evidence = strings.Join(fs, "; ")
		}
		switch {
		case fail:
			adr.Verdict = VerdictFail
		case cond:
			adr.Verdict = VerdictConditions
		}
		return adr
	}
	d := a.Determinism
	a.ADRs = []ADR{
		verdict("ADR-001", owner+asset > 0, false, fmt.Sprintf("%d operations by their contract owner, %d off-contract; %d cycles on another asset", a.Signatures.Verified, owner, asset)),
		verdict("ADR-002", false, len(a.Problems) > 0, fmt.Sprintf("%d signature logs with evidence; %d unreadable or missing artifacts; digest over %d artifacts", a.Cycles, len(a.Problems), a.DigestArtifacts)),
		verdict("ADR-007", order > 0, false, fmt.Sprintf("%d cycles in the frozen step order, lineage verified by the audit", a.Cycles-order)),
		verdict("ADR-008", a.Signatures.Failed > 0, false, fmt.Sprintf("%d/%d operation signatures verified against ACTIVE registry keys", a.Signatures.Verified, a.Signatures.Required)),
		verdict("ADR-009", false, false, fmt.Sprintf("no suspended agent acted; registry holds %d keys", len(snap.Registry.Agents))),
		verdict("ADR-010", stig > 0 || d.Tier4Rate < p.Determinism.Tiers.Tier4.Target, warn > 0, fmt.Sprintf("STIG: %d rejected, %d warnings; replay Tier-4 %.2f%%", stig, warn, 100*d.Tier4Rate)),
		verdict("ADR-012", a.Economics.CeilingBreaches+a.Economics.BudgetBreaches > 0, a.Economics.Alerts > 0, fmt.Sprintf("%d ceiling and %d budget breaches, %d rate-limit blocks, %d alerts; $%.4f spent", a.Economics.CeilingBreaches, a.Economics.BudgetBreaches, a.Economics.RateBreaches, a.Economics.Alerts, a.Economics.TotalCostUSD)),
	}
	a.decide(p.Determinism.OverallTarget, p.Determinism.Tiers.Tier2.Target)
	return a, nil
}

// decide applies the outcome rules: any signature failure, ADR failure,
// ceiling or budget breach is FAIL; missing artifacts, alerts or
// determinism between thresholds is PASS WITH CONDITIONS; else PASS.
func (a *Attestation) decide(overall, tier2 float64) {
	var fail, cond []string
	if a.Signatures.Failed > 0 {
		fail = append(fail, fmt.Sprintf("%d signature verification failures", a.Signatures.Failed))
	}
	for _, adr := range a.ADRs {
		switch adr.Verdict {
		case VerdictFail:
			fail = append(fail, adr.ID+" failed: "+adr.Evidence)
		case VerdictConditions:
			cond = append(cond, adr.ID+": "+adr.Evidence)
		}
	}
	if n := a.Economics.CeilingBreaches + a.Economics.BudgetBreaches; n > 0 {
		fail = append(fail, fmt.Sprintf("%d ADR-012 ceiling or budget breaches", n))
	}
	if a.Cycles == 0 {
		cond = append(cond, "no cycles were recorded in the period")
	} else if a.Cycles < a.ExpectedCycles {
		cond = append(cond, fmt.Sprintf("%d of %d scheduled cycles recorded", a.Cycles, a.ExpectedCycles))
	}
	if len(a.Problems) > 0 {
		cond = append(cond, fmt.Sprintf("%d artifacts missing or unreadable", len(a.Problems)))
	}
	if a.Economics.Alerts > 0 {
		cond = append(cond, fmt.Sprintf("%d cost alerts", a.Economics.Alerts))
	}
	if d := a.Determinism; d.OverallRate < overall || d.Tier2Rate < tier2 {
		cond = append(cond, fmt.Sprintf("determinism overall %.2f%% (target %.0f%%), Tier-2 %.2f%% (target %.0f%%)", 100*d.OverallRate, 100*overall, 100*d.Tier2Rate, 100*tier2))
	}
	switch {
	case len(fail) > 0:
		a.Outcome, a.Reasons = Fail, append(fail, cond...)
	case len(cond) > 0:
		a.Outcome, a.Reasons = PassConditions, cond
	default:
		a.Outcome, a.Reasons = Pass, []string{}
	}
}

// digest is sha256 over the sorted "path blob" lines of the artifacts.
func digest(arts map[string]plumbing.Hash) (string, int) {
	paths := make([]string, 0, len(arts))
	for p := range arts {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	h := sha256.New()
	for _, p := range paths {
		fmt.Fprintf(h, "%s %s\n", p, arts[p])
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), len(paths)
}

func rootCommit(r *ledger.Repo, h plumbing.Hash) (plumbing.Hash, error) {
	for {
		c, err := r.Commit(h)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		if len(c.ParentHashes) == 0 {
			return h, nil
		}
		h = c.ParentHashes[0]
	}
}

func commitInPeriod(r *ledger.Repo, id string, start, end time.Time) bool {
	c, err := r.Commit(plumbing.NewHash(id))
	if err != nil {
		return false
	}
	t := c.Committer.When
	return !t.Before(start) && t.Before(end)
}

// deviationsIn lists the deviations detected in the period.
func deviationsIn(r *ledger.Repo, h plumbing.Hash, start, end time.Time) ([]string, error) {
	c, err := r.Commit(h)
	if err != nil {
		return nil, err
	}
	th, err := r.Lookup(c.TreeHash, layout.Deviations)
	if err != nil {
		return []string{}, nil
	}
	tree, err := r.ReadTree(th)
	if err != nil {
		return nil, err
	}
	out := []string{}
	for _, e := range tree {
		if !strings.HasSuffix(e.Name, ".json") {
			continue
		}
		data, err := r.ReadBlob(e.Hash)
		if err != nil {
			return nil, err
		}
		var d deviation.Record
		if json.Unmarshal(data, &d) != nil {
			out = append(out, e.Name+" (unreadable)")
			continue
		}
		t, err := time.Parse(time.RFC3339, d.DetectedAt)
		if err == nil && !t.Before(start) && t.Before(end) {
			out = append(out, fmt.Sprintf("%s — %s, %s, %s: %s", d.ID, d.Type, d.Severity, d.Status, d.Reason))
		}
	}
	sort.Strings(out)
	return out, nil
}
