package ledger

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/format/index"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/vision-ios/vios/internal/layout"
)

// This file holds what sharing a repository with a remote needs beyond
// committing: references other than HEAD's branch, objects that arrive from
// elsewhere, the objects a commit introduces, and moving the branch to a
// commit that was not made here (a fetched tip) with the worktree in step.

// Has reports whether the object store holds h.
func (r *Repo) Has(h plumbing.Hash) bool {
	return r.Objects().HasEncodedObject(h) == nil
}

// Ref returns the commit a reference points to, or the zero hash when the
// reference does not exist.
func (r *Repo) Ref(name plumbing.ReferenceName) (plumbing.Hash, error) {
	ref, err := r.storage.Reference(name)
	if errors.Is(err, plumbing.ErrReferenceNotFound) {
		return plumbing.ZeroHash, nil
	}
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("read %s: %w", name, err)
	}
	if ref.Type() != plumbing.HashReference {
		return plumbing.ZeroHash, fmt.Errorf("read %s: a symbolic reference", name)
	}
	return ref.Hash(), nil
}

// UpdateRef moves reference name from old to new (the zero hash: create or
// delete) the way git does: a lock file created exclusively, the current
// value checked against old, the new value renamed into place. A reference
// that is not at old fails with ErrMoved; a crash leaves the old value.
func (r *Repo) UpdateRef(name plumbing.ReferenceName, old, new plumbing.Hash) error {
	if !strings.HasPrefix(name.String(), "refs/") || layout.SafeRelPath(name.String()) != nil {
		return fmt.Errorf("update ref %q: not a safe refs/ name", name)
	}
	return r.lockedRefWrite(name, new, func() (bool, error) {
		cur, err := r.Ref(name)
		if err != nil {
			return false, err
		}
		if cur != old {
			return false, fmt.Errorf("%w: %s is at %s, expected %s", ErrMoved, name, short(cur), short(old))
		}
		return !(new.IsZero() && cur.IsZero()), nil // deleting an absent ref is done
	})
}

// WriteObjects stores objects that came from elsewhere (a fetch) as one
// pack, written and merged like the packs of commits made here.
func (r *Repo) WriteObjects(objs []plumbing.EncodedObject) error {
	p := newPending()
	for _, o := range objs {
		mo, ok := o.(*plumbing.MemoryObject)
		if !ok {
			// A copy whose hash is computed from the content: objects
			// from elsewhere are checked, not taken at their word.
			var data []byte
			if ro, isRead := o.(*readObject); isRead {
				data = ro.data
			} else {
				var err error
				if data, err = readAll(o); err != nil {
					return fmt.Errorf("write objects: %w", err)
				}
			}
			mo = &plumbing.MemoryObject{}
			mo.SetType(o.Type())
			mo.Write(data)
		}
		p.add(mo)
	}
	if err := r.writePack(p); err != nil {
		return err
	}
	r.refresh()
	return r.maintain()
}

// ObjectsOf returns, each once, the objects the commits introduce over
// their first parents (see CommitObjects), commit by commit: what a push of
// them must send.
func (r *Repo) ObjectsOf(commits []*object.Commit) ([]plumbing.Hash, error) {
	seen := map[plumbing.Hash]bool{}
	var out []plumbing.Hash
	for _, c := range commits {
		hs, err := r.CommitObjects(c, seen)
		if err != nil {
			return nil, err
		}
		out = append(out, hs...)
	}
	return out, nil
}

// CommitObjects returns the objects commit c introduces over its first
// parent: the commit itself and every tree and blob of its tree that the
// parent's tree does not hold at the same place, skipping those in seen
// (which it extends). Only changed subtrees are read, so the cost follows
// the size of the change, not of the history.
func (r *Repo) CommitObjects(c *object.Commit, seen map[plumbing.Hash]bool) ([]plumbing.Hash, error) {
	h := c.Hash
	var parentTree plumbing.Hash
	if len(c.ParentHashes) > 0 {
		p, err := r.Commit(c.ParentHashes[0])
		if err != nil {
			return nil, fmt.Errorf("read parent of %s: %w", short(h), err)
		}
		parentTree = p.TreeHash
	}
	var out []plumbing.Hash
	if !seen[h] {
		seen[h] = true
		out = append(out, h)
	}
	if err := r.treeObjects(c.TreeHash, parentTree, seen, &out); err != nil {
		return nil, err
	}
	return out, nil
}

