package audit_test

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/vision-ios/vios/internal/audit"
	"github.com/vision-ios/vios/internal/deviation"
	"github.com/vision-ios/vios/internal/gov"
	"github.com/vision-ios/vios/internal/ledger"
	"github.com/vision-ios/vios/internal/signing"
	"github.com/vision-ios/vios/internal/testutil"
)

// TestDeviationRecordsMayOnlyGainEvents: a deviation file may change by
// appending events (with the status they imply); any other change is an
// append-only violation.
func TestDeviationRecordsMayOnlyGainEvents(t *testing.T) {
	at := testutil.Epoch.Add(5 * time.Hour)
	ts := at.Format(time.RFC3339)
	for _, tc := range []struct {
		name   string
		mutate func(d *deviation.Record)
		ok     bool
	}{
		{"events appended", func(d *deviation.Record) {
			d.Append(deviation.Event{At: ts, Type: deviation.EventAlert, By: "CODE", Deliveries: []deviation.Delivery{{Sink: "stderr", DeliveredAt: ts, Attempts: 1}}},
				deviation.Event{At: ts, Type: deviation.EventBreached, By: "CODE"})
		}, true},
		{"resolved", func(d *deviation.Record) {
			d.Append(deviation.Event{At: ts, Type: deviation.EventResolved, By: "LARS", RootCause: "c", Plan: "p"})
		}, true},
		{"an old event edited", func(d *deviation.Record) {
			d.Events[0].Detail = "nothing happened"
			d.Append(deviation.Event{At: ts, Type: deviation.EventNote, By: "CODE"})
		}, false},
		{"an event removed", func(d *deviation.Record) {
			d.Events = d.Events[:0]
		}, false},
		{"nothing appended", func(d *deviation.Record) { d.Status = deviation.StatusResolved }, false},
		{"detection moved", func(d *deviation.Record) {
			d.DetectedAt = at.Add(time.Hour).Format(time.RFC3339)
			d.Append(deviation.Event{At: ts, Type: deviation.EventNote, By: "CODE"})
		}, false},
		{"type changed", func(d *deviation.Record) {
			d.Type = deviation.Determinism
			d.Append(deviation.Event{At: ts, Type: deviation.EventNote, By: "CODE"})
		}, false},
		{"status not following its events", func(d *deviation.Record) {
			d.Append(deviation.Event{At: ts, Type: deviation.EventNote, By: "CODE"})
			d.Status = deviation.StatusResolved
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, 1)
			snap, err := gov.Load(f.r)
			if err != nil {
				t.Fatal(err)
			}
			d, err := deviation.New(snap.Policy, deviation.CostCeiling, "abc", "", "test", at)
			if err != nil {
				t.Fatal(err)
			}
			f.commit(t, "CODE", ledger.File{Path: d.Path(), Data: d.Marshal()})
			tc.mutate(d)
			h := f.commit(t, "CODE", ledger.File{Path: d.Path(), Data: d.Marshal()})
			rep := verify(t, f.r)
			if rep.Passed != tc.ok {
				t.Fatalf("passed %v, want %v: %+v", rep.Passed, tc.ok, rep.Failures)
			}
			if !tc.ok && !hasFailure(rep, h, d.Path(), "append-only") {
				t.Fatalf("failures %+v", rep.Failures)
			}
		})
	}
	t.Run("gaining events signed by an agent not allowed", func(t *testing.T) {
		f := newFixture(t, 1)
		snap, _ := gov.Load(f.r)
		d, _ := deviation.New(snap.Policy, deviation.CostCeiling, "abc", "", "test", at)
		f.commit(t, "CODE", ledger.File{Path: d.Path(), Data: d.Marshal()})
		d.Append(deviation.Event{At: ts, Type: deviation.EventNote, By: "FINN"})
		h := f.commit(t, "FINN", ledger.File{Path: d.Path(), Data: d.Marshal()})
		if rep := verify(t, f.r); rep.Passed || !hasFailure(rep, h, d.Path(), "commit-signer") {
			t.Fatalf("failures %+v", rep.Failures)
		}
	})
}

