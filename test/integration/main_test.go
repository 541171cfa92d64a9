// Package integration runs the vios binary end to end against real git
// repositories and checks the results with the stock git CLI (and, for the
// operation signatures, with an independent verifier that imports no vios
// package). TestMain builds the binary once; every test works in its own
// temporary directories and may run in parallel.
package integration

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

var (
	// viosBin is the binary under test, built once by TestMain.
	viosBin string
	// homeDir is the HOME every subprocess sees: empty, so no user or
	// global git configuration leaks into the tests.
	homeDir string
	// tmpDir is TMPDIR for subprocesses (git writes its signing buffers there).
	tmpDir string
)

// cmdTimeout bounds every subprocess.
const cmdTimeout = 60 * time.Second

// initTime is the clock of `vios init` in every fixture: the registry keys
// are valid from then on, so all slots and git commit dates come after it.
var initTime = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// gitDate is the author and committer date of commits made with plain git.
var gitDate = time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)

func TestMain(m *testing.M) { os.Exit(testMain(m)) }

func testMain(m *testing.M) int {
	for _, tool := range []string{"git", "ssh-keygen"} {
		if _, err := exec.LookPath(tool); err != nil {
			fmt.Fprintf(os.Stderr, "FATAL: the vios integration tests need %q on PATH (it is the independent verifier): %v\n", tool, err)
			return 1
		}
	}
	base, err := os.MkdirTemp("", "vios-integration-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "FATAL: %v\n", err)
		return 1
	}
	defer os.RemoveAll(base)
	homeDir = filepath.Join(base, "home")
	tmpDir = filepath.Join(base, "tmp")
	for _, d := range []string{homeDir, tmpDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			fmt.Fprintf(os.Stderr, "FATAL: %v\n", err)
			return 1
		}
	}
	root, err := moduleRoot()
	if err != nil {
		fmt.Fprintf(os.Stderr, "FATAL: find the module root: %v\n", err)
		return 1
	}
	viosBin = filepath.Join(base, "vios")
	args := []string{"build", "-o", viosBin}
	if raceEnabled {
		// The tests run under the race detector: build vios with it too,
		// so a data race in its parallel audit fails the test that hit it.
		args = append(args, "-race")
	}
	args = append(args, "./cmd/vios")
	build := exec.Command(goTool(), args...)
	build.Dir = root
	build.Env = append(os.Environ(), "GOTOOLCHAIN=local")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "FATAL: go %s: %v\n%s", strings.Join(args, " "), err, out)
		return 1
	}
	return m.Run()
}

// goTool is the go command: $GOROOT/bin/go of the toolchain running the
// tests (go test sets GOROOT for its children), else go on PATH.
func goTool() string {
	if root := os.Getenv("GOROOT"); root != "" {
		if p := filepath.Join(root, "bin", "go"); fileExists(p) {
			return p
		}
	}
	return "go"
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// moduleRoot finds the directory of vios's go.mod: `go env GOMOD`, or ../..
func moduleRoot() (string, error) {
	cmd := exec.Command(goTool(), "env", "GOMOD")
	cmd.Env = append(os.Environ(), "GOTOOLCHAIN=local")
	if out, err := cmd.Output(); err == nil {
		if gomod := strings.TrimSpace(string(out)); gomod != "" && gomod != os.DevNull {
			return filepath.Dir(gomod), nil
		}
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		return "", err
	}
	return root, nil
}

// baseEnv is the whole environment of every subprocess: nothing from the
// caller's environment but PATH, so no VIOS_* variable, git configuration
// or GIT_* variable leaks in.
func baseEnv() []string {
	return []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + homeDir,
		"TMPDIR=" + tmpDir,
		"GIT_CONFIG_NOSYSTEM=1",
		"LC_ALL=C",
		"TZ=UTC",
		"GORACE=halt_on_error=1 exitcode=66 atexit_sleep_ms=0",
	}
}

// result is one finished subprocess.
type result struct {
	stdout, stderr string
	code           int
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
}

