// Package status derives the operational status tables from a governance
// repository — the four directives (freeze, rhythm, SLA, Phase 3), each
// artifact's last generation and next due time, and deviation counts per
// type — always from what is committed, never kept by hand.
package status

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/vision-ios/vios/internal/deviation"
	"github.com/vision-ios/vios/internal/gov"
	"github.com/vision-ios/vios/internal/layout"
	"github.com/vision-ios/vios/internal/ledger"
)

// Directive is one row of the directives table.
type Directive struct {
	Name   string `json:"directive"`
	State  string `json:"state"`
	Detail string `json:"detail"`
}

// Artifact is one row of the artifact generation table.
type Artifact struct {
	Name    string `json:"artifact"`
	Cadence string `json:"cadence"`
	Last    string `json:"last_generated"`
	NextDue string `json:"next_due"`
	Overdue bool   `json:"overdue"`
}

// DeviationCount is one row of the deviation table.
type DeviationCount struct {
	Type      string `json:"type"`
	Detected  int    `json:"detected"`
	Escalated int    `json:"escalated"`
	Open      int    `json:"open"`
	Resolved  int    `json:"resolved"`
	Status    string `json:"status"`
}

// Status is the whole operational status.
type Status struct {
	AsOf        string           `json:"as_of"`
	Head        string           `json:"head"`
	State       string           `json:"state"`
	Summaries   string           `json:"summaries"`
	Reason      string           `json:"reason"`
	Directives  []Directive      `json:"directives"`
	Artifacts   []Artifact       `json:"artifacts"`
	Deviations  []DeviationCount `json:"deviations"`
	FrozenFiles int              `json:"frozen_files"`
	Drifted     []string         `json:"frozen_files_changed"`
}

// Derive computes the status at HEAD as of now.
func Derive(r *ledger.Repo, now time.Time) (*Status, error) {
	snap, err := gov.Load(r)
	if err != nil {
		return nil, err
	}
	p := snap.Policy
	st := snap.State
	s := &Status{AsOf: now.UTC().Format(time.RFC3339), Head: snap.Commit.String(), State: st.State, Summaries: st.Summaries, Reason: st.Reason, Drifted: []string{}}
	c, err := r.Commit(snap.Commit)
	if err != nil {
		return nil, err
	}
	tree := c.TreeHash

	// Freeze: the frozen files against the v1.0 manifest.
	var man gov.Manifest
	if data, err := r.ReadTreeFile(tree, layout.BaselineV1); err == nil && json.Unmarshal(data, &man) == nil {
		for path, blob := range man.Files {
			s.FrozenFiles++
			if h, err := r.Lookup(tree, path); err != nil || h.String() != blob {
				s.Drifted = append(s.Drifted, path)
			}
		}
		sort.Strings(s.Drifted)
	}
	freeze := Directive{Name: "Architecture freeze", State: "ENFORCED", Detail: fmt.Sprintf("baseline %s: %d frozen files match the manifest", man.Version, s.FrozenFiles)}
	if len(s.Drifted) > 0 {
		freeze.State, freeze.Detail = "VIOLATED", fmt.Sprintf("%d frozen files differ from baseline %s: %s", len(s.Drifted), man.Version, strings.Join(s.Drifted, ", "))
	}

	// Rhythm: cycles on schedule.
	interval := p.Cycle.Schedule.Interval.D()
	rhythm := Directive{Name: "Production rhythm", State: st.State, Detail: "no cycle recorded yet"}
	logs := Artifact{Name: "Signature audit log (per cycle)", Cadence: "every " + interval.String(), Last: "never", NextDue: "next slot"}
	if last, err := time.Parse(time.RFC3339, st.LastCycleSlot); err == nil {
		next := last.Add(interval)
		logs.Last, logs.NextDue = last.Format(time.RFC3339), next.Format(time.RFC3339)
		logs.Overdue = now.After(next.Add(interval))
		rhythm.Detail = fmt.Sprintf("%d cycles recorded, last slot %s", st.CyclesRecorded, last.Format(time.RFC3339))
		if logs.Overdue {
			rhythm.Detail += fmt.Sprintf("; %d slots missed since", int(now.Sub(next)/interval))
		}
	}
	if st.State != "RUNNING" {
		rhythm.Detail += "; " + st.Reason
	}

	// Daily cost reports and weekly attestations, by their file names.
	cost := Artifact{Name: "Daily cost report (ADR-012)", Cadence: "daily 00:00 UTC", Last: "never"}
	if d, ok := latestDated(r, tree, layout.CostReports, "COST_REPORT_", ".json"); ok {
		cost.Last = d.Format("2006-01-02")
		cost.NextDue = d.AddDate(0, 0, 2).Format(time.RFC3339) // the next day's report, due at the end of it
	} else {
		cost.NextDue = now.UTC().Truncate(24*time.Hour).AddDate(0, 0, 1).Format(time.RFC3339)
	}
	cost.Overdue = overdue(cost.NextDue, now)
	att := Artifact{Name: "VEGA weekly attestation", Cadence: "weekly, Sunday 00:00 UTC", Last: "never"}
	lastAtt, hasAtt := latestDated(r, tree, layout.Attestations, "VEGA_ATTESTATION_", ".md")
	if hasAtt {
		att.Last = lastAtt.Format("2006-01-02")
		att.NextDue = lastAtt.AddDate(0, 0, 7).Format(time.RFC3339)
	} else {
		sun := now.UTC().Truncate(24 * time.Hour)
		att.NextDue = sun.AddDate(0, 0, (7-int(sun.Weekday()))%7).Format(time.RFC3339)
	}
	att.Overdue = overdue(att.NextDue, now.Add(-time.Hour)) // an hour's grace for the cron
	brief := Artifact{Name: "Phase 3 readiness brief", Cadence: "once, after the first attestation", Last: "never", NextDue: "after the first weekly attestation"}
	_, briefErr := r.Lookup(tree, layout.Phase3Brief)
	phase3 := Directive{Name: "Phase 3 preparation", State: "WAITING", Detail: "needs the first VEGA weekly attestation"}
	switch {
	case briefErr == nil:
		brief.Last, brief.NextDue = "committed", "—"
		phase3.State, phase3.Detail = "BRIEF COMMITTED", layout.Phase3Brief
	case hasAtt:
		brief.NextDue = "now"
		brief.Overdue = true
		phase3.State, phase3.Detail = "READY", "first attestation exists; `vios brief phase3` is due"
	}
	s.Artifacts = []Artifact{logs, cost, att, brief}

	// Deviations per type.
	devs, err := deviations(r, tree)
	if err != nil {
		return nil, err
	}
	open, escalated := 0, 0
	for _, typ := range []string{deviation.SignatureFailure, deviation.CostCeiling, deviation.ADRCompliance, deviation.Determinism} {
		dc := DeviationCount{Type: typ, Status: "none"}
		for _, d := range devs {
			if d.Type != typ {
				continue
			}
			dc.Detected++
			if d.Status == "resolved" {
				dc.Resolved++
			} else {
				dc.Open++
			}
			for _, e := range d.Events {
				if e.Type == "escalated" || e.Type == "sla_breached" {
					dc.Escalated++
					break
				}
			}
		}
		switch {
		case dc.Escalated > 0 && dc.Open > 0:
			dc.Status = "ESCALATED"
		case dc.Open > 0:
			dc.Status = "OPEN"
		case dc.Detected > 0:
			dc.Status = "RESOLVED"
		}
		open += dc.Open
		escalated += dc.Escalated
		s.Deviations = append(s.Deviations, dc)
	}
	sla := Directive{Name: "Deviation SLA", State: "CLEAR", Detail: fmt.Sprintf("%d deviations recorded, none open", len(devs))}
	if open > 0 {
		sla.State, sla.Detail = "OPEN", fmt.Sprintf("%d open deviations, %d escalated", open, escalated)
	}
	s.Directives = []Directive{freeze, rhythm, sla, phase3}
	return s, nil
}

