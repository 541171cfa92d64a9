package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp/capability"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp/sideband"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/storage/memory"

	"github.com/vision-ios/vios/internal/fault"
)

// maxHaves bounds the local commits offered to the remote when fetching.
const maxHaves = 64

// fetch asks the remote for its tip and, when the local store lacks it,
// downloads the missing objects and stores them as one pack. It returns
// the tip (zero when the remote has no such branch).
func (s *syncer) fetch(ctx context.Context) (plumbing.Hash, error) {
	return s.fetchTip(ctx, plumbing.ZeroHash)
}

// uploadCaps holds the upload-pack capabilities each HTTP remote
// advertised, by URL, so that fetching a tip already known (from a
// receive-pack advertisement) can skip asking for the advertisement again.
var uploadCaps sync.Map

// fetchTip is fetch when the remote tip is known to be want (zero: not
// known). Over HTTP, with the remote's capabilities seen before, it asks
// for want directly instead of for the advertisement first.
func (s *syncer) fetchTip(ctx context.Context, want plumbing.Hash) (plumbing.Hash, error) {
	if s.local != nil {
		return s.fetchLocal()
	}
	if !want.IsZero() && s.r.Has(want) {
		return want, nil
	}
	sess, err := s.cl.NewUploadPackSession(s.ep, s.auth)
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("fetch from %s: %w", s.res.Remote, err)
	}
	defer sess.Close()
	tip := want
	caps, _ := uploadCaps.Load(s.ep.String())
	if tip.IsZero() || caps == nil || s.ep.Protocol == "file" {
		adv, err := sess.AdvertisedReferencesContext(ctx)
		if errors.Is(err, transport.ErrEmptyRemoteRepository) {
			return plumbing.ZeroHash, nil
		}
		if err != nil {
			return plumbing.ZeroHash, fmt.Errorf("fetch from %s: %w", s.res.Remote, err)
		}
		caps = adv.Capabilities
		if s.ep.Protocol != "file" {
			uploadCaps.Store(s.ep.String(), adv.Capabilities)
		}
		tip = adv.References[s.branch.String()]
		if tip.IsZero() || s.r.Has(tip) {
			return tip, nil
		}
	}
	adv := caps.(*capability.List)
	req := packp.NewUploadPackRequestFromCapabilities(adv)
	// A thin pack may hold deltas against objects only we have; ask for
	// whole objects so the pack parses on its own.
	req.Capabilities.Delete(capability.ThinPack)
	if adv.Supports(capability.NoProgress) {
		req.Capabilities.Set(capability.NoProgress)
	}
	req.Wants = []plumbing.Hash{tip}
	if req.Haves, err = s.haves(); err != nil {
		return plumbing.ZeroHash, err
	}
	resp, err := sess.UploadPack(ctx, req)
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("fetch from %s: %w", s.res.Remote, err)
	}
	defer resp.Close()
	var rd io.Reader = resp
	switch {
	case req.Capabilities.Supports(capability.Sideband64k):
		rd = sideband.NewDemuxer(sideband.Sideband64k, resp)
	case req.Capabilities.Supports(capability.Sideband):
		rd = sideband.NewDemuxer(sideband.Sideband, resp)
	}
	mem := memory.NewStorage()
	if err := packfile.UpdateObjectStorage(mem, rd); err != nil {
		return plumbing.ZeroHash, fmt.Errorf("fetch from %s: read pack: %w", s.res.Remote, err)
	}
	objs := make([]plumbing.EncodedObject, 0, len(mem.Objects))
	for _, o := range mem.Objects {
		objs = append(objs, o)
	}
	if err := s.r.WriteObjects(objs); err != nil {
		return plumbing.ZeroHash, fmt.Errorf("fetch from %s: store objects: %w", s.res.Remote, err)
	}
	if !s.r.Has(tip) {
		return plumbing.ZeroHash, fmt.Errorf("fetch from %s: the remote did not send %s", s.res.Remote, short(tip))
	}
	return tip, nil
}

