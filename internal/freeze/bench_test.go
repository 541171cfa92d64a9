package freeze

import (
	"context"
	"fmt"
	"testing"

	"github.com/vision-ios/vios/internal/gctune"
	"github.com/vision-ios/vios/internal/gov"
	"github.com/vision-ios/vios/internal/ledger"
	"github.com/vision-ios/vios/internal/testutil"
)

// BenchmarkFreezeCheck: a 5,000-file tree (50 day shards of 100 evidence
// files) and a head with 50 changed files, one per shard, all of them
// violations; each iteration opens the repository and checks head against
// its parent, as `vios freeze check --baseline HEAD~1` does. Compare with
// `git diff --name-status` in scripts/bench-git.sh.
func BenchmarkFreezeCheck(b *testing.B) {
	gctune.Apply() // as the vios binary runs
	const shards, perShard = 50, 100
	signers := testutil.Signers(b, "freeze-bench")
	dir := testutil.InitRepo(b, signers)
	r, err := ledger.Open(dir)
	if err != nil {
		b.Fatal(err)
	}
	ssh, _ := signers["CODE"].SSH()
	head, _ := r.Head()
	path := func(s, i int) string {
		return fmt.Sprintf("05_GOVERNANCE/CYCLE_EVIDENCE/2026/%02d/%02d/CYCLE_%016x.json", 1+s/28, 1+s%28, s*perShard+i)
	}
	commit := func(subject string, files []ledger.File) {
		var err error
		head, err = r.Apply(context.Background(), &ledger.Change{Subject: subject, Files: files, Author: gov.Author("CODE"), When: testutil.Epoch, Signer: ssh, Parent: head})
		if err != nil {
			b.Fatal(err)
		}
	}
	var files []ledger.File
	for s := range shards {
		for i := range perShard {
			files = append(files, ledger.File{Path: path(s, i), Data: fmt.Appendf(nil, "{\"cycle\": %d}\n", s*perShard+i)})
		}
	}
	commit("5,000 evidence files", files)
	files = files[:0]
	for s := range shards {
		files = append(files, ledger.File{Path: path(s, 7), Data: []byte("{\"edited\": true}\n")})
	}
	commit("50 edits", files)
	r.Close()

	b.ResetTimer()
	for b.Loop() {
		r, err := ledger.Open(dir)
		if err != nil {
			b.Fatal(err)
		}
		rep, err := Check(context.Background(), r, Options{Base: "HEAD~1", Head: "HEAD"})
		r.Close()
		if err != nil {
			b.Fatal(err)
		}
		if len(rep.Violations) != shards {
			b.Fatalf("%d violations, want %d", len(rep.Violations), shards)
		}
	}
}
