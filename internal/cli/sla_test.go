package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/vision-ios/vios/internal/deviation"
	"github.com/vision-ios/vios/internal/fault"
	"github.com/vision-ios/vios/internal/gov"
	"github.com/vision-ios/vios/internal/keys"
	"github.com/vision-ios/vios/internal/layout"
	"github.com/vision-ios/vios/internal/ledger"
	"github.com/vision-ios/vios/internal/sla"
	"github.com/vision-ios/vios/internal/state"
)

// runGroup runs one of the sla or deviation command groups in-process on
// the given global flags, mapping the error to the exit code as Execute does.
func runGroup(t *testing.T, g Globals, build func(*Globals) *cobra.Command, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	g.stdout, g.stderr = &out, &errb
	if g.Output == "" {
		g.Output = "text"
	}
	cmd := build(&g)
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(&errb)
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	err := cmd.ExecuteContext(context.Background())
	code := fault.Code(err)
	if code == fault.CodeRuntime && isUsage(err) {
		code = fault.CodeInput
	}
	if err != nil {
		errb.WriteString("vios: " + err.Error() + "\n")
	}
	return out.String(), errb.String(), code
}

// receiver is a loopback webhook that records every request.
type receiver struct {
	mu     sync.Mutex
	bodies [][]byte
	sigs   []string
}

func (h *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	h.bodies = append(h.bodies, b)
	h.sigs = append(h.sigs, r.Header.Get(sla.HeaderSignature))
	h.mu.Unlock()
}

func (h *receiver) payloads(t *testing.T) []sla.WebhookPayload {
	t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []sla.WebhookPayload
	for i, b := range h.bodies {
		if !sla.VerifySignature([]byte("s3cret"), b, h.sigs[i]) {
			t.Errorf("request %d: X-Vios-Signature %q does not verify", i, h.sigs[i])
		}
		var p sla.WebhookPayload
		if err := json.Unmarshal(b, &p); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		out = append(out, p)
	}
	return out
}

// setSinks commits policies/governance.yaml with the given alert_sinks
// block, signed by LARS (policy changes are LARS's).
func setSinks(t *testing.T, repo, keyDir, block string, at time.Time) {
	t.Helper()
	r, err := ledger.Open(repo)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	head, _ := r.Head()
	data, err := r.ReadFile(head, "policies/governance.yaml")
	if err != nil {
		t.Fatal(err)
	}
	start := bytes.Index(data, []byte("alert_sinks:\n"))
	end := bytes.Index(data, []byte("# The seven prohibited"))
	if start < 0 || end < start {
		t.Fatalf("governance.yaml has no alert_sinks block:\n%s", data)
	}
	data = append(append(append([]byte{}, data[:start]...), "alert_sinks:\n"+block...), data[end:]...)
	lars, err := keys.Load(keyDir, "LARS")
	if err != nil {
		t.Fatal(err)
	}
	ssh, _ := lars.SSH()
	if _, err := r.Apply(context.Background(), &ledger.Change{Subject: "policy: alert sinks", Files: []ledger.File{{Path: "policies/governance.yaml", Data: data}},
		Author: gov.Author("LARS"), When: at, Signer: ssh, Parent: head}); err != nil {
		t.Fatal(err)
	}
}

