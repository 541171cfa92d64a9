package sla

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/vision-ios/vios/internal/deviation"
	"github.com/vision-ios/vios/internal/gctune"
	"github.com/vision-ios/vios/internal/gov"
	"github.com/vision-ios/vios/internal/ledger"
	"github.com/vision-ios/vios/internal/signing"
	"github.com/vision-ios/vios/internal/testutil"
)

type nullSink struct{ n int }

func (s *nullSink) Name() string { return "null" }
func (s *nullSink) Send(context.Context, *Notification) (Receipt, error) {
	s.n++
	return Receipt{Attempts: 1}, nil
}

// BenchmarkTick is one tick over 1,000 open deviations with faked sinks
// (no network): every deviation owes its investigation start and its
// first status update, so each tick appends and sends 2,000 events and
// commits 1,000 records. On a bare repository (a server's or `vios serve`'s
// clone): "warm" keeps the records cached by blob between ticks as `vios
// serve` does, "cold" is a fresh cron `sla tick` process, "idle" is a tick
// with nothing due. "worktree" is "warm" on a repository with a checked-out
// worktree, where the ledger also rewrites the 1,000 files on disk.
func BenchmarkTick(b *testing.B) {
	gctune.Apply() // as the vios binary runs
	const n = 1000
	at := testutil.Epoch.Add(time.Hour)
	due := at.Add(30 * time.Minute)
	type fixture struct {
		r     *ledger.Repo
		code  *signing.Signer
		sinks []Sink
		reset func()
	}
	setup := func(b *testing.B, bare bool) *fixture {
		signers := testutil.Signers(b, "bench")
		dir := testutil.InitRepo(b, signers)
		if bare {
			dir += "/.git"
		}
		r, err := ledger.Open(dir)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { r.Close() })
		snap, err := gov.Load(r)
		if err != nil {
			b.Fatal(err)
		}
		files := make([]ledger.File, 0, n)
		for i := 0; i < n; i++ {
			d, err := deviation.New(snap.Policy, deviation.CostCeiling, fmt.Sprintf("%016x", i), "", "bench", at)
			if err != nil {
				b.Fatal(err)
			}
			files = append(files, ledger.File{Path: d.Path(), Data: d.Marshal()})
		}
		ssh, _ := signers["CODE"].SSH()
		if _, err := r.Apply(context.Background(), &ledger.Change{Subject: "bench", Files: files, Author: gov.Author("CODE"), When: at, Signer: ssh, Parent: snap.Commit}); err != nil {
			b.Fatal(err)
		}
		f := &fixture{r: r, code: signers["CODE"], sinks: []Sink{&nullSink{}}}
		// The alerts went out at detection.
		if _, err := Tick(context.Background(), r, f.code, f.sinks, at.Add(time.Minute)); err != nil {
			b.Fatal(err)
		}
		base, _ := r.Head()
		branch := plumbing.NewBranchReferenceName(ledger.DefaultBranch)
		f.reset = func() {
			if err := r.Git.Storer.SetReference(plumbing.NewHashReference(branch, base)); err != nil {
				b.Fatal(err)
			}
		}
		return f
	}
	run := func(b *testing.B, f *fixture, now time.Time, want int, before func()) {
		for b.Loop() {
			b.StopTimer()
			f.reset()
			if before != nil {
				before()
			}
			b.StartTimer()
			rep, err := Tick(context.Background(), f.r, f.code, f.sinks, now)
			if err != nil {
				b.Fatal(err)
			}
			if len(rep.Events) != 2*want || rep.Changed != want {
				b.Fatalf("tick appended %d events to %d records", len(rep.Events), rep.Changed)
			}
		}
		b.ReportMetric(float64(n), "deviations")
	}
	bare := setup(b, true)
	b.Run("warm", func(b *testing.B) { run(b, bare, due, n, nil) })
	b.Run("cold", func(b *testing.B) {
		run(b, bare, due, n, deviation.ForgetParsed)
	})
	b.Run("idle", func(b *testing.B) { run(b, bare, at.Add(2*time.Minute), 0, nil) })
	b.Run("worktree", func(b *testing.B) { run(b, setup(b, false), due, n, nil) })
}
