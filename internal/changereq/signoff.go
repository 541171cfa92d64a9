package changereq

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/vision-ios/vios/internal/fault"
	"github.com/vision-ios/vios/internal/gov"
	"github.com/vision-ios/vios/internal/keys"
	"github.com/vision-ios/vios/internal/layout"
	"github.com/vision-ios/vios/internal/ledger"
	"github.com/vision-ios/vios/internal/signing"
)

// SignOffOptions describe an approval or a recommendation.
type SignOffOptions struct {
	ID      string
	Signer  *signing.Signer
	Verdict string // recommendations: approve or reject; approvals are always approve
	Note    string
	Now     time.Time
}

// SignOffResult describes a committed (or already present) sign-off.
type SignOffResult struct {
	Record  *Record `json:"record"`
	Path    string  `json:"path"`
	Branch  string  `json:"branch"`
	Commit  string  `json:"commit"`
	Already bool    `json:"already_recorded"`
}

// Approve commits LARS's signed approval of change request id on its
// branch: a record bound to the change request and to the tree at the
// branch tip (its content tree), signed with LARS's Ed25519 key, in a
// commit signed with LARS's SSH key. Only LARS approves, and only a
// complete document. Approving the same tree again changes nothing.
func Approve(ctx context.Context, r *ledger.Repo, opt SignOffOptions) (*SignOffResult, error) {
	if opt.Signer == nil || opt.Signer.Agent != "LARS" {
		return nil, fault.Inputf("cr approve: only LARS approves change requests")
	}
	opt.Verdict = VerdictApprove
	return signOff(ctx, r, RecordApproval, opt)
}

// Recommend commits VEGA's signed recommendation (approve or reject) of
// change request id on its branch, like Approve.
func Recommend(ctx context.Context, r *ledger.Repo, opt SignOffOptions) (*SignOffResult, error) {
	if opt.Signer == nil || opt.Signer.Agent != "VEGA" {
		return nil, fault.Inputf("cr recommend: only VEGA recommends on change requests")
	}
	if opt.Verdict != VerdictApprove && opt.Verdict != VerdictReject {
		return nil, fault.Inputf("cr recommend: --verdict %q: want approve or reject", opt.Verdict)
	}
	return signOff(ctx, r, RecordRecommendation, opt)
}

