// Package brief writes the Phase 3 readiness brief: after the first weekly
// attestation, the measured stability, cost trajectory, determinism and
// early patterns of the first production week, and gate criteria for Phase 3
// derived from those figures. Every sentence is computed from the
// repository.
package brief

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/text"

	"github.com/vision-ios/vios/internal/agents"
	"github.com/vision-ios/vios/internal/costreport"
	"github.com/vision-ios/vios/internal/cycle"
	"github.com/vision-ios/vios/internal/determinism"
	"github.com/vision-ios/vios/internal/fault"
	"github.com/vision-ios/vios/internal/gov"
	"github.com/vision-ios/vios/internal/layout"
	"github.com/vision-ios/vios/internal/ledger"
	"github.com/vision-ios/vios/internal/llm"
	"github.com/vision-ios/vios/internal/signing"
)

// MaxWords bounds the brief (8 pages at ~400 words).
const MaxWords = 3200

// Sections of the brief, in order.
var Sections = []string{
	"Executive summary",
	"1. Stability of the first production week",
	"2. Cost trajectory against ADR-012",
	"3. Determinism profile",
	"4. Early pattern deviations",
	"5. Recommendations for the Phase 3 gate",
}

// ErrNoAttestation is returned before the first weekly attestation.
var ErrNoAttestation = errors.New("no VEGA weekly attestation yet: the Phase 3 brief follows the first one")

type agentStats struct {
	signed, verified int
}

