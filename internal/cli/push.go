package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/spf13/cobra"

	"github.com/vision-ios/vios/internal/clock"
	"github.com/vision-ios/vios/internal/cycle"
	"github.com/vision-ios/vios/internal/fault"
	"github.com/vision-ios/vios/internal/keys"
	"github.com/vision-ios/vios/internal/ledger"
	"github.com/vision-ios/vios/internal/remote"
	"github.com/vision-ios/vios/internal/signing"
	"github.com/vision-ios/vios/internal/state"
	"github.com/vision-ios/vios/internal/status"
)

// pushFlags are the --push flags of every committing command.
type pushFlags struct {
	push     bool
	remote   string
	attempts int
}

func (pf *pushFlags) register(cmd *cobra.Command) {
	f := cmd.Flags()
	f.BoolVar(&pf.push, "push", false, "fetch the remote first, then push the commit; when the remote moved, re-create local commits on its tip and retry")
	f.StringVar(&pf.remote, "remote", remote.DefaultRemote, "remote `NAME|URL` for --push: a configured remote, file://, http(s):// or a path (HTTP auth: $VIOS_GIT_TOKEN)")
	f.IntVar(&pf.attempts, "push-attempts", 20, "give up pushing after `N` attempts")
}

// pusher carries one command's --push: the repository lock held from the
// fetch before the commit to the push after it.
type pusher struct {
	g      *Globals
	r      *ledger.Repo
	opt    remote.Options
	unlock func() // once: see release

	mu      sync.Mutex
	rebuilt map[string]*cycle.Committed // re-created cycles by id
	pushed  *remote.Result              // the push finish made
}

// startPush does nothing without --push. With it, it takes the repository
// lock (held until finish), fetches the remote and brings the branch onto
// its tip, so the command commits on the newest history. A fetch that
// fails is a warning: the commit is made locally and pushed later.
// base configures re-created cycles (nil: the policy's sources).
func (g *Globals) startPush(ctx context.Context, r *ledger.Repo, pf *pushFlags, base *cycle.Options) (context.Context, *pusher, error) {
	if !pf.push {
		return ctx, nil, nil
	}
	if pf.attempts < 1 {
		return ctx, nil, fault.Inputf("--push-attempts %d: want at least 1", pf.attempts)
	}
	hctx, unlock, err := r.Hold(ctx)
	if err != nil {
		return ctx, nil, err
	}
	p := &pusher{g: g, r: r, unlock: sync.OnceFunc(unlock), rebuilt: map[string]*cycle.Committed{}}
	p.opt = remote.Options{
		Remote:     pf.remote,
		Attempts:   pf.attempts,
		Signer:     g.sshSigners(),
		Rebuilders: p.rebuilders(base),
		Log:        slog.New(slog.NewTextHandler(g.stderr, nil)),
	}
	res, err := remote.Sync(hctx, r, p.opt)
	if err != nil {
		if fault.IsInput(err) {
			unlock()
			return ctx, nil, err
		}
		fmt.Fprintf(g.stderr, "vios: warning: fetching %s failed, committing locally: %v\n", pf.remote, err)
	} else if res.FastForwarded > 0 || res.Rebuilt > 0 {
		fmt.Fprintf(g.stderr, "vios: fetched %s: %d new remote commits, %d local commits re-created on them\n", res.Remote, res.FastForwarded, res.Rebuilt)
	}
	return hctx, p, nil
}

// finish pushes (even after a governance finding: a halt must reach the
// other orchestrators), reports on stderr and releases the lock. err is the
// command's own error, which wins over a push error.
func (p *pusher) finish(ctx context.Context, err error) error {
	if p == nil {
		return err
	}
	defer p.release()
	if err != nil && fault.Code(err) != fault.CodeGovernance {
		return err
	}
	res, perr := remote.Push(ctx, p.r, p.opt)
	p.pushed = res
	if res != nil && perr == nil {
		fmt.Fprintf(p.g.stderr, "vios: pushed %d commits to %s (%d re-created on the remote tip, %d attempts)\n", res.Pushed, res.Remote, res.Rebuilt, res.Attempts)
	}
	if perr != nil {
		if err != nil {
			fmt.Fprintf(p.g.stderr, "vios: push failed: %v\n", perr)
			return err
		}
		return perr
	}
	return err
}

// release gives the repository lock up without pushing: what finish does
// last, and what a command that stops before committing needs (through
// committing.close). Only the first call unlocks.
func (p *pusher) release() {
	if p != nil {
		p.unlock()
	}
}

