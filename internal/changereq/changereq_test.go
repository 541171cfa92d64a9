package changereq

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/vision-ios/vios/internal/fault"
	"github.com/vision-ios/vios/internal/gov"
	"github.com/vision-ios/vios/internal/ledger"
	"github.com/vision-ios/vios/internal/testutil"
	"github.com/vision-ios/vios/internal/testutil/gitcli"
)

func TestNewOpensBranchWithSignedDocument(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	cr := f.newCR()
	if cr.ID != "CR-0001" || cr.Branch != "cr/CR-0001" || cr.Baseline != "v1.0" || cr.Document.Version != "v1.1" || cr.From != f.main.String() {
		t.Fatalf("result %+v", cr)
	}
	// HEAD and the worktree are untouched; the branch holds one new commit.
	if h, _ := f.r.Head(); h != f.main {
		t.Fatal("cr new moved HEAD's branch")
	}
	if _, err := os.Stat(filepath.Join(f.dir, cr.Path)); !os.IsNotExist(err) {
		t.Fatalf("the document leaked into the worktree: %v", err)
	}
	if st := gitcli.RunEnv(t, f.dir, nil, "status", "--porcelain"); st != "" {
		t.Fatalf("worktree not clean:\n%s", st)
	}
	data, err := f.r.ReadFile(f.tip(Branch(cr.ID)), cr.Path)
	if err != nil {
		t.Fatal(err)
	}
	doc, problems := ParseDocument(cr.ID, data, frozenDefaults(t))
	if len(problems) > 0 || doc.Paths[0] != "policies/economics.yaml" || doc.Impact["economic_safety_constraints"] == "" {
		t.Fatalf("document %q: %+v", problems, doc)
	}
	// Stock git verifies the commit signature as CODE's.
	out := gitcli.RunEnv(t, f.dir, nil, "-c", "gpg.ssh.allowedSignersFile=policies/keys/allowed_signers", "log", "-1", "--format=%G? %GS %s", "cr/CR-0001")
	if out != "G code@vision-ios.agents change request CR-0001: Raise the per-summary ceiling" {
		t.Fatalf("git log: %q", out)
	}
	// Numbers are never reused: the next one sees the branch.
	if next := f.newCR(); next.ID != "CR-0002" {
		t.Fatalf("second CR is %s", next.ID)
	}
	// A remote-tracking branch counts too.
	f.r.Git.Storer.SetReference(plumbing.NewHashReference("refs/remotes/origin/cr/CR-0041", f.main))
	if next := f.newCR(); next.ID != "CR-0042" {
		t.Fatalf("after origin/cr/CR-0041: %s", next.ID)
	}
}

func TestNewRefusesBadInput(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	base := NewOptions{
		Title: "t", Rationale: "r", Categories: []string{"economic_safety_constraints"},
		Impact: map[string]string{"economic_safety_constraints": "i"}, Signer: f.signers["CODE"], Now: f.now(),
	}
	tests := []struct {
		name string
		edit func(*NewOptions)
		want string
	}{
		{"no title", func(o *NewOptions) { o.Title = " " }, "--title"},
		{"two-line title", func(o *NewOptions) { o.Title = "a\nb" }, "one line"},
		{"no rationale", func(o *NewOptions) { o.Rationale = "" }, "rationale"},
		{"no category", func(o *NewOptions) { o.Categories = nil }, "--category"},
		{"unknown category", func(o *NewOptions) { o.Categories = []string{"vibes"} }, `category "vibes"`},
		{"no impact", func(o *NewOptions) { o.Impact = nil }, "--impact economic_safety_constraints=TEXT"},
		{"impact of another category", func(o *NewOptions) { o.Impact["orchestrator_logic"] = "x" }, "not a --category"},
		{"glob category needs paths", func(o *NewOptions) {
			o.Categories = []string{"agent_contracts"}
			o.Impact = map[string]string{"agent_contracts": "x"}
		}, "declare the exact paths with --path"},
		{"path not frozen", func(o *NewOptions) { o.Paths = []string{"README.md"} }, "not a frozen path"},
		{"path of another category", func(o *NewOptions) { o.Paths = []string{"policies/cycle.yaml"} }, "add --category orchestrator_logic"},
		{"glob path", func(o *NewOptions) { o.Paths = []string{"policies/*.yaml"} }, "not globs"},
		{"wrong signer", func(o *NewOptions) { o.Signer = f.signers["LARS"] }, "signed by CODE"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := base
			o.Impact = map[string]string{"economic_safety_constraints": "i"}
			tc.edit(&o)
			_, err := New(context.Background(), f.r, o)
			if !fault.IsInput(err) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want bad input with %q", err, tc.want)
			}
		})
	}
	// A CODE key that is not the registry's is a governance failure.
	o := base
	o.Signer = testutil.Signers(t, "rogue")["CODE"]
	if _, err := New(context.Background(), f.r, o); fault.Code(err) != fault.CodeGovernance {
		t.Fatalf("rogue CODE key: %v", err)
	}
	// Nothing was left behind by the refusals.
	refs, _ := f.r.Git.Storer.IterReferences()
	refs.ForEach(func(ref *plumbing.Reference) error {
		if strings.Contains(ref.Name().String(), "/cr/") {
			t.Errorf("refused cr new left %s", ref.Name())
		}
		return nil
	})
}

