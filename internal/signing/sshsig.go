package signing

import (
	"bytes"
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/hiddeco/sshsig"
	"golang.org/x/crypto/ssh"
)

// GitNamespace is the SSH signature namespace git uses for commits and tags.
const GitNamespace = "git"

// SSHSigner produces git SSH signatures (what `git verify-commit` and
// GitHub accept) with an agent's Ed25519 key.
type SSHSigner struct {
	Agent string
	ssh   ssh.Signer
}

// SSH bridges the sigstore signer (a crypto.Signer) into git's SSH format.
func (s *Signer) SSH() (*SSHSigner, error) {
	ss, err := ssh.NewSignerFromSigner(s.sv.ED25519Signer)
	if err != nil {
		return nil, fmt.Errorf("%s ssh signer: %w", s.Agent, err)
	}
	return &SSHSigner{Agent: s.Agent, ssh: ss}, nil
}

// SignGit signs payload (a commit or tag without its signature) and returns
// the armored "-----BEGIN SSH SIGNATURE-----" block.
func (s *SSHSigner) SignGit(payload []byte) ([]byte, error) {
	sig, err := sshsig.Sign(bytes.NewReader(payload), s.ssh, sshsig.HashSHA512, GitNamespace)
	if err != nil {
		return nil, fmt.Errorf("%s sign commit: %w", s.Agent, err)
	}
	return sshsig.Armor(sig), nil
}

// AuthorizedKey returns the public key in authorized_keys form
// ("ssh-ed25519 AAAA…"), as allowed_signers wants it.
func AuthorizedKey(pub ed25519.PublicKey) (string, error) {
	sp, err := ssh.NewPublicKey(pub)
	if err != nil {
		return "", err
	}
	return string(bytes.TrimSpace(ssh.MarshalAuthorizedKey(sp))), nil
}

// Errors of git signature verification.
var (
	ErrUnsigned     = errors.New("not signed")
	ErrNotSSH       = errors.New("signature is not an SSH signature")
	ErrGitSignature = errors.New("SSH signature does not verify")
)

// VerifyGit checks an armored SSH signature over payload in the git
// namespace and returns the Ed25519 key that made it. The caller decides
// whether that key is allowed.
func VerifyGit(armored string, payload []byte) (ed25519.PublicKey, error) {
	if armored == "" {
		return nil, ErrUnsigned
	}
	sig, err := sshsig.Unarmor([]byte(armored))
	if err != nil {
		return nil, ErrNotSSH
	}
	cpk, ok := sig.PublicKey.(ssh.CryptoPublicKey)
	if !ok {
		return nil, ErrNotSSH
	}
	pub, ok := cpk.CryptoPublicKey().(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("signature key is %s, ADR-008 allows ed25519 only", sig.PublicKey.Type())
	}
	if err := sshsig.Verify(bytes.NewReader(payload), sig, sig.PublicKey, sig.HashAlgorithm, GitNamespace); err != nil {
		return nil, ErrGitSignature
	}
	return pub, nil
}

// GitSignature is the Ed25519 core of a git SSH signature: the key, the
// exact bytes it signed and the 64-byte signature.
type GitSignature struct {
	Public    ed25519.PublicKey
	Signed    []byte
	Signature []byte
}

// ParseGit makes every check of VerifyGit except the Ed25519 equation and
// returns what that equation is over, for batch verification. It reports
// false whenever VerifyGit would fail for another reason (or the signature
// is not one it reads); the caller then uses VerifyGit, whose errors are
// the ones to report.
func ParseGit(armored string, payload []byte) (GitSignature, bool) {
	if armored == "" {
		return GitSignature{}, false
	}
	sig, err := sshsig.Unarmor([]byte(armored))
	if err != nil {
		return GitSignature{}, false
	}
	cpk, ok := sig.PublicKey.(ssh.CryptoPublicKey)
	if !ok {
		return GitSignature{}, false
	}
	pub, ok := cpk.CryptoPublicKey().(ed25519.PublicKey)
	if !ok || sig.Namespace != GitNamespace || sig.HashAlgorithm.Available() != nil || sig.Signature.Format != ssh.KeyAlgoED25519 {
		return GitSignature{}, false
	}
	h := sig.HashAlgorithm.Hash()
	h.Write(payload)
	return GitSignature{Public: pub, Signed: sshsigSigned(GitNamespace, sig.HashAlgorithm.String(), h.Sum(nil)), Signature: sig.Signature.Blob}, true
}

// sshsigSigned is the blob an SSH signature signs (OpenSSH PROTOCOL.sshsig):
// the "SSHSIG" preamble, then the namespace, an empty reserved field, the
// hash algorithm and the message hash, each as an SSH string.
func sshsigSigned(namespace, hashAlgorithm string, sum []byte) []byte {
	b := make([]byte, 0, 6+4*4+len(namespace)+len(hashAlgorithm)+len(sum))
	b = append(b, "SSHSIG"...)
	for _, s := range [][]byte{[]byte(namespace), nil, []byte(hashAlgorithm), sum} {
		b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
		b = append(b, s...)
	}
	return b
}
