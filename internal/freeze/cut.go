package freeze

import (
	"context"
	"fmt"
	"path"
	"sort"
	"time"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/vision-ios/vios/internal/fault"
	"github.com/vision-ios/vios/internal/gov"
	"github.com/vision-ios/vios/internal/layout"
	"github.com/vision-ios/vios/internal/ledger"
	"github.com/vision-ios/vios/internal/signing"
)

// CutResult describes a new baseline version.
type CutResult struct {
	Version  string `json:"version"`
	Previous string `json:"previous"`
	Manifest string `json:"manifest"`
	// Recorded is the commit whose frozen files the manifest records.
	Recorded string `json:"recorded_commit"`
	// Commit is the commit the tag points to: the one that adds the
	// manifest (Committed) or, when the merged change request brought the
	// manifest, the head itself.
	Commit    string `json:"commit"`
	Committed bool   `json:"manifest_committed"`
	Tag       string `json:"tag"`
	TagObject string `json:"tag_object"`
	Files     int    `json:"frozen_files"`
}

// Cut makes version the new baseline after a G4 change request merged:
// the manifest baseline/<version>.json with the blob id of every frozen
// file at HEAD, committed signed by LARS (unless HEAD already carries that
// manifest, which must then describe HEAD exactly), and the annotated tag
// baseline/<version> signed by LARS. The version must increment the
// current baseline (the highest baseline tag): v1.0 → v1.1 or v2.0.
func Cut(ctx context.Context, r *ledger.Repo, version string, lars *signing.Signer, now time.Time) (*CutResult, error) {
	target, err := ParseVersion(version)
	if err != nil {
		return nil, err
	}
	if lars == nil || lars.Agent != "LARS" {
		return nil, fault.Inputf("freeze cut: a baseline is signed by LARS")
	}
	ssh, err := lars.SSH()
	if err != nil {
		return nil, err
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
	if _, ok := snap.Registry.KeyAt("LARS", lars.Public(), now); !ok {
		return nil, fault.Inputf("freeze cut: the LARS key is not an active LARS key of the registry at %s", now.UTC().Format(time.RFC3339))
	}
	head := snap.Commit
	v := newView(r)
	hc, err := v.commit(head)
	if err != nil {
		return nil, err
	}
	c := &checker{v: v}
	tags, err := c.baselineTags()
	if err != nil {
		return nil, err
	}
	manifests := map[Version]plumbing.Hash{}
	err = v.files(hc.TreeHash, layout.Baseline, func(string) bool { return false }, func(p string, h plumbing.Hash) {
		if mv, ok := manifestVersion(path.Base(p)); ok {
			manifests[mv] = h
		}
	})
	if err != nil {
		return nil, err
	}
	var prev Version
	switch {
	case len(tags) > 0:
		prev = maxVersion(tags)
	default: // a repository from before baseline tags
		others := map[Version]plumbing.Hash{}
		for mv, h := range manifests {
			if mv != target {
				others[mv] = h
			}
		}
		if len(others) == 0 {
			return nil, fault.Inputf("freeze cut: no baseline to increment (no baseline tag, no manifest under %s/)", layout.Baseline)
		}
		prev = maxVersion(others)
	}
	if !target.Increments(prev) {
		return nil, fault.Inputf("freeze cut: %s does not increment baseline %s (the next version is %s or %s)",
			target, prev, Version{prev.Major, prev.Minor + 1}, Version{prev.Major + 1, 0})
	}
	for mv := range manifests {
		if target.Less(mv) {
			return nil, fault.Inputf("freeze cut: HEAD already carries %s, later than %s", ManifestPath(mv), target)
		}
	}

	frozenCats, regen := snap.Policy.Governance.Frozen, snap.Policy.Governance.Regenerated
	files, err := v.frozenFiles(hc.TreeHash, frozenCats, regen)
	if err != nil {
		return nil, err
	}

	res := &CutResult{Version: target.String(), Previous: prev.String(), Manifest: ManifestPath(target), Recorded: head.String(), Tag: TagName(target), Files: len(files)}
	tagged := head
	if bh, ok := manifests[target]; ok {
		// The merged change request brought the manifest: it must describe HEAD.
		data, err := v.blob(bh)
		if err != nil {
			return nil, err
		}
		m, _, err := ParseManifest(res.Manifest, data)
		if err != nil {
			return nil, err
		}
		if m.Commit != nil && *m.Commit != head.String() {
			res.Recorded = *m.Commit
		}
		if err := sameFiles(res.Manifest, m.Files, files); err != nil {
			return nil, err
		}
	} else {
		m := NewManifest(target, &head, now, frozenCats, regen, files)
		tagged, err = r.Apply(ctx, &ledger.Change{
			Subject: fmt.Sprintf("baseline %s: %d frozen files as at %.12s", target, len(files), head.String()),
			Body:    fmt.Sprintf("Cuts baseline %s after %s: %s records the blob id of every frozen file\nof commit %s; tag %s points here.", target, prev, res.Manifest, head, res.Tag),
			Trailers: [][2]string{
				{"Vios-Artifact", "baseline"},
				{"Vios-Agent", "LARS"},
				{"Vios-Baseline", target.String()},
			},
			Files:  []ledger.File{{Path: res.Manifest, Data: MarshalManifest(m)}},
			Author: gov.Author("LARS"),
			When:   now,
			Signer: ssh,
			Parent: head,
		})
		if err != nil {
			return nil, err
		}
		res.Committed = true
	}
	res.Commit = tagged.String()
	th, err := r.CreateTag(ctx, &ledger.Tag{
		Name:    res.Tag,
		Target:  tagged,
		Message: fmt.Sprintf("baseline %s\n\nFrozen files of %s as recorded in %s (%d files); follows %s.\n", target, res.Recorded, res.Manifest, len(files), prev),
		Tagger:  gov.Author("LARS"),
		When:    now,
		Signer:  ssh,
	})
	if err != nil {
		return nil, err
	}
	res.TagObject = th.String()
	return res, nil
}

// BuildManifest returns the manifest of version v for commit h: the frozen
// categories of policies/governance.yaml at h and the blob id of every
// frozen file there (canonical evidence excluded). A change request that
// brings the next baseline version commits this manifest with commit null.
func BuildManifest(r *ledger.Repo, h plumbing.Hash, v Version, created time.Time) (*gov.Manifest, error) {
	snap, err := gov.LoadAt(r, h)
	if err != nil {
		return nil, err
	}
	vw := newView(r)
	c, err := vw.commit(h)
	if err != nil {
		return nil, err
	}
	frozen, regen := snap.Policy.Governance.Frozen, snap.Policy.Governance.Regenerated
	files, err := vw.frozenFiles(c.TreeHash, frozen, regen)
	if err != nil {
		return nil, err
	}
	return NewManifest(v, nil, created, frozen, regen, files), nil
}

// frozenFiles lists the blob ids of the files a manifest lists in tree t.
func (v *view) frozenFiles(t plumbing.Hash, frozen map[string][]string, regen []string) (map[string]plumbing.Hash, error) {
	rl := newRules(&gov.Manifest{Categories: frozen, Regenerated: regen})
	files := map[string]plumbing.Hash{}
	err := v.files(t, "", rl.relevantListed, func(p string, h plumbing.Hash) {
		if rl.listed(p) {
			files[p] = h
		}
	})
	return files, err
}

// sameFiles checks a manifest's files against the frozen files of a tree.
func sameFiles(p string, listed map[string]string, files map[string]plumbing.Hash) error {
	var bad []string
	for f, h := range files {
		if listed[f] != h.String() {
			bad = append(bad, f)
		}
	}
	for f := range listed {
		if _, ok := files[f]; !ok {
			bad = append(bad, f)
		}
	}
	if len(bad) == 0 {
		return nil
	}
	sort.Strings(bad)
	return fault.Inputf("freeze cut: %s does not describe HEAD's frozen files: %v", p, bad)
}

// Propose returns the manifest a change request brings for version at
// commit h (the head of its branch, after the change): version must
// increment the highest manifest there, v1.0 → v1.1 or v2.0.
func Propose(r *ledger.Repo, h plumbing.Hash, version string, created time.Time) (*gov.Manifest, error) {
	target, err := ParseVersion(version)
	if err != nil {
		return nil, err
	}
	v := newView(r)
	c, err := v.commit(h)
	if err != nil {
		return nil, err
	}
	var latest *Version
	err = v.files(c.TreeHash, layout.Baseline, func(string) bool { return false }, func(p string, _ plumbing.Hash) {
		if mv, ok := manifestVersion(path.Base(p)); ok && mv != target && (latest == nil || latest.Less(mv)) {
			latest = &mv
		}
	})
	if err != nil {
		return nil, err
	}
	if latest == nil {
		return nil, fault.Inputf("freeze manifest: no baseline manifest under %s/ to increment", layout.Baseline)
	}
	if !target.Increments(*latest) {
		return nil, fault.Inputf("freeze manifest: %s does not increment baseline %s (the next version is %s or %s)",
			target, latest, Version{latest.Major, latest.Minor + 1}, Version{latest.Major + 1, 0})
	}
	return BuildManifest(r, h, target, created)
}