func (r *Repo) treeObjects(t, old plumbing.Hash, seen map[plumbing.Hash]bool, out *[]plumbing.Hash) error {
	if t == old || seen[t] {
		return nil
	}
	seen[t] = true
	*out = append(*out, t)
	entries, err := r.ReadTree(t)
	if err != nil {
		return fmt.Errorf("read tree %s: %w", short(t), err)
	}
	prev, err := r.treeEntries(old)
	if err != nil {
		return err
	}
	for _, e := range entries {
		o, had := prev[e.Name]
		if had && o.Hash == e.Hash {
			continue
		}
		switch e.Mode {
		case filemode.Dir:
			var sub plumbing.Hash
			if had && o.Mode == filemode.Dir {
				sub = o.Hash
			}
			if err := r.treeObjects(e.Hash, sub, seen, out); err != nil {
				return err
			}
		case filemode.Submodule:
		default:
			if !seen[e.Hash] {
				seen[e.Hash] = true
				*out = append(*out, e.Hash)
			}
		}
	}
	return nil
}

// PackObjects encodes the objects as a packfile (whole objects, no deltas),
// the form a remote's receive-pack accepts.
func (r *Repo) PackObjects(hashes []plumbing.Hash) ([]byte, error) {
	lv, err := r.compression()
	if err != nil {
		return nil, err
	}
	b := newPackBuilder(len(hashes), lv)
	for _, h := range hashes {
		o, err := r.Objects().EncodedObject(plumbing.AnyObject, h)
		if err != nil {
			return nil, fmt.Errorf("pack %s: %w", short(h), err)
		}
		if err := b.addObject(o); err != nil {
			return nil, fmt.Errorf("pack %s: %w", short(h), err)
		}
	}
	pack, _, _ := b.finish()
	return pack, nil
}

// FileChange is one file that differs between two trees; From or To is the
// zero hash when the file is absent on that side.
type FileChange struct {
	Path     string
	From, To plumbing.Hash
}

// DiffTrees lists the files that differ between trees from and to (either
// may be zero: the empty tree), reading only subtrees that differ.
func (r *Repo) DiffTrees(from, to plumbing.Hash) ([]FileChange, error) {
	var out []FileChange
	if err := r.diffTrees(from, to, "", &out); err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

func (r *Repo) treeEntries(t plumbing.Hash) (map[string]object.TreeEntry, error) {
	m := map[string]object.TreeEntry{}
	if t.IsZero() {
		return m, nil
	}
	entries, err := r.ReadTree(t)
	if err != nil {
		return nil, fmt.Errorf("read tree %s: %w", short(t), err)
	}
	for _, e := range entries {
		m[e.Name] = e
	}
	return m, nil
}

func (r *Repo) diffTrees(from, to plumbing.Hash, prefix string, out *[]FileChange) error {
	if from == to {
		return nil
	}
	a, err := r.treeEntries(from)
	if err != nil {
		return err
	}
	b, err := r.treeEntries(to)
	if err != nil {
		return err
	}
	names := map[string]bool{}
	for n := range a {
		names[n] = true
	}
	for n := range b {
		names[n] = true
	}
	for n := range names {
		ea, inA := a[n]
		eb, inB := b[n]
		if inA && inB && ea.Hash == eb.Hash && ea.Mode == eb.Mode {
			continue
		}
		var subA, subB, blobA, blobB plumbing.Hash
		if inA {
			if ea.Mode == filemode.Dir {
				subA = ea.Hash
			} else if ea.Mode != filemode.Submodule {
				blobA = ea.Hash
			}
		}
		if inB {
			if eb.Mode == filemode.Dir {
				subB = eb.Hash
			} else if eb.Mode != filemode.Submodule {
				blobB = eb.Hash
			}
		}
		p := prefix + n
		if blobA != blobB {
			*out = append(*out, FileChange{Path: p, From: blobA, To: blobB})
		}
		if subA != subB {
			if err := r.diffTrees(subA, subB, p+"/", out); err != nil {
				return err
			}
		}
	}
	return nil
}

// Reset moves HEAD's branch from old to new, a commit already in the
// object store (a fetched remote tip, say), and brings the worktree and its
// index in line by writing or removing only the files that differ. The
// branch moves first and atomically; a crash before the worktree is done
// leaves it behind the branch, never the branch corrupt.
func (r *Repo) Reset(ctx context.Context, old, new plumbing.Hash) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	br, err := r.Branch()
	if err != nil {
		return err
	}
	nc, err := r.Commit(new)
	if err != nil {
		return fmt.Errorf("reset to %s: %w", short(new), err)
	}
	var oldTree plumbing.Hash
	if !old.IsZero() {
		oc, err := r.Commit(old)
		if err != nil {
			return fmt.Errorf("reset from %s: %w", short(old), err)
		}
		oldTree = oc.TreeHash
	}
	if err := r.UpdateRef(br, old, new); err != nil {
		return err
	}
	if r.root == "" {
		return nil
	}
	changes, err := r.DiffTrees(oldTree, nc.TreeHash)
	if err != nil {
		return fmt.Errorf("branch moved to %s; updating the worktree failed: %w", short(new), err)
	}
	if err := r.syncChanges(changes); err != nil {
		return fmt.Errorf("branch moved to %s; updating the worktree failed: %w", short(new), err)
	}
	return nil
}

