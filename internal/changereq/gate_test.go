package changereq

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/vision-ios/vios/internal/fault"
	"github.com/vision-ios/vios/internal/ghub"
	"github.com/vision-ios/vios/internal/layout"
	"github.com/vision-ios/vios/internal/ledger"
)

func review(id int64, login, state string, commit plumbing.Hash, at time.Time) ghub.Review {
	return ghub.Review{ID: id, Login: login, State: state, CommitID: commit.String(), SubmittedAt: at}
}

func ruleOf(res *Result, name string) *Rule {
	for i := range res.Rules {
		if res.Rules[i].Name == name {
			return &res.Rules[i]
		}
	}
	return nil
}

func TestGate(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	t0 := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)

	// A complete change request awaiting LARS, and variants of it.
	_, ready, older := f.ready()

	signed, _, _ := f.ready()
	signedBranch := Branch(signed.ID)
	f.approve(signed.ID)

	stale, _, _ := f.ready()
	staleBranch := Branch(stale.ID)
	f.approve(stale.ID)
	f.edit(staleBranch, "policies/economics.yaml", "per_summary_ceiling_usd: 0.060", "per_summary_ceiling_usd: 0.070")

	batch, _, _ := f.ready()
	batchBranch := Branch(batch.ID)
	other := *batch.Document
	other.ID = "CR-0900"
	f.commit(batchBranch, "CODE", "change request CR-0900", "change_request", ledger.File{Path: DocPath("CR-0900"), Data: other.Markdown()})

	noVersion := f.newCR()
	noVersionBranch := Branch(noVersion.ID)
	f.edit(noVersionBranch, "policies/economics.yaml", "per_summary_ceiling_usd: 0.050", "per_summary_ceiling_usd: 0.060")
	f.recommend(noVersion.ID, VerdictApprove)
	f.approve(noVersion.ID)

	undeclared, _, _ := f.ready()
	undeclaredBranch := Branch(undeclared.ID)
	f.edit(undeclaredBranch, "policies/determinism.yaml", "overall_target:", "overall_target:  ")
	f.approve(undeclared.ID)

	rejected := f.newCR()
	rejectedBranch := Branch(rejected.ID)
	f.edit(rejectedBranch, "policies/economics.yaml", "per_summary_ceiling_usd: 0.050", "per_summary_ceiling_usd: 0.060")
	f.manifest(rejectedBranch, "v1.1")
	f.recommend(rejected.ID, VerdictApprove)
	f.recommend(rejected.ID, VerdictReject) // the later recommendation stands
	f.approve(rejected.ID)

	skipped := f.newCR()
	skippedBranch := Branch(skipped.ID)
	f.edit(skippedBranch, "policies/economics.yaml", "per_summary_ceiling_usd: 0.050", "per_summary_ceiling_usd: 0.060")
	f.manifest(skippedBranch, "v1.3")
	f.recommend(skipped.ID, VerdictApprove)
	f.approve(skipped.ID)

	// A forged approval: LARS's genuine record with its tree swapped.
	forged, _, _ := f.ready()
	forgedBranch := Branch(forged.ID)
	good := f.approve(forged.ID)
	bad := *good.Record
	bad.Tree = strings.Repeat("ab", 20)
	f.commit(forgedBranch, "LARS", "forged", "change_request", ledger.File{Path: RecordPath(forged.ID, RecordApproval, "LARS", 2), Data: bad.Marshal()})

	// An approval signed with VEGA's key but claiming LARS.
	impostor, _, _ := f.ready()
	impostorBranch := Branch(impostor.ID)
	snapTip := f.tip(impostorBranch)
	tc, _ := f.r.Commit(snapTip)
	ct, _ := ContentTree(f.r, tc.TreeHash)
	imp := &Record{Type: RecordApproval, ChangeRequest: impostor.ID, Agent: "LARS", Verdict: VerdictApprove, Tree: ct.String(), Commit: snapTip.String(), RequestedVersion: "v1.1", SignedAt: f.now().Format(time.RFC3339)}
	if err := imp.Sign(f.signers["VEGA"], "lars-00"); err != nil {
		t.Fatal(err)
	}
	f.commit(impostorBranch, "LARS", "impostor", "change_request", ledger.File{Path: RecordPath(impostor.ID, RecordApproval, "LARS", 1), Data: imp.Marshal()})

	// Changes without a change request.
	evidence := f.branchAt("evidence-only", f.main)
	f.commit(evidence, "CODE", "cost report", "cost_report", ledger.File{Path: layout.CostReports + "/COST_REPORT_2026_11_01.json", Data: []byte("{}\n")})
	sneaky := f.branchAt("sneaky", f.main)
	f.edit(sneaky, "policies/economics.yaml", "per_summary_ceiling_usd: 0.050", "per_summary_ceiling_usd: 5.0")

	// A hand-written document whose rationale is only a placeholder.
	incompleteBranch := f.branchAt("cr/CR-0950", f.main)
	doc := *batch.Document
	doc.ID, doc.Rationale = "CR-0950", "<!-- why is this needed? -->"
	f.commit(incompleteBranch, "CODE", "change request CR-0950", "change_request", ledger.File{Path: DocPath("CR-0950"), Data: doc.Markdown()})
	f.edit(incompleteBranch, "policies/economics.yaml", "per_summary_ceiling_usd: 0.050", "per_summary_ceiling_usd: 0.060")
	f.manifest(incompleteBranch, "v1.1")
	f.recommend("CR-0950", VerdictApprove)

	tests := []struct {
		name    string
		branch  plumbing.ReferenceName
		offline bool
		reviews func(head plumbing.Hash) []ghub.Review
		pass    bool
		failed  map[string]string // rule -> substring of its reason
	}{
		{
			name: "approved at head", branch: ready,
			reviews: func(h plumbing.Hash) []ghub.Review {
				return []ghub.Review{review(1, "lars-bot", ghub.ReviewApproved, h, t0)}
			},
			pass: true,
		},
		{
			name: "approved at head by a login in another case", branch: ready,
			reviews: func(h plumbing.Hash) []ghub.Review {
				return []ghub.Review{review(1, "LARS-HUMAN", ghub.ReviewApproved, h, t0)}
			},
			pass: true,
		},
		{
			name: "approved at an older head", branch: ready,
			reviews: func(plumbing.Hash) []ghub.Review {
				return []ghub.Review{review(1, "lars-bot", ghub.ReviewApproved, older, t0)}
			},
			failed: map[string]string{RuleLARS: "stale"},
		},
		{
			name: "a fresh approval after a stale one", branch: ready,
			reviews: func(h plumbing.Hash) []ghub.Review {
				return []ghub.Review{review(2, "lars-bot", ghub.ReviewApproved, h, t0.Add(time.Hour)), review(1, "lars-bot", ghub.ReviewApproved, older, t0)}
			},
			pass: true,
		},
		{
			name: "unknown reviewer login ignored", branch: ready,
			reviews: func(h plumbing.Hash) []ghub.Review {
				return []ghub.Review{review(1, "mallory", ghub.ReviewApproved, h, t0)}
			},
			failed: map[string]string{RuleLARS: "ignored reviews by mallory"},
		},
		{
			name: "later CHANGES_REQUESTED cancels", branch: ready,
			reviews: func(h plumbing.Hash) []ghub.Review {
				return []ghub.Review{review(1, "lars-bot", ghub.ReviewApproved, h, t0), review(2, "lars-bot", ghub.ReviewChangesRequested, h, t0.Add(time.Minute))}
			},
			failed: map[string]string{RuleLARS: "cancelled by a later CHANGES_REQUESTED"},
		},
		{
			name: "dismissed approval", branch: ready,
			reviews: func(h plumbing.Hash) []ghub.Review {
				return []ghub.Review{review(1, "lars-bot", ghub.ReviewDismissed, h, t0)}
			},
			failed: map[string]string{RuleLARS: "dismissed"},
		},
		{
			name: "a comment after the approval changes nothing", branch: ready,
			reviews: func(h plumbing.Hash) []ghub.Review {
				return []ghub.Review{review(1, "lars-bot", ghub.ReviewApproved, h, t0), review(2, "lars-bot", ghub.ReviewCommented, h, t0.Add(time.Minute))}
			},
			pass: true,
		},
		{
			name: "no approval at all", branch: ready,
			failed: map[string]string{RuleLARS: "no signed LARS approval record"},
		},
		{name: "signed approval at head, offline", branch: signedBranch, offline: true, pass: true},
		{name: "signed approval at head, online without reviews", branch: signedBranch, pass: true},
		{
			name: "signed offline approval bound to another tree", branch: staleBranch, offline: true,
			failed: map[string]string{RuleLARS: "bound to another tree"},
		},
		{
			name: "two CR files", branch: batchBranch,
			failed: map[string]string{RuleOneCR: "batching", RuleLARS: "not evaluated", RuleVersion: "not evaluated"},
		},
		{
			name: "no version increment", branch: noVersionBranch, offline: true,
			failed: map[string]string{RuleVersion: "no version increment"},
		},
		{
			name: "version skipped", branch: skippedBranch, offline: true,
			failed: map[string]string{RuleVersion: "is not the next version"},
		},
		{
			name: "undeclared frozen path", branch: undeclaredBranch, offline: true,
			failed: map[string]string{RuleDeclared: "policies/determinism.yaml (determinism thresholds, modified)"},
		},
		{
			name: "VEGA recommends reject", branch: rejectedBranch, offline: true,
			failed: map[string]string{RuleVEGA: "VEGA recommends reject"},
		},
		{
			name: "forged approval record", branch: forgedBranch, offline: true,
			failed: map[string]string{RuleLARS: "fails verification"},
		},
		{
			name: "approval signed with another agent's key", branch: impostorBranch, offline: true,
			failed: map[string]string{RuleLARS: "not the agent's registry key"},
		},
		{
			name: "incomplete document", branch: incompleteBranch,
			reviews: func(h plumbing.Hash) []ghub.Review {
				return []ghub.Review{review(1, "lars-bot", ghub.ReviewApproved, h, t0)}
			},
			failed: map[string]string{RuleComplete: `section "Rationale" is empty`},
		},
		{name: "no change request, no frozen change", branch: evidence, pass: true},
		{
			name: "frozen change without a change request", branch: sneaky, offline: true,
			failed: map[string]string{RuleOneCR: "economic safety constraints"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			head := f.tip(tc.branch)
			in := Input{Repo: f.r, Base: f.main, Head: head}
			var fake *fakeGH
			if !tc.offline {
				var rs []ghub.Review
				if tc.reviews != nil {
					rs = tc.reviews(head)
				}
				fake = f.pullRequest(tc.branch, rs...)
				in = Input{Repo: f.r, GitHub: fake, PR: 7}
			}
			res, err := Gate(ctx, in)
			if err != nil {
				t.Fatal(err)
			}
			if res.Head != head.String() || res.Base != f.main.String() {
				t.Fatalf("judged %s..%s, want %s..%s", res.Base, res.Head, f.main, head)
			}
			if res.Passed != tc.pass {
				t.Fatalf("passed = %v, want %v\n%s", res.Passed, tc.pass, dump(res))
			}
			for name, want := range tc.failed {
				r := ruleOf(res, name)
				if r == nil || r.Passed || !strings.Contains(r.Reason, want) {
					t.Errorf("rule %s: %+v, want a failure with %q\n%s", name, r, want, dump(res))
				}
			}
			if !tc.pass {
				for _, r := range res.Rules {
					if _, listed := tc.failed[r.Name]; !r.Passed && !listed && !r.Skipped {
						t.Errorf("rule %s failed unexpectedly: %s", r.Name, r.Reason)
					}
				}
			}
			if len(res.Summary()) == 0 {
				t.Error("empty summary")
			}
		})
	}
}

