// Package remote shares a governance repository's branch with a remote
// repository that several orchestrators push to: a bare repository on disk
// (file://, read and written in-process; see local.go) or a smart-HTTP
// server (http(s)://, spoken to with go-git's transport).
//
// Push sends the local branch: exactly the objects of the commits after
// the remote tip. When the remote moved meanwhile (another orchestrator
// pushed), it fetches the new tip and re-creates the local commits that are
// not on the remote on top of it, then tries again with jittered
// exponential backoff. Commits are never rebased blindly:
//
//   - A cycle commit is re-run, not rebased. A cycle's first operation links
//     to the previous cycle's last lineage hash (OPERATIONAL_STATE.json
//     last_lineage_hash), so a cycle commit moved onto a tip that recorded
//     another cycle would break the lineage chain. Its Rebuilder (the CLI
//     wires cycle.Rebuild) runs the same slot again on the new tip from the
//     market data, news events and summary recorded in its evidence bundle:
//     the same outputs, fresh lineage, operation signatures and state, every
//     signature made again with the same agents' keys.
//   - Any other artifact commit (cost report, attestation, state transition)
//     only adds files and rewrites the regenerated OPERATIONAL_STATE.json or
//     OPERATIONAL_STATUS.md, so it is re-applied: each added file must be
//     absent on the new tip or already there with the same content, a
//     modified canonical file must be unchanged on the remote, and the state
//     file is merged field by field. The commit is signed again by the agent
//     its Vios-Agent trailer names. The same non-regenerated file with
//     different content on both sides is a *ConflictError naming the file,
//     never an overwrite.
//
// The local tip is kept under refs/vios/rebuild while its commits are
// re-created, so a process killed half-way loses nothing: the next Sync or
// Push replays what is missing (re-creation is idempotent).
package remote

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/plumbing/transport/file"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"

	"github.com/vision-ios/vios/internal/fault"
	"github.com/vision-ios/vios/internal/ledger"
	"github.com/vision-ios/vios/internal/signing"
)

// DefaultRemote is the remote a committing command pushes to by default.
const DefaultRemote = "origin"

// References vios keeps in the local repository.
const (
	// RebuildRef holds the local tip while its unpushed commits are
	// re-created on a new remote tip.
	RebuildRef plumbing.ReferenceName = "refs/vios/rebuild"
	// SetAsidePrefix names commits that could not be re-created on the
	// remote tip (a cycle when the remote is HALTED, say): kept, not pushed.
	SetAsidePrefix = "refs/vios/set-aside/"
)

// Environment variables for HTTP authentication.
const (
	// TokenEnv holds a token sent as HTTP basic auth password.
	TokenEnv = "VIOS_GIT_TOKEN"
	// UserEnv is the basic auth user name (default x-access-token).
	UserEnv = "VIOS_GIT_USER"
)

// Errors callers branch on.
var (
	// ErrRejected: the remote refused the push for a reason retrying
	// does not fix (a hook, permissions, an unpack error).
	ErrRejected = errors.New("push rejected by the remote")
	// ErrContended: the remote kept moving for every attempt.
	ErrContended = errors.New("remote kept moving")
	// ErrUnrelated: local and remote histories share no commit.
	ErrUnrelated = errors.New("local and remote histories are unrelated")
	// ErrSetAside is wrapped by a Rebuilder that cannot re-create its
	// commit on the new tip for a governance reason; the commit is kept
	// under SetAsidePrefix and the others go ahead.
	ErrSetAside = errors.New("commit cannot be re-created on the remote tip")
)

// ConflictError is a true conflict: the same non-regenerated file (or the
// same state field) with different content on both sides. Sync and Push
// return it marked as a governance finding (exit 1), the local branch as
// it was.
type ConflictError struct {
	Path   string        // the file
	Field  string        // the OPERATIONAL_STATE.json field, when that is the file
	Commit plumbing.Hash // the local commit being re-created
}

// Error names the file (and field) and the local commit.
func (e *ConflictError) Error() string {
	what := e.Path
	if e.Field != "" {
		what += " field " + e.Field
	}
	return fmt.Sprintf("conflict: %s differs on the remote and in local commit %s; refusing to overwrite it", what, e.Commit.String()[:12])
}

// Rebuilder re-creates old, a local commit the remote does not have, on
// r's current HEAD (a newer remote tip plus what was re-created before it),
// and commits the result. It must be idempotent: when HEAD already holds
// what old recorded it commits nothing.
type Rebuilder func(ctx context.Context, r *ledger.Repo, old *object.Commit) error

