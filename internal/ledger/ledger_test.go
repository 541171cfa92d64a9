package ledger

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/vision-ios/vios/internal/fault"
	"github.com/vision-ios/vios/internal/signing"
	"github.com/vision-ios/vios/internal/testutil/gitcli"
)

// initRepo initialises a repository for the test, closed when it ends,
// and returns it and its directory.
func initRepo(t testing.TB) (*Repo, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "repo")
	r, err := Init(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r, dir
}

func sshSigner(t testing.TB, agent string, seed byte) (*signing.SSHSigner, ed25519.PublicKey) {
	t.Helper()
	s := make([]byte, 32)
	for i := range s {
		s[i] = seed
	}
	sg, err := signing.NewSigner(agent, ed25519.NewKeyFromSeed(s))
	if err != nil {
		t.Fatal(err)
	}
	ssh, err := sg.SSH()
	if err != nil {
		t.Fatal(err)
	}
	return ssh, sg.Public()
}

func TestApplySignedCommitsVerifyWithGit(t *testing.T) {
	r, dir := initRepo(t)
	signer, pub := sshSigner(t, "CODE", 7)
	ak, _ := signing.AuthorizedKey(pub)
	when := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	ctx := context.Background()
	// Names chosen to exercise git's tree order: "a" (dir) sorts as "a/",
	// after "a.b" and before "a0".
	batches := [][]File{
		{{Path: "a/x.txt", Data: []byte("x\n")}, {Path: "a.b", Data: []byte("ab\n")}, {Path: "a0", Data: []byte("0\n")}},
		{{Path: "a/y/z.json", Data: []byte("{}\n")}, {Path: "allowed_signers", Data: []byte("code@x namespaces=\"git\" " + ak + "\n")}},
		{{Path: "a.b", Data: []byte("changed\n")}},
	}
	var parent plumbing.Hash
	for i, files := range batches {
		h, err := r.Apply(ctx, &Change{Subject: "batch", Body: "body", Trailers: [][2]string{{"Vios-Artifact", "test"}},
			Files: files, Author: Person{"CODE", "code@x"}, When: when.Add(time.Duration(i) * time.Minute), Signer: signer, Parent: parent})
		if err != nil {
			t.Fatalf("apply %d: %v", i, err)
		}
		parent = h
	}
	gitcli.Run(t, dir, "fsck", "--strict")
	out := gitcli.Run(t, dir, "-c", "gpg.ssh.allowedSignersFile=allowed_signers", "log", "--format=%G?")
	if strings.TrimSpace(out) != "G\nG\nG" {
		t.Fatalf("git %%G? = %q", out)
	}
	if st := gitcli.Run(t, dir, "status", "--porcelain"); st != "" {
		t.Fatalf("worktree not clean:\n%s", st)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "a.b")); string(got) != "changed\n" {
		t.Fatalf("worktree a.b = %q", got)
	}
	msg := gitcli.Run(t, dir, "log", "-1", "--format=%(trailers:key=Vios-Artifact,valueonly)")
	if strings.TrimSpace(msg) != "test" {
		t.Fatalf("trailer = %q", msg)
	}
	data, err := r.HeadFile("a/y/z.json")
	if err != nil || string(data) != "{}\n" {
		t.Fatalf("HeadFile = %q, %v", data, err)
	}
	if _, err := r.HeadFile("a/none"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing file: %v", err)
	}
}

