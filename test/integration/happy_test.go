package integration

import (
	"encoding/json"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestHappyPathStockGitVerifies: keys, init and five hourly cycles; stock git
// accepts every commit signature, fsck is clean, the worktree is clean and
// `vios audit verify` passes with the expected counts.
func TestHappyPathStockGitVerifies(t *testing.T) {
	t.Parallel()
	const cycles = 5
	f := newFixture(t, cycles)
	repo := f.repo

	if n := f.commits(t); n != cycles+1 {
		t.Fatalf("git rev-list --count HEAD = %d, want %d (init + %d cycles)", n, cycles+1, cycles)
	}

	// %G? is G for every commit, one line per commit.
	r := gitVerified(t, repo, "log", "--format=%G?")
	if r.code != 0 {
		t.Fatalf("git log %%G?: %s", r)
	}
	lines := strings.Split(strings.TrimRight(r.stdout, "\n"), "\n")
	if len(lines) != cycles+1 {
		t.Fatalf("git log --format=%%G? printed %d lines, want %d:\n%s", len(lines), cycles+1, r.stdout)
	}
	for i, l := range lines {
		if l != "G" {
			t.Errorf("commit %d from HEAD: %%G? = %q, want G\n%s", i, l, r.stdout)
		}
	}

	// Every commit is signed by CODE's principal.
	r = gitVerified(t, repo, "log", "--format=%GS")
	for _, l := range strings.Split(strings.TrimRight(r.stdout, "\n"), "\n") {
		if l != "code@vision-ios.agents" {
			t.Errorf("%%GS = %q, want code@vision-ios.agents", l)
		}
	}

	if r := gitVerified(t, repo, "verify-commit", "HEAD"); r.code != 0 {
		t.Errorf("git verify-commit HEAD with allowed_signers: %s", r)
	}
	// Without the allowed_signers file git cannot verify: the config matters.
	if r := gitRun(t, repo, "verify-commit", "HEAD"); r.code == 0 {
		t.Errorf("git verify-commit HEAD without gpg.ssh.allowedSignersFile succeeded; the check above proves nothing")
	}

	if r := gitRun(t, repo, "fsck", "--strict"); r.code != 0 || strings.TrimSpace(r.stdout+r.stderr) != "" {
		t.Errorf("git fsck --strict is not clean: %s", r)
	}
	if st := git(t, repo, "status", "--porcelain", "--untracked-files=all"); st != "" {
		t.Errorf("git status --porcelain after the cycles:\n%s", st)
	}

	// Each cycle commit carries the documented trailers, and only adds the
	// log and evidence of its cycle besides the regenerated state.
	for i := 1; i <= cycles; i++ {
		rev := "HEAD~" + strconv.Itoa(cycles-i)
		s, _ := time.Parse(time.RFC3339, slot(i))
		id := cycleID(s)
		tr := git(t, repo, "log", "-1", "--format=%(trailers:key=Vios-Cycle,valueonly)%(trailers:key=Vios-Agent,valueonly)", rev)
		if want := id + "\nCODE"; strings.TrimSpace(tr) != want {
			t.Errorf("%s trailers = %q, want %q", rev, tr, want)
		}
		files := strings.Split(git(t, repo, "show", "--format=", "--name-status", rev), "\n")
		sort.Strings(files)
		want := []string{
			"A\t" + f.artifact(t, "evidence", i),
			"A\t" + f.artifact(t, "log", i),
			"M\t05_GOVERNANCE/OPERATIONAL_STATE.json",
		}
		if !slices.Equal(files, want) {
			t.Errorf("%s changes:\n%s\nwant:\n%s", rev, strings.Join(files, "\n"), strings.Join(want, "\n"))
		}
	}

	stdout, _ := mustRun(t, 0, "state", "show", "--repo", repo, "-o", "json")
	var st struct {
		State          string `json:"state"`
		CyclesRecorded int    `json:"cycles_recorded"`
		LastCycleSlot  string `json:"last_cycle_slot"`
	}
	if err := json.Unmarshal([]byte(stdout), &st); err != nil {
		t.Fatalf("state show -o json: %v\n%s", err, stdout)
	}
	if st.State != "RUNNING" || st.CyclesRecorded != cycles || st.LastCycleSlot != slot(cycles) {
		t.Errorf("state = %+v, want RUNNING, %d cycles, last slot %s", st, cycles, slot(cycles))
	}

	rep, code := audit(t, repo)
	if code != 0 || !rep.Passed {
		t.Fatalf("audit verify: exit %d, passed %v\n%s", code, rep.Passed, dumpFailures(rep))
	}
	checks := []struct {
		name      string
		got, want int
	}{
		{"commits_checked", rep.CommitsChecked, cycles + 1},
		{"governance_commits", rep.GovernanceCommits, cycles + 1},
		{"commit_signatures_verified", rep.CommitSignatures, cycles + 1},
		{"signature_logs_checked", rep.LogsChecked, cycles},
		{"evidence_bundles_checked", rep.EvidenceChecked, cycles},
		{"lineage_links_checked", rep.LineageLinks, cycles},
		{"operation_signatures_failed", rep.OperationSignaturesBad, 0},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("audit %s = %d, want %d", c.name, c.got, c.want)
		}
	}
	if rep.OperationSignatures < 5*cycles {
		t.Errorf("audit operation_signatures_verified = %d, want at least %d (5 required steps per cycle)", rep.OperationSignatures, 5*cycles)
	}
	if rep.Head != f.head(t) {
		t.Errorf("audit head = %s, want HEAD %s", rep.Head, f.head(t))
	}
}

