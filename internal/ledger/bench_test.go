package ledger

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/vision-ios/vios/internal/gctune"
	"github.com/vision-ios/vios/internal/signing"
	"github.com/vision-ios/vios/internal/testutil/cputime"
)

// artifact returns files shaped like one cycle's commit: a signature log,
// an evidence bundle and the operational state, sharded by date. Their
// content compresses as a real cycle's does (about 3 times; repeated lines
// would compress 20 times and understate what a commit writes), and each
// commit's files are its own.
func artifact(i int) []File {
	slot := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Hour)
	day := slot.Format("2006/01/02")
	id := fmt.Sprintf("%016x", i)
	body := bodies[i%len(bodies)]
	head := fmt.Sprintf(`{"cycle_id":"%s"}`+"\n", id)
	return []File{
		{Path: "05_GOVERNANCE/SIGNATURE_AUDIT_LOGS/" + day + "/SIGNATURE_LOG_CYCLE_" + id + ".json", Data: []byte(head + body.log)},
		{Path: "05_GOVERNANCE/CYCLE_EVIDENCE/" + day + "/CYCLE_" + id + ".json", Data: []byte(head + body.evidence)},
		{Path: "05_GOVERNANCE/OPERATIONAL_STATE.json", Data: []byte(fmt.Sprintf(`{"cycles":%d}`, i))},
	}
}

// bodies are the contents artifacts draw on, made once so that a benchmark
// times committing them, not formatting them: a signature log of 40
// signatures and an evidence bundle of 400 random candles.
var bodies = func() (out [16]struct{ log, evidence string }) {
	rng := rand.New(rand.NewPCG(1, 2))
	for k := range out {
		var lb, eb strings.Builder
		for s := range 40 {
			fmt.Fprintf(&lb, `{"step":%d,"signature":"ed25519:%016x%016x%016x%016x"}`+"\n", s, rng.Uint64(), rng.Uint64(), rng.Uint64(), rng.Uint64())
		}
		for range 400 {
			fmt.Fprintf(&eb, `{"open":%.2f,"close":%.2f,"volume":%.4f}`+"\n", 40000+rng.Float64()*5000, 40000+rng.Float64()*5000, rng.Float64()*30000)
		}
		out[k].log, out[k].evidence = lb.String(), eb.String()
	}
	return out
}()

// BenchmarkSignedCommit commits one cycle-shaped artifact per iteration,
// SSH-signed, through the object store into a bare repository
// (VIOS_BENCH_REPO, to keep it, or a temporary one).
func BenchmarkSignedCommit(b *testing.B) {
	gctune.Apply() // as the vios binary runs
	repo := newBenchRepo(b, os.Getenv("VIOS_BENCH_REPO"))
	b.ResetTimer()
	startCPU := cputime.Self()
	for i := 0; i < b.N; i++ {
		repo.commit(b, i)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "commits/s")
	b.ReportMetric(float64((cputime.Self()-startCPU).Microseconds())/float64(b.N), "cpu-µs/commit")
}

