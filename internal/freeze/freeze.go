// Package freeze enforces the baseline freeze: the frozen files of the seven
// prohibited categories (policies/governance.yaml `frozen`) may change only
// through a G4-approved change request that also brings the next baseline
// version, and canonical evidence under 05_GOVERNANCE/ is append-only.
//
// A baseline is a manifest, baseline/vX.Y.json (gov.Manifest: version,
// commit, category globs, blob id of every frozen file), and a signed
// annotated tag baseline/vX.Y. Check diffs a head commit against the
// baseline commit and a base commit with tree diffs that skip identical
// subtrees and never read a blob, and compares the frozen files with the
// manifest's blob ids, so a shallow clone without the baseline commit is
// still checked. Cut writes the next version's manifest and tag.
package freeze

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"

	"github.com/vision-ios/vios/internal/fault"
	"github.com/vision-ios/vios/internal/gov"
	"github.com/vision-ios/vios/internal/keys"
	"github.com/vision-ios/vios/internal/layout"
	"github.com/vision-ios/vios/internal/ledger"
	"github.com/vision-ios/vios/internal/signing"
)

// ManifestCategory is the category reported for a change to the baseline
// manifests themselves: they are frozen too.
const ManifestCategory = "baseline_manifest"

// Options select what Check compares.
type Options struct {
	// Base is the baseline ref: a branch, tag or commit id (a pull
	// request's base branch, say). Its highest baseline/vX.Y.json is the
	// manifest, and every change from it to head is checked. Empty: the
	// highest signed baseline/vX.Y tag, or without tags the highest
	// manifest at head (checked against the commit it records).
	Base string
	// Head is the ref under check; empty is HEAD.
	Head string
	// Approver decides whether a change request is G4-approved for head;
	// nil accepts a LARS-signed approval record (see ApprovalRecord). The
	// vios command line passes the G4 gate's own, changereq.Approved.
	Approver Approver
}

// Violation is a frozen path changed outside a G4 change request.
type Violation struct {
	Path     string `json:"path"`
	Category string `json:"category"`
	Label    string `json:"category_name"`
	Change   Change `json:"change"`
	Detail   string `json:"detail"`
}

// Allowed is a change of a frozen path that an approved change request
// declares.
type Allowed struct {
	Violation
	CR string `json:"change_request"`
}

// Report is the result of a freeze check.
type Report struct {
	Baseline       string          `json:"baseline"`
	Manifest       string          `json:"manifest"`
	BaselineCommit string          `json:"baseline_commit,omitempty"`
	CommitPresent  bool            `json:"baseline_commit_present"`
	Base           string          `json:"base,omitempty"`
	Head           string          `json:"head"`
	FrozenFiles    int             `json:"frozen_files_checked"`
	ChangedFiles   int             `json:"changed_files_examined"`
	CommitsWalked  int             `json:"commits_walked"`
	ChangeRequests []ChangeRequest `json:"change_requests"`
	Violations     []Violation     `json:"violations"`
	Allowed        []Allowed       `json:"allowed"`
	Notes          []string        `json:"notes"`
	Passed         bool            `json:"passed"`
}

// ErrViolation marks the error a caller returns for a failed check.
var ErrViolation = errors.New("freeze violation")

// Err returns nil for a passing report and otherwise a fault.Governance
// error (exit 1) counting the violations.
func (rep *Report) Err() error {
	if rep.Passed {
		return nil
	}
	return fault.Governance(fmt.Errorf("%w: %d frozen path(s) changed against baseline %s", ErrViolation, len(rep.Violations), rep.Baseline))
}

