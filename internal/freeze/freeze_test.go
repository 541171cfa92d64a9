package freeze

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/google/go-cmp/cmp"

	"github.com/vision-ios/vios/internal/fault"
	"github.com/vision-ios/vios/internal/gov"
	"github.com/vision-ios/vios/internal/layout"
)

func TestCheck(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		change func(f *fixture)
		base   func(f *fixture) string // "" = default (the baseline tag)
		want   []string
	}{
		{
			name: "economics edited",
			change: func(f *fixture) {
				eco := strings.Replace(f.read("policies/economics.yaml"), "0.05", "5.0", 1)
				f.commit("raise the ceiling", map[string]*string{"policies/economics.yaml": &eco})
			},
			want: []string{"modified policies/economics.yaml [economic safety constraints]"},
		},
		{
			name:   "new signature log",
			change: func(f *fixture) { f.commit("cycle", map[string]*string{logPath: str(`{"a":1}`)}) },
			want:   []string{},
		},
		{
			name: "existing signature log edited",
			change: func(f *fixture) {
				f.commit("cycle", map[string]*string{logPath: str(`{"a":1}`)})
				f.commit("edit", map[string]*string{logPath: str(`{"a":2}`)})
			},
			want: []string{"modified " + logPath + " [canonical evidence]"},
		},
		{
			name: "existing signature log edited, against the pull request's base",
			change: func(f *fixture) {
				f.commit("cycle", map[string]*string{logPath: str(`{"a":1}`)})
				f.commit("edit", map[string]*string{logPath: str(`{"a":2}`)})
			},
			base: func(f *fixture) string { return "HEAD~1" },
			want: []string{"modified " + logPath + " [canonical evidence]"},
		},
		{
			name:   "evidence readme deleted",
			change: func(f *fixture) { f.commit("rm", map[string]*string{layout.CostReports + "/README.md": nil}) },
			want:   []string{"deleted " + layout.CostReports + "/README.md [canonical evidence]"},
		},
		{
			name: "state and status regenerated",
			change: func(f *fixture) {
				f.commit("state", map[string]*string{layout.StateFile: str("{}\n"), layout.StatusFile: str("# status\n")})
				f.commit("state", map[string]*string{layout.StateFile: str("{\"x\":1}\n"), layout.StatusFile: str("# status 2\n")})
			},
			want: []string{},
		},
		{
			name: "agent contract added",
			change: func(f *fixture) {
				f.commit("new agent", map[string]*string{"policies/agents/eve.yaml": str("agent: EVE\n")})
			},
			want: []string{"added policies/agents/eve.yaml [agent contracts]"},
		},
		{
			name:   "registry key deleted",
			change: func(f *fixture) { f.commit("rm", map[string]*string{layout.AllowedSigners: nil}) },
			want:   []string{"deleted " + layout.AllowedSigners + " [signature verification requirements]"},
		},
		{
			name: "baseline manifest edited",
			change: func(f *fixture) {
				m := f.read(layout.BaselineV1) + " "
				f.commit("edit manifest", map[string]*string{layout.BaselineV1: &m})
			},
			want: []string{"modified baseline/v1.0.json [baseline manifest]"},
		},
		{
			name: "new manifest without a change request",
			change: func(f *fixture) {
				f.commit("v1.1", map[string]*string{"baseline/v1.1.json": str(f.read(layout.BaselineV1))})
			},
			want: []string{"added baseline/v1.1.json [baseline manifest]"},
		},
		{
			name: "unfrozen files",
			change: func(f *fixture) {
				f.commit("docs", map[string]*string{"README.md": str("hi\n"), "docs/x.md": str("x\n")})
			},
			want: []string{},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			tc.change(f)
			opt := Options{}
			if tc.base != nil {
				opt.Base = tc.base(f)
			}
			rep := f.mustCheck(opt)
			if diff := cmp.Diff(tc.want, violations(rep)); diff != "" {
				t.Fatalf("violations (-want +got):\n%s\nnotes: %v", diff, rep.Notes)
			}
			if rep.Passed != (len(tc.want) == 0) {
				t.Fatalf("passed = %v with %d violations", rep.Passed, len(rep.Violations))
			}
			wantCode := 0
			if !rep.Passed {
				wantCode = fault.CodeGovernance
			}
			if got := fault.Code(rep.Err()); got != wantCode {
				t.Fatalf("exit code %d, want %d", got, wantCode)
			}
			if rep.Baseline != "v1.0" || rep.Manifest != layout.BaselineV1 || !rep.CommitPresent {
				t.Fatalf("baseline %s %s present=%v", rep.Baseline, rep.Manifest, rep.CommitPresent)
			}
		})
	}
}

