package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/spf13/cobra"

	"github.com/vision-ios/vios/internal/changereq"
	"github.com/vision-ios/vios/internal/fault"
	"github.com/vision-ios/vios/internal/gov"
	"github.com/vision-ios/vios/internal/keys"
	"github.com/vision-ios/vios/internal/ledger"
	"github.com/vision-ios/vios/internal/policy"
)

// runCR runs `vios cr ...` or `vios github ...` in-process under a root
// carrying the global flags, whatever root.go registers.
func runCR(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	g := &Globals{stdout: &out, stderr: &errb}
	root := &cobra.Command{Use: "vios", SilenceUsage: true, SilenceErrors: true}
	pf := root.PersistentFlags()
	pf.StringVar(&g.Repo, "repo", ".", "")
	pf.StringVar(&g.Keys, "keys", "", "")
	pf.StringVar(&g.Now, "now", "", "")
	pf.StringVarP(&g.Output, "output", "o", "text", "")
	root.AddCommand(newCRCmd(g), newGitHubCmd(g))
	root.SetArgs(args)
	root.SetOut(&out)
	root.SetErr(&errb)
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error { return fault.Inputf("%v", err) })
	err := root.ExecuteContext(context.Background())
	code := fault.Code(err)
	if code == fault.CodeRuntime && isUsage(err) {
		code = fault.CodeInput
	}
	if err != nil {
		errb.WriteString("vios: " + err.Error() + "\n")
	}
	return out.String(), errb.String(), code
}

// crRepo is a governance repository with keys on disk whose main branch
// lists lars-bot as LARS's GitHub login.
func crRepo(t *testing.T) (repo, keyDir string) {
	t.Helper()
	for _, v := range []string{"GITHUB_TOKEN", "GITHUB_API_URL", "GITHUB_REPOSITORY", "GITHUB_ACTIONS", "GITHUB_STEP_SUMMARY", "VIOS_GIT_TOKEN"} {
		t.Setenv(v, "")
	}
	keyDir = filepath.Join(t.TempDir(), "keys")
	if _, err := keys.Generate(keyDir); err != nil {
		t.Fatal(err)
	}
	signers, err := keys.LoadAll(keyDir, policy.Agents...)
	if err != nil {
		t.Fatal(err)
	}
	repo = filepath.Join(t.TempDir(), "gov")
	init := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	if _, err := gov.Init(context.Background(), repo, signers, init); err != nil {
		t.Fatal(err)
	}
	commitOn(t, repo, keyDir, "main", "LARS", "policy", func(get func(string) string) map[string]string {
		return map[string]string{"policies/governance.yaml": strings.Replace(get("policies/governance.yaml"), "LARS: []", "LARS: [lars-bot]", 1)}
	})
	return repo, keyDir
}

