package signing

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"

	"github.com/oasisprotocol/curve25519-voi/curve"
	voi "github.com/oasisprotocol/curve25519-voi/primitives/ed25519"
)

// Batch verifies many Ed25519 signatures at once, for the history audit,
// where nearly every signature is valid and what matters is how fast that is
// established. It is not safe for concurrent use.
//
// A batch checks one random linear combination of the signatures'
// cofactored equations [8][S]B = [8]R + [8][k]A (curve25519-voi), several
// times cheaper per signature than one-by-one verification.
// crypto/ed25519, and sigstore on top of it, checks the cofactorless
// equation [S]B = R + [k]A. The two agree on every signature that Ed25519
// signing makes; they can disagree only on a signature whose R its key's
// holder built with a small-order component on purpose, which the batch
// accepts and the standard library rejects. Everywhere else the batch is at
// least as strict: it wants canonical R and S, and Add refuses any key that
// is not the canonical encoding of a point of prime order (small-order keys,
// say), leaving its signatures to the one-by-one verifier. When a batch
// fails, crypto/ed25519.Verify re-checks each signature in it and alone
// decides which are bad.
type Batch struct {
	bv      *voi.BatchVerifier
	keys    map[string]*voi.ExpandedPublicKey // nil for a refused key
	entries []batchEntry
	canon   []byte // scratch for AddStatement
	msgs    []byte // the messages AddStatement writes, reused from batch to batch
}

type batchEntry struct {
	pub      ed25519.PublicKey
	msg, sig []byte
}

// maxBatchKeys bounds the precomputed keys a batch keeps across Verify
// calls; an audit meets only the registry's few keys.
const maxBatchKeys = 256

// batchOptions asks for canonical A, R and S and a key that is not of small
// order, with the cofactored equation that batching requires.
var batchOptions = &voi.Options{Verify: voi.VerifyOptionsDefault}

// statementBytes is about the size of a statement's signed bytes.
const statementBytes = 512

// NewBatch returns an empty batch with room for about n signatures.
func NewBatch(n int) *Batch {
	return &Batch{
		bv:      voi.NewBatchVerifierWithCapacity(n),
		keys:    map[string]*voi.ExpandedPublicKey{},
		entries: make([]batchEntry, 0, n),
		msgs:    make([]byte, 0, n*statementBytes),
	}
}

// Add queues sig over msg by pub and reports whether it did. It refuses a
// signature that is not 64 bytes and a key that Ed25519 key generation
// cannot make (see Batch); such a signature must be verified on its own.
// The batch keeps msg and sig until Verify.
func (b *Batch) Add(pub ed25519.PublicKey, msg, sig []byte) bool {
	k := b.expanded(pub)
	if k == nil || len(sig) != ed25519.SignatureSize {
		return false
	}
	b.bv.AddExpandedWithOptions(k, msg, sig, batchOptions)
	b.entries = append(b.entries, batchEntry{pub: pub, msg: msg, sig: sig})
	return true
}

// AddStatement is Add for an operation signature: sig over the statement's
// signed bytes (see Statement.SignedBytes), which the batch writes into
// storage of its own.
func (b *Batch) AddStatement(pub ed25519.PublicKey, st Statement, sig []byte) bool {
	b.canon = st.AppendCanonical(b.canon[:0])
	n := len(b.msgs)
	b.msgs = AppendPAE(b.msgs, PayloadType, b.canon)
	if !b.Add(pub, b.msgs[n:len(b.msgs):len(b.msgs)], sig) {
		b.msgs = b.msgs[:n]
		return false
	}
	return true
}

// Len is the number of queued signatures.
func (b *Batch) Len() int { return len(b.entries) }

// Verify checks the queued signatures and empties the batch. It returns the
// positions, in the order they were added, of the signatures that do not
// verify: none when the batch holds. When it does not, each signature is
// checked again with crypto/ed25519.Verify, whose verdict is returned.
func (b *Batch) Verify() []int {
	defer b.reset()
	if len(b.entries) == 0 || b.bv.VerifyBatchOnly(rand.Reader) {
		return nil
	}
	var bad []int
	for i, e := range b.entries {
		if !ed25519.Verify(e.pub, e.msg, e.sig) {
			bad = append(bad, i)
		}
	}
	return bad
}

func (b *Batch) reset() {
	b.bv.Reset()
	clear(b.entries)
	b.entries = b.entries[:0]
	b.msgs = b.msgs[:0]
}

// expanded returns pub's precomputed form, made once per key, or nil when
// the batch refuses the key.
func (b *Batch) expanded(pub ed25519.PublicKey) *voi.ExpandedPublicKey {
	if k, ok := b.keys[string(pub)]; ok {
		return k
	}
	k := expandKey(pub)
	if len(b.keys) >= maxBatchKeys {
		clear(b.keys)
	}
	b.keys[string(pub)] = k
	return k
}

// expandKey precomputes a key for batch verification, or returns nil when
// CheckPublicKey refuses it.
func expandKey(pub ed25519.PublicKey) *voi.ExpandedPublicKey {
	if CheckPublicKey(pub) != nil {
		return nil
	}
	k, err := voi.NewExpandedPublicKey(voi.PublicKey(pub))
	if err != nil {
		return nil
	}
	return k
}

// CheckPublicKey accepts pub only when it is the canonical encoding of a
// point of the prime-order subgroup other than the identity, as every key
// Ed25519 key generation makes is. A small-order key such as the identity
// lets anyone forge signatures that crypto/ed25519 accepts, so the agent
// registry refuses such keys and batches leave them to one-by-one checks.
func CheckPublicKey(pub ed25519.PublicKey) error {
	if len(pub) != ed25519.PublicKeySize {
		return fmt.Errorf("public key: %d bytes, want %d", len(pub), ed25519.PublicKeySize)
	}
	var y curve.CompressedEdwardsY
	var a curve.EdwardsPoint
	if _, err := y.SetBytes(pub); err != nil || !y.IsCanonicalVartime() {
		return errors.New("public key: not the canonical encoding of a curve point")
	}
	if _, err := a.SetCompressedY(&y); err != nil {
		return errors.New("public key: not a point of the curve")
	}
	if a.IsSmallOrder() || !a.IsTorsionFree() {
		return errors.New("public key: a point of small order or with a small-order component, which Ed25519 key generation never makes")
	}
	return nil
}
