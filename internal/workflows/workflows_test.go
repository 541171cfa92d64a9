package workflows

import (
	"bytes"

	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/rhysd/actionlint"
)

// repoDir is the vios repository's own .github/workflows.
var repoDir = filepath.Join("..", "..", ".github", "workflows")

// TestRepositoryRunsTheEmbeddedWorkflows: the repository's workflows are
// exactly the ones `vios init --github` writes.
func TestRepositoryRunsTheEmbeddedWorkflows(t *testing.T) {
	entries, err := os.ReadDir(repoDir)
	if err != nil {
		t.Fatal(err)
	}
	var onDisk []string
	for _, e := range entries {
		if !e.IsDir() {
			onDisk = append(onDisk, e.Name())
		}
	}
	sort.Strings(onDisk)
	var embedded []string
	for _, f := range Files() {
		name := filepath.Base(f.Path)
		embedded = append(embedded, name)
		got, err := os.ReadFile(filepath.Join(repoDir, name))
		if err != nil {
			t.Errorf("%s: embedded but not in .github/workflows: %v", name, err)
			continue
		}
		if !bytes.Equal(got, f.Data) {
			t.Errorf(".github/workflows/%s differs from internal/workflows/files/%s: copy one over the other", name, name)
		}
	}
	if strings.Join(onDisk, " ") != strings.Join(embedded, " ") {
		t.Errorf(".github/workflows holds %v, internal/workflows/files %v", onDisk, embedded)
	}
	want := []string{"ci.yml", "daily-cost-report.yml", "freeze-guard.yml", "g4-gate.yml", "production-cycle.yml", "sla-watch.yml", "weekly-attestation.yml"}
	if strings.Join(embedded, " ") != strings.Join(want, " ") {
		t.Errorf("workflows %v, want %v", embedded, want)
	}
}

// TestActionlint fails on any actionlint finding in any workflow (with
// shellcheck on the run: scripts when it is installed).
func TestActionlint(t *testing.T) {
	opts := &actionlint.LinterOptions{Oneline: true}
	if p, err := exec.LookPath("shellcheck"); err == nil {
		opts.Shellcheck = p
	}
	var out bytes.Buffer
	l, err := actionlint.NewLinter(&out, opts)
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, dir := range []string{repoDir, "files"} {
		m, _ := filepath.Glob(filepath.Join(dir, "*.yml"))
		paths = append(paths, m...)
	}
	if len(paths) < 14 {
		t.Fatalf("found %d workflow files: %v", len(paths), paths)
	}
	errs, err := l.LintFiles(paths, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(errs) > 0 {
		t.Fatalf("actionlint: %d finding(s):\n%s", len(errs), out.String())
	}
}

// TestLeastPrivilege: every workflow states its permissions, pins its
// actions by commit, and the writers share one concurrency group.
func TestLeastPrivilege(t *testing.T) {
	for _, f := range Files() {
		s := string(f.Data)
		name := filepath.Base(f.Path)
		if !strings.Contains(s, "\npermissions:\n") {
			t.Errorf("%s: no top-level permissions", name)
		}
		for _, line := range strings.Split(s, "\n") {
			if ref, ok := strings.CutPrefix(strings.TrimLeft(strings.TrimSpace(line), "- "), "uses: "); ok {
				at := strings.Index(ref, "@")
				if at < 0 || len(strings.Fields(ref[at+1:])[0]) != 40 {
					t.Errorf("%s: action not pinned by commit: %s", name, strings.TrimSpace(line))
				}
			}
		}
		writes := strings.Contains(s, "contents: write")
		if writes != strings.Contains(s, "group: vios-governance-branch") {
			t.Errorf("%s: writes the branch = %v, in the governance-branch group = %v", name, writes, !writes)
		}
		if strings.Contains(s, "secrets.VIOS_KEY_") && strings.Contains(s, "pull_request") {
			t.Errorf("%s: keys in a pull request workflow", name)
		}
	}
}
