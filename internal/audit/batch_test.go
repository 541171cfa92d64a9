package audit_test

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/google/go-cmp/cmp"

	"github.com/vision-ios/vios/internal/audit"
	"github.com/vision-ios/vios/internal/clock"
	"github.com/vision-ios/vios/internal/cycle"
	"github.com/vision-ios/vios/internal/layout"
	"github.com/vision-ios/vios/internal/ledger"
	"github.com/vision-ios/vios/internal/signing"
	"github.com/vision-ios/vios/internal/testutil"
)

// TestBatchReportsAsOneByOne: on a history that mixes valid signatures with
// bad ones of every kind, batched verification reports exactly what
// verifying each signature on its own reports, however many workers share
// the history out.
func TestBatchReportsAsOneByOne(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, 3)

	// A cycle with one altered signature recorded as verified and one
	// recorded as failed, committed under a signature that does not cover
	// the commit.
	slot := testutil.Epoch.Add(50 * time.Hour)
	res, err := engine(t, f).Run(ctx, slot, lastLineage(t, f))
	if err != nil {
		t.Fatal(err)
	}
	flipSignature(t, &res.Log.Operations[1])
	flipSignature(t, &res.Log.Operations[3])
	res.Log.Operations[3].Verified = false
	f.commit(t, "CODE", ledger.File{Path: layout.SignatureLog(res.CycleID, slot), Data: mustJSON(t, res.Log)},
		ledger.File{Path: layout.Evidence(res.CycleID, slot), Data: mustJSON(t, res.Evidence)})
	forged := forgeHead(t, f)

	// A cycle signed with a key outside the registry, recorded as verified.
	slot = testutil.Epoch.Add(60 * time.Hour)
	eng := engine(t, f)
	eng.Signers = map[string]*signing.Signer{}
	for k, v := range f.signers {
		eng.Signers[k] = v
	}
	eng.Signers["STIG"] = testutil.Signers(t, "other")["STIG"]
	if res, err = eng.Run(ctx, slot, lastLineage(t, f)); err != nil {
		t.Fatal(err)
	}
	for i := range res.Log.Operations {
		res.Log.Operations[i].Verified = true
	}
	f.commit(t, "CODE", ledger.File{Path: layout.SignatureLog(res.CycleID, slot), Data: mustJSON(t, res.Log)},
		ledger.File{Path: layout.Evidence(res.CycleID, slot), Data: mustJSON(t, res.Evidence)})

	// Valid cycles after all that.
	for i := 1; i <= 3; i++ {
		slot := testutil.Epoch.Add(time.Duration(70+i) * time.Hour)
		if _, err := cycle.RunAndCommit(ctx, f.r, cycle.Options{Slot: slot, Clock: clock.NewSim(slot, time.Second), Signers: f.signers}); err != nil {
			t.Fatal(err)
		}
	}

	for _, workers := range []int{1, 2, 3} {
		batched, err := audit.Verify(ctx, f.r, audit.Options{Workers: workers})
		if err != nil {
			t.Fatal(err)
		}
		alone, err := audit.VerifyOneByOne(ctx, f.r, audit.Options{Workers: workers})
		if err != nil {
			t.Fatal(err)
		}
		batched.DurationMS, alone.DurationMS = 0, 0
		if d := cmp.Diff(alone, batched); d != "" {
			t.Fatalf("%d workers: batched report differs from one-by-one (-alone +batched):\n%s", workers, d)
		}
		// The forged commit; steps 2 and 4 of its cycle (4 recorded as
		// failed, so not a finding); STIG's step of the next cycle.
		if !hasCheck(batched, forged, "commit-signature") || count(batched, "operation-signature") != 2 || batched.OperationSignaturesBad != 3 {
			t.Fatalf("%d workers: the bad signatures are not all reported: %+v", workers, batched)
		}
	}
}

// flipSignature alters one bit of an operation's signature, which stays
// well formed.
func flipSignature(t *testing.T, op *cycle.OperationSignature) {
	t.Helper()
	raw, err := signing.ParseSignature(op.Signature)
	if err != nil {
		t.Fatal(err)
	}
	raw[40] ^= 1
	op.Signature = "ed25519:" + base64.StdEncoding.EncodeToString(raw)
}

// forgeHead rewrites HEAD's message under its unchanged SSH signature, which
// therefore no longer verifies, and moves the branch to the forgery.
func forgeHead(t *testing.T, f *fixture) plumbing.Hash {
	t.Helper()
	head, err := f.r.Head()
	if err != nil {
		t.Fatal(err)
	}
	c, err := f.r.Commit(head)
	if err != nil {
		t.Fatal(err)
	}
	c.Message = strings.Replace(c.Message, "tamper", "forged", 1)
	obj := f.r.Objects().NewEncodedObject()
	if err := c.Encode(obj); err != nil {
		t.Fatal(err)
	}
	h, err := f.r.Objects().SetEncodedObject(obj)
	if err != nil {
		t.Fatal(err)
	}
	br, err := f.r.Branch()
	if err != nil {
		t.Fatal(err)
	}
	if err := f.r.Git.Storer.SetReference(plumbing.NewHashReference(br, h)); err != nil {
		t.Fatal(err)
	}
	return h
}

func hasCheck(rep *audit.Report, commit plumbing.Hash, check string) bool {
	for _, fl := range rep.Failures {
		if fl.Commit == commit.String() && fl.Check == check {
			return true
		}
	}
	return false
}

func count(rep *audit.Report, check string) int {
	n := 0
	for _, fl := range rep.Failures {
		if fl.Check == check {
			n++
		}
	}
	return n
}
