// Package audit verifies a governance repository's whole history natively:
// every governance commit's SSH signature and whether its signer may sign
// that artifact kind, every operation signature of every cycle log against
// the registry, the lineage chain across all cycles, the evidence hashes,
// and the append-only rule for canonical evidence. Commits are checked in
// parallel across cores; the chain is joined in history order at the end.
//
// Each worker verifies the Ed25519 signatures it meets in batches
// (signing.Batch). The commits of a batch that fails are checked again with
// every signature verified on its own through sigstore and sshsig, as
// before batching; those verifiers decide what is reported. The batch's
// cofactored equation and their cofactorless one agree on every signature
// that Ed25519 signing makes (see signing.Batch for the one exception).
package audit

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/vision-ios/vios/internal/changereq"
	"github.com/vision-ios/vios/internal/cycle"
	"github.com/vision-ios/vios/internal/gov"
	"github.com/vision-ios/vios/internal/keys"
	"github.com/vision-ios/vios/internal/layout"
	"github.com/vision-ios/vios/internal/ledger"
	"github.com/vision-ios/vios/internal/policy"
	"github.com/vision-ios/vios/internal/signing"
	"github.com/vision-ios/vios/internal/state"
)

// Failure is one problem found, naming the commit and file.
type Failure struct {
	Commit string `json:"commit"`
	File   string `json:"file,omitempty"`
	Check  string `json:"check"`
	Reason string `json:"reason"`
}

// Report is the result of an audit.
type Report struct {
	Head                   string    `json:"head"`
	CommitsChecked         int       `json:"commits_checked"`
	GovernanceCommits      int       `json:"governance_commits"`
	CommitSignatures       int       `json:"commit_signatures_verified"`
	G4Merges               int       `json:"g4_merges"`
	LogsChecked            int       `json:"signature_logs_checked"`
	OperationSignatures    int       `json:"operation_signatures_verified"`
	OperationSignaturesBad int       `json:"operation_signatures_failed"`
	EvidenceChecked        int       `json:"evidence_bundles_checked"`
	LineageLinks           int       `json:"lineage_links_checked"`
	Failures               []Failure `json:"failures"`
	Passed                 bool      `json:"passed"`
	DurationMS             float64   `json:"duration_ms"`
}

// Options tune an audit.
type Options struct {
	Workers int // default GOMAXPROCS
	// Now is the end of the signature-log retention window (default: the
	// wall clock).
	Now time.Time

	// oneByOne verifies every signature on its own, as the commits of a
	// failed batch are: the reference that tests hold batching to.
	oneByOne bool
}

// commitResult is what a worker learns about one commit.
type commitResult struct {
	governance  bool
	sigVerified bool
	g4Merge     bool
	logs        []cycleLink
	opsOK       int
	opsBad      int
	evidence    int
	failures    []Failure
	deletedLogs []string
}

// cycleLink is one cycle's place in the lineage chain.
type cycleLink struct {
	path        string
	cycleID     string
	firstParent *string
	last        *string
}

// Verify audits the history of HEAD's branch (first-parent) with the policy
// set and registry at HEAD. One of its workers reads through r, which the
// caller must leave alone until Verify returns.
func Verify(ctx context.Context, r *ledger.Repo, opt Options) (*Report, error) {
	start := time.Now()
	snap, err := gov.Load(r)
	if err != nil {
		return nil, err
	}
	chain, err := firstParentChain(r, snap.Commit)
	if err != nil {
		return nil, err
	}
	workers := opt.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	results, err := checkAll(ctx, r, snap, chain, workers, opt.oneByOne)
	if err != nil {
		return nil, err
	}

	rep := &Report{Head: snap.Commit.String(), CommitsChecked: len(chain), Failures: []Failure{}}
	var prev *string
	prevCycle := ""
	var deletedLogs []string
	for i, res := range results {
		deletedLogs = append(deletedLogs, res.deletedLogs...)
		if res.governance {
			rep.GovernanceCommits++
		}
		if res.sigVerified {
			rep.CommitSignatures++
		}
		if res.g4Merge {
			rep.G4Merges++
		}
		rep.OperationSignatures += res.opsOK
		rep.OperationSignaturesBad += res.opsBad
		rep.EvidenceChecked += res.evidence
		rep.Failures = append(rep.Failures, res.failures...)
		for _, l := range res.logs {
			rep.LogsChecked++
			rep.LineageLinks++
			if !samePtr(l.firstParent, prev) {
				rep.Failures = append(rep.Failures, Failure{
					Commit: chain[i].hash.String(), File: l.path, Check: "lineage",
					Reason: fmt.Sprintf("cycle %s links to %s, but the previous cycle %s ended at %s (a cycle was removed, reordered or forged)", l.cycleID, show(l.firstParent), orNone(prevCycle), show(prev)),
				})
			}
			prev, prevCycle = l.last, l.cycleID
		}
	}
	retained, err := checkRetention(r, snap, deletedLogs, opt.Now)
	if err != nil {
		return nil, err
	}
	rep.Failures = append(rep.Failures, retained...)
	rep.Passed = len(rep.Failures) == 0
	rep.DurationMS = float64(time.Since(start).Microseconds()) / 1000
	return rep, nil
}

