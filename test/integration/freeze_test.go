package integration

import (
	"crypto/ed25519"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"path/filepath"
	"testing"
)

// TestFrozenPolicyChangeIsCaught: the v1.0 freeze covers policies/ (the
// baseline manifest records the blob id of every frozen file), and the
// README says the freeze is enforced by the tool. An unsigned plain-git
// commit that changes a frozen file must fail the audit.
func TestFrozenPolicyChangeIsCaught(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		file   string
		tamper func(t *testing.T, f *fixture)
	}{
		{
			name: "economic ceiling raised",
			file: "policies/economics.yaml",
			tamper: func(t *testing.T, f *fixture) {
				editFile(t, f.repo, "policies/economics.yaml", "per_summary_ceiling_usd: 0.050", "per_summary_ceiling_usd: 5.0")
				git(t, f.repo, "commit", "-q", "-am", "raise the ceiling")
			},
		},
		{
			// The worst case: a rogue FINN key added to the registry by an
			// unsigned commit; FINN's "wrong" key then no longer halts.
			name: "rogue FINN key added to the registry",
			file: "policies/keys/agents.json",
			tamper: func(t *testing.T, f *fixture) {
				other := filepath.Join(f.dir, "other")
				mustRun(t, 0, "keys", "generate", "--keys", other)
				rogue := readFile(t, filepath.Join(other, "finn.key"))
				addRegistryKey(t, f.repo, "FINN", rogue, "2026-01-01T01:30:00Z") // after cycle 1, before cycle 2
				git(t, f.repo, "commit", "-q", "-am", "registry: add a FINN key")
				writeFile(t, filepath.Join(f.keys, "finn.key"), rogue, 0o600)
				f.mustCycle(t, 2) // signed by the rogue FINN key
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, 1)
			tc.tamper(t, f)
			tamperCommit := git(t, f.repo, "log", "-1", "--format=%H", "--", tc.file)
			rep, code := audit(t, f.repo)
			if code != 1 {
				t.Fatalf("audit after an unsigned change of frozen %s: exit %d, want 1\n%s", tc.file, code, dumpFailures(rep))
			}
			found := false
			for _, fl := range rep.Failures {
				if fl.Commit == tamperCommit && fl.File == tc.file {
					found = true
				}
			}
			if !found {
				t.Errorf("no failure names commit %s and %s:\n%s", tamperCommit[:12], tc.file, dumpFailures(rep))
			}
		})
	}
}

// addRegistryKey appends an ACTIVE entry for agent with the public half of
// the PEM private key to policies/keys/agents.json in the worktree.
func addRegistryKey(t *testing.T, repo, agent string, pemKey []byte, validFrom string) {
	t.Helper()
	block, _ := pem.Decode(pemKey)
	if block == nil {
		t.Fatal("no PEM block")
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	pub := k.(ed25519.PrivateKey).Public().(ed25519.PublicKey)
	p := filepath.Join(repo, "policies", "keys", "agents.json")
	var reg map[string][]map[string]any
	if err := json.Unmarshal(readFile(t, p), &reg); err != nil {
		t.Fatal(err)
	}
	reg["agents"] = append(reg["agents"], map[string]any{
		"agent": agent, "key_id": "rogue-" + agent, "algorithm": "ed25519",
		"public_key": "ed25519:" + base64.StdEncoding.EncodeToString(pub),
		"status":     "ACTIVE", "valid_from": validFrom, "valid_until": nil,
	})
	out, err := json.MarshalIndent(reg, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, p, append(out, '\n'), 0o644)
}
