package cli

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vision-ios/vios/internal/ledger"
	"github.com/vision-ios/vios/internal/state"
)

// syncBuffer is a bytes.Buffer safe for the server's log goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestServeRunsAndShutsDown runs `vios serve` (built here: the command is
// not in the root list until root.go adds newServeCmd) on a fresh
// repository: the current slot's cycle is committed at start, /healthz and
// /metrics answer, and cancelling (SIGTERM) stops it cleanly.
func TestServeRunsAndShutsDown(t *testing.T) {
	dir := t.TempDir()
	keys, repo := filepath.Join(dir, "keys"), filepath.Join(dir, "gov")
	initAt := time.Now().UTC().Add(-2 * time.Hour).Format(time.RFC3339)
	for _, args := range [][]string{{"keys", "generate", "--keys", keys}, {"init", repo, "--keys", keys, "--now", initAt}} {
		if _, stderr, code := run(t, args...); code != 0 {
			t.Fatalf("%v: %d %s", args, code, stderr)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()

	var stdout, stderr syncBuffer
	g := &Globals{Repo: repo, Keys: keys, Output: "text", stdout: &stdout, stderr: &stderr}
	cmd := newServeCmd(g)
	cmd.SetArgs([]string{"--listen", addr, "--grace", "5s"})
	cmd.SetOut(io.Discard)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- cmd.ExecuteContext(ctx) }()

	var metrics string
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if body, code := httpGet(addr + "/metrics"); code == 200 && strings.Contains(body, `vios_cycles_total{outcome="granted"} 1`) {
			metrics = body
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if metrics == "" {
		cancel()
		<-done
		t.Fatalf("no committed cycle in /metrics within 30s; log:\n%s", stderr.String())
	}
	if body, code := httpGet(addr + "/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("/healthz: %d %q", code, body)
	}
	for _, want := range []string{"vios_signature_failures_total 0", "vios_open_deviations 0", "# TYPE vios_cost_today_usd gauge"} {
		if !strings.Contains(metrics, want+"\n") && !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q:\n%s", want, metrics)
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve returned %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop")
	}
	r, err := ledger.Open(repo)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	data, err := r.HeadFile("05_GOVERNANCE/OPERATIONAL_STATE.json")
	if err != nil {
		t.Fatal(err)
	}
	st, err := state.Parse(data)
	if err != nil || st.CyclesRecorded != 1 || st.LastCycleSlot != time.Now().UTC().Truncate(time.Hour).Format(time.RFC3339) && st.LastCycleSlot != time.Now().UTC().Add(-time.Hour).Truncate(time.Hour).Format(time.RFC3339) {
		t.Fatalf("state after serve: %+v, %v", st, err)
	}
}

func TestServeBadInput(t *testing.T) {
	for _, tc := range []struct {
		args []string
		now  string
		want string
	}{
		{[]string{"--listen", "nonsense"}, "", "--listen"},
		{nil, "2026-11-01T00:00:00Z", "wall clock"},
	} {
		var out, errb bytes.Buffer
		g := &Globals{Repo: t.TempDir(), Output: "text", Now: tc.now, stdout: &out, stderr: &errb}
		cmd := newServeCmd(g)
		cmd.SetArgs(tc.args)
		cmd.SetOut(io.Discard)
		cmd.SetErr(io.Discard)
		err := cmd.Execute()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want %q", tc.args, err, tc.want)
		}
	}
}

func httpGet(url string) (string, int) {
	resp, err := http.Get("http://" + url)
	if err != nil {
		return "", 0
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b), resp.StatusCode
}
