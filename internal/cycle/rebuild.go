package cycle

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/vision-ios/vios/internal/layout"
	"github.com/vision-ios/vios/internal/ledger"
	"github.com/vision-ios/vios/internal/llm"
	"github.com/vision-ios/vios/internal/market"
	"github.com/vision-ios/vios/internal/news"
)

// Rebuild re-creates the cycle that commit old recorded on r's current
// HEAD, for a push that found the remote moved. A cycle cannot simply be
// rebased: its first operation links to the lineage tip of the state it was
// run on, and the state's tally and counters would be stale. So the slot is
// run again with RunAndCommit on HEAD, from the inputs recorded in old's
// evidence bundle (the candles LINE ingested, the events FINN scored, the
// summary the provider returned, so no network and no second provider
// call): the outputs are the same, the lineage, timestamps, operation
// signatures, state and commit are new, signed by the same agents' keys
// (opt.Signers / opt.KeysDir). The ADR-012 guard runs against the new
// tip's tally. A slot HEAD already records is left alone (Existing).
func Rebuild(ctx context.Context, r *ledger.Repo, old *object.Commit, opt Options) (*Committed, error) {
	ev, err := recordedEvidence(r, old)
	if err != nil {
		return nil, err
	}
	slot, err := time.Parse(time.RFC3339, ev.CycleTimestamp)
	if err != nil {
		return nil, fmt.Errorf("rebuild cycle %s: slot %q: %w", ev.CycleID, ev.CycleTimestamp, err)
	}
	opt.Slot = slot
	if err := opt.useRecorded(ev); err != nil {
		return nil, fmt.Errorf("rebuild cycle %s: %w", ev.CycleID, err)
	}
	return RunAndCommit(ctx, r, opt)
}

// recordedEvidence reads the evidence bundle commit old added.
func recordedEvidence(r *ledger.Repo, old *object.Commit) (*Evidence, error) {
	var id, date string
	for _, l := range strings.Split(old.Message, "\n") {
		if v, ok := strings.CutPrefix(l, "Vios-Cycle: "); ok {
			id = v
		}
		if v, ok := strings.CutPrefix(l, "Vios-Date: "); ok {
			date = v
		}
	}
	if err := layout.CheckCycleID(id); err != nil {
		return nil, fmt.Errorf("rebuild %s: not a cycle commit: %w", old.Hash.String()[:12], err)
	}
	day, err := time.Parse("2006-01-02", date)
	if err != nil {
		return nil, fmt.Errorf("rebuild cycle %s: Vios-Date %q: %w", id, date, err)
	}
	p := layout.Evidence(id, day)
	data, err := r.ReadTreeFile(old.TreeHash, p)
	if err != nil {
		return nil, fmt.Errorf("rebuild cycle %s: %s: %w", id, p, err)
	}
	ev, err := ParseEvidence(data)
	if err != nil {
		return nil, err
	}
	if ev.CycleID != id {
		return nil, fmt.Errorf("rebuild cycle %s: %s records cycle %s", id, p, ev.CycleID)
	}
	return ev, nil
}

// useRecorded replaces the sources with what ev recorded. Where a step did
// not run (the cycle halted before it, the summary was skipped or blocked)
// the configured source stays: a cycle that halts again never reaches it,
// and a summary the new tip's guard allows is generated for real.
func (opt *Options) useRecorded(ev *Evidence) error {
	for _, s := range ev.Steps {
		switch {
		case s.Step == 1 && len(s.Output) > 0:
			var out IngestOutput
			if err := json.Unmarshal(s.Output, &out); err != nil {
				return fmt.Errorf("recorded candles: %w", err)
			}
			opt.Market = recordedMarket{name: ev.Sources.Market, candles: out.Candles}
		case s.Step == 2 && len(s.Input) > 0:
			var in CDSInput
			if err := json.Unmarshal(s.Input, &in); err != nil {
				return fmt.Errorf("recorded events: %w", err)
			}
			opt.News = recordedNews{name: ev.Sources.Events, events: in.Events}
		case s.Step == 5 && len(s.Input) > 0 && len(s.Output) > 0:
			var in SummaryInput
			var out SummaryOutput
			if err := json.Unmarshal(s.Input, &in); err != nil {
				return fmt.Errorf("recorded summary request: %w", err)
			}
			if err := json.Unmarshal(s.Output, &out); err != nil {
				return fmt.Errorf("recorded summary: %w", err)
			}
			rp := recordedProvider{name: in.Provider, model: in.Model}
			if out.Error != "" {
				rp.err = out.Error
			} else {
				rp.resp = llm.Response{Text: out.Summary, Model: out.Model, InputTokens: out.InputTokens, OutputTokens: out.OutputTokens}
			}
			opt.Provider = rp
		}
	}
	if opt.Market == nil {
		return errors.New("the evidence records no candles")
	}
	return nil
}

// recordedMarket serves the candles a cycle ingested.
type recordedMarket struct {
	name    string
	candles []market.Candle
}

// Name is the recorded source's name, so the evidence reads the same.
func (m recordedMarket) Name() string { return m.name }

// Fetch returns the recorded candles.
func (m recordedMarket) Fetch(context.Context, market.Request) ([]market.Candle, error) {
	return append([]market.Candle(nil), m.candles...), nil
}

// recordedNews serves the events a cycle scored.
type recordedNews struct {
	name   string
	events []news.Event
}

// Name is the recorded source's name.
func (n recordedNews) Name() string { return n.name }

// Fetch returns the recorded events.
func (n recordedNews) Fetch(context.Context, news.Request) ([]news.Event, error) {
	return append([]news.Event(nil), n.events...), nil
}

// recordedProvider answers with the summary (or the error) a provider
// gave the cycle, without calling it again.
type recordedProvider struct {
	name, model string
	resp        llm.Response
	err         string
}

// Name and Model are the recorded provider's.
func (p recordedProvider) Name() string { return p.name }

// Model is the recorded model, whose price applies.
func (p recordedProvider) Model() string { return p.model }

// Summarize returns the recorded answer or error.
func (p recordedProvider) Summarize(context.Context, llm.Request) (llm.Response, error) {
	if p.err != "" {
		return llm.Response{}, errors.New(p.err)
	}
	return p.resp, nil
}