// Options configure Sync and Push. The zero value pushes to origin with
// the defaults below.
type Options struct {
	// Remote is a configured remote's name or a URL (file://, http://,
	// https://, or a path to a bare repository). Default origin.
	Remote string
	// Auth overrides the HTTP authentication taken from the environment
	// (VIOS_GIT_TOKEN as basic auth, user VIOS_GIT_USER or x-access-token).
	Auth transport.AuthMethod
	// Signer returns the SSH signer of an agent, for re-signing commits
	// re-applied by the generic rebuilder.
	Signer func(agent string) (*signing.SSHSigner, error)
	// Rebuilders re-create commits by their Vios-Artifact trailer; others
	// are re-applied generically.
	Rebuilders map[string]Rebuilder
	// Attempts bounds the push attempts (default 20); BaseDelay and
	// MaxDelay shape the jittered exponential backoff after an attempt
	// that found the remote moved or was refused (defaults 20 ms and 1 s).
	Attempts            int
	BaseDelay, MaxDelay time.Duration
	// Log receives one line per retry; nil discards.
	Log *slog.Logger
}

// SetAside is a local commit kept out of the push.
type SetAside struct {
	Commit string `json:"commit"`
	Ref    string `json:"ref"`
	Reason string `json:"reason"`
}

// Result reports a Sync or Push.
type Result struct {
	Remote     string `json:"remote"`
	Branch     string `json:"branch"`
	RemoteHead string `json:"remote_head"`
	// FastForwarded counts the remote commits the local branch moved over.
	FastForwarded int `json:"fast_forwarded"`
	// Rebuilt counts local commits re-created on a newer remote tip.
	Rebuilt int `json:"rebuilt"`
	// Recreated maps each local commit re-created on a newer remote tip
	// to its replacement ("" when the remote held its change already).
	Recreated map[string]string `json:"recreated,omitempty"`
	// Pushed counts the commits that landed on the remote.
	Pushed   int        `json:"pushed"`
	Attempts int        `json:"attempts"`
	SetAside []SetAside `json:"set_aside,omitempty"`
}

// syncer is one Sync or Push in progress.
type syncer struct {
	r      *ledger.Repo
	opt    Options
	ep     *transport.Endpoint
	cl     transport.Transport
	auth   transport.AuthMethod
	branch plumbing.ReferenceName
	track  plumbing.ReferenceName // refs/remotes/NAME/BRANCH, or "" for a URL
	res    *Result
	local  *localRemote // a file:// remote opened in-process, or nil
	// lockedRemote: Push holds the vios lock of local's repository.
	lockedRemote bool
	// seen is the remote tip the last attempt found moved to.
	seen plumbing.Hash
}

func newSyncer(r *ledger.Repo, opt Options) (*syncer, error) {
	if opt.Attempts <= 0 {
		opt.Attempts = 20
	}
	if opt.BaseDelay <= 0 {
		opt.BaseDelay = 20 * time.Millisecond
	}
	if opt.MaxDelay <= 0 {
		opt.MaxDelay = time.Second
	}
	if opt.Remote == "" {
		opt.Remote = DefaultRemote
	}
	br, err := r.Branch()
	if err != nil {
		return nil, err
	}
	url, name, err := resolve(r, opt.Remote)
	if err != nil {
		return nil, err
	}
	ep, err := transport.NewEndpoint(url)
	if err != nil {
		return nil, fault.Inputf("remote %s: %v", opt.Remote, err)
	}
	s := &syncer{r: r, opt: opt, ep: ep, branch: br, res: &Result{Remote: redact(url), Branch: br.Short()}}
	switch ep.Protocol {
	case "file":
		if s.local = openLocal(ep.Path); s.local == nil || !s.local.push {
			s.cl = fileClient()
		}
	case "http", "https":
		s.cl = githttp.DefaultClient
		s.auth = opt.Auth
		if s.auth == nil {
			if tok := os.Getenv(TokenEnv); tok != "" {
				user := os.Getenv(UserEnv)
				if user == "" {
					user = "x-access-token"
				}
				s.auth = &githttp.BasicAuth{Username: user, Password: tok}
			}
		}
	default:
		return nil, fault.Inputf("remote %s: %s:// remotes are not supported (use file:// or http(s)://)", opt.Remote, ep.Protocol)
	}
	if name != "" {
		s.track = plumbing.ReferenceName("refs/remotes/" + name + "/" + br.Short())
	}
	return s, nil
}

