package freeze

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/vision-ios/vios/internal/ledger"
	"github.com/vision-ios/vios/internal/testutil/gitcli"
)

// TestDifferMatchesGit diffs every pair of commits of a repository packed
// by git (trees stored as deltas of each other) with the in-place differ,
// one differ for all pairs so its buffers and the odb's base ring are
// reused throughout, and compares the changes with git diff --name-status.
func TestDifferMatchesGit(t *testing.T) {
	gitcli.Available(t)
	t.Parallel()
	dir := t.TempDir()
	gitc := func(args ...string) string { return gitcli.Run(t, dir, args...) }
	write := func(p, s string) {
		t.Helper()
		p = filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	remove := func(p string) {
		t.Helper()
		if err := os.RemoveAll(filepath.Join(dir, p)); err != nil {
			t.Fatal(err)
		}
	}
	gitc("init", "-q")
	var commits []string
	commit := func(msg string) {
		gitc("add", "-A")
		gitc("commit", "-q", "--allow-empty", "-m", msg)
		commits = append(commits, strings.TrimSpace(gitc("rev-parse", "HEAD")))
	}
	for d := range 6 {
		for i := range 30 {
			write(fmt.Sprintf("ev/2026/%02d/f%02d.json", d, i), fmt.Sprintf("{\"d\": %d, \"i\": %d}\n", d, i))
		}
	}
	write("a", "a\n")
	write("a.b/x", "x\n")
	write("a-b", "ab\n")
	commit("start")
	for round := range 5 {
		for d := range 6 {
			write(fmt.Sprintf("ev/2026/%02d/f%02d.json", d, round), "edited\n")
		}
		write(fmt.Sprintf("ev/2026/%02d/new%d.json", round, round), "new\n")
		remove(fmt.Sprintf("ev/2026/%02d/f29.json", round))
		switch round {
		case 1: // a file becomes a directory
			remove("a")
			write("a/inner", "inner\n")
		case 2: // and a directory a file
			remove("a.b")
			write("a.b", "file now\n")
		case 3:
			remove("ev/2026/05")
		case 4:
			if err := os.Chmod(filepath.Join(dir, "a-b"), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		commit(fmt.Sprint("round ", round))
	}
	gitc("gc", "-q", "--aggressive")

	r, err := ledger.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	v := newView(r)
	all := func(string) bool { return true }
	d := &differ{v: v, keep: all, keepAdded: all}
	tree := func(c string) plumbing.Hash {
		t.Helper()
		tr, ok, err := v.commitTree(plumbing.NewHash(c))
		if err != nil || !ok {
			t.Fatalf("commit %s: %v", c, err)
		}
		return tr
	}
	// Pairs in walk order (each tree first new, then old), then every pair.
	var pairs [][2]string
	for i := len(commits) - 1; i > 0; i-- {
		pairs = append(pairs, [2]string{commits[i-1], commits[i]})
	}
	for _, a := range commits {
		for _, b := range commits {
			pairs = append(pairs, [2]string{a, b})
		}
	}
	for _, p := range pairs {
		var changes []fileChange
		if err := d.diff(tree(p[0]), tree(p[1]), "", &changes); err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, c := range changes {
			got = append(got, fmt.Sprintf("%c\t%s", strings.ToUpper(string(c.kind))[0], c.path))
		}
		var want []string
		for _, l := range strings.Split(strings.TrimSpace(gitc("diff", "--name-status", "--no-renames", p[0], p[1])), "\n") {
			if l != "" {
				want = append(want, l)
			}
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Fatalf("%.7s..%.7s:\ngot  %q\nwant %q", p[0], p[1], got, want)
		}
	}
}
