package changereq

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/vision-ios/vios/internal/fault"
	"github.com/vision-ios/vios/internal/ghub"
	"github.com/vision-ios/vios/internal/gov"
	"github.com/vision-ios/vios/internal/layout"
	"github.com/vision-ios/vios/internal/ledger"
	"github.com/vision-ios/vios/internal/policy"
)

// Rules of the G4 gate, in the order they are reported.
const (
	RuleOneCR       = "one-change-request"
	RuleDeclared    = "declared-paths"
	RuleComplete    = "complete-document"
	RuleLARS        = "lars-approval"
	RuleVEGA        = "vega-recommendation"
	RuleVersion     = "version-increment"
	RuleNotRequired = "g4-required"
)

// Gate modes.
const (
	ModeGitHub  = "github"
	ModeOffline = "offline"
)

// canonicalEvidence is the frozen category where additions are allowed.
const canonicalEvidence = "canonical_evidence"

// manifestCategory names changes to existing baseline manifests, which are
// frozen like the seven categories.
const manifestCategory = "baseline_manifests"

// Input says what the gate judges. With GitHub and PR set, the pull
// request's head and base come from GitHub, and so do its reviews and
// changed files; otherwise Base and Head are local commits and only the
// signed records count (offline mode).
type Input struct {
	Repo   *ledger.Repo
	GitHub ghub.Client
	PR     int
	Base   plumbing.Hash
	Head   plumbing.Hash
}

// Rule is one rule's verdict.
type Rule struct {
	Name    string `json:"rule"`
	Passed  bool   `json:"passed"`
	Skipped bool   `json:"skipped,omitempty"`
	Reason  string `json:"reason"`
}

// Result is the gate's verdict on a change.
type Result struct {
	Passed        bool     `json:"passed"`
	Mode          string   `json:"mode"`
	PR            int      `json:"pr,omitempty"`
	ChangeRequest string   `json:"change_request,omitempty"`
	Base          string   `json:"base"`
	MergeBase     string   `json:"merge_base"`
	Head          string   `json:"head"`
	ContentTree   string   `json:"content_tree,omitempty"`
	Changes       []Change `json:"changes"`
	Rules         []Rule   `json:"rules"`
}

// Failed returns the rules that did not pass.
func (r *Result) Failed() []Rule {
	var out []Rule
	for _, x := range r.Rules {
		if !x.Passed {
			out = append(out, x)
		}
	}
	return out
}

// Summary is a one-line verdict for a commit status description.
func (r *Result) Summary() string {
	if r.Passed {
		if r.ChangeRequest == "" {
			return "passed: no change request and no frozen path changed"
		}
		return fmt.Sprintf("passed: %s, all %d rules", r.ChangeRequest, len(r.Rules))
	}
	var failed []Rule
	for _, x := range r.Failed() {
		if !x.Skipped {
			failed = append(failed, x)
		}
	}
	if len(failed) == 0 { // cannot happen: a result fails on a failed rule
		return "failed"
	}
	s := failed[0].Name + ": " + failed[0].Reason
	if len(failed) > 1 {
		s = fmt.Sprintf("%d rules failed; %s", len(failed), s)
	}
	return s
}

