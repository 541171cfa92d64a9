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

// view reads the objects of one repository through an odb, caching
// decoded trees by hash. Checks read trees and commits, and blobs only of
// the few files they parse (manifests, change requests, the registry).
type view struct {
	r     *ledger.Repo
	db    *odb
	trees map[plumbing.Hash][]object.TreeEntry
}

func newView(r *ledger.Repo) *view {
	return &view{r: r, db: newODB(r.GitDir(), r.Objects()), trees: map[plumbing.Hash][]object.TreeEntry{}}
}

// close releases the pack files the view opened.
func (v *view) close() { v.db.close() }

// entries returns a tree's entries in git order.
func (v *view) entries(h plumbing.Hash) ([]object.TreeEntry, error) {
	if e, ok := v.trees[h]; ok {
		return e, nil
	}
	t, data, err := v.db.object(h)
	if err == nil && t != plumbing.TreeObject {
		err = fmt.Errorf("%s is a %s", h, t)
	}
	if err != nil {
		return nil, fmt.Errorf("read tree %s: %w", h.String()[:12], err)
	}
	es, err := parseTree(data)
	if err != nil {
		return nil, fmt.Errorf("read tree %s: %w", h.String()[:12], err)
	}
	v.trees[h] = es
	return es, nil
}

// parseTree decodes a tree object's entries ("MODE NAME\0" and 20 bytes).
func parseTree(data []byte) ([]object.TreeEntry, error) {
	es := make([]object.TreeEntry, 0, bytes.Count(data, []byte{0}))
	for len(data) > 0 {
		sp := bytes.IndexByte(data, ' ')
		if sp < 0 {
			return nil, errors.New("malformed tree")
		}
		nul := bytes.IndexByte(data[sp:], 0)
		if nul < 0 || sp+nul+21 > len(data) {
			return nil, errors.New("malformed tree")
		}
		nul += sp
		var mode filemode.FileMode
		switch m := string(data[:sp]); m {
		case "40000":
			mode = filemode.Dir
		case "100644":
			mode = filemode.Regular
		default:
			fm, err := filemode.New(m)
			if err != nil {
				return nil, fmt.Errorf("malformed tree: mode %q", m)
			}
			mode = fm
		}
		e := object.TreeEntry{Name: string(data[sp+1 : nul]), Mode: mode}
		copy(e.Hash[:], data[nul+1:nul+21])
		es = append(es, e)
		data = data[nul+21:]
	}
	return es, nil
}

// blob returns a blob's content.
func (v *view) blob(h plumbing.Hash) ([]byte, error) {
	t, data, err := v.db.object(h)
	if err == nil && t != plumbing.BlobObject {
		err = fmt.Errorf("%s is a %s", h, t)
	}
	return data, err
}

// commit returns a commit; plumbing.ErrObjectNotFound when it is not in
// the repository.
func (v *view) commit(h plumbing.Hash) (*object.Commit, error) {
	obj, err := v.db.encoded(h)
	if err != nil {
		return nil, err
	}
	if obj.Type() != plumbing.CommitObject {
		return nil, fmt.Errorf("%s is a %s, not a commit", h, obj.Type())
	}
	c := &object.Commit{}
	if err := c.Decode(obj); err != nil {
		return nil, err
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
// keepAdded accepts them.
type differ struct {
	v         *view
	keep      func(dir string) bool
	keepAdded func(dir string) bool
}

func (d *differ) diff(from, to plumbing.Hash, dir string, out *[]fileChange) error {
	if from == to {
		return nil
	}
	var a, b []object.TreeEntry
	var err error
	if !from.IsZero() {
		if a, err = d.v.entries(from); err != nil {
			return err
		}
	}
	if !to.IsZero() {
		if b, err = d.v.entries(to); err != nil {
			return err
		}
	}
	// Both lists are in git order, so one merge pass pairs them up; a file
	// and a directory of the same name sort apart and come out as a
	// deletion and an addition.
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		var cmp int
		switch {
		case i == len(a):
			cmp = 1
		case j == len(b):
			cmp = -1
		default:
			cmp = compareEntries(a[i], b[j])
		}
		switch {
		case cmp < 0:
			if err := d.all(a[i], join(dir, a[i].Name), Deleted, out); err != nil {
				return err
			}
			i++
		case cmp > 0:
			if err := d.all(b[j], join(dir, b[j].Name), Added, out); err != nil {
				return err
			}
			j++
		default:
			ea, eb := a[i], b[j]
			i, j = i+1, j+1
			if ea.Hash == eb.Hash && ea.Mode == eb.Mode {
				continue
			}
			p := join(dir, eb.Name)
			if ea.Mode == filemode.Dir {
				if d.keep(p) {
					if err := d.diff(ea.Hash, eb.Hash, p, out); err != nil {
						return err
					}
				}
				continue
			}
			*out = append(*out, fileChange{path: p, kind: Modified, old: ea.Hash, new: eb.Hash})
		}
	}
	return nil
}

// compareEntries orders tree entries as git does: by name, a directory
// compared as if its name ended in "/".
func compareEntries(a, b object.TreeEntry) int {
	an, bn := a.Name, b.Name
	n := min(len(an), len(bn))
	if c := strings.Compare(an[:n], bn[:n]); c != 0 {
		return c
	}
	ac, bc := terminator(a, n), terminator(b, n)
	switch {
	case ac < bc:
		return -1
	case ac > bc:
		return 1
	}
	return 0
}

// terminator is the byte after the first n of an entry's sort key.
func terminator(e object.TreeEntry, n int) int {
	if n < len(e.Name) {
		return int(e.Name[n])
	}
	if e.Mode == filemode.Dir {
		return '/'
	}
	return -1 // the name ends here: sorts first
}

// all reports every file below entry e as added or deleted.
func (d *differ) all(e object.TreeEntry, p string, kind Change, out *[]fileChange) error {
	if e.Mode != filemode.Dir {
		fc := fileChange{path: p, kind: kind}
		if kind == Deleted {
			fc.old = e.Hash
		} else {
			fc.new = e.Hash
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
	es, err := d.v.entries(e.Hash)
	if err != nil {
		return err
	}
	for _, se := range es {
		if err := d.all(se, p+"/"+se.Name, kind, out); err != nil {
			return err
		}
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
