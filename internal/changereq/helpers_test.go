package changereq

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/vision-ios/vios/internal/ghub"
	"github.com/vision-ios/vios/internal/gov"
	"github.com/vision-ios/vios/internal/ledger"
	"github.com/vision-ios/vios/internal/signing"
	"github.com/vision-ios/vios/internal/testutil"
)

// fixture is a governance repository whose main branch lists GitHub logins
// for LARS (a LARS-signed policy commit), the base every gate test judges
// against.
type fixture struct {
	t       testing.TB
	dir     string
	r       *ledger.Repo
	signers map[string]*signing.Signer
	main    plumbing.Hash
	clock   time.Time
}

var larsLogins = "[lars-bot, Lars-Human]"

func newFixture(t testing.TB) *fixture {
	t.Helper()
	signers := testutil.Signers(t, "changereq")
	dir := testutil.InitRepo(t, signers)
	r, err := ledger.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	f := &fixture{t: t, dir: dir, r: r, signers: signers, clock: testutil.Epoch.Add(time.Hour)}
	head, _ := r.Head()
	data, err := r.ReadFile(head, "policies/governance.yaml")
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(data), "LARS: []", "LARS: "+larsLogins, 1)
	if edited == string(data) {
		t.Fatal("governance.yaml has no empty LARS reviewer list to fill")
	}
	f.main = f.commit(plumbing.NewBranchReferenceName("main"), "LARS", "policy: LARS reviewers on GitHub", "policy",
		ledger.File{Path: "policies/governance.yaml", Data: []byte(edited)})
	return f
}

// now steps the fixture clock by a minute per reading.
func (f *fixture) now() time.Time {
	f.clock = f.clock.Add(time.Minute)
	return f.clock
}

// commit lands files on branch as one commit signed by agent.
func (f *fixture) commit(branch plumbing.ReferenceName, agent, subject, kind string, files ...ledger.File) plumbing.Hash {
	f.t.Helper()
	ref, err := f.r.Git.Storer.Reference(branch)
	if err != nil {
		f.t.Fatalf("branch %s: %v", branch, err)
	}
	ssh, err := f.signers[agent].SSH()
	if err != nil {
		f.t.Fatal(err)
	}
	h, err := f.r.ApplyTo(context.Background(), branch, &ledger.Change{
		Subject: subject, Trailers: [][2]string{{"Vios-Artifact", kind}, {"Vios-Agent", agent}},
		Files: files, Author: gov.Author(agent), When: f.now(), Signer: ssh, Parent: ref.Hash(),
	})
	if err != nil {
		f.t.Fatalf("commit %q on %s: %v", subject, branch.Short(), err)
	}
	return h
}

// branchAt creates branch name at commit h.
func (f *fixture) branchAt(name string, h plumbing.Hash) plumbing.ReferenceName {
	f.t.Helper()
	b := plumbing.NewBranchReferenceName(name)
	if err := f.r.Git.Storer.SetReference(plumbing.NewHashReference(b, h)); err != nil {
		f.t.Fatal(err)
	}
	return b
}

func (f *fixture) tip(b plumbing.ReferenceName) plumbing.Hash {
	f.t.Helper()
	ref, err := f.r.Git.Storer.Reference(b)
	if err != nil {
		f.t.Fatal(err)
	}
	return ref.Hash()
}

// newCR opens a change request on economics.yaml.
func (f *fixture) newCR() *NewResult {
	f.t.Helper()
	res, err := New(context.Background(), f.r, NewOptions{
		Title:      "Raise the per-summary ceiling",
		Rationale:  "Summaries of the new model cost more per token.",
		Categories: []string{"economic_safety_constraints"},
		Impact:     map[string]string{"economic_safety_constraints": "ADR-012: the per-summary ceiling rises; the daily cap is unchanged."},
		Signer:     f.signers["CODE"],
		Now:        f.now(),
	})
	if err != nil {
		f.t.Fatalf("cr new: %v", err)
	}
	return res
}

// edit rewrites one frozen file at branch tip (LARS signs policy changes).
func (f *fixture) edit(b plumbing.ReferenceName, path, old, new string) plumbing.Hash {
	f.t.Helper()
	data, err := f.r.ReadFile(f.tip(b), path)
	if err != nil {
		f.t.Fatal(err)
	}
	s := strings.Replace(string(data), old, new, 1)
	if s == string(data) {
		f.t.Fatalf("%s has no %q", path, old)
	}
	return f.commit(b, "LARS", "policy: edit "+path, "policy", ledger.File{Path: path, Data: []byte(s)})
}