func overdue(next string, now time.Time) bool {
	t, err := time.Parse(time.RFC3339, next)
	return err == nil && now.After(t)
}

// latestDated finds the newest PREFIX_YYYY_MM_DD.SUFFIX file in dir.
func latestDated(r *ledger.Repo, tree plumbing.Hash, dir, prefix, suffix string) (time.Time, bool) {
	th, err := r.Lookup(tree, dir)
	if err != nil {
		return time.Time{}, false
	}
	t, err := r.ReadTree(th)
	if err != nil {
		return time.Time{}, false
	}
	var best time.Time
	for _, e := range t {
		d, ok := strings.CutPrefix(e.Name, prefix)
		if !ok {
			continue
		}
		d, ok = strings.CutSuffix(d, suffix)
		if !ok {
			continue
		}
		if day, err := time.Parse("2006_01_02", d); err == nil && day.After(best) {
			best = day
		}
	}
	return best, !best.IsZero()
}

func deviations(r *ledger.Repo, tree plumbing.Hash) ([]deviation.Record, error) {
	th, err := r.Lookup(tree, layout.Deviations)
	if err != nil {
		return nil, nil
	}
	t, err := r.ReadTree(th)
	if err != nil {
		return nil, err
	}
	var out []deviation.Record
	for _, e := range t {
		if !strings.HasSuffix(e.Name, ".json") {
			continue
		}
		data, err := r.ReadBlob(e.Hash)
		if err != nil {
			return nil, err
		}
		var d deviation.Record
		if json.Unmarshal(data, &d) == nil {
			out = append(out, d)
		}
	}
	return out, nil
}

// Markdown renders the status tables.
func (s *Status) Markdown() []byte {
	var b bytes.Buffer
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	w("# Operational status\n\nDerived from the repository at `%s`. Production is **%s** (summaries %s): %s.\n\n", s.Head, s.State, s.Summaries, s.Reason)
	w("## Directives\n\n| Directive | State | Detail |\n|---|---|---|\n")
	for _, d := range s.Directives {
		w("| %s | %s | %s |\n", d.Name, d.State, strings.ReplaceAll(d.Detail, "|", "\\|"))
	}
	w("\n## Artifact generation\n\n| Artifact | Cadence | Last generated | Next due | Overdue |\n|---|---|---|---|---|\n")
	for _, a := range s.Artifacts {
		flag := ""
		if a.Overdue {
			flag = "**OVERDUE**"
		}
		w("| %s | %s | %s | %s | %s |\n", a.Name, a.Cadence, a.Last, a.NextDue, flag)
	}
	w("\n## Deviations\n\n| Type | Detected | Escalated | Open | Resolved | Status |\n|---|---|---|---|---|---|\n")
	for _, d := range s.Deviations {
		w("| %s | %d | %d | %d | %d | %s |\n", d.Type, d.Detected, d.Escalated, d.Open, d.Resolved, d.Status)
	}
	return b.Bytes()
}
