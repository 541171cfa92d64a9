// Package testutil builds governance repositories for tests and benchmarks:
// fresh agent keys and an initialised repository on disk.
package testutil

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"testing"
	"time"

	"github.com/vision-ios/vios/internal/gov"
	"github.com/vision-ios/vios/internal/policy"
	"github.com/vision-ios/vios/internal/signing"
)

// Epoch is the fixed time test repositories are initialised at.
var Epoch = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

// Signers returns deterministic signers for all agents, derived from seed.
func Signers(tb testing.TB, seed string) map[string]*signing.Signer {
	tb.Helper()
	out := map[string]*signing.Signer{}
	for _, a := range policy.Agents {
		s := sha256.Sum256([]byte(seed + "/" + a))
		sg, err := signing.NewSigner(a, ed25519.NewKeyFromSeed(s[:]))
		if err != nil {
			tb.Fatal(err)
		}
		out[a] = sg
	}
	return out
}

// InitRepo initialises a governance repository in a temporary directory.
func InitRepo(tb testing.TB, signers map[string]*signing.Signer) string {
	tb.Helper()
	dir := tb.TempDir() + "/gov"
	if _, err := gov.Init(context.Background(), dir, signers, Epoch); err != nil {
		tb.Fatal(err)
	}
	return dir
}
