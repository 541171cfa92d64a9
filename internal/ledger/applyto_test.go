package ledger

import (
	"context"
	"errors"
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

// TestApplyToNamedBranch: a commit on a branch that is not checked out
// moves only that branch and leaves HEAD, the worktree and the index
// alone; on the checked-out branch it behaves like Apply.
func TestApplyToNamedBranch(t *testing.T) {
	r, dir := initRepo(t)
	signer, pub := sshSigner(t, "CODE", 11)
	ak, _ := signing.AuthorizedKey(pub)
	ctx := context.Background()
	when := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	change := func(parent plumbing.Hash, files ...File) *Change {
		return &Change{Subject: "s", Files: files, Author: Person{"CODE", "code@x"}, When: when, Signer: signer, Parent: parent}
	}
	main, err := r.Apply(ctx, change(plumbing.ZeroHash, File{Path: "allowed_signers", Data: []byte("code@x namespaces=\"git\" " + ak + "\n")}))
	if err != nil {
		t.Fatal(err)
	}
	side := plumbing.NewBranchReferenceName("cr/CR-0001")
	if err := r.Git.Storer.SetReference(plumbing.NewHashReference(side, main)); err != nil {
		t.Fatal(err)
	}
	h, err := r.ApplyTo(ctx, side, change(main, File{Path: "05/CR-0001.md", Data: []byte("# CR\n")}))
	if err != nil {
		t.Fatal(err)
	}
	if head, _ := r.Head(); head != main {
		t.Fatal("HEAD's branch moved")
	}
	if ref, _ := r.Git.Storer.Reference(side); ref.Hash() != h {
		t.Fatalf("%s at %s, want %s", side, ref.Hash(), h)
	}
	if _, err := os.Stat(filepath.Join(dir, "05")); !os.IsNotExist(err) {
		t.Fatalf("worktree touched: %v", err)
	}
	if st := gitcli.Run(t, dir, "status", "--porcelain"); st != "" {
		t.Fatalf("worktree not clean:\n%s", st)
	}
	gitcli.Run(t, dir, "fsck", "--strict")
	if out := gitcli.Run(t, dir, "-c", "gpg.ssh.allowedSignersFile=allowed_signers", "log", "--format=%G?", side.String()); strings.TrimSpace(out) != "G\nG" {
		t.Fatalf("signatures on %s: %q", side.Short(), out)
	}
	if got := strings.TrimSpace(gitcli.Run(t, dir, "show", side.String()+":05/CR-0001.md")); got != "# CR" {
		t.Fatalf("file on %s: %q", side.Short(), got)
	}

	// A stale parent, a branch that does not exist, a name that is no branch.
	if _, err := r.ApplyTo(ctx, side, change(main, File{Path: "x", Data: []byte("x")})); !errors.Is(err, ErrMoved) {
		t.Fatalf("stale parent: %v", err)
	}
	if _, err := r.ApplyTo(ctx, plumbing.NewBranchReferenceName("nope"), change(main, File{Path: "x", Data: []byte("x")})); !errors.Is(err, ErrMoved) {
		t.Fatalf("missing branch: %v", err)
	}
	for _, bad := range []plumbing.ReferenceName{"refs/tags/v1", "HEAD", "refs/heads/../../x"} {
		if _, err := r.ApplyTo(ctx, bad, change(main, File{Path: "x", Data: []byte("x")})); !fault.IsInput(err) {
			t.Errorf("ApplyTo(%s): %v", bad, err)
		}
	}

	// On the checked-out branch the worktree follows, as with Apply.
	mainRef := plumbing.NewBranchReferenceName(DefaultBranch)
	h2, err := r.ApplyTo(ctx, mainRef, change(main, File{Path: "notes.txt", Data: []byte("n\n")}))
	if err != nil {
		t.Fatal(err)
	}
	if head, _ := r.Head(); head != h2 {
		t.Fatal("main did not move")
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "notes.txt")); string(got) != "n\n" {
		t.Fatalf("worktree notes.txt = %q", got)
	}
	if st := gitcli.Run(t, dir, "status", "--porcelain"); st != "" {
		t.Fatalf("worktree not clean:\n%s", st)
	}
}
