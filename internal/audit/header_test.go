package audit

import (
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
)

func TestCommitHeader(t *testing.T) {
	tree, p1, p2 := strings.Repeat("a", 40), strings.Repeat("b", 40), strings.Repeat("c", 40)
	for _, tc := range []struct {
		name, data   string
		tree, parent string
		err          bool
	}{
		{"root", "tree " + tree + "\nauthor x <x> 1 +0000\n", tree, "", false},
		{"one parent", "tree " + tree + "\nparent " + p1 + "\nauthor x <x> 1 +0000\n", tree, p1, false},
		{"merge: the first parent", "tree " + tree + "\nparent " + p1 + "\nparent " + p2 + "\n", tree, p1, false},
		{"no tree", "parent " + p1 + "\ntree " + tree + "\n", "", "", true},
		{"short id", "tree " + tree[:39] + "\n", "", "", true},
		{"not hex", "tree " + strings.Repeat("z", 40) + "\n", "", "", true},
		{"empty", "", "", "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gotTree, gotParent, err := commitHeader([]byte(tc.data))
			if (err != nil) != tc.err {
				t.Fatalf("err = %v, want error %v", err, tc.err)
			}
			if tc.err {
				return
			}
			want := plumbing.ZeroHash
			if tc.parent != "" {
				want = plumbing.NewHash(tc.parent)
			}
			if gotTree != plumbing.NewHash(tc.tree) || gotParent != want {
				t.Fatalf("got tree %s parent %s", gotTree, gotParent)
			}
		})
	}
}
