package integration

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// freezeCheck runs `vios freeze check` on repo with extra arguments.
func freezeCheck(t *testing.T, env []string, repo string, args ...string) (string, string, int) {
	t.Helper()
	return runEnv(t, env, append([]string{"freeze", "check", "--repo", repo}, args...)...)
}

// TestFreezeGuard is the acceptance of the freeze check, on repositories
// changed with the real git CLI: editing economics.yaml fails naming
// "economic safety constraints", a new signature log passes, editing an
// existing one fails as "canonical evidence".
func TestFreezeGuard(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		change   func(t *testing.T, f *fixture)
		wantCode int
		want     string
	}{
		{
			name: "economics edited",
			change: func(t *testing.T, f *fixture) {
				editFile(t, f.repo, "policies/economics.yaml", "per_summary_ceiling_usd: 0.050", "per_summary_ceiling_usd: 5.0")
				git(t, f.repo, "commit", "-q", "-am", "raise the ceiling")
			},
			wantCode: 1,
			want:     "VIOLATION modified policies/economics.yaml  [economic safety constraints]",
		},
		{
			name: "new signature log",
			change: func(t *testing.T, f *fixture) {
				log := f.artifact(t, "log", 1)
				next := strings.Replace(log, "SIGNATURE_LOG_CYCLE_", "SIGNATURE_LOG_CYCLE_f", 1)
				writeFile(t, filepath.Join(f.repo, next), readFile(t, filepath.Join(f.repo, log)), 0o644)
				git(t, f.repo, "add", next)
				git(t, f.repo, "commit", "-q", "-m", "a new log")
			},
			wantCode: 0,
			want:     "freeze holds",
		},
		{
			name: "existing signature log edited",
			change: func(t *testing.T, f *fixture) {
				log := f.artifact(t, "log", 1)
				editFile(t, f.repo, log, `"agent"`, `"agent" `)
				git(t, f.repo, "commit", "-q", "-am", "edit a log")
			},
			wantCode: 1,
			want:     "[canonical evidence]",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, 1)
			tc.change(t, f)
			// As on main (against the baseline tag) and as in a pull request.
			for _, args := range [][]string{nil, {"--baseline", "HEAD~1", "--head", "HEAD"}} {
				out, stderr, code := freezeCheck(t, nil, f.repo, args...)
				if code != tc.wantCode || !strings.Contains(out, tc.want) {
					t.Fatalf("freeze check %v: exit %d, want %d with %q\n%s%s", args, code, tc.wantCode, tc.want, out, stderr)
				}
			}
		})
	}
}

// TestFreezeGuardShallowClone: a depth-1 clone has neither the baseline
// commit nor its tag, and the manifest's blob ids still catch the drift.
func TestFreezeGuardShallowClone(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 1)
	editFile(t, f.repo, "policies/determinism.yaml", "overall_target: 0.95", "overall_target: 0.5")
	git(t, f.repo, "commit", "-q", "-am", "lower the bar")
	clone := filepath.Join(f.dir, "shallow")
	git(t, f.dir, "clone", "-q", "--depth", "1", "file://"+f.repo, clone)
	if n := commitCount(t, clone); n != 1 {
		t.Fatalf("clone has %d commits, want a shallow 1", n)
	}
	out, stderr, code := freezeCheck(t, nil, clone)
	if code != 1 || !strings.Contains(out, "modified policies/determinism.yaml  [determinism thresholds]") {
		t.Fatalf("shallow clone: exit %d\n%s%s", code, out, stderr)
	}
}

func TestFreezeGuardBadInput(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 0)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--baseline", "origin/nope"}, `baseline "origin/nope" does not resolve to a commit`},
		{[]string{"--head", strings.Repeat("ab", 20)}, "is not in the repository"},
	} {
		_, stderr, code := freezeCheck(t, nil, f.repo, tc.args...)
		if code != 2 || !strings.Contains(stderr, tc.want) || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
			t.Errorf("%v: exit %d, want 2 and one line with %q\n%s", tc.args, code, tc.want, stderr)
		}
	}
	writeFile(t, filepath.Join(f.repo, "baseline", "v1.0.json"), []byte(`{"version": "v1.0", "files": [`), 0o644)
	git(t, f.repo, "commit", "-q", "-am", "break the manifest")
	_, stderr, code := freezeCheck(t, nil, f.repo, "--baseline", "HEAD")
	if code != 2 || !strings.Contains(stderr, "baseline/v1.0.json: not a valid baseline manifest") {
		t.Errorf("corrupt manifest: exit %d\n%s", code, stderr)
	}
}

