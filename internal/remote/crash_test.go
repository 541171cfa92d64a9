package remote_test

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vision-ios/vios/internal/audit"
	"github.com/vision-ios/vios/internal/layout"
	"github.com/vision-ios/vios/internal/ledger"
	"github.com/vision-ios/vios/internal/remote"
	"github.com/vision-ios/vios/internal/testutil"
	"github.com/vision-ios/vios/internal/testutil/gitcli"
)

// Environment of the crash helper process.
const (
	helperEnv = "VIOS_CRASH_HELPER" // "local" or "push"
	repoEnv   = "VIOS_CRASH_REPO"
	urlEnv    = "VIOS_CRASH_URL"
	startEnv  = "VIOS_CRASH_START"
)

// TestCrashHelper is the commit loop the crash tests kill: run as a child
// process, it commits a cycle per slot from VIOS_CRASH_START on (and, in
// push mode, fetches first and pushes after each, like `cycle run
// --push`), printing "done SLOT" once a cycle is committed (local) or on
// the remote (push). Run directly, it does nothing.
func TestCrashHelper(t *testing.T) {
	mode := os.Getenv(helperEnv)
	if mode == "" {
		t.Skip("the crash tests' child process")
	}
	start, _ := strconv.Atoi(os.Getenv(startEnv))
	w := &world{signers: testutil.Signers(t, "remote"), url: os.Getenv(urlEnv)}
	r, err := ledger.Open(os.Getenv(repoEnv))
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	ctx := context.Background()
	opt := w.options(w.url, nil)
	fmt.Println("ready")
	for i := start; ; i++ {
		hctx, unlock, err := r.Hold(ctx)
		if err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		if mode == "push" {
			if _, err := remote.Sync(hctx, r, opt); err != nil {
				fmt.Println("error sync", err)
				os.Exit(1)
			}
		}
		if _, err := w.runCycle(hctx, r, i); err != nil {
			fmt.Println("error cycle", err)
			os.Exit(1)
		}
		if mode == "push" {
			if _, err := remote.Push(hctx, r, opt); err != nil {
				fmt.Println("error push", err)
				os.Exit(1)
			}
		}
		unlock()
		fmt.Println("done", i)
	}
}

// TestCrashSafety kills the commit loop with SIGKILL at random moments (20
// times; 10 with pushes), restarting it each time. Afterwards the repository (and the
// remote) pass `git fsck --strict`, every cycle the loop reported done is
// there, and the loop resumes: a further cycle commits (and pushes), and
// the audit, lineage chain included, passes. In push mode another writer
// pushes to the same remote meanwhile, so kills also land while the
// helper re-creates its cycles on a newer tip.
func TestCrashSafety(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		mode  string
		kills int
	}{
		{"local", 20},
		{"push", 10},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			t.Parallel()
			crashLoop(t, tc.mode, tc.kills)
		})
	}
}

