// Package keys owns the agents' Ed25519 key material: private keys on disk
// (PEM, mode 0600, never inside a git work tree) or in VIOS_KEY_<AGENT>
// environment variables, and the public agent registry
// (policies/keys/agents.json) with git's allowed_signers file derived from it.
package keys

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/sigstore/sigstore/pkg/cryptoutils"

	"github.com/vision-ios/vios/internal/fault"
	"github.com/vision-ios/vios/internal/policy"
	"github.com/vision-ios/vios/internal/signing"
)

// EnvPrefix prefixes the environment variables that carry PEM private keys.
const EnvPrefix = "VIOS_KEY_"

// FileName returns the key file name of an agent ("finn.key").
func FileName(agent string) string { return strings.ToLower(agent) + ".key" }

// ErrNoKey is returned when an agent's private key is found nowhere.
var ErrNoKey = errors.New("no private key")

// Generate writes a fresh Ed25519 key for every agent into dir. It refuses
// to overwrite any existing key and to write inside a git work tree; on
// failure no key is left half-written.
func Generate(dir string) ([]string, error) {
	if dir == "" {
		return nil, fault.Inputf("keys: no key directory (use --keys DIR or VIOS_KEYS)")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fault.Inputf("keys: %v", err)
	}
	if wt, ok := insideWorkTree(abs); ok {
		return nil, fault.Inputf("keys: refusing to write private keys inside the git work tree %s; choose a directory outside any repository", wt)
	}
	for _, a := range policy.Agents {
		p := filepath.Join(abs, FileName(a))
		if _, err := os.Lstat(p); err == nil {
			return nil, fault.Inputf("keys: %s already exists; refusing to overwrite a private key", p)
		}
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	var written []string
	for _, a := range policy.Agents {
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return written, fmt.Errorf("keys: generate %s: %w", a, err)
		}
		pemBytes, err := cryptoutils.MarshalPrivateKeyToPEM(priv)
		if err != nil {
			return written, fmt.Errorf("keys: encode %s: %w", a, err)
		}
		p := filepath.Join(abs, FileName(a))
		if err := writeExclusive(p, pemBytes); err != nil {
			return written, fmt.Errorf("keys: %w", err)
		}
		written = append(written, p)
	}
	return written, nil
}

// writeExclusive creates p with mode 0600, failing if it exists, and writes
// data through a temporary file so a crash leaves no partial key.
func writeExclusive(p string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(p), ".tmp-key-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	// os.Link fails if p exists: no overwrite even under a race.
	if err := os.Link(tmp.Name(), p); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fault.Inputf("%s already exists; refusing to overwrite a private key", p)
		}
		return err
	}
	return nil
}

// insideWorkTree reports the enclosing git work tree of an absolute path.
func insideWorkTree(abs string) (string, bool) {
	for d := abs; ; {
		if _, err := os.Stat(filepath.Join(d, ".git")); err == nil {
			return d, true
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", false
		}
		d = parent
	}
}

// Load returns the signer of agent: from $VIOS_KEY_<AGENT> when set,
// otherwise from dir/<agent>.key. A missing, unreadable, world-readable or
// malformed key is a fault.Input error.
func Load(dir, agent string) (*signing.Signer, error) {
	if !policy.IsAgent(agent) {
		return nil, fault.Inputf("keys: unknown agent %q (agents: %s)", agent, strings.Join(policy.Agents, " "))
	}
	var pemBytes []byte
	source := EnvPrefix + agent
	if v := os.Getenv(source); v != "" {
		pemBytes = []byte(v)
	} else {
		if dir == "" {
			return nil, fault.Input(fmt.Errorf("keys: %s: %w (set --keys DIR, VIOS_KEYS or %s)", agent, ErrNoKey, source))
		}
		source = filepath.Join(dir, FileName(agent))
		fi, err := os.Stat(source)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil, fault.Input(fmt.Errorf("keys: %s: %w at %s (run `vios keys generate --keys %s`)", agent, ErrNoKey, source, dir))
			}
			return nil, fault.Inputf("keys: %s: %v", agent, err)
		}
		if fi.Mode().Perm()&0o077 != 0 {
			return nil, fault.Inputf("keys: %s is accessible by group or others (mode %04o); run chmod 600 %s", source, fi.Mode().Perm(), source)
		}
		pemBytes, err = os.ReadFile(source)
		if err != nil {
			return nil, fault.Inputf("keys: %s: %v", agent, err)
		}
	}
	priv, err := cryptoutils.UnmarshalPEMToPrivateKey(pemBytes, cryptoutils.SkipPassword)
	if err != nil {
		return nil, fault.Inputf("keys: %s from %s: not a PEM private key: %v", agent, source, err)
	}
	ed, ok := priv.(ed25519.PrivateKey)
	if !ok {
		return nil, fault.Inputf("keys: %s from %s: %T is not an Ed25519 key (ADR-008)", agent, source, priv)
	}
	return signing.NewSigner(agent, ed)
}

// LoadAll loads the signers of the named agents.
func LoadAll(dir string, agents ...string) (map[string]*signing.Signer, error) {
	out := make(map[string]*signing.Signer, len(agents))
	for _, a := range agents {
		s, err := Load(dir, a)
		if err != nil {
			return nil, err
		}
		out[a] = s
	}
	return out, nil
}
