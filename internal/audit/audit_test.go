package audit_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/vision-ios/vios/internal/audit"
	"github.com/vision-ios/vios/internal/clock"
	"github.com/vision-ios/vios/internal/cycle"
	"github.com/vision-ios/vios/internal/gov"
	"github.com/vision-ios/vios/internal/layout"
	"github.com/vision-ios/vios/internal/ledger"
	"github.com/vision-ios/vios/internal/signing"
	"github.com/vision-ios/vios/internal/testutil"
)

type fixture struct {
	r       *ledger.Repo
	signers map[string]*signing.Signer
	logs    []string
	evs     []string
	slots   []time.Time
}

func newFixture(t *testing.T, cycles int) *fixture {
	t.Helper()
	f := &fixture{signers: testutil.Signers(t, t.Name())}
	dir := testutil.InitRepo(t, f.signers)
	r, err := ledger.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	f.r = r
	for i := 1; i <= cycles; i++ {
		slot := testutil.Epoch.Add(time.Duration(i) * time.Hour)
		c, err := cycle.RunAndCommit(context.Background(), r, cycle.Options{Slot: slot, Clock: clock.NewSim(slot, time.Second), Signers: f.signers})
		if err != nil {
			t.Fatal(err)
		}
		f.logs = append(f.logs, c.LogPath)
		f.evs = append(f.evs, layout.Evidence(c.CycleID, slot))
		f.slots = append(f.slots, slot)
	}
	return f
}