func repoPath(r *ledger.Repo) string {
	if r.Root() != "" {
		return r.Root()
	}
	return r.GitDir()
}

func show(p *string) string {
	if p == nil {
		return "null"
	}
	return *p
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

func samePtr(a, b *string) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return *a == *b
}

// link is one commit of the first-parent chain: its id, its content and
// its tree, read from the commit's header alone. Workers decode the rest.
type link struct {
	hash, tree plumbing.Hash
	raw        []byte
}

// firstParentChain lists the commits from the root to head along first
// parents. It scans only each commit's header (tree and first parent), so
// that the walk, which cannot be parallel, stays short; the workers decode
// the commits it read in full and check the header against them.
func firstParentChain(r *ledger.Repo, head plumbing.Hash) ([]link, error) {
	var out []link
	for h := head; ; {
		// Read without a buffer, the content is the caller's to keep.
		data, err := r.ReadTyped(h, plumbing.CommitObject, nil)
		if err != nil {
			return nil, fmt.Errorf("read history: %w", err)
		}
		hd, err := ledger.ParseCommitHeader(data)
		if err != nil {
			return nil, fmt.Errorf("read commit %s: %w", h, err)
		}
		out = append(out, link{hash: h, tree: hd.TreeHash, raw: data})
		if len(hd.ParentHashes) == 0 {
			break
		}
		h = hd.ParentHashes[0]
	}
	slices.Reverse(out)
	return out, nil
}

type checker struct {
	r      *ledger.Repo
	pol    *policy.Set
	reg    *keys.Registry
	trees  map[plumbing.Hash][]object.TreeEntry // decoded trees in git order, bounded
	states [2]stateMemo                         // the last state files read

	// Storage reused from commit to commit (see object, commitSigner).
	// Trees and blobs have a buffer each: the ledger keeps recent trees,
	// and trades their buffers for the caller's.
	treeBuf, blobBuf []byte
	payload          []byte
	evidence         cycle.EvidenceReader

	// batch, when set, takes the Ed25519 equation of each signature met
	// instead of having it solved on the spot (see run).
	batch    *signing.Batch
	owners   []int // the commit (index in history) of each batched signature
	oneByOne bool  // see Options
}

type stateMemo struct {
	blob  plumbing.Hash
	state string
}