// crashLoop restarts and kills the helper: each run is killed at a random
// moment of its first, second or third cycle, measured by the pace of the
// cycles seen so far (this machine's, race detector and load included).
func crashLoop(t *testing.T, mode string, kills int) {
	w := newWorld(t, false)
	r, dir := w.clone(t)
	r.Close()
	var stop chan struct{}
	var other sync.WaitGroup
	if mode == "push" {
		// A second orchestrator keeps the remote moving.
		stop = make(chan struct{})
		o, _ := w.clone(t)
		other.Add(1)
		go func() {
			defer other.Done()
			opt := w.options(w.url, nil)
			for i := 100000; ; i++ {
				select {
				case <-stop:
					return
				case <-time.After(time.Duration(200+rand.IntN(600)) * time.Millisecond):
				}
				ctx, unlock, err := o.Hold(context.Background())
				if err != nil {
					t.Error(err)
					return
				}
				if _, err := remote.Sync(ctx, o, opt); err == nil {
					if _, err := w.runCycle(ctx, o, i); err == nil {
						remote.Push(ctx, o, opt)
					}
				}
				unlock()
			}
		}()
	}
	done := map[int]bool{}
	next := 1
	var pace time.Duration // mean time of one helper cycle
	paced := 0
	for k := 0; k < kills; k++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashHelper$", "-test.count=1")
		// Sometimes start at a slot already done: it must be a no-op.
		start := max(1, next-rand.IntN(2))
		cmd.Env = append(gitcli.Env(), helperEnv+"="+mode, repoEnv+"="+dir, urlEnv+"="+w.url, startEnv+"="+strconv.Itoa(start))
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := make(chan string)
		go func() {
			defer close(lines)
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				lines <- sc.Text()
			}
		}()
		var kill <-chan time.Time
		var last time.Time
		target, seen := rand.IntN(3), -1 // kill during cycle target+1
		arm := func() {
			if seen++; seen == target && pace > 0 {
				kill = time.After(rand.N(pace))
			}
		}
	read:
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					break read
				}
				if l == "ready" {
					last = time.Now()
					arm()
				} else if n, found := strings.CutPrefix(l, "done "); found {
					i, _ := strconv.Atoi(n)
					done[i] = true
					next = max(next, i+1)
					pace = (pace*time.Duration(paced) + time.Since(last)) / time.Duration(paced+1)
					paced++
					last = time.Now()
					if kill == nil && seen >= target {
						seen = target - 1 // the first run learns the pace first
					}
					arm()
				} else if strings.HasPrefix(l, "error") {
					t.Fatalf("restart %d: helper: %s", k, l)
				}
			case <-kill:
				cmd.Process.Signal(syscall.SIGKILL)
				kill = nil
			}
		}
		cmd.Wait()
	}
	if stop != nil {
		close(stop)
		other.Wait()
	}
	if len(done) == 0 {
		t.Fatal("the helper never finished a cycle")
	}

	// Consistent: fsck, on the clone and the remote.
	gitcli.Run(t, dir, "fsck", "--strict")
	if mode == "push" {
		gitcli.Run(t, w.bare, "fsck", "--strict")
	}
	// Nothing reported done is lost.
	where := dir
	if mode == "push" {
		where = w.bare
	}
	for i := range done {
		s := slot(i)
		p := layout.SignatureLog(layout.CycleID(s), s)
		cmd := exec.Command("git", "cat-file", "-e", "main:"+p)
		cmd.Dir = where
		if err := cmd.Run(); err != nil {
			t.Errorf("slot %d was reported done but %s is not on main", i, p)
		}
	}
	// It resumes: one more cycle (and push), then the audit passes.
	r = testutil.OpenRepo(t, dir)
	ctx, unlock, err := r.Hold(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	opt := w.options(w.url, nil)
	if mode == "push" {
		if _, err := remote.Sync(ctx, r, opt); err != nil {
			t.Fatalf("sync after the kills: %v", err)
		}
	}
	if _, err := w.runCycle(ctx, r, next+10); err != nil {
		t.Fatalf("cycle after the kills: %v", err)
	}
	if mode == "push" {
		if _, err := remote.Push(ctx, r, opt); err != nil {
			t.Fatalf("push after the kills: %v", err)
		}
		if ref, _ := r.Ref(remote.RebuildRef); !ref.IsZero() {
			t.Error("rebuild ref left after a successful push")
		}
	}
	unlock()
	for _, repo := range []string{dir, w.bare} {
		if mode == "local" && repo == w.bare {
			continue
		}
		rep, err := audit.Verify(context.Background(), testutil.OpenRepo(t, repo), audit.Options{})
		if err != nil || !rep.Passed {
			t.Fatalf("audit of %s after the kills: %v %+v", filepath.Base(repo), err, rep)
		}
		t.Logf("%s: %d kills, %d cycles reported done, %d logs in %s", mode, kills, len(done), rep.LogsChecked, filepath.Base(repo))
	}
	if st := gitcli.Run(t, dir, "status", "--porcelain"); st != "" {
		t.Errorf("worktree after the kills and one more cycle:\n%s", st)
	}
}
