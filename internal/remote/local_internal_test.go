package remote

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/vision-ios/vios/internal/gov"
	"github.com/vision-ios/vios/internal/ledger"
	"github.com/vision-ios/vios/internal/testutil"
)

// TestLocalPushRefusesAMovedBranch: a push written in-process moves the
// remote branch only from the tip it was made against. A branch moved
// meanwhile behind vios's back (a git push, which does not take the vios
// lock) refuses the update, like receive-pack, and leaves it where it is.
func TestLocalPushRefusesAMovedBranch(t *testing.T) {
	signers := testutil.Signers(t, "local")
	r, err := ledger.Open(testutil.InitRepo(t, signers))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	bare := filepath.Join(t.TempDir(), "gov.git")
	br, err := ledger.InitBare(bare)
	if err != nil {
		t.Fatal(err)
	}
	br.Close()
	ctx := context.Background()
	ssh, err := signers["CODE"].SSH()
	if err != nil {
		t.Fatal(err)
	}
	commit := func(name string) {
		t.Helper()
		head, _ := r.Head()
		if _, err := r.Apply(ctx, &ledger.Change{Subject: name, Files: []ledger.File{{Path: name + ".txt", Data: []byte(name + "\n")}},
			Author: gov.Author("CODE"), When: testutil.Epoch.Add(time.Hour), Signer: ssh, Parent: head}); err != nil {
			t.Fatal(err)
		}
	}
	commit("a")
	if _, err := Push(ctx, r, Options{Remote: bare}); err != nil {
		t.Fatal(err)
	}
	head, _ := r.Head()
	commit("b")
	s, err := newSyncer(r, Options{Remote: bare})
	if err != nil {
		t.Fatal(err)
	}
	defer s.local.close()
	if s.local == nil || !s.local.push {
		t.Fatalf("a plain bare remote is not written in-process: %+v", s.local)
	}
	rcv, tip, err := s.openReceive(ctx)
	if err != nil || tip != head {
		t.Fatalf("open: tip %s, %v", tip, err)
	}
	// The branch moves back to the root commit behind vios's back.
	c, _ := r.Commit(head)
	moved := c.ParentHashes[0]
	if err := s.local.r.UpdateRef(s.branch, head, moved); err != nil {
		t.Fatal(err)
	}
	newHead, _ := r.Head()
	commits, err := s.chain(tip, newHead)
	if err != nil {
		t.Fatal(err)
	}
	rej, err := rcv.send(ctx, commits)
	if err != nil || rej == nil || !rej.sent || !raced(rej.msg) {
		t.Fatalf("send to a moved branch: %+v, %v", rej, err)
	}
	if cur, _ := s.local.r.Ref(s.branch); cur != moved {
		t.Fatalf("the remote branch is at %s, want it left at %s", cur, moved)
	}
}
