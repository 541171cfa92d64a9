package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

func run(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Execute(context.Background(), args, &out, &errb)
	return out.String(), errb.String(), code
}

func TestUsageErrorsExit2(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown flag", []string{"cycle", "run", "--bogus"}, "unknown flag"},
		{"unknown command", []string{"frobnicate"}, "unknown command"},
		{"bad output", []string{"-o", "yaml", "state", "show"}, "want text or json"},
		{"bad --at", []string{"cycle", "run", "--at", "yesterday", "--repo", "."}, "RFC 3339"},
		{"bad --now", []string{"init", "x", "--now", "soon"}, "RFC 3339"},
		{"init needs a dir", []string{"init"}, "accepts 1 arg"},
		{"keys without dir", []string{"keys", "generate", "--keys", ""}, "--keys DIR"},
		{"resume by VEGA", []string{"state", "resume", "--signer", "VEGA"}, "must be LARS"},
		{"not a repo", []string{"audit", "verify", "--repo", "/nonexistent-vios"}, "not a git repository"},
		{"days out of range", []string{"demo", "--days", "0"}, "--days"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, stderr, code := run(t, tc.args...)
			if code != 2 || !strings.Contains(stderr, tc.want) {
				t.Fatalf("exit %d, stderr %q; want 2 and %q", code, stderr, tc.want)
			}
			if strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
				t.Fatalf("error is not one line: %q", stderr)
			}
		})
	}
}

func TestHelpTeaches(t *testing.T) {
	for _, cmd := range [][]string{{}, {"cycle", "run"}, {"audit", "verify"}, {"keys", "generate"}, {"init"}, {"state", "resume"}, {"demo"}} {
		out, _, code := run(t, append(cmd, "--help")...)
		if code != 0 || !strings.Contains(out, "Usage:") || !strings.Contains(out, "Examples:") {
			t.Errorf("%v --help: exit %d\n%s", cmd, code, out)
		}
	}
}

func TestDemoEndToEnd(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "demo")
	out, stderr, code := run(t, "demo", "--dir", dir, "--days", "1", "-o", "json")
	if code != 0 {
		t.Fatalf("demo exit %d: %s", code, stderr)
	}
	var s demoSummary
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatalf("demo json: %v\n%s", err, out)
	}
	if s.Cycles != 24 || !s.Audit.Passed || s.Audit.LogsChecked != 24 || s.Granted+s.Denied+s.Halted != 24 {
		t.Fatalf("summary %+v", s)
	}
	// The repository it wrote is usable by the other commands.
	repo := filepath.Join(dir, "governance")
	out, _, code = run(t, "state", "show", "--repo", repo, "-o", "json")
	if code != 0 || !strings.Contains(out, `"cycles_recorded": 24`) {
		t.Fatalf("state show: %d %s", code, out)
	}
	keys := filepath.Join(dir, "keys")
	out, stderr, code = run(t, "cycle", "run", "--repo", repo, "--keys", keys, "--at", s.LastSlot)
	if code != 0 || !strings.Contains(out, "already recorded") {
		t.Fatalf("rerun of the last slot: %d %s %s", code, out, stderr)
	}
	_, stderr, code = run(t, "init", repo, "--keys", keys)
	if code != 2 || !strings.Contains(stderr, "already") {
		t.Fatalf("init over an initialised repo: %d %s", code, stderr)
	}
}
