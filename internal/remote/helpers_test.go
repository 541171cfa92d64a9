package remote_test

import (
	"context"
	"io"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/vision-ios/vios/internal/audit"
	"github.com/vision-ios/vios/internal/clock"
	"github.com/vision-ios/vios/internal/cycle"
	"github.com/vision-ios/vios/internal/ledger"
	"github.com/vision-ios/vios/internal/remote"
	"github.com/vision-ios/vios/internal/signing"
	"github.com/vision-ios/vios/internal/testutil"
	"github.com/vision-ios/vios/internal/testutil/gitcli"
)

// world is a shared bare remote, seeded with an initialised governance
// repository, and the keys every writer signs with.
type world struct {
	signers map[string]*signing.Signer
	bare    string // the bare repository's directory
	url     string // file:// or http:// URL of it
}

// newWorld initialises a governance repository, pushes it to a new bare
// repository and serves that over file:// or, with overHTTP, through
// git http-backend on loopback.
func newWorld(t testing.TB, overHTTP bool) *world {
	t.Helper()
	w := &world{signers: testutil.Signers(t, "remote")}
	seed := testutil.InitRepo(t, w.signers)
	root := t.TempDir()
	w.bare = filepath.Join(root, "gov.git")
	gitcli.Run(t, root, "init", "--bare", "-b", "main", w.bare)
	gitcli.Run(t, w.bare, "config", "http.receivepack", "true")
	gitcli.Run(t, w.bare, "config", "receive.autogc", "false") // as busy servers do: gc out of band
	w.url = "file://" + w.bare
	if overHTTP {
		w.url = serveHTTP(t, root) + "/gov.git"
	}
	r := testutil.OpenRepo(t, seed)
	if _, err := remote.Push(context.Background(), r, w.options(w.url, nil)); err != nil {
		t.Fatalf("seed push: %v", err)
	}
	return w
}

// serveHTTP serves the bare repositories below root with git http-backend.
func serveHTTP(t testing.TB, root string) string {
	t.Helper()
	out, err := exec.Command("git", "--exec-path").Output()
	if err != nil {
		t.Fatalf("git --exec-path: %v", err)
	}
	h := &cgi.Handler{
		Path:       filepath.Join(strings.TrimSpace(string(out)), "git-http-backend"),
		Env:        []string{"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1", "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null"},
		InheritEnv: []string{"PATH"},
		Stderr:     io.Discard, // receive-pack's "cannot lock ref" on every lost race
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

// clone makes a writer's own repository: an empty repository synced from
// the remote by vios itself.
func (w *world) clone(t testing.TB) (*ledger.Repo, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "clone")
	r, err := ledger.Init(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	if _, err := remote.Sync(context.Background(), r, w.options(w.url, nil)); err != nil {
		t.Fatalf("clone: %v", err)
	}
	return r, dir
}

// options are a writer's push options: its keys, and cycles re-created with
// the clock given (nil: a simulated clock at the slot).
func (w *world) options(url string, clk clock.Clock) remote.Options {
	var mu sync.Mutex
	return remote.Options{
		Remote:   url,
		Attempts: 200,
		Signer: func(agent string) (*signing.SSHSigner, error) {
			return w.signers[agent].SSH()
		},
		Rebuilders: map[string]remote.Rebuilder{
			"signature_log": func(ctx context.Context, r *ledger.Repo, old *object.Commit) error {
				mu.Lock()
				c := clk
				mu.Unlock()
				if c == nil {
					c = clock.NewSim(old.Author.When, time.Second)
				}
				_, err := cycle.Rebuild(ctx, r, old, cycle.Options{Signers: w.signers, Clock: c})
				return err
			},
		},
	}
}

// slot is the i-th hourly slot after the test epoch.
func slot(i int) time.Time { return testutil.Epoch.Add(time.Duration(i) * time.Hour) }

// runCycle runs and commits the cycle of slot i on r.
func (w *world) runCycle(ctx context.Context, r *ledger.Repo, i int) (*cycle.Committed, error) {
	s := slot(i)
	return cycle.RunAndCommit(ctx, r, cycle.Options{Slot: s, Clock: clock.NewSim(s.Add(time.Minute), time.Second), Signers: w.signers})
}

// verifyRemote checks the remote's history with stock git and vios's audit:
// want signature logs, a linear history, every commit's signature good.
func verifyRemote(t testing.TB, bare string, wantLogs int) {
	t.Helper()
	// Parents per commit: exactly one, but for the root.
	parents := strings.Split(gitcli.Run(t, bare, "log", "--format=%H %p", "main"), "\n")
	for i, p := range parents {
		n := len(strings.Fields(p)) - 1
		if (i < len(parents)-1 && n != 1) || (i == len(parents)-1 && n != 0) {
			t.Fatalf("history is not linear: commit %d from the tip has parents %q", i, p)
		}
	}
	allowed := filepath.Join(t.TempDir(), "allowed_signers")
	if err := os.WriteFile(allowed, []byte(gitcli.Run(t, bare, "show", "main:policies/keys/allowed_signers")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for i, g := range strings.Split(gitcli.Run(t, bare, "-c", "gpg.ssh.allowedSignersFile="+allowed, "log", "--format=%G?", "main"), "\n") {
		if g != "G" {
			t.Fatalf("commit %d from the tip: git %%G? = %q", i, g)
		}
	}
	gitcli.Run(t, bare, "fsck", "--strict")
	r := testutil.OpenRepo(t, bare)
	rep, err := audit.Verify(context.Background(), r, audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Passed || rep.LogsChecked != wantLogs {
		t.Fatalf("audit: passed=%v, %d logs (want %d), failures %+v", rep.Passed, rep.LogsChecked, wantLogs, rep.Failures)
	}
}