// redact drops credentials from a URL before it is shown.
func redact(url string) string {
	if i := strings.Index(url, "://"); i >= 0 {
		if j := strings.LastIndex(url[i+3:], "@"); j >= 0 {
			if k := strings.Index(url[i+3:], "/"); k < 0 || j < k {
				return url[:i+3] + "***@" + url[i+3+j+1:]
			}
		}
	}
	return url
}

// resolve turns a remote name or URL into a URL and the remote's name ("" for a URL).
func resolve(r *ledger.Repo, remote string) (url, name string, err error) {
	if strings.Contains(remote, "://") || filepath.IsAbs(remote) || strings.HasPrefix(remote, ".") {
		if !strings.Contains(remote, "://") {
			abs, err := filepath.Abs(remote)
			if err != nil {
				return "", "", fault.Inputf("remote %s: %v", remote, err)
			}
			remote = "file://" + abs
		}
		return remote, "", nil
	}
	if strings.ContainsAny(remote, "/\\ :") || remote == "." || remote == ".." {
		return "", "", fault.Inputf("remote %q: not a remote name or a URL", remote)
	}
	cfg, err := r.Git.Config()
	if err != nil {
		return "", "", fmt.Errorf("remote %s: read config: %w", remote, err)
	}
	rc, ok := cfg.Remotes[remote]
	if !ok || len(rc.URLs) == 0 {
		return "", "", fault.Inputf("remote %q is not configured (git remote add %s URL), and is not a URL", remote, remote)
	}
	return rc.URLs[0], remote, nil
}

var (
	fileOnce sync.Once
	fileCl   transport.Transport
)

// fileClient is go-git's file transport with git-upload-pack and
// git-receive-pack resolved once from `git --exec-path`, instead of once
// per session.
func fileClient() transport.Transport {
	fileOnce.Do(func() {
		fileCl = file.DefaultClient
		out, err := exec.Command("git", "--exec-path").Output()
		if err != nil {
			return
		}
		dir := strings.TrimSpace(string(out))
		up, rp := filepath.Join(dir, "git-upload-pack"), filepath.Join(dir, "git-receive-pack")
		if _, err := os.Stat(up); err != nil {
			return
		}
		if _, err := os.Stat(rp); err != nil {
			return
		}
		fileCl = file.NewClient(up, rp)
	})
	return fileCl
}

