package ledger

import (
	"bytes"
	"fmt"
	"strconv"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// ReadTree returns the entries of tree h in their stored order. It parses
// the raw object itself: go-git's decoder reads it through a buffered
// reader one field at a time, which an audit of thousands of commits pays
// for in every directory it descends.
func (r *Repo) ReadTree(h plumbing.Hash) ([]object.TreeEntry, error) {
	t, data, err := r.ReadObject(h, nil)
	switch {
	case err != nil:
		return nil, fmt.Errorf("tree %s: %w", h, err)
	case t != plumbing.TreeObject:
		return nil, fmt.Errorf("object %s is a %s, not a tree: %w", h, t, plumbing.ErrObjectNotFound)
	}
	entries, err := ParseTree(data)
	if err != nil {
		return nil, fmt.Errorf("tree %s: %w", h, err)
	}
	return entries, nil
}

// ParseTree decodes a raw git tree object.
func ParseTree(data []byte) ([]object.TreeEntry, error) {
	n := bytes.Count(data, []byte{0})
	out := make([]object.TreeEntry, 0, n)
	for len(data) > 0 {
		sp := bytes.IndexByte(data, ' ')
		if sp <= 0 {
			return nil, fmt.Errorf("malformed tree entry mode")
		}
		mode, err := strconv.ParseUint(string(data[:sp]), 8, 32)
		if err != nil {
			return nil, fmt.Errorf("malformed tree entry mode %q", data[:sp])
		}
		data = data[sp+1:]
		nul := bytes.IndexByte(data, 0)
		if nul <= 0 || len(data) < nul+1+20 {
			return nil, fmt.Errorf("malformed tree entry name")
		}
		e := object.TreeEntry{Name: string(data[:nul]), Mode: canonicalMode(filemode.FileMode(mode))}
		copy(e.Hash[:], data[nul+1:nul+21])
		out = append(out, e)
		data = data[nul+21:]
	}
	return out, nil
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
