// Package cycle is the step engine of a production cycle: it runs the
// frozen 7-step graph, has each operation signed by its agent and verified
// against the registry before the next step runs, halts on the first
// signature failure, and records the signature log and evidence bundle that
// the ledger commits.
package cycle

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/vision-ios/vios/internal/agents"
	"github.com/vision-ios/vios/internal/clock"
	"github.com/vision-ios/vios/internal/economics"
	"github.com/vision-ios/vios/internal/keys"
	"github.com/vision-ios/vios/internal/layout"
	"github.com/vision-ios/vios/internal/llm"
	"github.com/vision-ios/vios/internal/market"
	"github.com/vision-ios/vios/internal/news"
	"github.com/vision-ios/vios/internal/policy"
	"github.com/vision-ios/vios/internal/signing"
)

// Verdicts of VEGA's final attestation.
const (
	Granted = "GRANTED"
	Denied  = "DENIED"
)

// Engine runs cycles. All fields are required.
type Engine struct {
	Policy   *policy.Set
	Registry *keys.Registry
	Signers  map[string]*signing.Signer // LINE FINN STIG VEGA
	Market   market.Source
	News     news.Source
	Provider llm.Provider
	Clock    clock.Clock
	// Usage is the slot day's ADR-012 tally; the guard reads it and a
	// generated summary is settled into it. Nil means a fresh day.
	Usage *economics.Usage
}

// Result is a cycle's records before they are committed.
type Result struct {
	CycleID  string
	Slot     time.Time
	Log      *SignatureLog
	Evidence *Evidence
	// Halted is set when a signature failed verification: no later step ran.
	Halted      bool
	HaltReason  string
	LastLineage *string
	// Guard is the ADR-012 decision when a summary was due; Breach names a
	// cost-ceiling deviation (a blocked summary or a cost over the ceiling).
	Guard  *economics.Decision
	Breach string
}

// run carries one cycle's working data.
type run struct {
	e        *Engine
	ctx      context.Context
	slot     time.Time
	id       string
	parent   *string
	log      *SignatureLog
	ev       *Evidence
	halted   bool
	haltWhy  string
	outputs  map[int]any // decoded outputs by step, for later steps
	hashes   map[int]string
	inHashes map[int]string
	guard    *economics.Decision
	breach   string
}