// commitOn commits edited files on branch, signed by agent.
func commitOn(t *testing.T, repo, keyDir, branch, agent, kind string, edit func(get func(string) string) map[string]string) plumbing.Hash {
	t.Helper()
	r, err := ledger.Open(repo)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	b := plumbing.NewBranchReferenceName(branch)
	ref, err := r.Git.Storer.Reference(b)
	if err != nil {
		t.Fatal(err)
	}
	get := func(p string) string {
		data, err := r.ReadFile(ref.Hash(), p)
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}
	var files []ledger.File
	for p, d := range edit(get) {
		files = append(files, ledger.File{Path: p, Data: []byte(d)})
	}
	s, err := keys.Load(keyDir, agent)
	if err != nil {
		t.Fatal(err)
	}
	ssh, _ := s.SSH()
	h, err := r.ApplyTo(context.Background(), b, &ledger.Change{Subject: "edit", Trailers: [][2]string{{"Vios-Artifact", kind}},
		Files: files, Author: gov.Author(agent), When: time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC), Signer: ssh, Parent: ref.Hash()})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestCRCommandsEndToEnd(t *testing.T) {
	repo, keyDir := crRepo(t)
	common := []string{"--repo", repo, "--keys", keyDir, "--now", "2026-11-02T10:00:00Z"}

	out, stderr, code := runCR(t, append([]string{"cr", "new", "--title", "Raise the per-summary ceiling", "--category", "economic_safety_constraints",
		"--rationale", "Costs rose.", "--impact", "economic_safety_constraints=ADR-012 ceiling 0.050 -> 0.060", "-o", "json"}, common...)...)
	if code != 0 {
		t.Fatalf("cr new: exit %d: %s", code, stderr)
	}
	var created struct {
		ID, Branch, Commit string
		Pushed             bool
	}
	if err := json.Unmarshal([]byte(out), &created); err != nil || created.ID != "CR-0001" || created.Branch != "cr/CR-0001" || created.Pushed {
		t.Fatalf("cr new output %v: %s", err, out)
	}

	// The change itself and the next manifest, as LARS commits them.
	commitOn(t, repo, keyDir, "cr/CR-0001", "LARS", "policy", func(get func(string) string) map[string]string {
		return map[string]string{"policies/economics.yaml": strings.Replace(get("policies/economics.yaml"), "per_summary_ceiling_usd: 0.050", "per_summary_ceiling_usd: 0.060", 1)}
	})
	manifest := `{"version": "v1.1", "commit": null, "created_at": "2026-11-02T00:00:00Z", "categories": {"economic_safety_constraints": ["policies/economics.yaml"]}, "files": {}}`
	commitOn(t, repo, keyDir, "cr/CR-0001", "LARS", "baseline", func(func(string) string) map[string]string {
		return map[string]string{"baseline/v1.1.json": manifest}
	})

	// Offline, before any sign-off: the gate fails naming the rules.
	out, _, code = runCR(t, append([]string{"cr", "gate", "--base", "main", "--head", "cr/CR-0001"}, common...)...)
	if code != 1 || !strings.Contains(out, "FAIL lars-approval") || !strings.Contains(out, "FAIL vega-recommendation") || !strings.Contains(out, "PASS version-increment") {
		t.Fatalf("gate before sign-offs: exit %d\n%s", code, out)
	}

	out, stderr, code = runCR(t, append([]string{"cr", "recommend", "CR-0001", "--signer", "VEGA", "--verdict", "approve"}, common...)...)
	if code != 0 || !strings.Contains(out, "VEGA recommends approve") {
		t.Fatalf("cr recommend: exit %d %s %s", code, out, stderr)
	}
	out, stderr, code = runCR(t, append([]string{"cr", "approve", "CR-0001", "--signer", "LARS"}, common...)...)
	if code != 0 || !strings.Contains(out, "approved by LARS") {
		t.Fatalf("cr approve: exit %d %s %s", code, out, stderr)
	}
	out, _, code = runCR(t, append([]string{"cr", "approve", "CR-0001", "--signer", "LARS"}, common...)...)
	if code != 0 || !strings.Contains(out, "nothing committed") {
		t.Fatalf("second approve: exit %d %s", code, out)
	}

	// Offline on the signed records: every rule passes.
	out, stderr, code = runCR(t, append([]string{"cr", "gate", "--base", "main", "--head", "cr/CR-0001"}, common...)...)
	if code != 0 || !strings.Contains(out, "G4 gate PASS") || strings.Contains(out, "FAIL") {
		t.Fatalf("gate after sign-offs: exit %d\n%s%s", code, out, stderr)
	}

	// Online through go-github against a fake GitHub, posting the status:
	// the head moved since LARS's review, so the review is stale, but the
	// signed record still names the head tree.
	r, _ := ledger.Open(repo)
	mainRef, _ := r.Git.Storer.Reference(plumbing.NewBranchReferenceName("main"))
	headRef, _ := r.Git.Storer.Reference(changereq.Branch("CR-0001"))
	r.Close()
	head, base := headRef.Hash().String(), mainRef.Hash().String()
	var posted []map[string]any
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	defer srv.Close()
	mux.HandleFunc("/repos/vision-ios/governance/pulls/5", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"number": 5, "state": "open", "html_url": "https://github.com/vision-ios/governance/pull/5", "title": "CR-0001",
		  "head": {"ref": "cr/CR-0001", "sha": %q}, "base": {"ref": "main", "sha": %q}}`, head, base)
	})
	mux.HandleFunc("/repos/vision-ios/governance/pulls/5/files", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `[{"filename": "policies/economics.yaml", "status": "modified"}, {"filename": "baseline/v1.1.json", "status": "added"},
		  {"filename": "05_GOVERNANCE/CHANGE_REQUESTS/CR-0001.md", "status": "added"}]`)
	})
	mux.HandleFunc("/repos/vision-ios/governance/pulls/5/reviews", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `[{"id": 1, "user": {"login": "lars-bot"}, "state": "APPROVED", "commit_id": %q, "submitted_at": "2026-11-02T09:00:00Z"}]`, base)
	})
	mux.HandleFunc("/repos/vision-ios/governance/statuses/"+head, func(w http.ResponseWriter, r *http.Request) {
		var body map[string]any
		json.NewDecoder(r.Body).Decode(&body)
		posted = append(posted, body)
		w.WriteHeader(http.StatusCreated)
		fmt.Fprint(w, `{"id": 1, "state": "success", "context": "G4 gate"}`)
	})
	t.Setenv("GITHUB_TOKEN", "tok")
	t.Setenv("GITHUB_API_URL", srv.URL)
	t.Setenv("GITHUB_REPOSITORY", "vision-ios/governance")
	t.Setenv("GITHUB_ACTIONS", "true")
	summary := filepath.Join(t.TempDir(), "summary.md")
	t.Setenv("GITHUB_STEP_SUMMARY", summary)
	t.Setenv("GITHUB_SERVER_URL", "https://github.com")
	t.Setenv("GITHUB_RUN_ID", "99")
	out, stderr, code = runCR(t, append([]string{"cr", "gate", "--pr", "5", "--post-status"}, common...)...)
	if code != 0 || !strings.Contains(out, "approval by lars-bot is stale") || !strings.Contains(out, "names the head tree") {
		t.Fatalf("online gate: exit %d\n%s%s", code, out, stderr)
	}
	if len(posted) != 1 || posted[0]["state"] != "success" || posted[0]["context"] != "G4 gate" || posted[0]["target_url"] != "https://github.com/vision-ios/governance/actions/runs/99" {
		t.Fatalf("posted statuses %v", posted)
	}
	if data, _ := os.ReadFile(summary); !strings.Contains(string(data), "### G4 gate passed") || !strings.Contains(string(data), "| lars-approval | ✅ pass |") {
		t.Fatalf("step summary:\n%s", data)
	}

	// A failing gate posts failure with the reason, annotates, and exits 1.
	mux.HandleFunc("/repos/vision-ios/governance/pulls/6", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"number": 6, "head": {"ref": "main", "sha": %q}, "base": {"ref": "main", "sha": %q}}`, head, head)
	})
	mux.HandleFunc("/repos/vision-ios/governance/pulls/6/files", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `[{"filename": "policies/cycle.yaml", "status": "modified"}]`)
	})
	mux.HandleFunc("/repos/vision-ios/governance/pulls/6/reviews", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, `[]`) })
	out, _, code = runCR(t, append([]string{"cr", "gate", "--pr", "6", "--post-status"}, common...)...)
	if code != 1 || !strings.Contains(out, "::error title=G4 gate%3A one-change-request::frozen paths changed without a change request: policies/cycle.yaml") {
		t.Fatalf("failing online gate: exit %d\n%s", code, out)
	}
	if last := posted[len(posted)-1]; last["state"] != "failure" || !strings.HasPrefix(last["description"].(string), "one-change-request: frozen paths changed without a change request") || len([]rune(last["description"].(string))) > 140 {
		t.Fatalf("failure status %v", last)
	}
}

