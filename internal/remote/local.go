package remote

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/vision-ios/vios/internal/ledger"
)

// A file:// remote is read and written in-process, the way git's own
// receive-pack and upload-pack would, instead of by running them: a fetch
// reads the branch and copies the objects of the commits the local store
// lacks; a push, holding the remote's vios lock, writes the new commits'
// objects as one pack and then moves the branch with git's lock-file
// compare-and-swap, so a git receive-pack pushing at the same moment is
// safe too. That makes a push cost a few milliseconds instead of four git
// processes (receive-pack, unpack-objects, a rev-list connectivity check
// and for-each-ref), which is what lets eight writers share one remote.
//
// A push goes through git-receive-pack after all when the remote could
// want what only it does: a repository that is not bare, receive hooks,
// core.hooksPath, object checking on receive (receive.fsckObjects,
// transfer.fsckObjects) or group-shared permissions (core.sharedRepository).
// A remote go-git cannot open is spoken to with git's programs throughout.

// localRemote is a file:// remote opened in-process.
type localRemote struct {
	r *ledger.Repo
	// push: pushes are written directly (else: git-receive-pack).
	push bool
	// why names what sends pushes through git-receive-pack.
	why string
}

// receiveHooks are the hooks git-receive-pack runs.
var receiveHooks = []string{"pre-receive", "update", "post-receive", "post-update", "reference-transaction", "proc-receive", "push-to-checkout"}

// openLocal opens the repository a file:// endpoint names, or returns nil
// when go-git cannot open it (git's programs then do the work).
func openLocal(path string) *localRemote {
	r, err := ledger.Open(path)
	if err != nil {
		return nil
	}
	l := &localRemote{r: r}
	l.why = l.needsReceivePack()
	l.push = l.why == ""
	return l
}

// needsReceivePack names what makes a push want git-receive-pack, or "".
func (l *localRemote) needsReceivePack() string {
	if l.r.Root() != "" {
		return "not a bare repository"
	}
	cfg, err := l.r.Git.Config()
	if err != nil {
		return "unreadable config"
	}
	raw := cfg.Raw
	if raw.Section("core").Option("hooksPath") != "" {
		return "core.hooksPath is set"
	}
	if raw.Section("core").Option("sharedRepository") != "" {
		return "core.sharedRepository is set"
	}
	for _, o := range []struct{ sec, key string }{{"receive", "fsckObjects"}, {"transfer", "fsckObjects"}} {
		if v := strings.ToLower(raw.Section(o.sec).Option(o.key)); v != "" && v != "false" && v != "no" && v != "off" && v != "0" {
			return o.sec + "." + o.key + " is set"
		}
	}
	for _, h := range receiveHooks {
		fi, err := os.Stat(filepath.Join(l.r.GitDir(), "hooks", h))
		if err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return "hook " + h
		}
	}
	return ""
}

func (l *localRemote) close() {
	if l != nil {
		l.r.Close()
	}
}

// fetchLocal reads the remote branch and copies into the local store the
// objects of every remote commit it lacks, walking back from the tip to
// commits it has. It returns the tip (zero when the remote has no such
// branch).
func (s *syncer) fetchLocal() (plumbing.Hash, error) {
	src := s.local.r
	tip, err := src.Ref(s.branch)
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("fetch from %s: %w", s.res.Remote, err)
	}
	if tip.IsZero() || s.r.Has(tip) {
		return tip, nil
	}
	seen := map[plumbing.Hash]bool{}
	var hashes []plumbing.Hash
	queue := []plumbing.Hash{tip}
	visited := map[plumbing.Hash]bool{tip: true}
	for len(queue) > 0 {
		h := queue[0]
		queue = queue[1:]
		c, err := src.Commit(h)
		if err != nil {
			return plumbing.ZeroHash, fmt.Errorf("fetch from %s: read commit %s: %w", s.res.Remote, short(h), err)
		}
		more, err := src.CommitObjects(c, seen)
		if err != nil {
			return plumbing.ZeroHash, fmt.Errorf("fetch from %s: %w", s.res.Remote, err)
		}
		hashes = append(hashes, more...)
		// CommitObjects holds what h adds over its first parent; the
		// other parents of a merge bring theirs when walked.
		for _, p := range c.ParentHashes {
			if !visited[p] && !s.r.Has(p) {
				visited[p] = true
				queue = append(queue, p)
			}
		}
	}
	objs := make([]plumbing.EncodedObject, 0, len(hashes))
	for _, h := range hashes {
		o, err := src.Objects().EncodedObject(plumbing.AnyObject, h)
		if err != nil {
			return plumbing.ZeroHash, fmt.Errorf("fetch from %s: read %s: %w", s.res.Remote, short(h), err)
		}
		objs = append(objs, o)
	}
	if err := s.r.WriteObjects(objs); err != nil {
		return plumbing.ZeroHash, fmt.Errorf("fetch from %s: store objects: %w", s.res.Remote, err)
	}
	return tip, nil
}

// localReceiver pushes to a localRemote.
type localReceiver struct {
	s   *syncer
	old plumbing.Hash
}

func (s *syncer) openLocalReceive() (receiver, plumbing.Hash, error) {
	tip, err := s.local.r.Ref(s.branch)
	if err != nil {
		return nil, plumbing.ZeroHash, fmt.Errorf("push to %s: %w", s.res.Remote, err)
	}
	return &localReceiver{s: s, old: tip}, tip, nil
}

func (lr *localReceiver) close() {}

// send writes the commits' objects into the remote and moves its branch
// from lr.old to the last commit, holding the remote's vios lock so that
// vios writers queue instead of racing. A branch that moved meanwhile (a
// git push) refuses the update like receive-pack would.
func (lr *localReceiver) send(ctx context.Context, commits []*object.Commit) (*rejection, error) {
	s := lr.s
	dst := s.local.r
	unlock, err := dst.Lock(ctx)
	if err != nil {
		return nil, fmt.Errorf("push to %s: %w", s.res.Remote, err)
	}
	defer unlock()
	cur, err := dst.Ref(s.branch)
	if err != nil {
		return nil, fmt.Errorf("push to %s: %w", s.res.Remote, err)
	}
	if cur != lr.old {
		return &rejection{msg: "the remote moved to " + short(cur), sent: true, old: lr.old}, nil
	}
	hs, err := s.r.ObjectsOf(commits)
	if err != nil {
		return nil, err
	}
	objs := make([]plumbing.EncodedObject, 0, len(hs))
	for _, h := range hs {
		o, err := s.r.Objects().EncodedObject(plumbing.AnyObject, h)
		if err != nil {
			return nil, fmt.Errorf("push to %s: read %s: %w", s.res.Remote, short(h), err)
		}
		objs = append(objs, o)
	}
	if err := dst.WriteObjects(objs); err != nil {
		return nil, fmt.Errorf("push to %s: write objects: %w", s.res.Remote, err)
	}
	head := commits[len(commits)-1].Hash
	if err := dst.UpdateRef(s.branch, lr.old, head); err != nil {
		if errors.Is(err, ledger.ErrMoved) {
			return &rejection{msg: err.Error(), sent: true, old: lr.old}, nil
		}
		return nil, fmt.Errorf("push to %s: %w", s.res.Remote, err)
	}
	return nil, nil
}
