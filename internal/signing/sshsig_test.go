package signing

import (
	"bytes"
	"crypto/ed25519"
	"testing"

	"github.com/hiddeco/sshsig"
)

// TestParseGitMatchesVerifyGit: the triple ParseGit extracts verifies with
// crypto/ed25519 exactly when VerifyGit accepts, and ParseGit refuses what
// VerifyGit rejects for reasons other than the equation.
func TestParseGitMatchesVerifyGit(t *testing.T) {
	s := testSigner(t, "CODE", 5)
	ss, err := s.SSH()
	if err != nil {
		t.Fatal(err)
	}
	payload := []byte("tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\nauthor a <a> 0 +0000\ncommitter a <a> 0 +0000\n\nmsg\n")
	sign := func(h sshsig.HashAlgorithm, namespace string) string {
		sig, err := sshsig.Sign(bytes.NewReader(payload), ss.ssh, h, namespace)
		if err != nil {
			t.Fatal(err)
		}
		return string(sshsig.Armor(sig))
	}
	for _, tc := range []struct {
		name      string
		armored   string
		payload   []byte
		parses    bool
		verifying bool
	}{
		{"sha512", sign(sshsig.HashSHA512, GitNamespace), payload, true, true},
		{"sha256", sign(sshsig.HashSHA256, GitNamespace), payload, true, true},
		{"other payload", sign(sshsig.HashSHA512, GitNamespace), append(bytes.Clone(payload), 'x'), true, false},
		{"file namespace", sign(sshsig.HashSHA512, "file"), payload, false, false},
		{"unsigned", "", payload, false, false},
		{"PGP", "-----BEGIN PGP SIGNATURE-----\nxx\n-----END PGP SIGNATURE-----\n", payload, false, false},
	} {
		_, verr := VerifyGit(tc.armored, tc.payload)
		if (verr == nil) != tc.verifying {
			t.Fatalf("%s: VerifyGit: %v", tc.name, verr)
		}
		g, ok := ParseGit(tc.armored, tc.payload)
		if ok != tc.parses {
			t.Fatalf("%s: ParseGit ok = %v", tc.name, ok)
		}
		if ok && ed25519.Verify(g.Public, g.Signed, g.Signature) != tc.verifying {
			t.Fatalf("%s: crypto/ed25519 over the extracted triple disagrees with VerifyGit (%v)", tc.name, verr)
		}
		if ok && !g.Public.Equal(s.Public()) {
			t.Fatalf("%s: key %x", tc.name, g.Public)
		}
	}
}
