// Package gov reads a governance repository's configuration as committed:
// the policy set, the agent registry and the operational state at a commit.
// Every command that works on a governance repository starts here, so a
// repository that is not one, or whose policies are broken, is refused the
// same way everywhere (exit 2).
package gov

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/vision-ios/vios/internal/fault"
	"github.com/vision-ios/vios/internal/keys"
	"github.com/vision-ios/vios/internal/layout"
	"github.com/vision-ios/vios/internal/ledger"
	"github.com/vision-ios/vios/internal/policy"
	"github.com/vision-ios/vios/internal/signing"
	"github.com/vision-ios/vios/internal/state"
)

// Snapshot is the governance configuration at one commit.
type Snapshot struct {
	Commit   plumbing.Hash
	Policy   *policy.Set
	Registry *keys.Registry
	State    *state.State
}

// ErrNotGovernance is returned for a repository without the governance layout.
var ErrNotGovernance = errors.New("not a vios governance repository")

// Load reads the snapshot at HEAD.
func Load(r *ledger.Repo) (*Snapshot, error) {
	h, err := r.Head()
	if err != nil {
		if errors.Is(err, ledger.ErrNoCommits) {
			return nil, fault.Inputf("%s: %w: no commits (run `vios init`)", r.GitDir(), ErrNotGovernance)
		}
		return nil, err
	}
	return LoadAt(r, h)
}

// LoadAt reads the snapshot at commit h.
func LoadAt(r *ledger.Repo, h plumbing.Hash) (*Snapshot, error) {
	if _, err := r.ReadFile(h, layout.StateFile); err != nil {
		if errors.Is(err, ledger.ErrNotFound) {
			return nil, fault.Inputf("%s: %w: %s is missing (run `vios init`)", r.GitDir(), ErrNotGovernance, layout.StateFile)
		}
		return nil, err
	}
	pol, reg, err := loadPolicies(r, h)
	if err != nil {
		return nil, err
	}
	data, err := r.ReadFile(h, layout.StateFile)
	if err != nil {
		return nil, err
	}
	st, err := state.Parse(data)
	if err != nil {
		return nil, err
	}
	return &Snapshot{Commit: h, Policy: pol, Registry: reg, State: st}, nil
}

// parsed caches validated policy sets and registries by the hash of the
// policies/ tree that holds them (registry included): content-addressed, so
// an entry can never go stale. Cached values are shared and must not be
// modified.
var parsed sync.Map // plumbing.Hash -> *parsedPolicies

type parsedPolicies struct {
	pol *policy.Set
	reg *keys.Registry
}

func loadPolicies(r *ledger.Repo, h plumbing.Hash) (*policy.Set, *keys.Registry, error) {
	c, err := r.Commit(h)
	if err != nil {
		return nil, nil, err
	}
	th, err := r.Lookup(c.TreeHash, layout.Policies)
	if err != nil {
		if errors.Is(err, ledger.ErrNotFound) {
			return nil, nil, fault.Inputf("%s: %w: %s/ is missing", r.GitDir(), ErrNotGovernance, layout.Policies)
		}
		return nil, nil, err
	}
	if v, ok := parsed.Load(th); ok {
		p := v.(*parsedPolicies)
		return p.pol, p.reg, nil
	}
	fsys, err := r.FS(h, layout.Policies)
	if err != nil {
		return nil, nil, err
	}
	pol, err := policy.Load(fsys)
	if err != nil {
		return nil, nil, err
	}
	reg, err := ReadRegistry(r, h)
	if err != nil {
		return nil, nil, err
	}
	parsed.Store(th, &parsedPolicies{pol: pol, reg: reg})
	return pol, reg, nil
}

// ReadRegistry reads policies/keys/agents.json at commit h.
func ReadRegistry(r *ledger.Repo, h plumbing.Hash) (*keys.Registry, error) {
	data, err := r.ReadFile(h, layout.Registry)
	if err != nil {
		if errors.Is(err, ledger.ErrNotFound) {
			return nil, fault.Inputf("%s: %w: %s is missing", r.GitDir(), ErrNotGovernance, layout.Registry)
		}
		return nil, fmt.Errorf("read registry: %w", err)
	}
	return keys.ParseRegistry(data)
}

// Begin starts a committing command: it takes the repository lock, loads
// the snapshot at HEAD, and checks that every signer holds its agent's
// registry key valid at now, so no command signs with a key the audit would
// reject. The caller releases the lock with the returned func.
func Begin(ctx context.Context, r *ledger.Repo, now time.Time, signers ...*signing.Signer) (*Snapshot, func(), error) {
	unlock, err := r.Lock(ctx)
	if err != nil {
		return nil, nil, err
	}
	snap, err := Load(r)
	if err != nil {
		unlock()
		return nil, nil, err
	}
	for _, s := range signers {
		if _, ok := snap.Registry.KeyAt(s.Agent, s.Public(), now); !ok {
			unlock()
			return nil, nil, fault.Governancef("the %s key given is not %s's ACTIVE registry key; refusing to sign", s.Agent, s.Agent)
		}
	}
	return snap, unlock, nil
}