// commit lands files on HEAD signed by agent.
func (f *fixture) commit(t *testing.T, agent string, files ...ledger.File) plumbing.Hash {
	t.Helper()
	head, _ := f.r.Head()
	ssh, _ := f.signers[agent].SSH()
	h, err := f.r.Apply(context.Background(), &ledger.Change{Subject: "tamper", Files: files, Author: gov.Author(agent),
		When: testutil.Epoch.Add(100 * time.Hour), Signer: ssh, Parent: head})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func verify(t *testing.T, r *ledger.Repo) *audit.Report {
	t.Helper()
	rep, err := audit.Verify(context.Background(), r, audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func TestCleanHistoryPasses(t *testing.T) {
	f := newFixture(t, 6)
	rep := verify(t, f.r)
	if !rep.Passed || rep.CommitsChecked != 7 || rep.LogsChecked != 6 || rep.EvidenceChecked != 6 || rep.CommitSignatures != 7 || rep.OperationSignatures < 30 {
		t.Fatalf("report %+v", rep)
	}
}

func hasFailure(rep *audit.Report, commit plumbing.Hash, file, check string) bool {
	for _, fl := range rep.Failures {
		if fl.Commit == commit.String() && fl.File == file && fl.Check == check {
			return true
		}
	}
	return false
}

func TestTamperingIsCaught(t *testing.T) {
	t.Run("modified log", func(t *testing.T) {
		f := newFixture(t, 3)
		data, _ := f.r.HeadFile(f.logs[1])
		h := f.commit(t, "CODE", ledger.File{Path: f.logs[1], Data: []byte(edit(t, data, `"verified": true`, `"verified": false`))})
		rep := verify(t, f.r)
		if rep.Passed || !hasFailure(rep, h, f.logs[1], "append-only") {
			t.Fatalf("failures %+v", rep.Failures)
		}
	})
	t.Run("edited evidence", func(t *testing.T) {
		f := newFixture(t, 3)
		data, _ := f.r.HeadFile(f.evs[0])
		h := f.commit(t, "CODE", ledger.File{Path: f.evs[0], Data: []byte(edit(t, data, `"count":90`, `"count":91`))})
		rep := verify(t, f.r)
		if rep.Passed || !hasFailure(rep, h, f.evs[0], "append-only") {
			t.Fatalf("failures %+v", rep.Failures)
		}
	})
	t.Run("signer not allowed", func(t *testing.T) {
		f := newFixture(t, 2)
		p := layout.CostReports + "/COST_REPORT_2026_11_01.json"
		h := f.commit(t, "FINN", ledger.File{Path: p, Data: []byte("{}\n")})
		rep := verify(t, f.r)
		if rep.Passed || !hasFailure(rep, h, p, "commit-signer") {
			t.Fatalf("failures %+v", rep.Failures)
		}
	})
	t.Run("forged log with an evidence mismatch", func(t *testing.T) {
		f := newFixture(t, 2)
		// A new cycle whose evidence output was edited after signing.
		slot := testutil.Epoch.Add(50 * time.Hour)
		eng := engine(t, f)
		res, err := eng.Run(context.Background(), slot, lastLineage(t, f))
		if err != nil {
			t.Fatal(err)
		}
		res.Evidence.Steps[1].Output = []byte(edit(t, res.Evidence.Steps[1].Output, `"event_count":`, `"event_count":1`))
		logPath, evPath := layout.SignatureLog(res.CycleID, slot), layout.Evidence(res.CycleID, slot)
		h := f.commit(t, "CODE", ledger.File{Path: logPath, Data: mustJSON(t, res.Log)}, ledger.File{Path: evPath, Data: mustJSON(t, res.Evidence)})
		rep := verify(t, f.r)
		if rep.Passed || !hasFailure(rep, h, evPath, "evidence") {
			t.Fatalf("failures %+v", rep.Failures)
		}
	})
	t.Run("resume not signed by LARS", func(t *testing.T) {
		f := newFixture(t, 1)
		data, _ := f.r.HeadFile(layout.StateFile)
		f.commit(t, "CODE", ledger.File{Path: layout.StateFile, Data: []byte(edit(t, data, `"state": "RUNNING"`, `"state": "HALTED"`))})
		h := f.commit(t, "CODE", ledger.File{Path: layout.StateFile, Data: data})
		rep := verify(t, f.r)
		if rep.Passed || !hasFailure(rep, h, layout.StateFile, "resume") || len(rep.Failures) != 1 {
			t.Fatalf("failures %+v", rep.Failures)
		}
	})
	t.Run("broken lineage", func(t *testing.T) {
		f := newFixture(t, 2)
		slot := testutil.Epoch.Add(60 * time.Hour)
		bogus := "sha256:" + strings.Repeat("0", 64)
		res, err := engine(t, f).Run(context.Background(), slot, &bogus)
		if err != nil {
			t.Fatal(err)
		}
		logPath := layout.SignatureLog(res.CycleID, slot)
		h := f.commit(t, "CODE", ledger.File{Path: logPath, Data: mustJSON(t, res.Log)}, ledger.File{Path: layout.Evidence(res.CycleID, slot), Data: mustJSON(t, res.Evidence)})
		rep := verify(t, f.r)
		if rep.Passed || !hasFailure(rep, h, logPath, "lineage") {
			t.Fatalf("failures %+v", rep.Failures)
		}
	})
	t.Run("operation signed with a non-registry key", func(t *testing.T) {
		f := newFixture(t, 1)
		slot := testutil.Epoch.Add(70 * time.Hour)
		eng := engine(t, f)
		eng.Signers = map[string]*signing.Signer{}
		for k, v := range f.signers {
			eng.Signers[k] = v
		}
		eng.Signers["STIG"] = testutil.Signers(t, "other")["STIG"]
		res, err := eng.Run(context.Background(), slot, lastLineage(t, f))
		if err != nil {
			t.Fatal(err)
		}
		// Claim it verified: the audit must not trust the log's own verdict.
		for i := range res.Log.Operations {
			res.Log.Operations[i].Verified = true
		}
		logPath := layout.SignatureLog(res.CycleID, slot)
		h := f.commit(t, "CODE", ledger.File{Path: logPath, Data: mustJSON(t, res.Log)}, ledger.File{Path: layout.Evidence(res.CycleID, slot), Data: mustJSON(t, res.Evidence)})
		rep := verify(t, f.r)
		if rep.Passed || !hasFailure(rep, h, logPath, "operation-signature") {
			t.Fatalf("failures %+v", rep.Failures)
		}
	})
}

// edit replaces old with new once and fails the test if old is absent.
func edit(t *testing.T, data []byte, old, new string) string {
	t.Helper()
	if !strings.Contains(string(data), old) {
		t.Fatalf("%q not found", old)
	}
	return strings.Replace(string(data), old, new, 1)
}
