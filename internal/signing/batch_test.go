package signing

import (
	"crypto/ed25519"
	"crypto/sha512"
	"encoding/hex"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/oasisprotocol/curve25519-voi/curve"
	"github.com/oasisprotocol/curve25519-voi/curve/scalar"

	"github.com/vision-ios/vios/internal/gctune"
)

// signed is one (key, message, signature) triple.
type signed struct {
	pub      ed25519.PublicKey
	msg, sig []byte
}

// honest makes n valid signatures by a few keys over random messages.
func honest(rng *rand.Rand, n int) []signed {
	privs := make([]ed25519.PrivateKey, 5)
	for i := range privs {
		seed := make([]byte, ed25519.SeedSize)
		fill(rng, seed)
		privs[i] = ed25519.NewKeyFromSeed(seed)
	}
	out := make([]signed, n)
	for i := range out {
		priv := privs[rng.IntN(len(privs))]
		msg := make([]byte, rng.IntN(600))
		fill(rng, msg)
		out[i] = signed{pub: priv.Public().(ed25519.PublicKey), msg: msg, sig: ed25519.Sign(priv, msg)}
	}
	return out
}

func fill(rng *rand.Rand, b []byte) {
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
}

// tamper breaks s one of several ways: a flipped bit in the message, in R
// or in S, another signature, another key, or S made non-canonical (S+L).
func tamper(rng *rand.Rand, s *signed, other signed) {
	s.sig = slices.Clone(s.sig)
	switch rng.IntN(6) {
	case 0:
		s.msg = append(slices.Clone(s.msg), 0)
		s.msg[rng.IntN(len(s.msg))] ^= 1 << rng.IntN(8)
	case 1:
		s.sig[rng.IntN(32)] ^= 1 << rng.IntN(8)
	case 2:
		s.sig[32+rng.IntN(32)] ^= 1 << rng.IntN(8)
	case 3:
		if slices.Equal(s.sig, other.sig) {
			s.sig[0] ^= 1
		} else {
			s.sig = slices.Clone(other.sig)
		}
	case 4:
		s.pub = honest(rng, 1)[0].pub
	default:
		addOrder(s.sig[32:])
	}
}

// addOrder adds the group order L to the little-endian scalar b.
func addOrder(b []byte) {
	l, _ := hex.DecodeString("edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010")
	carry := 0
	for i := range b {
		v := int(b[i]) + int(l[i]) + carry
		b[i], carry = byte(v), v>>8
	}
}

// checkAgainstStdlib batches sigs and wants exactly the positions that
// crypto/ed25519.Verify rejects.
func checkAgainstStdlib(t *testing.T, b *Batch, sigs []signed) {
	t.Helper()
	var want []int
	for i, s := range sigs {
		if !b.Add(s.pub, s.msg, s.sig) {
			t.Fatalf("signature %d refused", i)
		}
		if !ed25519.Verify(s.pub, s.msg, s.sig) {
			want = append(want, i)
		}
	}
	if got := b.Verify(); !slices.Equal(got, want) {
		t.Fatalf("%d signatures: batch says %v are bad, crypto/ed25519 %v", len(sigs), got, want)
	}
	if b.Len() != 0 {
		t.Fatalf("batch not emptied: %d left", b.Len())
	}
}

// TestBatchOneBad puts exactly one bad signature at several places of
// batches below and above voi's precomputation threshold (94).
func TestBatchOneBad(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	b := NewBatch(64)
	for _, n := range []int{1, 2, 20, 93, 150} {
		for _, at := range []int{0, n / 2, n - 1} {
			sigs := honest(rng, n)
			tamper(rng, &sigs[at], sigs[(at+1)%n])
			if ed25519.Verify(sigs[at].pub, sigs[at].msg, sigs[at].sig) {
				t.Fatalf("tampering left signature %d valid", at)
			}
			checkAgainstStdlib(t, b, sigs)
		}
		checkAgainstStdlib(t, b, honest(rng, n))
	}
}

// FuzzBatchMatchesStdlib compares a batch's verdict with crypto/ed25519 on
// mixes of valid and tampered signatures; bad selects which to tamper with.
func FuzzBatchMatchesStdlib(f *testing.F) {
	f.Add(uint64(1), uint8(8), uint64(0))
	f.Add(uint64(2), uint8(64), uint64(1)<<17)
	f.Add(uint64(3), uint8(40), uint64(0x5555))
	f.Add(uint64(4), uint8(130), uint64(1)<<63|1)
	f.Add(uint64(5), uint8(3), ^uint64(0))
	b := NewBatch(64)
	f.Fuzz(func(t *testing.T, seed uint64, n uint8, bad uint64) {
		rng := rand.New(rand.NewPCG(seed, uint64(n)))
		sigs := honest(rng, int(n)%150+1)
		for i := range sigs {
			if bad&(1<<(i%64)) != 0 {
				tamper(rng, &sigs[i], sigs[(i+1)%len(sigs)])
			}
		}
		checkAgainstStdlib(t, b, sigs)
	})
}