type checker struct {
	v   *view
	opt Options
	rep *Report

	head, headTree plumbing.Hash
	base, baseTree plumbing.Hash // zero without a base
	cHash, cTree   plumbing.Hash // zero when the baseline commit is absent
	trusted        plumbing.Hash // commit whose registry verifies approvals
	registry       *keys.Registry

	man     *gov.Manifest
	manVer  Version
	manPath string
	rules   *rules
	tags    map[Version]plumbing.Hash // baseline tag → tag ref target (tag object)

	viol         map[string]Violation
	newManifests map[string]bool
	differ       *differ // diffs from the baseline commit and the base
	addedCRs     []string
	diffed       bool
}

// Check compares head with the baseline and reports every frozen path
// changed outside an approved change request. Refs that do not resolve
// and manifests that fail to parse or disagree with their commit are
// fault.Input errors (exit 2); violations are in the report, not the error.
func Check(ctx context.Context, r *ledger.Repo, opt Options) (*Report, error) {
	c := &checker{v: newView(r), opt: opt, viol: map[string]Violation{}, newManifests: map[string]bool{},
		rep: &Report{ChangeRequests: []ChangeRequest{}, Violations: []Violation{}, Allowed: []Allowed{}, Notes: []string{}}}
	if err := c.run(ctx); err != nil {
		return nil, err
	}
	return c.rep, nil
}

func (c *checker) run(ctx context.Context) error {
	headRef := c.opt.Head
	if headRef == "" {
		headRef = "HEAD"
	}
	var err error
	if c.head, err = c.resolve("head", headRef); err != nil {
		return err
	}
	ht, ok, err := c.v.commitTree(c.head)
	if err != nil {
		return err
	}
	if !ok {
		return fault.Inputf("head %q: commit %s is not in the repository", headRef, c.head)
	}
	c.headTree = ht
	c.rep.Head = c.head.String()
	if c.tags, err = c.baselineTags(); err != nil {
		return err
	}

	// The manifest: at the base, at the highest baseline tag, or at head.
	source, sourceTree := c.head, c.headTree
	var want *Version
	switch {
	case c.opt.Base != "":
		if c.base, err = c.resolve("baseline", c.opt.Base); err != nil {
			return err
		}
	case len(c.tags) > 0:
		v := maxVersion(c.tags)
		if c.base, err = c.verifyTag(v); err != nil {
			return err
		}
		want = &v
	}
	if !c.base.IsZero() {
		bt, ok, err := c.v.commitTree(c.base)
		if err != nil {
			return err
		}
		if !ok {
			return fault.Inputf("baseline %s is not in the repository", c.base)
		}
		c.baseTree, source, sourceTree = bt, c.base, bt
		c.rep.Base = c.base.String()
		c.trusted = c.base
	}
	err = c.loadManifest(source, sourceTree, want)
	if errors.Is(err, errNoManifest) && c.opt.Base != "" && want == nil {
		// Nothing was frozen at the base: the head introduces the first
		// baseline, and only the head's own manifest can be checked.
		if err = c.loadManifest(c.head, c.headTree, nil); err == nil {
			c.note("the base has no baseline manifest: head introduces %s, checked against its own blob ids", c.manPath)
			c.baseTree, c.rep.Base = plumbing.ZeroHash, ""
		}
	}
	if err != nil {
		return err
	}
	c.rules = newRules(c.man)
	c.rep.Baseline, c.rep.Manifest = c.manVer.String(), c.manPath
	if c.opt.Base == "" && len(c.tags) == 0 {
		c.note("no baseline tag: using %s at head", c.manPath)
	}

	// The baseline commit: checked against the manifest, then diffed.
	if err := c.baselineCommit(); err != nil {
		return err
	}
	if !c.cTree.IsZero() {
		if err := c.diffFrom(c.cTree, "baseline "+c.rep.Baseline+" ("+c.rep.BaselineCommit[:12]+")", true); err != nil {
			return err
		}
	}
	if !c.baseTree.IsZero() && c.baseTree != c.cTree {
		if err := c.diffFrom(c.baseTree, "base "+c.base.String()[:12], false); err != nil {
			return err
		}
	}
	if err := c.compareManifest(); err != nil {
		return err
	}
	if c.opt.Base == "" && !c.cHash.IsZero() {
		if err := c.walk(ctx); err != nil {
			return err
		}
	}
	if err := c.changeRequests(ctx); err != nil {
		return err
	}
	for _, p := range sortedKeys(c.newManifests) {
		c.add(Violation{Path: p, Category: ManifestCategory, Change: Added, Detail: "a new baseline manifest needs a G4-approved change request and the next version after " + c.rep.Baseline})
	}
	for _, p := range sortedKeys(c.viol) {
		c.rep.Violations = append(c.rep.Violations, c.viol[p])
	}
	c.rep.Passed = len(c.rep.Violations) == 0
	return nil
}

