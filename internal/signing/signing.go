// Package signing owns the signature formats of vios: Ed25519 operation
// signatures over the DSSE pre-authentication encoding of an RFC 8785
// canonical statement, the lineage hash chain, and git's SSH signature format
// for governance commits and tags.
//
// Operation signing and verification go through sigstore/sigstore's
// signature package; commit signatures through hiddeco/sshsig with the same
// sigstore signer bridged into an ssh.Signer. For the history audit, Batch
// verifies many signatures of either kind at once (curve25519-voi), leaving
// the signatures of a batch that fails to those verifiers.
package signing

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/gowebpki/jcs"
	"github.com/sigstore/sigstore/pkg/signature"
)

// PayloadType is the DSSE payload type of an operation statement.
const PayloadType = "application/vnd.vision-ios.operation.v1+json"

// Statement is what an agent signs for one operation. Its canonical JSON
// (RFC 8785) is the DSSE body.
type Statement struct {
	Agent               string  `json:"agent"`
	CycleID             string  `json:"cycle_id"`
	InputHash           string  `json:"input_hash"`
	Operation           string  `json:"operation"`
	OperationOutputHash string  `json:"operation_output_hash"`
	OperationTimestamp  string  `json:"operation_timestamp"`
	ParentHash          *string `json:"parent_hash"`
	Step                int     `json:"step"`
}

// Canonical returns the RFC 8785 canonical JSON of the statement.
func (s Statement) Canonical() []byte { return s.AppendCanonical(make([]byte, 0, 400)) }

// AppendCanonical appends the RFC 8785 canonical JSON of the statement to
// b. The keys are already in code-point order, every value is a string, an
// integer or null, so the encoding is written directly.
func (s Statement) AppendCanonical(b []byte) []byte {
	b = append(b, `{"agent":`...)
	b = appendJCSString(b, s.Agent)
	b = append(b, `,"cycle_id":`...)
	b = appendJCSString(b, s.CycleID)
	b = append(b, `,"input_hash":`...)
	b = appendJCSString(b, s.InputHash)
	b = append(b, `,"operation":`...)
	b = appendJCSString(b, s.Operation)
	b = append(b, `,"operation_output_hash":`...)
	b = appendJCSString(b, s.OperationOutputHash)
	b = append(b, `,"operation_timestamp":`...)
	b = appendJCSString(b, s.OperationTimestamp)
	b = append(b, `,"parent_hash":`...)
	if s.ParentHash == nil {
		b = append(b, "null"...)
	} else {
		b = appendJCSString(b, *s.ParentHash)
	}
	b = append(b, `,"step":`...)
	b = strconv.AppendInt(b, int64(s.Step), 10)
	return append(b, '}')
}

// appendJCSString writes s as an RFC 8785 string: only '"', '\\' and control
// characters are escaped, the short forms where JSON has them.
func appendJCSString(b []byte, s string) []byte {
	const hexd = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c >= 0x20:
			b = append(b, c)
		case c == '\b':
			b = append(b, '\\', 'b')
		case c == '\t':
			b = append(b, '\\', 't')
		case c == '\n':
			b = append(b, '\\', 'n')
		case c == '\f':
			b = append(b, '\\', 'f')
		case c == '\r':
			b = append(b, '\\', 'r')
		default:
			b = append(b, '\\', 'u', '0', '0', hexd[c>>4], hexd[c&0xf])
		}
	}
	return append(b, '"')
}

// PAE is the DSSE v1 pre-authentication encoding:
// "DSSEv1" SP len(type) SP type SP len(body) SP body.
func PAE(payloadType string, body []byte) []byte {
	return AppendPAE(make([]byte, 0, 16+len(payloadType)+len(body)+24), payloadType, body)
}

// AppendPAE appends the PAE of body under payloadType to b.
func AppendPAE(b []byte, payloadType string, body []byte) []byte {
	b = append(b, "DSSEv1 "...)
	b = strconv.AppendInt(b, int64(len(payloadType)), 10)
	b = append(b, ' ')
	b = append(b, payloadType...)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(len(body)), 10)
	b = append(b, ' ')
	return append(b, body...)
}

// SignedBytes returns the exact bytes an agent signs for a statement.
func (s Statement) SignedBytes() []byte { return PAE(PayloadType, s.Canonical()) }

// Canonicalize returns the RFC 8785 canonical form of a JSON document.
func Canonicalize(doc []byte) ([]byte, error) {
	out, err := jcs.Transform(doc)
	if err != nil {
		return nil, fmt.Errorf("canonical json: %w", err)
	}
	return out, nil
}

// HashJSON returns "sha256:"+hex(sha256(JCS(v))) for a JSON-marshallable value
// or for raw JSON (json.RawMessage).
func HashJSON(v any) (string, error) {
	var raw []byte
	switch t := v.(type) {
	case json.RawMessage:
		raw = t
	default:
		var err error
		raw, err = json.Marshal(v)
		if err != nil {
			return "", fmt.Errorf("hash json: %w", err)
		}
	}
	canon, err := Canonicalize(raw)
	if err != nil {
		return "", err
	}
	return SHA256(canon), nil
}