func TestSignOffsAndAudit(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	cr, b, _ := f.ready()

	// Only LARS approves, only VEGA recommends, only with their registry keys.
	if _, err := Approve(ctx, f.r, SignOffOptions{ID: cr.ID, Signer: f.signers["VEGA"], Now: f.now()}); !fault.IsInput(err) {
		t.Fatalf("VEGA approving: %v", err)
	}
	if _, err := Recommend(ctx, f.r, SignOffOptions{ID: cr.ID, Signer: f.signers["LARS"], Verdict: VerdictApprove, Now: f.now()}); !fault.IsInput(err) {
		t.Fatalf("LARS recommending: %v", err)
	}
	if _, err := Recommend(ctx, f.r, SignOffOptions{ID: cr.ID, Signer: f.signers["VEGA"], Verdict: "maybe", Now: f.now()}); !fault.IsInput(err) {
		t.Fatalf("verdict maybe: %v", err)
	}
	rogue := testutil.Signers(t, "rogue")["LARS"]
	if _, err := Approve(ctx, f.r, SignOffOptions{ID: cr.ID, Signer: rogue, Now: f.now()}); fault.Code(err) != fault.CodeGovernance {
		t.Fatalf("rogue LARS key: %v", err)
	}
	if _, err := Approve(ctx, f.r, SignOffOptions{ID: "CR-0077", Signer: f.signers["LARS"], Now: f.now()}); !fault.IsInput(err) || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("unknown CR: %v", err)
	}

	before := f.tip(b)
	tc, _ := f.r.Commit(before)
	content, err := ContentTree(f.r, tc.TreeHash)
	if err != nil {
		t.Fatal(err)
	}
	res := f.approve(cr.ID)
	if res.Already || res.Path != RecordPath(cr.ID, RecordApproval, "LARS", 1) || res.Record.Tree != content.String() || res.Record.Commit != before.String() {
		t.Fatalf("approval %+v (content tree %s)", res, content)
	}
	snap, err := gov.LoadAt(f.r, f.main)
	if err != nil {
		t.Fatal(err)
	}
	if err := res.Record.Verify(res.Path, snap.Registry); err != nil {
		t.Fatalf("approval record does not verify: %v", err)
	}
	// Approving the same tree again changes nothing.
	again := f.approve(cr.ID)
	if !again.Already || again.Commit != res.Commit {
		t.Fatalf("second approval of the same tree: %+v", again)
	}
	// A new change makes a second, numbered record (the first is evidence).
	f.edit(b, "policies/economics.yaml", "per_summary_ceiling_usd: 0.060", "per_summary_ceiling_usd: 0.065")
	third := f.approve(cr.ID)
	if third.Already || third.Path != RecordPath(cr.ID, RecordApproval, "LARS", 2) || third.Record.Tree == res.Record.Tree {
		t.Fatalf("approval after a change: %+v", third)
	}
	// The commits are signed by the signing agent, as stock git sees it.
	out := gitcli.RunEnv(t, f.dir, nil, "-c", "gpg.ssh.allowedSignersFile=policies/keys/allowed_signers", "log", "--format=%G? %GS", "main.."+b.Short())
	for _, line := range strings.Split(out, "\n") {
		if !strings.HasPrefix(line, "G ") {
			t.Fatalf("unverified commit on the CR branch:\n%s", out)
		}
	}
	if !strings.Contains(out, "lars@vision-ios.agents") || !strings.Contains(out, "vega@vision-ios.agents") || !strings.Contains(out, "code@vision-ios.agents") {
		t.Fatalf("signers on the CR branch:\n%s", out)
	}

}

func TestApproveRefusesIncompleteDocument(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	b := f.branchAt("cr/CR-0005", f.main)
	d := sampleDoc()
	d.ID, d.Rationale = "CR-0005", ""
	f.commit(b, "CODE", "cr", "change_request", ledger.File{Path: DocPath("CR-0005"), Data: d.Markdown()})
	_, err := Approve(context.Background(), f.r, SignOffOptions{ID: "CR-0005", Signer: f.signers["LARS"], Now: f.now()})
	if fault.Code(err) != fault.CodeGovernance || !strings.Contains(err.Error(), "Rationale") {
		t.Fatalf("approving an incomplete document: %v", err)
	}
}

// TestContentTreeMatchesGit: the tree a sign-off binds to is what git
// itself computes for the head tree without the sign-off records.
func TestContentTreeMatchesGit(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	cr, b, _ := f.ready()
	f.approve(cr.ID)
	head := f.tip(b)
	hc, _ := f.r.Commit(head)
	got, err := ContentTree(f.r, hc.TreeHash)
	if err != nil {
		t.Fatal(err)
	}
	env := []string{"GIT_INDEX_FILE=" + filepath.Join(t.TempDir(), "index")}
	gitcli.RunEnv(t, f.dir, env, "read-tree", head.String())
	gitcli.RunEnv(t, f.dir, env, "rm", "--cached", "-q",
		"05_GOVERNANCE/CHANGE_REQUESTS/"+cr.ID+".approval.LARS.json",
		"05_GOVERNANCE/CHANGE_REQUESTS/"+cr.ID+".recommendation.VEGA.json")
	want := gitcli.RunEnv(t, f.dir, env, "write-tree")
	if got.String() != want {
		t.Fatalf("content tree %s, git says %s", got, want)
	}
	// Without records the content tree is the tree itself.
	mc, _ := f.r.Commit(f.main)
	if same, _ := ContentTree(f.r, mc.TreeHash); same != mc.TreeHash {
		t.Fatal("content tree of a tree without records differs")
	}
}
