package freeze

import (
	"bytes"
	"encoding/json"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/google/go-cmp/cmp"

	"github.com/vision-ios/vios/internal/gov"
	"github.com/vision-ios/vios/internal/layout"
	"github.com/vision-ios/vios/internal/policy"
)

var update = flag.Bool("update", false, "rewrite the vios repository's baseline/v1.0.json from its policies/")

// TestRepositoryBaseline: the vios repository dogfoods the freeze. Its
// baseline/v1.0.json records the blob id of every frozen file under
// policies/, and `vios freeze check --repo .` in CI (ci.yml, freeze-guard.yml)
// fails when one changes. This test catches the drift earlier; while v1.0
// is still being written, regenerate the manifest with
//
//	go test ./internal/freeze -run TestRepositoryBaseline -update
func TestRepositoryBaseline(t *testing.T) {
	root := filepath.Join("..", "..")
	pol, err := policy.Load(os.DirFS(filepath.Join(root, layout.Policies)))
	if err != nil {
		t.Fatalf("the repository's policies: %v", err)
	}
	rl := newRules(&gov.Manifest{Categories: pol.Governance.Frozen, Regenerated: pol.Governance.Regenerated})
	files := map[string]plumbing.Hash{}
	err = fs.WalkDir(os.DirFS(root), layout.Policies, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !rl.listed(p) {
			return err
		}
		data, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(p)))
		if err != nil {
			return err
		}
		files[p] = plumbing.ComputeHash(plumbing.BlobObject, data)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	v, _ := ParseVersion("v1.0")
	manifestPath := filepath.Join(root, filepath.FromSlash(layout.BaselineV1))
	created := time.Now()
	old, readErr := os.ReadFile(manifestPath)
	if readErr == nil {
		var m gov.Manifest
		if json.Unmarshal(old, &m) == nil {
			if t0, err := time.Parse(time.RFC3339, m.CreatedAt); err == nil {
				created = t0
			}
		}
	}
	want := NewManifest(v, nil, created, pol.Governance.Frozen, pol.Governance.Regenerated, files)
	want.CommitNote = "the commit that adds this manifest: the vios repository dogfoods its own freeze"
	data := MarshalManifest(want)
	if *update {
		if err := os.WriteFile(manifestPath, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if readErr != nil {
		t.Fatalf("%v (generate it with -update)", readErr)
	}
	got, _, err := ParseManifest(layout.BaselineV1, old)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(got.Files, want.Files); diff != "" {
		t.Errorf("policies/ drifted from %s (-manifest +policies):\n%s\nA frozen policy changes through a G4 change request and a new baseline; while v1.0 is being written, rerun with -update.", layout.BaselineV1, diff)
	}
	if !bytes.Equal(old, data) {
		t.Errorf("%s is not what -update writes; rerun with -update", layout.BaselineV1)
	}
}