// Run executes one cycle for slot, linking its first operation to parent
// (the previous cycle's last lineage hash, nil for the first cycle).
// Input errors (bad market data, events) return before anything is signed.
func (e *Engine) Run(ctx context.Context, slot time.Time, parent *string) (*Result, error) {
	slot = slot.UTC()
	id := layout.CycleID(slot)
	p := e.Policy
	r := &run{
		e: e, ctx: ctx, slot: slot, id: id, parent: parent,
		outputs: map[int]any{}, hashes: map[int]string{}, inHashes: map[int]string{},
		log: &SignatureLog{
			LogID:             "SIGLOG-" + id,
			CycleID:           id,
			CycleTimestamp:    slot.Format(time.RFC3339),
			System:            "vios",
			BaselineVersion:   p.Cycle.Version,
			PayloadType:       signing.PayloadType,
			Operations:        []OperationSignature{},
			SkippedOperations: []SkippedOperation{},
			Alerts:            []Alert{},
		},
		ev: &Evidence{
			CycleID:        id,
			CycleTimestamp: slot.Format(time.RFC3339),
			Asset:          p.Cycle.Asset,
			Sources:        Sources{Market: e.Market.Name(), Events: e.News.Name(), Provider: e.Provider.Name()},
		},
	}

	// LINE: ingest. Fetch errors stop the cycle before any signature.
	candles, err := e.Market.Fetch(ctx, market.Request{Symbol: p.Cycle.Asset, Interval: p.Cycle.Market.Interval, Limit: p.Cycle.Market.Lookback, Slot: slot})
	if err != nil {
		return nil, fmt.Errorf("LINE ingest: %w", err)
	}
	events, err := e.News.Fetch(ctx, news.Request{Asset: p.Cycle.Asset, Slot: slot, Window: p.Cycle.Events.Window.D()})
	if err != nil {
		return nil, fmt.Errorf("FINN events: %w", err)
	}

	steps := p.Cycle.Steps
	ingestIn := IngestInput{Asset: p.Cycle.Asset, Interval: p.Cycle.Market.Interval, Lookback: p.Cycle.Market.Lookback, Slot: r.ev.CycleTimestamp, Source: e.Market.Name()}
	ingestOut := IngestOutput{Count: len(candles), Candles: candles}
	if len(candles) > 0 {
		ingestOut.LastClose = candles[len(candles)-1].Close
	}
	if err := r.step(steps[0], ingestIn, ingestOut); err != nil {
		return nil, err
	}
	if r.halted {
		return r.haltRest(steps[1:]), nil
	}

	cdsParams := agents.CDSParamsFrom(p)
	cdsIn := CDSInput{OHLCVHash: r.hashes[1], Slot: r.ev.CycleTimestamp, Events: events, Params: cdsParams}
	cds := agents.ComputeCDS(candles, events, slot, cdsParams)
	if err := r.step(steps[1], cdsIn, cds); err != nil {
		return nil, err
	}
	if r.halted {
		return r.haltRest(steps[2:]), nil
	}

	recomputed := agents.ComputeCDS(candles, events, slot, cdsParams)
	val := agents.ValidateCDS(cds, recomputed, p.Determinism.ADR010)
	if err := r.step(steps[2], ValidateCDSInput{OHLCVHash: r.hashes[1], CDSInputHash: r.inHashes[2], CDSOutputHash: r.hashes[2], Claimed: cds}, val); err != nil {
		return nil, err
	}
	if r.halted {
		return r.haltRest(steps[3:]), nil
	}

	regParams := agents.RegimeParamsFrom(p)
	rel := agents.ComputeRelevance(candles, cds.CDSScore, regParams)
	if err := r.step(steps[3], RelevanceInput{OHLCVHash: r.hashes[1], CDSScore: cds.CDSScore, Params: regParams}, rel); err != nil {
		return nil, err
	}
	if r.halted {
		return r.haltRest(steps[4:]), nil
	}

	r.ev.Outcome.CDSScore = cds.CDSScore
	summaryStatus := "skipped"
	if cds.CDSScore >= p.Cycle.Summary.CDSTrigger {
		summaryStatus, err = r.summary(steps[4], steps[5], events, cds, rel)
		if err != nil {
			return nil, err
		}
	} else {
		why := fmt.Sprintf("CDS %.4f below the summary trigger %.2f", cds.CDSScore, p.Cycle.Summary.CDSTrigger)
		r.skip(steps[4], StatusSkipped, why)
		r.skip(steps[5], StatusSkipped, why)
	}
	r.ev.Outcome.SummaryStatus = summaryStatus
	if r.halted {
		return r.haltRest(steps[6:]), nil
	}

	att := r.attest()
	if err := r.step(steps[6], AttestationInput{Operations: r.priorOps()}, att); err != nil {
		return nil, err
	}
	return r.finish(att), nil
}

// haltRest records every remaining step as not run and closes the cycle.
func (r *run) haltRest(rest []policy.Step) *Result {
	for _, s := range rest {
		r.skip(s, StatusNotRun, "orchestrator halted: "+r.haltWhy)
	}
	if r.ev.Outcome.SummaryStatus == "" {
		r.ev.Outcome.SummaryStatus = StatusNotRun
	}
	return r.finish(AttestationOutput{})
}

