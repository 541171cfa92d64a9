package gov

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/vision-ios/vios/internal/fault"
	"github.com/vision-ios/vios/internal/keys"
	"github.com/vision-ios/vios/internal/layout"
	"github.com/vision-ios/vios/internal/ledger"
	"github.com/vision-ios/vios/internal/policy"
	"github.com/vision-ios/vios/internal/signing"
	"github.com/vision-ios/vios/internal/state"
	"github.com/vision-ios/vios/policies"
)

// Manifest is a baseline manifest (baseline/vX.Y.json): the frozen path
// globs by prohibited category and the blob id of every frozen file.
// Commit is the full id of the commit whose frozen files the manifest
// records; null means the commit that adds the manifest (for v1.0 the
// repository's first commit, tagged baseline/v1.0). Regenerated lists the
// files under 05_GOVERNANCE/ that are not canonical evidence; the v1.0
// manifest leaves it out, meaning the state and status files.
type Manifest struct {
	Version     string              `json:"version"`
	Commit      *string             `json:"commit"`
	CommitNote  string              `json:"commit_note,omitempty"`
	CreatedAt   string              `json:"created_at"`
	Categories  map[string][]string `json:"categories"`
	Regenerated []string            `json:"regenerated,omitempty"`
	Files       map[string]string   `json:"files"`
}

// Author returns the git identity of an agent.
func Author(agent string) ledger.Person {
	return ledger.Person{Name: agent, Email: keys.Principal(agent)}
}

// InitResult describes a new governance repository.
type InitResult struct {
	Commit   plumbing.Hash
	Files    int
	Registry *keys.Registry
}

// Init scaffolds a governance repository at dir: the embedded v1.0
// policies, a registry of the agents' public keys, allowed_signers, the
// v1.0 baseline manifest, the 05_GOVERNANCE layout and any extra files (the
// GitHub workflows, say), in one first commit signed by CODE, tagged
// baseline/v1.0 with an annotated tag signed by CODE. An already
// initialised repository is refused.
func Init(ctx context.Context, dir string, signers map[string]*signing.Signer, now time.Time, extra ...ledger.File) (*InitResult, error) {
	if _, err := policy.Defaults(); err != nil {
		return nil, fmt.Errorf("embedded policies: %w", err)
	}
	for _, a := range policy.Agents {
		if signers[a] == nil {
			return nil, fault.Inputf("init: no key for %s", a)
		}
	}
	r, err := ledger.Init(dir)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	unlock, err := r.Lock(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if _, err := r.Head(); err == nil {
		return nil, fault.Inputf("init: %s is already initialised", dir)
	}

	var files []ledger.File
	err = fs.WalkDir(policies.FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".yaml") {
			return err
		}
		data, err := fs.ReadFile(policies.FS, p)
		if err != nil {
			return err
		}
		files = append(files, ledger.File{Path: layout.Policies + "/" + p, Data: data})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("init: %w", err)
	}
	reg := keys.NewRegistry(signers, now)
	files = append(files,
		ledger.File{Path: layout.Registry, Data: reg.Marshal()},
		ledger.File{Path: layout.AllowedSigners, Data: reg.AllowedSigners()},
	)
	pol, err := policy.Defaults()
	if err != nil {
		return nil, err
	}
	manifest := Manifest{
		Version:    pol.Cycle.Version,
		CommitNote: "the commit that adds this manifest (the repository's first commit; tag baseline/" + pol.Cycle.Version + ")",
		CreatedAt:  now.UTC().Format(time.RFC3339),
		Categories: pol.Governance.Frozen,
		Files:      map[string]string{},
	}
	for _, f := range files {
		if frozen(pol, f.Path) {
			manifest.Files[f.Path] = plumbing.ComputeHash(plumbing.BlobObject, f.Data).String()
		}
	}
	mdata, _ := json.MarshalIndent(manifest, "", "  ")
	files = append(files, ledger.File{Path: layout.BaselineV1, Data: append(mdata, '\n')})
	files = append(files, readmes(pol.Cycle.Version)...)
	files = append(files, ledger.File{Path: layout.StateFile, Data: state.Initial(now).Marshal()})
	taken := make(map[string]bool, len(files))
	for _, f := range files {
		taken[f.Path] = true
	}
	for _, f := range extra {
		if taken[f.Path] || layout.Kind(f.Path) != "" {
			return nil, fault.Inputf("init: extra file %s would replace a governance file", f.Path)
		}
		taken[f.Path] = true
		files = append(files, f)
	}
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })

	ssh, err := signers["CODE"].SSH()
	if err != nil {
		return nil, err
	}
	h, err := r.Apply(ctx, &ledger.Change{
		Subject: "governance: initialise repository at baseline " + pol.Cycle.Version,
		Body:    fmt.Sprintf("Policies %s, agent registry (%d keys), allowed signers, baseline manifest\nand the 05_GOVERNANCE layout.", pol.Cycle.Version, len(reg.Agents)),
		Trailers: [][2]string{
			{"Vios-Artifact", "bootstrap"},
			{"Vios-Agent", "CODE"},
			{"Vios-Baseline", pol.Cycle.Version},
		},
		Files:  files,
		Author: Author("CODE"),
		When:   now,
		Signer: ssh,
	})
	if err != nil {
		return nil, err
	}
	_, err = r.CreateTag(ctx, &ledger.Tag{
		Name:    layout.Baseline + "/" + pol.Cycle.Version,
		Target:  h,
		Message: "baseline " + pol.Cycle.Version + "\n\nThe " + pol.Cycle.Version + " policy set as initialised; manifest " + layout.BaselineV1 + ".\n",
		Tagger:  Author("CODE"),
		When:    now,
		Signer:  ssh,
	})
	if err != nil {
		return nil, fmt.Errorf("init: tag baseline %s: %w", pol.Cycle.Version, err)
	}
	return &InitResult{Commit: h, Files: len(files), Registry: reg}, nil
}

