package ledger

import (
	"bytes"
	"fmt"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// ReadTree returns the entries of tree h in their stored order. It parses
// the raw object itself: go-git's decoder reads it through a buffered
// reader one field at a time, which an audit of thousands of commits pays
// for in every directory it descends.
func (r *Repo) ReadTree(h plumbing.Hash) ([]object.TreeEntry, error) {
	data, err := r.ReadTyped(h, plumbing.TreeObject, nil)
	if err != nil {
		return nil, err
	}
	entries, err := ParseTree(data)
	if err != nil {
		return nil, fmt.Errorf("tree %s: %w", h, err)
	}
	return entries, nil
}

// ParseTree decodes a raw git tree object.
func ParseTree(data []byte) ([]object.TreeEntry, error) {
	out := make([]object.TreeEntry, 0, bytes.Count(data, []byte{0}))
	for len(data) > 0 {
		e, rest, err := NextTreeEntry(data)
		if err != nil {
			return nil, err
		}
		te := object.TreeEntry{Name: string(e.Name), Mode: e.Mode}
		copy(te.Hash[:], e.Hash)
		out = append(out, te)
		data = rest
	}
	return out, nil
}

// RawTreeEntry is a tree entry decoded in place: Name and Hash point into
// the tree object.
type RawTreeEntry struct {
	Mode filemode.FileMode // canonical: what git means by the stored mode
	Name []byte
	Hash []byte // 20 bytes
}

// IsDir reports whether the entry is a subtree.
func (e *RawTreeEntry) IsDir() bool { return e.Mode == filemode.Dir }

// NextTreeEntry decodes the entry at the start of a raw tree object and
// returns the rest of the object.
func NextTreeEntry(data []byte) (RawTreeEntry, []byte, error) {
	sp := bytes.IndexByte(data, ' ')
	if sp <= 0 {
		return RawTreeEntry{}, nil, fmt.Errorf("malformed tree entry mode")
	}
	var m uint64
	for _, c := range data[:sp] {
		if c < '0' || c > '7' || m > 0xffffffff>>3 {
			return RawTreeEntry{}, nil, fmt.Errorf("malformed tree entry mode %q", data[:sp])
		}
		m = m<<3 | uint64(c-'0')
	}
	rest := data[sp+1:]
	nul := bytes.IndexByte(rest, 0)
	if nul <= 0 || len(rest) < nul+1+20 {
		return RawTreeEntry{}, nil, fmt.Errorf("malformed tree entry name")
	}
	e := RawTreeEntry{Mode: canonicalMode(filemode.FileMode(m)), Name: rest[:nul], Hash: rest[nul+1 : nul+21]}
	return e, rest[nul+21:], nil
}

// TreeOrder compares two tree entries, given by name and whether they are
// subtrees, in the order git keeps them: by name, a subtree compared as if
// its name ended in "/".
func TreeOrder[T string | []byte](a T, aDir bool, b T, bDir bool) int {
	n := min(len(a), len(b))
	for i := range n {
		if a[i] != b[i] {
			return int(a[i]) - int(b[i])
		}
	}
	return treeTerminator(a, n, aDir) - treeTerminator(b, n, bDir)
}

// treeTerminator is what follows the first n bytes of a name in git's
// order: its next byte, "/" after a subtree's name, or nothing, which sorts
// first.
func treeTerminator[T string | []byte](name T, n int, dir bool) int {
	switch {
	case n < len(name):
		return int(name[n])
	case dir:
		return '/'
	}
	return -1
}

// canonicalMode maps a stored mode to the one git means by it, as git's
// canon_mode and go-git's decoder do.
func canonicalMode(m filemode.FileMode) filemode.FileMode {
	switch m & 0o170000 {
	case 0o040000:
		return filemode.Dir
	case 0o100000:
		if m&0o111 != 0 {
			return filemode.Executable
		}
		return filemode.Regular
	case 0o120000:
		return filemode.Symlink
	default:
		return filemode.Submodule
	}
}