// commit checks commit l of the first-parent chain, whose previous commit
// is prev (the zero link for the root).
func (c *checker) commit(l, prev link) commitResult {
	var res commitResult
	id := l.hash.String()
	fail := func(file, check, format string, args ...any) {
		res.failures = append(res.failures, Failure{Commit: id, File: file, Check: check, Reason: fmt.Sprintf(format, args...)})
	}
	cm, err := c.r.DecodeCommit(l.hash, l.raw)
	if err != nil {
		fail("", "history", "read commit: %v", err)
		return res
	}
	var firstParent plumbing.Hash
	if len(cm.ParentHashes) > 0 {
		firstParent = cm.ParentHashes[0]
	}
	if cm.TreeHash != l.tree || firstParent != prev.hash {
		fail("", "history", "malformed commit: its header names tree %s and first parent %s, its decoding tree %s and parent %s", l.tree, prev.hash, cm.TreeHash, firstParent)
		return res
	}
	parentTree := prev.tree
	changes, err := c.diffTrees(parentTree, cm.TreeHash, "")
	if err != nil {
		fail("", "history", "diff: %v", err)
		return res
	}
	var gov []change
	for _, ch := range changes {
		if layout.Kind(ch.path) != "" {
			gov = append(gov, ch)
		}
	}
	if len(gov) == 0 {
		return res
	}
	res.governance = true
	root := len(cm.ParentHashes) == 0

	// The commit's signature and whether its signer may sign these artifacts.
	agent, err := c.commitSigner(cm, l.raw)
	if err != nil && len(cm.ParentHashes) > 1 && foreignSignature(err) {
		// A change request merged on GitHub: the merge commit carries
		// GitHub's signature, not an agent's. It stands if it only brings
		// in content LARS approved and VEGA recommended.
		if why := c.g4Merge(cm, parentTree, changes); why != "" {
			err = fmt.Errorf("%v, and as a merge it is not a G4-approved change request: %s", err, why)
		} else {
			res.g4Merge = true
		}
	}
	switch {
	case res.g4Merge:
		agent = ""
	case err != nil:
		agent = ""
		fail(gov[0].path, "commit-signature", "%v", err)
	default:
		res.sigVerified = true
		for _, ch := range gov {
			kind := layout.Kind(ch.path)
			if root {
				kind = "bootstrap"
			}
			if !c.pol.MaySign(kind, agent) {
				fail(ch.path, "commit-signer", "signed by %s, who may not sign %s changes (allowed: %s)", agent, kind, strings.Join(c.pol.Signatures.CommitSigners[kind], ", "))
			}
		}
	}

	// Only LARS lifts HALTED or PAUSED.
	for _, ch := range gov {
		if ch.path == layout.StateFile && ch.kind == modified && agent != "LARS" {
			if from, to := c.stateChange(parentTree, ch.blob); from != "" && from != state.Running && to == state.Running {
				fail(ch.path, "resume", "production moved from %s to RUNNING in a commit signed by %s; only LARS may resume", from, agent)
			}
		}
	}

	// Append-only canonical evidence; a deviation record may only gain events.
	for _, ch := range gov {
		if ch.kind == added || layout.Regenerated(ch.path) || !strings.HasPrefix(ch.path, layout.Governance+"/") {
			continue
		}
		if ch.kind == modified && layout.Kind(ch.path) == "deviation" {
			if err := c.deviationAppended(parentTree, ch); err != nil {
				fail(ch.path, "append-only", "deviation record modified other than by appending events: %v", err)
			}
			continue
		}
		if _, ok := layout.LogCycleID(ch.path); ok && ch.kind == deleted {
			res.deletedLogs = append(res.deletedLogs, ch.path)
		}
		fail(ch.path, "append-only", "canonical evidence %s (only additions are allowed)", ch.kind)
	}

	// Cycle logs added in this commit.
	for _, ch := range gov {
		if ch.kind != added || root {
			continue
		}
		if _, ok := layout.LogCycleID(ch.path); ok {
			c.cycleLog(cm, ch, &res, fail)
		}
	}
	return res
}

// stateChange returns the operational state before and after a commit.
func (c *checker) stateChange(parentTree, newBlob plumbing.Hash) (from, to string) {
	oldBlob, err := c.lookup(parentTree, layout.StateFile)
	if err != nil {
		return "", ""
	}
	from, to = c.stateOf(oldBlob), c.stateOf(newBlob)
	if from == "" || to == "" {
		return "", ""
	}
	return from, to
}

// stateOf returns the production state recorded in a state file blob (""
// when unreadable). The last two answers are kept: consecutive commits of a
// worker's run share a state file, the new one of each being the old one of
// the next.
func (c *checker) stateOf(blob plumbing.Hash) string {
	for _, s := range c.states {
		if s.blob == blob {
			return s.state
		}
	}
	st := ""
	if data, err := c.blob(blob); err == nil {
		if p, err := state.Parse(data); err == nil {
			st = p.State
		}
	}
	c.states[0], c.states[1] = c.states[1], stateMemo{blob, st}
	return st
}

