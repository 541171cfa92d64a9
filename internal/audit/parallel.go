package audit

import (
	"context"
	"sync"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/vision-ios/vios/internal/gov"
	"github.com/vision-ios/vios/internal/ledger"
	"github.com/vision-ios/vios/internal/signing"
)

// checkAll checks every commit of the chain on workers goroutines, or
// returns the context's error if it ends first. A repository handle is not
// safe for concurrent use, so each worker reads through its own: the first
// through r, which Verify leaves alone meanwhile, the others through
// handles they open.
func checkAll(ctx context.Context, r *ledger.Repo, snap *gov.Snapshot, chain []link, workers int, oneByOne bool) ([]commitResult, error) {
	results := make([]commitResult, len(chain))
	q := &runQueue{n: len(chain), workers: workers}
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			wr := r
			if w > 0 {
				var err error
				if wr, err = ledger.Open(repoPath(r)); err != nil {
					errs[w] = err
					return
				}
				defer wr.Close()
			}
			c := &checker{r: wr, pol: snap.Policy, reg: snap.Registry, trees: map[plumbing.Hash][]object.TreeEntry{},
				blobBuf: make([]byte, 0, blobRoom), batch: signing.NewBatch(batchSigs + batchSlack), oneByOne: oneByOne}
			for lo, hi, ok := q.take(); ok; lo, hi, ok = q.take() {
				c.run(ctx, chain, lo, hi, results)
			}
			c.flush(chain, results)
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return results, ctx.Err()
}

// blobRoom is the initial room of a worker's blob buffer: enough for an
// evidence bundle (some 30 KB), the largest blob a cycle commits, so that
// the buffer does not grow bundle by bundle.
const blobRoom = 64 << 10

// Bounds of a run of commits handed to a worker.
const (
	minRun = 8
	maxRun = 64
)

// runQueue hands out contiguous runs of history, so that the trees a
// commit shares with its parent are already decoded in the worker's cache.
// Each run is a share of what is left (guided scheduling): long runs
// first, shorter ones towards the end, so that no worker idles long while
// another finishes.
type runQueue struct {
	mu      sync.Mutex
	next, n int
	workers int
}

// take returns the next run [lo, hi), or false when none is left.
func (q *runQueue) take() (lo, hi int, ok bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.next >= q.n {
		return 0, 0, false
	}
	size := min(max((q.n-q.next)/(2*q.workers), minRun), maxRun)
	lo, hi = q.next, min(q.next+size, q.n)
	q.next = hi
	return lo, hi, true
}

// batchSigs is how many signatures a worker gathers before verifying
// them as a batch: past a few hundred a batch gains little per signature,
// and a batch that fails costs one-by-one verification of all it holds.
const batchSigs = 256

// batchSlack is room for the signatures of the commit that fills a batch.
const batchSlack = 32

// run checks chain[lo:hi] into results, leaving the Ed25519 equations of
// their signatures to the worker's batch, verified whenever it is full and
// at the end (flush).
func (c *checker) run(ctx context.Context, chain []link, lo, hi int, results []commitResult) {
	for i := lo; i < hi && ctx.Err() == nil; i++ {
		if c.oneByOne {
			results[i] = c.alone(chain[i], prevLink(chain, i))
			continue
		}
		results[i] = c.commit(chain[i], prevLink(chain, i))
		for len(c.owners) < c.batch.Len() {
			c.owners = append(c.owners, i)
		}
		if c.batch.Len() >= batchSigs {
			c.flush(chain, results)
		}
	}
}

// flush verifies the batch. A commit owning a signature that it finds bad
// is checked again with every signature verified on its own (sigstore,
// sshsig), so the findings reported are those of one-by-one verification.
func (c *checker) flush(chain []link, results []commitResult) {
	rechecked := -1
	for _, k := range c.batch.Verify() {
		if i := c.owners[k]; i != rechecked {
			rechecked = i
			results[i] = c.alone(chain[i], prevLink(chain, i))
		}
	}
	c.owners = c.owners[:0]
}

// alone checks a commit verifying each of its signatures on its own.
func (c *checker) alone(l, prev link) commitResult {
	b := c.batch
	c.batch = nil
	defer func() { c.batch = b }()
	return c.commit(l, prev)
}

// prevLink is the commit before chain[i], the zero link for the root.
func prevLink(chain []link, i int) link {
	if i == 0 {
		return link{}
	}
	return chain[i-1]
}