// summary runs steps 5 and 6 and returns the summary status.
func (r *run) summary(s5, s6 policy.Step, events []news.Event, cds agents.CDSOutput, rel agents.RelevanceOutput) (string, error) {
	p := r.e.Policy
	top := agents.TopEvents(events, r.slot, p.Cycle.CDS.HalfLife.D().Hours(), p.Cycle.Summary.TopEvents)
	req := llm.Request{
		Asset: p.Cycle.Asset, CDSScore: cds.CDSScore, PriceSignal: cds.PriceSignal, SentimentScore: cds.SentimentScore,
		Regime: rel.Regime, Sentences: p.Cycle.Summary.Sentences, MaxTokens: p.Economics.Summary.MaxTokens,
	}
	keywords := make([]string, 0, len(top))
	for _, t := range top {
		req.Events = append(req.Events, llm.Event{Headline: t.Headline, Keyword: t.Keyword, Sentiment: t.Sentiment})
		keywords = append(keywords, t.Keyword)
	}
	in := SummaryInput{Provider: r.e.Provider.Name(), Model: r.e.Provider.Model(), Request: req, TopEvents: top}
	usage := r.e.Usage
	if usage == nil || usage.Day != economics.DayOf(r.slot) {
		usage = &economics.Usage{Day: economics.DayOf(r.slot)}
		r.e.Usage = usage
	}
	dec, err := economics.Check(p.Economics, r.e.Provider.Model(), llm.InputTokens(req), *usage)
	if err != nil {
		return "", err
	}
	r.guard = &dec
	if !dec.Allowed {
		// ADR-012: no provider call, no money spent.
		r.skip(s5, StatusBlocked, "ADR-012 "+dec.Rule+": "+dec.Reason)
		r.ev.Steps[len(r.ev.Steps)-1].Output, _ = json.Marshal(dec) // the guard's decision, unsigned: no operation ran
		r.skip(s6, StatusSkipped, "summary blocked by the ADR-012 guard")
		r.log.Alerts = append(r.log.Alerts, Alert{Type: "summary_blocked_" + dec.Rule, Severity: "critical", Step: s5.Step, Message: "summary blocked: " + dec.Reason})
		r.breach = dec.Reason
		return StatusBlocked, nil
	}
	resp, err := r.e.Provider.Summarize(r.ctx, req)
	if err != nil {
		out := SummaryOutput{Error: err.Error(), Model: r.e.Provider.Model()}
		if err := r.stepWithStatus(s5, in, out, StatusFailed, "provider: "+err.Error()); err != nil {
			return "", err
		}
		if r.halted {
			r.skip(s6, StatusNotRun, "orchestrator halted: "+r.haltWhy)
			return StatusFailed, nil
		}
		r.log.Alerts = append(r.log.Alerts, Alert{Type: "summary_failed", Severity: "high", Step: s5.Step, Message: "summary provider failed: " + err.Error()})
		r.skip(s6, StatusSkipped, "no summary to validate")
		return StatusFailed, nil
	}
	cost, priced := p.Economics.AnswerCost(dec.Model, resp.Model, resp.InputTokens, resp.OutputTokens)
	if !priced {
		r.log.Alerts = append(r.log.Alerts, Alert{Type: "unpriced_model", Severity: "high", Step: s5.Step, Message: fmt.Sprintf("model %q has no price in economics.yaml: charged at %s's", resp.Model, dec.Model)})
	}
	out := SummaryOutput{Summary: resp.Text, Model: resp.Model, InputTokens: resp.InputTokens, OutputTokens: resp.OutputTokens, CostUSD: cost}
	r.ev.Outcome.CostUSD = cost
	usage.Settle(cost)
	if err := r.step(s5, in, out); err != nil {
		return "", err
	}
	if r.halted {
		r.skip(s6, StatusNotRun, "orchestrator halted: "+r.haltWhy)
		return "generated", nil
	}
	if cost > p.Economics.PerSummaryCeilingUSD {
		r.breach = fmt.Sprintf("summary cost $%.6f exceeds the ADR-012 ceiling $%.3f", cost, p.Economics.PerSummaryCeilingUSD)
		r.log.Alerts = append(r.log.Alerts, Alert{Type: "cost_ceiling_breach", Severity: "critical", Step: s5.Step, Message: r.breach})
	} else if economics.AtLeast(cost, p.Economics.Alerts.CeilingApproachPct, p.Economics.PerSummaryCeilingUSD) {
		r.log.Alerts = append(r.log.Alerts, Alert{Type: "cost_ceiling_approach", Severity: "high", Step: s5.Step, Message: fmt.Sprintf("summary cost $%.6f is at or above %.0f%% of the ceiling $%.3f", cost, p.Economics.Alerts.CeilingApproachPct, p.Economics.PerSummaryCeilingUSD)})
	}
	v := agents.ValidateSummary(resp.Text, keywords, p.Cycle.Summary.Sentences, p.Cycle.Summary.KeywordsRequired, p.Determinism.ADR010)
	if err := r.step(s6, ValidateSummaryInput{SummaryOutputHash: r.hashes[s5.Step], Keywords: keywords, RequiredSentences: p.Cycle.Summary.Sentences, RequiredKeywords: p.Cycle.Summary.KeywordsRequired}, v); err != nil {
		return "", err
	}
	return "generated", nil
}

