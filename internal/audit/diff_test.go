package audit

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/vision-ios/vios/internal/ledger"
	"github.com/vision-ios/vios/internal/testutil/gitcli"
)

// TestDiffTreesMatchesGit compares the audit's tree diff with git's own on
// changes that stress git's tree order: a file that becomes a directory,
// names that sort differently as files and as directories, deletions of
// whole subtrees.
func TestDiffTreesMatchesGit(t *testing.T) {
	gitcli.Available(t)
	dir := t.TempDir()
	git := func(args ...string) string { return gitcli.Run(t, dir, args...) }
	write := func(p, s string) {
		os.MkdirAll(filepath.Dir(filepath.Join(dir, p)), 0o755)
		if err := os.WriteFile(filepath.Join(dir, p), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	git("init", "-q")
	for _, p := range []string{"a", "a.txt", "a-b/x", "b/c/d", "b/c/e", "b.d/f", "keep/k", "z"} {
		write(p, p+"\n")
	}
	git("add", "-A")
	git("commit", "-q", "-m", "one")
	os.Remove(filepath.Join(dir, "a"))
	write("a/inner", "now a directory\n")
	os.RemoveAll(filepath.Join(dir, "b"))
	write("b", "now a file\n")
	write("a.txt", "changed\n")
	write("b.d/g", "added\n")
	write("zz/new", "added\n")
	os.Remove(filepath.Join(dir, "z"))
	git("add", "-A")
	git("commit", "-q", "-m", "two")

	r, err := ledger.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	tree := func(rev string) plumbing.Hash { return plumbing.NewHash(git("rev-parse", rev+"^{tree}")) }
	c := &checker{r: r, trees: map[plumbing.Hash][]object.TreeEntry{}}
	changes, err := c.diffTrees(tree("HEAD~1"), tree("HEAD"), "")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, ch := range changes {
		got = append(got, fmt.Sprintf("%s %s", map[changeKind]string{added: "A", modified: "M", deleted: "D"}[ch.kind], ch.path))
	}
	want := strings.Split(git("diff-tree", "-r", "--no-renames", "--name-status", "HEAD~1", "HEAD"), "\n")
	for i, w := range want {
		want[i] = strings.Replace(w, "\t", " ", 1)
	}
	sort.Strings(got)
	sort.Strings(want)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("diff:\n%s\ngit:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
