package freeze

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"path"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/vision-ios/vios/internal/layout"
	"github.com/vision-ios/vios/internal/ledger"
	"github.com/vision-ios/vios/internal/signing"
)

// A change request lives at 05_GOVERNANCE/CHANGE_REQUESTS/CR-NNNN.md and
// declares the frozen paths it changes in a line-based section:
//
//	## Declared paths
//
//	- policies/economics.yaml
//	- `policies/cycle.yaml`
//
// The section ends at the next "## " heading. Its approvals sit beside it
// as CR-NNNN.approval.<AGENT>.json records (and VEGA's recommendation as
// CR-NNNN.recommendation.<AGENT>.json); the default Approver accepts a
// LARS-signed approval record naming the head tree (see ApprovalRecord).

// The patterns are compiled on first use, not at every start of the binary.
var (
	crDocRe    = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^CR-[0-9]{4,6}\.md$`) })
	crRecordRe = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^CR-[0-9]{4,6}\.(approval|recommendation)\.[A-Z]+(\.[1-9][0-9]{0,5})?\.json$`)
	})
)

// DeclaredHeading is the heading of the section listing a change request's paths.
const DeclaredHeading = "## Declared paths"

// ChangeRequest is a change request document found between base and head.
type ChangeRequest struct {
	ID       string   `json:"id"`
	Path     string   `json:"path"`
	Declared []string `json:"declared_paths"`
	Approved bool     `json:"approved"`
	Reason   string   `json:"reason"`
}

// Approver decides whether change request cr is G4-approved for head (a
// commit) and says why. base is the commit whose registry is trusted (the
// check's base, else the baseline commit; zero in a clone that has
// neither). The G4 gate supplies its own (changereq.Approved); Check
// defaults to the LARS-signed approval record described by ApprovalRecord.
type Approver func(ctx context.Context, base, head plumbing.Hash, cr *ChangeRequest) (ok bool, reason string, err error)

// crID returns "CR-0007" for a change request document path.
func crID(p string) (string, bool) {
	dir, name := path.Split(p)
	if dir != layout.ChangeRequests+"/" || !crDocRe().MatchString(name) {
		return "", false
	}
	return strings.TrimSuffix(name, ".md"), true
}

// DeclaredPaths returns the "- path" items of a change request's
// "## Declared paths" section, backticks removed, in order.
func DeclaredPaths(doc []byte) []string {
	var out []string
	in := false
	sc := bufio.NewScanner(bytes.NewReader(doc))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "## ") || line == "##" {
			in = strings.EqualFold(strings.Join(strings.Fields(line), " "), DeclaredHeading)
			continue
		}
		if !in {
			continue
		}
		item, ok := strings.CutPrefix(line, "- ")
		if !ok {
			if item, ok = strings.CutPrefix(line, "* "); !ok {
				continue
			}
		}
		item = strings.Trim(strings.TrimSpace(item), "`")
		if item != "" {
			out = append(out, item)
		}
	}
	return out
}

// ApprovalPath is the path of agent's approval record of change request id.
func ApprovalPath(id, agent string) string {
	return layout.ChangeRequests + "/" + id + ".approval." + agent + ".json"
}

// ApprovalRecord is a signed approval of a change request: agent approves
// change request CR as of Tree, the head tree with every approval and
// recommendation record under CHANGE_REQUESTS/ left out (so the record can
// be committed on top of what it approves, and any later change of the
// tree makes it stale). Signature is an armored SSH signature (namespace
// git) over ApprovalPayload.
type ApprovalRecord struct {
	CR        string `json:"cr"`
	Agent     string `json:"agent"`
	Verdict   string `json:"verdict"`
	Tree      string `json:"tree"`
	SignedAt  string `json:"signed_at"`
	Signature string `json:"signature,omitempty"`
}

// approvalDomain separates approval payloads from git commit and tag
// payloads signed in the same SSH namespace.
const approvalDomain = "vios-cr-approval-v1\n"

// ApprovalPayload is the byte string an approval signature covers: a
// domain line and the RFC 8785 canonical JSON of the record without its
// signature.
func ApprovalPayload(a ApprovalRecord) ([]byte, error) {
	a.Signature = ""
	raw, err := json.Marshal(a)
	if err != nil {
		return nil, err
	}
	canon, err := signing.Canonicalize(raw)
	if err != nil {
		return nil, err
	}
	return append([]byte(approvalDomain), canon...), nil
}