func (r *run) step(s policy.Step, in, out any) error {
	return r.stepWithStatus(s, in, out, StatusCompleted, "")
}

// stepWithStatus signs and verifies one operation. After a halt it records
// the step as not run.
func (r *run) stepWithStatus(s policy.Step, in, out any, status, reason string) error {
	if err := r.ctx.Err(); err != nil {
		return err
	}
	inRaw, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("step %d input: %w", s.Step, err)
	}
	outRaw, err := json.Marshal(out)
	if err != nil {
		return fmt.Errorf("step %d output: %w", s.Step, err)
	}
	// Evidence keeps the canonical bytes that are hashed and signed.
	if inRaw, err = signing.Canonicalize(inRaw); err != nil {
		return err
	}
	if outRaw, err = signing.Canonicalize(outRaw); err != nil {
		return err
	}
	inHash, outHash := signing.SHA256(inRaw), signing.SHA256(outRaw)
	signer, ok := r.e.Signers[s.Agent]
	if !ok {
		return fmt.Errorf("step %d: no signer for %s", s.Step, s.Agent)
	}
	ts := r.e.Clock.Now().UTC().Truncate(time.Second)
	st := signing.Statement{
		Agent: s.Agent, CycleID: r.id, InputHash: inHash, Operation: s.Operation,
		OperationOutputHash: outHash, OperationTimestamp: ts.Format(time.RFC3339), ParentHash: r.parent, Step: s.Step,
	}
	sig, err := signer.SignStatement(st)
	if err != nil {
		return err
	}
	op := OperationSignature{
		Step: s.Step, Agent: s.Agent, Operation: s.Operation, OperationTimestamp: st.OperationTimestamp,
		InputHash: inHash, OperationOutputHash: outHash, ParentHash: r.parent,
		Signature: sig, PublicKey: signing.FormatKey(signer.Public()), SignatureAlgorithm: "Ed25519",
		PublicKeySource: "agent_registry",
	}
	// Verify against the registry, never against the signer's own key.
	vt := r.e.Clock.Now().UTC().Truncate(time.Second)
	op.VerificationTimestamp = vt.Format(time.RFC3339)
	var verr error
	if entry, found := r.e.Registry.KeyAt(s.Agent, signer.Public(), ts); found {
		op.KeyID = entry.KeyID
		if v, err := signing.NewVerifier(entry.Public()); err != nil {
			verr = err
		} else {
			verr = v.VerifyStatement(st, sig)
		}
	} else if cur, ok := r.e.Registry.Current(s.Agent, ts); ok {
		op.KeyID = cur.KeyID
		verr = fmt.Errorf("%s signed with a key that is not its registry key %s", s.Agent, cur.KeyID)
	} else {
		verr = fmt.Errorf("no ACTIVE %s key in the registry at %s", s.Agent, st.OperationTimestamp)
	}
	op.Verified = verr == nil
	op.LineageHash = signing.Lineage(r.parent, outHash, sig)
	r.log.Operations = append(r.log.Operations, op)
	r.ev.Steps = append(r.ev.Steps, StepRecord{
		Step: s.Step, Agent: s.Agent, Operation: s.Operation, Tier: s.Tier, Status: status, Reason: reason,
		InputHash: inHash, OutputHash: outHash, Input: inRaw, Output: outRaw,
	})
	r.hashes[s.Step], r.inHashes[s.Step], r.outputs[s.Step] = outHash, inHash, out
	lineage := op.LineageHash
	r.parent = &lineage
	if verr != nil {
		r.halted = true
		r.haltWhy = fmt.Sprintf("step %d %s signature by %s failed verification: %v", s.Step, s.Operation, s.Agent, verr)
		r.log.Alerts = append(r.log.Alerts, Alert{Type: "signature_verification_failure", Severity: "critical", Step: s.Step, Message: r.haltWhy + "; orchestrator halted"})
	}
	return nil
}

