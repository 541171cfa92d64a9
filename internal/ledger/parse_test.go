package ledger

import (
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
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

// TestTreeEntries: entries decode with the mode git means (a 100664 blob
// is a regular file, as git's canon_mode has it), and TreeOrder sorts a
// subtree as if its name ended in "/".
func TestTreeEntries(t *testing.T) {
	id := strings.Repeat("\x01", 20)
	e, rest, err := NextTreeEntry([]byte("100664 a\x00" + id + "40000 b\x00" + id))
	if err != nil || e.Mode != filemode.Regular || string(e.Name) != "a" {
		t.Fatalf("entry = %+v, %v", e, err)
	}
	if e, _, err = NextTreeEntry(rest); err != nil || !e.IsDir() {
		t.Fatalf("entry = %+v, %v", e, err)
	}
	for _, bad := range []string{"", "100644 \x00" + id, "1009 a\x00" + id, "100644 a\x00short"} {
		if _, _, err := NextTreeEntry([]byte(bad)); err == nil {
			t.Errorf("%q decoded", bad)
		}
	}
	// git's order of a file "a", a file "a.b", a subtree "a" and a file "a0":
	// "a" < "a.b" < "a/" < "a0".
	type ent struct {
		name string
		dir  bool
	}
	want := []ent{{"a", false}, {"a.b", false}, {"a", true}, {"a0", false}}
	for i := range want {
		for j := range want {
			s := TreeOrder(want[i].name, want[i].dir, want[j].name, want[j].dir)
			b := TreeOrder([]byte(want[i].name), want[i].dir, []byte(want[j].name), want[j].dir)
			if (s < 0) != (i < j) || (s == 0) != (i == j) || (s < 0) != (b < 0) || (s == 0) != (b == 0) {
				t.Errorf("TreeOrder(%v, %v) = %d (bytes %d)", want[i], want[j], s, b)
			}
		}
	}
}

// TestSplitCommitSignature: the gpgsig header, wherever it stands in the
// header and however many continuation lines it has, is cut out as git
// cuts it, and other signature headers are left out of both; everything
// else, a message line that looks like a header included, stays in the
// payload.
func TestSplitCommitSignature(t *testing.T) {
	tree := "tree " + strings.Repeat("a", 40) + "\n"
	for _, tc := range []struct{ name, data, payload, sig string }{
		{"unsigned", tree + "author x\n\nmsg\n", tree + "author x\n\nmsg\n", ""},
		{"signed", tree + "author x\ngpgsig -----BEGIN-----\n l1\n \n -----END-----\n\nmsg\n", tree + "author x\n\nmsg\n", "-----BEGIN-----\nl1\n\n-----END-----\n"},
		{"before other headers", tree + "gpgsig s1\n s2\nmergetag object x\n tag\n\nmsg", tree + "mergetag object x\n tag\n\nmsg", "s1\ns2\n"},
		{"sha256 header left out", tree + "gpgsig-sha256 other\n o\ngpgsig s\n\nm\n", tree + "\nm\n", "s\n"},
		{"sha256 header after", tree + "gpgsig s\n t\ngpgsig-sha256 o\n p\nauthor x\n\nm", tree + "author x\n\nm", "s\nt\n"},
		{"in the message", tree + "\ngpgsig not a header\n", tree + "\ngpgsig not a header\n", ""},
		{"truncated", tree + "gpgsig s\n t", tree, "s\nt"},
		{"last line", tree + "gpgsig s", tree, "s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			payload, sig := SplitCommitSignature([]byte(tc.data), nil)
			if string(payload) != tc.payload || string(sig) != tc.sig {
				t.Fatalf("payload %q sig %q, want %q %q", payload, sig, tc.payload, tc.sig)
			}
		})
	}
}