// Build computes the brief's Markdown at HEAD.
func Build(ctx context.Context, r *ledger.Repo, snap *gov.Snapshot) ([]byte, error) {
	c, err := r.Commit(snap.Commit)
	if err != nil {
		return nil, err
	}
	firstAtt, ok := earliestAttestation(r, c.TreeHash)
	if !ok {
		return nil, fault.Governance(ErrNoAttestation)
	}
	day0, ok := firstDay(r, c.TreeHash)
	if !ok {
		return nil, fault.Governancef("no production cycles are recorded")
	}
	p := snap.Policy
	start, end := day0, day0.AddDate(0, 0, 7)
	bundles, probs, err := determinism.LoadRange(r, snap.Commit, start, end)
	if err != nil {
		return nil, err
	}
	scheduled := int(7 * 24 * time.Hour / p.Cycle.Schedule.Interval.D())

	// Stability.
	completed, halted, denied, failedSteps, notRun := 0, 0, 0, 0, 0
	req, ver := 0, 0
	per := map[string]*agentStats{}
	var cds []float64
	regimes := map[string]int{}
	stigRejected, stigWarn := 0, 0
	summaries, blocked, failedSum := 0, 0, 0
	for _, b := range bundles {
		ev := b.Evidence
		switch {
		case ev.Outcome.Status == "halted":
			halted++
		default:
			completed++
		}
		if ev.Outcome.Verdict == cycle.Denied {
			denied++
		}
		cds = append(cds, ev.Outcome.CDSScore)
		switch ev.Outcome.SummaryStatus {
		case "generated":
			summaries++
		case cycle.StatusBlocked:
			blocked++
		case cycle.StatusFailed:
			failedSum++
		}
		req += b.Log.Summary.SignaturesRequired
		ver += b.Log.Summary.SignaturesVerified
		for _, o := range b.Log.Operations {
			if per[o.Agent] == nil {
				per[o.Agent] = &agentStats{}
			}
			per[o.Agent].signed++
			if o.Verified {
				per[o.Agent].verified++
			}
		}
		for _, s := range ev.Steps {
			switch s.Status {
			case cycle.StatusFailed:
				failedSteps++
			case cycle.StatusNotRun:
				notRun++
			}
			if s.Status != cycle.StatusCompleted {
				continue
			}
			switch s.Step {
			case 3, 6:
				var v struct {
					Status string `json:"validation_status"`
				}
				json.Unmarshal(s.Output, &v)
				if v.Status == agents.Rejected {
					stigRejected++
				} else if v.Status == agents.ApprovedWithWarning {
					stigWarn++
				}
			case 4:
				var rel agents.RelevanceOutput
				if json.Unmarshal(s.Output, &rel) == nil {
					regimes[rel.Regime]++
				}
			}
		}
	}
	n := len(bundles)
	pct := func(a, b int) float64 {
		if b == 0 {
			return 0
		}
		return 100 * float64(a) / float64(b)
	}

	// Cost.
	e := p.Economics
	var daily []costreport.DailySummary
	var dayDates []string
	var costs []float64
	maxDaily, maxSummary := 0.0, 0.0
	maxDailyCount := 0
	for d := start; d.Before(end); d = d.AddDate(0, 0, 1) {
		cr, err := costreport.Build(r, snap.Commit, p, d)
		if err != nil {
			return nil, err
		}
		daily = append(daily, cr.DailySummary)
		dayDates = append(dayDates, cr.ReportDate)
		maxDaily = math.Max(maxDaily, cr.DailySummary.TotalCostUSD)
		maxSummary = math.Max(maxSummary, cr.DailySummary.MaxUSD)
		maxDailyCount = max(maxDailyCount, cr.DailySummary.TotalSummaries)
		for _, cc := range cr.Cycles {
			if cc.SummaryStatus == "generated" {
				costs = append(costs, cc.CostUSD)
			}
		}
	}
	mean, sd := meanSD(costs)
	firstHalf, secondHalf := avgCost(daily[:3]), avgCost(daily[4:])
	trend := "stable"
	switch {
	case firstHalf > 0 && secondHalf > firstHalf*1.05:
		trend = "increasing"
	case firstHalf > 0 && secondHalf < firstHalf*0.95:
		trend = "decreasing"
	}

	// Determinism.
	rp := &determinism.Replayer{Policy: p, Registry: snap.Registry, Provider: llm.Builtin{ModelName: e.Summary.Model}}
	det := rp.Replay(ctx, bundles)

	var b bytes.Buffer
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	attPath := "VEGA_ATTESTATIONS/VEGA_ATTESTATION_" + firstAtt.Format("2006_01_02")
	w("# Phase 3 Readiness Brief\n\n")
	w("Measured over the first production week, %s to %s (UTC), from %d recorded cycles; first VEGA weekly attestation: `%s.md`.\n\n", start.Format("2006-01-02"), end.AddDate(0, 0, -1).Format("2006-01-02"), n, attPath)

	cdsMean, _ := meanSD(cds)
	high := 0
	for _, v := range cds {
		if v >= p.Cycle.Summary.CDSTrigger {
			high++
		}
	}
	ready := halted == 0 && ver == req && det.Tier4Rate == 1 && len(probs) == 0 && pct(completed, scheduled) >= 99
	verdict := "is ready to enter the Phase 3 gate"
	if !ready {
		verdict = "is not yet ready for the Phase 3 gate"
	}
	w("## %s\n\n", Sections[0])
	w("The orchestrator %s. It completed %d of %d scheduled cycles (%.1f%%) with %d halts; %d of %d operation signatures verified (%.2f%%). ",
		verdict, completed, scheduled, pct(completed, scheduled), halted, ver, req, pct(ver, req))
	w("FINN generated %d Tier-2 summaries for a total of $%.4f, averaging $%.4f each, %.1f%% of the $%.3f ceiling at the most expensive. ",
		summaries, sum(costs), mean, pct100(maxSummary, e.PerSummaryCeilingUSD), e.PerSummaryCeilingUSD)
	w("Replay reproduced %.2f%% of Tier-4 steps and %.2f%% of Tier-2 summaries (overall %.2f%%).\n\n", 100*det.Tier4Rate, 100*det.Tier2Rate, 100*det.OverallRate)

	w("## %s\n\n", Sections[1])
	w("- Completion rate: %d of %d scheduled cycles recorded (%.1f%%); %d halted, %d denied by VEGA.\n", completed, scheduled, pct(completed, scheduled), halted, denied)
	w("- Error rate: %d failed and %d not-run steps over %d cycles (%.2f per 100 cycles); %d summaries failed at the provider.\n", failedSteps, notRun, n, 100*float64(failedSteps+notRun)/math.Max(1, float64(n)), failedSum)
	w("- Signature success: %d/%d (%.2f%%).\n", ver, req, pct(ver, req))
	if len(probs) > 0 {
		w("- Unreadable or missing artifacts: %d.\n", len(probs))
	}
	w("\n| Agent | Operations signed | Verified | Reliability |\n|---|---|---|---|\n")
	names := make([]string, 0, len(per))
	for a := range per {
		names = append(names, a)
	}
	sort.Strings(names)
	for _, a := range names {
		s := per[a]
		w("| %s | %d | %d | %.2f%% |\n", a, s.signed, s.verified, pct(s.verified, s.signed))
	}
	w("\nSTIG rejected %d validations and warned on %d.\n\n", stigRejected, stigWarn)

	w("## %s\n\n", Sections[2])
	w("| Day | Cycles | Summaries | Cost (USD) | Average per summary |\n|---|---|---|---|---|\n")
	for i, d := range daily {
		w("| %s | %d | %d | %.4f | %.4f |\n", dayDates[i], d.TotalCycles, d.TotalSummaries, d.TotalCostUSD, d.AverageUSD)
	}
	w("\nThe average cost per summary was $%.4f (standard deviation $%.5f); the trend from the first three days ($%.4f) to the last three ($%.4f) is %s. ",
		mean, sd, firstHalf, secondHalf, trend)
	w("The most expensive summary stayed $%.4f below the $%.3f ceiling, and the busiest day spent $%.4f, leaving $%.2f of headroom under the $%.0f daily cap. ",
		e.PerSummaryCeilingUSD-maxSummary, e.PerSummaryCeilingUSD, maxDaily, e.DailyBudgetCapUSD-maxDaily, e.DailyBudgetCapUSD)
	w("At most %d summaries ran on one day against the limit of %d. %d summaries were blocked by the ADR-012 guard.\n\n", maxDailyCount, e.DailyRateLimit, blocked)
	w("![Daily ADR-012 utilisation in the first attested week](%s_economics.svg)\n\n", attPath)

	w("## %s\n\n", Sections[3])
	w("Replaying every cycle of the week from its evidence reproduced %d of %d Tier-4 steps (%.2f%%, target %.0f%%) and %d of %d Tier-2 summaries on their checked properties (%.2f%%, target %.0f%%); overall %.2f%% against the %.0f%% target.",
		det.Tier4Match, det.Tier4Steps, 100*det.Tier4Rate, 100*p.Determinism.Tiers.Tier4.Target, det.Tier2Match, det.Tier2Steps, 100*det.Tier2Rate, 100*p.Determinism.Tiers.Tier2.Target, 100*det.OverallRate, 100*p.Determinism.OverallTarget)
	if len(det.Mismatches) > 0 {
		w(" %d fields did not replay; the first was step %d %s of cycle %s.", len(det.Mismatches), det.Mismatches[0].Step, det.Mismatches[0].Field, det.Mismatches[0].CycleID)
	}
	w("\n\n![Determinism per day](%s_determinism.svg)\n\n", attPath)

	w("## %s\n\n", Sections[4])
	w("- The cognitive dissonance score averaged %.3f; %d of %d cycles (%.1f%%) reached the %.2f summary trigger.\n", cdsMean, high, n, pct(high, n), p.Cycle.Summary.CDSTrigger)
	trig := make([]string, 0, len(daily))
	lo, hi := math.MaxInt, 0
	for i, d := range daily {
		trig = append(trig, fmt.Sprintf("%s: %d", dayDates[i][5:], d.TotalSummaries))
		lo, hi = min(lo, d.TotalSummaries), max(hi, d.TotalSummaries)
	}
	w("- Summaries per day ranged from %d to %d (%s): the trigger rate follows multi-day news moods rather than the clock.\n", lo, hi, strings.Join(trig, ", "))
	rs := make([]string, 0, len(regimes))
	for k, v := range regimes {
		rs = append(rs, fmt.Sprintf("%s %d", k, v))
	}
	sort.Strings(rs)
	w("- Market regimes seen by FINN: %s.\n", strings.Join(rs, ", "))
	outliers := 0
	for _, c := range costs {
		if sd > 0 && c > mean+2*sd {
			outliers++
		}
	}
	w("- %d summaries cost more than two standard deviations above the mean; %d were blocked and %d failed.\n", outliers, blocked, failedSum)
	if len(probs) == 0 && halted == 0 && stigRejected == 0 && len(det.Mismatches) == 0 {
		w("- No halts, STIG rejections or replay mismatches occurred: no anomaly needs a remediation before Phase 3.\n")
	} else {
		w("- Anomalies to resolve before Phase 3: %d halts, %d STIG rejections, %d replay mismatches, %d unreadable artifacts.\n", halted, stigRejected, len(det.Mismatches), len(probs))
	}
	w("\n")

	w("## %s\n\n", Sections[5])
	w("1. **Completion:** admit Phase 3 only after a week with at least %.0f%% of scheduled cycles recorded (measured: %.1f%%) and no halt.\n", math.Min(99, math.Floor(pct(completed, scheduled))), pct(completed, scheduled))
	w("2. **Signatures:** keep 100%% operation and commit signature verification as a hard gate (measured: %.2f%%).\n", pct(ver, req))
	alertAt := math.Min(e.PerSummaryCeilingUSD*e.Alerts.CeilingApproachPct/100, math.Max(maxSummary*1.5, mean*2))
	w("3. **Cost:** keep the $%.3f ceiling; the measured maximum of $%.4f suggests an early-warning alert at $%.4f per summary, well before the 90%% alert at $%.4f.\n",
		e.PerSummaryCeilingUSD, maxSummary, alertAt, e.PerSummaryCeilingUSD*e.Alerts.CeilingApproachPct/100)
	w("4. **Rate:** the busiest day used %d of %d summaries; a Phase 3 that adds assets should budget the limit per asset rather than raise it globally.\n", maxDailyCount, e.DailyRateLimit)
	w("5. **Determinism:** require Tier-4 at 100%% and overall at or above %.0f%% over a full week of replays (measured: %.2f%%).\n", 100*p.Determinism.OverallTarget, 100*det.OverallRate)
	w("6. **Attestation:** require two consecutive weekly attestations without FAIL before the G4 change request that opens Phase 3.\n")

	md := b.Bytes()
	if err := Check(md); err != nil {
		return nil, fmt.Errorf("generated brief is malformed: %w", err)
	}
	return md, nil
}

