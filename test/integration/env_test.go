package integration

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestKeysFromEnvironment: VIOS_KEY_<AGENT> (PEM) works without --keys and
// takes precedence over --keys; VIOS_KEYS is the default key directory.
func TestKeysFromEnvironment(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 0)
	var env []string
	for _, a := range []string{"LARS", "FINN", "STIG", "LINE", "VEGA", "CODE"} {
		env = append(env, "VIOS_KEY_"+a+"="+string(readFile(t, filepath.Join(f.keys, strings.ToLower(a)+".key"))))
	}

	// Every key from the environment, no --keys.
	stdout, stderr, code := runEnv(t, env, "cycle", "run", "--repo", f.repo, "--at", slot(1))
	if code != 0 {
		t.Fatalf("cycle run with VIOS_KEY_* only: exit %d\n%s\n%s", code, stdout, stderr)
	}

	// VIOS_KEYS as the key directory.
	stdout, stderr, code = runEnv(t, []string{"VIOS_KEYS=" + f.keys}, "cycle", "run", "--repo", f.repo, "--at", slot(2))
	if code != 0 {
		t.Fatalf("cycle run with VIOS_KEYS: exit %d\n%s\n%s", code, stdout, stderr)
	}

	// A wrong FINN key in the environment wins over the right one in --keys:
	// the cycle halts.
	other := filepath.Join(f.dir, "other")
	mustRun(t, 0, "keys", "generate", "--keys", other)
	wrong := []string{"VIOS_KEY_FINN=" + string(readFile(t, filepath.Join(other, "finn.key")))}
	stdout, stderr, code = runEnv(t, wrong, "cycle", "run", "--repo", f.repo, "--keys", f.keys, "--at", slot(3))
	if code != 1 || !strings.Contains(stdout, "HALTED") {
		t.Fatalf("cycle run with a wrong VIOS_KEY_FINN: exit %d, want 1 and HALTED\n%s\n%s", code, stdout, stderr)
	}

	// Resolving the halt needs only LARS's key: an unrelated garbage
	// variable does not matter. A cycle needs LINE's: garbage there is bad
	// input, and nothing is written.
	garbage := []string{"VIOS_KEY_LINE=garbage"}
	mustRunEnv(t, garbage, 0, "deviation", "resolve", "DEV-signature_verification_failure-"+cycleIDAt(t, 3), "--repo", f.repo, "--keys", f.keys,
		"--signer", "LARS", "--root-cause", "wrong VIOS_KEY_FINN", "--plan", "env key fixed",
		"--now", initTime.Add(3*time.Hour+30*time.Minute).Format(time.RFC3339))
	head := f.head(t)
	_, stderr, code = runEnv(t, garbage, "cycle", "run", "--repo", f.repo, "--keys", f.keys, "--at", slot(4))
	if code != 2 || !strings.Contains(stderr, "VIOS_KEY_LINE") {
		t.Errorf("cycle run with garbage VIOS_KEY_LINE: exit %d, want 2 naming the variable\n%s", code, stderr)
	}
	if h := f.head(t); h != head {
		t.Errorf("bad key input moved HEAD")
	}
	f.mustCycle(t, 4)
}

func mustRunEnv(t *testing.T, env []string, want int, args ...string) {
	t.Helper()
	stdout, stderr, code := runEnv(t, env, args...)
	if code != want {
		t.Fatalf("vios %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, want, stdout, stderr)
	}
}
