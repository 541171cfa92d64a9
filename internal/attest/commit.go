package attest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/vision-ios/vios/internal/deviation"
	"github.com/vision-ios/vios/internal/fault"
	"github.com/vision-ios/vios/internal/gov"
	"github.com/vision-ios/vios/internal/layout"
	"github.com/vision-ios/vios/internal/ledger"
	"github.com/vision-ios/vios/internal/signing"
	"github.com/vision-ios/vios/internal/state"
)

// Committed is the result of Commit.
type Committed struct {
	Attestation *Attestation
	Path        string
	Commit      plumbing.Hash
	Existing    bool
	Paused      bool
}

// ErrDiffers is returned when the week was attested with other content.
var ErrDiffers = errors.New("an attestation with different content is already committed for this week")

// Commit attests the week ending on sunday: the Markdown (and its charts)
// signed by VEGA. A FAIL pauses production: a second commit, by CODE, moves
// the state to PAUSED and opens an ADR-compliance deviation. Determinism
// below the overall target opens a determinism deviation, committed by
// CODE with the pause or on its own. Re-running a
// week whose attestation is committed with the same content does nothing.
func Commit(ctx context.Context, r *ledger.Repo, vega, code *signing.Signer, sunday, now time.Time) (*Committed, error) {
	snap, unlock, err := gov.Begin(ctx, r, now, vega, code)
	if err != nil {
		return nil, err
	}
	defer unlock()
	a, err := Build(ctx, r, snap, sunday)
	if err != nil {
		return nil, err
	}
	p := Path(sunday)
	files, chartNames, err := charts(a, p)
	if err != nil {
		return nil, err
	}
	md := a.Markdown(chartNames)
	if err := Check(md, a.Outcome); err != nil {
		return nil, fmt.Errorf("generated attestation is malformed: %w", err)
	}
	c := &Committed{Attestation: a, Path: p, Commit: snap.Commit}
	if old, err := r.ReadFile(snap.Commit, p); err == nil {
		if bytes.Equal(old, md) {
			c.Existing = true
			return c, nil
		}
		return c, fault.Governance(fmt.Errorf("%s: %w", p, ErrDiffers))
	} else if !errors.Is(err, ledger.ErrNotFound) {
		return nil, err
	}
	files = append(files, ledger.File{Path: p, Data: md})
	ssh, err := vega.SSH()
	if err != nil {
		return nil, err
	}
	h, err := r.Apply(ctx, &ledger.Change{
		Subject: fmt.Sprintf("attestation %s: %s (%d cycles, signatures %.2f%%, determinism %.2f%%)", a.Date, a.Outcome, a.Cycles, a.Signatures.RatePct, 100*a.Determinism.OverallRate),
		Body:    fmt.Sprintf("VEGA weekly attestation of %s to %s.\nEvidence digest %s over %d artifacts.", a.PeriodStart, a.PeriodEnd, a.Digest, a.DigestArtifacts),
		Trailers: [][2]string{
			{"Vios-Artifact", "vega_attestation"},
			{"Vios-Date", a.Date},
			{"Vios-Agent", "VEGA"},
			{"Vios-Baseline", snap.Policy.Cycle.Version},
		},
		Files: files, Author: gov.Author("VEGA"), When: now, Signer: ssh, Parent: snap.Commit,
	})
	if err != nil {
		return nil, err
	}
	c.Commit = h
	// Determinism below the overall target opens its own deviation.
	var detDev *deviation.Record
	if d := a.Determinism; d != nil && d.Cycles > 0 && d.OverallRate < snap.Policy.Determinism.OverallTarget {
		why := fmt.Sprintf("VEGA weekly attestation %s: determinism overall %.2f%% below the %.0f%% target (%d mismatches)",
			a.Date, 100*d.OverallRate, 100*snap.Policy.Determinism.OverallTarget, len(d.Mismatches))
		if detDev, err = deviation.New(snap.Policy, deviation.Determinism, "ATTEST-"+sunday.Format("20060102"), "", why, now); err != nil {
			return c, err
		}
	}
	if a.Outcome != Fail {
		if detDev == nil {
			return c, nil
		}
		cs, err := code.SSH()
		if err != nil {
			return c, err
		}
		h2, err := r.Apply(ctx, &ledger.Change{
			Subject:  fmt.Sprintf("deviation: determinism below threshold in the attestation of %s", a.Date),
			Body:     detDev.Reason + "\nOpened " + detDev.ID + ".",
			Trailers: [][2]string{{"Vios-Artifact", "deviation"}, {"Vios-Date", a.Date}, {"Vios-Agent", "CODE"}, {"Vios-Baseline", snap.Policy.Cycle.Version}},
			Files:    []ledger.File{{Path: detDev.Path(), Data: detDev.Marshal()}},
			Author:   gov.Author("CODE"), When: now, Signer: cs, Parent: h,
		})
		if err != nil {
			return c, err
		}
		c.Commit = h2
		return c, nil
	}
	// FAIL pauses production and opens an ADR-compliance deviation.
	st := *snap.State
	reason := fmt.Sprintf("VEGA weekly attestation %s: FAIL", a.Date)
	if st.State == state.Running {
		st.Transition(state.Paused, reason, "CODE", now)
	}
	dev, err := deviation.New(snap.Policy, deviation.ADRCompliance, "ATTEST-"+sunday.Format("20060102"), "", reason+": "+first(a.Reasons), now)
	if err != nil {
		return nil, err
	}
	files2 := []ledger.File{{Path: layout.StateFile, Data: st.Marshal()}, {Path: dev.Path(), Data: dev.Marshal()}}
	if detDev != nil {
		files2 = append(files2, ledger.File{Path: detDev.Path(), Data: detDev.Marshal()})
	}
	cs, err := code.SSH()
	if err != nil {
		return nil, err
	}
	h2, err := r.Apply(ctx, &ledger.Change{
		Subject: fmt.Sprintf("state: %s -> PAUSED after the FAIL attestation of %s", snap.State.State, a.Date),
		Body:    "Opened " + dev.ID + ". LARS lifts the pause by resolving it: `vios deviation resolve " + dev.ID + " --signer LARS`.",
		Trailers: [][2]string{
			{"Vios-Artifact", "operational_state"},
			{"Vios-Date", a.Date},
			{"Vios-Agent", "CODE"},
			{"Vios-Baseline", snap.Policy.Cycle.Version},
		},
		Files:  files2,
		Author: gov.Author("CODE"), When: now, Signer: cs, Parent: h,
	})
	if err != nil {
		return c, err
	}
	c.Commit, c.Paused = h2, true
	return c, nil
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}
