package audit

import (
	"fmt"
	"slices"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/vision-ios/vios/internal/ledger"
)

type changeKind string

const (
	added    changeKind = "added"
	modified changeKind = "modified"
	deleted  changeKind = "deleted"
)

type change struct {
	path string
	kind changeKind
	blob plumbing.Hash // new blob (old for deletions)
}

// diffTrees lists file changes between two trees in git order, descending
// only into subtrees whose hashes differ, so the cost follows the change,
// not the size of the tree. Entries are joined in git's tree order, where a
// directory sorts as its name followed by "/": a file that became a
// directory (or the reverse) is a deletion and an addition.
func (c *checker) diffTrees(from, to plumbing.Hash, prefix string) ([]change, error) {
	if from == to {
		return nil, nil
	}
	a, err := c.entries(from)
	if err != nil {
		return nil, err
	}
	b, err := c.entries(to)
	if err != nil {
		return nil, err
	}
	var out []change
	for i, j := 0, 0; i < len(a) || j < len(b); {
		var d int
		switch {
		case i == len(a):
			d = 1
		case j == len(b):
			d = -1
		default:
			d = gitOrder(a[i], b[j])
		}
		var sub []change
		switch {
		case d < 0:
			sub, err = c.addAll(a[i], prefix+a[i].Name, deleted)
			i++
		case d > 0:
			sub, err = c.addAll(b[j], prefix+b[j].Name, added)
			j++
		default:
			ea, eb := a[i], b[j]
			i, j = i+1, j+1
			switch {
			case ea.Hash == eb.Hash && ea.Mode == eb.Mode:
			case ea.Mode == filemode.Dir:
				sub, err = c.diffTrees(ea.Hash, eb.Hash, prefix+eb.Name+"/")
			default:
				sub = []change{{path: prefix + eb.Name, kind: modified, blob: eb.Hash}}
			}
		}
		if err != nil {
			return nil, err
		}
		out = append(out, sub...)
	}
	return out, nil
}

// gitOrder compares tree entries in git's order (ledger.TreeOrder).
func gitOrder(a, b object.TreeEntry) int {
	return ledger.TreeOrder(a.Name, a.Mode == filemode.Dir, b.Name, b.Mode == filemode.Dir)
}

// entries returns tree h's entries in git order (a malformed tree stored
// out of order is sorted, so the join in diffTrees stays correct).
func (c *checker) entries(h plumbing.Hash) ([]object.TreeEntry, error) {
	if h.IsZero() {
		return nil, nil
	}
	if es, ok := c.trees[h]; ok {
		return es, nil
	}
	es, err := c.tree(h)
	if err != nil {
		return nil, err
	}
	if !slices.IsSortedFunc(es, gitOrder) {
		slices.SortStableFunc(es, gitOrder)
	}
	if len(c.trees) > 4096 {
		clear(c.trees)
	}
	c.trees[h] = es
	return es, nil
}

// tree reads and parses tree h through the checker's tree buffer (see
// object). It fails as ledger.Repo.ReadTree does.
func (c *checker) tree(h plumbing.Hash) ([]object.TreeEntry, error) {
	data, err := c.object(h, plumbing.TreeObject, &c.treeBuf)
	if err != nil {
		return nil, err
	}
	es, err := ledger.ParseTree(data)
	if err != nil {
		return nil, fmt.Errorf("tree %s: %w", h, err)
	}
	return es, nil
}

// lookup resolves path below tree root through the decoded-tree cache.
func (c *checker) lookup(root plumbing.Hash, path string) (plumbing.Hash, error) {
	cur := root
	for seg := range strings.SplitSeq(path, "/") {
		es, err := c.entries(cur)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		k := slices.IndexFunc(es, func(e object.TreeEntry) bool { return e.Name == seg })
		if k < 0 {
			return plumbing.ZeroHash, fmt.Errorf("%s: %w", path, ledger.ErrNotFound)
		}
		cur = es[k].Hash
	}
	return cur, nil
}

func (c *checker) addAll(e object.TreeEntry, p string, kind changeKind) ([]change, error) {
	if e.Mode != filemode.Dir {
		return []change{{path: p, kind: kind, blob: e.Hash}}, nil
	}
	sub, err := c.entries(e.Hash)
	if err != nil {
		return nil, err
	}
	var out []change
	for _, se := range sub {
		ch, err := c.addAll(se, p+"/"+se.Name, kind)
		if err != nil {
			return nil, err
		}
		out = append(out, ch...)
	}
	return out, nil
}