// TestShallowClone: without the baseline commit (a shallow clone has only
// head), the manifest's blob ids still catch drift.
func TestShallowClone(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	var m gov.Manifest
	if err := json.Unmarshal([]byte(f.read(layout.BaselineV1)), &m); err != nil {
		t.Fatal(err)
	}
	missing := strings.Repeat("ab", 20)
	m.Commit = &missing
	data := string(MarshalManifest(&m))
	eco := f.read("policies/economics.yaml") + "# drift\n"
	f.commit("drift", map[string]*string{layout.BaselineV1: &data, "policies/economics.yaml": &eco})
	// A clone without tags and without the recorded commit: the manifest
	// comes from head and only its blob ids are there to compare.
	if err := os.Remove(filepath.Join(f.dir, ".git", "refs", "tags", "baseline", "v1.0")); err != nil {
		t.Fatal(err)
	}
	rep := f.mustCheck(Options{})
	if diff := cmp.Diff([]string{"modified policies/economics.yaml [economic safety constraints]"}, violations(rep)); diff != "" {
		t.Fatalf("violations (-want +got):\n%s", diff)
	}
	if rep.CommitPresent || !strings.Contains(strings.Join(rep.Notes, "\n"), "not in this clone") {
		t.Fatalf("present=%v notes %q", rep.CommitPresent, rep.Notes)
	}
}

func TestBadInput(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		change func(f *fixture)
		opt    Options
		want   string
	}{
		{name: "unknown baseline ref", opt: Options{Base: "no-such-branch"}, want: `baseline "no-such-branch" does not resolve`},
		{name: "unknown head ref", opt: Options{Head: "nope"}, want: `head "nope" does not resolve`},
		{name: "missing commit id", opt: Options{Base: strings.Repeat("0f", 20)}, want: "is not in the repository"},
		{
			name:   "corrupt manifest",
			change: func(f *fixture) { f.commit("break", map[string]*string{layout.BaselineV1: str("{not json")}) },
			opt:    Options{Base: "HEAD"},
			want:   "baseline/v1.0.json: not a valid baseline manifest",
		},
		{
			name: "manifest version disagrees with its name",
			change: func(f *fixture) {
				m := strings.Replace(f.read(layout.BaselineV1), `"version": "v1.0"`, `"version": "v1.3"`, 1)
				f.commit("break", map[string]*string{layout.BaselineV1: &m})
			},
			opt:  Options{Base: "HEAD"},
			want: "version v1.3 in a file named for v1.0",
		},
		{
			name: "manifest disagrees with its commit",
			change: func(f *fixture) {
				var m gov.Manifest
				json.Unmarshal([]byte(f.read(layout.BaselineV1)), &m)
				m.Files["policies/economics.yaml"] = strings.Repeat("1", 40)
				data := string(MarshalManifest(&m))
				f.commit("forge", map[string]*string{layout.BaselineV1: &data})
			},
			opt:  Options{Base: "HEAD"},
			want: "disagrees with its commit",
		},
		{
			name:   "no manifest at the baseline",
			change: func(f *fixture) { f.commit("rm", map[string]*string{layout.BaselineV1: nil}) },
			opt:    Options{Base: "HEAD"},
			want:   "no baseline manifest",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			if tc.change != nil {
				tc.change(f)
			}
			_, err := f.check(tc.opt)
			if err == nil || !fault.IsInput(err) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v (code %d), want exit 2 with %q", err, fault.Code(err), tc.want)
			}
		})
	}
}

// crChange commits a change request that edits economics.yaml and declares
// it, with the v1.1 manifest describing the new head.
func crChange(f *fixture, declared string, next bool) {
	eco := strings.Replace(f.read("policies/economics.yaml"), "0.05", "0.06", 1)
	doc := "# CR-0001: raise the ceiling\n\n## Rationale\n\nBecause.\n\n" + DeclaredHeading + "\n\n- `" + declared + "`\n\n## Requested version\n\nv1.1\n"
	files := map[string]*string{"policies/economics.yaml": &eco, layout.ChangeRequests + "/CR-0001.md": &doc}
	if next {
		var m gov.Manifest
		json.Unmarshal([]byte(f.read(layout.BaselineV1)), &m)
		m.Version, m.Commit = "v1.1", nil
		m.Files["policies/economics.yaml"] = plumbing.ComputeHash(plumbing.BlobObject, []byte(eco)).String()
		data := string(MarshalManifest(&m))
		files["baseline/v1.1.json"] = &data
	}
	f.commit("CR-0001", files)
}

