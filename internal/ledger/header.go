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
// its signature covers and the signature, as git does to verify a commit
// (parse_buffer_signed_by_header in git's commit.c): in the header, a
// "gpgsig" line and the continuation lines after it (which start with a
// space) are the signature, without the "gpgsig " and the spaces; other
// signature headers ("gpgsig-sha256", with their continuation lines) are
// left out of both; everything else is the payload. go-git's
// Commit.EncodeWithoutSignature yields the same bytes from a decoded commit
// but decodes it again to check its source first, which the audit cannot
// afford per commit. The payload is built in dst's storage; a commit
// without a signature has a nil one.
func SplitCommitSignature(data, dst []byte) (payload, sig []byte) {
	payload = dst[:0]
	inSig, otherSig := false, false
	for line := 0; line < len(data); {
		next := len(data)
		if nl := bytes.IndexByte(data[line:], '\n'); nl >= 0 {
			next = line + nl + 1
		}
		l := data[line:next]
		var value []byte
		switch {
		case inSig && l[0] == ' ':
			value = l[1:]
		case bytes.HasPrefix(l, []byte("gpgsig ")):
			value, otherSig = l[len("gpgsig "):], false
		case bytes.HasPrefix(l, []byte("gpgsig")):
			otherSig = true
		case otherSig && l[0] != ' ':
			otherSig = false
		}
		if value != nil {
			sig = append(sig, value...)
			inSig = true
			line = next
			continue
		}
		if l[0] == '\n' { // the blank line that ends the header: the rest is payload
			next = len(data)
		}
		if !otherSig {
			payload = append(payload, data[line:next]...)
		}
		inSig = false
		line = next
	}
	return payload, sig
}