// haves lists local commits to offer: the tip's recent history and the
// last known remote tip.
func (s *syncer) haves() ([]plumbing.Hash, error) {
	var out []plumbing.Hash
	if s.track != "" {
		if t, err := s.r.Ref(s.track); err == nil && !t.IsZero() && s.r.Has(t) {
			out = append(out, t)
		}
	}
	h, err := s.head()
	if err != nil {
		return nil, err
	}
	for i := 0; i < maxHaves && !h.IsZero(); i++ {
		out = append(out, h)
		c, err := s.r.Commit(h)
		if err != nil {
			return nil, err
		}
		if len(c.ParentHashes) == 0 {
			break
		}
		h = c.ParentHashes[0]
	}
	return out, nil
}

// integrate brings the local branch onto tip, a commit in the local store:
// nothing when tip is already in the local history, a fast-forward when the
// local branch is behind, otherwise the local commits are re-created on tip.
func (s *syncer) integrate(ctx context.Context, tip plumbing.Hash) error {
	if tip.IsZero() {
		return nil
	}
	head, err := s.head()
	if err != nil {
		return err
	}
	if head.IsZero() {
		if err := s.r.Reset(ctx, head, tip); err != nil {
			return err
		}
		s.updateTracking(tip)
		return nil
	}
	base, err := s.mergeBase(head, tip)
	if err != nil {
		return err
	}
	switch base {
	case tip:
		return nil
	case head:
		behind, err := s.chain(head, tip)
		if err != nil {
			return err
		}
		if err := s.r.Reset(ctx, head, tip); err != nil {
			return err
		}
		s.res.FastForwarded += len(behind)
		s.updateTracking(tip)
		return nil
	}
	local, err := s.chain(base, head)
	if err != nil {
		return err
	}
	if err := s.r.UpdateRef(RebuildRef, plumbing.ZeroHash, head); err != nil {
		return fmt.Errorf("keep the local tip: %w", err)
	}
	if err := s.r.Reset(ctx, head, tip); err != nil {
		return err
	}
	s.updateTracking(tip)
	return s.replay(ctx, head, local)
}

// resumePending finishes a re-creation a killed process left half-done:
// the commits kept under RebuildRef that HEAD does not hold yet are
// replayed (re-creation is idempotent).
func (s *syncer) resumePending(ctx context.Context) error {
	pend, err := s.r.Ref(RebuildRef)
	if err != nil || pend.IsZero() {
		return err
	}
	head, err := s.head()
	if err != nil {
		return err
	}
	if head.IsZero() || !s.r.Has(pend) {
		return s.r.UpdateRef(RebuildRef, pend, plumbing.ZeroHash)
	}
	base, err := s.mergeBase(head, pend)
	if err != nil {
		return err
	}
	local, err := s.chain(base, pend)
	if err != nil {
		return err
	}
	return s.replay(ctx, pend, local)
}

// replay re-creates the local commits (oldest first) on HEAD, then drops
// RebuildRef (which holds pend, the old local tip). A commit whose
// Rebuilder declines with ErrSetAside is kept under SetAsidePrefix. On any
// other error the branch goes back to pend, so a failed push leaves the
// repository as it was.
func (s *syncer) replay(ctx context.Context, pend plumbing.Hash, local []*object.Commit) error {
	for _, c := range local {
		kind := trailer(c.Message, "Vios-Artifact")
		rb := s.opt.Rebuilders[kind]
		if rb == nil {
			rb = s.reapply
		}
		before, err := s.head()
		if err != nil {
			return s.restore(ctx, pend, err)
		}
		err = rb(ctx, s.r, c)
		if errors.Is(err, ErrSetAside) {
			ref := plumbing.ReferenceName(SetAsidePrefix + c.Hash.String())
			if cur, _ := s.r.Ref(ref); cur != c.Hash {
				if uerr := s.r.UpdateRef(ref, cur, c.Hash); uerr != nil {
					return s.restore(ctx, pend, fmt.Errorf("set aside %s: %w", short(c.Hash), uerr))
				}
			}
			s.res.SetAside = append(s.res.SetAside, SetAside{Commit: c.Hash.String(), Ref: ref.String(), Reason: err.Error()})
			continue
		}
		if err != nil {
			err = fmt.Errorf("re-create %s (%s) on the remote tip: %w", short(c.Hash), firstLine(c.Message), err)
			var ce *ConflictError
			if errors.As(err, &ce) {
				err = fault.Governance(err) // two versions of one artifact
			}
			return s.restore(ctx, pend, err)
		}
		after, err := s.head()
		if err != nil {
			return s.restore(ctx, pend, err)
		}
		if s.res.Recreated == nil {
			s.res.Recreated = map[string]string{}
		}
		s.res.Recreated[c.Hash.String()] = ""
		if after != before {
			s.res.Recreated[c.Hash.String()] = after.String()
		}
		s.res.Rebuilt++
	}
	return s.r.UpdateRef(RebuildRef, pend, plumbing.ZeroHash)
}

