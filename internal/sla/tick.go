// Package sla runs the deviation SLA engine: each deviation follows its
// type's escalation timeline from policies/governance.yaml (alert at once,
// at the latest alert_within after detection; investigation start; a status
// update every status_update_interval while open; root cause and
// remediation plan due at the SLA, else an SLA breach escalated to the
// emergency protocol), every notification goes to every alert sink (stderr,
// a JSON webhook, GitHub issues) one deviation at a time, and every event
// and delivery is appended to the deviation's history in a signed commit.
package sla

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/vision-ios/vios/internal/deviation"
	"github.com/vision-ios/vios/internal/fault"
	"github.com/vision-ios/vios/internal/gov"
	"github.com/vision-ios/vios/internal/layout"
	"github.com/vision-ios/vios/internal/ledger"
	"github.com/vision-ios/vios/internal/signing"
)

// TickReport is what one tick found, sent and committed.
type TickReport struct {
	// Head is the commit the tick read; Commit the one it made ("" when
	// nothing was due).
	Head       string `json:"head"`
	Commit     string `json:"commit,omitempty"`
	At         string `json:"at"`
	Deviations int    `json:"deviations"`
	Open       int    `json:"open"`
	Changed    int    `json:"changed"`
	Report
	// Problems are records the tick could not read (left untouched).
	Problems   []string `json:"problems"`
	DurationMS float64  `json:"duration_ms"`
}

// Tick is one run of the SLA engine, meant for cron (every 5 min) and for
// `vios serve` (every minute): under the repository lock it reads every
// deviation at HEAD, appends the events due at now, sends them through
// sinks (nil: the sinks policies/governance.yaml configures, with default
// options), retries earlier failed deliveries, and commits all new events
// in one commit signed by CODE — none when nothing was due. code must be
// CODE's ACTIVE registry key.
func Tick(ctx context.Context, r *ledger.Repo, code *signing.Signer, sinks []Sink, now time.Time) (*TickReport, error) {
	start := time.Now()
	snap, unlock, err := begin(ctx, r, code, "CODE", now)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if sinks == nil {
		if sinks, err = NewSinks(snap.Policy.Governance.AlertSinks, SinkOptions{}); err != nil {
			return nil, err
		}
	}
	recs, problems, err := deviation.Load(r, snap.Commit)
	if err != nil {
		return nil, err
	}
	rep := &TickReport{Head: snap.Commit.String(), At: now.UTC().Format(time.RFC3339), Deviations: len(recs), Problems: problems}
	sizes := make([]int, len(recs))
	for i, d := range recs {
		sizes[i] = len(d.Events)
	}
	n := &Notifier{Policy: snap.Policy, Sinks: sinks}
	rep.Report = *n.Advance(ctx, recs, now)
	var files []ledger.File
	var lines []string
	for i, d := range recs {
		if d.Open() {
			rep.Open++
		}
		if len(d.Events) == sizes[i] {
			continue
		}
		files = append(files, ledger.File{Path: d.Path(), Data: d.Marshal()})
		var types []string
		for _, e := range d.Events[sizes[i]:] {
			types = append(types, e.Type)
		}
		lines = append(lines, d.ID+": "+strings.Join(types, ", "))
	}
	rep.Changed = len(files)
	if len(files) > 0 {
		ssh, err := code.SSH()
		if err != nil {
			return nil, err
		}
		subject := fmt.Sprintf("sla tick: %d events on %d deviations", len(rep.Events), len(files))
		if rep.Breaches > 0 {
			subject += fmt.Sprintf(", %d SLA breaches escalated to LARS", rep.Breaches)
		}
		h, err := r.Apply(ctx, &ledger.Change{
			Subject: subject,
			Body:    fmt.Sprintf("Tick at %s: %d delivered, %d failed, %d not attempted.\n\n%s", rep.At, rep.Delivered, rep.Failed, rep.Skipped, strings.Join(lines, "\n")),
			Trailers: [][2]string{
				{"Vios-Artifact", "deviation"},
				{"Vios-Date", now.UTC().Format("2006-01-02")},
				{"Vios-Agent", "CODE"},
				{"Vios-Baseline", snap.Policy.Cycle.Version},
			},
			Files: files, Author: gov.Author("CODE"), When: now, Signer: ssh, Parent: snap.Commit,
		})
		if err != nil {
			return nil, fmt.Errorf("sla tick: commit %d deviation records: %w", len(files), err)
		}
		rep.Commit = h.String()
	}
	rep.DurationMS = float64(time.Since(start).Microseconds()) / 1000
	return rep, nil
}

// begin checks that s is agent's key (another agent's is bad input), then
// starts the command through gov.Begin.
func begin(ctx context.Context, r *ledger.Repo, s *signing.Signer, agent string, now time.Time) (*gov.Snapshot, func(), error) {
	if s == nil || s.Agent != agent {
		return nil, nil, fault.Inputf("a %s key is required", agent)
	}
	return gov.Begin(ctx, r, now, s)
}

// Find reads one deviation at commit h; an unknown id is bad input (exit 2).
func Find(r *ledger.Repo, h plumbing.Hash, id string) (*deviation.Record, error) {
	if err := deviation.CheckID(id); err != nil {
		return nil, err
	}
	p := layout.Deviations + "/" + id + ".json"
	data, err := r.ReadFile(h, p)
	if errors.Is(err, ledger.ErrNotFound) {
		return nil, fault.Inputf("unknown deviation %s (see `vios deviation list`)", id)
	}
	if err != nil {
		return nil, err
	}
	d, err := deviation.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	return d, nil
}
