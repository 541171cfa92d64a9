package ledger

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/vision-ios/vios/internal/testutil/gitcli"
)

// commitN commits n changes on r, returning the hashes oldest first.
func commitN(t *testing.T, r *Repo, from int, files ...func(i int) File) []plumbing.Hash {
	t.Helper()
	signer, _ := sshSigner(t, "CODE", 3)
	var out []plumbing.Hash
	for i, f := range files {
		head, err := r.Head()
		if err != nil && !errors.Is(err, ErrNoCommits) {
			t.Fatal(err)
		}
		h, err := r.Apply(context.Background(), &Change{Subject: "c", Files: []File{f(from + i)}, Author: Person{"C", "c@x"}, When: time.Unix(int64(from+i), 0), Signer: signer, Parent: head})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, h)
	}
	return out
}

func file(p string) func(int) File {
	return func(i int) File { return File{Path: p, Data: []byte(strings.Repeat("x", i) + "\n")} }
}

func TestHoldMakesLockReentrant(t *testing.T) {
	r, err := Init(filepath.Join(t.TempDir(), "repo"))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx, unlock, err := r.Hold(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	inner, err := r.Lock(ctx) // would wait forever without Hold
	if err != nil {
		t.Fatal(err)
	}
	inner()
	// Still held: another handle cannot take it.
	r2, _ := Open(r.Root())
	defer r2.Close()
	short, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	if _, err := r2.Lock(short); !errors.Is(err, ErrLockTaken) {
		t.Fatalf("lock while held: %v", err)
	}
	unlock()
	u2, err := r2.Lock(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	u2()
}

// TestStaleRefLockRecovered: a refs/heads/main.lock left by a process
// killed between creating it and renaming it blocks every later commit
// unless the next lock holder clears it; a young one (a running git's) is
// waited for, not removed at once.
func TestStaleRefLockRecovered(t *testing.T) {
	r, dir := initRepo(t)
	commitN(t, r, 1, file("a"))
	lock := filepath.Join(r.GitDir(), "refs", "heads", "main.lock")

	// Without the lock's recovery, Apply alone refuses.
	if err := os.WriteFile(lock, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	head, _ := r.Head()
	signer, _ := sshSigner(t, "CODE", 3)
	ch := &Change{Subject: "c", Files: []File{{Path: "b", Data: []byte("b")}}, Author: Person{"C", "c@x"}, When: time.Unix(9, 0), Signer: signer, Parent: head}
	if _, err := r.Apply(context.Background(), ch); !errors.Is(err, ErrMoved) {
		t.Fatalf("apply over a stale ref lock: %v", err)
	}

	// An old lock is removed by the next holder of the vios lock.
	old := time.Now().Add(-time.Hour)
	os.Chtimes(lock, old, old)
	unlock, err := r.Lock(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(lock); !os.IsNotExist(err) {
		t.Fatalf("stale lock still there: %v", err)
	}
	if _, err := r.Apply(context.Background(), ch); err != nil {
		t.Fatalf("apply after recovery: %v", err)
	}
	unlock()

	// A young lock that disappears (a git that finishes) is waited for.
	if err := os.WriteFile(lock, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	go func() { time.Sleep(50 * time.Millisecond); os.Remove(lock) }()
	start := time.Now()
	unlock, err = r.Lock(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	unlock()
	if d := time.Since(start); d < 40*time.Millisecond {
		t.Fatalf("a young lock was not waited for (%v)", d)
	}
	gitcli.Run(t, dir, "fsck", "--strict")
}

func TestUpdateRefIsCompareAndSwap(t *testing.T) {
	r, err := Init(filepath.Join(t.TempDir(), "repo"))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	hs := commitN(t, r, 1, file("a"), file("a"))
	name := plumbing.ReferenceName("refs/vios/test")
	if err := r.UpdateRef(name, plumbing.ZeroHash, hs[0]); err != nil {
		t.Fatal(err)
	}
	if err := r.UpdateRef(name, plumbing.ZeroHash, hs[1]); !errors.Is(err, ErrMoved) {
		t.Fatalf("stale create: %v", err)
	}
	if err := r.UpdateRef(name, hs[0], hs[1]); err != nil {
		t.Fatal(err)
	}
	if got, _ := r.Ref(name); got != hs[1] {
		t.Fatalf("ref = %s", got)
	}
	if err := r.UpdateRef(name, hs[1], plumbing.ZeroHash); err != nil {
		t.Fatal(err)
	}
	if got, _ := r.Ref(name); !got.IsZero() {
		t.Fatalf("deleted ref = %s", got)
	}
	for _, bad := range []string{"HEAD", "refs/../x", "refs/vios/a b/.git"} {
		if err := r.UpdateRef(plumbing.ReferenceName(bad), plumbing.ZeroHash, hs[0]); err == nil {
			t.Errorf("ref %q accepted", bad)
		}
	}
}

// TestResetSyncsWorktree: moving the branch to another commit writes and
// removes exactly the files that differ, index included (git status clean).
func TestResetSyncsWorktree(t *testing.T) {
	r, dir := initRepo(t)
	hs := commitN(t, r, 1, file("keep"), file("d/e/new.json"), file("keep"))
	if err := r.Reset(context.Background(), hs[2], hs[0]); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "d")); !os.IsNotExist(err) {
		t.Fatalf("removed file's directory still there: %v", err)
	}
	if st := gitcli.Run(t, dir, "status", "--porcelain", "--untracked-files=all"); st != "" {
		t.Fatalf("status after reset back:\n%s", st)
	}
	if err := r.Reset(context.Background(), hs[0], hs[2]); err != nil {
		t.Fatal(err)
	}
	if st := gitcli.Run(t, dir, "status", "--porcelain", "--untracked-files=all"); st != "" {
		t.Fatalf("status after reset forward:\n%s", st)
	}
	if err := r.Reset(context.Background(), hs[0], hs[1]); !errors.Is(err, ErrMoved) {
		t.Fatalf("reset from a stale tip: %v", err)
	}
	changes, err := r.DiffTrees(plumbing.ZeroHash, mustTree(t, r, hs[1]))
	if err != nil || len(changes) != 2 || changes[0].Path != "d/e/new.json" || changes[1].Path != "keep" {
		t.Fatalf("diff from the empty tree: %+v, %v", changes, err)
	}
}

func mustTree(t *testing.T, r *Repo, h plumbing.Hash) plumbing.Hash {
	t.Helper()
	c, err := r.Commit(h)
	if err != nil {
		t.Fatal(err)
	}
	return c.TreeHash
}

// TestPackObjectsRoundTrip: the objects commits introduce, packed, are
// what a bare repository needs to hold them (git index-pack and fsck
// accept the pack) and WriteObjects stores a fetched set readably.
func TestPackObjectsRoundTrip(t *testing.T) {
	r, err := Init(filepath.Join(t.TempDir(), "repo"))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	hs := commitN(t, r, 1, file("a/b/c"), file("a/x"), file("a/b/c"))
	seen := map[plumbing.Hash]bool{}
	var all []plumbing.Hash
	for _, h := range hs {
		c, err := r.Commit(h)
		if err != nil {
			t.Fatal(err)
		}
		objs, err := r.CommitObjects(c, seen)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, objs...)
	}
	pack, err := r.PackObjects(all)
	if err != nil {
		t.Fatal(err)
	}
	bare := filepath.Join(t.TempDir(), "bare.git")
	gitcli.Run(t, filepath.Dir(bare), "init", "-q", "--bare", bare)
	cmd := exec.Command("git", "index-pack", "--stdin", "--strict")
	cmd.Dir = bare
	cmd.Stdin = strings.NewReader(string(pack))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git index-pack: %v\n%s", err, out)
	}
	gitcli.Run(t, bare, "update-ref", "refs/heads/main", hs[2].String())
	gitcli.Run(t, bare, "fsck", "--strict", "--no-dangling")

	// And back: a second repository stores them with WriteObjects.
	r2, err := InitBare(filepath.Join(t.TempDir(), "other.git"))
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	var objs []plumbing.EncodedObject
	for _, h := range all {
		o, err := r.Objects().EncodedObject(plumbing.AnyObject, h)
		if err != nil {
			t.Fatal(err)
		}
		objs = append(objs, o)
	}
	if err := r2.WriteObjects(objs); err != nil {
		t.Fatal(err)
	}
	if err := r2.UpdateRef("refs/heads/main", plumbing.ZeroHash, hs[2]); err != nil {
		t.Fatal(err)
	}
	if data, err := r2.HeadFile("a/x"); err != nil || string(data) != "xx\n" {
		t.Fatalf("a/x = %q, %v", data, err)
	}
	gitcli.Run(t, r2.GitDir(), "fsck", "--strict", "--no-dangling")
}

// TestRepairWorktreeAfterKill: a process killed after moving the branch but
// before writing the worktree and index leaves them behind; the next lock
// holder brings them in line, leaving a person's edit alone.
func TestRepairWorktreeAfterKill(t *testing.T) {
	r, dir := initRepo(t)
	commitN(t, r, 1, file("edited"), file("state"))
	if err := os.WriteFile(filepath.Join(dir, "edited"), []byte("a person's edit\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	idx, err := os.ReadFile(filepath.Join(r.GitDir(), "index"))
	if err != nil {
		t.Fatal(err)
	}
	rec, err := os.ReadFile(filepath.Join(r.GitDir(), syncedFile))
	if err != nil {
		t.Fatal(err)
	}
	commitN(t, r, 5, file("d/new.json"), file("state"))
	// As if killed before the worktree and index were written.
	os.RemoveAll(filepath.Join(dir, "d"))
	os.WriteFile(filepath.Join(dir, "state"), []byte("xx\n"), 0o644)
	os.WriteFile(filepath.Join(dir, ".vios-tmp-123"), []byte("torn"), 0o644)
	os.WriteFile(filepath.Join(r.GitDir(), "index"), idx, 0o644)
	os.WriteFile(filepath.Join(r.GitDir(), syncedFile), rec, 0o644)
	// git status (which rewrites the index) does not hide the damage.
	if st := gitcli.Run(t, dir, "status", "--porcelain"); st == "" {
		t.Fatal("the simulated kill left nothing to repair")
	}
	unlock, err := r.Lock(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	unlock()
	if st := gitcli.Run(t, dir, "status", "--porcelain"); st != " M edited" {
		t.Fatalf("status after repair: %q, want only the person's edit", st)
	}
	gitcli.Run(t, dir, "fsck", "--strict")
}

// TestHasAnswersMissesFromTheIndexes: a missing object is reported missing
// (without asking go-git to reload every index), and an object that another
// handle (another process) wrote since is found.
func TestHasAnswersMissesFromTheIndexes(t *testing.T) {
	r, err := Init(filepath.Join(t.TempDir(), "repo"))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	commitN(t, r, 1, file("a"), file("b"))
	missing := plumbing.NewHash("0123456789abcdef0123456789abcdef01234567")
	if r.Has(missing) {
		t.Fatal("Has of a missing object")
	}
	if !r.odb.complete() {
		t.Fatal("the odb does not cover a repository vios wrote alone")
	}
	other, err := Open(r.Root())
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	hs := commitN(t, other, 3, file("c"))
	if !r.Has(hs[0]) {
		t.Fatal("Has misses a commit another handle wrote")
	}
	// An alternates file hands misses to go-git.
	info := filepath.Join(r.GitDir(), "objects", "info")
	if err := os.MkdirAll(info, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(info, "alternates"), []byte(filepath.Join(other.GitDir(), "objects")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if r.Has(missing) || r.odb.complete() || !r.Has(hs[0]) {
		t.Fatal("with alternates")
	}
}
