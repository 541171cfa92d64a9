// Package changereq owns G4 change requests: the CR-NNNN.md document on its
// own cr/CR-NNNN branch, the signed approval (LARS) and recommendation
// (VEGA) records committed beside it, and the G4 gate that decides whether
// a pull request may change frozen content.
//
// A change request's files live under 05_GOVERNANCE/CHANGE_REQUESTS/ and
// are canonical evidence: they are added, never edited. So the document is
// complete when it is created, and every sign-off is a new record file
// (CR-0001.approval.LARS.json, then CR-0001.approval.LARS.2.json for a later
// tree) that binds the agent's Ed25519 signature to the change request and
// to the tree it approves. That tree is the head's tree with the sign-off
// records left out, so the records of LARS and VEGA can be committed in any
// order without invalidating each other.
package changereq

import (
	"bytes"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/vision-ios/vios/internal/fault"
	"github.com/vision-ios/vios/internal/gov"
	"github.com/vision-ios/vios/internal/layout"
	"github.com/vision-ios/vios/internal/policy"
)

// Names on GitHub and in git.
const (
	BranchPrefix       = "cr/"
	StatusContext      = "G4 gate"
	LabelChangeRequest = "change-request"
	LabelG4            = "G4"
)

// Document section headings, in document order.
const (
	SectionRationale      = "Rationale"
	SectionImpact         = "ADR impact analysis"
	SectionPaths          = "Declared paths"
	SectionVersion        = "Requested version"
	SectionRecommendation = "VEGA recommendation"
)

// Sections are the level-2 sections every CR document has.
var Sections = []string{SectionRationale, SectionImpact, SectionPaths, SectionVersion, SectionRecommendation}

