package changereq

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

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

// NewOptions describe a change request to open.
type NewOptions struct {
	Title      string
	Rationale  string
	Categories []string          // frozen categories the change touches
	Impact     map[string]string // category -> ADR impact analysis
	Paths      []string          // declared paths; default: the categories' exact (glob-free) paths
	Major      bool              // request a major version (v2.0) instead of a minor one (v1.1)
	Signer     *signing.Signer   // CODE
	Now        time.Time
}

// NewResult describes a change request that was opened.
type NewResult struct {
	ID       string    `json:"id"`
	Branch   string    `json:"branch"`
	Path     string    `json:"path"`
	Commit   string    `json:"commit"`
	From     string    `json:"from"` // the commit the branch starts at
	Baseline string    `json:"baseline"`
	Document *Document `json:"document"`
}

const maxTitle = 120

// New opens change request CR-NNNN (the next free number across the
// documents at HEAD and every local and remote-tracking cr/ branch): it
// creates branch cr/CR-NNNN at HEAD and commits the complete document on
// it, signed by CODE. HEAD and the worktree are left as they were. The
// document is canonical evidence and is never edited afterwards, so every
// section is filled now: a missing rationale or impact analysis is refused.
func New(ctx context.Context, r *ledger.Repo, opt NewOptions) (*NewResult, error) {
	if opt.Signer == nil || opt.Signer.Agent != "CODE" {
		return nil, fault.Inputf("cr new: the change request commit is signed by CODE")
	}
	title := strings.TrimSpace(opt.Title)
	switch {
	case title == "":
		return nil, fault.Inputf("cr new: --title is required")
	case strings.ContainsAny(title, "\r\n"):
		return nil, fault.Inputf("cr new: the title is one line")
	case len([]rune(title)) > maxTitle:
		return nil, fault.Inputf("cr new: the title is longer than %d characters", maxTitle)
	}
	if strings.TrimSpace(opt.Rationale) == "" {
		return nil, fault.Inputf("cr new: a rationale is required (--rationale): the document cannot be edited once committed")
	}
	unlock, err := r.Lock(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
	snap, err := gov.Load(r)
	if err != nil {
		return nil, err
	}
	if err := checkKey(snap.Registry, opt.Signer, opt.Now); err != nil {
		return nil, fmt.Errorf("cr new: %w", err)
	}
	frozen := snap.Policy.Governance.Frozen
	doc := &Document{Title: title, Rationale: strings.TrimSpace(opt.Rationale), Impact: map[string]string{}}
	if len(opt.Categories) == 0 {
		return nil, fault.Inputf("cr new: at least one --category is required (%s)", strings.Join(sortedKeys(frozen), ", "))
	}
	for _, c := range opt.Categories {
		if _, ok := frozen[c]; !ok {
			return nil, fault.Inputf("cr new: category %q: want one of %s", c, strings.Join(sortedKeys(frozen), ", "))
		}
		text := strings.TrimSpace(opt.Impact[c])
		if text == "" {
			return nil, fault.Inputf("cr new: the ADR impact analysis of %s is required (--impact %s=TEXT): the document cannot be edited once committed", c, c)
		}
		doc.Impact[c] = text
	}
	for c := range opt.Impact {
		if !slices.Contains(opt.Categories, c) {
			return nil, fault.Inputf("cr new: --impact for %s, which is not a --category", c)
		}
	}
	paths, err := declaredPaths(frozen, opt.Categories, opt.Paths)
	if err != nil {
		return nil, err
	}
	doc.Paths = paths

	head := snap.Commit
	hc, err := r.Commit(head)
	if err != nil {
		return nil, err
	}
	cur, err := LatestVersion(r, hc.TreeHash)
	if err != nil {
		return nil, err
	}
	doc.Version = cur.Next(opt.Major).String()
	n, err := nextNumber(r, hc.TreeHash)
	if err != nil {
		return nil, err
	}
	doc.ID = ID(n)
	doc.Recommendation = pendingRecommendation(doc.ID)
	data := doc.Markdown()
	if _, problems := ParseDocument(doc.ID, data, frozen); len(problems) > 0 {
		return nil, fault.Inputf("cr new: the document would be incomplete: %s", strings.Join(problems, "; "))
	}

	branch := Branch(doc.ID)
	if _, err := r.Git.Storer.Reference(branch); err == nil {
		return nil, fault.Inputf("cr new: branch %s already exists", branch.Short())
	}
	if err := r.Git.Storer.SetReference(plumbing.NewHashReference(branch, head)); err != nil {
		return nil, fmt.Errorf("cr new: create branch %s: %w", branch.Short(), err)
	}
	ssh, err := opt.Signer.SSH()
	if err != nil {
		_ = r.Git.Storer.RemoveReference(branch)
		return nil, err
	}
	h, err := r.ApplyTo(ctx, branch, &ledger.Change{
		Subject: fmt.Sprintf("change request %s: %s", doc.ID, title),
		Body: fmt.Sprintf("Opens %s on %s, requesting baseline %s for %s.",
			doc.ID, branch.Short(), doc.Version, strings.Join(mapNames(doc.Categories()), ", ")),
		Trailers: [][2]string{
			{"Vios-Artifact", "change_request"},
			{"Vios-Agent", "CODE"},
			{"Vios-Change-Request", doc.ID},
			{"Vios-Baseline", cur.String()},
		},
		Files:  []ledger.File{{Path: DocPath(doc.ID), Data: data}},
		Author: gov.Author("CODE"),
		When:   opt.Now,
		Signer: ssh,
		Parent: head,
	})
	if err != nil {
		// Nothing half-written: the branch goes away with its commit.
		if ref, rerr := r.Git.Storer.Reference(branch); rerr == nil && ref.Hash() == head {
			_ = r.Git.Storer.RemoveReference(branch)
		}
		return nil, fmt.Errorf("cr new: %w", err)
	}
	return &NewResult{
		ID: doc.ID, Branch: branch.Short(), Path: DocPath(doc.ID), Commit: h.String(),
		From: head.String(), Baseline: cur.String(), Document: doc,
	}, nil
}

func mapNames(cs []string) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = CategoryName(c)
	}
	return out
}

