package signing

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/gowebpki/jcs"

	"github.com/vision-ios/vios/internal/gctune"
)

func TestPAE(t *testing.T) {
	got := string(PAE("application/x", []byte("hello")))
	if want := "DSSEv1 13 application/x 5 hello"; got != want {
		t.Fatalf("PAE = %q, want %q", got, want)
	}
	if got := string(PAE("", nil)); got != "DSSEv1 0  0 " {
		t.Fatalf("empty PAE = %q", got)
	}
}

// TestCanonicalMatchesJCS checks the hand-written statement encoding
// against an independent RFC 8785 implementation, on awkward strings too.
func TestCanonicalMatchesJCS(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []rune("abcXYZ019\"\\/\n\t\r\b\f\x00\x1f\x7f<>&é€\u2028\u2029😀 ")
	str := func() string {
		n := rng.IntN(12)
		var b strings.Builder
		for i := 0; i < n; i++ {
			b.WriteRune(alphabet[rng.IntN(len(alphabet))])
		}
		return b.String()
	}
	for i := 0; i < 2000; i++ {
		st := Statement{Agent: str(), CycleID: str(), InputHash: str(), Operation: str(),
			OperationOutputHash: str(), OperationTimestamp: str(), Step: rng.IntN(1000) - 10}
		if rng.IntN(2) == 0 {
			p := str()
			st.ParentHash = &p
		}
		raw, err := json.Marshal(st)
		if err != nil {
			t.Fatal(err)
		}
		want, err := jcs.Transform(raw)
		if err != nil {
			t.Fatal(err)
		}
		if got := st.Canonical(); string(got) != string(want) {
			t.Fatalf("statement %d:\n got %s\nwant %s", i, got, want)
		}
	}
}

func TestLineage(t *testing.T) {
	sum := sha256.Sum256([]byte("\nsha256:out\ned25519:sig"))
	if got, want := Lineage(nil, "sha256:out", "ed25519:sig"), "sha256:"+hex.EncodeToString(sum[:]); got != want {
		t.Fatalf("nil parent: %s, want %s", got, want)
	}
	p := "sha256:p"
	sum = sha256.Sum256([]byte("sha256:p\nsha256:out\ned25519:sig"))
	if got, want := Lineage(&p, "sha256:out", "ed25519:sig"), "sha256:"+hex.EncodeToString(sum[:]); got != want {
		t.Fatalf("parent: %s, want %s", got, want)
	}
}

func TestHashJSONIsCanonical(t *testing.T) {
	a, err := HashJSON(json.RawMessage(`{"b": 1.50, "a": [1e2, "x"]}`))
	if err != nil {
		t.Fatal(err)
	}
	b, err := HashJSON(map[string]any{"a": []any{100, "x"}, "b": 1.5})
	if err != nil {
		t.Fatal(err)
	}
	if a != b {
		t.Fatalf("equal JSON values hash differently: %s vs %s", a, b)
	}
	if _, err := HashJSON(json.RawMessage(`{"a":`)); err == nil {
		t.Fatal("malformed JSON hashed")
	}
}