func sum(v []float64) float64 {
	s := 0.0
	for _, x := range v {
		s += x
	}
	return s
}

func pct100(v, of float64) float64 {
	if of == 0 {
		return 0
	}
	return 100 * v / of
}

func meanSD(v []float64) (float64, float64) {
	if len(v) == 0 {
		return 0, 0
	}
	m := sum(v) / float64(len(v))
	var ss float64
	for _, x := range v {
		ss += (x - m) * (x - m)
	}
	return m, math.Sqrt(ss / float64(len(v)))
}

func avgCost(days []costreport.DailySummary) float64 {
	c, n := 0.0, 0
	for _, d := range days {
		c += d.TotalCostUSD
		n += d.TotalSummaries
	}
	if n == 0 {
		return 0
	}
	return c / float64(n)
}

// Check parses the brief with goldmark: the sections in order and at most
// MaxWords words.
func Check(md []byte) error {
	doc := goldmark.New(goldmark.WithExtensions(extension.Table)).Parser().Parse(text.NewReader(md))
	var heads []string
	ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if h, ok := n.(*ast.Heading); ok && entering && h.Level == 2 {
			heads = append(heads, strings.TrimSpace(string(h.Lines().Value(md))))
		}
		return ast.WalkContinue, nil
	})
	i := 0
	for _, h := range heads {
		if i < len(Sections) && h == Sections[i] {
			i++
		}
	}
	if i != len(Sections) {
		return fmt.Errorf("brief lacks the section %q", Sections[i])
	}
	if words := len(strings.Fields(string(md))); words > MaxWords {
		return fmt.Errorf("brief has %d words, more than %d", words, MaxWords)
	}
	return nil
}