// SHA256 returns "sha256:"+hex(sha256(b)).
func SHA256(b []byte) string {
	return formatSHA256(sha256.Sum256(b))
}

// formatSHA256 writes "sha256:"+hex(sum) in one allocation.
func formatSHA256(sum [sha256.Size]byte) string {
	var b [len("sha256:") + 2*sha256.Size]byte
	copy(b[:], "sha256:")
	hex.Encode(b[len("sha256:"):], sum[:])
	return string(b[:])
}

// Lineage returns sha256(parent + "\n" + outputHash + "\n" + signature) with
// the empty string for a nil parent.
func Lineage(parent *string, outputHash, sig string) string {
	p := ""
	if parent != nil {
		p = *parent
	}
	b := make([]byte, 0, 256)
	b = append(b, p...)
	b = append(b, '\n')
	b = append(b, outputHash...)
	b = append(b, '\n')
	b = append(b, sig...)
	return formatSHA256(sha256.Sum256(b))
}

const keyPrefix = "ed25519:"

// FormatKey writes a public key as "ed25519:<base64 of the 32 bytes>".
func FormatKey(pub ed25519.PublicKey) string {
	return keyPrefix + base64.StdEncoding.EncodeToString(pub)
}

// ParseKey reads "ed25519:<base64>" into a public key.
func ParseKey(s string) (ed25519.PublicKey, error) {
	raw, ok := strings.CutPrefix(s, keyPrefix)
	if !ok {
		return nil, fmt.Errorf("public key %.24q: want the ed25519: prefix", s)
	}
	b, err := base64.StdEncoding.DecodeString(raw)
	if err != nil || len(b) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("public key %.24q: not 32 bytes of base64", s)
	}
	return ed25519.PublicKey(b), nil
}

// FormatSignature writes a signature as "ed25519:<base64>".
func FormatSignature(sig []byte) string {
	return keyPrefix + base64.StdEncoding.EncodeToString(sig)
}

// ParseSignature reads "ed25519:<base64>" into the 64 signature bytes.
func ParseSignature(s string) ([]byte, error) {
	raw, ok := strings.CutPrefix(s, keyPrefix)
	if !ok {
		return nil, errors.New("signature: want the ed25519: prefix")
	}
	b, err := base64.StdEncoding.DecodeString(raw)
	if err != nil || len(b) != ed25519.SignatureSize {
		return nil, errors.New("signature: not 64 bytes of base64")
	}
	return b, nil
}

// KeyID derives a stable key id from an agent name and its public key.
func KeyID(agent string, pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return strings.ToLower(agent) + "-" + hex.EncodeToString(sum[:6])
}

// Signer signs for one agent with an Ed25519 private key.
type Signer struct {
	Agent string
	sv    *signature.ED25519SignerVerifier
	pub   ed25519.PublicKey
}

// NewSigner wraps a private key in a sigstore Ed25519 signer.
func NewSigner(agent string, priv ed25519.PrivateKey) (*Signer, error) {
	sv, err := signature.LoadED25519SignerVerifier(priv)
	if err != nil {
		return nil, fmt.Errorf("load %s key: %w", agent, err)
	}
	return &Signer{Agent: agent, sv: sv, pub: priv.Public().(ed25519.PublicKey)}, nil
}

// Public returns the signer's public key.
func (s *Signer) Public() ed25519.PublicKey { return s.pub }

// SignStatement signs a statement's PAE and returns "ed25519:<base64>".
func (s *Signer) SignStatement(st Statement) (string, error) {
	sig, err := s.sv.SignMessage(bytes.NewReader(st.SignedBytes()))
	if err != nil {
		return "", fmt.Errorf("%s sign step %d: %w", s.Agent, st.Step, err)
	}
	return FormatSignature(sig), nil
}

// ErrBadSignature is returned when a signature does not verify.
var ErrBadSignature = errors.New("signature does not verify")

// Verifier verifies operation signatures with one registry key.
type Verifier struct {
	v *signature.ED25519Verifier
}

// NewVerifier wraps a public key in a sigstore Ed25519 verifier.
func NewVerifier(pub ed25519.PublicKey) (*Verifier, error) {
	v, err := signature.LoadED25519Verifier(pub)
	if err != nil {
		return nil, err
	}
	return &Verifier{v: v}, nil
}

// VerifyStatement checks sig ("ed25519:<base64>") over the statement.
func (v *Verifier) VerifyStatement(st Statement, sig string) error {
	raw, err := ParseSignature(sig)
	if err != nil {
		return err
	}
	if err := v.v.VerifySignature(bytes.NewReader(raw), bytes.NewReader(st.SignedBytes())); err != nil {
		return ErrBadSignature
	}
	return nil
}