// TestSignatureLogRetention: a log deleted inside the retention window is
// a "retention" failure naming HEAD; outside the window only the deletion
// itself (append-only) is flagged; a restored log is not missing.
func TestSignatureLogRetention(t *testing.T) {
	deleteLog := func(t *testing.T, f *fixture, i int) {
		t.Helper()
		head, _ := f.r.Head()
		c, _ := f.r.Commit(head)
		ssh, _ := f.signers["CODE"].SSH()
		// ledger.Apply only adds or replaces files: build the deletion
		// through git's object model by rewriting the parent directory.
		tree, err := removePath(f.r, c.TreeHash, f.logs[i])
		if err != nil {
			t.Fatal(err)
		}
		if _, err := commitTree(f.r, tree, head, ssh, "CODE"); err != nil {
			t.Fatal(err)
		}
	}
	retention := func(rep *audit.Report) []audit.Failure {
		var out []audit.Failure
		for _, fl := range rep.Failures {
			if fl.Check == "retention" {
				out = append(out, fl)
			}
		}
		return out
	}
	t.Run("inside the window", func(t *testing.T) {
		f := newFixture(t, 3)
		deleteLog(t, f, 1)
		head, _ := f.r.Head()
		rep, err := audit.Verify(context.Background(), f.r, audit.Options{Now: testutil.Epoch.AddDate(0, 6, 0)})
		if err != nil {
			t.Fatal(err)
		}
		got := retention(rep)
		if len(got) != 1 || got[0].File != f.logs[1] || got[0].Commit != head.String() || !strings.Contains(got[0].Reason, "365-day retention window") {
			t.Fatalf("retention failures %+v (all: %+v)", got, rep.Failures)
		}
	})
	t.Run("outside the window", func(t *testing.T) {
		f := newFixture(t, 2)
		deleteLog(t, f, 0)
		rep, err := audit.Verify(context.Background(), f.r, audit.Options{Now: testutil.Epoch.AddDate(2, 0, 0)})
		if err != nil {
			t.Fatal(err)
		}
		if got := retention(rep); len(got) != 0 || rep.Passed {
			t.Fatalf("retention %+v, passed %v (the deletion itself is still an append-only failure)", got, rep.Passed)
		}
	})
	t.Run("restored", func(t *testing.T) {
		f := newFixture(t, 2)
		data, _ := f.r.HeadFile(f.logs[0])
		deleteLog(t, f, 0)
		f.commit(t, "CODE", ledger.File{Path: f.logs[0], Data: data})
		rep, err := audit.Verify(context.Background(), f.r, audit.Options{Now: testutil.Epoch})
		if err != nil {
			t.Fatal(err)
		}
		if got := retention(rep); len(got) != 0 {
			t.Fatalf("retention %+v", got)
		}
	})
}

// removePath returns tree with the file at p removed, writing the changed
// trees as loose objects.
func removePath(r *ledger.Repo, tree plumbing.Hash, p string) (plumbing.Hash, error) {
	t, err := object.GetTree(r.Objects(), tree)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	dir, rest, nested := strings.Cut(p, "/")
	var entries []object.TreeEntry
	for _, e := range t.Entries {
		if e.Name == dir {
			if !nested {
				continue
			}
			if e.Hash, err = removePath(r, e.Hash, rest); err != nil {
				return plumbing.ZeroHash, err
			}
		}
		entries = append(entries, e)
	}
	obj := r.Objects().NewEncodedObject()
	if err := (&object.Tree{Entries: entries}).Encode(obj); err != nil {
		return plumbing.ZeroHash, err
	}
	return r.Objects().SetEncodedObject(obj)
}

// commitTree commits tree on parent signed by agent and moves the branch.
func commitTree(r *ledger.Repo, tree, parent plumbing.Hash, ssh *signing.SSHSigner, agent string) (plumbing.Hash, error) {
	a := gov.Author(agent)
	sig := object.Signature{Name: a.Name, Email: a.Email, When: testutil.Epoch.Add(200 * time.Hour)}
	c := &object.Commit{Author: sig, Committer: sig, Message: "delete a log\n", TreeHash: tree, ParentHashes: []plumbing.Hash{parent}}
	unsigned := &plumbing.MemoryObject{}
	if err := c.EncodeWithoutSignature(unsigned); err != nil {
		return plumbing.ZeroHash, err
	}
	rd, _ := unsigned.Reader()
	payload, _ := io.ReadAll(rd)
	armored, err := ssh.SignGit(payload)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	c.PGPSignature = string(armored)
	obj := r.Objects().NewEncodedObject()
	if err := c.Encode(obj); err != nil {
		return plumbing.ZeroHash, err
	}
	h, err := r.Objects().SetEncodedObject(obj)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	br, err := r.Branch()
	if err != nil {
		return plumbing.ZeroHash, err
	}
	return h, r.Git.Storer.SetReference(plumbing.NewHashReference(br, h))
}