func earliestAttestation(r *ledger.Repo, tree plumbing.Hash) (time.Time, bool) {
	th, err := r.Lookup(tree, layout.Attestations)
	if err != nil {
		return time.Time{}, false
	}
	t, err := r.ReadTree(th)
	if err != nil {
		return time.Time{}, false
	}
	var best time.Time
	for _, e := range t {
		d, ok := strings.CutPrefix(e.Name, "VEGA_ATTESTATION_")
		if !ok {
			continue
		}
		d, ok = strings.CutSuffix(d, ".md")
		if !ok {
			continue
		}
		if day, err := time.Parse("2006_01_02", d); err == nil && (best.IsZero() || day.Before(best)) {
			best = day
		}
	}
	return best, !best.IsZero()
}

// firstDay finds the earliest date shard of the signature logs.
func firstDay(r *ledger.Repo, tree plumbing.Hash) (time.Time, bool) {
	cur, err := r.Lookup(tree, layout.SignatureLogs)
	if err != nil {
		return time.Time{}, false
	}
	var parts []string
	for depth := 0; depth < 3; depth++ {
		t, err := r.ReadTree(cur)
		if err != nil {
			return time.Time{}, false
		}
		var dirs []object.TreeEntry
		for _, e := range t {
			if e.Mode == filemode.Dir {
				dirs = append(dirs, e)
			}
		}
		if len(dirs) == 0 {
			return time.Time{}, false
		}
		sort.Slice(dirs, func(i, j int) bool { return dirs[i].Name < dirs[j].Name })
		parts = append(parts, dirs[0].Name)
		cur = dirs[0].Hash
	}
	d, err := time.Parse("2006/01/02", strings.Join(parts, "/"))
	return d, err == nil
}