func (c *checker) note(format string, args ...any) {
	c.rep.Notes = append(c.rep.Notes, fmt.Sprintf(format, args...))
}

// add records a violation; the first one recorded for a path wins.
func (c *checker) add(v Violation) {
	if _, ok := c.viol[v.Path]; ok {
		return
	}
	if v.Category == "" {
		v.Category = "frozen"
	}
	v.Label = Label(v.Category)
	c.viol[v.Path] = v
}

// resolve turns a branch, tag, remote branch, commit id or revision
// expression (REF~N, REF^N) into a commit, peeling annotated tags.
func (c *checker) resolve(what, ref string) (plumbing.Hash, error) {
	h, err := c.v.resolve(ref)
	if err != nil {
		if fault.IsInput(err) {
			return plumbing.ZeroHash, err
		}
		return plumbing.ZeroHash, fault.Inputf("%s %q does not resolve to a commit: %v", what, ref, err)
	}
	return h, nil
}

var (
	errNoRef      = errors.New("no such branch, tag or commit")
	errNoManifest = errors.New("no baseline manifest")
)

func (v *view) resolve(ref string) (plumbing.Hash, error) {
	name, ops := ref, ""
	if i := strings.IndexAny(ref, "~^"); i > 0 {
		name, ops = ref[:i], ref[i:]
	}
	h, err := v.resolveName(name)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	if h, err = v.peel(h); err != nil {
		return plumbing.ZeroHash, err
	}
	for ops != "" {
		op := ops[0]
		ops = ops[1:]
		j := 0
		for j < len(ops) && ops[j] >= '0' && ops[j] <= '9' {
			j++
		}
		n := 1
		if j > 0 {
			if n, err = strconv.Atoi(ops[:j]); err != nil || n > 1<<20 {
				return plumbing.ZeroHash, fmt.Errorf("bad revision %q", ref)
			}
		}
		ops = ops[j:]
		if op == '^' && (strings.HasPrefix(ops, "{") || n == 0) {
			return v.resolveGoGit(ref)
		}
		steps, parent := n, 0 // REF~N: N first parents; REF^N: the N-th parent
		if op == '^' {
			steps, parent = 1, n-1
		}
		for range steps {
			cm, err := v.commit(h)
			if err != nil {
				return plumbing.ZeroHash, err
			}
			if parent >= len(cm.ParentHashes) {
				return plumbing.ZeroHash, fmt.Errorf("%s has no parent %d", h.String()[:12], parent+1)
			}
			h = cm.ParentHashes[parent]
		}
	}
	return h, nil
}

// resolveName resolves a full commit id or a reference name by git's
// rev-parse rules; short ids go to go-git.
func (v *view) resolveName(name string) (plumbing.Hash, error) {
	if isHash(name) {
		return plumbing.NewHash(name), nil
	}
	for _, rule := range plumbing.RefRevParseRules {
		ref, err := storer.ResolveReference(v.r.Git.Storer, plumbing.ReferenceName(fmt.Sprintf(rule, name)))
		if err == nil {
			return ref.Hash(), nil
		}
	}
	return v.resolveGoGit(name)
}

