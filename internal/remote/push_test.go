package remote_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vision-ios/vios/internal/remote"
)

// concurrency returns the writers × cycles of the concurrent push tests:
// 3 × 3 by default; the acceptance run, 8 × 25, with VIOS_PUSH_FULL=1
// (minutes here: every push runs git-receive-pack, four processes, and
// lost races redo the work); VIOS_PUSH_WRITERS and VIOS_PUSH_CYCLES set
// other sizes.
func concurrency(t testing.TB) (writers, cycles int) {
	writers, cycles = 3, 3
	if os.Getenv("VIOS_PUSH_FULL") == "1" {
		writers, cycles = 8, 25
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
			writers, cycles := concurrency(t)
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
	if st := gitCmd(t, bdir, "status", "--porcelain", "--untracked-files=all"); st != "" {
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
	if st := gitCmd(t, bdir, "status", "--porcelain", "--untracked-files=all"); st != "" {
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