func TestCRUsageErrors(t *testing.T) {
	repo, keyDir := crRepo(t)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"gate without a target", []string{"cr", "gate"}, "give --pr N, or --base REF and --head REF"},
		{"gate with both", []string{"cr", "gate", "--pr", "1", "--base", "main", "--head", "main"}, "not both"},
		{"gate --pr without a token", []string{"cr", "gate", "--pr", "1"}, "GITHUB_TOKEN"},
		{"gate on an unknown ref", []string{"cr", "gate", "--base", "main", "--head", "nope"}, `revision "nope" does not resolve`},
		{"approve by VEGA", []string{"cr", "approve", "CR-0001", "--signer", "VEGA"}, "--signer must be LARS"},
		{"recommend by LARS", []string{"cr", "recommend", "CR-0001", "--signer", "LARS", "--verdict", "approve"}, "--signer must be VEGA"},
		{"approve a bad id", []string{"cr", "approve", "CR-1", "--signer", "LARS"}, "want CR-NNNN"},
		{"approve without id", []string{"cr", "approve", "--signer", "LARS"}, "accepts 1 arg"},
		{"new without impact", []string{"cr", "new", "--title", "t", "--rationale", "r", "--category", "economic_safety_constraints"}, "--impact economic_safety_constraints=TEXT"},
		{"new with a bad impact flag", []string{"cr", "new", "--title", "t", "--impact", "nothing"}, "want CATEGORY=TEXT"},
		{"new --open-pr without a token", []string{"cr", "new", "--title", "t", "--rationale", "r", "--category", "economic_safety_constraints", "--impact", "economic_safety_constraints=i", "--open-pr", "--github-repo", "a/b"}, "GITHUB_TOKEN"},
		{"protect without a token", []string{"github", "protect", "--github-repo", "a/b"}, "GITHUB_TOKEN"},
		{"protect with 9 approvals", []string{"github", "protect", "--approvals", "9"}, "1 to 6"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, stderr, code := runCR(t, append(tc.args, "--repo", repo, "--keys", keyDir, "--now", "2026-11-02T10:00:00Z")...)
			if code != 2 || !strings.Contains(stderr, tc.want) {
				t.Fatalf("exit %d, stderr %q; want 2 and %q", code, stderr, tc.want)
			}
			if strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
				t.Fatalf("error is not one line: %q", stderr)
			}
		})
	}
	// Nothing was written by the refusals.
	r, _ := ledger.Open(repo)
	defer r.Close()
	if _, err := r.Git.Storer.Reference(changereq.Branch("CR-0001")); err == nil {
		t.Fatal("a refused cr new left its branch")
	}
}

