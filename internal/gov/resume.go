package gov

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/vision-ios/vios/internal/deviation"
	"github.com/vision-ios/vios/internal/fault"
	"github.com/vision-ios/vios/internal/layout"
	"github.com/vision-ios/vios/internal/ledger"
	"github.com/vision-ios/vios/internal/signing"
	"github.com/vision-ios/vios/internal/state"
)

// ErrOpenDeviation is returned (as a governance fault, exit 1) by Resume
// while a deviation that halted or paused production is still open.
var ErrOpenDeviation = errors.New("a deviation that stopped production is still open")

// Resume lifts HALTED or PAUSED back to RUNNING with a commit signed by
// LARS, the only agent allowed to resume production. The signer's key must
// be LARS's ACTIVE registry key.
//
// HALTED and PAUSED are lifted only by a LARS-signed resolution: while a
// deviation whose action is the current state (a signature-verification
// failure for HALTED, an ADR-compliance failure for PAUSED) is open, Resume
// refuses with ErrOpenDeviation naming it and `vios deviation resolve`,
// whose resolution of the last such deviation resumes production in the
// same commit. Resume is for a stop no open deviation explains (one
// recorded before deviations were, or by hand).
func Resume(ctx context.Context, r *ledger.Repo, lars *signing.Signer, reason string, now time.Time) (plumbing.Hash, *state.State, error) {
	if lars.Agent != "LARS" {
		return plumbing.ZeroHash, nil, fault.Inputf("resume: only LARS may resume production, not %s", lars.Agent)
	}
	if reason == "" {
		return plumbing.ZeroHash, nil, fault.Inputf("resume: --reason is required (it goes into the audit trail)")
	}
	snap, unlock, err := Begin(ctx, r, now, lars)
	if err != nil {
		return plumbing.ZeroHash, nil, err
	}
	defer unlock()
	st := *snap.State
	if st.State == state.Running {
		return snap.Commit, &st, fault.Inputf("resume: production is already RUNNING")
	}
	open, err := openStopping(r, snap.Commit, st.State)
	if err != nil {
		return plumbing.ZeroHash, nil, err
	}
	if len(open) > 0 {
		return plumbing.ZeroHash, nil, fault.Governance(fmt.Errorf("resume: production is %s and %w: %s; %s is lifted only by a LARS-signed resolution: vios deviation resolve %s --signer LARS --root-cause TEXT --plan TEXT",
			st.State, ErrOpenDeviation, strings.Join(open, ", "), st.State, open[0]))
	}
	from := st.State
	st.Transition(state.Running, "resumed by LARS: "+reason, "LARS", now)
	ssh, err := lars.SSH()
	if err != nil {
		return plumbing.ZeroHash, nil, err
	}
	h, err := r.Apply(ctx, &ledger.Change{
		Subject: fmt.Sprintf("state: %s -> RUNNING, resumed by LARS", from),
		Body:    reason,
		Trailers: [][2]string{
			{"Vios-Artifact", "operational_state"},
			{"Vios-Agent", "LARS"},
			{"Vios-Baseline", snap.Policy.Cycle.Version},
		},
		Files:  []ledger.File{{Path: layout.StateFile, Data: st.Marshal()}},
		Author: Author("LARS"),
		When:   now,
		Signer: ssh,
		Parent: snap.Commit,
	})
	if err != nil {
		return plumbing.ZeroHash, nil, err
	}
	return h, &st, nil
}

// openStopping lists, sorted, the open deviations at commit h whose type
// puts production in mode (HALTED or PAUSED). A record that does not load
// is left to `vios deviation list`, which reports it.
func openStopping(r *ledger.Repo, h plumbing.Hash, mode string) ([]string, error) {
	recs, _, err := deviation.Load(r, h)
	if err != nil {
		return nil, err
	}
	var open []string
	for _, d := range recs {
		if d.Open() && deviation.Stops[d.Type] == mode {
			open = append(open, d.ID)
		}
	}
	return open, nil
}
