package remote_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/vision-ios/vios/internal/gctune"
	"github.com/vision-ios/vios/internal/ledger"
	"github.com/vision-ios/vios/internal/remote"
)

// BenchmarkConcurrentPush measures how many commits per second land on a
// shared bare repository, over file:// and through git http-backend, when
// 1, 2, 4 or 8 writers (each on its own clone) run a cycle and push it,
// fetching first, b.N cycles per writer. It reports commits/s landed, and
// push attempts and re-created cycles per landed commit.
//
//	go test -run '^$' -bench ConcurrentPush -benchtime 10x ./internal/remote
func BenchmarkConcurrentPush(b *testing.B) {
	gctune.Apply() // as the vios binary runs
	for _, tc := range []struct {
		transport string
		writers   int
	}{{"file", 1}, {"file", 2}, {"file", 4}, {"file", 8}, {"http", 1}, {"http", 2}, {"http", 4}, {"http", 8}} {
		writers := tc.writers
		b.Run(fmt.Sprintf("%s/writers=%d", tc.transport, writers), func(b *testing.B) {
			w := newWorld(b, tc.transport == "http")
			repos := make([]*ledger.Repo, writers)
			for k := range repos {
				repos[k], _ = w.clone(b)
			}
			var mu sync.Mutex
			var attempts, rebuilt int
			var phases [3]time.Duration
			b.ResetTimer()
			start := time.Now()
			var wg sync.WaitGroup
			for k, r := range repos {
				wg.Add(1)
				go func() {
					defer wg.Done()
					ctx := context.Background()
					opt := w.options(w.url, nil)
					for i := 0; i < b.N; i++ {
						t0 := time.Now()
						hctx, unlock, err := r.Hold(ctx)
						if err != nil {
							b.Error(err)
							return
						}
						if _, err := remote.Sync(hctx, r, opt); err != nil {
							unlock()
							b.Error(err)
							return
						}
						t1 := time.Now()
						if _, err := w.runCycle(hctx, r, 1+k*b.N+i); err != nil {
							unlock()
							b.Error(err)
							return
						}
						t2 := time.Now()
						res, err := remote.Push(hctx, r, opt)
						unlock()
						if err != nil {
							b.Error(err)
							return
						}
						t3 := time.Now()
						mu.Lock()
						attempts += res.Attempts
						rebuilt += res.Rebuilt
						phases[0] += t1.Sub(t0)
						phases[1] += t2.Sub(t1)
						phases[2] += t3.Sub(t2)
						mu.Unlock()
					}
				}()
			}
			wg.Wait()
			d := time.Since(start)
			b.StopTimer()
			n := float64(writers * b.N)
			b.ReportMetric(n/d.Seconds(), "commits/s")
			b.ReportMetric(float64(attempts)/n, "attempts/commit")
			b.ReportMetric(float64(rebuilt)/n, "rebuilt/commit")
			b.Logf("%s writers=%d n=%d: per landed commit: sync %v, cycle %v, push (with retries) %v", tc.transport, writers, b.N, phases[0]/time.Duration(n), phases[1]/time.Duration(n), phases[2]/time.Duration(n))
		})
	}
}
