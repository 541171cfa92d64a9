package integration

import (
	"strings"
	"sync"
	"testing"
)

// TestConcurrentCycles: cycle runs started at once on one repository
// serialise on the repository lock: every slot is committed exactly once,
// the chain stays intact and the audit passes.
func TestConcurrentCycles(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 0)
	const n = 6
	results := make([]result, 2*n)
	var wg sync.WaitGroup
	for i := 0; i < 2*n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			// Each slot twice: the second run finds it recorded.
			r, err := tryExecute(tmpDir, nil, viosBin, "cycle", "run", "--repo", f.repo, "--keys", f.keys, "--at", slot(1+i%n))
			if err != nil {
				r.code, r.stderr = -1, err.Error()
			}
			results[i] = r
		}(i)
	}
	wg.Wait()
	recorded := 0
	for i, r := range results {
		if r.code != 0 {
			t.Errorf("concurrent cycle run %d (slot %s): exit %d\n%s\n%s", i, slot(1+i%n), r.code, r.stdout, r.stderr)
		}
		if strings.Contains(r.stderr, "WARNING: DATA RACE") {
			t.Errorf("BUG: data race:\n%s", r.stderr)
		}
		if strings.Contains(r.stdout, "already recorded") {
			recorded++
		}
	}
	if recorded != n {
		t.Errorf("%d runs found their slot already recorded, want %d", recorded, n)
	}
	if c := f.commits(t); c != n+1 {
		t.Errorf("%d commits, want %d (init + one per slot)", c, n+1)
	}
	if st := git(t, f.repo, "status", "--porcelain", "--untracked-files=all"); st != "" {
		t.Errorf("git status --porcelain after concurrent runs:\n%s", st)
	}
	if r := gitRun(t, f.repo, "fsck", "--strict"); r.code != 0 {
		t.Errorf("git fsck --strict: %s", r)
	}
	rep, code := audit(t, f.repo)
	if code != 0 || rep.LogsChecked != n {
		t.Errorf("audit after concurrent runs: exit %d, %d logs (want %d)\n%s", code, rep.LogsChecked, n, dumpFailures(rep))
	}
}