// syncChanges applies tree differences to the worktree and the index.
func (r *Repo) syncChanges(changes []FileChange) error {
	if len(changes) == 0 {
		return r.markSynced()
	}
	idx, err := r.storage.Index()
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			return err
		}
		idx = &index.Index{Version: 2}
	}
	pos := make(map[string]int, len(idx.Entries))
	for i, e := range idx.Entries {
		pos[e.Name] = i
	}
	removed := map[string]bool{}
	for _, ch := range changes {
		p := filepath.Join(r.root, filepath.FromSlash(ch.Path))
		if ch.To.IsZero() {
			if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
			pruneEmptyDirs(r.root, filepath.Dir(p))
			removed[ch.Path] = true
			continue
		}
		data, err := r.ReadBlob(ch.To)
		if err != nil {
			return fmt.Errorf("%s: %w", ch.Path, err)
		}
		if err := writeFileAtomic(p, data, 0o644); err != nil {
			return err
		}
		fi, err := os.Stat(p)
		if err != nil {
			return err
		}
		e := &index.Entry{Name: ch.Path, Hash: ch.To, Mode: filemode.Regular, Size: uint32(fi.Size()), ModifiedAt: fi.ModTime(), CreatedAt: fi.ModTime()}
		fillStat(e, fi)
		if i, ok := pos[ch.Path]; ok {
			idx.Entries[i] = e
		} else {
			pos[ch.Path] = len(idx.Entries)
			idx.Entries = append(idx.Entries, e)
		}
	}
	kept := idx.Entries[:0]
	for _, e := range idx.Entries {
		if !removed[e.Name] {
			kept = append(kept, e)
		}
	}
	idx.Entries = kept
	sort.Slice(idx.Entries, func(i, j int) bool { return idx.Entries[i].Name < idx.Entries[j].Name })
	return r.writeIndex(idx)
}

// pruneEmptyDirs removes dir and its parents up to root while they are empty.
func pruneEmptyDirs(root, dir string) {
	for dir != root && strings.HasPrefix(dir, root) {
		if os.Remove(dir) != nil {
			return
		}
		dir = filepath.Dir(dir)
	}
}

// writeIndex replaces the index through a temporary file and a rename, so a
// crash leaves the old or the new index, never a truncated one (go-git's
// own SetIndex truncates the file in place). It then records the commit
// the worktree and index now reflect (see repairWorktree).
func (r *Repo) writeIndex(idx *index.Index) error {
	var b bytes.Buffer
	if err := index.NewEncoder(&b).Encode(idx); err != nil {
		return fmt.Errorf("encode index: %w", err)
	}
	if err := writeFileAtomic(filepath.Join(r.gitDir, "index"), b.Bytes(), 0o644); err != nil {
		return err
	}
	return r.markSynced()
}

// syncedFile records the commit the worktree and index were last brought
// in line with.
const syncedFile = "vios-worktree"

// markSynced records HEAD as the commit the worktree reflects. The file is
// a hint, written in place: a torn one only costs a repair scan.
func (r *Repo) markSynced() error {
	h, err := r.Head()
	if err != nil {
		return nil
	}
	return os.WriteFile(filepath.Join(r.gitDir, syncedFile), []byte(h.String()+"\n"), 0o644)
}
