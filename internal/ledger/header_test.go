package ledger

import (
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
)

func TestParseCommitHeader(t *testing.T) {
	tree, p1, p2 := strings.Repeat("a", 40), strings.Repeat("b", 40), strings.Repeat("c", 40)
	for _, tc := range []struct {
		name, data string
		tree       string
		parents    []string
		err        bool
	}{
		{"root", "tree " + tree + "\nauthor x <x> 1 +0000\n", tree, nil, false},
		{"one parent", "tree " + tree + "\nparent " + p1 + "\nauthor x <x> 1 +0000\n", tree, []string{p1}, false},
		{"merge", "tree " + tree + "\nparent " + p1 + "\nparent " + p2 + "\n", tree, []string{p1, p2}, false},
		{"no tree", "parent " + p1 + "\ntree " + tree + "\n", "", nil, true},
		{"short id", "tree " + tree[:39] + "\n", "", nil, true},
		{"not hex", "tree " + strings.Repeat("z", 40) + "\n", "", nil, true},
		// A malformed parent line is an error, not the end of the parents:
		// a walk must not take the commit for a root.
		{"malformed parent", "tree " + tree + "\nparent " + p1 + "\r\n", "", nil, true},
		{"empty", "", "", nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, err := ParseCommitHeader([]byte(tc.data))
			if (err != nil) != tc.err {
				t.Fatalf("err = %v, want error %v", err, tc.err)
			}
			if tc.err {
				return
			}
			if h.TreeHash != plumbing.NewHash(tc.tree) || len(h.ParentHashes) != len(tc.parents) {
				t.Fatalf("got %+v", h)
			}
			for i, p := range tc.parents {
				if h.ParentHashes[i] != plumbing.NewHash(p) {
					t.Fatalf("parent %d = %s, want %s", i, h.ParentHashes[i], p)
				}
			}
		})
	}
}
