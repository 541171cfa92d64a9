package sla_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vision-ios/vios/internal/deviation"
	"github.com/vision-ios/vios/internal/fault"
	"github.com/vision-ios/vios/internal/policy"
	"github.com/vision-ios/vios/internal/sla"
)

func getenv(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

func TestNewSinksRefusesBadConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  policy.AlertSink
		want string
	}{
		{"ftp webhook", policy.AlertSink{Type: "webhook", URL: "ftp://example.com/hook"}, "http or https"},
		{"relative webhook", policy.AlertSink{Type: "webhook", URL: "/hook"}, "http or https"},
		{"webhook without url", policy.AlertSink{Type: "webhook"}, "missing"},
		{"credentials in url", policy.AlertSink{Type: "webhook", URL: "https://u:p@example.com/"}, "no credentials"},
		{"github without repo", policy.AlertSink{Type: "github"}, "owner/name"},
		{"github with a file url", policy.AlertSink{Type: "github", Repo: "o/r", URL: "file:///etc"}, "http or https"},
		{"unknown type", policy.AlertSink{Type: "pager"}, "unknown sink type"},
		{"stderr with a url", policy.AlertSink{Type: "stderr", URL: "http://x"}, "takes no url"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := sla.NewSinks([]policy.AlertSink{tc.cfg}, sla.SinkOptions{})
			if !fault.IsInput(err) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want exit 2 naming %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "u:p") {
				t.Fatalf("error leaks credentials: %v", err)
			}
		})
	}
	_, err := sla.NewSinks([]policy.AlertSink{{Type: "stderr"}, {Type: "stderr"}}, sla.SinkOptions{})
	if !fault.IsInput(err) {
		t.Fatalf("duplicate sinks: %v", err)
	}
	s, err := sla.NewSinks([]policy.AlertSink{{Type: "stderr"}, {Type: "webhook", URL: "https://hooks.example.com/T/B/secret"}, {Type: "github", Repo: "o/r"}}, sla.SinkOptions{})
	if err != nil || len(s) != 3 {
		t.Fatalf("good config: %v", err)
	}
	for _, k := range s {
		if strings.Contains(k.Name(), "secret") {
			t.Fatalf("sink name %q leaks the webhook path", k.Name())
		}
	}
}

func notification(t *testing.T) *sla.Notification {
	t.Helper()
	e := newEnv(t)
	d, err := deviation.New(e.pol, deviation.SignatureFailure, "75c6040e1e25f939", "75c6040e1e25f939", "FINN's signature did not verify", detected)
	if err != nil {
		t.Fatal(err)
	}
	d.Append(deviation.Event{At: detected.Format(time.RFC3339), Type: deviation.EventAlert, By: "CODE", Due: detected.Add(5 * time.Minute).Format(time.RFC3339)})
	return &sla.Notification{Deviation: d, Event: d.Events[1], Index: 1, Text: sla.Text(d, d.Events[1]), SentAt: detected}
}

type hookServer struct {
	mu    sync.Mutex
	reqs  []*http.Request
	body  [][]byte
	reply func(i int, w http.ResponseWriter)
}

func (h *hookServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	i := len(h.reqs)
	h.reqs, h.body = append(h.reqs, r), append(h.body, b)
	reply := h.reply
	h.mu.Unlock()
	if reply != nil {
		reply(i, w)
	}
}

func (h *hookServer) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.reqs)
}

func webhook(t *testing.T, url string, o sla.SinkOptions) sla.Sink {
	t.Helper()
	s, err := sla.NewSinks([]policy.AlertSink{{Type: "webhook", URL: url, Secret: "HOOK_SECRET"}}, o)
	if err != nil {
		t.Fatal(err)
	}
	return s[0]
}