// TestFreezeGuardInActions: annotations on stdout, a table in the step summary.
func TestFreezeGuardInActions(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 0)
	editFile(t, f.repo, "policies/economics.yaml", "per_summary_ceiling_usd: 0.050", "per_summary_ceiling_usd: 5.0")
	git(t, f.repo, "commit", "-q", "-am", "raise the ceiling")
	summary := filepath.Join(f.dir, "step_summary.md")
	out, _, code := freezeCheck(t, []string{"GITHUB_ACTIONS=true", "GITHUB_STEP_SUMMARY=" + summary}, f.repo)
	if code != 1 || !strings.Contains(out, "::error file=policies/economics.yaml,title=freeze%3A economic safety constraints::policies/economics.yaml: economic safety constraints modified") {
		t.Fatalf("exit %d\n%s", code, out)
	}
	got := string(readFile(t, summary))
	if !strings.Contains(got, "| path | category | change | detail |") || !strings.Contains(got, "| `policies/economics.yaml` | economic safety constraints | modified |") {
		t.Fatalf("step summary:\n%s", got)
	}
}

// TestFreezeCut: a new baseline is a LARS-signed commit and a LARS-signed
// annotated tag that stock git verifies, and the check holds against it.
func TestFreezeCut(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 1)
	// v1.0 is tagged at init, signed by CODE.
	if r := gitVerified(t, f.repo, "verify-tag", "baseline/v1.0"); r.code != 0 {
		t.Fatalf("git verify-tag baseline/v1.0: %s", r)
	}
	if _, stderr, code := run(t, "freeze", "cut", "--repo", f.repo, "--keys", f.keys, "--version", "v3.0"); code != 2 || !strings.Contains(stderr, "does not increment") {
		t.Fatalf("cut v3.0: exit %d %s", code, stderr)
	}
	now := initTime.Add(48 * time.Hour).Format(time.RFC3339)
	out, _ := mustRun(t, 0, "freeze", "cut", "--repo", f.repo, "--keys", f.keys, "--version", "v1.1", "--now", now, "-o", "json")
	var res struct {
		Commit   string `json:"commit"`
		Recorded string `json:"recorded_commit"`
		Tag      string `json:"tag"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}
	if r := gitVerified(t, f.repo, "verify-tag", res.Tag); r.code != 0 {
		t.Fatalf("git verify-tag %s: %s", res.Tag, r)
	}
	if got := git(t, f.repo, "rev-parse", res.Tag+"^{commit}"); got != res.Commit || got != f.head(t) {
		t.Fatalf("tag on %s, cut commit %s, head %s", got, res.Commit, f.head(t))
	}
	if got := git(t, f.repo, "rev-parse", "HEAD~1"); got != res.Recorded {
		t.Fatalf("manifest records %s, want the commit before it %s", res.Recorded, got)
	}
	if s := sigStatus(t, f.repo, "HEAD"); s != "G" {
		t.Fatalf("manifest commit signature %q", s)
	}
	if tagger := git(t, f.repo, "for-each-ref", "--format=%(taggeremail)", "refs/tags/"+res.Tag); tagger != "<lars@vision-ios.agents>" {
		t.Fatalf("tagger %s", tagger)
	}
	git(t, f.repo, "fsck", "--strict", "--no-progress")
	mustRun(t, 0, "freeze", "check", "--repo", f.repo)
	if rep, code := audit(t, f.repo); code != 0 {
		t.Fatalf("audit after cut: exit %d\n%s", code, dumpFailures(rep))
	}
}

// TestInitGitHub: `vios init --github` writes the repository's own workflows.
func TestInitGitHub(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	keys, repo := filepath.Join(dir, "keys"), filepath.Join(dir, "gov")
	mustRun(t, 0, "keys", "generate", "--keys", keys)
	mustRun(t, 0, "init", repo, "--keys", keys, "--github", "--now", initTime.Format(time.RFC3339))
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	want, _ := filepath.Glob(filepath.Join(root, ".github", "workflows", "*.yml"))
	if len(want) < 7 {
		t.Fatalf("only %d workflows in the vios repository", len(want))
	}
	for _, p := range want {
		name := filepath.Base(p)
		got, err := os.ReadFile(filepath.Join(repo, ".github", "workflows", name))
		if err != nil || string(got) != string(readFile(t, p)) {
			t.Errorf("%s: %v (or it differs from the vios repository's)", name, err)
		}
		git(t, repo, "cat-file", "-e", "HEAD:.github/workflows/"+name)
	}
	mustRun(t, 0, "freeze", "check", "--repo", repo)
	if rep, code := audit(t, repo); code != 0 {
		t.Fatalf("audit: exit %d\n%s", code, dumpFailures(rep))
	}
}

// TestFreezeGuardChangeRequest: a change request branch passes the freeze
// check for exactly the path it declares once LARS approved its head and
// VEGA recommended it, and `freeze cut` then makes its manifest the
// baseline.
func TestFreezeGuardChangeRequest(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 0)
	at := func(h int) string { return initTime.Add(time.Duration(h) * time.Hour).Format(time.RFC3339) }
	mustRun(t, 0, "cr", "new", "--repo", f.repo, "--keys", f.keys, "--now", at(1), "--title", "Raise the ceiling",
		"--category", "economic_safety_constraints", "--rationale", "The new model costs more.",
		"--impact", "economic_safety_constraints=ADR-012: per-summary ceiling 0.050 -> 0.060")
	git(t, f.repo, "checkout", "-q", "cr/CR-0001")
	editFile(t, f.repo, "policies/economics.yaml", "per_summary_ceiling_usd: 0.050", "per_summary_ceiling_usd: 0.060")
	git(t, f.repo, "commit", "-q", "-am", "CR-0001: raise the ceiling")
	manifest, _ := mustRun(t, 0, "freeze", "manifest", "--repo", f.repo, "--version", "v1.1", "--now", at(2))
	writeFile(t, filepath.Join(f.repo, "baseline", "v1.1.json"), []byte(manifest), 0o644)
	git(t, f.repo, "add", "baseline/v1.1.json")
	git(t, f.repo, "commit", "-q", "-m", "CR-0001: baseline v1.1")

	check := []string{"--baseline", "main", "--head", "cr/CR-0001"}
	if out, stderr, code := freezeCheck(t, nil, f.repo, check...); code != 1 || !strings.Contains(out, "CR-0001 not approved") {
		t.Fatalf("before the sign-offs: exit %d\n%s%s", code, out, stderr)
	}
	mustRun(t, 0, "cr", "recommend", "CR-0001", "--repo", f.repo, "--keys", f.keys, "--signer", "VEGA", "--verdict", "approve", "--now", at(3))
	mustRun(t, 0, "cr", "approve", "CR-0001", "--repo", f.repo, "--keys", f.keys, "--signer", "LARS", "--now", at(4))
	out, stderr, code := freezeCheck(t, nil, f.repo, check...)
	if code != 0 || !strings.Contains(out, "allowed  modified policies/economics.yaml  [economic safety constraints] by CR-0001") {
		t.Fatalf("approved change request: exit %d\n%s%s", code, out, stderr)
	}
	// A path the change request does not declare still fails.
	editFile(t, f.repo, "policies/cycle.yaml", "asset: BTCUSDT", "asset: BTCUSDT ")
	git(t, f.repo, "commit", "-q", "-am", "sneak in")
	if out, _, code := freezeCheck(t, nil, f.repo, check...); code != 1 || !strings.Contains(out, "policies/cycle.yaml  [orchestrator logic]") {
		t.Fatalf("undeclared path: exit %d\n%s", code, out)
	}
	git(t, f.repo, "reset", "-q", "--hard", "HEAD~1")

	git(t, f.repo, "checkout", "-q", "main")
	git(t, f.repo, "merge", "-q", "--ff-only", "cr/CR-0001")
	mustRun(t, 0, "freeze", "cut", "--repo", f.repo, "--keys", f.keys, "--version", "v1.1", "--now", at(5))
	if r := gitVerified(t, f.repo, "verify-tag", "baseline/v1.1"); r.code != 0 {
		t.Fatalf("git verify-tag baseline/v1.1: %s", r)
	}
	if out, stderr, code := freezeCheck(t, nil, f.repo); code != 0 || !strings.Contains(out, "baseline v1.1 (baseline/v1.1.json") {
		t.Fatalf("after the cut: exit %d\n%s%s", code, out, stderr)
	}
}