// TestIdempotentSlot: running a recorded slot again does nothing.
func TestIdempotentSlot(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 2)
	before, head := f.commits(t), f.head(t)
	logBefore := git(t, f.repo, "show", "HEAD:"+f.artifact(t, "log", 2))

	for _, i := range []int{2, 1} {
		stdout, stderr, code := f.cycle(t, i)
		if code != 0 {
			t.Fatalf("re-running slot %s: exit %d\n%s\n%s", slot(i), code, stdout, stderr)
		}
		if !strings.Contains(stdout, "already recorded") {
			t.Errorf("re-running slot %s: stdout does not say \"already recorded\":\n%s", slot(i), stdout)
		}
	}
	stdout, _ := mustRun(t, 0, "cycle", "run", "--repo", f.repo, "--keys", f.keys, "--at", slot(2), "-o", "json")
	var out struct {
		Existing bool   `json:"already_recorded"`
		Commit   string `json:"commit"`
	}
	if err := json.Unmarshal([]byte(stdout), &out); err != nil {
		t.Fatalf("-o json: %v\n%s", err, stdout)
	}
	if !out.Existing || out.Commit != head {
		t.Errorf("re-run -o json = %+v, want already_recorded true and commit %s", out, head)
	}

	if n := f.commits(t); n != before {
		t.Errorf("rev-list --count HEAD = %d after re-running recorded slots, want %d", n, before)
	}
	if h := f.head(t); h != head {
		t.Errorf("HEAD moved from %s to %s", head, h)
	}
	if got := git(t, f.repo, "show", "HEAD:"+f.artifact(t, "log", 2)); got != logBefore {
		t.Errorf("the recorded log changed")
	}
	if st := git(t, f.repo, "status", "--porcelain", "--untracked-files=all"); st != "" {
		t.Errorf("git status --porcelain:\n%s", st)
	}
}

// TestCycleRunJSON: `cycle run -o json` is one JSON object naming the cycle,
// its commit (which is HEAD) and the verification status.
func TestCycleRunJSON(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 0)
	stdout, stderr := mustRun(t, 0, "cycle", "run", "--repo", f.repo, "--keys", f.keys, "--at", slot(1), "-o", "json")
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(stdout), &raw); err != nil {
		t.Fatalf("cycle run -o json is not a JSON object: %v\nstdout:\n%s\nstderr:\n%s", err, stdout, stderr)
	}
	for _, k := range []string{"cycle_id", "commit", "verification_status"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("cycle run -o json lacks %q:\n%s", k, stdout)
		}
	}
	var out struct {
		CycleID  string `json:"cycle_id"`
		Slot     string `json:"slot"`
		Commit   string `json:"commit"`
		Log      string `json:"log"`
		Status   string `json:"verification_status"`
		Verified int    `json:"signatures_verified"`
		Required int    `json:"signatures_required"`
		Halted   bool   `json:"halted"`
	}
	if err := json.Unmarshal([]byte(stdout), &out); err != nil {
		t.Fatal(err)
	}
	s, _ := time.Parse(time.RFC3339, slot(1))
	if out.CycleID != cycleID(s) {
		t.Errorf("cycle_id = %q, want %q (sha256 of the slot)", out.CycleID, cycleID(s))
	}
	if !regexp.MustCompile(`^[0-9a-f]{40}$`).MatchString(out.Commit) || out.Commit != f.head(t) {
		t.Errorf("commit = %q, want HEAD %s", out.Commit, f.head(t))
	}
	if out.Status != "PASS" || out.Halted || out.Verified != out.Required || out.Required == 0 {
		t.Errorf("cycle run -o json = %+v, want PASS with every required signature verified", out)
	}
	if out.Slot != slot(1) {
		t.Errorf("slot = %q, want %q", out.Slot, slot(1))
	}
	if out.Log != f.artifact(t, "log", 1) {
		t.Errorf("log = %q, want %q", out.Log, f.artifact(t, "log", 1))
	}
	if strings.Count(strings.TrimSpace(stdout), "\n{") > 0 {
		t.Errorf("stdout holds more than one JSON value:\n%s", stdout)
	}
}
