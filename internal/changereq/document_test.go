package changereq

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/vision-ios/vios/internal/policy"
)

func frozenDefaults(t testing.TB) map[string][]string {
	t.Helper()
	pol, err := policy.Defaults()
	if err != nil {
		t.Fatal(err)
	}
	return pol.Governance.Frozen
}

func sampleDoc() *Document {
	return &Document{
		ID:        "CR-0001",
		Title:     "Raise the ceiling",
		Rationale: "Costs rose.",
		Impact: map[string]string{
			"economic_safety_constraints": "ADR-012 ceiling rises.",
			"orchestrator_logic":          "Step 5 triggers later.",
		},
		Paths:          []string{"policies/economics.yaml", "policies/cycle.yaml"},
		Version:        "v1.1",
		Recommendation: pendingRecommendation("CR-0001"),
	}
}

func TestDocumentRoundTrip(t *testing.T) {
	d := sampleDoc()
	md := d.Markdown()
	for _, want := range []string{"# CR-0001: Raise the ceiling\n", "## Rationale\n", "## ADR impact analysis\n", "### orchestrator_logic\n",
		"### economic_safety_constraints\n", "## Declared paths\n\n- policies/economics.yaml\n- policies/cycle.yaml\n", "## Requested version\n\nv1.1\n", "## VEGA recommendation\n"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	// Categories follow the order of the freeze.
	if strings.Index(string(md), "### orchestrator_logic") > strings.Index(string(md), "### economic_safety_constraints") {
		t.Error("categories out of freeze order")
	}
	got, problems := ParseDocument("CR-0001", md, frozenDefaults(t))
	if len(problems) > 0 {
		t.Fatalf("problems: %q", problems)
	}
	if diff := cmp.Diff(d, got); diff != "" {
		t.Fatalf("round trip (-want +got):\n%s", diff)
	}
}

func TestParseDocumentProblems(t *testing.T) {
	good := string(sampleDoc().Markdown())
	tests := []struct {
		name string
		edit func(string) string
		want string
	}{
		{"no title", func(s string) string { return strings.Replace(s, "# CR-0001: Raise the ceiling\n", "", 1) }, "no title"},
		{"title of another CR", func(s string) string { return strings.Replace(s, "# CR-0001:", "# CR-0002:", 1) }, `want "CR-0001: TITLE"`},
		{"missing section", func(s string) string { return strings.Replace(s, "## Rationale\n\nCosts rose.\n", "", 1) }, `section "Rationale" is missing`},
		{"placeholder only", func(s string) string { return strings.Replace(s, "Costs rose.", "<!-- TODO\nexplain -->", 1) }, `section "Rationale" is empty`},
		{"duplicate section", func(s string) string { return s + "\n## Rationale\n\nagain\n" }, "appears twice"},
		{"unknown category", func(s string) string { return strings.Replace(s, "### orchestrator_logic", "### vibes", 1) }, `"vibes": not a frozen category`},
		{"empty impact", func(s string) string { return strings.Replace(s, "Step 5 triggers later.", "", 1) }, "impact analysis of orchestrator_logic is empty"},
		{"no paths", func(s string) string {
			return strings.Replace(s, "- policies/economics.yaml\n- policies/cycle.yaml\n", "", 1)
		}, "lists no path"},
		{"glob path", func(s string) string { return strings.Replace(s, "- policies/cycle.yaml", "- policies/*.yaml", 1) }, "not globs"},
		{"escaping path", func(s string) string { return strings.Replace(s, "- policies/cycle.yaml", "- ../etc/passwd", 1) }, "not a clean relative"},
		{"path not frozen", func(s string) string { return strings.Replace(s, "- policies/cycle.yaml", "- README.md", 1) }, "README.md is not a frozen path"},
		{"path without analysis", func(s string) string {
			return strings.Replace(s, "- policies/cycle.yaml", "- policies/determinism.yaml", 1)
		}, "in determinism_thresholds, which has no impact analysis"},
		{"not a list item", func(s string) string { return strings.Replace(s, "- policies/cycle.yaml", "policies/cycle.yaml", 1) }, `is not a "- path" item`},
		{"bad version", func(s string) string { return strings.Replace(s, "\nv1.1\n", "\nnext\n", 1) }, "want vMAJOR.MINOR"},
		{"empty recommendation", func(s string) string {
			i := strings.Index(s, "## VEGA recommendation")
			return s[:i] + "## VEGA recommendation\n\n"
		}, `section "VEGA recommendation" is empty`},
	}
	frozen := frozenDefaults(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, problems := ParseDocument("CR-0001", []byte(tc.edit(good)), frozen)
			if !strings.Contains(strings.Join(problems, "\n"), tc.want) {
				t.Fatalf("problems %q, want %q", problems, tc.want)
			}
		})
	}
}