// The patterns are compiled on first use, not at every start of the binary.
var (
	idRe      = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^CR-([0-9]{4,6})$`) })
	versionRe = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^v([0-9]{1,4})\.([0-9]{1,4})$`) })
	// fileRe names the files of a change request: its document and its
	// sign-off records.
	fileRe = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^(CR-[0-9]{4,6})(?:\.md|\.(approval|recommendation)\.([A-Z]+)(?:\.([1-9][0-9]{0,5}))?\.json)$`)
	})
)

// ID formats change request number n as CR-NNNN.
func ID(n int) string { return fmt.Sprintf("CR-%04d", n) }

// ParseID checks a change request id (CR-0001) and returns its number.
func ParseID(id string) (int, error) {
	m := idRe().FindStringSubmatch(id)
	if m == nil {
		return 0, fault.Inputf("change request id %q: want CR-NNNN", id)
	}
	n, _ := strconv.Atoi(m[1])
	if n == 0 {
		return 0, fault.Inputf("change request id %q: numbers start at CR-0001", id)
	}
	return n, nil
}

// DocPath is the path of a change request's document.
func DocPath(id string) string { return layout.ChangeRequests + "/" + id + ".md" }

// Branch is the branch a change request is prepared on.
func Branch(id string) plumbing.ReferenceName {
	return plumbing.NewBranchReferenceName(BranchPrefix + id)
}

// crFile is a parsed file name under CHANGE_REQUESTS/.
type crFile struct {
	ID    string
	Doc   bool
	Kind  string // RecordApproval or RecordRecommendation
	Agent string
	Seq   int // 1 for the unnumbered first record
}

// DocID returns the change request id whose document lives at path.
func DocID(path string) (string, bool) {
	f, ok := parseCRPath(path)
	if !ok || !f.Doc {
		return "", false
	}
	return f.ID, true
}

// parseCRPath recognises a change request file by its repository path.
func parseCRPath(p string) (crFile, bool) {
	name, ok := strings.CutPrefix(p, layout.ChangeRequests+"/")
	if !ok || strings.Contains(name, "/") {
		return crFile{}, false
	}
	m := fileRe().FindStringSubmatch(name)
	if m == nil {
		return crFile{}, false
	}
	f := crFile{ID: m[1], Doc: m[2] == "", Kind: m[2], Agent: m[3], Seq: 1}
	if m[4] != "" {
		f.Seq, _ = strconv.Atoi(m[4])
	}
	return f, true
}

// Version is a baseline version vMAJOR.MINOR.
type Version struct{ Major, Minor int }

// ParseVersion reads "v1.0".
func ParseVersion(s string) (Version, error) {
	m := versionRe().FindStringSubmatch(s)
	if m == nil {
		return Version{}, fmt.Errorf("version %q: want vMAJOR.MINOR such as v1.1", s)
	}
	a, _ := strconv.Atoi(m[1])
	b, _ := strconv.Atoi(m[2])
	return Version{a, b}, nil
}

// String writes the version as vMAJOR.MINOR.
func (v Version) String() string { return fmt.Sprintf("v%d.%d", v.Major, v.Minor) }

// Less orders versions.
func (v Version) Less(o Version) bool {
	return v.Major < o.Major || (v.Major == o.Major && v.Minor < o.Minor)
}

// Next returns the next minor (v1.0 → v1.1) or major (v1.0 → v2.0) version.
func (v Version) Next(major bool) Version {
	if major {
		return Version{v.Major + 1, 0}
	}
	return Version{v.Major, v.Minor + 1}
}

// ManifestPath is the baseline manifest of a version.
func ManifestPath(v Version) string { return layout.Baseline + "/" + v.String() + ".json" }

// manifestVersion recognises baseline/vX.Y.json.
func manifestVersion(p string) (Version, bool) {
	name, ok := strings.CutPrefix(p, layout.Baseline+"/")
	if !ok {
		return Version{}, false
	}
	name, ok = strings.CutSuffix(name, ".json")
	if !ok {
		return Version{}, false
	}
	v, err := ParseVersion(name)
	return v, err == nil
}

// Document is a change request document, CR-NNNN.md.
type Document struct {
	ID        string            `json:"id"`
	Title     string            `json:"title"`
	Rationale string            `json:"rationale"`
	Impact    map[string]string `json:"impact"` // category -> analysis
	Paths     []string          `json:"declared_paths"`
	Version   string            `json:"requested_version"`
	// Recommendation is the text of the VEGA recommendation section; the
	// recommendation itself is VEGA's signed record beside the document.
	Recommendation string `json:"recommendation"`
}

// Categories returns the analysed categories in the order of the freeze.
func (d *Document) Categories() []string {
	var out, other []string
	for _, c := range policy.FrozenCategories {
		if _, ok := d.Impact[c]; ok {
			out = append(out, c)
		}
	}
	for c := range d.Impact {
		if !slices.Contains(policy.FrozenCategories, c) {
			other = append(other, c)
		}
	}
	slices.Sort(other)
	return append(out, other...)
}

// CategoryName is how a category reads in prose: "economic safety constraints".
func CategoryName(c string) string { return strings.ReplaceAll(c, "_", " ") }

// Markdown renders the document.
func (d *Document) Markdown() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# %s: %s\n\n", d.ID, d.Title)
	fmt.Fprintf(&b, "## %s\n\n%s\n\n", SectionRationale, strings.TrimSpace(d.Rationale))
	fmt.Fprintf(&b, "## %s\n\n", SectionImpact)
	for _, c := range d.Categories() {
		fmt.Fprintf(&b, "### %s\n\n%s\n\n", c, strings.TrimSpace(d.Impact[c]))
	}
	fmt.Fprintf(&b, "## %s\n\n", SectionPaths)
	for _, p := range d.Paths {
		fmt.Fprintf(&b, "- %s\n", p)
	}
	fmt.Fprintf(&b, "\n## %s\n\n%s\n\n", SectionVersion, d.Version)
	fmt.Fprintf(&b, "## %s\n\n%s\n", SectionRecommendation, strings.TrimSpace(d.Recommendation))
	return b.Bytes()
}

// pendingRecommendation is the VEGA section of a new document: this file is
// canonical evidence and is never edited, so VEGA's recommendation is its
// own signed record.
func pendingRecommendation(id string) string {
	return fmt.Sprintf("Recorded by VEGA as a signed record beside this document, %s.recommendation.VEGA.json\n"+
		"(`vios cr recommend %s --signer VEGA --verdict approve|reject`). This document is canonical\n"+
		"evidence and is not edited after it is committed.", id, id)
}

var commentRe = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`(?s)<!--.*?-->`) })

// text strips HTML comments (placeholders) and surrounding blank space.
func text(lines []string) string {
	return strings.TrimSpace(commentRe().ReplaceAllString(strings.Join(lines, "\n"), ""))
}

// ParseDocument reads a CR document and lists every way it is incomplete:
// a missing or mistitled heading, a missing, duplicated or empty section,
// an impact analysis without a known category, a declared path that is not
// a clean repository path or not covered by an analysed category's globs,
// a requested version that is not vX.Y. frozen maps categories to globs
// (policies/governance.yaml). The document is returned as far as it parsed.
func ParseDocument(id string, data []byte, frozen map[string][]string) (*Document, []string) {
	d := &Document{ID: id, Impact: map[string]string{}}
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	type section struct {
		lines []string
		subs  []string // ### headings in order
		sub   map[string][]string
	}
	sections := map[string]*section{}
	var cur *section
	var curSub string
	title, titles := "", 0
	fence := ""
	for _, line := range strings.Split(strings.ReplaceAll(string(data), "\r\n", "\n"), "\n") {
		trim := strings.TrimSpace(line)
		if fence != "" {
			if strings.HasPrefix(trim, fence) {
				fence = ""
			}
		} else if strings.HasPrefix(trim, "```") || strings.HasPrefix(trim, "~~~") {
			fence = trim[:3]
		} else if h, ok := strings.CutPrefix(line, "# "); ok {
			title, titles = strings.TrimSpace(h), titles+1
			cur = nil
			continue
		} else if h, ok := strings.CutPrefix(line, "## "); ok {
			name := strings.TrimSpace(strings.TrimRight(h, "#"))
			key := strings.ToLower(name)
			if _, dup := sections[key]; dup {
				bad("section %q appears twice", name)
			}
			cur = &section{sub: map[string][]string{}}
			sections[key] = cur
			curSub = ""
			continue
		} else if h, ok := strings.CutPrefix(line, "### "); ok && cur != nil {
			curSub = strings.TrimSpace(strings.TrimRight(h, "#"))
			if _, dup := cur.sub[curSub]; dup {
				bad("subsection %q appears twice", curSub)
			}
			cur.subs = append(cur.subs, curSub)
			cur.sub[curSub] = []string{}
			continue
		}
		if cur == nil {
			continue
		}
		if curSub != "" {
			cur.sub[curSub] = append(cur.sub[curSub], line)
		} else {
			cur.lines = append(cur.lines, line)
		}
	}

	switch {
	case titles == 0:
		bad("no title: the document starts with \"# %s: TITLE\"", id)
	case titles > 1:
		bad("%d level-1 headings; the title is the only one", titles)
	default:
		t, ok := strings.CutPrefix(title, id+":")
		d.Title = strings.TrimSpace(t)
		if !ok || d.Title == "" {
			bad("title %q: want \"%s: TITLE\"", title, id)
		}
	}
	get := func(name string) (*section, bool) {
		s, ok := sections[strings.ToLower(name)]
		if !ok {
			bad("section %q is missing", name)
		}
		return s, ok
	}
	if s, ok := get(SectionRationale); ok {
		if d.Rationale = text(append(s.lines, flatten(s.subs, s.sub)...)); d.Rationale == "" {
			bad("section %q is empty", SectionRationale)
		}
	}
	if s, ok := get(SectionImpact); ok {
		if len(s.subs) == 0 {
			bad("section %q has no \"### CATEGORY\" subsection", SectionImpact)
		}
		for _, h := range s.subs {
			cat := categoryKey(h)
			if _, known := frozen[cat]; !known {
				bad("impact analysis %q: not a frozen category (%s)", h, strings.Join(sortedKeys(frozen), ", "))
				continue
			}
			body := text(s.sub[h])
			if body == "" {
				bad("impact analysis of %s is empty", cat)
			}
			d.Impact[cat] = body
		}
	}
	if s, ok := get(SectionPaths); ok {
		for _, line := range strings.Split(text(append(s.lines, flatten(s.subs, s.sub)...)), "\n") {
			line = strings.TrimSpace(line)
			if line == "" {
				continue
			}
			item, ok := strings.CutPrefix(line, "- ")
			if !ok {
				item, ok = strings.CutPrefix(line, "* ")
			}
			if !ok {
				bad("declared paths: %q is not a \"- path\" item", line)
				continue
			}
			p := strings.Trim(strings.TrimSpace(item), "`")
			if err := checkDeclaredPath(p); err != nil {
				bad("declared paths: %v", err)
				continue
			}
			if slices.Contains(d.Paths, p) {
				bad("declared paths: %s is listed twice", p)
				continue
			}
			d.Paths = append(d.Paths, p)
			if cats := Categorize(frozen, p); !anyIn(cats, d.Impact) {
				if len(cats) == 0 {
					bad("declared path %s is not a frozen path", p)
				} else {
					bad("declared path %s is in %s, which has no impact analysis", p, strings.Join(cats, ", "))
				}
			}
		}
		if len(d.Paths) == 0 {
			bad("section %q lists no path", SectionPaths)
		}
	}
	if s, ok := get(SectionVersion); ok {
		body := text(append(s.lines, flatten(s.subs, s.sub)...))
		first := ""
		if f := strings.Fields(body); len(f) > 0 {
			first = strings.Trim(f[0], "`*")
		}
		if _, err := ParseVersion(first); err != nil {
			bad("section %q: %v", SectionVersion, err)
		} else {
			d.Version = first
		}
	}
	if s, ok := get(SectionRecommendation); ok {
		if d.Recommendation = text(append(s.lines, flatten(s.subs, s.sub)...)); d.Recommendation == "" {
			bad("section %q is empty", SectionRecommendation)
		}
	}
	return d, problems
}