func dump(res *Result) string {
	var b strings.Builder
	for _, r := range res.Rules {
		b.WriteString("  " + r.Name + " " + map[bool]string{true: "PASS", false: "FAIL"}[r.Passed] + ": " + r.Reason + "\n")
	}
	return b.String()
}

// TestGateJudgesWhatGitHubReports: a file GitHub lists that the local diff
// does not (or lists as modified) is judged too, the stricter reading wins.
func TestGateJudgesWhatGitHubReports(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	_, b, _ := f.ready()
	f.approve(strings.TrimPrefix(b.Short(), BranchPrefix))
	fake := f.pullRequest(b)
	fake.files = append(fake.files, ghub.File{Path: "policies/cycle.yaml", Status: ghub.FileModified})
	res, err := Gate(context.Background(), Input{Repo: f.r, GitHub: fake, PR: 3})
	if err != nil {
		t.Fatal(err)
	}
	r := ruleOf(res, RuleDeclared)
	if res.Passed || r == nil || !strings.Contains(r.Reason, "policies/cycle.yaml (orchestrator logic, modified)") {
		t.Fatalf("GitHub's extra file was not judged:\n%s", dump(res))
	}
}

// TestGateFailsClosed: when the gate cannot judge, it says why and never
// returns a passing result.
func TestGateFailsClosed(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	_, b, _ := f.ready()
	ctx := context.Background()
	down := errors.New("github unavailable")
	cases := []struct {
		name string
		in   Input
		code int
		want string
	}{
		{"GitHub failing", Input{Repo: f.r, GitHub: &fakeGH{err: down}, PR: 1}, fault.CodeRuntime, "unavailable"},
		{"head not fetched", Input{Repo: f.r, GitHub: &fakeGH{pr: ghub.PullRequest{HeadSHA: strings.Repeat("1", 40), BaseSHA: f.main.String()}}, PR: 1}, fault.CodeInput, "not in the local repository"},
		{"head not a sha", Input{Repo: f.r, GitHub: &fakeGH{pr: ghub.PullRequest{HeadSHA: "main", BaseSHA: f.main.String()}}, PR: 1}, fault.CodeInput, "not a commit id"},
		{"PR without GitHub", Input{Repo: f.r, PR: 1}, fault.CodeInput, "needs GitHub"},
		{"no head", Input{Repo: f.r, Base: f.main}, fault.CodeInput, "need a base and a head"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Gate(ctx, tc.in)
			if err == nil || res != nil {
				t.Fatalf("gate judged: %+v", res)
			}
			if fault.Code(err) != tc.code || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v (exit %d), want exit %d with %q", err, fault.Code(err), tc.code, tc.want)
			}
		})
	}
	_ = b
}

