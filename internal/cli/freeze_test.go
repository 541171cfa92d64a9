package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/vision-ios/vios/internal/fault"
	"github.com/vision-ios/vios/internal/gov"
	"github.com/vision-ios/vios/internal/keys"
	"github.com/vision-ios/vios/internal/ledger"
	"github.com/vision-ios/vios/internal/policy"
	"github.com/vision-ios/vios/internal/testutil"
)

// runFreeze runs `vios freeze ...` in-process with the global flags the
// root command would give it.
func runFreeze(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	g := &Globals{stdout: &out, stderr: &errb}
	root := &cobra.Command{Use: "vios", SilenceUsage: true, SilenceErrors: true}
	pf := root.PersistentFlags()
	pf.StringVar(&g.Repo, "repo", ".", "")
	pf.StringVar(&g.Keys, "keys", "", "")
	pf.StringVar(&g.Now, "now", "", "")
	pf.StringVarP(&g.Output, "output", "o", "text", "")
	root.AddCommand(newFreezeCmd(g))
	root.SetArgs(args)
	root.SetOut(&out)
	root.SetErr(&errb)
	err := root.ExecuteContext(context.Background())
	if err != nil {
		errb.WriteString("vios: " + err.Error() + "\n")
	}
	return out.String(), errb.String(), fault.Code(err)
}

// freezeRepo initialises a governance repository with keys on disk and
// commits an edit of economics.yaml signed by LARS.
func freezeRepo(t *testing.T) (repo, keyDir string) {
	t.Helper()
	keyDir = filepath.Join(t.TempDir(), "keys")
	if _, err := keys.Generate(keyDir); err != nil {
		t.Fatal(err)
	}
	signers, err := keys.LoadAll(keyDir, policy.Agents...)
	if err != nil {
		t.Fatal(err)
	}
	repo = filepath.Join(t.TempDir(), "gov")
	if _, err := gov.Init(context.Background(), repo, signers, testutil.Epoch); err != nil {
		t.Fatal(err)
	}
	r, err := ledger.Open(repo)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	head, _ := r.Head()
	eco, _ := r.HeadFile("policies/economics.yaml")
	ssh, _ := signers["LARS"].SSH()
	_, err = r.Apply(context.Background(), &ledger.Change{
		Subject: "raise the ceiling", Files: []ledger.File{{Path: "policies/economics.yaml", Data: bytes.Replace(eco, []byte("0.05"), []byte("0.06"), 1)}},
		Author: gov.Author("LARS"), When: testutil.Epoch.Add(3600e9), Signer: ssh, Parent: head,
	})
	if err != nil {
		t.Fatal(err)
	}
	return repo, keyDir
}

func TestFreezeCommands(t *testing.T) {
	repo, keyDir := freezeRepo(t)

	out, stderr, code := runFreeze(t, "freeze", "check", "--repo", repo)
	if code != 1 || !strings.Contains(out, "VIOLATION modified policies/economics.yaml  [economic safety constraints]") || !strings.Contains(stderr, "1 frozen path(s) changed against baseline v1.0") {
		t.Fatalf("check: exit %d\n%s\n%s", code, out, stderr)
	}
	out, _, code = runFreeze(t, "freeze", "check", "--repo", repo, "--baseline", "HEAD", "-o", "json")
	var rep struct {
		Passed  bool   `json:"passed"`
		Base    string `json:"base"`
		Head    string `json:"head"`
		Changed int    `json:"changed_files_examined"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != 1 || rep.Passed || rep.Base != rep.Head {
		t.Fatalf("check -o json against HEAD: exit %d %+v %v\n%s", code, rep, err, out)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"freeze", "check", "--repo", repo, "--baseline", "nope"}, `baseline "nope" does not resolve to a commit`},
		{[]string{"freeze", "check", "--repo", repo, "--head", "nope"}, `head "nope" does not resolve to a commit`},
		{[]string{"freeze", "cut", "--repo", repo, "--keys", keyDir, "--version", "v1.2"}, "does not increment baseline v1.0"},
		{[]string{"freeze", "cut", "--repo", repo, "--keys", keyDir, "--version", "2.0"}, "want vMAJOR.MINOR"},
		{[]string{"freeze", "cut", "--repo", repo, "--keys", t.TempDir(), "--version", "v1.1"}, "no private key"},
	} {
		_, stderr, code := runFreeze(t, tc.args...)
		if code != 2 || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, want 2 with %q\n%s", tc.args[1:], code, tc.want, stderr)
		}
	}

	out, stderr, code = runFreeze(t, "freeze", "manifest", "--repo", repo, "--version", "v1.1", "--now", "2026-11-02T00:00:00Z")
	var m gov.Manifest
	if err := json.Unmarshal([]byte(out), &m); code != 0 || err != nil || m.Version != "v1.1" || m.Commit != nil || len(m.Files) != 13 {
		t.Fatalf("freeze manifest: exit %d %v %+v\n%s", code, err, m, stderr)
	}
	if _, stderr, code := runFreeze(t, "freeze", "manifest", "--repo", repo, "--version", "v1.3"); code != 2 || !strings.Contains(stderr, "does not increment baseline v1.0") {
		t.Fatalf("freeze manifest v1.3: exit %d %s", code, stderr)
	}

	out, stderr, code = runFreeze(t, "freeze", "cut", "--repo", repo, "--keys", keyDir, "--version", "v1.1", "--now", "2026-11-02T00:00:00Z")
	if code != 0 || !strings.Contains(out, "baseline v1.1 cut after v1.0: baseline/v1.1.json") {
		t.Fatalf("cut: exit %d\n%s%s", code, out, stderr)
	}
	if out, stderr, code = runFreeze(t, "freeze", "check", "--repo", repo); code != 0 || !strings.Contains(out, "freeze holds") {
		t.Fatalf("check after cut: exit %d\n%s%s", code, out, stderr)
	}
}

func TestFreezeCheckInActions(t *testing.T) {
	repo, _ := freezeRepo(t)
	summary := filepath.Join(t.TempDir(), "summary.md")
	t.Setenv("GITHUB_ACTIONS", "true")
	t.Setenv("GITHUB_STEP_SUMMARY", summary)
	out, _, code := runFreeze(t, "freeze", "check", "--repo", repo)
	if code != 1 || !strings.Contains(out, "::error file=policies/economics.yaml,title=freeze%3A economic safety constraints::") {
		t.Fatalf("exit %d\n%s", code, out)
	}
	got, err := os.ReadFile(summary)
	if err != nil || !strings.Contains(string(got), "| `policies/economics.yaml` | economic safety constraints | modified |") {
		t.Fatalf("summary: %v\n%s", err, got)
	}
	// With -o json the annotations go to stderr and stdout stays JSON.
	out, stderr, _ := runFreeze(t, "freeze", "check", "--repo", repo, "-o", "json")
	if !json.Valid([]byte(out)) || !strings.Contains(stderr, "::error file=policies/economics.yaml") {
		t.Fatalf("json in Actions:\n%s\n%s", out, stderr)
	}
}

func TestFreezeHelp(t *testing.T) {
	for _, args := range [][]string{{"freeze", "check", "--help"}, {"freeze", "cut", "--help"}, {"freeze", "manifest", "--help"}} {
		out, _, code := runFreeze(t, args...)
		if code != 0 || !strings.Contains(out, "Examples:") {
			t.Errorf("%v: exit %d\n%s", args, code, out)
		}
	}
}
