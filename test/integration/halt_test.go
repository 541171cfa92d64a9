package integration

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

type stateJSON struct {
	State          string `json:"state"`
	Reason         string `json:"reason"`
	UpdatedBy      string `json:"updated_by"`
	LastCycleID    string `json:"last_cycle_id"`
	CyclesRecorded int    `json:"cycles_recorded"`
}

// committedState reads 05_GOVERNANCE/OPERATIONAL_STATE.json at HEAD with git.
func committedState(t *testing.T, repo string) stateJSON {
	t.Helper()
	var st stateJSON
	data := git(t, repo, "show", "HEAD:05_GOVERNANCE/OPERATIONAL_STATE.json")
	if err := json.Unmarshal([]byte(data), &st); err != nil {
		t.Fatalf("OPERATIONAL_STATE.json at HEAD: %v\n%s", err, data)
	}
	return st
}

// TestHaltAndResume: a FINN key that is not FINN's registry key halts the
// orchestrator in a signed commit; production refuses to run until LARS
// resolves the signature deviation (state resume is refused while it is
// open); with the right key it runs again and the whole history audits.
func TestHaltAndResume(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 1)
	finnKey := filepath.Join(f.keys, "finn.key")
	original := readFile(t, finnKey)

	other := filepath.Join(f.dir, "other")
	mustRun(t, 0, "keys", "generate", "--keys", other)
	writeFile(t, finnKey, readFile(t, filepath.Join(other, "finn.key")), 0o600)

	// The halting cycle: exit 1, one commit with the FAIL log and HALTED state.
	before := f.commits(t)
	stdout, stderr, code := f.cycle(t, 2, "-o", "json")
	if code != 1 {
		t.Fatalf("cycle with a wrong FINN key: exit %d, want 1\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	var out struct {
		Commit string `json:"commit"`
		Log    string `json:"log"`
		Status string `json:"verification_status"`
		Halted bool   `json:"halted"`
		Reason string `json:"halt_reason"`
	}
	if err := json.Unmarshal([]byte(stdout), &out); err != nil {
		t.Fatalf("halted cycle -o json: %v\n%s", err, stdout)
	}
	if !out.Halted || out.Status != "FAIL" || !strings.Contains(out.Reason, "FINN") {
		t.Errorf("halted cycle -o json = %+v, want halted, FAIL, a reason naming FINN", out)
	}
	if n := f.commits(t); n != before+1 {
		t.Fatalf("the halting cycle made %d commits, want 1", n-before)
	}
	haltCommit := f.head(t)
	if out.Commit != haltCommit {
		t.Errorf("-o json commit %s, HEAD %s", out.Commit, haltCommit)
	}
	logPath := f.artifact(t, "log", 2)
	logText := git(t, f.repo, "show", "HEAD:"+logPath)
	var lg struct {
		Summary struct {
			Status string `json:"verification_status"`
		} `json:"signature_verification_summary"`
		Ops []struct {
			Step     int    `json:"step"`
			Agent    string `json:"agent"`
			Verified bool   `json:"verified"`
		} `json:"operation_signatures"`
		Skipped []struct {
			Step int `json:"step"`
		} `json:"skipped_operations"`
	}
	if err := json.Unmarshal([]byte(logText), &lg); err != nil {
		t.Fatal(err)
	}
	if lg.Summary.Status != "FAIL" {
		t.Errorf("%s: verification_status %q, want FAIL:\n%s", logPath, lg.Summary.Status, logText)
	}
	// LINE's step 1 verified; FINN's step 2 failed; nothing after it ran.
	if len(lg.Ops) != 2 || !lg.Ops[0].Verified || lg.Ops[1].Agent != "FINN" || lg.Ops[1].Verified {
		t.Errorf("halted log operations = %+v, want step 1 verified and FINN's step 2 failed, nothing more", lg.Ops)
	}
	if st := committedState(t, f.repo); st.State != "HALTED" || st.LastCycleID != cycleIDAt(t, 2) {
		t.Errorf("committed state = %+v, want HALTED after cycle %s", st, cycleIDAt(t, 2))
	}
	changed := git(t, f.repo, "show", "--format=", "--name-only", "HEAD")
	if !strings.Contains(changed, "05_GOVERNANCE/OPERATIONAL_STATE.json") || !strings.Contains(changed, logPath) {
		t.Errorf("the halting commit does not hold both the log and the state:\n%s", changed)
	}
	// The halting commit itself is a good CODE-signed commit.
	if got := sigStatus(t, f.repo, "HEAD"); got != "G" {
		t.Errorf("halting commit %%G? = %q, want G", got)
	}
	if r := gitVerified(t, f.repo, "verify-commit", "HEAD"); r.code != 0 {
		t.Errorf("git verify-commit of the halting commit: %s", r)
	}

	// While HALTED nothing runs, even with the right key, and nothing is written.
	writeFile(t, finnKey, original, 0o600)
	for _, i := range []int{3, 4} {
		stdout, stderr, code = f.cycle(t, i)
		if code != 1 {
			t.Errorf("cycle while HALTED: exit %d, want 1\n%s\n%s", code, stdout, stderr)
		}
		if !strings.Contains(stderr, "HALTED") {
			t.Errorf("cycle while HALTED: stderr does not say HALTED:\n%s", stderr)
		}
	}
	if h := f.head(t); h != haltCommit {
		t.Fatalf("a cycle while HALTED moved HEAD to %s", h)
	}
	stdout, _ = mustRun(t, 0, "state", "show", "--repo", f.repo, "-o", "json")
	if !strings.Contains(stdout, `"HALTED"`) {
		t.Errorf("state show while halted:\n%s", stdout)
	}

	// Only LARS may resume, and with the reason recorded.
	now := "--now=" + initTime.Add(2*time.Hour+30*time.Minute).Format(time.RFC3339)
	for _, bad := range [][]string{
		{"--signer", "FINN", "--reason", "r"},
		{"--signer", "LARS"},
	} {
		args := append([]string{"state", "resume", "--repo", f.repo, "--keys", f.keys, now}, bad...)
		if _, _, code := run(t, args...); code != 2 {
			t.Errorf("vios %s: exit %d, want 2", strings.Join(args, " "), code)
		}
	}
	if h := f.head(t); h != haltCommit {
		t.Fatalf("a refused resume moved HEAD to %s", h)
	}
	// HALTED is lifted only by a LARS-signed resolution: resuming around
	// the open signature deviation is refused (exit 1), naming it and the
	// command that resolves it.
	devID := "DEV-signature_verification_failure-" + cycleIDAt(t, 2)
	_, stderr, code = run(t, "state", "resume", "--repo", f.repo, "--keys", f.keys, "--signer", "LARS", "--reason", "r", now)
	if code != 1 || !strings.Contains(stderr, devID) || !strings.Contains(stderr, "vios deviation resolve "+devID) {
		t.Errorf("state resume with the deviation open: exit %d, want 1 naming %s and vios deviation resolve\n%s", code, devID, stderr)
	}
	if h := f.head(t); h != haltCommit {
		t.Fatalf("a refused resume moved HEAD to %s", h)
	}
	mustRun(t, 0, "deviation", "resolve", devID, "--repo", f.repo, "--keys", f.keys, "--signer", "LARS",
		"--root-cause", "FINN key replaced by a stale copy", "--plan", "restore it; check keys before each cycle", now)
	if n := f.commits(t); n != before+2 {
		t.Errorf("the resolution made %d commits, want 1", n-before-1)
	}
	if got := sigStatus(t, f.repo, "HEAD"); got != "G" {
		t.Errorf("resolution commit %%G? = %q, want G", got)
	}
	if got := strings.TrimSpace(gitVerified(t, f.repo, "log", "-1", "--format=%GS", "HEAD").stdout); got != "lars@vision-ios.agents" {
		t.Errorf("resolution commit signed by %q, want lars@vision-ios.agents", got)
	}
	if st := committedState(t, f.repo); st.State != "RUNNING" || st.UpdatedBy != "LARS" || !strings.Contains(st.Reason, devID) {
		t.Errorf("state after the resolution = %+v, want RUNNING by LARS naming %s", st, devID)
	}
	// Resuming a RUNNING production is refused.
	if _, _, code := run(t, "state", "resume", "--repo", f.repo, "--keys", f.keys, "--signer", "LARS", "--reason", "again", now); code != 2 {
		t.Errorf("resume while RUNNING: exit %d, want 2", code)
	}

	// With the original key restored, cycles run again.
	f.mustCycle(t, 3)
	if st := committedState(t, f.repo); st.State != "RUNNING" || st.CyclesRecorded != 3 {
		t.Errorf("state after the next cycle = %+v, want RUNNING with 3 cycles", st)
	}

	// Stock git accepts every commit, the halted one included.
	r := gitVerified(t, f.repo, "log", "--format=%G?")
	if strings.Trim(strings.ReplaceAll(r.stdout, "\n", ""), "G") != "" || strings.Count(r.stdout, "G") != f.commits(t) {
		t.Errorf("git log %%G? after halt and resume:\n%s", r.stdout)
	}

	// The audit accepts the history: the failed signature is recorded as
	// failed, which is consistent.
	rep, code := audit(t, f.repo)
	if code != 0 {
		t.Fatalf("audit after halt, resume and a good cycle: exit %d\n%s", code, dumpFailures(rep))
	}
	if rep.OperationSignaturesBad != 1 || rep.LogsChecked != 3 || rep.CommitsChecked != 5 {
		t.Errorf("audit = %+v, want 1 failed operation signature, 3 logs, 5 commits", rep)
	}
}

