package freeze

import (
	"context"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/vision-ios/vios/internal/fault"
	"github.com/vision-ios/vios/internal/gov"
	"github.com/vision-ios/vios/internal/layout"
	"github.com/vision-ios/vios/internal/testutil/gitcli"
)

func (f *fixture) cut(version, agent string) (*CutResult, error) {
	f.t.Helper()
	f.when = f.when.Add(time.Minute)
	return Cut(context.Background(), f.open(), version, f.signers[agent], f.when)
}

func TestCut(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	eco := strings.Replace(f.read("policies/economics.yaml"), "0.05", "0.06", 1)
	merged := f.commit("merge CR-0001", map[string]*string{"policies/economics.yaml": &eco})

	for _, tc := range []struct{ version, agent, want string }{
		{"v1.2", "LARS", "does not increment baseline v1.0 (the next version is v1.1 or v2.0)"},
		{"v1.0", "LARS", "does not increment"},
		{"1.1", "LARS", "want vMAJOR.MINOR"},
		{"v1.1", "FINN", "signed by LARS"},
	} {
		if _, err := f.cut(tc.version, tc.agent); !fault.IsInput(err) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("cut %s by %s: %v, want exit 2 with %q", tc.version, tc.agent, err, tc.want)
		}
	}

	res, err := f.cut("v1.1", "LARS")
	if err != nil {
		t.Fatal(err)
	}
	if !res.Committed || res.Recorded != merged.String() || res.Tag != "baseline/v1.1" || res.Previous != "v1.0" {
		t.Fatalf("cut: %+v", res)
	}
	var m gov.Manifest
	if err := json.Unmarshal([]byte(f.read("baseline/v1.1.json")), &m); err != nil {
		t.Fatal(err)
	}
	if m.Commit == nil || *m.Commit != merged.String() || m.Files["policies/economics.yaml"] != plumbing.ComputeHash(plumbing.BlobObject, []byte(eco)).String() {
		t.Fatalf("manifest %+v", m)
	}
	r := f.open()
	head, _ := r.Head()
	if res.Commit != head.String() {
		t.Fatalf("tag on %s, head %s", res.Commit, head)
	}
	// The new baseline holds, and is the default baseline from now on.
	rep := f.mustCheck(Options{})
	if !rep.Passed || rep.Baseline != "v1.1" || rep.BaselineCommit != merged.String() {
		t.Fatalf("check after cut: %+v", rep)
	}
	if _, err := f.cut("v1.1", "LARS"); !fault.IsInput(err) {
		t.Fatalf("second cut of v1.1: %v", err)
	}
	verifyTagWithGit(t, f.dir, "baseline/v1.0", "baseline/v1.1")
}

// TestCutManifestFromChangeRequest: the merged change request brought the
// manifest; cut only tags, and refuses a manifest that does not describe
// HEAD.
func TestCutManifestFromChangeRequest(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	crChange(f, "policies/economics.yaml", true)
	approve(f, "LARS")
	if rep := f.mustCheck(Options{Base: "baseline/v1.0"}); !rep.Passed {
		t.Fatalf("approved change request: %v", violations(rep))
	}
	det := f.read("policies/determinism.yaml") + "# not in the manifest\n"
	f.commit("sneak", map[string]*string{"policies/determinism.yaml": &det})
	if _, err := f.cut("v1.1", "LARS"); !fault.IsInput(err) || !strings.Contains(err.Error(), "policies/determinism.yaml") {
		t.Fatalf("cut with a stale manifest: %v", err)
	}
	orig := f.read("policies/determinism.yaml")
	orig = strings.TrimSuffix(orig, "# not in the manifest\n")
	head := f.commit("revert", map[string]*string{"policies/determinism.yaml": &orig})
	res, err := f.cut("v1.1", "LARS")
	if err != nil {
		t.Fatal(err)
	}
	if res.Committed || res.Commit != head.String() {
		t.Fatalf("cut: %+v", res)
	}
	if rep := f.mustCheck(Options{}); !rep.Passed || rep.Baseline != "v1.1" || rep.BaselineCommit != head.String() {
		t.Fatalf("check after cut: %+v", rep)
	}
	verifyTagWithGit(t, f.dir, "baseline/v1.1")
}

// verifyTagWithGit checks tags with stock git against the repository's
// allowed_signers, the independent verifier.
func verifyTagWithGit(t *testing.T, dir string, tags ...string) {
	t.Helper()
	for _, tool := range []string{"git", "ssh-keygen"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Logf("no %s: skipping git verify-tag", tool)
			return
		}
	}
	for _, tag := range tags {
		gitcli.Run(t, dir, "-c", "gpg.ssh.allowedSignersFile="+layout.AllowedSigners, "verify-tag", tag)
	}
}

// TestBuildManifest: the manifest of the first commit lists exactly what
// `vios init` recorded in baseline/v1.0.json.
func TestBuildManifest(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	r := f.open()
	head, _ := r.Head()
	v, _ := ParseVersion("v1.1")
	m, err := BuildManifest(r, head, v, f.when)
	if err != nil {
		t.Fatal(err)
	}
	var v10 gov.Manifest
	if err := json.Unmarshal([]byte(f.read(layout.BaselineV1)), &v10); err != nil {
		t.Fatal(err)
	}
	if len(m.Files) != len(v10.Files) || len(m.Files) < 10 || m.Version != "v1.1" || m.Commit != nil {
		t.Fatalf("built %d files, v1.0 has %d: %+v", len(m.Files), len(v10.Files), m)
	}
	for p, id := range v10.Files {
		if m.Files[p] != id {
			t.Errorf("%s: built %s, v1.0 %s", p, m.Files[p], id)
		}
	}
	if _, _, err := ParseManifest("baseline/v1.1.json", MarshalManifest(m)); err != nil {
		t.Fatal(err)
	}
}