// BenchmarkCommitFlatness measures whether the cost of a commit grows with
// history: the time per commit of the last 1,000 of VIOS_BENCH_COMMITS
// (default 10,000) against the first 1,000. Two repositories are used: one
// is first given all but its last 1,000 commits, then the fresh one's first
// 1,000 and the other's last 1,000 are committed alternately, so that both
// thousands run under the same conditions. On a shared machine the cost of
// file system calls drifts by half from one minute to the next; timed
// minutes apart, the two thousands would compare the minutes as much as
// the histories. Each repository still grows commit by commit exactly as
// it would alone. Both wall time and CPU time (user and system, all
// threads) are reported, and, for reference, the time per commit of the
// long history's first thousand, timed while it was built.
//
// Between building the long history and the timed thousands the benchmark
// waits (settle-s; VIOS_BENCH_SETTLE seconds, 0 for none). Building 9,000
// commits in seconds deletes some 27,000 files (a ref replaced on every
// commit, packs merged away), and ext4 without a journal, allocating an
// inode, steps over every inode freed in the last 2×dirty_expire_centisecs
// (60 s by default; recently_deleted in find_inode_bit): right after the
// build, creating a file in the long history's directories cost more than
// in the fresh one's, and the ratio measured that (1.13 and 1.28, against
// 1.03 and 0.98 after the wait, in alternated runs). A history grown over
// months carries no such minute.
func BenchmarkCommitFlatness(b *testing.B) {
	gctune.Apply() // as the vios binary runs
	n := 10000
	if v, err := strconv.Atoi(os.Getenv("VIOS_BENCH_COMMITS")); err == nil && v >= 2000 {
		n = v
	}
	const window = 1000
	for it := 0; it < b.N; it++ {
		fresh, long := newBenchRepo(b, ""), newBenchRepo(b, "")
		start := time.Now()
		for i := range n - window {
			if i == window {
				b.ReportMetric(float64(time.Since(start).Microseconds())/1000/window, "build-first1k-ms/commit")
			}
			long.commit(b, i)
		}
		settle := settleTime()
		time.Sleep(settle)
		b.ReportMetric(settle.Seconds(), "settle-s")
		for i := range window {
			// Alternate which goes first, so that neither always follows
			// the other's writes.
			if i%2 == 0 {
				fresh.timedCommit(b, i)
				long.timedCommit(b, n-window+i)
			} else {
				long.timedCommit(b, n-window+i)
				fresh.timedCommit(b, i)
			}
		}
		b.ReportMetric(float64(fresh.wall.Microseconds())/1000/window, "first1k-ms/commit")
		b.ReportMetric(float64(long.wall.Microseconds())/1000/window, "last1k-ms/commit")
		b.ReportMetric(float64(long.wall)/float64(fresh.wall), "last/first")
		if fresh.cpu > 0 {
			b.ReportMetric(float64(long.cpu)/float64(fresh.cpu), "cpu-last/first")
		}
	}
}

// settleTime is how long BenchmarkCommitFlatness waits after building the
// long history: VIOS_BENCH_SETTLE seconds, else, on Linux, 5 s more than
// the time for which ext4 avoids reusing a freed inode.
func settleTime() time.Duration {
	if v, err := strconv.Atoi(os.Getenv("VIOS_BENCH_SETTLE")); err == nil && v >= 0 {
		return time.Duration(v) * time.Second
	}
	b, err := os.ReadFile("/proc/sys/vm/dirty_expire_centisecs")
	if err != nil {
		return 0
	}
	cs, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || cs < 0 {
		return 0
	}
	return time.Duration(2*cs)*10*time.Millisecond + 5*time.Second
}

// benchRepo is a bare repository a benchmark commits artifacts to, with the
// time its timed commits took.
type benchRepo struct {
	r         *Repo
	signer    *signing.SSHSigner
	parent    plumbing.Hash
	wall, cpu time.Duration
}

// newBenchRepo initialises the repository at dir, or in a temporary
// directory when dir is empty.
func newBenchRepo(b *testing.B, dir string) *benchRepo {
	if dir == "" {
		dir = filepath.Join(b.TempDir(), "bare.git")
	}
	r, err := InitBare(dir)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { r.Close() })
	signer, _ := sshSigner(b, "CODE", 1)
	return &benchRepo{r: r, signer: signer}
}

// commit commits artifact i as a cycle commit, with its trailer.
func (f *benchRepo) commit(b *testing.B, i int) {
	h, err := f.r.Apply(context.Background(), &Change{Subject: "cycle", Trailers: [][2]string{{"Vios-Artifact", "signature_log"}}, Files: artifact(i),
		Author: Person{"CODE", "code@vision-ios.agents"}, When: time.Unix(int64(1767225600+i*3600), 0).UTC(), Signer: f.signer, Parent: f.parent})
	if err != nil {
		b.Fatal(err)
	}
	f.parent = h
}

// timedCommit commits artifact i and adds the time it took.
func (f *benchRepo) timedCommit(b *testing.B, i int) {
	start, startCPU := time.Now(), cputime.Self()
	f.commit(b, i)
	f.wall += time.Since(start)
	f.cpu += cputime.Self() - startCPU
}