func TestApplyRefusesMovedBranchAndBadPaths(t *testing.T) {
	r, _ := initRepo(t)
	signer, _ := sshSigner(t, "CODE", 8)
	ctx := context.Background()
	ch := func(parent plumbing.Hash, p string) *Change {
		return &Change{Subject: "s", Files: []File{{Path: p, Data: []byte("d")}}, Author: Person{"C", "c@x"}, When: time.Unix(0, 0), Signer: signer, Parent: parent}
	}
	h1, err := r.Apply(ctx, ch(plumbing.ZeroHash, "one"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Apply(ctx, ch(plumbing.ZeroHash, "two")); !errors.Is(err, ErrMoved) {
		t.Fatalf("stale parent: %v", err)
	}
	for _, bad := range []string{"../escape", "/abs", "a/../b", ".git/config", "a//b", ""} {
		if _, err := r.Apply(ctx, ch(h1, bad)); !fault.IsInput(err) {
			t.Errorf("path %q: %v", bad, err)
		}
	}
	if head, _ := r.Head(); head != h1 {
		t.Fatal("a refused change moved the branch")
	}
}

func TestInitRefusesRepositoryWithCommits(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "repo")
	r, err := Init(dir)
	if err != nil {
		t.Fatal(err)
	}
	signer, _ := sshSigner(t, "CODE", 9)
	if _, err := r.Apply(context.Background(), &Change{Subject: "s", Files: []File{{Path: "f", Data: []byte("d")}}, Author: Person{"C", "c@x"}, When: time.Unix(0, 0), Signer: signer}); err != nil {
		t.Fatal(err)
	}
	r.Close()
	if _, err := Init(dir); !fault.IsInput(err) {
		t.Fatalf("init over a repository with commits: %v", err)
	}
	if _, err := Open(t.TempDir()); !errors.Is(err, ErrNotRepo) {
		t.Fatalf("open a plain dir: %v", err)
	}
}

func TestLockSerialises(t *testing.T) {
	r, dir := initRepo(t)
	unlock, err := r.Lock(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	r2, _ := Open(dir)
	defer r2.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := r2.Lock(ctx); !errors.Is(err, ErrLockTaken) {
		t.Fatalf("second lock: %v", err)
	}
	unlock()
	u2, err := r2.Lock(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	u2()
}

// TestSplitCommitSignatureMatchesGoGit: on the commits vios signs, the
// payload and signature cut from the raw object are go-git's re-encoding
// without the signature and its decoded signature.
func TestSplitCommitSignatureMatchesGoGit(t *testing.T) {
	r, _ := initRepo(t)
	signer, _ := sshSigner(t, "CODE", 5)
	h, err := r.Apply(context.Background(), &Change{Subject: "s", Body: "body\n\ngpgsig lookalike", Trailers: [][2]string{{"Vios-Artifact", "t"}},
		Files: []File{{Path: "a", Data: []byte("a")}}, Author: Person{"CODE", "code@x"}, When: time.Unix(1767225600, 0), Signer: signer})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := r.ReadTyped(h, plumbing.CommitObject, nil)
	if err != nil {
		t.Fatal(err)
	}
	cm, err := r.Commit(h)
	if err != nil {
		t.Fatal(err)
	}
	var want plumbing.MemoryObject
	if err := cm.EncodeWithoutSignature(&want); err != nil {
		t.Fatal(err)
	}
	rd, err := want.Reader()
	if err != nil {
		t.Fatal(err)
	}
	wantPayload, _ := io.ReadAll(rd)
	payload, sig := SplitCommitSignature(raw, nil)
	if string(payload) != string(wantPayload) || string(sig) != cm.PGPSignature || cm.PGPSignature == "" {
		t.Fatalf("payload %q\nsig %q\nwant %q\n%q", payload, sig, wantPayload, cm.PGPSignature)
	}
}

// TestSplitCommitSignatureAsGitVerifies: a signed commit that also carries
// another signature header (as git writes with a compatibility object
// format) verifies with git verify-commit, and the payload and signature
// cut from it verify too.
func TestSplitCommitSignatureAsGitVerifies(t *testing.T) {
	gitcli.Available(t)
	r, dir := initRepo(t)
	signer, pub := sshSigner(t, "CODE", 6)
	ak, _ := signing.AuthorizedKey(pub)
	h, err := r.Apply(context.Background(), &Change{Subject: "s", Files: []File{{Path: "a", Data: []byte("a")}},
		Author: Person{"CODE", "code@x"}, When: time.Unix(1767225600, 0), Signer: signer})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := r.ReadTyped(h, plumbing.CommitObject, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Another signature header before ours: git leaves it out of what it
	// verifies.
	odd := bytes.Replace(raw, []byte("\ngpgsig "), []byte("\ngpgsig-sha256 other\n signature\ngpgsig "), 1)
	f := filepath.Join(t.TempDir(), "commit")
	if err := os.WriteFile(f, odd, 0o644); err != nil {
		t.Fatal(err)
	}
	id := gitcli.Run(t, dir, "hash-object", "-t", "commit", "-w", "--literally", f)
	signers := filepath.Join(t.TempDir(), "allowed_signers")
	if err := os.WriteFile(signers, []byte("code@x namespaces=\"git\" "+ak+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	gitcli.Run(t, dir, "-c", "gpg.ssh.allowedSignersFile="+signers, "verify-commit", id)
	payload, sig := SplitCommitSignature(odd, nil)
	if _, err := signing.VerifyGit(string(sig), payload); err != nil {
		t.Fatalf("git verifies the commit, the split does not: %v", err)
	}
}

// TestReferenceReadsAsGoGit: the direct read of loose references agrees
// with go-git's storage on every form a reference takes, and leaves the
// others (packed, missing, malformed, outside refs/) to it.
func TestReferenceReadsAsGoGit(t *testing.T) {
	gitcli.Available(t)
	dir := t.TempDir()
	run := func(args ...string) string { return gitcli.Run(t, dir, args...) }
	run("init", "-q", "-b", "main")
	run("-c", "user.name=t", "-c", "user.email=t@x", "commit", "-q", "--allow-empty", "-m", "one")
	run("branch", "packed")
	run("pack-refs", "--all", "--prune")
	run("branch", "loose")
	run("symbolic-ref", "refs/heads/sym", "refs/heads/loose")
	gitDir := filepath.Join(dir, ".git")
	os.WriteFile(filepath.Join(gitDir, "refs", "heads", "crlf"), []byte(strings.TrimSpace(run("rev-parse", "HEAD"))+"\r\n"), 0o644)
	os.WriteFile(filepath.Join(gitDir, "refs", "heads", "junk"), []byte("not a ref\n"), 0o644)
	// Symbolic links: go-git follows one inside the repository and refuses
	// one that leaves it.
	outside := filepath.Join(t.TempDir(), "x")
	os.WriteFile(outside, []byte(strings.TrimSpace(run("rev-parse", "HEAD"))+"\n"), 0o644)
	os.Symlink(outside, filepath.Join(gitDir, "refs", "heads", "outside"))
	os.Symlink("loose", filepath.Join(gitDir, "refs", "heads", "link"))
	r, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for _, name := range []plumbing.ReferenceName{"HEAD", "refs/heads/main", "refs/heads/packed", "refs/heads/loose",
		"refs/heads/sym", "refs/heads/crlf", "refs/heads/junk", "refs/heads/none", "refs/heads/../../HEAD",
		"refs/heads/outside", "refs/heads/link"} {
		got, gerr := r.reference(name)
		want, werr := r.storage.Reference(name)
		if (gerr == nil) != (werr == nil) || gerr != nil && gerr.Error() != werr.Error() {
			t.Errorf("%s: error %v, go-git %v", name, gerr, werr)
			continue
		}
		if gerr == nil && got.String() != want.String() {
			t.Errorf("%s: %s, go-git %s", name, got, want)
		}
	}
}