// SignApproval returns the JSON of an approval record of change request id
// by the signer's agent for tree, signed at t.
func SignApproval(s *signing.SSHSigner, id string, tree plumbing.Hash, t time.Time) ([]byte, error) {
	a := ApprovalRecord{CR: id, Agent: s.Agent, Verdict: "approve", Tree: tree.String(), SignedAt: t.UTC().Format(time.RFC3339)}
	payload, err := ApprovalPayload(a)
	if err != nil {
		return nil, err
	}
	sig, err := s.SignGit(payload)
	if err != nil {
		return nil, err
	}
	a.Signature = string(sig)
	b, _ := json.MarshalIndent(a, "", "  ")
	return append(b, '\n'), nil
}

// ApprovedTree returns the tree an approval of commit h must name: its tree
// with the approval and recommendation records under CHANGE_REQUESTS/ left
// out. Nothing is written.
func ApprovedTree(r *ledger.Repo, h plumbing.Hash) (plumbing.Hash, error) {
	v := newView(r)
	c, err := v.commit(h)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	return v.approvedTree(c.TreeHash)
}

func (v *view) approvedTree(root plumbing.Hash) (plumbing.Hash, error) {
	return v.strip(root, strings.Split(layout.ChangeRequests, "/"))
}

// strip returns the hash of tree t with the records under dir removed.
func (v *view) strip(t plumbing.Hash, dir []string) (plumbing.Hash, error) {
	es, err := v.entries(t)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	out := make([]object.TreeEntry, 0, len(es))
	changed := false
	for _, e := range es {
		switch {
		case len(dir) == 0:
			if e.Mode != filemode.Dir && crRecordRe().MatchString(e.Name) {
				changed = true
				continue
			}
		case e.Name == dir[0] && e.Mode == filemode.Dir:
			sub, err := v.strip(e.Hash, dir[1:])
			if err != nil {
				return plumbing.ZeroHash, err
			}
			if sub != e.Hash {
				changed = true
				if sub.IsZero() {
					continue // git stores no empty trees
				}
				e.Hash = sub
			}
		}
		out = append(out, e)
	}
	if !changed {
		return t, nil
	}
	if len(out) == 0 {
		return plumbing.ZeroHash, nil
	}
	obj := &plumbing.MemoryObject{}
	if err := (&object.Tree{Entries: out}).Encode(obj); err != nil {
		return plumbing.ZeroHash, err
	}
	return obj.Hash(), nil
}

// signedApproval is the default Approver: LARS's signed approval record of
// the change request, committed at head, names the head's approved tree and
// verifies against a LARS key of the trusted registry (read at the base or
// the baseline commit, never at the head under check).
func (c *checker) signedApproval(ctx context.Context, base, head plumbing.Hash, cr *ChangeRequest) (bool, string, error) {
	if base.IsZero() {
		return false, "no trusted registry (the base and baseline commits are not in this clone)", nil
	}
	if c.registry == nil {
		reg, err := c.v.registry(base)
		if err != nil {
			return false, "", fmt.Errorf("registry at %s: %w", base.String()[:12], err)
		}
		c.registry = reg
	}
	p := ApprovalPath(cr.ID, "LARS")
	bh, ok, err := c.v.lookup(c.headTree, p)
	if err != nil {
		return false, "", err
	}
	if !ok {
		return false, "no LARS approval record " + path.Base(p), nil
	}
	data, err := c.v.blob(bh)
	if err != nil {
		return false, "", fmt.Errorf("read %s: %w", p, err)
	}
	var a ApprovalRecord
	if err := json.Unmarshal(data, &a); err != nil {
		return false, fmt.Sprintf("%s is not an approval record: %v", path.Base(p), err), nil
	}
	if a.CR != cr.ID || a.Agent != "LARS" || a.Verdict != "approve" {
		return false, fmt.Sprintf("%s approves %q as %q with verdict %q", path.Base(p), a.CR, a.Agent, a.Verdict), nil
	}
	at, err := time.Parse(time.RFC3339, a.SignedAt)
	if err != nil {
		return false, fmt.Sprintf("%s: signed_at %q is not an RFC 3339 time", path.Base(p), a.SignedAt), nil
	}
	payload, err := ApprovalPayload(a)
	if err != nil {
		return false, "", err
	}
	pub, err := signing.VerifyGit(a.Signature, payload)
	if err != nil {
		return false, fmt.Sprintf("%s: signature: %v", path.Base(p), err), nil
	}
	if _, ok := c.registry.KeyAt("LARS", pub, at); !ok {
		return false, fmt.Sprintf("%s is not signed by a LARS key of the registry valid at %s", path.Base(p), a.SignedAt), nil
	}
	want, err := c.v.approvedTree(c.headTree)
	if err != nil {
		return false, "", err
	}
	if a.Tree != want.String() {
		return false, fmt.Sprintf("%s approves tree %.12s, the head's tree is %.12s (stale approval)", path.Base(p), a.Tree, want.String()), nil
	}
	return true, fmt.Sprintf("LARS-signed approval of tree %.12s", want.String()), nil
}
