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

// SplitCommitSignature separates a commit object's content into the bytes
// its signature covers and the signature, as git does to verify a commit:
// every "gpgsig" header (its first line and the continuation lines that
// start with a space) is cut out of the header, and their values, without
// the continuation spaces and each line ending in a newline, are the
// signature. Verifying these bytes rather than a re-encoding of the
// decoded commit keeps whatever else the header holds, as git does. The
// payload is built in dst's storage; a commit without a signature has a
// nil one.
func SplitCommitSignature(data, dst []byte) (payload, sig []byte) {
	payload = dst[:0]
	from := 0 // data[from:i] is payload not yet copied
	for i := 0; i < len(data); {
		end := bytes.IndexByte(data[i:], '\n')
		if end <= 0 { // the blank line that ends the header, or no line end
			break
		}
		end += i
		value, ok := bytes.CutPrefix(data[i:end], []byte("gpgsig "))
		if !ok {
			i = end + 1
			continue
		}
		sig = append(append(sig, value...), '\n')
		j := end + 1
		for j < len(data) && data[j] == ' ' {
			e := bytes.IndexByte(data[j:], '\n')
			if e < 0 {
				e = len(data) - j
			}
			sig = append(append(sig, data[j+1:j+e]...), '\n')
			j = min(j+e+1, len(data))
		}
		payload = append(payload, data[from:i]...)
		from, i = j, j
	}
	return append(payload, data[from:]...), sig
}
