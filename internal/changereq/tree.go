package changereq

import (
	"errors"
	"fmt"
	"sort"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/vision-ios/vios/internal/fault"
	"github.com/vision-ios/vios/internal/layout"
	"github.com/vision-ios/vios/internal/ledger"
)

// Change kinds of a changed path.
const (
	Added    = "added"
	Modified = "modified"
	Deleted  = "deleted"
)

// Change is one path a pull request changes.
type Change struct {
	Path string `json:"path"`
	Kind string `json:"kind"`
}

// Diff lists the files that differ between two commits' trees, sorted by
// path. Subtrees with equal hashes are skipped without being read.
func Diff(r *ledger.Repo, from, to plumbing.Hash) ([]Change, error) {
	var a, b plumbing.Hash
	if !from.IsZero() {
		c, err := r.Commit(from)
		if err != nil {
			return nil, fmt.Errorf("diff: read %s: %w", from, err)
		}
		a = c.TreeHash
	}
	c, err := r.Commit(to)
	if err != nil {
		return nil, fmt.Errorf("diff: read %s: %w", to, err)
	}
	b = c.TreeHash
	var out []Change
	if err := diffTrees(r, a, b, "", &out); err != nil {
		return nil, fmt.Errorf("diff: %w", err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

func treeEntries(r *ledger.Repo, h plumbing.Hash) (map[string]object.TreeEntry, error) {
	m := map[string]object.TreeEntry{}
	if h.IsZero() {
		return m, nil
	}
	t, err := object.GetTree(r.Objects(), h)
	if err != nil {
		return nil, err
	}
	for _, e := range t.Entries {
		m[e.Name] = e
	}
	return m, nil
}

func diffTrees(r *ledger.Repo, a, b plumbing.Hash, prefix string, out *[]Change) error {
	if a == b {
		return nil
	}
	ea, err := treeEntries(r, a)
	if err != nil {
		return err
	}
	eb, err := treeEntries(r, b)
	if err != nil {
		return err
	}
	for name, x := range ea {
		p := prefix + name
		y, ok := eb[name]
		xd := x.Mode == filemode.Dir
		switch {
		case !ok:
			if err := side(r, x, p, Deleted, out); err != nil {
				return err
			}
		case xd && y.Mode == filemode.Dir:
			if err := diffTrees(r, x.Hash, y.Hash, p+"/", out); err != nil {
				return err
			}
		case xd != (y.Mode == filemode.Dir):
			if err := side(r, x, p, Deleted, out); err != nil {
				return err
			}
			if err := side(r, y, p, Added, out); err != nil {
				return err
			}
		case x.Hash != y.Hash || x.Mode != y.Mode:
			*out = append(*out, Change{Path: p, Kind: Modified})
		}
	}
	for name, y := range eb {
		if _, ok := ea[name]; !ok {
			if err := side(r, y, prefix+name, Added, out); err != nil {
				return err
			}
		}
	}
	return nil
}

// side records every file below an entry that exists on one side only.
func side(r *ledger.Repo, e object.TreeEntry, p, kind string, out *[]Change) error {
	if e.Mode != filemode.Dir {
		*out = append(*out, Change{Path: p, Kind: kind})
		return nil
	}
	if kind == Added {
		return diffTrees(r, plumbing.ZeroHash, e.Hash, p+"/", out)
	}
	return diffTrees(r, e.Hash, plumbing.ZeroHash, p+"/", out)
}

// MergeBase returns the best common ancestor of two commits.
func MergeBase(r *ledger.Repo, a, b plumbing.Hash) (plumbing.Hash, error) {
	ca, err := r.Commit(a)
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("merge base: read %s: %w", a, err)
	}
	cb, err := r.Commit(b)
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("merge base: read %s: %w", b, err)
	}
	bases, err := ca.MergeBase(cb)
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("merge base of %s and %s: %w", short(a), short(b), err)
	}
	if len(bases) == 0 {
		return plumbing.ZeroHash, fault.Inputf("%s and %s share no history (a shallow clone? fetch with full depth)", short(a), short(b))
	}
	return bases[0].Hash, nil
}

func short(h plumbing.Hash) string { return h.String()[:12] }

// Resolve resolves a revision (branch, tag, commit id) of the repository.
func Resolve(r *ledger.Repo, rev string) (plumbing.Hash, error) {
	if rev == "" {
		return plumbing.ZeroHash, fault.Inputf("empty revision")
	}
	if plumbing.IsHash(rev) {
		h := plumbing.NewHash(rev)
		if _, err := r.Commit(h); err != nil {
			return plumbing.ZeroHash, fault.Inputf("commit %s is not in the local repository (fetch it, with full history)", rev)
		}
		return h, nil
	}
	h, err := r.Git.ResolveRevision(plumbing.Revision(rev))
	if err != nil {
		return plumbing.ZeroHash, fault.Inputf("revision %q does not resolve: %v", rev, err)
	}
	if _, err := r.Commit(*h); err != nil {
		return plumbing.ZeroHash, fault.Inputf("revision %q is not a commit: %v", rev, err)
	}
	return *h, nil
}

// crEntries lists the CHANGE_REQUESTS directory of a tree (nil when absent).
func crEntries(r *ledger.Repo, tree plumbing.Hash) ([]object.TreeEntry, error) {
	h, err := r.Lookup(tree, layout.ChangeRequests)
	if errors.Is(err, ledger.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	t, err := object.GetTree(r.Objects(), h)
	if err != nil {
		return nil, err
	}
	return t.Entries, nil
}

// ContentTree is the tree a sign-off binds to: tree with every approval and
// recommendation record under CHANGE_REQUESTS/ left out, so a record can be
// committed on top of what it approves and any other change to the tree
// makes it stale. Nothing is written; the hashes are computed in memory.
func ContentTree(r *ledger.Repo, tree plumbing.Hash) (plumbing.Hash, error) {
	entries, err := crEntries(r, tree)
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("content tree: %w", err)
	}
	var kept []object.TreeEntry
	for _, e := range entries {
		if f, ok := parseCRPath(layout.ChangeRequests + "/" + e.Name); ok && !f.Doc && e.Mode != filemode.Dir {
			continue
		}
		kept = append(kept, e)
	}
	if len(kept) == len(entries) {
		return tree, nil
	}
	// Rebuild CHANGE_REQUESTS, then each parent up to the root.
	h, empty := hashTree(kept), len(kept) == 0
	segs := []string{layout.Governance, "CHANGE_REQUESTS"}
	trees := []plumbing.Hash{tree}
	for i := range segs[:len(segs)-1] {
		sub, err := r.Lookup(trees[i], segs[i])
		if err != nil {
			return plumbing.ZeroHash, fmt.Errorf("content tree: %w", err)
		}
		trees = append(trees, sub)
	}
	for i := len(segs) - 1; i >= 0; i-- {
		t, err := object.GetTree(r.Objects(), trees[i])
		if err != nil {
			return plumbing.ZeroHash, fmt.Errorf("content tree: %w", err)
		}
		var es []object.TreeEntry
		for _, e := range t.Entries {
			if e.Name == segs[i] {
				if empty {
					continue
				}
				e.Hash = h
			}
			es = append(es, e)
		}
		h, empty = hashTree(es), len(es) == 0
	}
	return h, nil
}

// hashTree computes a tree object's id from entries in git order.
func hashTree(entries []object.TreeEntry) plumbing.Hash {
	obj := &plumbing.MemoryObject{}
	_ = (&object.Tree{Entries: entries}).Encode(obj) // a memory object cannot fail to encode
	return obj.Hash()
}
