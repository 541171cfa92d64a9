// Package gitcli runs the real git command line in tests, the independent
// verifier of what vios writes. It depends on nothing of vios, so that the
// tests of every package, the ledger's own included, can use it.
package gitcli

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// Run runs git with args in dir and returns its output (standard output
// and error together) without the trailing newlines; it fails the test
// when git does. git runs hermetically: without system or user
// configuration, in the C locale, as committer x <x@y>, without commit
// signing and with main as the first branch. Arguments may override the
// identity ("-c", "user.name=...") since later options win.
func Run(tb testing.TB, dir string, args ...string) string {
	tb.Helper()
	return RunEnv(tb, dir, nil, args...)
}

// RunEnv is Run with env added to git's environment.
func RunEnv(tb testing.TB, dir string, env []string, args ...string) string {
	tb.Helper()
	cmd := exec.Command("git", append([]string{
		"-c", "user.name=x", "-c", "user.email=x@y", "-c", "commit.gpgsign=false", "-c", "init.defaultBranch=main",
	}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(Env(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		tb.Fatalf("git %s (in %s): %v\n%s", strings.Join(args, " "), dir, err, out)
	}
	return strings.TrimRight(string(out), "\n")
}

// Env is the environment git runs in here: the process's, without system
// or user configuration, in the C locale. A test process that runs git
// itself (a helper process re-executed by a test) takes it too.
func Env() []string {
	return append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null", "LC_ALL=C")
}

// Available skips the test when there is no git binary.
func Available(tb testing.TB) {
	tb.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		tb.Skip("no git binary")
	}
}