// Commit writes the brief signed by CODE; an identical brief is left alone,
// a different one refused (canonical evidence is append-only).
func Commit(ctx context.Context, r *ledger.Repo, code *signing.Signer, now time.Time) (md []byte, h plumbing.Hash, existing bool, err error) {
	snap, unlock, err := gov.Begin(ctx, r, now, code)
	if err != nil {
		return nil, plumbing.ZeroHash, false, err
	}
	defer unlock()
	md, err = Build(ctx, r, snap)
	if err != nil {
		return nil, plumbing.ZeroHash, false, err
	}
	if old, err := r.ReadFile(snap.Commit, layout.Phase3Brief); err == nil {
		if bytes.Equal(old, md) {
			return md, snap.Commit, true, nil
		}
		return md, snap.Commit, false, fault.Governancef("%s is already committed with different content; canonical evidence is append-only", layout.Phase3Brief)
	}
	ssh, err := code.SSH()
	if err != nil {
		return nil, plumbing.ZeroHash, false, err
	}
	h, err = r.Apply(ctx, &ledger.Change{
		Subject:  "brief: Phase 3 readiness brief",
		Trailers: [][2]string{{"Vios-Artifact", "phase3_brief"}, {"Vios-Agent", "CODE"}, {"Vios-Baseline", snap.Policy.Cycle.Version}},
		Files:    []ledger.File{{Path: layout.Phase3Brief, Data: md}},
		Author:   gov.Author("CODE"), When: now, Signer: ssh, Parent: snap.Commit,
	})
	return md, h, false, err
}