// declaredPaths checks the declared paths against the categories, or
// derives them from the categories' exact globs when none are given.
func declaredPaths(frozen map[string][]string, cats, given []string) ([]string, error) {
	var out []string
	if len(given) == 0 {
		for _, c := range cats {
			n := 0
			for _, g := range frozen[c] {
				if checkDeclaredPath(g) == nil {
					out = append(out, g)
					n++
				}
			}
			if n == 0 {
				return nil, fault.Inputf("cr new: the paths of %s are globs (%s): declare the exact paths with --path", c, strings.Join(frozen[c], ", "))
			}
		}
		return out, nil
	}
	for _, p := range given {
		if err := checkDeclaredPath(p); err != nil {
			return nil, fault.Inputf("cr new: --path: %v", err)
		}
		in := Categorize(frozen, p)
		if len(in) == 0 {
			return nil, fault.Inputf("cr new: --path %s is not a frozen path (nothing to request)", p)
		}
		ok := false
		for _, c := range in {
			ok = ok || slices.Contains(cats, c)
		}
		if !ok {
			return nil, fault.Inputf("cr new: --path %s is in %s: add --category %s", p, strings.Join(in, ", "), in[0])
		}
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out, nil
}

// checkKey refuses a signer whose key is not its agent's current registry key.
func checkKey(reg *keys.Registry, s *signing.Signer, now time.Time) error {
	e, ok := reg.Current(s.Agent, now)
	if !ok || !e.Public().Equal(s.Public()) {
		return fault.Governancef("the %s key given is not %s's ACTIVE registry key", s.Agent, s.Agent)
	}
	return nil
}

// LatestVersion returns the highest baseline version with a manifest
// (baseline/vX.Y.json) in tree.
func LatestVersion(r *ledger.Repo, tree plumbing.Hash) (Version, error) {
	vs, err := manifests(r, tree)
	if err != nil {
		return Version{}, err
	}
	if len(vs) == 0 {
		return Version{}, fault.Inputf("no baseline manifest under %s/ (a governance repository starts with %s)", layout.Baseline, layout.BaselineV1)
	}
	return vs[len(vs)-1], nil
}

// manifests lists the baseline versions with a manifest in tree, ascending.
func manifests(r *ledger.Repo, tree plumbing.Hash) ([]Version, error) {
	h, err := r.Lookup(tree, layout.Baseline)
	if errors.Is(err, ledger.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	t, err := object.GetTree(r.Objects(), h)
	if err != nil {
		return nil, err
	}
	var out []Version
	for _, e := range t.Entries {
		if v, ok := manifestVersion(layout.Baseline + "/" + e.Name); ok {
			out = append(out, v)
		}
	}
	slices.SortFunc(out, func(a, b Version) int {
		if a.Less(b) {
			return -1
		}
		if b.Less(a) {
			return 1
		}
		return 0
	})
	return out, nil
}

// nextNumber is one past the highest change request number found in the
// tree's CHANGE_REQUESTS/ and on any cr/CR-NNNN branch, local or remote.
func nextNumber(r *ledger.Repo, tree plumbing.Hash) (int, error) {
	high := 0
	entries, err := crEntries(r, tree)
	if err != nil {
		return 0, err
	}
	for _, e := range entries {
		if f, ok := parseCRPath(layout.ChangeRequests + "/" + e.Name); ok {
			if n, err := ParseID(f.ID); err == nil && n > high {
				high = n
			}
		}
	}
	refs, err := r.Git.Storer.IterReferences()
	if err != nil {
		return 0, err
	}
	err = refs.ForEach(func(ref *plumbing.Reference) error {
		name := ref.Name().String()
		i := strings.LastIndex(name, "/"+BranchPrefix)
		if i < 0 || !(ref.Name().IsBranch() || ref.Name().IsRemote()) {
			return nil
		}
		if n, err := ParseID(name[i+1+len(BranchPrefix):]); err == nil && n > high {
			high = n
		}
		return nil
	})
	if err != nil && !errors.Is(err, storer.ErrStop) {
		return 0, err
	}
	return high + 1, nil
}