func TestParseDocumentIgnoresCodeFences(t *testing.T) {
	s := strings.Replace(string(sampleDoc().Markdown()), "Costs rose.", "Costs rose:\n\n```\n## Declared paths\n- README.md\n```", 1)
	d, problems := ParseDocument("CR-0001", []byte(s), frozenDefaults(t))
	if len(problems) > 0 || len(d.Paths) != 2 {
		t.Fatalf("a fenced heading was read as a section: %q %v", problems, d.Paths)
	}
}

func TestNames(t *testing.T) {
	if n, err := ParseID("CR-0042"); err != nil || n != 42 || ID(42) != "CR-0042" {
		t.Fatalf("ParseID: %d %v", n, err)
	}
	for _, bad := range []string{"CR-42", "CR-0000", "cr-0001", "CR-0001/../x", "CR-1234567"} {
		if _, err := ParseID(bad); err == nil {
			t.Errorf("ParseID(%q) accepted", bad)
		}
	}
	if got := RecordPath("CR-0001", RecordApproval, "LARS", 1); got != "05_GOVERNANCE/CHANGE_REQUESTS/CR-0001.approval.LARS.json" {
		t.Errorf("RecordPath = %s", got)
	}
	if got := RecordPath("CR-0001", RecordRecommendation, "VEGA", 3); got != "05_GOVERNANCE/CHANGE_REQUESTS/CR-0001.recommendation.VEGA.3.json" {
		t.Errorf("RecordPath = %s", got)
	}
	f, ok := parseCRPath("05_GOVERNANCE/CHANGE_REQUESTS/CR-0001.recommendation.VEGA.3.json")
	if !ok || f.ID != "CR-0001" || f.Kind != RecordRecommendation || f.Agent != "VEGA" || f.Seq != 3 {
		t.Errorf("parseCRPath = %+v %v", f, ok)
	}
	for _, p := range []string{"05_GOVERNANCE/CHANGE_REQUESTS/README.md", "05_GOVERNANCE/CHANGE_REQUESTS/CR-0001.approval.LARS.0.json", "x/CR-0001.md"} {
		if _, ok := parseCRPath(p); ok {
			t.Errorf("parseCRPath(%q) accepted", p)
		}
	}
	v, _ := ParseVersion("v1.9")
	if v.Next(false).String() != "v1.10" || v.Next(true).String() != "v2.0" {
		t.Errorf("next of v1.9: %s %s", v.Next(false), v.Next(true))
	}
}

func FuzzParseDocument(f *testing.F) {
	f.Add(string(sampleDoc().Markdown()))
	f.Add("# CR-0001: x\n## Rationale\n```\n## a\n")
	f.Add("## Declared paths\n- \x00\n### \n")
	frozen := frozenDefaults(f)
	f.Fuzz(func(t *testing.T, s string) {
		d, problems := ParseDocument("CR-0001", []byte(s), frozen)
		if d == nil {
			t.Fatal("nil document")
		}
		if len(problems) == 0 {
			// A complete document renders and parses back to itself.
			again, p2 := ParseDocument("CR-0001", d.Markdown(), frozen)
			if len(p2) > 0 || !cmp.Equal(d, again) {
				t.Fatalf("re-render of a complete document: %q\n%s", p2, cmp.Diff(d, again))
			}
		}
	})
}
