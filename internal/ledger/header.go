package ledger

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/go-git/go-git/v5/plumbing"
)

// CommitHeader is what a history walk needs of a commit: its tree and its
// parents, first parent first.
type CommitHeader struct {
	TreeHash     plumbing.Hash
	ParentHashes []plumbing.Hash
}

// ParseCommitHeader reads the "tree" line and the "parent" lines that
// follow it, as git writes them, from a commit object's content, leaving
// the rest (signature, message) alone. A malformed line is an error, never
// taken for the end of the parents.
func ParseCommitHeader(data []byte) (*CommitHeader, error) {
	c := &CommitHeader{}
	field := func(name string) (plumbing.Hash, bool, error) {
		rest, ok := bytes.CutPrefix(data, []byte(name+" "))
		if !ok {
			return plumbing.ZeroHash, false, nil
		}
		var h plumbing.Hash
		if len(rest) < 41 || rest[40] != '\n' {
			return h, false, fmt.Errorf("malformed %s line", name)
		}
		if _, err := hex.Decode(h[:], rest[:40]); err != nil {
			return h, false, fmt.Errorf("malformed %s line", name)
		}
		data = rest[41:]
		return h, true, nil
	}
	t, ok, err := field("tree")
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, errors.New("no tree line")
	}
	c.TreeHash = t
	for {
		p, ok, err := field("parent")
		if err != nil {
			return nil, err
		}
		if !ok {
			return c, nil
		}
		c.ParentHashes = append(c.ParentHashes, p)
	}
}