// commitSigner verifies the SSH signature of commit cm, whose object is
// raw, and returns the agent whose registry key made it, valid at the
// commit time. The signature covers the object without its signature
// header, as git verifies it (ledger.SplitCommitSignature).
func (c *checker) commitSigner(cm *object.Commit, raw []byte) (string, error) {
	var sig []byte
	c.payload, sig = ledger.SplitCommitSignature(raw, c.payload)
	if len(sig) == 0 {
		return "", errUnsigned
	}
	pub, err := c.gitSigner(string(sig), c.payload)
	if err != nil {
		return "", err
	}
	e, ok := c.reg.ByKey(pub)
	if !ok {
		return "", errForeignKey
	}
	if !e.ValidAt(cm.Committer.When) {
		return "", fmt.Errorf("signed by %s key %s outside its validity window or while %s", e.Agent, e.KeyID, e.Status)
	}
	return e.Agent, nil
}

// gitSigner returns the key that made an SSH commit signature. With a
// batch, a signature that passes every other check of signing.VerifyGit
// leaves its Ed25519 equation to the batch and is taken as made by its key
// until run learns otherwise.
func (c *checker) gitSigner(armored string, payload []byte) (ed25519.PublicKey, error) {
	if c.batch != nil {
		if g, ok := signing.ParseGit(armored, payload); ok && c.batch.Add(g.Public, g.Signed, g.Signature) {
			return g.Public, nil
		}
	}
	return signing.VerifyGit(armored, payload)
}

var (
	errUnsigned   = errors.New("governance commit is not signed")
	errForeignKey = errors.New("signed by a key that is not in the agent registry")
)

// foreignSignature reports whether a commit signature failed because no
// agent made it (unsigned, a non-SSH signature such as GitHub's, or a key
// outside the registry), as opposed to an agent's signature that does not
// verify.
func foreignSignature(err error) bool {
	return errors.Is(err, errUnsigned) || errors.Is(err, errForeignKey) ||
		errors.Is(err, signing.ErrUnsigned) || errors.Is(err, signing.ErrNotSSH)
}

// g4Merge checks a merge commit that no agent signed: its second parent
// must be the head of exactly one change request that LARS approved and
// VEGA recommended (changereq.Approved, against the registry of the first
// parent), and every file the merge changes must come from that head as
// it stands. It returns "" when the merge passes, else why not.
func (c *checker) g4Merge(cm *object.Commit, parentTree plumbing.Hash, changes []change) string {
	var ids []string
	for _, ch := range changes {
		if id, ok := changereq.DocID(ch.path); ok && ch.kind == added {
			ids = append(ids, id)
		}
	}
	if len(ids) != 1 {
		return fmt.Sprintf("it adds %d change request documents (exactly one per merge)", len(ids))
	}
	head, err := c.r.Commit(cm.ParentHashes[1])
	if err != nil {
		return fmt.Sprintf("read its second parent: %v", err)
	}
	ok, why, err := changereq.Approved(c.r, cm.ParentHashes[0], head.Hash, ids[0])
	switch {
	case err != nil:
		return fmt.Sprintf("%s: %v", ids[0], err)
	case !ok:
		return fmt.Sprintf("%s is not approved at the merged head %s: %s", ids[0], head.Hash.String()[:12], why)
	}
	for _, ch := range changes {
		h, err := c.lookup(head.TreeHash, ch.path)
		switch {
		case ch.kind == deleted && errors.Is(err, ledger.ErrNotFound):
		case err != nil && ch.kind == deleted:
			return fmt.Sprintf("%s: %v", ch.path, err)
		case err != nil:
			return fmt.Sprintf("%s is not in the approved head %s", ch.path, head.Hash.String()[:12])
		case ch.kind == deleted:
			return fmt.Sprintf("%s is deleted by the merge but present in the approved head", ch.path)
		case h != ch.blob:
			return fmt.Sprintf("%s differs from the approved head %s", ch.path, head.Hash.String()[:12])
		}
	}
	return ""
}