// approve commits LARS's (or another agent's) signed approval of CR-0001
// for the current head.
func approve(f *fixture, agent string) {
	f.t.Helper()
	r := f.open()
	head, _ := r.Head()
	tree, err := ApprovedTree(r, head)
	if err != nil {
		f.t.Fatal(err)
	}
	s, err := f.signers[agent].SSH()
	if err != nil {
		f.t.Fatal(err)
	}
	s.Agent = "LARS" // a forgery when agent is not LARS
	rec, err := SignApproval(s, "CR-0001", tree, f.when)
	if err != nil {
		f.t.Fatal(err)
	}
	f.commit("approve", map[string]*string{ApprovalPath("CR-0001", "LARS"): str(string(rec))})
}

func TestChangeRequestException(t *testing.T) {
	t.Parallel()
	eco := "modified policies/economics.yaml [economic safety constraints]"
	next := "added baseline/v1.1.json [baseline manifest]"
	tests := []struct {
		name       string
		setup      func(f *fixture)
		approver   Approver
		want       []string
		wantAllow  []string
		wantReason string
	}{
		{
			name:      "approved at head",
			setup:     func(f *fixture) { crChange(f, "policies/economics.yaml", true); approve(f, "LARS") },
			want:      []string{},
			wantAllow: []string{"policies/economics.yaml"},
		},
		{
			name: "stale approval",
			setup: func(f *fixture) {
				crChange(f, "policies/economics.yaml", true)
				approve(f, "LARS")
				f.commit("later", map[string]*string{"README.md": str("changed after the approval\n")})
			},
			want:       []string{next, eco},
			wantReason: "stale",
		},
		{
			name:       "signed by FINN",
			setup:      func(f *fixture) { crChange(f, "policies/economics.yaml", true); approve(f, "FINN") },
			want:       []string{next, eco},
			wantReason: "not signed by a LARS key",
		},
		{
			name:       "no approval",
			setup:      func(f *fixture) { crChange(f, "policies/economics.yaml", true) },
			want:       []string{next, eco},
			wantReason: "no LARS approval record",
		},
		{
			name:       "no next manifest",
			setup:      func(f *fixture) { crChange(f, "policies/economics.yaml", false); approve(f, "LARS") },
			want:       []string{eco},
			wantReason: "no next baseline manifest",
		},
		{
			name:  "path not declared",
			setup: func(f *fixture) { crChange(f, "policies/cycle.yaml", true); approve(f, "LARS") },
			want:  []string{eco},
		},
		{
			name:  "the gate's own approver",
			setup: func(f *fixture) { crChange(f, "policies/economics.yaml", true) },
			approver: func(context.Context, plumbing.Hash, plumbing.Hash, *ChangeRequest) (bool, string, error) {
				return true, "approved on GitHub", nil
			},
			want:      []string{},
			wantAllow: []string{"policies/economics.yaml"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			tc.setup(f)
			rep := f.mustCheck(Options{Base: "baseline/v1.0", Approver: tc.approver})
			if diff := cmp.Diff(tc.want, violations(rep)); diff != "" {
				t.Fatalf("violations (-want +got):\n%s\nchange requests: %+v", diff, rep.ChangeRequests)
			}
			var allowed []string
			for _, a := range rep.Allowed {
				allowed = append(allowed, a.Path)
				if a.CR != "CR-0001" {
					t.Errorf("allowed by %q", a.CR)
				}
			}
			if diff := cmp.Diff(tc.wantAllow, allowed); diff != "" {
				t.Fatalf("allowed (-want +got):\n%s", diff)
			}
			if len(rep.ChangeRequests) != 1 || !strings.Contains(rep.ChangeRequests[0].Reason, tc.wantReason) {
				t.Fatalf("change requests %+v, want reason %q", rep.ChangeRequests, tc.wantReason)
			}
		})
	}
}

func TestDeclaredPaths(t *testing.T) {
	doc := `# CR-0002

## Rationale
- not a path

## Declared Paths
- policies/economics.yaml
* ` + "`policies/cycle.yaml`" + `
  - baseline/v1.1.json
text in between

## ADR impact
- policies/other.yaml
`
	want := []string{"policies/economics.yaml", "policies/cycle.yaml", "baseline/v1.1.json"}
	if diff := cmp.Diff(want, DeclaredPaths([]byte(doc))); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
	if got := DeclaredPaths([]byte("# no sections\n- x\n")); got != nil {
		t.Fatalf("got %v", got)
	}
}

