package sla_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/vision-ios/vios/internal/deviation"
	"github.com/vision-ios/vios/internal/gov"
	"github.com/vision-ios/vios/internal/layout"
	"github.com/vision-ios/vios/internal/ledger"
	"github.com/vision-ios/vios/internal/policy"
	"github.com/vision-ios/vios/internal/signing"
	"github.com/vision-ios/vios/internal/sla"
	"github.com/vision-ios/vios/internal/testutil"
)

// detected is when the test deviations are detected.
var detected = testutil.Epoch.Add(10 * time.Hour)

type env struct {
	r       *ledger.Repo
	signers map[string]*signing.Signer
	pol     *policy.Set
}

func newEnv(tb testing.TB) *env {
	tb.Helper()
	e := &env{signers: testutil.Signers(tb, "sla")}
	r, err := ledger.Open(testutil.InitRepo(tb, e.signers))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { r.Close() })
	e.r = r
	snap, err := gov.Load(r)
	if err != nil {
		tb.Fatal(err)
	}
	e.pol = snap.Policy
	return e
}

// open commits n deviations of type typ detected at t, signed by CODE.
func (e *env) open(tb testing.TB, typ string, n int, t time.Time) []*deviation.Record {
	tb.Helper()
	var recs []*deviation.Record
	var files []ledger.File
	for i := 0; i < n; i++ {
		d, err := deviation.New(e.pol, typ, fmt.Sprintf("T%05d", i), "", "test deviation", t)
		if err != nil {
			tb.Fatal(err)
		}
		recs = append(recs, d)
		files = append(files, ledger.File{Path: d.Path(), Data: d.Marshal()})
	}
	e.commit(tb, "CODE", t, files...)
	return recs
}

func (e *env) commit(tb testing.TB, agent string, t time.Time, files ...ledger.File) plumbing.Hash {
	tb.Helper()
	head, err := e.r.Head()
	if err != nil {
		tb.Fatal(err)
	}
	ssh, err := e.signers[agent].SSH()
	if err != nil {
		tb.Fatal(err)
	}
	h, err := e.r.Apply(context.Background(), &ledger.Change{Subject: "test", Files: files, Author: gov.Author(agent), When: t, Signer: ssh, Parent: head})
	if err != nil {
		tb.Fatal(err)
	}
	return h
}

func (e *env) tick(tb testing.TB, sinks []sla.Sink, at time.Time) *sla.TickReport {
	tb.Helper()
	rep, err := sla.Tick(context.Background(), e.r, e.signers["CODE"], sinks, at)
	if err != nil {
		tb.Fatal(err)
	}
	return rep
}

func (e *env) record(tb testing.TB, id string) *deviation.Record {
	tb.Helper()
	data, err := e.r.HeadFile(layout.Deviations + "/" + id + ".json")
	if err != nil {
		tb.Fatal(err)
	}
	d, err := deviation.Parse(data)
	if err != nil {
		tb.Fatal(err)
	}
	return d
}

// types lists the event types of a record's history.
func types(d *deviation.Record) []string {
	var out []string
	for _, e := range d.Events {
		out = append(out, e.Type)
	}
	return out
}

// fakeSink records what it is sent; it fails while fail is set.
type fakeSink struct {
	name string
	mu   sync.Mutex
	fail error
	got  []sent
}

type sent struct {
	id, event string
	index     int
	ref       string
}

func (f *fakeSink) Name() string { return f.name }

func (f *fakeSink) Send(_ context.Context, n *sla.Notification) (sla.Receipt, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return sla.Receipt{Attempts: 1}, f.fail
	}
	f.got = append(f.got, sent{n.Deviation.ID, n.Event.Type, n.Index, n.Ref})
	return sla.Receipt{Attempts: 1, Ref: "ref-" + n.Deviation.ID}, nil
}

func (f *fakeSink) setFail(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail = err
}

func (f *fakeSink) sent() []sent {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]sent(nil), f.got...)
}

var errDown = errors.New("receiver down")