func (v *view) resolveGoGit(ref string) (plumbing.Hash, error) {
	h, err := v.r.Git.ResolveRevision(plumbing.Revision(ref))
	if err != nil {
		if errors.Is(err, plumbing.ErrReferenceNotFound) {
			return plumbing.ZeroHash, errNoRef
		}
		return plumbing.ZeroHash, err
	}
	return *h, nil
}

// peel follows annotated tags to the commit they tag.
func (v *view) peel(h plumbing.Hash) (plumbing.Hash, error) {
	for range 8 {
		obj, err := v.r.Objects().EncodedObject(plumbing.AnyObject, h)
		if err != nil {
			return plumbing.ZeroHash, fmt.Errorf("%s is not in the repository", h)
		}
		switch obj.Type() {
		case plumbing.CommitObject:
			return h, nil
		case plumbing.TagObject:
			t := &object.Tag{}
			if err := t.Decode(obj); err != nil {
				return plumbing.ZeroHash, err
			}
			h = t.Target
		default:
			return plumbing.ZeroHash, fmt.Errorf("%s is a %s, not a commit", h, obj.Type())
		}
	}
	return plumbing.ZeroHash, errors.New("tags nested too deeply")
}

// baselineTags lists the refs/tags/baseline/vX.Y tags.
func (c *checker) baselineTags() (map[Version]plumbing.Hash, error) {
	out := map[Version]plumbing.Hash{}
	refs, err := c.v.r.Git.Storer.IterReferences()
	if err != nil {
		return nil, fmt.Errorf("list tags: %w", err)
	}
	err = refs.ForEach(func(ref *plumbing.Reference) error {
		rest, ok := strings.CutPrefix(ref.Name().String(), "refs/tags/"+layout.Baseline+"/")
		if !ok || ref.Type() != plumbing.HashReference {
			return nil
		}
		if v, err := ParseVersion(rest); err == nil {
			out[v] = ref.Hash()
		}
		return nil
	})
	return out, err
}

func maxVersion[V any](m map[Version]V) Version {
	var best Version
	first := true
	for v := range m {
		if first || best.Less(v) {
			best, first = v, false
		}
	}
	return best
}

// verifyTag verifies baseline tag v and returns the commit it tags.
func (c *checker) verifyTag(v Version) (plumbing.Hash, error) {
	return c.v.verifyTag(TagName(v), c.tags[v])
}

// VerifyTag checks the baseline tag name whose ref points at object h: an
// annotated tag of a commit, SSH-signed by LARS or CODE with a key the
// registry at that commit held at the tag's time. It returns the commit.
func VerifyTag(r *ledger.Repo, name string, h plumbing.Hash) (plumbing.Hash, error) {
	v := newView(r)
	return v.verifyTag(name, h)
}

func (v *view) verifyTag(name string, h plumbing.Hash) (plumbing.Hash, error) {
	obj, err := v.r.Objects().EncodedObject(plumbing.AnyObject, h)
	if err != nil {
		return plumbing.ZeroHash, fault.Inputf("baseline tag %s: object %s is not in the repository", name, h)
	}
	if obj.Type() != plumbing.TagObject {
		return plumbing.ZeroHash, fault.Governancef("baseline tag %s is not a signed annotated tag", name)
	}
	t := &object.Tag{}
	if err := t.Decode(obj); err != nil {
		return plumbing.ZeroHash, fmt.Errorf("baseline tag %s: %w", name, err)
	}
	if t.TargetType != plumbing.CommitObject {
		return plumbing.ZeroHash, fault.Governancef("baseline tag %s tags a %s, not a commit", name, t.TargetType)
	}
	unsigned := &plumbing.MemoryObject{}
	if err := t.EncodeWithoutSignature(unsigned); err != nil {
		return plumbing.ZeroHash, err
	}
	payload, err := readObject(unsigned)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	pub, err := signing.VerifyGit(t.PGPSignature, payload)
	if err != nil {
		return plumbing.ZeroHash, fault.Governancef("baseline tag %s: %v", name, err)
	}
	if _, err := v.commit(t.Target); err != nil {
		return plumbing.ZeroHash, fault.Inputf("baseline tag %s points to commit %s, which is not in the repository (fetch it or pass --baseline)", name, t.Target)
	}
	reg, err := v.registry(t.Target)
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("baseline tag %s: %w", name, err)
	}
	e, ok := reg.ByKey(pub)
	if !ok || (e.Agent != "LARS" && e.Agent != "CODE") || !e.ValidAt(t.Tagger.When) {
		return plumbing.ZeroHash, fault.Governancef("baseline tag %s is not signed by a LARS or CODE key of the registry", name)
	}
	return t.Target, nil
}