// Gate judges a change against the G4 rules: exactly one change request;
// it changes only the frozen paths its change request declares; the
// document is complete; LARS approved the exact head (a GitHub review by a
// LARS login from policies/governance.yaml on the head commit, or a
// LARS-signed record naming the head's content tree); VEGA recommends
// approval in a signed record; the baseline version increments with a new
// manifest. The policy, the LARS logins and the registry the records are
// verified against are the base's, never what the change brings. Errors
// are returned only when the gate cannot judge (bad input, GitHub
// failing); a rule that fails is a Result with Passed false.
func Gate(ctx context.Context, in Input) (*Result, error) {
	r := in.Repo
	res := &Result{Mode: ModeOffline, Changes: []Change{}, Rules: []Rule{}}
	base, head := in.Base, in.Head
	online := in.GitHub != nil && in.PR > 0
	var reviews []ghub.Review
	var ghFiles []ghub.File
	if online {
		res.Mode, res.PR = ModeGitHub, in.PR
		pr, err := in.GitHub.PullRequest(ctx, in.PR)
		if err != nil {
			return nil, err
		}
		if base, err = localCommit(r, pr.BaseSHA, fmt.Sprintf("base of pull request #%d", in.PR)); err != nil {
			return nil, err
		}
		if head, err = localCommit(r, pr.HeadSHA, fmt.Sprintf("head of pull request #%d", in.PR)); err != nil {
			return nil, err
		}
		if ghFiles, err = in.GitHub.PullRequestFiles(ctx, in.PR); err != nil {
			return nil, err
		}
		if reviews, err = in.GitHub.Reviews(ctx, in.PR); err != nil {
			return nil, err
		}
	} else if in.PR > 0 {
		return nil, fault.Inputf("gate: pull request #%d needs GitHub (set %s); offline, give --base and --head", in.PR, ghub.EnvToken)
	}
	if base.IsZero() || head.IsZero() {
		return nil, fault.Inputf("gate: need a base and a head commit")
	}
	res.Base, res.Head = base.String(), head.String()
	mb, err := MergeBase(r, base, head)
	if err != nil {
		return nil, err
	}
	res.MergeBase = mb.String()
	snap, err := gov.LoadAt(r, base)
	if err != nil {
		return nil, fmt.Errorf("gate: governance at base %s: %w", short(base), err)
	}
	changes, err := Diff(r, mb, head)
	if err != nil {
		return nil, err
	}
	if online {
		changes = mergeChanges(changes, ghFiles)
	}
	res.Changes = changes
	hc, err := r.Commit(head)
	if err != nil {
		return nil, err
	}
	bc, err := r.Commit(base)
	if err != nil {
		return nil, err
	}

	pol := snap.Policy
	frozen := frozenChanges(changes, pol)
	ids := crIDs(changes)
	add := func(name string, passed bool, format string, args ...any) {
		res.Rules = append(res.Rules, Rule{Name: name, Passed: passed, Reason: fmt.Sprintf(format, args...)})
	}
	skipRest := func(why string) {
		for _, n := range []string{RuleDeclared, RuleComplete, RuleLARS, RuleVEGA, RuleVersion} {
			res.Rules = append(res.Rules, Rule{Name: n, Skipped: true, Reason: "not evaluated: " + why})
		}
	}

	// 1. Exactly one change request, new in this change.
	switch {
	case len(ids) == 0 && len(frozen) == 0:
		add(RuleNotRequired, true, "no change request and no frozen path changed: G4 does not apply")
		res.Passed = true
		return res, nil
	case len(ids) == 0:
		add(RuleOneCR, false, "frozen paths changed without a change request: %s", describeFrozen(frozen))
		skipRest("no change request")
		return res, nil
	case len(ids) > 1:
		add(RuleOneCR, false, "batching: %d change requests in one pull request (%s); one CR per PR", len(ids), strings.Join(ids, ", "))
		skipRest("batching")
		return res, nil
	}
	id := ids[0]
	res.ChangeRequest = id
	if !hasChange(changes, DocPath(id), Added) {
		if _, err := r.ReadTreeFile(hc.TreeHash, DocPath(id)); err == nil {
			add(RuleOneCR, false, "%s was not opened by this change (it exists at the merge base); a new change needs a new CR", id)
		} else {
			add(RuleOneCR, false, "%s has sign-off records but no document %s", id, DocPath(id))
		}
		skipRest(id + " is not this change's own")
		return res, nil
	}
	add(RuleOneCR, true, "one change request: %s", id)

	data, err := r.ReadTreeFile(hc.TreeHash, DocPath(id))
	if err != nil {
		return nil, fmt.Errorf("gate: read %s: %w", DocPath(id), err)
	}
	doc, problems := ParseDocument(id, data, pol.Governance.Frozen)

	// 2. Only declared frozen paths.
	var undeclared []frozenChange
	for _, f := range frozen {
		if !slices.Contains(doc.Paths, f.Path) {
			undeclared = append(undeclared, f)
		}
	}
	switch {
	case len(undeclared) > 0:
		add(RuleDeclared, false, "frozen paths changed but not declared in %s: %s", id, describeFrozen(undeclared))
	case len(frozen) == 0:
		add(RuleDeclared, true, "no frozen path changed besides the change request and its manifest")
	default:
		add(RuleDeclared, true, "%d frozen path(s) changed, all declared: %s", len(frozen), describeFrozen(frozen))
	}

	// 3. A complete document.
	if len(problems) > 0 {
		add(RuleComplete, false, "%s is incomplete: %s", id, strings.Join(problems, "; "))
	} else {
		add(RuleComplete, true, "%s has every section (%s analysed, %s declared)", id, plural(len(doc.Impact), "category", "categories"), plural(len(doc.Paths), "path", "paths"))
	}

	// 4 and 5. LARS's approval of the head, VEGA's recommendation.
	content, err := ContentTree(r, hc.TreeHash)
	if err != nil {
		return nil, err
	}
	res.ContentTree = content.String()
	records, err := readRecords(r, hc.TreeHash, id)
	if err != nil {
		return nil, err
	}
	res.Rules = append(res.Rules, larsRule(records, snap, content, online, reviews, head))
	res.Rules = append(res.Rules, vegaRule(records, snap, content))

	// 6. The next baseline version with a new manifest.
	res.Rules = append(res.Rules, versionRule(r, bc.TreeHash, hc.TreeHash, changes, doc))

	res.Passed = len(res.Failed()) == 0
	return res, nil
}