func flatten(subs []string, m map[string][]string) []string {
	var out []string
	for _, h := range subs {
		out = append(out, "### "+h)
		out = append(out, m[h]...)
	}
	return out
}

// categoryKey reads a "### economic_safety_constraints" heading (also
// "### Economic safety constraints" or with a trailing note after " — ").
func categoryKey(h string) string {
	h, _, _ = strings.Cut(h, " — ")
	h, _, _ = strings.Cut(h, " (")
	h = strings.Trim(strings.TrimSpace(h), "`")
	return strings.ReplaceAll(strings.ToLower(h), " ", "_")
}

func anyIn(cats []string, m map[string]string) bool {
	for _, c := range cats {
		if _, ok := m[c]; ok {
			return true
		}
	}
	return false
}

// checkDeclaredPath refuses anything but a clean repository path: declared
// paths are exact, never globs.
func checkDeclaredPath(p string) error {
	if err := layout.SafeRelPath(p); err != nil {
		return err
	}
	if strings.ContainsAny(p, "*?[]{} \t") {
		return fmt.Errorf("%q: declare exact paths, not globs", p)
	}
	return nil
}

// Categorize returns the frozen categories whose globs match path.
func Categorize(frozen map[string][]string, path string) []string {
	var out []string
	for _, c := range sortedKeys(frozen) {
		for _, g := range frozen[c] {
			if gov.MatchGlob(g, path) {
				out = append(out, c)
				break
			}
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