// registry reads policies/keys/agents.json at commit h.
func (v *view) registry(h plumbing.Hash) (*keys.Registry, error) {
	cm, err := v.commit(h)
	if err != nil {
		return nil, err
	}
	bh, ok, err := v.lookup(cm.TreeHash, layout.Registry)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fault.Inputf("%s is missing at %s", layout.Registry, h.String()[:12])
	}
	data, err := v.blob(bh)
	if err != nil {
		return nil, err
	}
	return keys.ParseRegistry(data)
}

func readObject(o plumbing.EncodedObject) ([]byte, error) {
	rd, err := o.Reader()
	if err != nil {
		return nil, err
	}
	defer rd.Close()
	return io.ReadAll(rd)
}

// loadManifest reads the manifest of version want, or the highest one,
// from the baseline/ directory of tree t at commit source.
func (c *checker) loadManifest(source, t plumbing.Hash, want *Version) error {
	versions := map[Version]plumbing.Hash{}
	err := c.v.files(t, layout.Baseline, func(string) bool { return false }, func(p string, h plumbing.Hash) {
		if v, ok := manifestVersion(path.Base(p)); ok {
			versions[v] = h
		}
	})
	if err != nil {
		return err
	}
	if len(versions) == 0 {
		return fault.Input(fmt.Errorf("%w (%s/vX.Y.json) at %s", errNoManifest, layout.Baseline, source.String()[:12]))
	}
	v := maxVersion(versions)
	if want != nil {
		if _, ok := versions[*want]; !ok {
			return fault.Inputf("baseline tag %s points to %s, which has no %s", TagName(*want), source.String()[:12], ManifestPath(*want))
		}
		v = *want
	}
	c.manPath = ManifestPath(v)
	data, err := c.v.blob(versions[v])
	if err != nil {
		return fmt.Errorf("read %s: %w", c.manPath, err)
	}
	m, mv, err := ParseManifest(c.manPath, data)
	if err != nil {
		return err
	}
	c.man, c.manVer = m, mv
	c.rep.FrozenFiles = len(m.Files)
	return nil
}

// baselineCommit finds the commit the manifest records (null: the commit
// tagged with its version, else the root commit when that commit adds the
// manifest), checks that the manifest agrees with it, and keeps its tree
// when it is in the repository.
func (c *checker) baselineCommit() error {
	var h plumbing.Hash
	switch {
	case c.man.Commit != nil:
		h = plumbing.NewHash(*c.man.Commit)
	case !c.tags[c.manVer].IsZero():
		t, err := c.verifyTag(c.manVer)
		if err != nil {
			return err
		}
		h = t
	default:
		root, err := c.rootAdding()
		if err != nil {
			return err
		}
		if root.IsZero() {
			c.note("%s records no commit and none is tagged %s: checked against its blob ids only", c.manPath, TagName(c.manVer))
			return nil
		}
		h = root
	}
	c.rep.BaselineCommit = h.String()
	t, ok, err := c.v.commitTree(h)
	if err != nil {
		return err
	}
	if !ok {
		c.note("baseline commit %s is not in this clone (shallow?): frozen files checked against the manifest's blob ids", h.String()[:12])
		return nil
	}
	c.rep.CommitPresent, c.cHash, c.cTree = true, h, t
	if c.trusted.IsZero() {
		c.trusted = h
	}
	return c.agrees(h, t)
}

