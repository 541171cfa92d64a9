package freeze

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/vision-ios/vios/internal/ledger"
)

// Change is the kind of change a path underwent.
type Change string

// The change kinds of a violation.
const (
	Added    Change = "added"
	Modified Change = "modified"
	Deleted  Change = "deleted"
)

// fileChange is one changed file between two trees.
type fileChange struct {
	path     string
	kind     Change
	old, new plumbing.Hash
}

// view reads the objects of one repository through an odb, caching the
// decoded trees that path lookups and walks read (the differ compares
// trees in place instead). Checks read trees and commits, and blobs only
// of the few files they parse (manifests, change requests, the registry).
type view struct {
	r     *ledger.Repo
	trees map[plumbing.Hash][]object.TreeEntry
}

func newView(r *ledger.Repo) *view {
	return &view{r: r, trees: map[plumbing.Hash][]object.TreeEntry{}}
}

// entries returns a tree's entries in git order.
func (v *view) entries(h plumbing.Hash) ([]object.TreeEntry, error) {
	if e, ok := v.trees[h]; ok {
		return e, nil
	}
	data, err := v.r.ReadTyped(h, plumbing.TreeObject, nil)
	if err != nil {
		return nil, fmt.Errorf("read tree %s: %w", h.String()[:12], err)
	}
	es, err := ledger.ParseTree(data)
	if err != nil {
		return nil, fmt.Errorf("read tree %s: %w", h.String()[:12], err)
	}
	v.trees[h] = es
	return es, nil
}

// blob returns a blob's content.
func (v *view) blob(h plumbing.Hash) ([]byte, error) {
	return v.r.ReadTyped(h, plumbing.BlobObject, nil)
}

// commit reads the tree and parents of commit h from its header, leaving
// the rest (signatures, message) undecoded; plumbing.ErrObjectNotFound when
// it is not in the repository.
func (v *view) commit(h plumbing.Hash) (*ledger.CommitHeader, error) {
	t, data, err := v.r.ReadObject(h, nil)
	if err != nil {
		return nil, err
	}
	if t != plumbing.CommitObject {
		return nil, fmt.Errorf("%s is a %s, not a commit", h, t)
	}
	c, err := ledger.ParseCommitHeader(data)
	if err != nil {
		return nil, fmt.Errorf("commit %s: %w", h, err)
	}
	return c, nil
}

// lookup resolves a file path below tree t; ok is false when there is no
// file at that path.
func (v *view) lookup(t plumbing.Hash, p string) (plumbing.Hash, bool, error) {
	cur := t
	for {
		seg, rest, more := strings.Cut(p, "/")
		es, err := v.entries(cur)
		if err != nil {
			return plumbing.ZeroHash, false, err
		}
		e, found := find(es, seg)
		if !found {
			return plumbing.ZeroHash, false, nil
		}
		isDir := e.Mode == filemode.Dir
		if !more {
			if isDir || e.Mode == filemode.Submodule {
				return plumbing.ZeroHash, false, nil
			}
			return e.Hash, true, nil
		}
		if !isDir {
			return plumbing.ZeroHash, false, nil
		}
		cur, p = e.Hash, rest
	}
}

func find(es []object.TreeEntry, name string) (object.TreeEntry, bool) {
	for _, e := range es {
		if e.Name == name {
			return e, true
		}
	}
	return object.TreeEntry{}, false
}

// differ lists the file changes between two trees, descending only into
// subtrees whose hashes differ and that keep accepts, so the cost follows
// the change, not the size of the tree. New subtrees are listed only where
// keepAdded accepts them. Trees are compared in place, as stored, in three
// buffers per depth that every diff reuses: a check allocates for the
// changes it finds, not for the trees it reads.
type differ struct {
	v         *view
	keep      func(dir string) bool
	keepAdded func(dir string) bool
	bufs      [][3]treeBuf // by depth: the old side, the new side, the old side before
}

// treeBuf holds the raw tree h (zero when it holds none).
type treeBuf struct {
	h    plumbing.Hash
	data []byte
}

// tree reads tree h into the buffer of side (0 old, 1 new) at depth. The
// old side is read first, when nothing at that depth is in use, and the
// old tree it replaces is kept: a walk from head back through history
// diffs each tree first as the old side (the parent), then as the new one.
func (d *differ) tree(h plumbing.Hash, depth, side int) ([]byte, error) {
	for len(d.bufs) <= depth {
		d.bufs = append(d.bufs, [3]treeBuf{})
	}
	b := &d.bufs[depth]
	if !h.IsZero() { // an empty buffer holds no tree, not the zero one
		switch h {
		case b[side].h:
			return b[side].data, nil
		case b[2].h:
			b[side], b[2] = b[2], b[side]
			return b[side].data, nil
		}
	}
	if side == 0 {
		b[0], b[2] = b[2], b[0]
	}
	b[side].h = plumbing.ZeroHash
	data, err := d.v.r.ReadTyped(h, plumbing.TreeObject, b[side].data)
	if err != nil {
		b[side].data = data // nil after a failed read: the reader may have kept the buffer
		return nil, fmt.Errorf("read tree %s: %w", h.String()[:12], err)
	}
	b[side] = treeBuf{h, data}
	return data, nil
}

func (d *differ) diff(from, to plumbing.Hash, dir string, out *[]fileChange) error {
	return d.diffAt(from, to, dir, 0, out)
}

