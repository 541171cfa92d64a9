package cli

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vision-ios/vios/internal/layout"
	"github.com/vision-ios/vios/internal/ledger"
	"github.com/vision-ios/vios/internal/remote"
	"github.com/vision-ios/vios/internal/state"
)

// TestEveryCommittingCommandPushes: each command that commits on HEAD's
// branch offers --push (with --remote and --push-attempts).
func TestEveryCommittingCommandPushes(t *testing.T) {
	for _, args := range [][]string{
		{"cycle", "run"}, {"report", "cost"}, {"attest", "weekly"}, {"brief", "phase3"}, {"status"}, {"serve"},
		{"state", "resume"}, {"deviation", "update"}, {"deviation", "resolve"}, {"sla", "tick"}, {"replay"},
	} {
		stdout, _, code := run(t, append(args, "--help")...)
		for _, flag := range []string{"--push ", "--remote ", "--push-attempts "} {
			if code != 0 || !strings.Contains(stdout, flag) {
				t.Errorf("vios %s --help: exit %d, no %s flag", strings.Join(args, " "), code, strings.TrimSpace(flag))
			}
		}
	}
}

// TestDeviationCommandsPush: two orchestrators share a bare remote. A halt
// pushed by one is ticked by the other (sla tick --push fetches first, so
// its events land on the newest history), annotated by the first
// (deviation update --push), a resume around the open deviation is refused
// and pushes nothing, and the LARS resolution pushed by the second resumes
// production on the remote.
func TestDeviationCommandsPush(t *testing.T) {
	dir := t.TempDir()
	keyDir, a := filepath.Join(dir, "keys"), filepath.Join(dir, "a")
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	slot := func(i int) string { return t0.Add(time.Duration(i) * time.Hour).Format(time.RFC3339) }
	must := func(stdout, stderr string, code int) string {
		t.Helper()
		if code != 0 {
			t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
		}
		return stdout
	}
	must(run(t, "keys", "generate", "--keys", keyDir))
	must(run(t, "init", a, "--keys", keyDir, "--now", t0.Format(time.RFC3339)))
	bare := filepath.Join(dir, "remote.git")
	br, err := ledger.InitBare(bare)
	if err != nil {
		t.Fatal(err)
	}
	br.Close()
	push := []string{"--push", "--remote", bare}
	remoteHead := func() string {
		t.Helper()
		r, err := ledger.Open(bare)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		h, err := r.Ref("refs/heads/main")
		if err != nil {
			t.Fatal(err)
		}
		return h.String()
	}
	localHead := func(repo string) string {
		t.Helper()
		r, err := ledger.Open(repo)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		h, err := r.Head()
		if err != nil {
			t.Fatal(err)
		}
		return h.String()
	}
	must(run(t, append([]string{"cycle", "run", "--repo", a, "--keys", keyDir, "--at", slot(1)}, push...)...))

	// b: a second orchestrator, cloned from the remote.
	b := filepath.Join(dir, "b")
	rb, err := ledger.Init(b)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := remote.Sync(context.Background(), rb, remote.Options{Remote: bare}); err != nil {
		t.Fatal(err)
	}
	rb.Close()

	// A wrong FINN key halts a's next cycle; the halt is pushed.
	other := filepath.Join(dir, "other")
	must(run(t, "keys", "generate", "--keys", other))
	finnKey := filepath.Join(keyDir, "finn.key")
	original, _ := os.ReadFile(finnKey)
	swapped, _ := os.ReadFile(filepath.Join(other, "finn.key"))
	if err := os.WriteFile(finnKey, swapped, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, stderr, code := run(t, append([]string{"cycle", "run", "--repo", a, "--keys", keyDir, "--at", slot(2)}, push...)...); code != 1 || remoteHead() != localHead(a) {
		t.Fatalf("halting cycle with --push: exit %d, remote %s, a %s\n%s", code, remoteHead(), localHead(a), stderr)
	}
	if err := os.WriteFile(finnKey, original, 0o600); err != nil {
		t.Fatal(err)
	}
	id := "DEV-signature_verification_failure-" + layout.CycleID(t0.Add(2*time.Hour))
	detected, err := time.Parse(time.RFC3339, headRecord(t, a, id).DetectedAt)
	if err != nil {
		t.Fatal(err)
	}
	at := func(d time.Duration) string { return detected.Add(d).Format(time.RFC3339) }

	// b ticks: it fetches the halt first, records the +30 min events and
	// pushes them.
	stdout := must(run(t, append([]string{"sla", "tick", "--repo", b, "--keys", keyDir, "--now", at(30 * time.Minute), "-o", "json"}, push...)...))
	if remoteHead() != localHead(b) || !strings.Contains(stdout, `"commit": "`+localHead(b)+`"`) {
		t.Fatalf("sla tick --push: remote %s, b %s\n%s", remoteHead(), localHead(b), stdout)
	}
	if got := headRecord(t, b, id); !slices.Equal(lastTypes(got, 2), []string{"investigation_started", "status_update"}) {
		t.Fatalf("b's record after the tick: %v", lastTypes(got, 4))
	}

	// a annotates: it fetches b's tick first.
	must(run(t, append([]string{"deviation", "update", id, "--note", "FINN's key file was replaced", "--repo", a, "--keys", keyDir, "--now", at(40 * time.Minute)}, push...)...))
	if remoteHead() != localHead(a) {
		t.Fatalf("deviation update --push: remote %s, a %s", remoteHead(), localHead(a))
	}
	if got := headRecord(t, a, id); !slices.Equal(lastTypes(got, 3), []string{"investigation_started", "status_update", "note"}) {
		t.Fatalf("a's record after the note: %v", lastTypes(got, 4))
	}

	// Resuming around the open deviation is refused, and pushes nothing.
	before := remoteHead()
	_, stderr, code := run(t, append([]string{"state", "resume", "--signer", "LARS", "--reason", "r", "--repo", a, "--keys", keyDir, "--now", at(45 * time.Minute)}, push...)...)
	if code != 1 || !strings.Contains(stderr, "vios deviation resolve "+id) || remoteHead() != before || localHead(a) != before {
		t.Fatalf("state resume --push with the deviation open: exit %d, remote moved %v\n%s", code, remoteHead() != before, stderr)
	}

	// b resolves: production RUNNING on the remote.
	stdout = must(run(t, append([]string{"deviation", "resolve", id, "--signer", "LARS", "--root-cause", "stale key file", "--plan", "checksum keys",
		"--repo", b, "--keys", keyDir, "--now", at(50 * time.Minute)}, push...)...))
	if !strings.Contains(stdout, "production HALTED -> RUNNING") || remoteHead() != localHead(b) {
		t.Fatalf("deviation resolve --push: remote %s, b %s\n%s", remoteHead(), localHead(b), stdout)
	}
	if got := headRecord(t, b, id); !slices.Equal(lastTypes(got, 2), []string{"note", "resolved"}) {
		t.Fatalf("b's record after the resolution: %v", lastTypes(got, 4))
	}
	if st := headState(t, bare); st.State != state.Running || st.UpdatedBy != "LARS" {
		t.Fatalf("remote state after the resolution: %+v", st)
	}

	// a, behind, resumes nothing (RUNNING after its fetch: exit 2) and
	// runs the next cycle on top of the resolution.
	if _, stderr, code := run(t, append([]string{"state", "resume", "--signer", "LARS", "--reason", "r", "--repo", a, "--keys", keyDir, "--now", at(55 * time.Minute)}, push...)...); code != 2 {
		t.Fatalf("state resume --push when RUNNING: exit %d\n%s", code, stderr)
	}
	must(run(t, append([]string{"cycle", "run", "--repo", a, "--keys", keyDir, "--at", slot(3)}, push...)...))
	if remoteHead() != localHead(a) {
		t.Fatal("a's cycle after the resolution did not land on the remote")
	}
	must(run(t, "audit", "verify", "--repo", bare, "--now", slot(4)))
}
