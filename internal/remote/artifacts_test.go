package remote_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/vision-ios/vios/internal/gov"
	"github.com/vision-ios/vios/internal/layout"
	"github.com/vision-ios/vios/internal/ledger"
	"github.com/vision-ios/vios/internal/remote"
	"github.com/vision-ios/vios/internal/state"
	"github.com/vision-ios/vios/internal/testutil"
	"github.com/vision-ios/vios/internal/testutil/gitcli"
)

// commitFiles commits files on r's HEAD signed by agent, as an artifact
// of kind.
func (w *world) commitFiles(t *testing.T, r *ledger.Repo, agent, kind string, files ...ledger.File) plumbing.Hash {
	t.Helper()
	head, err := r.Head()
	if err != nil {
		t.Fatal(err)
	}
	ssh, err := w.signers[agent].SSH()
	if err != nil {
		t.Fatal(err)
	}
	h, err := r.Apply(context.Background(), &ledger.Change{
		Subject: kind + " by " + agent, Body: "A test artifact.",
		Trailers: [][2]string{{"Vios-Artifact", kind}, {"Vios-Agent", agent}, {"Vios-Baseline", "v1.0"}},
		Files:    files, Author: gov.Author(agent), When: testutil.Epoch.Add(48 * time.Hour), Signer: ssh, Parent: head,
	})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// transition returns HEAD's state moved to mode.
func transition(t *testing.T, r *ledger.Repo, mode, why string) []byte {
	t.Helper()
	data, err := r.HeadFile(layout.StateFile)
	if err != nil {
		t.Fatal(err)
	}
	st, err := state.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	st.Transition(mode, why, "CODE", testutil.Epoch.Add(48*time.Hour))
	return st.Marshal()
}

const report = layout.CostReports + "/COST_REPORT_2026_11_01.json"

// TestPushReappliesArtifacts: commits that only add files (a cost report, an
// attestation by VEGA) and a state transition are re-applied on a remote
// that moved, signed again by the agent of their Vios-Agent trailer, the
// state merged field by field; the same file with other content is a
// conflict naming it, and leaves the local branch as it was.
func TestPushReappliesArtifacts(t *testing.T) {
	w := newWorld(t, false)
	ctx := context.Background()
	opt := w.options(w.url, nil)
	a, _ := w.clone(t)
	b, bdir := w.clone(t)
	c, _ := w.clone(t)
	d, _ := w.clone(t)

	// a: a cycle and a cost report, pushed first.
	if _, err := w.runCycle(ctx, a, 1); err != nil {
		t.Fatal(err)
	}
	w.commitFiles(t, a, "CODE", "cost_report", ledger.File{Path: report, Data: []byte(`{"report_date":"2026-11-01"}` + "\n")})
	if _, err := remote.Push(ctx, a, opt); err != nil {
		t.Fatal(err)
	}

	// b: an attestation by VEGA and a PAUSED transition with a deviation,
	// made on the old tip.
	w.commitFiles(t, b, "VEGA", "vega_attestation", ledger.File{Path: layout.Attestations + "/VEGA_ATTESTATION_2026_11_08.md", Data: []byte("# VEGA\n")})
	w.commitFiles(t, b, "CODE", "operational_state",
		ledger.File{Path: layout.StateFile, Data: transition(t, b, state.Paused, "attestation FAIL")},
		ledger.File{Path: layout.Deviations + "/DEV-adr_compliance_failure-ATTEST-20261108.json", Data: []byte("{}\n")})
	res, err := remote.Push(ctx, b, opt)
	if err != nil || res.Rebuilt != 2 || res.Pushed != 2 {
		t.Fatalf("push b: %+v, %v", res, err)
	}
	verifyRemote(t, w.bare, 1)
	if st := gitcli.Run(t, bdir, "status", "--porcelain", "--untracked-files=all"); st != "" {
		t.Fatalf("b's worktree:\n%s", st)
	}
	// The attestation is still VEGA's, the state carries both sides.
	if got := strings.TrimSpace(gitcli.Run(t, w.bare, "log", "-1", "--skip=1", "--format=%an|%s|%(trailers:key=Vios-Agent,valueonly)", "main")); got != "VEGA|vega_attestation by VEGA|VEGA" {
		t.Fatalf("re-applied attestation: %q", got)
	}
	data, err := b.HeadFile(layout.StateFile)
	if err != nil {
		t.Fatal(err)
	}
	st, err := state.Parse(data)
	if err != nil || st.State != state.Paused || st.CyclesRecorded != 1 || st.LastLineageHash == nil {
		t.Fatalf("merged state %+v, %v", st, err)
	}

	// c: the same report path with other content: a conflict, nothing lost.
	ch := w.commitFiles(t, c, "CODE", "cost_report", ledger.File{Path: report, Data: []byte(`{"report_date":"2026-11-01","other":1}` + "\n")})
	_, err = remote.Push(ctx, c, opt)
	var ce *remote.ConflictError
	if !errors.As(err, &ce) || ce.Path != report || !strings.Contains(err.Error(), report) {
		t.Fatalf("conflicting report: %v", err)
	}
	if h, _ := c.Head(); h != ch {
		t.Fatalf("c's branch moved after a conflict: %s, want %s", h, ch)
	}
	if ref, _ := c.Ref(remote.RebuildRef); !ref.IsZero() {
		t.Fatal("rebuild ref left behind after a conflict")
	}

	// d: the same report with the same content: dropped, nothing to push.
	w.commitFiles(t, d, "CODE", "cost_report", ledger.File{Path: report, Data: []byte(`{"report_date":"2026-11-01"}` + "\n")})
	res, err = remote.Push(ctx, d, opt)
	if err != nil || res.Pushed != 0 {
		t.Fatalf("push of an artifact the remote has: %+v, %v", res, err)
	}
	verifyRemote(t, w.bare, 1)
}

// TestPushSetsAsideCyclesOnAHaltedRemote: a cycle cannot be re-created on
// a remote that is PAUSED meanwhile; it is kept under refs/vios/set-aside/
// and the push reports it as a governance failure instead of pushing it.
func TestPushSetsAsideCyclesOnAHaltedRemote(t *testing.T) {
	w := newWorld(t, false)
	ctx := context.Background()
	opt := w.options(w.url, nil)
	inner := opt.Rebuilders["signature_log"]
	opt.Rebuilders["signature_log"] = func(ctx context.Context, r *ledger.Repo, old *object.Commit) error {
		err := inner(ctx, r, old)
		if errors.Is(err, state.ErrPaused) {
			return errors.Join(remote.ErrSetAside, err)
		}
		return err
	}
	a, _ := w.clone(t)
	b, _ := w.clone(t)
	w.commitFiles(t, a, "CODE", "operational_state", ledger.File{Path: layout.StateFile, Data: transition(t, a, state.Paused, "paused")})
	if _, err := remote.Push(ctx, a, opt); err != nil {
		t.Fatal(err)
	}
	cb, err := w.runCycle(ctx, b, 1)
	if err != nil {
		t.Fatal(err)
	}
	res, err := remote.Push(ctx, b, opt)
	if !errors.Is(err, remote.ErrSetAside) || len(res.SetAside) != 1 {
		t.Fatalf("push onto a paused remote: %+v, %v", res, err)
	}
	if ref, _ := b.Ref(plumbing.ReferenceName(res.SetAside[0].Ref)); ref != cb.Commit {
		t.Fatalf("set-aside ref holds %s, want the cycle commit %s", ref, cb.Commit)
	}
	verifyRemote(t, w.bare, 0)
}

// TestPushRejectedByHookStopsAtOnce: a refusal at a tip that did not move
// (here a pre-receive hook) is not retried.
func TestPushRejectedByHookStopsAtOnce(t *testing.T) {
	w := newWorld(t, false)
	hook := filepath.Join(w.bare, "hooks", "pre-receive")
	if err := os.WriteFile(hook, []byte("#!/bin/sh\necho no pushes today >&2\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	a, _ := w.clone(t)
	if _, err := w.runCycle(context.Background(), a, 1); err != nil {
		t.Fatal(err)
	}
	res, err := remote.Push(context.Background(), a, w.options(w.url, nil))
	if !errors.Is(err, remote.ErrRejected) || res.Attempts != 2 {
		t.Fatalf("push refused by a hook: %+v, %v", res, err)
	}
}

// TestPushResumesAfterCrashMidRebuild: a process that dies while
// re-creating its commits (here: its goroutine exits half-way) leaves the
// old tip under refs/vios/rebuild; the next push finishes the job without
// losing or duplicating a cycle.
func TestPushResumesAfterCrashMidRebuild(t *testing.T) {
	w := newWorld(t, false)
	ctx := context.Background()
	a, _ := w.clone(t)
	b, _ := w.clone(t)
	if _, err := w.runCycle(ctx, a, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := remote.Push(ctx, a, w.options(w.url, nil)); err != nil {
		t.Fatal(err)
	}
	for i := 2; i <= 4; i++ {
		if _, err := w.runCycle(ctx, b, i); err != nil {
			t.Fatal(err)
		}
	}
	dying := w.options(w.url, nil)
	inner := dying.Rebuilders["signature_log"]
	calls := 0
	dying.Rebuilders["signature_log"] = func(ctx context.Context, r *ledger.Repo, old *object.Commit) error {
		if calls++; calls == 2 {
			runtime.Goexit() // killed after re-creating one cycle
		}
		return inner(ctx, r, old)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		remote.Push(ctx, b, dying)
	}()
	<-done
	if ref, _ := b.Ref(remote.RebuildRef); ref.IsZero() {
		t.Fatal("no rebuild ref after the crash")
	}
	res, err := remote.Push(ctx, b, w.options(w.url, nil))
	if err != nil || res.Pushed != 3 {
		t.Fatalf("push after the crash: %+v, %v", res, err)
	}
	if ref, _ := b.Ref(remote.RebuildRef); !ref.IsZero() {
		t.Fatal("rebuild ref left behind")
	}
	verifyRemote(t, w.bare, 4)
}

// TestPushHTTPAuthFromEnv: VIOS_GIT_TOKEN is sent as basic auth; without it
// the server's 401 is an error.
func TestPushHTTPAuthFromEnv(t *testing.T) {
	w := newWorld(t, true)
	backend, err := url.Parse(strings.TrimSuffix(w.url, "/gov.git"))
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(backend)
	guard := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, req *http.Request) {
		if u, p, ok := req.BasicAuth(); !ok || u != "x-access-token" || p != "s3cret" {
			rw.Header().Set("WWW-Authenticate", `Basic realm="gov"`)
			http.Error(rw, "authentication required", http.StatusUnauthorized)
			return
		}
		proxy.ServeHTTP(rw, req)
	}))
	defer guard.Close()
	a, _ := w.clone(t)
	if _, err := w.runCycle(context.Background(), a, 1); err != nil {
		t.Fatal(err)
	}
	opt := w.options(guard.URL+"/gov.git", nil)
	if _, err := remote.Push(context.Background(), a, opt); err == nil {
		t.Fatal("push without a token succeeded")
	}
	t.Setenv(remote.TokenEnv, "s3cret")
	if res, err := remote.Push(context.Background(), a, opt); err != nil || res.Pushed != 1 {
		t.Fatalf("push with the token: %+v, %v", res, err)
	}
	verifyRemote(t, w.bare, 1)
}