// TestBatchRefusesKeys: keys that key generation cannot make are left to
// the one-by-one verifier, as are signatures of the wrong length.
func TestBatchRefusesKeys(t *testing.T) {
	good := honest(rand.New(rand.NewPCG(1, 1)), 1)[0]
	var a, torsion curve.EdwardsPoint
	mustPoint(t, &a, good.pub)
	mustPoint(t, &torsion, order2())
	var mixed curve.CompressedEdwardsY
	mixed.SetEdwardsPoint(new(curve.EdwardsPoint).Add(&a, &torsion))

	identity := make([]byte, 32)
	identity[0] = 1
	nonCanonical := slices.Clone(order2())
	nonCanonical[0]++ // y = p: the order-4 point y = 0, spelled out of range
	b := NewBatch(64)
	for name, pub := range map[string][]byte{
		"identity": identity, "order 2": order2(), "non-canonical": nonCanonical,
		"torsion component": mixed[:], "short": good.pub[:31],
	} {
		if b.Add(pub, good.msg, good.sig) {
			t.Errorf("%s key queued", name)
		}
	}
	if b.Add(good.pub, good.msg, good.sig[:63]) {
		t.Error("63-byte signature queued")
	}
	if !b.Add(good.pub, good.msg, good.sig) || b.Len() != 1 || b.Verify() != nil {
		t.Fatal("a good signature does not batch")
	}
}

// TestBatchIsCofactored pins the one documented difference from
// crypto/ed25519: a signature whose R its signer gave a small-order
// component satisfies the batch's cofactored equation but not the standard
// library's cofactorless one.
func TestBatchIsCofactored(t *testing.T) {
	seed := make([]byte, ed25519.SeedSize)
	priv := ed25519.NewKeyFromSeed(seed)
	pub := priv.Public().(ed25519.PublicKey)
	h := sha512.Sum512(seed)
	h[0] &= 248
	h[31] = h[31]&127 | 64
	sk, _ := scalar.NewFromBytesModOrder(h[:32])
	r, _ := scalar.NewFromBytesModOrder(h[32:])

	var torsion, R curve.EdwardsPoint
	mustPoint(t, &torsion, order2())
	R.Add(new(curve.EdwardsPoint).MulBasepoint(curve.ED25519_BASEPOINT_TABLE, r), &torsion)
	var rEnc curve.CompressedEdwardsY
	rEnc.SetEdwardsPoint(&R)
	msg := []byte("made by the key's holder")
	k := sha512.New()
	k.Write(rEnc[:])
	k.Write(pub)
	k.Write(msg)
	kh, _ := scalar.NewFromBytesModOrderWide(k.Sum(nil))
	s := scalar.New().Add(r, scalar.New().Mul(kh, sk))
	sig := append(slices.Clone(rEnc[:]), make([]byte, 32)...)
	if err := s.ToBytes(sig[32:]); err != nil {
		t.Fatal(err)
	}

	if ed25519.Verify(pub, msg, sig) {
		t.Fatal("crypto/ed25519 accepts a torsioned R")
	}
	b := NewBatch(64)
	b.Add(pub, msg, sig)
	if bad := b.Verify(); bad != nil {
		t.Fatalf("the cofactored batch rejects it (%v): update the documented semantics", bad)
	}
}

// order2 is the encoding of (0, -1), the point of order 2.
func order2() []byte {
	b := make([]byte, 32)
	for i := range b {
		b[i] = 0xff
	}
	b[0], b[31] = 0xec, 0x7f
	return b
}

func mustPoint(t *testing.T, p *curve.EdwardsPoint, enc []byte) {
	t.Helper()
	var y curve.CompressedEdwardsY
	if _, err := y.SetBytes(enc); err != nil {
		t.Fatal(err)
	}
	if _, err := p.SetCompressedY(&y); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkBatchVerify is the per-signature cost of a batch the size an
// audit worker makes (20 commits of 8 signatures), with one key per agent.
func BenchmarkBatchVerify(b *testing.B) {
	gctune.Apply() // as the vios binary runs
	sigs := honest(rand.New(rand.NewPCG(3, 3)), 160)
	v := NewBatch(64)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, s := range sigs {
			v.Add(s.pub, s.msg, s.sig)
		}
		if v.Verify() != nil {
			b.Fatal("verify")
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(sigs))/1000, "µs/sig")
}
