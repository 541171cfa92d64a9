package freeze

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/storer"

	"github.com/vision-ios/vios/internal/ledger"
)

// TestODBMatchesGoGit reads every object of a repository packed by git
// (with deltas, after gc) and of loose objects through the odb and
// compares them with go-git's reading.
func TestODBMatchesGoGit(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git")
	}
	t.Parallel()
	dir := t.TempDir()
	gitc := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-c", "user.name=x", "-c", "user.email=x@y", "-c", "commit.gpgsign=false", "-c", "init.defaultBranch=main"}, args...)...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "HOME="+dir)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	gitc("init", "-q")
	body := bytes.Repeat([]byte("a shared line of text that makes deltas worth their while\n"), 60)
	for round := range 6 {
		for d := range 4 {
			for i := range 40 {
				if round > 0 && i != round {
					continue // one file per directory changes per round
				}
				p := filepath.Join(dir, fmt.Sprintf("d%d/sub/f%02d.txt", d, i))
				os.MkdirAll(filepath.Dir(p), 0o755)
				os.WriteFile(p, append(fmt.Appendf(nil, "file %d %d round %d\n", d, i, round), body...), 0o644)
			}
		}
		gitc("add", "-A")
		gitc("commit", "-q", "-m", fmt.Sprint("round ", round))
		if round == 3 {
			gitc("gc", "-q", "--aggressive")
		}
	}
	r, err := ledger.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	db := newODB(r.GitDir(), failing{})
	defer db.close()
	iter, err := r.Git.Storer.IterEncodedObjects(plumbing.AnyObject)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	err = iter.ForEach(func(o plumbing.EncodedObject) error {
		rd, err := o.Reader()
		if err != nil {
			return err
		}
		want, err := io.ReadAll(rd)
		rd.Close()
		if err != nil {
			return err
		}
		typ, got, err := db.object(o.Hash())
		if err != nil {
			return fmt.Errorf("%s: %w", o.Hash(), err)
		}
		if typ != o.Type() || !bytes.Equal(got, want) {
			return fmt.Errorf("%s: odb reads a %s of %d bytes, go-git a %s of %d", o.Hash(), typ, len(got), o.Type(), len(want))
		}
		n++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	deltas := db.deltas
	t.Logf("%d objects, %d deltas applied", n, deltas)
	if n < 150 || deltas == 0 {
		t.Fatalf("%d objects compared, %d delta bases used: the test repository is not what it should be", n, deltas)
	}
}

// failing is a fallback storer that has nothing, so the odb must read
// every object itself.
type failing struct{ storer.EncodedObjectStorer }

func (failing) EncodedObject(plumbing.ObjectType, plumbing.Hash) (plumbing.EncodedObject, error) {
	return nil, plumbing.ErrObjectNotFound
}

func FuzzApplyDelta(f *testing.F) {
	f.Add([]byte("hello world"), []byte{11, 5, 0x91, 0, 5})
	f.Add([]byte("abc"), []byte{3, 3, 3, 'x', 'y', 'z'})
	f.Add([]byte(""), []byte{0, 0})
	f.Fuzz(func(t *testing.T, base, delta []byte) {
		out, err := applyDelta(base, delta)
		if err == nil && out == nil {
			t.Fatal("no output and no error")
		}
	})
}

func FuzzParseTree(f *testing.F) {
	f.Add([]byte("100644 a\x00" + string(bytes.Repeat([]byte{1}, 20)) + "40000 d\x00" + string(bytes.Repeat([]byte{2}, 20))))
	f.Add([]byte("100644 a"))
	f.Fuzz(func(t *testing.T, data []byte) {
		parseTree(data)
	})
}

func FuzzParseManifest(f *testing.F) {
	f.Add([]byte(`{"version":"v1.0","commit":null,"created_at":"2026-11-01T00:00:00Z","categories":{"agent_contracts":["policies/agents/*.yaml"]},"files":{"policies/agents/a.yaml":"0123456789012345678901234567890123456789"}}`))
	f.Add([]byte(`{"version":"v1.0"`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, v, err := ParseManifest("baseline/v1.0.json", data)
		if err == nil && (m == nil || v.String() != "v1.0") {
			t.Fatalf("accepted %q as %v", data, v)
		}
	})
}

func FuzzDeclaredPaths(f *testing.F) {
	f.Add([]byte("## Declared paths\n- a\n* `b`\n## x\n- c\n"))
	f.Fuzz(func(t *testing.T, doc []byte) {
		for _, p := range DeclaredPaths(doc) {
			if p == "" {
				t.Fatal("empty path")
			}
		}
	})
}
