package remote_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vision-ios/vios/internal/remote"
	"github.com/vision-ios/vios/internal/testutil/gitcli"
)

// concurrency returns the writers × cycles of the concurrent push test
// over a transport: the acceptance size, 8 × 25, by default. On 2 cores
// that takes about 6 s over file:// (vios writes the remote in-process) and
// 45 s through git http-backend, which starts git programs for every
// request. The race detector (make test, CI) slows the writers' side
// several times, which http cannot afford: there it runs 8 × 5 unless
// VIOS_PUSH_FULL=1. VIOS_PUSH_WRITERS and VIOS_PUSH_CYCLES set other sizes.
func concurrency(transport string) (writers, cycles int) {
	writers, cycles = 8, 25
	if transport == "http" && raceEnabled && os.Getenv("VIOS_PUSH_FULL") != "1" {
		cycles = 5
	}
	if v, err := strconv.Atoi(os.Getenv("VIOS_PUSH_WRITERS")); err == nil && v > 0 {
		writers = v
	}
	if v, err := strconv.Atoi(os.Getenv("VIOS_PUSH_CYCLES")); err == nil && v > 0 {
		cycles = v
	}
	return writers, cycles
}

// TestConcurrentPush: writers, each with its own clone, run cycles with
// distinct slots and push after each one (fetching first, like
// `cycle run --push`) to one bare repository, over file:// and over git
// http-backend. At the end the remote holds every cycle exactly once, its
// history is linear, stock git accepts every commit signature, and the
// audit (lineage chain included) passes.
func TestConcurrentPush(t *testing.T) {
	t.Parallel()
	for _, overHTTP := range []bool{false, true} {
		name := "file"
		if overHTTP {
			name = "http"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			writers, cycles := concurrency(name)
			w := newWorld(t, overHTTP)
			start := time.Now()
			var rebuilt, attempts atomic.Int64
			var wg sync.WaitGroup
			errs := make(chan error, writers)
			for k := 0; k < writers; k++ {
				r, _ := w.clone(t)
				wg.Add(1)
				go func() {
					defer wg.Done()
					ctx := context.Background()
					opt := w.options(w.url, nil)
					for i := 0; i < cycles; i++ {
						hctx, unlock, err := r.Hold(ctx)
						if err != nil {
							errs <- err
							return
						}
						if _, err := remote.Sync(hctx, r, opt); err != nil {
							unlock()
							errs <- fmt.Errorf("writer %d sync: %w", k, err)
							return
						}
						if _, err := w.runCycle(hctx, r, 1+k*cycles+i); err != nil {
							unlock()
							errs <- fmt.Errorf("writer %d cycle %d: %w", k, i, err)
							return
						}
						res, err := remote.Push(hctx, r, opt)
						unlock()
						if err != nil {
							errs <- fmt.Errorf("writer %d push %d: %w", k, i, err)
							return
						}
						rebuilt.Add(int64(res.Rebuilt))
						attempts.Add(int64(res.Attempts))
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			d := time.Since(start)
			t.Logf("%d writers × %d cycles over %s: %v (%.1f commits/s landed), %d cycles re-created, %d push attempts",
				writers, cycles, name, d.Round(time.Millisecond), float64(writers*cycles)/d.Seconds(), rebuilt.Load(), attempts.Load())
			verifyRemote(t, w.bare, writers*cycles)
		})
	}
}

// TestPushFastForwardAndSync: a writer behind the remote fast-forwards on
// Sync with its worktree and index in step; pushing when up to date does
// nothing.
func TestPushFastForwardAndSync(t *testing.T) {
	w := newWorld(t, false)
	a, _ := w.clone(t)
	b, bdir := w.clone(t)
	ctx := context.Background()
	opt := w.options(w.url, nil)
	for i := 1; i <= 3; i++ {
		if _, err := w.runCycle(ctx, a, i); err != nil {
			t.Fatal(err)
		}
	}
	res, err := remote.Push(ctx, a, opt)
	if err != nil || res.Pushed != 3 || res.Rebuilt != 0 {
		t.Fatalf("push: %+v, %v", res, err)
	}
	res, err = remote.Sync(ctx, b, opt)
	if err != nil || res.FastForwarded != 3 {
		t.Fatalf("sync: %+v, %v", res, err)
	}
	if ha, _ := a.Head(); func() bool { hb, _ := b.Head(); return ha != hb }() {
		t.Fatal("b did not reach a's tip")
	}
	if st := gitcli.Run(t, bdir, "status", "--porcelain", "--untracked-files=all"); st != "" {
		t.Fatalf("worktree after sync:\n%s", st)
	}
	res, err = remote.Push(ctx, b, opt)
	if err != nil || res.Pushed != 0 {
		t.Fatalf("push when up to date: %+v, %v", res, err)
	}
	verifyRemote(t, w.bare, 3)
}

// TestPushRebuildsCyclesOnNewTip: two writers run cycles on the same tip;
// the second push re-runs its cycles on the first writer's, so the chain
// links through both.
func TestPushRebuildsCyclesOnNewTip(t *testing.T) {
	w := newWorld(t, false)
	a, _ := w.clone(t)
	b, bdir := w.clone(t)
	ctx := context.Background()
	opt := w.options(w.url, nil)
	for i := 1; i <= 2; i++ {
		if _, err := w.runCycle(ctx, a, i); err != nil {
			t.Fatal(err)
		}
		if _, err := w.runCycle(ctx, b, 10+i); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := remote.Push(ctx, a, opt); err != nil {
		t.Fatal(err)
	}
	res, err := remote.Push(ctx, b, opt)
	if err != nil || res.Rebuilt != 2 || res.Pushed != 2 {
		t.Fatalf("push b: %+v, %v", res, err)
	}
	if ref, _ := b.Ref(remote.RebuildRef); !ref.IsZero() {
		t.Fatal("rebuild ref left behind")
	}
	if st := gitcli.Run(t, bdir, "status", "--porcelain", "--untracked-files=all"); st != "" {
		t.Fatalf("worktree after rebuild:\n%s", st)
	}
	verifyRemote(t, w.bare, 4)
	// Pushing b again, and a after syncing, changes nothing.
	if res, err := remote.Push(ctx, a, opt); err != nil || res.Pushed != 0 || res.FastForwarded != 0 && res.Rebuilt != 0 {
		t.Fatalf("push a again: %+v, %v", res, err)
	}
}

// TestPushUnknownRemote: a remote name that is not configured, or a
// scheme that is not supported, is bad input.
func TestPushUnknownRemote(t *testing.T) {
	w := newWorld(t, false)
	a, _ := w.clone(t)
	for _, rem := range []string{"origin", "ssh://example.com/x.git", "a b"} {
		_, err := remote.Push(context.Background(), a, remote.Options{Remote: rem})
		if err == nil || errors.Is(err, remote.ErrRejected) {
			t.Errorf("remote %q: %v", rem, err)
		}
	}
}

// TestFileRemoteInProcess: a plain bare file:// remote is written by vios
// itself (one pack per push, the branch moved under the remote's vios
// lock; no git-receive-pack, which would leave loose objects); a remote
// with a receive hook goes through git-receive-pack, so the hook runs.
func TestFileRemoteInProcess(t *testing.T) {
	w := newWorld(t, false)
	ctx := context.Background()
	opt := w.options(w.url, nil)
	a, _ := w.clone(t)
	if _, err := w.runCycle(ctx, a, 1); err != nil {
		t.Fatal(err)
	}
	if res, err := remote.Push(ctx, a, opt); err != nil || res.Pushed != 1 {
		t.Fatalf("push: %+v, %v", res, err)
	}
	loose, _ := filepath.Glob(filepath.Join(w.bare, "objects", "[0-9a-f][0-9a-f]", "*"))
	if len(loose) != 0 {
		t.Fatalf("%d loose objects on the remote: pushed through git-receive-pack", len(loose))
	}
	if _, err := os.Stat(filepath.Join(w.bare, "vios.lock")); err != nil {
		t.Fatalf("the remote's vios lock was not taken: %v", err)
	}

	marker := filepath.Join(t.TempDir(), "hook-ran")
	hook := filepath.Join(w.bare, "hooks", "post-receive")
	if err := os.WriteFile(hook, []byte("#!/bin/sh\ntouch '"+marker+"'\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := w.runCycle(ctx, a, 2); err != nil {
		t.Fatal(err)
	}
	if res, err := remote.Push(ctx, a, opt); err != nil || res.Pushed != 1 {
		t.Fatalf("push with a hook: %+v, %v", res, err)
	}
	if _, err := os.Stat(marker); err != nil {
		t.Fatal("the post-receive hook did not run: the push did not go through git-receive-pack")
	}
	verifyRemote(t, w.bare, 2)
}