// rootAdding walks first parents from head to the root commit and returns
// it when its tree holds the manifest (zero when it does not, or when the
// history is cut short by a shallow clone).
func (c *checker) rootAdding() (plumbing.Hash, error) {
	h := c.head
	for {
		cm, err := c.v.commit(h)
		if errors.Is(err, plumbing.ErrObjectNotFound) {
			return plumbing.ZeroHash, nil
		}
		if err != nil {
			return plumbing.ZeroHash, err
		}
		if len(cm.ParentHashes) == 0 {
			if _, ok, err := c.v.lookup(cm.TreeHash, c.manPath); err != nil || !ok {
				return plumbing.ZeroHash, err
			}
			return h, nil
		}
		h = cm.ParentHashes[0]
	}
}

// agrees checks the manifest against its commit: every listed file with
// that blob id, and no frozen file left out.
func (c *checker) agrees(h, t plumbing.Hash) error {
	disagree := func(format string, args ...any) error {
		return fault.Inputf("%s disagrees with its commit %s: %s", c.manPath, h.String()[:12], fmt.Sprintf(format, args...))
	}
	for _, p := range sortedKeys(c.man.Files) {
		got, ok, err := c.v.lookup(t, p)
		if err != nil {
			return err
		}
		if !ok {
			return disagree("%s is not there", p)
		}
		if got.String() != c.man.Files[p] {
			return disagree("%s is blob %.12s there, the manifest says %.12s", p, got.String(), c.man.Files[p])
		}
	}
	var missing []string
	err := c.v.files(t, "", c.rules.relevantListed, func(p string, _ plumbing.Hash) {
		if c.rules.listed(p) {
			if _, ok := c.man.Files[p]; !ok {
				missing = append(missing, p)
			}
		}
	})
	if err != nil {
		return err
	}
	if len(missing) > 0 {
		return disagree("frozen file %s is not listed", missing[0])
	}
	return nil
}

// relevantListed reports whether dir may hold a file a manifest lists.
func (r *rules) relevantListed(dir string) bool {
	for _, c := range r.cats {
		if c == canonical {
			continue
		}
		for _, g := range r.globs[c] {
			if globMayContain(g, dir) {
				return true
			}
		}
	}
	return false
}

// keepAdded decides whether to list the files of a subtree that is new:
// only where a listed frozen file, a manifest or a change request may be
// (new canonical evidence is allowed and need not be listed).
func (r *rules) keepAdded(dir string) bool {
	return dir == layout.Baseline || strings.HasPrefix(layout.ChangeRequests+"/", dir+"/") || dir == layout.ChangeRequests || r.relevantListed(dir)
}

// diffFrom checks every change from tree from to the head tree.
func (c *checker) diffFrom(from plumbing.Hash, label string, ownManifest bool) error {
	var changes []fileChange
	if c.differ == nil {
		c.differ = &differ{v: c.v, keep: c.rules.relevantDir, keepAdded: c.rules.keepAdded}
	}
	if err := c.differ.diff(from, c.headTree, "", &changes); err != nil {
		return err
	}
	c.diffed = true
	c.rep.ChangedFiles += len(changes)
	for _, ch := range changes {
		p := ch.path
		if isManifestPath(p) {
			switch {
			case ch.kind != Added:
				c.add(Violation{Path: p, Category: ManifestCategory, Change: ch.kind, Detail: fmt.Sprintf("%s since %s: baseline manifests are frozen", ch.kind, label)})
			case ownManifest && p == c.manPath:
			default:
				c.newManifests[p] = true
			}
			continue
		}
		if _, ok := crID(p); ok && ch.kind == Added && !slices.Contains(c.addedCRs, p) {
			c.addedCRs = append(c.addedCRs, p)
		}
		cat := c.rules.category(p)
		if cat == "" || (cat == canonical && ch.kind == Added) {
			continue
		}
		detail := fmt.Sprintf("%s since %s", ch.kind, label)
		if cat == canonical {
			detail += ": canonical evidence is append-only"
		}
		c.add(Violation{Path: p, Category: cat, Change: ch.kind, Detail: detail})
	}
	return nil
}