func TestWebhookPayloadAndSignature(t *testing.T) {
	h := &hookServer{}
	srv := httptest.NewServer(h)
	defer srv.Close()
	s := webhook(t, srv.URL+"/hook", sla.SinkOptions{Getenv: getenv(map[string]string{"HOOK_SECRET": "s3cret"})})
	n := notification(t)
	rc, err := s.Send(context.Background(), n)
	if err != nil || rc.Attempts != 1 || h.count() != 1 {
		t.Fatalf("send: %v, %+v, %d requests", err, rc, h.count())
	}
	req, body := h.reqs[0], h.body[0]
	if req.Method != http.MethodPost || req.URL.Path != "/hook" || req.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("request %s %s %v", req.Method, req.URL, req.Header)
	}
	if !sla.VerifySignature([]byte("s3cret"), body, req.Header.Get(sla.HeaderSignature)) {
		t.Fatalf("signature %q does not verify", req.Header.Get(sla.HeaderSignature))
	}
	if sla.VerifySignature([]byte("other"), body, req.Header.Get(sla.HeaderSignature)) {
		t.Fatal("signature verifies under another secret")
	}
	if got := req.Header.Get(sla.HeaderDelivery); got != n.Deviation.ID+"#1" {
		t.Fatalf("delivery id %q", got)
	}
	var p map[string]any
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]any{
		"deviation_id": n.Deviation.ID, "type": "signature_verification_failure", "severity": "critical",
		"event": "alert", "due": detected.Add(time.Hour).Format(time.RFC3339), "status": "open",
	} {
		if p[k] != want {
			t.Errorf("%s = %v, want %v", k, p[k], want)
		}
	}
	if fmt.Sprint(p["recipients"]) != "[VEGA LARS]" || !strings.Contains(p["text"].(string), "[CRITICAL] "+n.Deviation.ID) {
		t.Errorf("recipients %v, text %q", p["recipients"], p["text"])
	}
}

func TestWebhookFailures(t *testing.T) {
	t.Run("missing secret is not sent unsigned", func(t *testing.T) {
		h := &hookServer{}
		srv := httptest.NewServer(h)
		defer srv.Close()
		_, err := webhook(t, srv.URL, sla.SinkOptions{Getenv: getenv(nil)}).Send(context.Background(), notification(t))
		if err == nil || !strings.Contains(err.Error(), "HOOK_SECRET") || h.count() != 0 {
			t.Fatalf("err %v, %d requests", err, h.count())
		}
	})
	t.Run("5xx is retried with backoff", func(t *testing.T) {
		h := &hookServer{reply: func(i int, w http.ResponseWriter) {
			if i == 0 {
				w.WriteHeader(http.StatusBadGateway)
			}
		}}
		srv := httptest.NewServer(h)
		defer srv.Close()
		rc, err := webhook(t, srv.URL, sla.SinkOptions{Getenv: getenv(map[string]string{"HOOK_SECRET": "x"}), Backoff: time.Millisecond}).Send(context.Background(), notification(t))
		if err != nil || rc.Attempts != 2 || h.count() != 2 {
			t.Fatalf("err %v, %+v, %d requests", err, rc, h.count())
		}
		if !bytes.Equal(h.body[0], h.body[1]) {
			t.Fatal("the retry sent another body")
		}
	})
	t.Run("4xx is not retried", func(t *testing.T) {
		h := &hookServer{reply: func(int, http.ResponseWriter) {}}
		h.reply = func(_ int, w http.ResponseWriter) { w.WriteHeader(http.StatusForbidden) }
		srv := httptest.NewServer(h)
		defer srv.Close()
		rc, err := webhook(t, srv.URL, sla.SinkOptions{Getenv: getenv(map[string]string{"HOOK_SECRET": "x"}), Backoff: time.Millisecond}).Send(context.Background(), notification(t))
		if err == nil || !strings.Contains(err.Error(), "403") || rc.Attempts != 1 {
			t.Fatalf("err %v, %+v", err, rc)
		}
	})
	t.Run("refused connection names no secret path", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		url := srv.URL + "/T0/B0/secret-path"
		srv.Close()
		rc, err := webhook(t, url, sla.SinkOptions{Getenv: getenv(map[string]string{"HOOK_SECRET": "x"}), Attempts: 2, Backoff: time.Millisecond}).Send(context.Background(), notification(t))
		if err == nil || strings.Contains(err.Error(), "secret-path") || rc.Attempts != 2 {
			t.Fatalf("err %v, %+v", err, rc)
		}
	})
	t.Run("a hanging receiver times out, bounded", func(t *testing.T) {
		release := make(chan struct{})
		h := &hookServer{reply: func(int, http.ResponseWriter) { <-release }} // hookServer has read the body
		srv := httptest.NewServer(h)
		defer srv.Close()
		defer close(release)
		start := time.Now()
		rc, err := webhook(t, srv.URL, sla.SinkOptions{Getenv: getenv(map[string]string{"HOOK_SECRET": "x"}), Timeout: 50 * time.Millisecond, Attempts: 2, Backoff: time.Millisecond}).Send(context.Background(), notification(t))
		if err == nil || !strings.Contains(err.Error(), "no answer within 50ms") || rc.Attempts != 2 {
			t.Fatalf("err %v, %+v", err, rc)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("hanging receiver held the send %s", d)
		}
	})
}