func TestGitHubOutput(t *testing.T) {
	f := newFixture(t)
	eco := f.read("policies/economics.yaml") + "# x\n"
	f.commit("edit", map[string]*string{"policies/economics.yaml": &eco, "README.md": str("a|b\n")})
	rep := f.mustCheck(Options{})
	var b bytes.Buffer
	if err := Annotate(&b, rep); err != nil {
		t.Fatal(err)
	}
	want := "::error file=policies/economics.yaml,title=freeze%3A economic safety constraints::policies/economics.yaml: economic safety constraints modified"
	if !strings.HasPrefix(b.String(), want) || strings.Count(b.String(), "\n") != 1 {
		t.Fatalf("annotations:\n%s\nwant prefix %s", b.String(), want)
	}
	summary := filepath.Join(t.TempDir(), "summary.md")
	os.WriteFile(summary, []byte("earlier step\n"), 0o644)
	t.Setenv("GITHUB_STEP_SUMMARY", summary)
	if err := AppendSummary(rep); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(summary)
	for _, s := range []string{"earlier step\n### freeze-guard: 1 frozen path(s) changed against baseline v1.0", "| path | category | change | detail |", "| `policies/economics.yaml` | economic safety constraints | modified |"} {
		if !strings.Contains(string(got), s) {
			t.Fatalf("summary lacks %q:\n%s", s, got)
		}
	}
}

func TestVersions(t *testing.T) {
	for _, tc := range []struct {
		prev, next string
		ok         bool
	}{
		{"v1.0", "v1.1", true}, {"v1.0", "v2.0", true}, {"v1.9", "v1.10", true}, {"v1.1", "v2.0", true},
		{"v1.0", "v1.0", false}, {"v1.0", "v1.2", false}, {"v1.0", "v2.1", false}, {"v1.1", "v1.0", false}, {"v1.0", "v3.0", false},
	} {
		p, _ := ParseVersion(tc.prev)
		n, _ := ParseVersion(tc.next)
		if n.Increments(p) != tc.ok {
			t.Errorf("%s after %s: %v", tc.next, tc.prev, !tc.ok)
		}
	}
	for _, bad := range []string{"1.1", "v1", "v1.1.0", "v01.1", "v1.x", "", "V1.1"} {
		if _, err := ParseVersion(bad); !fault.IsInput(err) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func TestInitTagsBaseline(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	r := f.open()
	ref, err := r.Git.Reference(plumbing.NewTagReferenceName("baseline/v1.0"), false)
	if err != nil {
		t.Fatal(err)
	}
	target, err := VerifyTag(r, "baseline/v1.0", ref.Hash())
	if err != nil {
		t.Fatal(err)
	}
	head, _ := r.Head()
	if target != head {
		t.Fatalf("tag on %s, want the first commit %s", target, head)
	}
	// Tampered tags are refused: a lightweight tag in its place.
	os.WriteFile(filepath.Join(f.dir, ".git", "refs", "tags", "baseline", "v1.0"), []byte(head.String()+"\n"), 0o644)
	_, err = f.check(Options{})
	if fault.Code(err) != fault.CodeGovernance || !strings.Contains(err.Error(), "not a signed annotated tag") {
		t.Fatalf("lightweight baseline tag: %v", err)
	}
}

func TestErrViolation(t *testing.T) {
	rep := &Report{Baseline: "v1.0", Violations: []Violation{{Path: "x"}}}
	if err := rep.Err(); !errors.Is(err, ErrViolation) || fault.Code(err) != 1 {
		t.Fatalf("%v", err)
	}
}

// TestBaseWithoutBaseline: a pull request that brings the first manifest
// (the base has none) is checked against the manifest it brings.
func TestBaseWithoutBaseline(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	manifest := f.read(layout.BaselineV1)
	base := f.commit("no baseline yet", map[string]*string{layout.BaselineV1: nil})
	f.commit("introduce the baseline", map[string]*string{layout.BaselineV1: &manifest})
	rep := f.mustCheck(Options{Base: base.String()})
	if !rep.Passed || rep.Base != "" || !strings.Contains(strings.Join(rep.Notes, "\n"), "head introduces baseline/v1.0.json") {
		t.Fatalf("%+v", rep)
	}
	eco := f.read("policies/economics.yaml") + "# drift\n"
	f.commit("drift", map[string]*string{"policies/economics.yaml": &eco})
	if rep := f.mustCheck(Options{Base: base.String()}); rep.Passed {
		t.Fatalf("drift passed: %+v", rep)
	}
}