// walk checks each commit from head back to the baseline commit (first
// parents) for canonical evidence modified or deleted in place: evidence
// added after the baseline and edited later looks merely added in a diff
// from the baseline. Only without an explicit base, which a pull request
// check supplies.
func (c *checker) walk(ctx context.Context) error {
	d := &differ{v: c.v, keep: c.rules.relevantCanonical, keepAdded: func(string) bool { return false }}
	for h := c.head; h != c.cHash; {
		if err := ctx.Err(); err != nil {
			return err
		}
		cm, err := c.v.commit(h)
		if err != nil {
			if errors.Is(err, plumbing.ErrObjectNotFound) {
				c.note("history ends at %.12s before the baseline commit (shallow clone): per-commit evidence check stopped there", h.String())
				return nil
			}
			return err
		}
		if len(cm.ParentHashes) == 0 {
			return nil
		}
		parent := cm.ParentHashes[0]
		pt, ok, err := c.v.commitTree(parent)
		if err != nil {
			return err
		}
		if !ok {
			c.note("history ends at %.12s before the baseline commit (shallow clone): per-commit evidence check stopped there", h.String())
			return nil
		}
		var changes []fileChange
		if err := d.diff(pt, cm.TreeHash, "", &changes); err != nil {
			return err
		}
		c.rep.CommitsWalked++
		for _, ch := range changes {
			if ch.kind != Added && c.rules.category(ch.path) == canonical {
				c.add(Violation{Path: ch.path, Category: canonical, Change: ch.kind, Detail: fmt.Sprintf("%s in commit %.12s: canonical evidence is append-only", ch.kind, h.String())})
			}
		}
		h = parent
	}
	return nil
}

// relevantCanonical reports whether dir may hold canonical evidence.
func (r *rules) relevantCanonical(dir string) bool {
	for _, g := range r.globs[canonical] {
		if globMayContain(g, dir) {
			return true
		}
	}
	return false
}

// compareManifest checks head's frozen files against the manifest's blob
// ids: what a shallow clone can check without the baseline commit.
func (c *checker) compareManifest() error {
	for _, p := range sortedKeys(c.man.Files) {
		want := c.man.Files[p]
		got, ok, err := c.v.lookup(c.headTree, p)
		if err != nil {
			return err
		}
		switch {
		case !ok:
			c.add(Violation{Path: p, Category: c.rules.category(p), Change: Deleted, Detail: fmt.Sprintf("deleted; %s records blob %.12s", c.manPath, want)})
		case got.String() != want:
			c.add(Violation{Path: p, Category: c.rules.category(p), Change: Modified, Detail: fmt.Sprintf("blob %.12s differs from %.12s recorded in %s", got.String(), want, c.manPath)})
		}
	}
	return c.v.files(c.headTree, "", c.rules.relevantListed, func(p string, _ plumbing.Hash) {
		if _, ok := c.man.Files[p]; !ok && c.rules.listed(p) {
			c.add(Violation{Path: p, Category: c.rules.category(p), Change: Added, Detail: "not in " + c.manPath})
		}
	})
}