// Sync brings the local branch onto the remote's: it fetches the remote
// tip, fast-forwards to it, or re-creates the local commits the remote does
// not have on top of it. It holds the repository lock (re-entrantly: pass
// the context of an r.Hold to keep holding it afterwards). Run it before
// committing with --push, so the new commit lands on the newest tip.
func Sync(ctx context.Context, r *ledger.Repo, opt Options) (*Result, error) {
	s, err := newSyncer(r, opt)
	if err != nil {
		return nil, err
	}
	defer s.local.close()
	ctx, unlock, err := r.Hold(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if err := s.resumePending(ctx); err != nil {
		return s.res, err
	}
	tip, err := s.fetch(ctx)
	if err != nil {
		return s.res, err
	}
	s.res.RemoteHead = tip.String()
	if err := s.integrate(ctx, tip); err != nil {
		return s.res, err
	}
	return s.res, s.setAsideErr()
}

// Push sends the local branch to the remote. When the remote moved, it
// fetches, re-creates the local commits on the new tip and tries again,
// after a jittered exponential backoff: whoever else moved the remote may
// still be pushing, and writers that collided spread out. An in-process
// file remote's vios lock is held throughout (after the local one), so
// there the local commits are re-created at most once and pushed at once.
// It makes at most opt.Attempts attempts and holds the repository lock
// throughout (re-entrantly).
func Push(ctx context.Context, r *ledger.Repo, opt Options) (*Result, error) {
	s, err := newSyncer(r, opt)
	if err != nil {
		return nil, err
	}
	defer s.local.close()
	ctx, unlock, err := r.Hold(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if s.local != nil && s.local.push {
		// Hold the remote's vios lock too (always after the local one):
		// no other vios writer lands while the local commits are
		// re-created on the tip, so each is re-created at most once.
		var runlock func()
		if ctx, runlock, err = s.local.r.Hold(ctx); err != nil {
			return s.res, fmt.Errorf("push to %s: %w", s.res.Remote, err)
		}
		defer runlock()
		s.lockedRemote = true
	}
	if err := s.resumePending(ctx); err != nil {
		return s.res, err
	}
	var last *rejection
	refused := 0
	for attempt := 1; ; attempt++ {
		s.res.Attempts = attempt
		rej, err := s.attempt(ctx, last)
		if err != nil {
			return s.res, err
		}
		if rej == nil {
			return s.res, s.setAsideErr()
		}
		if attempt >= s.opt.Attempts {
			return s.res, fmt.Errorf("push to %s: %w after %d attempts (last: %s)", s.res.Remote, ErrContended, attempt, rej.msg)
		}
		last = rej
		refused++
		d := s.backoff(refused)
		if s.opt.Log != nil {
			s.opt.Log.Info("push rejected; retrying", "remote", s.res.Remote, "attempt", attempt, "reason", rej.msg, "wait", d)
		}
		select {
		case <-ctx.Done():
			return s.res, ctx.Err()
		case <-time.After(d):
		}
	}
}

// backoff is the wait after the n-th lost attempt: exponential from BaseDelay,
// capped at MaxDelay, with "equal jitter" (half fixed, half random) so that
// writers that collided spread out.
func (s *syncer) backoff(n int) time.Duration {
	d := s.opt.BaseDelay << min(n-1, 30)
	if d <= 0 || d > s.opt.MaxDelay {
		d = s.opt.MaxDelay
	}
	return d/2 + rand.N(d/2+1)
}

// rejection is an attempt that did not land.
type rejection struct {
	msg  string
	sent bool          // a push was sent and refused (else: the remote was ahead)
	old  plumbing.Hash // the remote tip the push was made against
}

// attempt makes one push: it reads the remote tip (from the receive-pack
// advertisement, or the branch of an in-process file remote). When that tip
// is not in the local history and differs from the one the last attempt
// saw, it returns a rejection to look again after a backoff; once the tip
// holds still (or at once, holding an in-process remote's lock) it fetches
// it — over HTTP without a second advertisement — and re-creates the local
// commits on it. Then it sends exactly the objects of the local commits
// after the tip, over HTTP after checking the tip once more. A nil
// rejection means the remote now holds the local tip.
func (s *syncer) attempt(ctx context.Context, last *rejection) (*rejection, error) {
	rcv, tip, err := s.openReceive(ctx)
	if err != nil {
		return nil, err
	}
	defer rcv.close()
	head, err := s.head()
	if err != nil {
		return nil, err
	}
	ahead, err := s.contains(head, tip)
	if err != nil {
		return nil, err
	}
	if !ahead {
		if !s.lockedRemote {
			rcv.close()
			if tip != s.seen {
				// Other writers are pushing: note the tip and look
				// again after a backoff. Fetching and re-creating the
				// local commits waits until the remote holds still, so
				// a writer that keeps losing races polls (one
				// advertisement) instead of fetching and re-running its
				// commits for every commit the others land.
				s.seen = tip
				return &rejection{msg: "the remote moved to " + short(tip)}, nil
			}
		}
		// Bring the remote's commits in and re-create the local ones on
		// its tip.
		got, err := s.fetchTip(ctx, tip)
		if err != nil {
			return nil, err
		}
		if err := s.integrate(ctx, got); err != nil {
			return nil, err
		}
		if got != tip {
			s.seen = got
			return &rejection{msg: "the remote moved to " + short(got)}, nil
		}
		if !s.lockedRemote {
			// Look at the tip once more before sending, rather than
			// send what the remote may refuse after unpacking it.
			return s.attempt(ctx, last)
		}
		// Holding the remote's lock, nobody else moves it: push
		// against that tip at once.
		if head, err = s.head(); err != nil {
			return nil, err
		}
	}
	s.res.RemoteHead = tip.String()
	if head == tip {
		s.updateTracking(tip)
		return nil, nil
	}
	if last != nil && last.sent && last.old == tip && !raced(last.msg) {
		// Refused at this very tip, which has not moved, for a reason
		// other than the ref update (a hook, say): retrying cannot help.
		return nil, fmt.Errorf("push to %s: %w: %s", s.res.Remote, ErrRejected, last.msg)
	}
	commits, err := s.chain(tip, head)
	if err != nil {
		return nil, err
	}
	rej, err := rcv.send(ctx, commits)
	if err != nil || rej != nil {
		return rej, err
	}
	s.res.Pushed += len(commits)
	s.res.RemoteHead = head.String()
	s.updateTracking(head)
	return nil, nil
}

// receiver is one push in the making: send moves the remote branch from
// the tip it was opened at to the last of commits (oldest first), sending
// their objects; a refusal the remote may not repeat is a rejection.
type receiver interface {
	send(ctx context.Context, commits []*object.Commit) (*rejection, error)
	close()
}

// gitReceiver pushes through a receive-pack session.
type gitReceiver struct {
	s      *syncer
	sess   transport.ReceivePackSession
	adv    *packp.AdvRefs
	old    plumbing.Hash
	closed bool
}

func (g *gitReceiver) close() {
	if !g.closed {
		g.closed = true
		g.sess.Close()
	}
}

func (g *gitReceiver) send(ctx context.Context, commits []*object.Commit) (*rejection, error) {
	s := g.s
	objs, err := s.r.ObjectsOf(commits)
	if err != nil {
		return nil, err
	}
	pack, err := s.r.PackObjects(objs)
	if err != nil {
		return nil, err
	}
	req := packp.NewReferenceUpdateRequestFromCapabilities(g.adv.Capabilities)
	req.Commands = []*packp.Command{{Name: s.branch, Old: g.old, New: commits[len(commits)-1].Hash}}
	req.Packfile = io.NopCloser(bytes.NewReader(pack))
	rs, err := g.sess.ReceivePack(ctx, req)
	g.close()
	if err != nil {
		if rs == nil {
			return nil, fmt.Errorf("push to %s: %w", s.res.Remote, err)
		}
		if rs.UnpackStatus != "ok" {
			return nil, fmt.Errorf("push to %s: %w: unpack %s", s.res.Remote, ErrRejected, rs.UnpackStatus)
		}
		return &rejection{msg: err.Error(), sent: true, old: g.old}, nil
	}
	return nil, nil
}

// raced reports whether a refusal is the ref update losing a race: git
// reports "failed to update ref" both when the branch moved and when
// another push held its lock (and may still have failed itself).
func raced(msg string) bool {
	for _, m := range []string{"failed to update ref", "lock", "fetch first", "non-fast-forward", "stale info", "moved"} {
		if strings.Contains(msg, m) {
			return true
		}
	}
	return false
}

// contains reports whether the remote tip is in the local history (zero:
// the remote has no branch yet).
func (s *syncer) contains(head, tip plumbing.Hash) (bool, error) {
	if tip.IsZero() || tip == head {
		return true, nil
	}
	if !s.r.Has(tip) || head.IsZero() {
		return false, nil
	}
	base, err := s.mergeBase(head, tip)
	if err != nil {
		return false, err
	}
	return base == tip, nil
}

func short(h plumbing.Hash) string {
	if h.IsZero() {
		return "(nothing)"
	}
	return h.String()[:12]
}

func (s *syncer) head() (plumbing.Hash, error) {
	h, err := s.r.Head()
	if errors.Is(err, ledger.ErrNoCommits) {
		return plumbing.ZeroHash, nil
	}
	return h, err
}

// openReceive opens a push and returns the remote tip it will be made
// against (zero when the remote has no such branch): a receive-pack
// session and its advertisement, or the branch of a remote written
// in-process.
func (s *syncer) openReceive(ctx context.Context) (receiver, plumbing.Hash, error) {
	if s.local != nil && s.local.push {
		return s.openLocalReceive()
	}
	sess, err := s.cl.NewReceivePackSession(s.ep, s.auth)
	if err != nil {
		return nil, plumbing.ZeroHash, fmt.Errorf("push to %s: %w", s.res.Remote, err)
	}
	adv, err := sess.AdvertisedReferencesContext(ctx)
	if err != nil {
		sess.Close()
		return nil, plumbing.ZeroHash, fmt.Errorf("push to %s: %w", s.res.Remote, err)
	}
	tip := adv.References[s.branch.String()]
	return &gitReceiver{s: s, sess: sess, adv: adv, old: tip}, tip, nil
}

// updateTracking records the remote tip under refs/remotes/NAME/BRANCH,
// best effort: it is a convenience for people running git, not state vios
// relies on.
func (s *syncer) updateTracking(tip plumbing.Hash) {
	if s.track == "" || tip.IsZero() {
		return
	}
	cur, err := s.r.Ref(s.track)
	if err != nil || cur == tip {
		return
	}
	s.r.UpdateRef(s.track, cur, tip)
}

// setAsideErr reports commits kept out of the push as a governance fault.
func (s *syncer) setAsideErr() error {
	if len(s.res.SetAside) == 0 {
		return nil
	}
	var parts []string
	for _, a := range s.res.SetAside {
		parts = append(parts, a.Commit[:12]+" ("+a.Reason+") kept as "+a.Ref)
	}
	return fault.Governance(fmt.Errorf("%w: %s", ErrSetAside, strings.Join(parts, "; ")))
}