func (d *differ) diffAt(from, to plumbing.Hash, dir string, depth int, out *[]fileChange) error {
	if from == to {
		return nil
	}
	var a, b []byte
	var err error
	if !from.IsZero() {
		if a, err = d.tree(from, depth, 0); err != nil {
			return err
		}
	}
	if !to.IsZero() {
		if b, err = d.tree(to, depth, 1); err != nil {
			return err
		}
	}
	// Both trees are in git order, so one merge pass pairs the entries up;
	// a file and a directory of the same name sort apart and come out as a
	// deletion and an addition.
	var ea, eb ledger.RawTreeEntry
	var restA, restB []byte
	haveA, haveB := false, false
	next := func(data []byte, e *ledger.RawTreeEntry, rest *[]byte, have *bool) error {
		if len(data) == 0 {
			*have = false
			return nil
		}
		var err error
		*e, *rest, err = ledger.NextTreeEntry(data)
		if err != nil {
			return fmt.Errorf("read tree: %w", err)
		}
		*have = true
		return nil
	}
	if err := next(a, &ea, &restA, &haveA); err != nil {
		return err
	}
	if err := next(b, &eb, &restB, &haveB); err != nil {
		return err
	}
	for haveA || haveB {
		var cmp int
		switch {
		case !haveA:
			cmp = 1
		case !haveB:
			cmp = -1
		default:
			cmp = ledger.TreeOrder(ea.Name, ea.IsDir(), eb.Name, eb.IsDir())
		}
		switch {
		case cmp < 0:
			if err := d.all(&ea, join(dir, string(ea.Name)), Deleted, depth+1, out); err != nil {
				return err
			}
			if err := next(restA, &ea, &restA, &haveA); err != nil {
				return err
			}
		case cmp > 0:
			if err := d.all(&eb, join(dir, string(eb.Name)), Added, depth+1, out); err != nil {
				return err
			}
			if err := next(restB, &eb, &restB, &haveB); err != nil {
				return err
			}
		default:
			if ea.Mode != eb.Mode || !bytes.Equal(ea.Hash, eb.Hash) {
				p := join(dir, string(eb.Name))
				if ea.IsDir() {
					if d.keep(p) {
						if err := d.diffAt(plumbing.Hash(ea.Hash), plumbing.Hash(eb.Hash), p, depth+1, out); err != nil {
							return err
						}
					}
				} else {
					*out = append(*out, fileChange{path: p, kind: Modified, old: plumbing.Hash(ea.Hash), new: plumbing.Hash(eb.Hash)})
				}
			}
			if err := next(restA, &ea, &restA, &haveA); err != nil {
				return err
			}
			if err := next(restB, &eb, &restB, &haveB); err != nil {
				return err
			}
		}
	}
	return nil
}

// all reports every file below entry e, at depth, as added or deleted.
// Nothing at depth is in use while it runs, so it reads into the old
// side's buffers.
func (d *differ) all(e *ledger.RawTreeEntry, p string, kind Change, depth int, out *[]fileChange) error {
	if !e.IsDir() {
		fc := fileChange{path: p, kind: kind}
		if kind == Deleted {
			fc.old = plumbing.Hash(e.Hash)
		} else {
			fc.new = plumbing.Hash(e.Hash)
		}
		*out = append(*out, fc)
		return nil
	}
	keep := d.keep
	if kind == Added {
		keep = d.keepAdded
	}
	if !keep(p) {
		return nil
	}
	data, err := d.tree(plumbing.Hash(e.Hash), depth, 0)
	if err != nil {
		return err
	}
	for len(data) > 0 {
		se, rest, err := ledger.NextTreeEntry(data)
		if err != nil {
			return fmt.Errorf("read tree: %w", err)
		}
		if err := d.all(&se, p+"/"+string(se.Name), kind, depth+1, out); err != nil {
			return err
		}
		data = rest
	}
	return nil
}

// files calls fn for every file below dir of tree t whose directories keep
// accepts (a missing dir holds no files).
func (v *view) files(t plumbing.Hash, dir string, keep func(string) bool, fn func(p string, h plumbing.Hash)) error {
	h := t
	if dir != "" {
		d, ok, err := v.lookupDir(t, dir)
		if err != nil || !ok {
			return err
		}
		h = d
	}
	return v.walk(h, dir, keep, fn)
}

func (v *view) walk(h plumbing.Hash, dir string, keep func(string) bool, fn func(p string, h plumbing.Hash)) error {
	es, err := v.entries(h)
	if err != nil {
		return err
	}
	for _, e := range es {
		p := join(dir, e.Name)
		switch e.Mode {
		case filemode.Dir:
			if keep(p) {
				if err := v.walk(e.Hash, p, keep, fn); err != nil {
					return err
				}
			}
		case filemode.Submodule:
		default:
			fn(p, e.Hash)
		}
	}
	return nil
}

// lookupDir resolves a directory path below tree t.
func (v *view) lookupDir(t plumbing.Hash, dir string) (plumbing.Hash, bool, error) {
	cur := t
	for _, seg := range strings.Split(dir, "/") {
		es, err := v.entries(cur)
		if err != nil {
			return plumbing.ZeroHash, false, err
		}
		e, ok := find(es, seg)
		if !ok || e.Mode != filemode.Dir {
			return plumbing.ZeroHash, false, nil
		}
		cur = e.Hash
	}
	return cur, true, nil
}

func join(dir, name string) string {
	if dir == "" {
		return name
	}
	return dir + "/" + name
}

// commitTree returns the tree of commit h; ok is false when the commit is
// not in the repository (a shallow clone).
func (v *view) commitTree(h plumbing.Hash) (plumbing.Hash, bool, error) {
	c, err := v.commit(h)
	if errors.Is(err, plumbing.ErrObjectNotFound) {
		return plumbing.ZeroHash, false, nil
	}
	if err != nil {
		return plumbing.ZeroHash, false, fmt.Errorf("read commit %s: %w", h.String()[:12], err)
	}
	return c.TreeHash, true, nil
}
