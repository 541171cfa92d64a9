package keys

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/vision-ios/vios/internal/fault"
	"github.com/vision-ios/vios/internal/policy"
	"github.com/vision-ios/vios/internal/signing"
)

func TestGenerateAndLoad(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	paths, err := Generate(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) != len(policy.Agents) {
		t.Fatalf("wrote %d keys", len(paths))
	}
	for _, a := range policy.Agents {
		fi, err := os.Stat(filepath.Join(dir, FileName(a)))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %o", a, fi.Mode().Perm())
		}
		if _, err := Load(dir, a); err != nil {
			t.Errorf("load %s: %v", a, err)
		}
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != len(policy.Agents) {
		t.Errorf("%d files in key dir, want only the keys", len(ents))
	}
	if _, err := Generate(dir); !fault.IsInput(err) || !strings.Contains(err.Error(), "refusing to overwrite") {
		t.Fatalf("second generate: %v", err)
	}
}

func TestGenerateRefusesWorkTree(t *testing.T) {
	root := t.TempDir()
	if err := os.Mkdir(filepath.Join(root, ".git"), 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := Generate(filepath.Join(root, "sub", "keys"))
	if !fault.IsInput(err) || !strings.Contains(err.Error(), "work tree") {
		t.Fatalf("generate inside a work tree: %v", err)
	}
	if _, err := os.Stat(filepath.Join(root, "sub")); !os.IsNotExist(err) {
		t.Fatal("directory created inside the work tree")
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := Generate(filepath.Join(dir, "k")); err != nil {
		t.Fatal(err)
	}
	k := filepath.Join(dir, "k")
	junk := filepath.Join(dir, "junk")
	os.Mkdir(junk, 0o700)
	os.WriteFile(filepath.Join(junk, "finn.key"), []byte("not a key"), 0o600)
	loose := filepath.Join(dir, "loose")
	os.Mkdir(loose, 0o700)
	data, _ := os.ReadFile(filepath.Join(k, "finn.key"))
	os.WriteFile(filepath.Join(loose, "finn.key"), data, 0o644)
	os.Chmod(filepath.Join(loose, "finn.key"), 0o644)
	for _, tc := range []struct{ name, dir, agent, want string }{
		{"unknown agent", k, "BOB", "unknown agent"},
		{"missing", filepath.Join(dir, "none"), "FINN", "no private key"},
		{"no dir", "", "FINN", "no private key"},
		{"garbage", junk, "FINN", "not a PEM private key"},
		{"loose mode", loose, "FINN", "chmod 600"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(tc.dir, tc.agent)
			if !fault.IsInput(err) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want input error containing %q", err, tc.want)
			}
		})
	}
}

func TestLoadFromEnv(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "k")
	if _, err := Generate(dir); err != nil {
		t.Fatal(err)
	}
	pem, _ := os.ReadFile(filepath.Join(dir, "vega.key"))
	t.Setenv("VIOS_KEY_FINN", string(pem))
	s, err := Load("", "FINN")
	if err != nil {
		t.Fatal(err)
	}
	v, _ := Load(dir, "VEGA")
	if !s.Public().Equal(v.Public()) {
		t.Fatal("env key not used")
	}
}

func TestRegistry(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "k")
	Generate(dir)
	signers, err := LoadAll(dir, policy.Agents...)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	reg := NewRegistry(signers, t0)
	back, err := ParseRegistry(reg.Marshal())
	if err != nil {
		t.Fatal(err)
	}
	e, ok := back.Current("FINN", t0.Add(time.Hour))
	if !ok || !e.Public().Equal(signers["FINN"].Public()) {
		t.Fatal("FINN key not current")
	}
	if _, ok := back.Current("FINN", t0.Add(-time.Second)); ok {
		t.Fatal("key valid before valid_from")
	}
	if e, ok := back.ByKey(signers["VEGA"].Public()); !ok || e.Agent != "VEGA" {
		t.Fatal("ByKey")
	}
	as := string(back.AllowedSigners())
	if !strings.Contains(as, "vega@vision-ios.agents namespaces=\"git\"") || strings.Count(as, "ssh-ed25519 ") != 6 {
		t.Fatalf("allowed_signers:\n%s", as)
	}
	good := string(reg.Marshal())
	for _, tc := range []struct{ name, doc, want string }{
		{"unknown key", strings.Replace(good, `"status"`, `"colour":"red","status"`, 1), "unknown field"},
		{"bad algorithm", strings.Replace(good, `"algorithm": "ed25519"`, `"algorithm": "rsa"`, 1), "ed25519 only"},
		{"unknown agent", strings.Replace(good, `"agent": "LARS"`, `"agent": "BOB"`, 1), "unknown agent"},
		{"bad key", strings.Replace(good, `"public_key": "ed25519:`, `"public_key": "ed25519:xx`, 1), "public key"},
		// The identity point: under it crypto/ed25519 accepts forgeries.
		{"small-order key", regexp.MustCompile(`"public_key": "ed25519:[^"]*"`).ReplaceAllLiteralString(good, `"public_key": "ed25519:AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="`), "small order"},
		{"bad status", strings.Replace(good, `"status": "ACTIVE"`, `"status": "MAYBE"`, 1), "status"},
		{"bad time", strings.Replace(good, `"valid_from": "2026`, `"valid_from": "yesterday`, 1), "valid_from"},
		{"trailing", good + "{}", "trailing"},
		{"not json", "{", "agents.json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseRegistry([]byte(tc.doc))
			if !fault.IsInput(err) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
	_ = signing.PayloadType
}
