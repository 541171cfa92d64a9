package integration

// An independent verifier of the signature logs: it imports no vios package
// and follows only the documented formats (README "The production cycle"):
// DSSE PAE over the RFC 8785 statement, Ed25519 registry keys, the lineage
// hash chain across all cycles and the evidence hashes.

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gowebpki/jcs"
)

const operationPayloadType = "application/vnd.vision-ios.operation.v1+json"

type ivRegistry struct {
	Agents []struct {
		Agent      string  `json:"agent"`
		PublicKey  string  `json:"public_key"`
		Status     string  `json:"status"`
		ValidFrom  string  `json:"valid_from"`
		ValidUntil *string `json:"valid_until"`
	} `json:"agents"`
}

type ivOp struct {
	Step                int     `json:"step"`
	Agent               string  `json:"agent"`
	Operation           string  `json:"operation"`
	OperationTimestamp  string  `json:"operation_timestamp"`
	InputHash           string  `json:"input_hash"`
	OperationOutputHash string  `json:"operation_output_hash"`
	ParentHash          *string `json:"parent_hash"`
	LineageHash         string  `json:"lineage_hash"`
	Signature           string  `json:"signature"`
	PublicKey           string  `json:"public_key"`
	Verified            bool    `json:"verified"`
}

type ivLog struct {
	CycleID        string `json:"cycle_id"`
	CycleTimestamp string `json:"cycle_timestamp"`
	PayloadType    string `json:"payload_type"`
	Summary        struct {
		VerificationStatus string `json:"verification_status"`
	} `json:"signature_verification_summary"`
	Operations []ivOp `json:"operation_signatures"`

	path string
	ts   time.Time
}

type ivEvidence struct {
	CycleID string `json:"cycle_id"`
	Steps   []struct {
		Step       int             `json:"step"`
		InputHash  string          `json:"input_hash"`
		OutputHash string          `json:"operation_output_hash"`
		Input      json.RawMessage `json:"input"`
		Output     json.RawMessage `json:"output"`
	} `json:"steps"`
}

// ivPAE is the DSSE v1 pre-authentication encoding.
func ivPAE(typ string, body []byte) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "DSSEv1 %d %s %d ", len(typ), typ, len(body))
	b.Write(body)
	return b.Bytes()
}

// ivStatementBody is the RFC 8785 canonical JSON of an operation statement.
func ivStatementBody(cycleID string, op ivOp) ([]byte, error) {
	var parent any // JSON null when absent
	if op.ParentHash != nil {
		parent = *op.ParentHash
	}
	raw, err := json.Marshal(map[string]any{
		"agent":                 op.Agent,
		"cycle_id":              cycleID,
		"input_hash":            op.InputHash,
		"operation":             op.Operation,
		"operation_output_hash": op.OperationOutputHash,
		"operation_timestamp":   op.OperationTimestamp,
		"parent_hash":           parent,
		"step":                  op.Step,
	})
	if err != nil {
		return nil, err
	}
	return jcs.Transform(raw)
}

func ivEd25519(s string, size int) ([]byte, error) {
	raw, ok := strings.CutPrefix(s, "ed25519:")
	if !ok {
		return nil, fmt.Errorf("%.20q lacks the ed25519: prefix", s)
	}
	b, err := base64.StdEncoding.Strict().DecodeString(raw)
	if err != nil {
		return nil, err
	}
	if len(b) != size {
		return nil, fmt.Errorf("%d bytes, want %d", len(b), size)
	}
	return b, nil
}

