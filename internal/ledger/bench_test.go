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

func benchRepo(b *testing.B) (*Repo, string) {
	dir := filepath.Join(b.TempDir(), "bare.git")
	if d := os.Getenv("VIOS_BENCH_REPO"); d != "" {
		dir = d
	}
	r, err := InitBare(dir)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { r.Close() })
	return r, dir
}

// BenchmarkSignedCommit commits one cycle-shaped artifact per iteration,
// SSH-signed, through the object store into a bare repository.
func BenchmarkSignedCommit(b *testing.B) {
	gctune.Apply() // as the vios binary runs
	r, _ := benchRepo(b)
	signer, _ := sshSigner(b, "CODE", 1)
	ctx := context.Background()
	var parent plumbing.Hash
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		h, err := r.Apply(ctx, &Change{Subject: "cycle", Trailers: [][2]string{{"Vios-Artifact", "signature_log"}}, Files: artifact(i),
			Author: Person{"CODE", "code@vision-ios.agents"}, When: time.Unix(int64(1767225600+i*3600), 0).UTC(), Signer: signer, Parent: parent})
		if err != nil {
			b.Fatal(err)
		}
		parent = h
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "commits/s")
}

// BenchmarkCommitFlatness commits VIOS_BENCH_COMMITS (default 10,000)
// artifacts and reports the time per commit of the first and the last
// thousand, and their ratio: the cost of a commit must not grow with history.
// Both wall time and CPU time (user and system, all threads) are reported:
// on a shared machine the wall-time ratio also measures the neighbours.
func BenchmarkCommitFlatness(b *testing.B) {
	gctune.Apply() // as the vios binary runs
	n := 10000
	if v, err := strconv.Atoi(os.Getenv("VIOS_BENCH_COMMITS")); err == nil && v >= 2000 {
		n = v
	}
	for it := 0; it < b.N; it++ {
		r, _ := benchRepo(b)
		signer, _ := sshSigner(b, "CODE", 1)
		ctx := context.Background()
		var parent plumbing.Hash
		var first, last, firstCPU, lastCPU time.Duration
		start, startCPU := time.Now(), cputime.Self()
		for i := 0; i < n; i++ {
			if i == 1000 {
				first, firstCPU = time.Since(start), cputime.Self()-startCPU
			}
			if i == n-1000 {
				start, startCPU = time.Now(), cputime.Self()
			}
			h, err := r.Apply(ctx, &Change{Subject: "cycle", Files: artifact(i), Author: Person{"CODE", "code@vision-ios.agents"},
				When: time.Unix(int64(1767225600+i*3600), 0).UTC(), Signer: signer, Parent: parent})
			if err != nil {
				b.Fatal(err)
			}
			parent = h
		}
		last, lastCPU = time.Since(start), cputime.Self()-startCPU
		b.ReportMetric(float64(first.Microseconds())/1000/1000, "first1k-ms/commit")
		b.ReportMetric(float64(last.Microseconds())/1000/1000, "last1k-ms/commit")
		b.ReportMetric(float64(last)/float64(first), "last/first")
		if firstCPU > 0 {
			b.ReportMetric(float64(lastCPU)/float64(firstCPU), "cpu-last/first")
		}
	}
}