// manifest adds baseline/<version>.json at branch tip, signed by LARS.
func (f *fixture) manifest(b plumbing.ReferenceName, version string) plumbing.Hash {
	f.t.Helper()
	snap, err := gov.LoadAt(f.r, f.tip(b))
	if err != nil {
		f.t.Fatal(err)
	}
	m := gov.Manifest{Version: version, CommitNote: "the merge commit of this change request", CreatedAt: f.now().Format(time.RFC3339),
		Categories: snap.Policy.Governance.Frozen, Files: map[string]string{}}
	data, _ := json.MarshalIndent(m, "", "  ")
	return f.commit(b, "LARS", "baseline "+version, "baseline", ledger.File{Path: "baseline/" + version + ".json", Data: data})
}

func (f *fixture) recommend(id, verdict string) *SignOffResult {
	f.t.Helper()
	res, err := Recommend(context.Background(), f.r, SignOffOptions{ID: id, Signer: f.signers["VEGA"], Verdict: verdict, Note: "checked against ADR-012", Now: f.now()})
	if err != nil {
		f.t.Fatalf("recommend: %v", err)
	}
	return res
}

func (f *fixture) approve(id string) *SignOffResult {
	f.t.Helper()
	res, err := Approve(context.Background(), f.r, SignOffOptions{ID: id, Signer: f.signers["LARS"], Now: f.now()})
	if err != nil {
		f.t.Fatalf("approve: %v", err)
	}
	return res
}

// ready prepares a complete change request: document, the economics edit
// it declares, the v1.1 manifest and VEGA's recommendation (no LARS
// approval yet). It returns the CR and the commit before the recommendation.
func (f *fixture) ready() (*NewResult, plumbing.ReferenceName, plumbing.Hash) {
	f.t.Helper()
	cr := f.newCR()
	b := Branch(cr.ID)
	f.edit(b, "policies/economics.yaml", "per_summary_ceiling_usd: 0.050", "per_summary_ceiling_usd: 0.060")
	before := f.manifest(b, "v1.1")
	f.recommend(cr.ID, VerdictApprove)
	return cr, b, before
}

// fakeGH is a plain struct fake of ghub.Client serving one pull request.
type fakeGH struct {
	pr       ghub.PullRequest
	files    []ghub.File
	reviews  []ghub.Review
	statuses []ghub.Status
	err      error
}

func (g *fakeGH) PullRequest(_ context.Context, n int) (*ghub.PullRequest, error) {
	if g.err != nil {
		return nil, g.err
	}
	pr := g.pr
	pr.Number = n
	return &pr, nil
}
func (g *fakeGH) PullRequestFiles(context.Context, int) ([]ghub.File, error) { return g.files, g.err }
func (g *fakeGH) Reviews(context.Context, int) ([]ghub.Review, error)        { return g.reviews, g.err }
func (g *fakeGH) SetStatus(_ context.Context, _ string, s ghub.Status) error {
	g.statuses = append(g.statuses, s)
	return g.err
}
func (g *fakeGH) ProtectBranch(_ context.Context, p ghub.Protection) (*ghub.Protection, error) {
	return &p, g.err
}
func (g *fakeGH) CreatePullRequest(context.Context, ghub.NewPullRequest) (*ghub.PullRequest, error) {
	return &g.pr, g.err
}
func (g *fakeGH) AddLabels(context.Context, int, ...string) error { return g.err }

// pullRequest builds the fake for a pull request from branch into main,
// its files listed the way GitHub lists them (from the local diff).
func (f *fixture) pullRequest(b plumbing.ReferenceName, reviews ...ghub.Review) *fakeGH {
	f.t.Helper()
	head := f.tip(b)
	mb, err := MergeBase(f.r, f.main, head)
	if err != nil {
		f.t.Fatal(err)
	}
	changes, err := Diff(f.r, mb, head)
	if err != nil {
		f.t.Fatal(err)
	}
	var files []ghub.File
	for _, c := range changes {
		st := map[string]string{Added: ghub.FileAdded, Modified: ghub.FileModified, Deleted: ghub.FileRemoved}[c.Kind]
		files = append(files, ghub.File{Path: c.Path, Status: st})
	}
	return &fakeGH{
		pr:      ghub.PullRequest{HeadSHA: head.String(), HeadRef: b.Short(), BaseSHA: f.main.String(), BaseRef: "main"},
		files:   files,
		reviews: reviews,
	}
}