// tryExecute runs name in dir with baseEnv plus env and returns its output
// and exit code; err is set when the process could not run or timed out.
// It is safe to call from any goroutine.
func tryExecute(dir string, env []string, name string, args ...string) (result, error) {
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(baseEnv(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	res := result{stdout: stdout.String(), stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
		return res, nil
	case ctx.Err() != nil:
		return res, fmt.Errorf("%s %s: timed out after %s\n%s", name, strings.Join(args, " "), cmdTimeout, res)
	case errors.As(err, &ee):
		res.code = ee.ExitCode()
		return res, nil
	default:
		return res, fmt.Errorf("%s %s: %v", name, strings.Join(args, " "), err)
	}
}

// execute is tryExecute that fails the test when the process cannot run.
func execute(t *testing.T, dir string, env []string, name string, args ...string) result {
	t.Helper()
	res, err := tryExecute(dir, env, name, args...)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// run runs the vios binary with the fixed environment and returns stdout,
// stderr and the exit code.
func run(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	return runEnv(t, nil, args...)
}

// runEnv is run with extra environment variables (KEY=VALUE).
func runEnv(t *testing.T, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	r := execute(t, tmpDir, env, viosBin, args...)
	if strings.Contains(r.stderr, "WARNING: DATA RACE") || r.code == 66 {
		t.Errorf("BUG: data race in vios %s:\n%s", strings.Join(args, " "), r.stderr)
	}
	return r.stdout, r.stderr, r.code
}

// mustRun runs vios and fails the test unless it exits with want.
func mustRun(t *testing.T, want int, args ...string) (stdout, stderr string) {
	t.Helper()
	stdout, stderr, code := run(t, args...)
	if code != want {
		t.Fatalf("vios %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, want, stdout, stderr)
	}
	return stdout, stderr
}

// gitArgs prefixes the identity and signing defaults of every git call.
func gitArgs(args []string) []string {
	return append([]string{
		"-c", "user.name=x", "-c", "user.email=x@y", "-c", "commit.gpgsign=false",
		"-c", "tag.gpgsign=false", "-c", "init.defaultBranch=main",
	}, args...)
}

func gitEnv() []string {
	d := fmt.Sprintf("@%d +0000", gitDate.Unix())
	return []string{"GIT_AUTHOR_DATE=" + d, "GIT_COMMITTER_DATE=" + d}
}

// gitRun runs the real git CLI in dir and returns its result, whatever the
// exit code.
func gitRun(t *testing.T, dir string, args ...string) result {
	t.Helper()
	return execute(t, dir, gitEnv(), "git", gitArgs(args)...)
}

// git runs the real git CLI in dir, fails the test on a non-zero exit and
// returns stdout without the trailing newline.
func git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	r := gitRun(t, dir, args...)
	if r.code != 0 {
		t.Fatalf("git %s (in %s): %s", strings.Join(args, " "), dir, r)
	}
	return strings.TrimRight(r.stdout, "\n")
}

// allowedSigners is the git option that makes stock git check SSH commit
// signatures against the repository's own allowed_signers file.
var allowedSigners = []string{"-c", "gpg.ssh.allowedSignersFile=policies/keys/allowed_signers"}

// gitVerified runs git with the repository's allowed_signers file.
func gitVerified(t *testing.T, dir string, args ...string) result {
	t.Helper()
	return gitRun(t, dir, append(append([]string{}, allowedSigners...), args...)...)
}

// gitSigned runs git with commit signing through ssh-keygen with the given
// OpenSSH private key file.
func gitSigned(t *testing.T, dir, key string, args ...string) string {
	t.Helper()
	return git(t, dir, append([]string{"-c", "gpg.format=ssh", "-c", "user.signingkey=" + key}, args...)...)
}

// sigStatus is stock git's %G? of a commit.
func sigStatus(t *testing.T, dir, rev string) string {
	t.Helper()
	r := gitVerified(t, dir, "log", "-1", "--format=%G?", rev)
	if r.code != 0 {
		t.Fatalf("git log %%G? %s: %s", rev, r)
	}
	return strings.TrimSpace(r.stdout)
}

// fixture is a key directory and a governance repository initialised at
// initTime, each in the test's own temporary directory.
type fixture struct {
	dir  string
	keys string
	repo string
}

// slot is the i-th hourly slot after initTime.
func slot(i int) string {
	return initTime.Add(time.Duration(i) * time.Hour).Format(time.RFC3339)
}

// newFixture generates keys, initialises a governance repository and runs
// cycles for slots 1..cycles.
func newFixture(t *testing.T, cycles int) *fixture {
	t.Helper()
	dir := t.TempDir()
	f := &fixture{dir: dir, keys: filepath.Join(dir, "keys"), repo: filepath.Join(dir, "governance")}
	mustRun(t, 0, "keys", "generate", "--keys", f.keys)
	mustRun(t, 0, "init", f.repo, "--keys", f.keys, "--now", initTime.Format(time.RFC3339))
	for i := 1; i <= cycles; i++ {
		f.mustCycle(t, i)
	}
	return f
}

// cycle runs `vios cycle run` for slot i.
func (f *fixture) cycle(t *testing.T, i int, extra ...string) (stdout, stderr string, code int) {
	t.Helper()
	args := append([]string{"cycle", "run", "--repo", f.repo, "--keys", f.keys, "--at", slot(i)}, extra...)
	return run(t, args...)
}

func (f *fixture) mustCycle(t *testing.T, i int, extra ...string) string {
	t.Helper()
	stdout, stderr, code := f.cycle(t, i, extra...)
	if code != 0 {
		t.Fatalf("cycle run --at %s: exit %d\nstdout:\n%s\nstderr:\n%s", slot(i), code, stdout, stderr)
	}
	return stdout
}

func (f *fixture) head(t *testing.T) string {
	t.Helper()
	return git(t, f.repo, "rev-parse", "HEAD")
}

func (f *fixture) commits(t *testing.T) int {
	t.Helper()
	return commitCount(t, f.repo)
}

func commitCount(t *testing.T, repo string) int {
	t.Helper()
	n, err := strconv.Atoi(git(t, repo, "rev-list", "--count", "HEAD"))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// artifact returns the documented path of the cycle log ("log") or
// evidence bundle ("evidence") of slot i, and fails the test unless it is
// committed at HEAD.
func (f *fixture) artifact(t *testing.T, kind string, i int) string {
	t.Helper()
	s, err := time.Parse(time.RFC3339, slot(i))
	if err != nil {
		t.Fatal(err)
	}
	id := cycleID(s)
	var want string
	switch kind {
	case "log":
		want = "05_GOVERNANCE/SIGNATURE_AUDIT_LOGS/" + s.Format("2006/01/02") + "/SIGNATURE_LOG_CYCLE_" + id + ".json"
	case "evidence":
		want = "05_GOVERNANCE/CYCLE_EVIDENCE/" + s.Format("2006/01/02") + "/CYCLE_" + id + ".json"
	default:
		t.Fatalf("unknown artifact kind %q", kind)
	}
	if r := gitRun(t, f.repo, "cat-file", "-e", "HEAD:"+want); r.code != 0 {
		t.Fatalf("%s of slot %s is not committed at HEAD: %s", want, slot(i), r)
	}
	return want
}

// auditReport is the JSON of `vios audit verify -o json`.
type auditReport struct {
	Head                   string         `json:"head"`
	CommitsChecked         int            `json:"commits_checked"`
	GovernanceCommits      int            `json:"governance_commits"`
	CommitSignatures       int            `json:"commit_signatures_verified"`
	LogsChecked            int            `json:"signature_logs_checked"`
	OperationSignatures    int            `json:"operation_signatures_verified"`
	OperationSignaturesBad int            `json:"operation_signatures_failed"`
	EvidenceChecked        int            `json:"evidence_bundles_checked"`
	LineageLinks           int            `json:"lineage_links_checked"`
	Failures               []auditFailure `json:"failures"`
	Passed                 bool           `json:"passed"`
}

type auditFailure struct {
	Commit string `json:"commit"`
	File   string `json:"file"`
	Check  string `json:"check"`
	Reason string `json:"reason"`
}

// audit runs `vios audit verify -o json` and returns its report and exit code.
func audit(t *testing.T, repo string) (auditReport, int) {
	t.Helper()
	stdout, stderr, code := run(t, "audit", "verify", "--repo", repo, "-o", "json")
	var rep auditReport
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("audit verify -o json: not JSON (%v), exit %d\nstdout:\n%s\nstderr:\n%s", err, code, stdout, stderr)
	}
	if rep.Passed != (code == 0) {
		t.Errorf("audit verify: passed=%v but exit %d", rep.Passed, code)
	}
	if rep.Passed != (len(rep.Failures) == 0) {
		t.Errorf("audit verify: passed=%v with %d failures", rep.Passed, len(rep.Failures))
	}
	return rep, code
}

// findFailure returns the failures matching commit (if not empty), file (if
// not empty) and check.
func findFailure(rep auditReport, commit, file, check string) []auditFailure {
	var out []auditFailure
	for _, f := range rep.Failures {
		if (commit == "" || f.Commit == commit) && (file == "" || f.File == file) && f.Check == check {
			out = append(out, f)
		}
	}
	return out
}

func dumpFailures(rep auditReport) string {
	var b strings.Builder
	for _, f := range rep.Failures {
		fmt.Fprintf(&b, "  %s %s [%s] %s\n", f.Commit, f.File, f.Check, f.Reason)
	}
	return b.String()
}

// openSSHKey converts an agent's PEM (PKCS#8) Ed25519 key into an OpenSSH
// private key file (mode 0600) that git can sign commits with.
func openSSHKey(t *testing.T, pemPath, out string) string {
	t.Helper()
	data, err := os.ReadFile(pemPath)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		t.Fatalf("%s: no PEM block", pemPath)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatalf("%s: %v", pemPath, err)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		t.Fatalf("%s: %T is not an Ed25519 key", pemPath, k)
	}
	pb, err := ssh.MarshalPrivateKey(priv, filepath.Base(pemPath))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(out, pem.EncodeToMemory(pb), 0o600); err != nil {
		t.Fatal(err)
	}
	return out
}

func readFile(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeFile(t *testing.T, p string, data []byte, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
}

// cycleID is the documented cycle id: the first 16 hex digits of
// sha256(slot as RFC 3339 UTC).
func cycleID(slot time.Time) string {
	sum := sha256.Sum256([]byte(slot.UTC().Format(time.RFC3339)))
	return hex.EncodeToString(sum[:])[:16]
}