// localCommit checks that a commit GitHub named is in the local repository.
func localCommit(r *ledger.Repo, sha, what string) (plumbing.Hash, error) {
	if !plumbing.IsHash(sha) {
		return plumbing.ZeroHash, fault.Inputf("gate: %s: %q is not a commit id", what, sha)
	}
	h := plumbing.NewHash(sha)
	if _, err := r.Commit(h); err != nil {
		return plumbing.ZeroHash, fault.Inputf("gate: %s, commit %s, is not in the local repository (check out the pull request head with full history, e.g. actions/checkout with fetch-depth: 0)", what, sha)
	}
	return h, nil
}

// mergeChanges joins the local diff with GitHub's file list: a path either
// reports is judged, so neither can hide a change from the other.
func mergeChanges(local []Change, files []ghub.File) []Change {
	seen := map[string]int{}
	out := append([]Change(nil), local...)
	for i, c := range out {
		seen[c.Path] = i
	}
	put := func(p, kind string) {
		if i, ok := seen[p]; ok {
			if out[i].Kind != kind && out[i].Kind == Added {
				out[i].Kind = kind // the stricter reading: not a pure addition
			}
			return
		}
		seen[p] = len(out)
		out = append(out, Change{Path: p, Kind: kind})
	}
	for _, f := range files {
		switch f.Status {
		case ghub.FileAdded, ghub.FileCopied:
			put(f.Path, Added)
		case ghub.FileRemoved:
			put(f.Path, Deleted)
		case ghub.FileRenamed:
			if f.PreviousPath != "" {
				put(f.PreviousPath, Deleted)
			}
			put(f.Path, Added)
		case "unchanged":
		default: // modified, changed, and anything GitHub adds later
			put(f.Path, Modified)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

// frozenChange is a changed path under the freeze.
type frozenChange struct {
	Change
	Categories []string
}

// frozenChanges keeps the changes the freeze covers: any change to a path
// of the six policy categories, a modification or deletion of canonical
// evidence (additions are allowed, regenerated state files are not
// evidence), and any change to an existing baseline manifest. A new
// baseline manifest is the version rule's.
func frozenChanges(changes []Change, pol *policy.Set) []frozenChange {
	var out []frozenChange
	for _, c := range changes {
		if strings.HasPrefix(c.Path, layout.Baseline+"/") {
			if _, ok := manifestVersion(c.Path); ok && c.Kind != Added {
				out = append(out, frozenChange{c, []string{manifestCategory}})
			}
			continue
		}
		var cats []string
		for _, cat := range Categorize(pol.Governance.Frozen, c.Path) {
			if cat == canonicalEvidence && (c.Kind == Added || slices.Contains(pol.Governance.Regenerated, c.Path)) {
				continue
			}
			cats = append(cats, cat)
		}
		if len(cats) > 0 {
			out = append(out, frozenChange{c, cats})
		}
	}
	return out
}

func describeFrozen(fs []frozenChange) string {
	parts := make([]string, len(fs))
	for i, f := range fs {
		parts[i] = fmt.Sprintf("%s (%s, %s)", f.Path, strings.Join(mapNames(f.Categories), ", "), f.Kind)
	}
	return strings.Join(parts, "; ")
}

// crIDs lists the change requests whose files a change touches.
func crIDs(changes []Change) []string {
	var ids []string
	for _, c := range changes {
		if f, ok := parseCRPath(c.Path); ok && !slices.Contains(ids, f.ID) {
			ids = append(ids, f.ID)
		}
	}
	sort.Strings(ids)
	return ids
}

func hasChange(changes []Change, path, kind string) bool {
	for _, c := range changes {
		if c.Path == path && c.Kind == kind {
			return true
		}
	}
	return false
}

// larsRule: LARS approved the exact head, by a signed record naming the
// head's content tree and/or by a GitHub review on the head commit.
func larsRule(records []foundRecord, snap *gov.Snapshot, content plumbing.Hash, online bool, reviews []ghub.Review, head plumbing.Hash) Rule {
	rule := Rule{Name: RuleLARS}
	var approvals []foundRecord
	for _, x := range records {
		if x.file.Kind == RecordApproval {
			approvals = append(approvals, x)
		}
	}
	good, bad := verifyAll(approvals, snap.Registry)
	if len(bad) > 0 {
		rule.Reason = "an approval record fails verification against the base registry: " + strings.Join(bad, "; ")
		return rule
	}
	var notes []string
	approved := false
	for _, x := range good {
		name := x.path[len(layout.ChangeRequests)+1:]
		if x.rec.Tree == content.String() {
			approved = true
			notes = append(notes, fmt.Sprintf("signed record %s names the head tree %s", name, content.String()[:12]))
		} else {
			notes = append(notes, fmt.Sprintf("signed record %s is bound to another tree %s, not the head tree %s (stale)", name, shortID(x.rec.Tree), content.String()[:12]))
		}
	}
	if len(good) == 0 {
		notes = append(notes, "no signed LARS approval record")
	}
	if online {
		ok, blocked, ghNotes := evaluateReviews(reviews, snap.Policy.Governance.Reviewers["LARS"], head.String())
		notes = append(notes, ghNotes...)
		if blocked {
			rule.Reason = strings.Join(notes, "; ")
			return rule
		}
		approved = approved || ok
	} else {
		notes = append(notes, "offline: signed records only")
	}
	rule.Passed = approved
	if approved {
		rule.Reason = "LARS approved the head: " + strings.Join(notes, "; ")
	} else {
		rule.Reason = "LARS has not approved the head: " + strings.Join(notes, "; ")
	}
	return rule
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

func shortID(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}

// evaluateReviews reads GitHub reviews for LARS: only logins listed under
// reviewers: LARS count (case-insensitively); each login's latest decisive
// review (APPROVED, CHANGES_REQUESTED, DISMISSED; comments do not decide)
// is its position. An approval counts only on the head commit (older ones
// are stale); a later CHANGES_REQUESTED or a dismissal cancels it; an
// outstanding CHANGES_REQUESTED by any LARS login blocks the rule.
func evaluateReviews(reviews []ghub.Review, logins []string, head string) (approved, blocked bool, notes []string) {
	if len(logins) == 0 {
		notes = append(notes, "GitHub: no login is listed under reviewers: LARS in policies/governance.yaml, so no review counts")
	}
	known := map[string]string{}
	for _, l := range logins {
		known[strings.ToLower(l)] = l
	}
	rs := append([]ghub.Review(nil), reviews...)
	ghub.SortReviews(rs)
	latest := map[string]ghub.Review{}
	hadApproval := map[string]bool{}
	var order []string
	var ignored []string
	for _, rv := range rs {
		login := strings.ToLower(rv.Login)
		if _, ok := known[login]; !ok {
			if rv.State == ghub.ReviewApproved || rv.State == ghub.ReviewChangesRequested {
				if !slices.Contains(ignored, rv.Login) {
					ignored = append(ignored, rv.Login)
				}
			}
			continue
		}
		switch rv.State {
		case ghub.ReviewApproved, ghub.ReviewChangesRequested, ghub.ReviewDismissed:
		default:
			continue
		}
		if _, seen := latest[login]; !seen {
			order = append(order, login)
		}
		latest[login] = rv
		if rv.State == ghub.ReviewApproved {
			hadApproval[login] = true
		}
	}
	for _, login := range order {
		rv := latest[login]
		name := known[login]
		switch {
		case rv.State == ghub.ReviewApproved && strings.EqualFold(rv.CommitID, head):
			approved = true
			notes = append(notes, fmt.Sprintf("GitHub: %s (LARS) approved the head commit %s", name, shortID(head)))
		case rv.State == ghub.ReviewApproved:
			notes = append(notes, fmt.Sprintf("GitHub: the approval by %s is stale (on %s, the head is %s)", name, shortID(rv.CommitID), shortID(head)))
		case rv.State == ghub.ReviewChangesRequested:
			blocked = true
			if hadApproval[login] {
				notes = append(notes, fmt.Sprintf("GitHub: the approval by %s was cancelled by a later CHANGES_REQUESTED review", name))
			} else {
				notes = append(notes, fmt.Sprintf("GitHub: %s (LARS) requested changes", name))
			}
		case rv.State == ghub.ReviewDismissed:
			notes = append(notes, fmt.Sprintf("GitHub: the review by %s was dismissed", name))
		}
	}
	if len(order) == 0 && len(logins) > 0 {
		notes = append(notes, "GitHub: no review by a LARS login ("+strings.Join(logins, ", ")+")")
	}
	if len(ignored) > 0 {
		notes = append(notes, "GitHub: ignored reviews by "+strings.Join(ignored, ", ")+" (not listed under reviewers: LARS)")
	}
	if blocked {
		approved = false
	}
	return approved, blocked, notes
}

// vegaRule: VEGA's latest recommendation is approve, and every
// recommendation record verifies.
func vegaRule(records []foundRecord, snap *gov.Snapshot, content plumbing.Hash) Rule {
	rule := Rule{Name: RuleVEGA}
	var recs []foundRecord
	for _, x := range records {
		if x.file.Kind == RecordRecommendation {
			recs = append(recs, x)
		}
	}
	good, bad := verifyAll(recs, snap.Registry)
	switch {
	case len(bad) > 0:
		rule.Reason = "a recommendation record fails verification against the base registry: " + strings.Join(bad, "; ")
		return rule
	case len(good) == 0:
		rule.Reason = "no VEGA recommendation (vios cr recommend ID --signer VEGA --verdict approve|reject)"
		return rule
	}
	last := good[len(good)-1]
	name := last.path[len(layout.ChangeRequests)+1:]
	where := ""
	if last.rec.Tree != content.String() {
		where = fmt.Sprintf(", made on tree %s (head tree %s)", shortID(last.rec.Tree), content.String()[:12])
	}
	if last.rec.Verdict != VerdictApprove {
		rule.Reason = fmt.Sprintf("VEGA recommends %s (%s%s)", last.rec.Verdict, name, where)
		if last.rec.Note != "" {
			rule.Reason += ": " + last.rec.Note
		}
		return rule
	}
	rule.Passed = true
	rule.Reason = fmt.Sprintf("VEGA recommends approve (%s, signature verified%s)", name, where)
	return rule
}

// versionRule: the change adds exactly one new baseline manifest, for the
// next version after the base's latest (minor or major), the one the
// document requests, and it parses with that version.
func versionRule(r *ledger.Repo, baseTree, headTree plumbing.Hash, changes []Change, doc *Document) Rule {
	rule := Rule{Name: RuleVersion}
	cur, err := LatestVersion(r, baseTree)
	if err != nil {
		rule.Reason = err.Error()
		return rule
	}
	minor, major := cur.Next(false), cur.Next(true)
	var added []Version
	for _, c := range changes {
		if v, ok := manifestVersion(c.Path); ok && c.Kind == Added {
			added = append(added, v)
		}
	}
	switch {
	case len(added) == 0:
		rule.Reason = fmt.Sprintf("no version increment: no new baseline manifest (base is at %s; expected %s or %s)", cur, ManifestPath(minor), ManifestPath(major))
		return rule
	case len(added) > 1:
		rule.Reason = fmt.Sprintf("%d new baseline manifests; a change request moves one version", len(added))
		return rule
	}
	v := added[0]
	if v != minor && v != major {
		rule.Reason = fmt.Sprintf("%s is not the next version: after %s comes %s or %s", ManifestPath(v), cur, minor, major)
		return rule
	}
	if doc.Version != "" && doc.Version != v.String() {
		rule.Reason = fmt.Sprintf("%s requests %s, but the change adds %s", doc.ID, doc.Version, ManifestPath(v))
		return rule
	}
	data, err := r.ReadTreeFile(headTree, ManifestPath(v))
	if err != nil {
		rule.Reason = fmt.Sprintf("read %s: %v", ManifestPath(v), err)
		return rule
	}
	m, err := parseManifest(data)
	if err != nil {
		rule.Reason = fmt.Sprintf("%s: %v", ManifestPath(v), err)
		return rule
	}
	if m.Version != v.String() {
		rule.Reason = fmt.Sprintf("%s says version %q", ManifestPath(v), m.Version)
		return rule
	}
	rule.Passed = true
	rule.Reason = fmt.Sprintf("%s → %s with a new manifest %s", cur, v, ManifestPath(v))
	return rule
}

func parseManifest(data []byte) (*gov.Manifest, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var m gov.Manifest
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("not a baseline manifest: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("not a baseline manifest: trailing data")
	}
	if len(m.Categories) == 0 {
		return nil, errors.New("the manifest lists no frozen categories")
	}
	return &m, nil
}

// Approved reports whether change request id is G4-approved at head on its
// signed records alone — a LARS approval naming head's content tree and a
// VEGA recommendation to approve, both verified against the registry at
// base — and says why. It is the offline half of the gate, for callers such
// as the freeze check that only need to know the approval stands.
func Approved(r *ledger.Repo, base, head plumbing.Hash, id string) (bool, string, error) {
	if _, err := ParseID(id); err != nil {
		return false, "", err
	}
	snap, err := gov.LoadAt(r, base)
	if err != nil {
		return false, "", err
	}
	hc, err := r.Commit(head)
	if err != nil {
		return false, "", err
	}
	content, err := ContentTree(r, hc.TreeHash)
	if err != nil {
		return false, "", err
	}
	records, err := readRecords(r, hc.TreeHash, id)
	if err != nil {
		return false, "", err
	}
	lars := larsRule(records, snap, content, false, nil, head)
	vega := vegaRule(records, snap, content)
	return lars.Passed && vega.Passed, lars.Reason + "; " + vega.Reason, nil
}