func signOff(ctx context.Context, r *ledger.Repo, kind string, opt SignOffOptions) (*SignOffResult, error) {
	verb := map[string]string{RecordApproval: "cr approve", RecordRecommendation: "cr recommend"}[kind]
	if _, err := ParseID(opt.ID); err != nil {
		return nil, fmt.Errorf("%s: %w", verb, err)
	}
	if strings.ContainsAny(opt.Note, "\r\n") || len(opt.Note) > 500 {
		return nil, fault.Inputf("%s: the note is one line of at most 500 bytes", verb)
	}
	unlock, err := r.Lock(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
	branch := Branch(opt.ID)
	ref, err := r.Git.Storer.Reference(branch)
	if err != nil {
		return nil, fault.Inputf("%s: branch %s not found (fetch it: git fetch origin %s:%s)", verb, branch.Short(), branch.Short(), branch.Short())
	}
	tip := ref.Hash()
	snap, err := gov.LoadAt(r, tip)
	if err != nil {
		return nil, err
	}
	entry, ok := snap.Registry.Current(opt.Signer.Agent, opt.Now)
	if !ok || !entry.Public().Equal(opt.Signer.Public()) {
		return nil, fault.Governancef("%s: the %s key given is not %s's ACTIVE registry key", verb, opt.Signer.Agent, opt.Signer.Agent)
	}
	tc, err := r.Commit(tip)
	if err != nil {
		return nil, err
	}
	data, err := r.ReadTreeFile(tc.TreeHash, DocPath(opt.ID))
	if errors.Is(err, ledger.ErrNotFound) {
		return nil, fault.Inputf("%s: %s has no %s", verb, branch.Short(), DocPath(opt.ID))
	}
	if err != nil {
		return nil, err
	}
	doc, problems := ParseDocument(opt.ID, data, snap.Policy.Governance.Frozen)
	if len(problems) > 0 && kind == RecordApproval {
		return nil, fault.Governancef("%s: %s is incomplete: %s", verb, opt.ID, strings.Join(problems, "; "))
	}
	content, err := ContentTree(r, tc.TreeHash)
	if err != nil {
		return nil, err
	}
	existing, err := readRecords(r, tc.TreeHash, opt.ID)
	if err != nil {
		return nil, err
	}
	var last *foundRecord
	for i, x := range existing {
		if x.file.Kind == kind && x.file.Agent == opt.Signer.Agent {
			last = &existing[i]
		}
	}
	seq := 1
	if last != nil {
		seq = last.file.Seq + 1
		if last.err == nil && last.rec.Tree == content.String() && last.rec.Verdict == opt.Verdict && last.rec.Verify(last.path, snap.Registry) == nil {
			return &SignOffResult{Record: last.rec, Path: last.path, Branch: branch.Short(), Commit: tip.String(), Already: true}, nil
		}
	}
	rec := &Record{
		Type:             kind,
		ChangeRequest:    opt.ID,
		Agent:            opt.Signer.Agent,
		Verdict:          opt.Verdict,
		Tree:             content.String(),
		Commit:           tip.String(),
		RequestedVersion: doc.Version,
		Note:             strings.TrimSpace(opt.Note),
		SignedAt:         opt.Now.UTC().Format(time.RFC3339),
	}
	if err := rec.Sign(opt.Signer, entry.KeyID); err != nil {
		return nil, err
	}
	path := RecordPath(opt.ID, kind, opt.Signer.Agent, seq)
	ssh, err := opt.Signer.SSH()
	if err != nil {
		return nil, err
	}
	subject := fmt.Sprintf("change request %s: approved by LARS (tree %s)", opt.ID, rec.Tree[:12])
	if kind == RecordRecommendation {
		subject = fmt.Sprintf("change request %s: VEGA recommends %s (tree %s)", opt.ID, opt.Verdict, rec.Tree[:12])
	}
	h, err := r.ApplyTo(ctx, branch, &ledger.Change{
		Subject: subject,
		Body:    rec.Note,
		Trailers: [][2]string{
			{"Vios-Artifact", "change_request"},
			{"Vios-Agent", opt.Signer.Agent},
			{"Vios-Change-Request", opt.ID},
			{"Vios-Baseline", snap.Policy.Cycle.Version},
		},
		Files:  []ledger.File{{Path: path, Data: rec.Marshal()}},
		Author: gov.Author(opt.Signer.Agent),
		When:   opt.Now,
		Signer: ssh,
		Parent: tip,
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", verb, err)
	}
	return &SignOffResult{Record: rec, Path: path, Branch: branch.Short(), Commit: h.String()}, nil
}

// foundRecord is a sign-off record read from a tree.
type foundRecord struct {
	path string
	file crFile
	rec  *Record // nil when it did not parse
	err  error   // parse error (verification is the caller's)
}

// readRecords reads every sign-off record of change request id in tree,
// ordered by kind, agent and sequence.
func readRecords(r *ledger.Repo, tree plumbing.Hash, id string) ([]foundRecord, error) {
	entries, err := crEntries(r, tree)
	if err != nil {
		return nil, err
	}
	var out []foundRecord
	for _, e := range entries {
		p := layout.ChangeRequests + "/" + e.Name
		f, ok := parseCRPath(p)
		if !ok || f.Doc || f.ID != id {
			continue
		}
		data, err := r.ReadBlob(e.Hash)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", p, err)
		}
		rec, perr := ParseRecord(data)
		out = append(out, foundRecord{path: p, file: f, rec: rec, err: perr})
	}
	sortRecords(out)
	return out, nil
}

func sortRecords(rs []foundRecord) {
	sort.Slice(rs, func(i, j int) bool {
		a, b := rs[i].file, rs[j].file
		if a.Kind != b.Kind {
			return a.Kind < b.Kind
		}
		if a.Agent != b.Agent {
			return a.Agent < b.Agent
		}
		return a.Seq < b.Seq
	})
}

// verifyAll verifies records against reg and splits them into good and bad.
func verifyAll(rs []foundRecord, reg *keys.Registry) (good []foundRecord, bad []string) {
	for _, x := range rs {
		err := x.err
		if err == nil {
			err = x.rec.Verify(x.path, reg)
		}
		if err != nil {
			bad = append(bad, fmt.Sprintf("%s: %v", x.path[len(layout.ChangeRequests)+1:], err))
			continue
		}
		good = append(good, x)
	}
	return good, bad
}
