package changereq

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"

	"github.com/vision-ios/vios/internal/fault"
	"github.com/vision-ios/vios/internal/ghub"
	"github.com/vision-ios/vios/internal/ledger"
	"github.com/vision-ios/vios/internal/testutil/gitcli"
)

// TestPushAndOpenPullRequest pushes a CR branch to a bare repository over
// file:// with go-git, checks it with stock git, and opens the pull request
// against a fake GitHub that checks what it is sent.
func TestPushAndOpenPullRequest(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	bare := filepath.Join(t.TempDir(), "remote.git")
	gitcli.RunEnv(t, t.TempDir(), nil, "init", "-q", "--bare", bare)
	if _, err := f.r.Git.CreateRemote(&config.RemoteConfig{Name: "origin", URLs: []string{"file://" + bare}}); err != nil {
		t.Fatal(err)
	}
	if err := Push(ctx, f.r, "nosuch", Branch("CR-0001"), ""); !fault.IsInput(err) {
		t.Fatalf("unknown remote: %v", err)
	}
	cr := f.newCR()
	b := Branch(cr.ID)
	if err := Push(ctx, f.r, "origin", b, ""); err != nil {
		t.Fatalf("push: %v", err)
	}
	if got := gitcli.RunEnv(t, bare, nil, "rev-parse", b.String()); got != f.tip(b).String() {
		t.Fatalf("remote %s at %s, want %s", b.Short(), got, f.tip(b))
	}
	gitcli.RunEnv(t, bare, nil, "fsck", "--strict")
	allowed := filepath.Join(f.dir, "policies/keys/allowed_signers")
	if got := gitcli.RunEnv(t, bare, nil, "-c", "gpg.ssh.allowedSignersFile="+allowed, "log", "-1", "--format=%G? %GS", b.String()); got != "G code@vision-ios.agents" {
		t.Fatalf("pushed commit signature: %q", got)
	}
	// Pushing again is a no-op; a diverged branch is refused, not forced.
	if err := Push(ctx, f.r, "origin", b, ""); err != nil {
		t.Fatalf("second push: %v", err)
	}
	if err := f.r.Git.Storer.SetReference(plumbing.NewHashReference(b, f.main)); err != nil {
		t.Fatal(err)
	}
	f.commit(b, "CODE", "diverge", "change_request", ledger.File{Path: DocPath("CR-0999"), Data: []byte("x")})
	if err := Push(ctx, f.r, "origin", b, ""); !fault.IsInput(err) || !strings.Contains(err.Error(), "lacks") {
		t.Fatalf("diverged push: %v", err)
	}

	// The pull request, through the go-github client.
	var got []string
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	defer srv.Close()
	mux.HandleFunc("/repos/vision-ios/governance/pulls", func(w http.ResponseWriter, r *http.Request) {
		var body map[string]any
		json.NewDecoder(r.Body).Decode(&body)
		got = append(got, fmt.Sprintf("%s pulls %s %s->%s", r.Method, body["title"], body["head"], body["base"]))
		if !strings.Contains(body["body"].(string), "## Declared paths\n\n- policies/economics.yaml") {
			t.Errorf("pull request body is not the document:\n%s", body["body"])
		}
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, `{"number": 12, "html_url": "https://github.com/vision-ios/governance/pull/12", "state": "open", "title": %q,
		  "head": {"ref": "cr/CR-0001", "sha": %q}, "base": {"ref": "main", "sha": %q}}`, body["title"], f.tip(b), f.main)
	})
	labelStatus := http.StatusOK
	mux.HandleFunc("/repos/vision-ios/governance/issues/12/labels", func(w http.ResponseWriter, r *http.Request) {
		var labels []string
		json.NewDecoder(r.Body).Decode(&labels)
		got = append(got, fmt.Sprintf("%s labels %s", r.Method, strings.Join(labels, ",")))
		w.WriteHeader(labelStatus)
		if labelStatus != http.StatusOK {
			fmt.Fprint(w, `{"message": "Resource not accessible by integration"}`)
			return
		}
		fmt.Fprint(w, `[{"name": "change-request"}, {"name": "G4"}]`)
	})
	gh, err := ghub.New(ghub.Config{Token: "t", APIURL: srv.URL, Repo: "vision-ios/governance"})
	if err != nil {
		t.Fatal(err)
	}
	pr, err := OpenPullRequest(ctx, gh, cr, "main")
	if err != nil {
		t.Fatal(err)
	}
	if pr.Number != 12 || pr.URL != "https://github.com/vision-ios/governance/pull/12" {
		t.Fatalf("pull request %+v", pr)
	}
	want := []string{"POST pulls CR-0001: Raise the per-summary ceiling cr/CR-0001->main", "POST labels change-request,G4"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("requests:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	labelStatus = http.StatusForbidden
	pr, err = OpenPullRequest(ctx, gh, cr, "main")
	if pr == nil || !fault.IsInput(err) || !strings.Contains(err.Error(), "pull request #12 opened, but labelling it failed") {
		t.Fatalf("label failure: %v %v", pr, err)
	}
}