func TestEvaluateReviews(t *testing.T) {
	head := "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	old := "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	at := func(m int) time.Time { return time.Date(2026, 11, 2, 0, m, 0, 0, time.UTC) }
	rv := func(id int64, login, state, commit string, m int) ghub.Review {
		return ghub.Review{ID: id, Login: login, State: state, CommitID: commit, SubmittedAt: at(m)}
	}
	logins := []string{"lars-bot", "lars-human"}
	tests := []struct {
		name             string
		reviews          []ghub.Review
		logins           []string
		approved, blocks bool
		note             string
	}{
		{"approved at head", []ghub.Review{rv(1, "lars-bot", "APPROVED", head, 1)}, logins, true, false, "approved the head"},
		{"stale", []ghub.Review{rv(1, "lars-bot", "APPROVED", old, 1)}, logins, false, false, "stale"},
		{"cancelled", []ghub.Review{rv(1, "lars-bot", "APPROVED", head, 1), rv(2, "lars-bot", "CHANGES_REQUESTED", head, 2)}, logins, false, true, "cancelled"},
		{"changes requested by the other LARS login", []ghub.Review{rv(1, "lars-bot", "APPROVED", head, 1), rv(2, "lars-human", "CHANGES_REQUESTED", head, 2)}, logins, false, true, "requested changes"},
		{"re-approved after requesting changes", []ghub.Review{rv(1, "lars-bot", "CHANGES_REQUESTED", old, 1), rv(2, "lars-bot", "APPROVED", head, 2)}, logins, true, false, "approved the head"},
		{"out of order from the API", []ghub.Review{rv(2, "lars-bot", "CHANGES_REQUESTED", head, 2), rv(1, "lars-bot", "APPROVED", head, 1)}, logins, false, true, "cancelled"},
		{"dismissed", []ghub.Review{rv(1, "lars-bot", "DISMISSED", head, 1)}, logins, false, false, "dismissed"},
		{"pending review ignored", []ghub.Review{rv(1, "lars-bot", "APPROVED", head, 1), {ID: 2, Login: "lars-bot", State: "PENDING"}}, logins, true, false, "approved the head"},
		{"unknown login", []ghub.Review{rv(1, "mallory", "APPROVED", head, 1)}, logins, false, false, "ignored reviews by mallory"},
		{"no LARS logins configured", []ghub.Review{rv(1, "lars-bot", "APPROVED", head, 1)}, nil, false, false, "no login is listed"},
		{"no reviews", nil, logins, false, false, "no review by a LARS login"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ok, blocked, notes := evaluateReviews(tc.reviews, tc.logins, head)
			if ok != tc.approved || blocked != tc.blocks || !strings.Contains(strings.Join(notes, "; "), tc.note) {
				t.Fatalf("approved=%v blocked=%v notes=%q; want %v %v %q", ok, blocked, notes, tc.approved, tc.blocks, tc.note)
			}
		})
	}
}

func TestApprovedForTheFreezeCheck(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	cr, b, _ := f.ready()
	ok, why, err := Approved(f.r, f.main, f.tip(b), cr.ID)
	if err != nil || ok {
		t.Fatalf("before LARS: %v %q %v", ok, why, err)
	}
	f.approve(cr.ID)
	ok, why, err = Approved(f.r, f.main, f.tip(b), cr.ID)
	if err != nil || !ok {
		t.Fatalf("after LARS: %v %q %v", ok, why, err)
	}
}
