// Package audit verifies a governance repository's whole history natively:
// every governance commit's SSH signature and whether its signer may sign
// that artifact kind, every operation signature of every cycle log against
// the registry, the lineage chain across all cycles, the evidence hashes,
// and the append-only rule for canonical evidence. Commits are checked in
// parallel across cores; the chain is joined in history order at the end.
package audit

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/vision-ios/vios/internal/gov"
	"github.com/vision-ios/vios/internal/keys"
	"github.com/vision-ios/vios/internal/layout"
	"github.com/vision-ios/vios/internal/ledger"
	"github.com/vision-ios/vios/internal/policy"
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
}

// commitResult is what a worker learns about one commit.
type commitResult struct {
	governance  bool
	sigVerified bool
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
// set and registry at HEAD.
func Verify(ctx context.Context, r *ledger.Repo, opt Options) (*Report, error) {
	start := time.Now()
	snap, err := gov.Load(r)
	if err != nil {
		return nil, err
	}
	commits, err := firstParentChain(r, snap.Commit)
	if err != nil {
		return nil, err
	}
	workers := opt.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	results := make([]commitResult, len(commits))
	// Workers take contiguous runs of history, so the trees a commit shares
	// with its parent are already decoded in the worker's cache.
	const chunk = 64
	jobs := make(chan int, len(commits)/chunk+1)
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Each worker reads through its own storage: go-git's pack
			// readers are not safe for concurrent use.
			wr, err := ledger.Open(repoPath(r))
			if err != nil {
				errs <- err
				for range jobs {
				}
				return
			}
			defer wr.Close()
			c := &checker{r: wr, pol: snap.Policy, reg: snap.Registry, trees: map[plumbing.Hash]map[string]object.TreeEntry{}}
			for start := range jobs {
				for i := start; i < min(start+chunk, len(commits)); i++ {
					if ctx.Err() != nil {
						break
					}
					var parent *object.Commit
					if i > 0 {
						parent = commits[i-1]
					}
					results[i] = c.commit(commits[i], parent)
				}
			}
		}()
	}
	for i := 0; i < len(commits); i += chunk {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	rep := &Report{Head: snap.Commit.String(), CommitsChecked: len(commits), Failures: []Failure{}}
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
		rep.OperationSignatures += res.opsOK
		rep.OperationSignaturesBad += res.opsBad
		rep.EvidenceChecked += res.evidence
		rep.Failures = append(rep.Failures, res.failures...)
		for _, l := range res.logs {
			rep.LogsChecked++
			rep.LineageLinks++
			if !samePtr(l.firstParent, prev) {
				rep.Failures = append(rep.Failures, Failure{
					Commit: commits[i].Hash.String(), File: l.path, Check: "lineage",
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

// firstParentChain lists the commits from the root to head along first parents.
func firstParentChain(r *ledger.Repo, head plumbing.Hash) ([]*object.Commit, error) {
	var out []*object.Commit
	for h := head; ; {
		c, err := r.Commit(h)
		if err != nil {
			return nil, fmt.Errorf("read commit %s: %w", h, err)
		}
		out = append(out, c)
		if len(c.ParentHashes) == 0 {
			break
		}
		h = c.ParentHashes[0]
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, nil
}

type checker struct {
	r     *ledger.Repo
	pol   *policy.Set
	reg   *keys.Registry
	trees map[plumbing.Hash]map[string]object.TreeEntry // decoded trees, bounded
}

// commit checks one commit of the first-parent chain; parent is the
// previous commit of the chain (nil for the root).
func (c *checker) commit(cm, parent *object.Commit) commitResult {
	var res commitResult
	id := cm.Hash.String()
	fail := func(file, check, format string, args ...any) {
		res.failures = append(res.failures, Failure{Commit: id, File: file, Check: check, Reason: fmt.Sprintf(format, args...)})
	}
	var parentTree plumbing.Hash
	if parent != nil {
		parentTree = parent.TreeHash
	}
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
	agent, err := c.commitSigner(cm)
	if err != nil {
		fail(gov[0].path, "commit-signature", "%v", err)
	} else {
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
		if ch.path == layout.StateFile && ch.kind == modified && agent != "LARS" && err == nil {
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
	old, err := c.readFile(parentTree, layout.StateFile)
	if err != nil {
		return "", ""
	}
	cur, err := c.r.ReadBlob(newBlob)
	if err != nil {
		return "", ""
	}
	a, err1 := state.Parse(old)
	b, err2 := state.Parse(cur)
	if err1 != nil || err2 != nil {
		return "", ""
	}
	return a.State, b.State
}

// commitSigner verifies the commit's SSH signature and returns the agent
// whose registry key made it, valid at the commit time.
func (c *checker) commitSigner(cm *object.Commit) (string, error) {
	if cm.PGPSignature == "" {
		return "", errors.New("governance commit is not signed")
	}
	payload, err := unsignedPayload(cm)
	if err != nil {
		return "", err
	}
	pub, err := verifyGit(cm.PGPSignature, payload)
	if err != nil {
		return "", err
	}
	e, ok := c.reg.ByKey(pub)
	if !ok {
		return "", errors.New("signed by a key that is not in the agent registry")
	}
	if !e.ValidAt(cm.Committer.When) {
		return "", fmt.Errorf("signed by %s key %s outside its validity window or while %s", e.Agent, e.KeyID, e.Status)
	}
	return e.Agent, nil
}