// commit returns the commit to report for h, a commit the command made:
// the commit that re-created it on a newer remote tip, or h itself, also
// when the remote held its change already and h was not pushed. Every
// committing command reports its commit through it.
func (p *pusher) commit(h plumbing.Hash) plumbing.Hash {
	if p == nil || p.pushed == nil {
		return h
	}
	for range len(p.pushed.Recreated) {
		next, ok := p.pushed.Recreated[h.String()]
		if !ok || next == "" { // "": dropped, the remote held the change
			break
		}
		h = plumbing.NewHash(next)
	}
	return h
}

// cycle returns what the push made of c: the re-created cycle, or the
// cycle found already recorded by another orchestrator on the remote (then
// c's own commit was dropped), or c itself.
func (p *pusher) cycle(c *cycle.Committed) *cycle.Committed {
	if p == nil || c == nil || c.Existing {
		return c
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if n := p.rebuilt[c.CycleID]; n != nil {
		return n
	}
	return c
}

// rebuilders re-create cycles (re-run from their evidence on the new tip)
// and the status document (derived again); other artifacts are re-applied
// by the remote package.
func (p *pusher) rebuilders(base *cycle.Options) map[string]remote.Rebuilder {
	return map[string]remote.Rebuilder{
		"signature_log": func(ctx context.Context, r *ledger.Repo, old *object.Commit) error {
			opt := cycle.Options{KeysDir: p.g.Keys}
			if base != nil {
				opt = *base
			}
			// The first run alerted on what it opened; the SLA tick sends
			// whatever is still due, so a re-run does not alert twice.
			opt.Alert = nil
			if opt.Clock == nil {
				clk, err := p.g.clock()
				if err != nil {
					return err
				}
				opt.Clock = clk
			}
			c, err := cycle.Rebuild(ctx, r, old, opt)
			if c != nil && (c.Existing || !c.Commit.IsZero()) {
				p.mu.Lock()
				p.rebuilt[c.CycleID] = c
				p.mu.Unlock()
				return nil // committed; a halt or denial is in the record
			}
			if errors.Is(err, state.ErrHalted) || errors.Is(err, state.ErrPaused) {
				return fmt.Errorf("%w: %v", remote.ErrSetAside, err)
			}
			return err
		},
		"operational_status": func(ctx context.Context, r *ledger.Repo, old *object.Commit) error {
			code, err := keys.Load(p.g.Keys, "CODE")
			if err != nil {
				return err
			}
			when := old.Author.When.UTC()
			if clk, err := p.g.clock(); err == nil && p.g.Now != "" {
				when = clk.Now()
			}
			s, err := status.Derive(r, when)
			if err != nil {
				return err
			}
			return commitStatus(ctx, r, code, s, when)
		},
	}
}

// sshSigners loads agents' commit signers on demand, once each.
func (g *Globals) sshSigners() func(agent string) (*signing.SSHSigner, error) {
	var mu sync.Mutex
	cache := map[string]*signing.SSHSigner{}
	return func(agent string) (*signing.SSHSigner, error) {
		mu.Lock()
		defer mu.Unlock()
		if s := cache[agent]; s != nil {
			return s, nil
		}
		k, err := keys.Load(g.Keys, agent)
		if err != nil {
			return nil, err
		}
		s, err := k.SSH()
		if err != nil {
			return nil, err
		}
		cache[agent] = s
		return s, nil
	}
}

// committing is what a command that commits needs: the clock, its agents'
// keys, the repository and its --push, started.
type committing struct {
	clk     clock.Clock
	ctx     context.Context
	r       *ledger.Repo
	signers map[string]*signing.Signer
	push    *pusher
}

// openCommitting sets the clock, loads the keys of agents, opens the
// repository and starts --push (see startPush); the caller commits, then
// calls push.finish, and always close, which also gives up the lock of a
// push that never finished.
func (g *Globals) openCommitting(ctx context.Context, pf *pushFlags, agents ...string) (*committing, error) {
	clk, err := g.clock()
	if err != nil {
		return nil, err
	}
	signers, err := keys.LoadAll(g.Keys, agents...)
	if err != nil {
		return nil, err
	}
	r, err := ledger.Open(g.Repo)
	if err != nil {
		return nil, err
	}
	ctx, push, err := g.startPush(ctx, r, pf, nil)
	if err != nil {
		r.Close()
		return nil, err
	}
	return &committing{clk: clk, ctx: ctx, r: r, signers: signers, push: push}, nil
}

func (c *committing) close() {
	c.push.release()
	c.r.Close()
}