func testSigner(t *testing.T, agent string, seed byte) *Signer {
	t.Helper()
	s, err := NewSigner(agent, ed25519.NewKeyFromSeed(make32(seed)))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func make32(b byte) []byte {
	s := make([]byte, 32)
	for i := range s {
		s[i] = b
	}
	return s
}

func TestSignVerifyStatement(t *testing.T) {
	s := testSigner(t, "FINN", 1)
	other := testSigner(t, "FINN", 2)
	st := Statement{Agent: "FINN", CycleID: "0123456789abcdef", InputHash: "sha256:i", Operation: "compute_cds_score", OperationOutputHash: "sha256:o", OperationTimestamp: "2026-11-24T00:00:01Z", Step: 2}
	sig, err := s.SignStatement(st)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(sig, "ed25519:") {
		t.Fatalf("signature %q lacks prefix", sig)
	}
	// An independent stdlib verification over the documented bytes.
	raw, _ := ParseSignature(sig)
	if !ed25519.Verify(s.Public(), []byte("DSSEv1 44 "+PayloadType+" "+itoa(len(st.Canonical()))+" "+string(st.Canonical())), raw) {
		t.Fatal("stdlib ed25519 rejects the signature over the documented PAE")
	}
	v, _ := NewVerifier(s.Public())
	if err := v.VerifyStatement(st, sig); err != nil {
		t.Fatalf("verify: %v", err)
	}
	tampered := st
	tampered.OperationOutputHash = "sha256:x"
	if err := v.VerifyStatement(tampered, sig); err == nil {
		t.Fatal("tampered statement verified")
	}
	ov, _ := NewVerifier(other.Public())
	if err := ov.VerifyStatement(st, sig); err == nil {
		t.Fatal("signature verified under another key")
	}
	for _, bad := range []string{"", "ed25519:", "ed25519:!!!", "rsa:AAAA", FormatSignature([]byte("short"))} {
		if err := v.VerifyStatement(st, bad); err == nil {
			t.Fatalf("malformed signature %q verified", bad)
		}
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func TestKeyFormat(t *testing.T) {
	s := testSigner(t, "LINE", 3)
	k := FormatKey(s.Public())
	back, err := ParseKey(k)
	if err != nil || !back.Equal(s.Public()) {
		t.Fatalf("round trip: %v", err)
	}
	for _, bad := range []string{"", "ed25519:", "ed25519:AAAA", "ssh-ed25519 AAAA"} {
		if _, err := ParseKey(bad); err == nil {
			t.Errorf("ParseKey(%q) accepted", bad)
		}
	}
	if id := KeyID("LINE", s.Public()); !strings.HasPrefix(id, "line-") || len(id) != 17 {
		t.Errorf("KeyID = %q", id)
	}
}

func TestGitSignatureRoundTrip(t *testing.T) {
	s := testSigner(t, "CODE", 4)
	ssh, err := s.SSH()
	if err != nil {
		t.Fatal(err)
	}
	payload := []byte("tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\nauthor a <a> 0 +0000\ncommitter a <a> 0 +0000\n\nmsg\n")
	armored, err := ssh.SignGit(payload)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(armored), "-----BEGIN SSH SIGNATURE-----") {
		t.Fatalf("not armored: %s", armored)
	}
	pub, err := VerifyGit(string(armored), payload)
	if err != nil || !pub.Equal(s.Public()) {
		t.Fatalf("VerifyGit: %v", err)
	}
	if _, err := VerifyGit(string(armored), append(payload, 'x')); err == nil {
		t.Fatal("modified payload verified")
	}
	if _, err := VerifyGit("", payload); err != ErrUnsigned {
		t.Fatalf("unsigned: %v", err)
	}
	if _, err := VerifyGit("-----BEGIN PGP SIGNATURE-----\nxx\n-----END PGP SIGNATURE-----\n", payload); err == nil {
		t.Fatal("PGP block accepted")
	}
}

func BenchmarkVerifyStatement(b *testing.B) {
	gctune.Apply() // as the vios binary runs
	s, _ := NewSigner("FINN", ed25519.NewKeyFromSeed(make32(9)))
	st := Statement{Agent: "FINN", CycleID: "0123456789abcdef", InputHash: "sha256:" + strings.Repeat("a", 64), Operation: "compute_cds_score", OperationOutputHash: "sha256:" + strings.Repeat("b", 64), OperationTimestamp: "2026-11-24T00:00:01Z", Step: 2}
	sig, _ := s.SignStatement(st)
	v, _ := NewVerifier(s.Public())
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := v.VerifyStatement(st, sig); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEd25519Verify is the ceiling: a bare stdlib verification.
func BenchmarkEd25519Verify(b *testing.B) {
	gctune.Apply() // as the vios binary runs
	priv := ed25519.NewKeyFromSeed(make32(9))
	msg := make([]byte, 400)
	sig := ed25519.Sign(priv, msg)
	pub := priv.Public().(ed25519.PublicKey)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if !ed25519.Verify(pub, msg, sig) {
				b.Fatal("verify")
			}
		}
	})
}
