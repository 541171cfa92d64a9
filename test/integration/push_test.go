package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// pushSize is writers × cycles of TestConcurrentPushProcesses: the
// acceptance run, 8 processes × 25 cycles, by default (about 30 s over
// file://, where vios writes the remote in-process, and 70 s through git
// http-backend, which starts git programs for every request, on 2 cores).
// Under the race detector (make test, CI) every vios process is
// race-instrumented and the run takes minutes, so it is 3 × 3 there unless
// VIOS_PUSH_FULL=1; internal/remote's TestConcurrentPush runs the 8 × 25
// acceptance size in-process under the race detector. VIOS_PUSH_WRITERS and
// VIOS_PUSH_CYCLES set other sizes.
func pushSize() (writers, cycles int) {
	writers, cycles = 8, 25
	if raceEnabled && os.Getenv("VIOS_PUSH_FULL") != "1" {
		writers, cycles = 3, 3
	}
	if v, err := strconv.Atoi(os.Getenv("VIOS_PUSH_WRITERS")); err == nil && v > 0 {
		writers = v
	}
	if v, err := strconv.Atoi(os.Getenv("VIOS_PUSH_CYCLES")); err == nil && v > 0 {
		cycles = v
	}
	return writers, cycles
}

// TestConcurrentPushProcesses: concurrent `vios cycle run --push`
// processes, each writer on its own `git clone` of one bare repository,
// served over file:// and through git http-backend on loopback. Every
// process succeeds and reports a commit that is on the remote; the remote
// ends with one log per cycle, a linear history, every commit signature
// good for stock git (%G? = G), and `vios audit verify` (lineage included)
// passes.
func TestConcurrentPushProcesses(t *testing.T) {
	for _, overHTTP := range []bool{false, true} {
		name := map[bool]string{false: "file", true: "http"}[overHTTP]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			writers, cycles := pushSize()
			f := newFixture(t, 0)
			root := t.TempDir()
			bare := filepath.Join(root, "gov.git")
			git(t, root, "init", "--bare", "-b", "main", bare)
			git(t, bare, "config", "http.receivepack", "true")
			git(t, bare, "config", "receive.autogc", "false") // as busy servers do: gc out of band
			git(t, f.repo, "push", "-q", bare, "main")
			url := "file://" + bare
			if overHTTP {
				url = serveGit(t, root) + "/gov.git"
			}
			clones := make([]string, writers)
			for k := range clones {
				clones[k] = filepath.Join(t.TempDir(), "w")
				git(t, root, "clone", "-q", url, clones[k])
			}
			start := time.Now()
			commits := make([][]string, writers)
			var wg sync.WaitGroup
			for k := range clones {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; i < cycles; i++ {
						res, err := runLong(viosBin, "cycle", "run", "--repo", clones[k], "--keys", f.keys,
							"--at", slot(1+k*cycles+i), "--push", "--push-attempts", "1000", "-o", "json")
						if err != nil {
							t.Error(err)
							return
						}
						if res.code != 0 || strings.Contains(res.stderr, "DATA RACE") {
							t.Errorf("writer %d cycle %d: %s", k, i, res)
							return
						}
						var out struct {
							Commit string `json:"commit"`
						}
						if err := json.Unmarshal([]byte(res.stdout), &out); err != nil {
							t.Errorf("writer %d cycle %d: %v\n%s", k, i, err, res)
							return
						}
						commits[k] = append(commits[k], out.Commit)
					}
				}()
			}
			wg.Wait()
			if t.Failed() {
				return
			}
			d := time.Since(start)
			t.Logf("%d processes × %d cycles over %s: %v, %.2f commits/s landed", writers, cycles, name, d.Round(time.Millisecond), float64(writers*cycles)/d.Seconds())

			// The commit each process reported is the one on the remote.
			onRemote := map[string]bool{}
			for _, c := range strings.Split(git(t, bare, "rev-list", "main"), "\n") {
				onRemote[c] = true
			}
			for k := range commits {
				for _, c := range commits[k] {
					if !onRemote[c] {
						t.Errorf("writer %d reported %s, which is not on the remote's main", k, c)
					}
				}
			}
			lines := strings.Split(git(t, bare, "log", "--format=%H %p", "main"), "\n")
			for i, l := range lines {
				if n := len(strings.Fields(l)) - 1; (i < len(lines)-1 && n != 1) || (i == len(lines)-1 && n != 0) {
					t.Fatalf("remote history is not linear at %q", l)
				}
			}
			signers := filepath.Join(root, "allowed_signers")
			writeFile(t, signers, []byte(git(t, bare, "show", "main:policies/keys/allowed_signers")+"\n"), 0o644)
			for i, g := range strings.Split(git(t, bare, "-c", "gpg.ssh.allowedSignersFile="+signers, "log", "--format=%G?", "main"), "\n") {
				if g != "G" {
					t.Fatalf("commit %d from the tip: %%G? = %q", i, g)
				}
			}
			git(t, bare, "fsck", "--strict")
			rep, code := audit(t, bare)
			if code != 0 || rep.LogsChecked != writers*cycles {
				t.Fatalf("audit of the remote: exit %d, %d logs (want %d)\n%s", code, rep.LogsChecked, writers*cycles, dumpFailures(rep))
			}
			// A writer that pulls the rest is in step and clean.
			mustRun(t, 0, "cycle", "run", "--repo", clones[0], "--keys", f.keys, "--at", slot(1), "--push")
			if st := git(t, clones[0], "status", "--porcelain", "--untracked-files=all"); st != "" {
				t.Errorf("clone after the final sync:\n%s", st)
			}
		})
	}
}

// runLong runs vios like tryExecute, with a timeout fit for a writer that
// may lose many races in a row: under 8 writers on 2 cores a push round
// (fetch, re-run, receive-pack) takes seconds.
func runLong(name string, args ...string) (result, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = tmpDir
	cmd.Env = baseEnv()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	res := result{stdout: stdout.String(), stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
		return res, nil
	case ctx.Err() != nil:
		return res, fmt.Errorf("%s %s: timed out\n%s", name, strings.Join(args, " "), res)
	case errors.As(err, &ee):
		res.code = ee.ExitCode()
		return res, nil
	}
	return res, err
}

// serveGit serves the bare repositories below root through git
// http-backend on loopback.
func serveGit(t *testing.T, root string) string {
	t.Helper()
	out, err := exec.Command("git", "--exec-path").Output()
	if err != nil {
		t.Fatal(err)
	}
	h := &cgi.Handler{
		Path:   filepath.Join(strings.TrimSpace(string(out)), "git-http-backend"),
		Env:    append(baseEnv(), "GIT_PROJECT_ROOT="+root, "GIT_HTTP_EXPORT_ALL=1"),
		Stderr: io.Discard,
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}