// githubAPI is an httptest server shaped like the GitHub issues API.
type githubAPI struct {
	mu       sync.Mutex
	calls    []string
	issues   map[int]map[string]any
	comments map[int][]string
	labels   map[int][]string
	deny     bool
}

func newGitHubAPI(t *testing.T) (*githubAPI, *httptest.Server) {
	g := &githubAPI{issues: map[int]map[string]any{}, comments: map[int][]string{}, labels: map[int][]string{}}
	mux := http.NewServeMux()
	auth := func(w http.ResponseWriter, r *http.Request) bool {
		g.calls = append(g.calls, r.Method+" "+r.URL.Path)
		if r.Header.Get("Authorization") != "Bearer gh-token" {
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"message":"Bad credentials"}`)
			return false
		}
		if g.deny {
			w.WriteHeader(http.StatusForbidden)
			io.WriteString(w, `{"message":"Resource not accessible by personal access token","documentation_url":"https://docs.github.com/rest/issues/issues#create-an-issue"}`)
			return false
		}
		return true
	}
	mux.HandleFunc("POST /api/repos/o/r/issues", func(w http.ResponseWriter, r *http.Request) {
		g.mu.Lock()
		defer g.mu.Unlock()
		if !auth(w, r) {
			return
		}
		var req map[string]any
		json.NewDecoder(r.Body).Decode(&req)
		n := len(g.issues) + 1
		req["number"], req["state"] = n, "open"
		g.issues[n] = req
		for _, l := range req["labels"].([]any) {
			g.labels[n] = append(g.labels[n], l.(string))
		}
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, `{"id":%d,"number":%d,"state":"open","title":%q,"html_url":"https://github.com/o/r/issues/%d"}`, 1000+n, n, req["title"], n)
	})
	mux.HandleFunc("GET /api/repos/o/r/issues", func(w http.ResponseWriter, r *http.Request) {
		g.mu.Lock()
		defer g.mu.Unlock()
		if !auth(w, r) {
			return
		}
		var out []map[string]any
		for n, iss := range g.issues {
			out = append(out, map[string]any{"number": n, "title": iss["title"], "state": iss["state"]})
		}
		json.NewEncoder(w).Encode(out)
	})
	mux.HandleFunc("POST /api/repos/o/r/issues/{n}/comments", func(w http.ResponseWriter, r *http.Request) {
		g.mu.Lock()
		defer g.mu.Unlock()
		if !auth(w, r) {
			return
		}
		var n int
		fmt.Sscan(r.PathValue("n"), &n)
		var req map[string]string
		json.NewDecoder(r.Body).Decode(&req)
		g.comments[n] = append(g.comments[n], req["body"])
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, `{"id":%d,"body":%q}`, 5000+len(g.comments[n]), req["body"])
	})
	mux.HandleFunc("POST /api/repos/o/r/issues/{n}/labels", func(w http.ResponseWriter, r *http.Request) {
		g.mu.Lock()
		defer g.mu.Unlock()
		if !auth(w, r) {
			return
		}
		var n int
		fmt.Sscan(r.PathValue("n"), &n)
		var req []string
		json.NewDecoder(r.Body).Decode(&req)
		g.labels[n] = append(g.labels[n], req...)
		json.NewEncoder(w).Encode([]map[string]string{})
	})
	mux.HandleFunc("PATCH /api/repos/o/r/issues/{n}", func(w http.ResponseWriter, r *http.Request) {
		g.mu.Lock()
		defer g.mu.Unlock()
		if !auth(w, r) {
			return
		}
		var n int
		fmt.Sscan(r.PathValue("n"), &n)
		var req map[string]any
		json.NewDecoder(r.Body).Decode(&req)
		g.issues[n]["state"], g.issues[n]["state_reason"] = req["state"], req["state_reason"]
		fmt.Fprintf(w, `{"number":%d,"state":%q}`, n, req["state"])
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return g, srv
}

func (g *githubAPI) callList() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]string(nil), g.calls...)
}

// TestGitHubSink: one issue per deviation with type and severity labels,
// a comment per later event, the breach label, closed on resolution, all
// through the configured API base URL with GITHUB_TOKEN.
func TestGitHubSink(t *testing.T) {
	api, srv := newGitHubAPI(t)
	e := newEnv(t)
	recs := e.open(t, deviation.SignatureFailure, 2, detected)
	sinks, err := sla.NewSinks([]policy.AlertSink{{Type: "github", Repo: "o/r", URL: srv.URL + "/api"}}, sla.SinkOptions{Getenv: getenv(map[string]string{"GITHUB_TOKEN": "gh-token"})})
	if err != nil {
		t.Fatal(err)
	}
	e.tick(t, sinks, detected)
	e.tick(t, sinks, detected.Add(30*time.Minute))
	e.tick(t, sinks, detected.Add(61*time.Minute))
	if _, err := sla.Resolve(context.Background(), e.r, e.signers["LARS"], sinks, recs[0].ID, "bad key file", "restore it", detected.Add(70*time.Minute)); err != nil {
		t.Fatal(err)
	}
	api.mu.Lock()
	defer api.mu.Unlock()
	if len(api.issues) != 2 {
		t.Fatalf("%d issues, want one per deviation", len(api.issues))
	}
	iss := api.issues[1]
	if !strings.HasPrefix(iss["title"].(string), recs[0].ID+":") || !strings.Contains(iss["body"].(string), "[CRITICAL]") {
		t.Fatalf("issue 1: %v", iss)
	}
	for _, l := range []string{"vios-deviation", "type:signature_verification_failure", "severity:critical", "sla-breached"} {
		if !slices.Contains(api.labels[1], l) {
			t.Errorf("issue 1 labels %v lack %s", api.labels[1], l)
		}
	}
	// investigation, status updates at +30 and +60 (the tick at +61 also
	// owes the latter), escalation, resolution
	if c := api.comments[1]; len(c) != 5 || !strings.Contains(c[0], "investigation_started") || !strings.Contains(c[2], "due now") || !strings.Contains(c[3], "SLA BREACHED") || !strings.Contains(c[4], "Root cause: bad key file") {
		t.Fatalf("issue 1 comments %q", c)
	}
	if iss["state"] != "closed" || iss["state_reason"] != "completed" || api.issues[2]["state"] != "open" {
		t.Fatalf("issue states %v / %v", iss["state"], api.issues[2]["state"])
	}
	// The issue number is kept in the record for later events.
	rec := e.record(t, recs[0].ID)
	if dl := rec.Events[len(rec.Events)-1].Deliveries; len(dl) != 1 || dl[0].Ref != "1" || dl[0].Sink != "github:o/r" || dl[0].DeliveredAt == "" {
		t.Fatalf("resolution delivery %+v", dl)
	}
}

// TestGitHubTokenWithoutRights: a clear, recorded error; the deviation is
// committed all the same, and the issue is created (once) when the token
// works again.
func TestGitHubTokenWithoutRights(t *testing.T) {
	api, srv := newGitHubAPI(t)
	api.deny = true
	e := newEnv(t)
	d := e.open(t, deviation.CostCeiling, 1, detected)[0]
	sinks, err := sla.NewSinks([]policy.AlertSink{{Type: "github", Repo: "o/r", URL: srv.URL + "/api/"}}, sla.SinkOptions{Getenv: getenv(map[string]string{"GITHUB_TOKEN": "gh-token"})})
	if err != nil {
		t.Fatal(err)
	}
	rep := e.tick(t, sinks, detected)
	rec := e.record(t, d.ID)
	dl := rec.Events[1].Deliveries[0]
	if rep.Failed != 1 || rep.Commit == "" || !strings.Contains(dl.LastError, "403") || !strings.Contains(dl.LastError, "issues: write") {
		t.Fatalf("report %+v, delivery %+v", rep, dl)
	}
	api.mu.Lock()
	api.deny = false
	api.mu.Unlock()
	e.tick(t, sinks, detected.Add(2*time.Minute))
	calls := api.callList()
	// The retry first looks for an issue the failed attempt may have made.
	if diff := slices.Compare(calls, []string{"POST /api/repos/o/r/issues", "GET /api/repos/o/r/issues", "POST /api/repos/o/r/issues"}); diff != 0 {
		t.Fatalf("calls %v", calls)
	}
	if rec := e.record(t, d.ID); rec.Events[2].Type != deviation.EventRedelivery || rec.Events[2].Deliveries[0].Ref != "1" {
		t.Fatalf("redelivery %+v", rec.Events[2])
	}
	// Without a token: recorded, not fatal.
	sinks, _ = sla.NewSinks([]policy.AlertSink{{Type: "github", Repo: "o/r", URL: srv.URL}}, sla.SinkOptions{Getenv: getenv(nil)})
	n := notification(t)
	if _, err := sinks[0].Send(context.Background(), n); err == nil || !strings.Contains(err.Error(), "GITHUB_TOKEN is not set") {
		t.Fatalf("no token: %v", err)
	}
}

// TestHangingWebhookRetriedByNextTick: a receiver that never answers costs
// one bounded timeout, is recorded as failed, and the next tick delivers
// the same notification (same delivery id) once it answers again.
func TestHangingWebhookRetriedByNextTick(t *testing.T) {
	var mu sync.Mutex
	hang := true
	var ids []string
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.ReadAll(r.Body)
		mu.Lock()
		h := hang
		ids = append(ids, r.Header.Get(sla.HeaderDelivery))
		mu.Unlock()
		if h {
			select {
			case <-r.Context().Done():
			case <-release:
			}
		}
	}))
	defer srv.Close()
	defer close(release)
	e := newEnv(t)
	d := e.open(t, deviation.SignatureFailure, 1, detected)[0]
	sinks, err := sla.NewSinks([]policy.AlertSink{{Type: "stderr"}, {Type: "webhook", URL: srv.URL}},
		sla.SinkOptions{Stderr: io.Discard, Timeout: 50 * time.Millisecond, Attempts: 2, Backoff: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	rep := e.tick(t, sinks, detected)
	if rep.Failed != 1 || rep.Delivered != 1 || rep.Commit == "" {
		t.Fatalf("tick with a hanging webhook: %+v", rep)
	}
	dl := e.record(t, d.ID).Events[1].Deliveries[1]
	if dl.DeliveredAt != "" || dl.Attempts != 2 || !strings.Contains(dl.LastError, "no answer within 50ms") {
		t.Fatalf("hanging delivery %+v", dl)
	}
	mu.Lock()
	hang = false
	mu.Unlock()
	rep = e.tick(t, sinks, detected.Add(time.Minute))
	if rep.Delivered != 1 || rep.Failed != 0 || len(rep.Events) != 1 || rep.Events[0].Type != deviation.EventRedelivery {
		t.Fatalf("next tick %+v", rep)
	}
	mu.Lock()
	defer mu.Unlock()
	want := d.ID + "#1"
	if len(ids) != 3 || ids[0] != want || ids[2] != want {
		t.Fatalf("delivery ids %v, want %s on every attempt", ids, want)
	}
}