// restore moves the branch back to pend after a failed re-creation and
// returns err.
func (s *syncer) restore(ctx context.Context, pend plumbing.Hash, err error) error {
	head, herr := s.head()
	if herr != nil {
		return errors.Join(err, herr)
	}
	if head != pend {
		if rerr := s.r.Reset(context.WithoutCancel(ctx), head, pend); rerr != nil {
			return errors.Join(err, fmt.Errorf("restore the local branch (kept as %s): %w", RebuildRef, rerr))
		}
	}
	if derr := s.r.UpdateRef(RebuildRef, pend, plumbing.ZeroHash); derr != nil {
		return errors.Join(err, derr)
	}
	return err
}

// mergeBase finds the newest commit on both first-parent chains, walking
// them alternately so the cost follows the distance to it, not the length
// of history.
func (s *syncer) mergeBase(a, b plumbing.Hash) (plumbing.Hash, error) {
	if a == b {
		return a, nil
	}
	seenA := map[plumbing.Hash]bool{a: true}
	seenB := map[plumbing.Hash]bool{b: true}
	if seenA[b] {
		return b, nil
	}
	ca, cb := a, b
	for !ca.IsZero() || !cb.IsZero() {
		if !ca.IsZero() {
			next, err := s.parent(ca)
			if err != nil {
				return plumbing.ZeroHash, err
			}
			ca = next
			if !ca.IsZero() {
				if seenB[ca] {
					return ca, nil
				}
				seenA[ca] = true
			}
		}
		if !cb.IsZero() {
			next, err := s.parent(cb)
			if err != nil {
				return plumbing.ZeroHash, err
			}
			cb = next
			if !cb.IsZero() {
				if seenA[cb] {
					return cb, nil
				}
				seenB[cb] = true
			}
		}
		if seenB[a] {
			return a, nil
		}
		if seenA[b] {
			return b, nil
		}
	}
	return plumbing.ZeroHash, fmt.Errorf("%s and %s: %w", short(a), short(b), ErrUnrelated)
}

func (s *syncer) parent(h plumbing.Hash) (plumbing.Hash, error) {
	c, err := s.r.Commit(h)
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("read commit %s: %w", short(h), err)
	}
	if len(c.ParentHashes) == 0 {
		return plumbing.ZeroHash, nil
	}
	return c.ParentHashes[0], nil
}

// chain lists the commits after base up to and including tip along first
// parents, oldest first.
func (s *syncer) chain(base, tip plumbing.Hash) ([]*object.Commit, error) {
	var out []*object.Commit
	for h := tip; h != base; {
		if h.IsZero() {
			return nil, fmt.Errorf("%s is not an ancestor of %s", short(base), short(tip))
		}
		c, err := s.r.Commit(h)
		if err != nil {
			return nil, fmt.Errorf("read commit %s: %w", short(h), err)
		}
		if len(c.ParentHashes) > 1 {
			return nil, fmt.Errorf("commit %s is a merge; governance history is linear", short(h))
		}
		out = append(out, c)
		h = plumbing.ZeroHash
		if len(c.ParentHashes) == 1 {
			h = c.ParentHashes[0]
		}
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, nil
}