// changeRequests applies the G4 exception: a change request added between
// base and head that is approved for head, with the next baseline version's
// manifest at head, allows exactly the paths it declares.
func (c *checker) changeRequests(ctx context.Context) error {
	crs := c.addedCRs
	if !c.diffed {
		err := c.v.files(c.headTree, layout.ChangeRequests, func(string) bool { return false }, func(p string, _ plumbing.Hash) {
			if _, ok := crID(p); ok {
				crs = append(crs, p)
			}
		})
		if err != nil {
			return err
		}
	}
	sort.Strings(crs)
	if len(crs) == 0 {
		return nil
	}
	next, nextPath, err := c.nextManifest()
	if err != nil {
		return err
	}
	approve := c.opt.Approver
	if approve == nil {
		approve = c.signedApproval
	}
	for _, p := range crs {
		id, _ := crID(p)
		bh, _, err := c.v.lookup(c.headTree, p)
		if err != nil {
			return err
		}
		doc, err := c.v.blob(bh)
		if err != nil {
			return fmt.Errorf("read %s: %w", p, err)
		}
		cr := ChangeRequest{ID: id, Path: p, Declared: DeclaredPaths(doc)}
		if cr.Declared == nil {
			cr.Declared = []string{}
		}
		ok, reason, err := approve(ctx, c.trusted, c.head, &cr)
		if err != nil {
			return fmt.Errorf("%s: %w", id, err)
		}
		cr.Approved, cr.Reason = ok, reason
		if ok && next == nil {
			cr.Approved = false
			cr.Reason = fmt.Sprintf("%s; but head carries no next baseline manifest (%s or %s)", reason,
				ManifestPath(Version{c.manVer.Major, c.manVer.Minor + 1}), ManifestPath(Version{c.manVer.Major + 1, 0}))
		}
		c.rep.ChangeRequests = append(c.rep.ChangeRequests, cr)
		if !cr.Approved {
			continue
		}
		delete(c.newManifests, nextPath)
		if err := c.nextAgrees(next, nextPath); err != nil {
			return err
		}
		for _, d := range cr.Declared {
			v, ok := c.viol[d]
			if !ok {
				continue
			}
			if v.Category != canonical && v.Category != ManifestCategory {
				got, present, err := c.v.lookup(c.headTree, d)
				if err != nil {
					return err
				}
				rec, listed := next.Files[d]
				if present != listed || (present && rec != got.String()) {
					v.Detail += fmt.Sprintf("; declared by %s, but %s does not record it as at head", id, nextPath)
					c.viol[d] = v
					continue
				}
			}
			delete(c.viol, d)
			c.rep.Allowed = append(c.rep.Allowed, Allowed{Violation: v, CR: id})
		}
	}
	return nil
}

// nextManifest reads the next version's manifest at head, if there is one.
func (c *checker) nextManifest() (*gov.Manifest, string, error) {
	for _, v := range []Version{{c.manVer.Major, c.manVer.Minor + 1}, {c.manVer.Major + 1, 0}} {
		p := ManifestPath(v)
		bh, ok, err := c.v.lookup(c.headTree, p)
		if err != nil {
			return nil, "", err
		}
		if !ok {
			continue
		}
		data, err := c.v.blob(bh)
		if err != nil {
			return nil, "", fmt.Errorf("read %s: %w", p, err)
		}
		m, _, err := ParseManifest(p, data)
		if err != nil {
			return nil, "", err
		}
		return m, p, nil
	}
	return nil, "", nil
}

// nextAgrees reports a next manifest that does not describe head's frozen
// files as a violation of the manifest path.
func (c *checker) nextAgrees(next *gov.Manifest, p string) error {
	var bad []string
	seen := map[string]bool{}
	err := c.v.files(c.headTree, "", c.rules.relevantListed, func(f string, h plumbing.Hash) {
		if !c.rules.listed(f) {
			return
		}
		seen[f] = true
		if next.Files[f] != h.String() {
			bad = append(bad, f)
		}
	})
	if err != nil {
		return err
	}
	for f := range next.Files {
		if !seen[f] {
			bad = append(bad, f)
		}
	}
	if len(bad) > 0 {
		sort.Strings(bad)
		c.add(Violation{Path: p, Category: ManifestCategory, Change: Added, Detail: fmt.Sprintf("%s does not record head's frozen files: %s", p, strings.Join(bad, ", "))})
	}
	return nil
}
