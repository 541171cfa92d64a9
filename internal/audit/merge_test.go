package audit_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/vision-ios/vios/internal/audit"
	"github.com/vision-ios/vios/internal/changereq"
	"github.com/vision-ios/vios/internal/clock"
	"github.com/vision-ios/vios/internal/cycle"
	"github.com/vision-ios/vios/internal/gov"
	"github.com/vision-ios/vios/internal/ledger"
	"github.com/vision-ios/vios/internal/testutil"
	"github.com/vision-ios/vios/internal/testutil/gitcli"
)

// mergeFixture opens change request CR-0001 raising the summary ceiling,
// lets a production cycle land on main meanwhile, signs the CR off as
// asked and merges it with the git CLI the way GitHub does: a merge commit
// no agent signed. It returns the repository directory.
func mergeFixture(t *testing.T, approve bool) string {
	t.Helper()
	gitcli.Available(t)
	ctx := context.Background()
	signers := testutil.Signers(t, t.Name())
	dir := testutil.InitRepo(t, signers)
	r := testutil.OpenRepo(t, dir)
	at := testutil.Epoch.Add(time.Hour)
	now := func() time.Time { at = at.Add(time.Minute); return at }
	cycleAt := func(slot time.Time) {
		if _, err := cycle.RunAndCommit(ctx, r, cycle.Options{Slot: slot, Clock: clock.NewSim(slot, time.Second), Signers: signers}); err != nil {
			t.Fatal(err)
		}
	}
	cycleAt(testutil.Epoch.Add(time.Hour))
	cr, err := changereq.New(ctx, r, changereq.NewOptions{
		Title: "Raise the per-summary ceiling", Rationale: "The new model costs more per token.",
		Categories: []string{"economic_safety_constraints"},
		Impact:     map[string]string{"economic_safety_constraints": "ADR-012: the per-summary ceiling rises; the daily cap is unchanged."},
		Signer:     signers["CODE"], Now: now(),
	})
	if err != nil {
		t.Fatal(err)
	}
	branch := changereq.Branch(cr.ID)
	tip, err := r.Git.Storer.Reference(branch)
	if err != nil {
		t.Fatal(err)
	}
	pol, err := r.ReadFile(tip.Hash(), "policies/economics.yaml")
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(pol), "per_summary_ceiling_usd: 0.050", "per_summary_ceiling_usd: 0.060", 1)
	ssh, _ := signers["LARS"].SSH()
	if _, err := r.ApplyTo(ctx, branch, &ledger.Change{Subject: "policy: raise the ceiling", Files: []ledger.File{{Path: "policies/economics.yaml", Data: []byte(edited)}},
		Author: gov.Author("LARS"), When: now(), Signer: ssh, Parent: tip.Hash()}); err != nil {
		t.Fatal(err)
	}
	if _, err := changereq.Recommend(ctx, r, changereq.SignOffOptions{ID: cr.ID, Signer: signers["VEGA"], Verdict: changereq.VerdictApprove, Now: now()}); err != nil {
		t.Fatal(err)
	}
	if approve {
		if _, err := changereq.Approve(ctx, r, changereq.SignOffOptions{ID: cr.ID, Signer: signers["LARS"], Now: now()}); err != nil {
			t.Fatal(err)
		}
	}
	// The CR branch itself audits clean: every commit signed by an agent
	// allowed for its artifacts, no canonical evidence modified.
	if err := r.Git.Storer.SetReference(plumbing.NewSymbolicReference(plumbing.HEAD, branch)); err != nil {
		t.Fatal(err)
	}
	if rep := verify(t, r); !rep.Passed || rep.GovernanceCommits < 5 {
		t.Fatalf("audit of %s: %d governance commits, failures %+v", branch.Short(), rep.GovernanceCommits, rep.Failures)
	}
	if err := r.Git.Storer.SetReference(plumbing.NewSymbolicReference(plumbing.HEAD, plumbing.NewBranchReferenceName("main"))); err != nil {
		t.Fatal(err)
	}
	cycleAt(testutil.Epoch.Add(2 * time.Hour)) // main moves on while the PR is open
	asGitHub(t, dir, "merge", "--no-ff", "--no-edit", "-m", "Merge pull request #1 from cr/"+cr.ID, branch.Short())
	return dir
}

// asGitHub runs git as GitHub's merge button does: committer GitHub, no
// agent's signature.
func asGitHub(t *testing.T, dir string, args ...string) string {
	t.Helper()
	return gitcli.Run(t, dir, append([]string{"-c", "user.name=GitHub", "-c", "user.email=noreply@github.com"}, args...)...)
}

// A change request merged on GitHub (merge commit signed by no agent)
// passes the audit when LARS approved and VEGA recommended the merged head
// and the merge brings in exactly that head's files.
func TestApprovedMergePasses(t *testing.T) {
	dir := mergeFixture(t, true)
	rep := verify(t, testutil.OpenRepo(t, dir))
	if !rep.Passed || rep.G4Merges != 1 {
		t.Fatalf("approved merge: passed=%v g4_merges=%d failures=%+v", rep.Passed, rep.G4Merges, rep.Failures)
	}
}

func TestUnapprovedMergeFails(t *testing.T) {
	dir := mergeFixture(t, false)
	rep := verify(t, testutil.OpenRepo(t, dir))
	if rep.Passed || rep.G4Merges != 0 || !failureWith(rep.Failures, "commit-signature", "CR-0001 is not approved") {
		t.Fatalf("unapproved merge: %+v", rep)
	}
}

// A merge that changes a file beyond the approved head is not covered by
// the approval.
func TestMergeBeyondApprovedHeadFails(t *testing.T) {
	dir := mergeFixture(t, true)
	pol := asGitHub(t, dir, "show", "HEAD:policies/economics.yaml")
	os.WriteFile(dir+"/policies/economics.yaml", []byte(strings.Replace(pol, "0.060", "0.090", 1)+"\n"), 0o644)
	asGitHub(t, dir, "commit", "-q", "--amend", "--no-edit", "-a")
	rep := verify(t, testutil.OpenRepo(t, dir))
	if rep.Passed || !failureWith(rep.Failures, "commit-signature", "policies/economics.yaml differs from the approved head") {
		t.Fatalf("merge beyond the approved head: %+v", rep)
	}
}

func failureWith(fs []audit.Failure, check, reason string) bool {
	for _, f := range fs {
		if f.Check == check && strings.Contains(f.Reason, reason) {
			return true
		}
	}
	return false
}
