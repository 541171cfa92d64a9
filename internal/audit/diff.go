package audit

import (
	"bytes"
	"fmt"
	"io"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/vision-ios/vios/internal/ledger"
	"github.com/vision-ios/vios/internal/signing"
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

// diffTrees lists file changes between two trees, descending only into
// subtrees whose hashes differ, so the cost follows the change, not the
// size of the tree.
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
	for name, eb := range b {
		p := prefix + name
		ea, ok := a[name]
		switch {
		case !ok:
			sub, err := c.addAll(eb, p, added)
			if err != nil {
				return nil, err
			}
			out = append(out, sub...)
		case ea.Hash == eb.Hash && ea.Mode == eb.Mode:
		case ea.Mode == filemode.Dir && eb.Mode == filemode.Dir:
			sub, err := c.diffTrees(ea.Hash, eb.Hash, p+"/")
			if err != nil {
				return nil, err
			}
			out = append(out, sub...)
		case ea.Mode != filemode.Dir && eb.Mode != filemode.Dir:
			out = append(out, change{path: p, kind: modified, blob: eb.Hash})
		default: // a file became a directory or the reverse
			sub, err := c.addAll(ea, p, deleted)
			if err != nil {
				return nil, err
			}
			out = append(out, sub...)
			if sub, err = c.addAll(eb, p, added); err != nil {
				return nil, err
			}
			out = append(out, sub...)
		}
	}
	for name, ea := range a {
		if _, ok := b[name]; !ok {
			sub, err := c.addAll(ea, prefix+name, deleted)
			if err != nil {
				return nil, err
			}
			out = append(out, sub...)
		}
	}
	return out, nil
}

func (c *checker) entries(h plumbing.Hash) (map[string]object.TreeEntry, error) {
	if h.IsZero() {
		return nil, nil
	}
	if m, ok := c.trees[h]; ok {
		return m, nil
	}
	entries, err := c.r.ReadTree(h)
	if err != nil {
		return nil, err
	}
	m := make(map[string]object.TreeEntry, len(entries))
	for _, e := range entries {
		m[e.Name] = e
	}
	if len(c.trees) > 4096 {
		clear(c.trees)
	}
	c.trees[h] = m
	return m, nil
}

// lookup resolves path below tree root through the decoded-tree cache.
func (c *checker) lookup(root plumbing.Hash, path string) (plumbing.Hash, error) {
	cur := root
	for seg := range strings.SplitSeq(path, "/") {
		m, err := c.entries(cur)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		e, ok := m[seg]
		if !ok {
			return plumbing.ZeroHash, fmt.Errorf("%s: %w", path, ledger.ErrNotFound)
		}
		cur = e.Hash
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
	for name, se := range sub {
		ch, err := c.addAll(se, p+"/"+name, kind)
		if err != nil {
			return nil, err
		}
		out = append(out, ch...)
	}
	return out, nil
}

// unsignedPayload re-encodes a commit without its signature: the bytes the
// signature covers.
func unsignedPayload(c *object.Commit) ([]byte, error) {
	var obj plumbing.MemoryObject
	if err := c.EncodeWithoutSignature(&obj); err != nil {
		return nil, err
	}
	rd, err := obj.Reader()
	if err != nil {
		return nil, err
	}
	defer rd.Close()
	var b bytes.Buffer
	_, err = io.Copy(&b, rd)
	return b.Bytes(), err
}

var verifyGit = signing.VerifyGit