func cycleIDAt(t *testing.T, i int) string {
	t.Helper()
	s, err := time.Parse(time.RFC3339, slot(i))
	if err != nil {
		t.Fatal(err)
	}
	return cycleID(s)
}

// TestWrongSignerKeysRefuse: CODE signs every governance commit and LARS
// every resume; a key that is not their ACTIVE registry key is refused
// before anything is signed (exit 1, no commit).
func TestWrongSignerKeysRefuse(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 1)
	other := filepath.Join(f.dir, "other")
	mustRun(t, 0, "keys", "generate", "--keys", other)
	head := f.head(t)

	codeKey := filepath.Join(f.keys, "code.key")
	original := readFile(t, codeKey)
	writeFile(t, codeKey, readFile(t, filepath.Join(other, "code.key")), 0o600)
	stdout, stderr, code := f.cycle(t, 2)
	if code != 1 || !strings.Contains(stderr, "CODE") {
		t.Errorf("cycle with a wrong CODE key: exit %d, want 1 naming CODE\n%s\n%s", code, stdout, stderr)
	}
	if h := f.head(t); h != head {
		t.Fatalf("a cycle with a wrong CODE key committed %s", h)
	}
	writeFile(t, codeKey, original, 0o600)

	// Halt with a wrong FINN key, then try to resume with a wrong LARS key.
	finnKey := filepath.Join(f.keys, "finn.key")
	finn := readFile(t, finnKey)
	writeFile(t, finnKey, readFile(t, filepath.Join(other, "finn.key")), 0o600)
	if _, _, code := f.cycle(t, 2); code != 1 {
		t.Fatalf("cycle with a wrong FINN key: exit %d, want 1", code)
	}
	writeFile(t, finnKey, finn, 0o600)
	halted := f.head(t)
	now := "--now=" + initTime.Add(3*time.Hour).Format(time.RFC3339)
	_, stderr, code = run(t, "state", "resume", "--repo", f.repo, "--keys", other, "--signer", "LARS", "--reason", "r", now)
	if code != 1 || !strings.Contains(stderr, "LARS") {
		t.Errorf("resume with a wrong LARS key: exit %d, want 1 naming LARS\n%s", code, stderr)
	}
	if h := f.head(t); h != halted {
		t.Fatalf("a resume with a wrong LARS key committed %s", h)
	}
	if st := committedState(t, f.repo); st.State != "HALTED" {
		t.Errorf("state after a refused resume = %s, want HALTED", st.State)
	}
}
