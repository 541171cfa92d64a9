package gov

import (
	"context"
	"fmt"
	"time"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/vision-ios/vios/internal/fault"
	"github.com/vision-ios/vios/internal/layout"
	"github.com/vision-ios/vios/internal/ledger"
	"github.com/vision-ios/vios/internal/signing"
	"github.com/vision-ios/vios/internal/state"
)

// Resume lifts HALTED or PAUSED back to RUNNING with a commit signed by
// LARS, the only agent allowed to resume production. The signer's key must
// be LARS's ACTIVE registry key.
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