func (r *run) skip(s policy.Step, status, reason string) {
	r.log.SkippedOperations = append(r.log.SkippedOperations, SkippedOperation{Step: s.Step, Agent: s.Agent, Operation: s.Operation, Status: status, Reason: reason})
	r.ev.Steps = append(r.ev.Steps, StepRecord{Step: s.Step, Agent: s.Agent, Operation: s.Operation, Tier: s.Tier, Status: status, Reason: reason})
}

func (r *run) priorOps() []AttestedOperation {
	ops := make([]AttestedOperation, 0, len(r.log.Operations))
	for _, o := range r.log.Operations {
		ops = append(ops, AttestedOperation{
			Step: o.Step, Agent: o.Agent, Operation: o.Operation, OperationTimestamp: o.OperationTimestamp,
			InputHash: o.InputHash, OperationOutputHash: o.OperationOutputHash, ParentHash: o.ParentHash,
			LineageHash: o.LineageHash, Signature: o.Signature, PublicKey: o.PublicKey,
		})
	}
	return ops
}

func (r *run) finish(att AttestationOutput) *Result {
	l := r.log
	required := 0
	for _, s := range r.ev.Steps {
		if s.Status != StatusSkipped && s.Status != StatusBlocked { // neither is an operation to sign
			required++
		}
	}
	sum := VerificationSummary{TotalOperations: len(r.ev.Steps), SignaturesRequired: required, SignaturesPresent: len(l.Operations)}
	for _, o := range l.Operations {
		if o.Verified {
			sum.SignaturesVerified++
		} else {
			sum.SignaturesFailed++
		}
	}
	if required > 0 {
		sum.VerificationRatePct = 100 * float64(sum.SignaturesVerified) / float64(required)
	}
	sum.VerificationStatus = "PASS"
	if sum.SignaturesVerified != required {
		sum.VerificationStatus = "FAIL"
	}
	l.Summary = sum
	l.LogGeneratedAt = r.e.Clock.Now().UTC().Truncate(time.Second).Format(time.RFC3339)
	l.EvidenceBundlePath = layout.Evidence(r.id, r.slot)
	r.ev.Outcome.Status = "completed"
	if r.halted {
		r.ev.Outcome.Status = "halted"
	} else {
		r.ev.Outcome.Verdict = att.Verdict
		l.FinalVerdict = att.Verdict
	}
	if l.FinalVerdict == "" {
		l.FinalVerdict = "NONE"
	}
	return &Result{CycleID: r.id, Slot: r.slot, Log: l, Evidence: r.ev, Halted: r.halted, HaltReason: r.haltWhy, LastLineage: r.parent, Guard: r.guard, Breach: r.breach}
}