func ivSHA256(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

func ivLineage(parent *string, outputHash, sig string) string {
	p := ""
	if parent != nil {
		p = *parent
	}
	return ivSHA256([]byte(p + "\n" + outputHash + "\n" + sig))
}

func ivHashJSON(raw json.RawMessage) (string, error) {
	c, err := jcs.Transform(raw)
	if err != nil {
		return "", err
	}
	return ivSHA256(c), nil
}

// registryKey returns the public key of agent's ACTIVE registry entry valid
// at ts.
func (r *ivRegistry) key(agent string, ts time.Time) (ed25519.PublicKey, string, error) {
	var found []string
	for _, e := range r.Agents {
		if e.Agent != agent || e.Status != "ACTIVE" {
			continue
		}
		from, err := time.Parse(time.RFC3339, e.ValidFrom)
		if err != nil || ts.Before(from) {
			continue
		}
		if e.ValidUntil != nil {
			until, err := time.Parse(time.RFC3339, *e.ValidUntil)
			if err != nil || !ts.Before(until) {
				continue
			}
		}
		found = append(found, e.PublicKey)
	}
	if len(found) != 1 {
		return nil, "", fmt.Errorf("%d ACTIVE registry keys for %s at %s, want 1", len(found), agent, ts.Format(time.RFC3339))
	}
	b, err := ivEd25519(found[0], ed25519.PublicKeySize)
	if err != nil {
		return nil, "", fmt.Errorf("registry key of %s: %v", agent, err)
	}
	return ed25519.PublicKey(b), found[0], nil
}

// TestIndependentVerifier checks every operation signature, lineage hash and
// evidence hash of a 24-cycle demo repository from its files alone, with
// stdlib crypto and JCS only.
func TestIndependentVerifier(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "demo")
	mustRun(t, 0, "demo", "--dir", dir, "--days", "1", "--now", "2026-03-10T12:00:00Z")
	repo := filepath.Join(dir, "governance")

	var reg ivRegistry
	if err := json.Unmarshal(readFile(t, filepath.Join(repo, "policies", "keys", "agents.json")), &reg); err != nil {
		t.Fatalf("agents.json: %v", err)
	}

	var logs []*ivLog
	root := filepath.Join(repo, "05_GOVERNANCE", "SIGNATURE_AUDIT_LOGS")
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		name := d.Name()
		if !strings.HasPrefix(name, "SIGNATURE_LOG_CYCLE_") || !strings.HasSuffix(name, ".json") {
			return nil
		}
		lg := &ivLog{path: p}
		if err := json.Unmarshal(readFile(t, p), lg); err != nil {
			return fmt.Errorf("%s: %v", p, err)
		}
		if lg.ts, err = time.Parse(time.RFC3339, lg.CycleTimestamp); err != nil {
			return fmt.Errorf("%s: cycle_timestamp: %v", p, err)
		}
		logs = append(logs, lg)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(logs) != 24 {
		t.Fatalf("found %d signature logs, want 24 (demo --days 1)", len(logs))
	}
	sort.Slice(logs, func(i, j int) bool { return logs[i].ts.Before(logs[j].ts) })

	var prev *string // the previous cycle's last lineage hash
	ops := 0
	for ci, lg := range logs {
		rel, _ := filepath.Rel(repo, lg.path)
		if want := "SIGNATURE_LOG_CYCLE_" + cycleID(lg.ts) + ".json"; filepath.Base(lg.path) != want || lg.CycleID != cycleID(lg.ts) {
			t.Errorf("%s: cycle_id %s; want file %s for cycle_timestamp %s", rel, lg.CycleID, want, lg.CycleTimestamp)
		}
		if want := lg.ts.Format("2006/01/02"); filepath.ToSlash(filepath.Dir(rel)) != "05_GOVERNANCE/SIGNATURE_AUDIT_LOGS/"+want {
			t.Errorf("%s: not in the date shard %s", rel, want)
		}
		if lg.PayloadType != operationPayloadType {
			t.Errorf("%s: payload_type %q", rel, lg.PayloadType)
		}
		if lg.Summary.VerificationStatus != "PASS" {
			t.Errorf("%s: verification_status %q", rel, lg.Summary.VerificationStatus)
		}
		if len(lg.Operations) < 5 {
			t.Errorf("%s: %d operations, want at least 5", rel, len(lg.Operations))
			continue
		}

		// The evidence bundle in the same date shard.
		evPath := filepath.Join(repo, "05_GOVERNANCE", "CYCLE_EVIDENCE", filepath.FromSlash(lg.ts.Format("2006/01/02")), "CYCLE_"+lg.CycleID+".json")
		var ev ivEvidence
		if err := json.Unmarshal(readFile(t, evPath), &ev); err != nil {
			t.Fatalf("%s: %v", evPath, err)
		}
		if ev.CycleID != lg.CycleID {
			t.Errorf("%s names cycle %s, log %s", evPath, ev.CycleID, lg.CycleID)
		}
		steps := map[int]int{}
		for i, s := range ev.Steps {
			steps[s.Step] = i
		}

		for i, op := range lg.Operations {
			ops++
			where := fmt.Sprintf("%s step %d (%s %s)", rel, op.Step, op.Agent, op.Operation)
			// Lineage link: the first op links to the previous cycle.
			wantParent := prev
			if i > 0 {
				l := lg.Operations[i-1].LineageHash
				wantParent = &l
			}
			if (op.ParentHash == nil) != (wantParent == nil) || (op.ParentHash != nil && *op.ParentHash != *wantParent) {
				t.Errorf("%s: parent_hash %v, want %v (cycle %d of %d)", where, deref(op.ParentHash), deref(wantParent), ci+1, len(logs))
			}
			if got := ivLineage(op.ParentHash, op.OperationOutputHash, op.Signature); got != op.LineageHash {
				t.Errorf("%s: lineage_hash %s, recomputed %s", where, op.LineageHash, got)
			}

			// The signature, with the registry key only.
			ts, err := time.Parse(time.RFC3339, op.OperationTimestamp)
			if err != nil {
				t.Errorf("%s: operation_timestamp: %v", where, err)
				continue
			}
			pub, pubText, err := reg.key(op.Agent, ts)
			if err != nil {
				t.Errorf("%s: %v", where, err)
				continue
			}
			if op.PublicKey != pubText {
				t.Errorf("%s: the log's public_key %s is not the registry key %s", where, op.PublicKey, pubText)
			}
			sig, err := ivEd25519(op.Signature, ed25519.SignatureSize)
			if err != nil {
				t.Errorf("%s: signature: %v", where, err)
				continue
			}
			body, err := ivStatementBody(lg.CycleID, op)
			if err != nil {
				t.Fatalf("%s: canonical statement: %v", where, err)
			}
			if !ed25519.Verify(pub, ivPAE(operationPayloadType, body), sig) {
				t.Errorf("%s: signature does not verify against the registry key\nstatement %s", where, body)
			}
			if !op.Verified {
				t.Errorf("%s: verifies, but the log says verified=false", where)
			}
			// Sanity: the verifier is not vacuous. The same signature must
			// not verify over a different statement or a PAE with another
			// payload type.
			if ed25519.Verify(pub, ivPAE(operationPayloadType+"x", body), sig) {
				t.Fatalf("%s: signature verifies under another payload type", where)
			}
			other := op
			other.Step++
			if ob, _ := ivStatementBody(lg.CycleID, other); ed25519.Verify(pub, ivPAE(operationPayloadType, ob), sig) {
				t.Fatalf("%s: signature verifies over another step", where)
			}

			// The evidence recomputes to the signed hashes.
			si, ok := steps[op.Step]
			if !ok {
				t.Errorf("%s: missing from the evidence", where)
				continue
			}
			s := ev.Steps[si]
			for _, part := range []struct {
				name       string
				raw        json.RawMessage
				signed, ev string
			}{{"input", s.Input, op.InputHash, s.InputHash}, {"output", s.Output, op.OperationOutputHash, s.OutputHash}} {
				got, err := ivHashJSON(part.raw)
				if err != nil {
					t.Errorf("%s: evidence %s: %v", where, part.name, err)
					continue
				}
				if got != part.signed {
					t.Errorf("%s: evidence %s hashes to %s, signed %s", where, part.name, got, part.signed)
				}
				if part.ev != part.signed {
					t.Errorf("%s: evidence records %s hash %s, signed %s", where, part.name, part.ev, part.signed)
				}
			}
		}
		l := lg.Operations[len(lg.Operations)-1].LineageHash
		prev = &l
	}
	if ops < 24*5 {
		t.Errorf("verified %d operations, want at least %d", ops, 24*5)
	}

	// The chain ends where the operational state says it does.
	var st struct {
		LastLineage string `json:"last_lineage_hash"`
		Cycles      int    `json:"cycles_recorded"`
	}
	if err := json.Unmarshal(readFile(t, filepath.Join(repo, "05_GOVERNANCE", "OPERATIONAL_STATE.json")), &st); err != nil {
		t.Fatal(err)
	}
	if prev == nil || st.LastLineage != *prev || st.Cycles != len(logs) {
		t.Errorf("OPERATIONAL_STATE.json: last_lineage_hash %s, cycles %d; the chain ends at %s after %d cycles", st.LastLineage, st.Cycles, deref(prev), len(logs))
	}
	if _, err := os.Stat(filepath.Join(dir, "keys", "finn.key")); err != nil {
		t.Errorf("demo keys: %v", err)
	}
	t.Logf("independently verified %d operation signatures and lineage links in %d cycles", ops, len(logs))
}

func deref(p *string) string {
	if p == nil {
		return "null"
	}
	return strconv.Quote(*p)
}