// frozen reports whether a path falls under any frozen category glob.
func frozen(p *policy.Set, file string) bool {
	for _, globs := range p.Governance.Frozen {
		for _, g := range globs {
			if MatchGlob(g, file) {
				return true
			}
		}
	}
	return false
}

// MatchGlob matches a slash path against a glob where "**" matches any
// number of path segments and other patterns follow path.Match.
func MatchGlob(glob, file string) bool {
	if prefix, ok := strings.CutSuffix(glob, "/**"); ok {
		return strings.HasPrefix(file, prefix+"/")
	}
	ok, _ := path.Match(glob, file)
	return ok
}

func readmes(version string) []ledger.File {
	docs := map[string]string{
		"README.md": `# Governance repository

This repository is the audit trail of a Vision-IoS production deployment,
written by ` + "`vios`" + `. Every artifact is a signed git commit.

- ` + "`policies/`" + ` — the ` + version + ` policy set (frozen; changes need a G4 change request)
- ` + "`policies/keys/agents.json`" + ` — the agents' public keys; ` + "`allowed_signers`" + ` is derived from it
- ` + "`baseline/`" + ` — baseline manifests: frozen paths and their blob ids
- ` + "`05_GOVERNANCE/`" + ` — canonical evidence, append-only

Verify every commit signature with stock git:

    git -c gpg.ssh.allowedSignersFile=policies/keys/allowed_signers log --format='%h %G? %GS %s'

and everything else (operation signatures, lineage, evidence hashes,
append-only rule) with ` + "`vios audit verify --repo .`" + `.
`,
		layout.Baseline + "/README.md":       "# Baselines\n\nOne manifest per baseline version: the frozen path globs of the seven prohibited\ncategories and the blob id of every frozen file. Manifests are frozen themselves.\n",
		layout.Governance + "/README.md":     "# 05_GOVERNANCE\n\nCanonical evidence. Files here are only ever added, never modified or deleted,\nexcept OPERATIONAL_STATE.json and OPERATIONAL_STATUS.md, which are regenerated.\n",
		layout.SignatureLogs + "/README.md":  "# Signature audit logs\n\nOne log per production cycle, sharded by the slot's UTC date (YYYY/MM/DD):\nevery operation's Ed25519 signature, registry key, verification result and lineage hash.\n",
		layout.CycleEvidence + "/README.md":  "# Cycle evidence\n\nOne bundle per cycle, sharded like the logs: each step's status, input and output,\nwhose hashes the log signs. Replay reads these.\n",
		layout.CostReports + "/README.md":    "# Cost reports\n\nDaily ADR-012 cost reports, COST_REPORT_YYYY_MM_DD.json.\n",
		layout.Attestations + "/README.md":   "# VEGA attestations\n\nWeekly attestations, VEGA_ATTESTATION_YYYY_MM_DD.md, signed by VEGA.\n",
		layout.Deviations + "/README.md":     "# Deviations\n\nDeviation records with their append-only escalation history.\n",
		layout.ChangeRequests + "/README.md": "# Change requests\n\nCR-NNNN.md documents and their signed approvals (G4).\n",
	}
	out := make([]ledger.File, 0, len(docs))
	for p, d := range docs {
		out = append(out, ledger.File{Path: p, Data: []byte(d)})
	}
	return out
}