func headRecord(t *testing.T, repo, id string) *deviation.Record {
	t.Helper()
	r, err := ledger.Open(repo)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	data, err := r.HeadFile(layout.Deviations + "/" + id + ".json")
	if err != nil {
		t.Fatal(err)
	}
	d, err := deviation.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func headState(t *testing.T, repo string) *state.State {
	t.Helper()
	r, err := ledger.Open(repo)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	snap, err := gov.Load(r)
	if err != nil {
		t.Fatal(err)
	}
	return snap.State
}

func lastTypes(d *deviation.Record, n int) []string {
	var out []string
	for _, e := range d.Events[len(d.Events)-n:] {
		out = append(out, e.Type)
	}
	return out
}

// TestSignatureDeviationEndToEnd is the acceptance path: a key swap halts
// the next cycle and opens a signature deviation whose alert reaches a
// loopback webhook once, inside the cycle command; ticks at +30 and +60 min
// record status updates; a tick after +1 h records the SLA breach and the
// emergency escalation; only LARS resolves, which resumes production.
func TestSignatureDeviationEndToEnd(t *testing.T) {
	t.Setenv("VIOS_TEST_HOOK_SECRET", "s3cret")
	dir := t.TempDir()
	keyDir, repo := filepath.Join(dir, "keys"), filepath.Join(dir, "governance")
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	slot := func(i int) string { return t0.Add(time.Duration(i) * time.Hour).Format(time.RFC3339) }
	exit := func(want int) func(string, string, int) (string, string) {
		return func(stdout, stderr string, code int) (string, string) {
			t.Helper()
			if code != want {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, want, stdout, stderr)
			}
			return stdout, stderr
		}
	}
	must := exit(0)
	must(run(t, "keys", "generate", "--keys", keyDir))
	must(run(t, "init", repo, "--keys", keyDir, "--now", t0.Format(time.RFC3339)))

	hook := &receiver{}
	srv := httptest.NewServer(hook)
	defer srv.Close()
	setSinks(t, repo, keyDir, "  - type: stderr\n  - {type: webhook, url: \""+srv.URL+"/alerts\", secret_env: VIOS_TEST_HOOK_SECRET}\n", t0.Add(30*time.Minute))
	must(run(t, "cycle", "run", "--repo", repo, "--keys", keyDir, "--at", slot(1)))
	if n := len(hook.payloads(t)); n != 0 {
		t.Fatalf("a clean cycle sent %d alerts", n)
	}

	// The key swap: FINN's key file now holds another key.
	other := filepath.Join(dir, "other")
	must(run(t, "keys", "generate", "--keys", other))
	finnKey := filepath.Join(keyDir, "finn.key")
	original, _ := os.ReadFile(finnKey)
	swapped, _ := os.ReadFile(filepath.Join(other, "finn.key"))
	if err := os.WriteFile(finnKey, swapped, 0o600); err != nil {
		t.Fatal(err)
	}
	_, stderr := exit(1)(run(t, "cycle", "run", "--repo", repo, "--keys", keyDir, "--at", slot(2)))
	if !strings.Contains(stderr, "vios: deviation ALERT: [CRITICAL] DEV-signature_verification_failure-") {
		t.Errorf("the stderr sink did not alert:\n%s", stderr)
	}
	cycleID := layout.CycleID(t0.Add(2 * time.Hour))
	id := "DEV-signature_verification_failure-" + cycleID
	got := hook.payloads(t)
	if len(got) != 1 {
		t.Fatalf("the webhook got %d requests during the halting cycle, want exactly 1", len(got))
	}
	if p := got[0]; p.DeviationID != id || p.Event != "alert" || p.Severity != "critical" || !slices.Equal(p.Recipients, []string{"VEGA", "LARS"}) || p.CycleID != cycleID || !strings.Contains(p.Text, id) {
		t.Fatalf("alert payload %+v", p)
	}
	d := headRecord(t, repo, id)
	if !slices.Equal(lastTypes(d, 2), []string{"detected", "alert"}) || len(d.Events[1].Deliveries) != 2 || d.Events[1].Deliveries[1].DeliveredAt == "" {
		t.Fatalf("record after the halting cycle: %+v", d)
	}
	if st := headState(t, repo); st.State != state.Halted {
		t.Fatalf("state %s, want HALTED", st.State)
	}
	detected, err := time.Parse(time.RFC3339, d.DetectedAt)
	if err != nil {
		t.Fatal(err)
	}
	at := func(d time.Duration) string { return detected.Add(d).Format(time.RFC3339) }
	g := Globals{Repo: repo, Keys: keyDir}
	tick := func(offset time.Duration) string {
		t.Helper()
		g := g
		g.Now = at(offset)
		stdout, _ := must(runGroup(t, g, newSLACmd, "tick"))
		return stdout
	}

	tick(30 * time.Minute)
	if d := headRecord(t, repo, id); !slices.Equal(lastTypes(d, 2), []string{"investigation_started", "status_update"}) {
		t.Fatalf("after the +30 min tick: %v", lastTypes(d, 3))
	}
	tick(60 * time.Minute)
	if d := headRecord(t, repo, id); !slices.Equal(lastTypes(d, 1), []string{"status_update"}) || d.Status != "open" {
		t.Fatalf("after the +60 min tick: %v, %s", lastTypes(d, 2), d.Status)
	}
	out := tick(65 * time.Minute)
	d = headRecord(t, repo, id)
	if !slices.Equal(lastTypes(d, 2), []string{"sla_breached", "escalated"}) || d.Status != deviation.StatusEscalated || !strings.Contains(out, "1 SLA breaches escalated to LARS") {
		t.Fatalf("after the +65 min tick: %v, %s\n%s", lastTypes(d, 3), d.Status, out)
	}
	got = hook.payloads(t)
	if n := len(got); n != 5 {
		t.Fatalf("webhook requests after the ticks: %d, want 5 (alert, investigation, 2 status updates, escalation)", n)
	}
	if p := got[4]; p.Event != "escalated" || p.Severity != "critical" || !slices.Equal(p.Recipients, []string{"LARS"}) {
		t.Fatalf("escalation payload %+v", p)
	}
	if out := tick(66 * time.Minute); !strings.Contains(out, "0 events") {
		t.Fatalf("a tick with nothing due:\n%s", out)
	}

	// list, update
	lg := g
	lg.Output = "json"
	stdout, _ := must(runGroup(t, lg, newDeviationCmd, "list", "--open"))
	if !strings.Contains(stdout, `"id": "`+id+`"`) || !strings.Contains(stdout, `"status": "escalated"`) {
		t.Fatalf("deviation list -o json:\n%s", stdout)
	}
	now := g
	now.Now = at(70 * time.Minute)
	must(runGroup(t, now, newDeviationCmd, "update", id, "--note", "FINN's key file was replaced by a stale backup"))
	if _, stderr, code := runGroup(t, now, newDeviationCmd, "update", "DEV-signature_verification_failure-0000000000000000", "--note", "x"); code != 2 || !strings.Contains(stderr, "unknown deviation") {
		t.Fatalf("update of an unknown deviation: exit %d\n%s", code, stderr)
	}

	// Only LARS resolves.
	head := headRecord(t, repo, id)
	for _, bad := range []struct {
		name string
		keys string
		args []string
		code int
	}{
		{"FINN", keyDir, []string{"--signer", "FINN", "--root-cause", "c", "--plan", "p"}, 2},
		{"no plan", keyDir, []string{"--signer", "LARS", "--root-cause", "c"}, 2},
		{"another LARS key", other, []string{"--signer", "LARS", "--root-cause", "c", "--plan", "p"}, 1},
	} {
		gg := now
		gg.Keys = bad.keys
		if _, stderr, code := runGroup(t, gg, newDeviationCmd, append([]string{"resolve", id}, bad.args...)...); code != bad.code {
			t.Fatalf("resolve by %s: exit %d, want %d\n%s", bad.name, code, bad.code, stderr)
		}
	}
	if _, _, code := runGroup(t, now, newDeviationCmd, "resolve", "DEV-signature_verification_failure-ffffffffffffffff", "--signer", "LARS", "--root-cause", "c", "--plan", "p"); code != 2 {
		t.Fatalf("resolve of an unknown deviation: exit %d, want 2", code)
	}
	if d := headRecord(t, repo, id); len(d.Events) != len(head.Events) || headState(t, repo).State != state.Halted {
		t.Fatal("a refused resolution changed the record or the state")
	}
	stdout, _ = must(runGroup(t, now, newDeviationCmd, "resolve", id, "--signer", "LARS",
		"--root-cause", "FINN's key file was overwritten", "--plan", "restore it from the vault; checksum key files before each cycle"))
	if !strings.Contains(stdout, "production HALTED -> RUNNING") {
		t.Fatalf("resolve output:\n%s", stdout)
	}
	if st := headState(t, repo); st.State != state.Running || st.UpdatedBy != "LARS" {
		t.Fatalf("state after the resolution: %+v", st)
	}
	got = hook.payloads(t)
	if len(got) != 7 || got[5].Event != "note" || got[6].Event != "resolved" || got[6].Status != "resolved" {
		t.Fatalf("webhook after note and resolution: %d requests, last %+v", len(got), got[len(got)-1])
	}

	// Production resumes with the right key; the whole history audits.
	if err := os.WriteFile(finnKey, original, 0o600); err != nil {
		t.Fatal(err)
	}
	must(run(t, "cycle", "run", "--repo", repo, "--keys", keyDir, "--at", slot(3)))
	must(run(t, "audit", "verify", "--repo", repo, "--now", slot(4)))

	// A webhook URL that is not http(s) is a configuration error: exit 2,
	// nothing written.
	setSinks(t, repo, keyDir, "  - {type: webhook, url: \"ftp://example.com/x\"}\n", t0.Add(4*time.Hour))
	r, _ := ledger.Open(repo)
	before, _ := r.Head()
	r.Close()
	for _, args := range [][]string{{"cycle", "run", "--repo", repo, "--keys", keyDir, "--at", slot(5)}} {
		if _, stderr, code := run(t, args...); code != 2 || !strings.Contains(stderr, "http or https") {
			t.Fatalf("%v with an ftp webhook: exit %d\n%s", args, code, stderr)
		}
	}
	tg := g
	tg.Now = slot(5)
	if _, stderr, code := runGroup(t, tg, newSLACmd, "tick"); code != 2 || !strings.Contains(stderr, "http or https") {
		t.Fatalf("sla tick with an ftp webhook: exit %d\n%s", code, stderr)
	}
	r, _ = ledger.Open(repo)
	after, _ := r.Head()
	r.Close()
	if after != before {
		t.Fatal("a refused command committed")
	}
}
