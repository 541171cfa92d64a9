package signing

import (
	"bytes"
	"fmt"
)

// SignPayload signs the DSSE pre-authentication encoding of body under
// payloadType and returns "ed25519:<base64>". Records other than operation
// statements (change-request approvals, say) are signed this way, each
// kind under its own payload type so that a signature made for one kind
// can never be replayed as another.
func (s *Signer) SignPayload(payloadType string, body []byte) (string, error) {
	sig, err := s.sv.SignMessage(bytes.NewReader(PAE(payloadType, body)))
	if err != nil {
		return "", fmt.Errorf("%s sign %s: %w", s.Agent, payloadType, err)
	}
	return FormatSignature(sig), nil
}

// VerifyPayload checks sig ("ed25519:<base64>") over the PAE of body under
// payloadType.
func (v *Verifier) VerifyPayload(payloadType string, body []byte, sig string) error {
	raw, err := ParseSignature(sig)
	if err != nil {
		return err
	}
	if err := v.v.VerifySignature(bytes.NewReader(raw), bytes.NewReader(PAE(payloadType, body))); err != nil {
		return ErrBadSignature
	}
	return nil
}