func TestGitHubProtect(t *testing.T) {
	repo, _ := crRepo(t)
	var body map[string]any
	signatures := 0
	status := http.StatusOK
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	defer srv.Close()
	mux.HandleFunc("/repos/vision-ios/governance/branches/main/protection", func(w http.ResponseWriter, r *http.Request) {
		json.NewDecoder(r.Body).Decode(&body)
		w.WriteHeader(status)
		if status != http.StatusOK {
			fmt.Fprint(w, `{"message": "Not Found", "documentation_url": "https://docs.github.com/rest/branches/branch-protection#update-branch-protection"}`)
			return
		}
		fmt.Fprint(w, `{"required_status_checks": {"strict": true, "contexts": ["freeze-guard", "G4 gate"], "checks": [{"context": "freeze-guard", "app_id": null}, {"context": "G4 gate", "app_id": null}]},
		  "required_pull_request_reviews": {"dismiss_stale_reviews": true, "require_code_owner_reviews": false, "required_approving_review_count": 1},
		  "required_signatures": {"enabled": false}, "enforce_admins": {"enabled": false}}`)
	})
	mux.HandleFunc("/repos/vision-ios/governance/branches/main/protection/required_signatures", func(w http.ResponseWriter, r *http.Request) {
		signatures++
		fmt.Fprint(w, `{"enabled": true}`)
	})
	t.Setenv("GITHUB_TOKEN", "tok")
	t.Setenv("GITHUB_API_URL", srv.URL)
	out, stderr, code := runCR(t, "github", "protect", "--repo", repo, "--github-repo", "vision-ios/governance")
	if code != 0 || signatures != 1 || !strings.Contains(out, "required checks:  freeze-guard, G4 gate") || !strings.Contains(out, "signed commits:   true") {
		t.Fatalf("protect: exit %d\n%s%s", code, out, stderr)
	}
	checks := body["required_status_checks"].(map[string]any)["checks"].([]any)
	if len(checks) != 2 || checks[1].(map[string]any)["context"] != "G4 gate" || body["required_pull_request_reviews"].(map[string]any)["dismiss_stale_reviews"] != true {
		t.Fatalf("protection request %v", body)
	}
	status = http.StatusNotFound
	_, stderr, code = runCR(t, "github", "protect", "--repo", repo, "--github-repo", "vision-ios/governance")
	if code != 2 || !strings.Contains(stderr, "not found on GitHub: 404 Not Found") {
		t.Fatalf("protect on 404: exit %d %s", code, stderr)
	}
}

func TestCRHelp(t *testing.T) {
	for _, cmd := range [][]string{{"cr", "new"}, {"cr", "approve"}, {"cr", "recommend"}, {"cr", "gate"}, {"github", "protect"}} {
		out, _, code := runCR(t, append(cmd, "--help")...)
		if code != 0 || !strings.Contains(out, "Usage:") || !strings.Contains(out, "Examples:") {
			t.Errorf("%v --help: exit %d\n%s", cmd, code, out)
		}
	}
}
