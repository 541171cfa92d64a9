package changereq

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/vision-ios/vios/internal/keys"
	"github.com/vision-ios/vios/internal/layout"
	"github.com/vision-ios/vios/internal/signing"
)

// PayloadType is the DSSE payload type a sign-off record is signed under.
const PayloadType = "application/vnd.vision-ios.change-request-signoff.v1+json"

// Record kinds, who may sign them and the verdicts they carry.
const (
	RecordApproval       = "approval"
	RecordRecommendation = "recommendation"
	VerdictApprove       = "approve"
	VerdictReject        = "reject"
)

// signerOf is the only agent allowed to sign each kind of record.
var signerOf = map[string]string{RecordApproval: "LARS", RecordRecommendation: "VEGA"}

// Record is a signed sign-off of a change request: LARS's approval or
// VEGA's recommendation. Signature is the agent's Ed25519 signature over
// the DSSE PAE (PayloadType) of the RFC 8785 canonical JSON of the record
// without its signature.
type Record struct {
	Type             string `json:"type"`
	ChangeRequest    string `json:"change_request"`
	Agent            string `json:"agent"`
	Verdict          string `json:"verdict"`
	Tree             string `json:"tree"`
	Commit           string `json:"commit"`
	RequestedVersion string `json:"requested_version"`
	Note             string `json:"note,omitempty"`
	SignedAt         string `json:"signed_at"`
	KeyID            string `json:"key_id"`
	Signature        string `json:"signature,omitempty"`
}

// RecordPath is where the seq-th record of a kind by agent lives:
// CR-0001.approval.LARS.json for the first, CR-0001.approval.LARS.2.json after.
func RecordPath(id, kind, agent string, seq int) string {
	if seq <= 1 {
		return fmt.Sprintf("%s/%s.%s.%s.json", layout.ChangeRequests, id, kind, agent)
	}
	return fmt.Sprintf("%s/%s.%s.%s.%d.json", layout.ChangeRequests, id, kind, agent, seq)
}

// signedBytes is what the agent signs: the PAE of the canonical record
// without its signature.
func (rec Record) signedBytes() ([]byte, error) {
	rec.Signature = ""
	raw, err := json.Marshal(rec)
	if err != nil {
		return nil, err
	}
	return signing.Canonicalize(raw)
}

// Sign fills KeyID (the registry's id of s's key) and Signature.
func (rec *Record) Sign(s *signing.Signer, keyID string) error {
	rec.KeyID = keyID
	body, err := rec.signedBytes()
	if err != nil {
		return fmt.Errorf("sign record: %w", err)
	}
	sig, err := s.SignPayload(PayloadType, body)
	if err != nil {
		return err
	}
	rec.Signature = sig
	return nil
}

// Marshal writes the record as indented JSON.
func (rec *Record) Marshal() []byte {
	b, _ := json.MarshalIndent(rec, "", "  ")
	return append(b, '\n')
}

// ParseRecord strictly parses a record file.
func ParseRecord(data []byte) (*Record, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var rec Record
	if err := dec.Decode(&rec); err != nil {
		return nil, fmt.Errorf("parse record: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("parse record: trailing data after the JSON object")
	}
	return &rec, nil
}

// Errors of record verification.
var (
	ErrUnknownKey = errors.New("signing key is not the agent's registry key at the signing time")
	ErrMismatch   = errors.New("record does not match its file")
)

// Verify checks a record found at path: its fields agree with the file name
// (change request, kind, agent, the only agent who may sign that kind), its
// key is the agent's key in reg valid at signed_at, and the signature
// verifies. The registry is the one the gate trusts (the base's), never one
// the change itself brings.
func (rec *Record) Verify(path string, reg *keys.Registry) error {
	f, ok := parseCRPath(path)
	if !ok || f.Doc {
		return fmt.Errorf("%w: %s is not a sign-off record path", ErrMismatch, path)
	}
	if rec.Type != f.Kind || rec.ChangeRequest != f.ID || rec.Agent != f.Agent {
		return fmt.Errorf("%w: %s holds a %s of %s by %s", ErrMismatch, path, rec.Type, rec.ChangeRequest, rec.Agent)
	}
	if want := signerOf[rec.Type]; rec.Agent != want {
		return fmt.Errorf("%w: a %s is signed by %s, not %s", ErrMismatch, rec.Type, want, rec.Agent)
	}
	switch {
	case rec.Type == RecordApproval && rec.Verdict != VerdictApprove:
		return fmt.Errorf("%w: approval verdict %q", ErrMismatch, rec.Verdict)
	case rec.Verdict != VerdictApprove && rec.Verdict != VerdictReject:
		return fmt.Errorf("%w: verdict %q", ErrMismatch, rec.Verdict)
	}
	at, err := time.Parse(time.RFC3339, rec.SignedAt)
	if err != nil {
		return fmt.Errorf("%w: signed_at %q", ErrMismatch, rec.SignedAt)
	}
	var entry *keys.Entry
	for i := range reg.Agents {
		e := &reg.Agents[i]
		if e.Agent == rec.Agent && e.KeyID == rec.KeyID && e.ValidAt(at) {
			entry = e
			break
		}
	}
	if entry == nil {
		return fmt.Errorf("%w (%s key %q at %s)", ErrUnknownKey, rec.Agent, rec.KeyID, rec.SignedAt)
	}
	v, err := signing.NewVerifier(entry.Public())
	if err != nil {
		return err
	}
	body, err := rec.signedBytes()
	if err != nil {
		return err
	}
	if err := v.VerifyPayload(PayloadType, body, rec.Signature); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}
