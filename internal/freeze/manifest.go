package freeze

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/vision-ios/vios/internal/fault"
	"github.com/vision-ios/vios/internal/gov"
	"github.com/vision-ios/vios/internal/layout"
	"github.com/vision-ios/vios/internal/policy"
)

// Version is a baseline version, vMAJOR.MINOR.
type Version struct{ Major, Minor int }

// versionRe is compiled on first use, not at every start of the binary.
var versionRe = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^v(0|[1-9][0-9]{0,5})\.(0|[1-9][0-9]{0,5})$`) })

// ParseVersion parses "v1.0"; anything else is a fault.Input error.
func ParseVersion(s string) (Version, error) {
	m := versionRe().FindStringSubmatch(s)
	if m == nil {
		return Version{}, fault.Inputf("baseline version %q: want vMAJOR.MINOR such as v1.1", s)
	}
	major, _ := strconv.Atoi(m[1])
	minor, _ := strconv.Atoi(m[2])
	return Version{major, minor}, nil
}

// String renders "v1.0".
func (v Version) String() string { return fmt.Sprintf("v%d.%d", v.Major, v.Minor) }

// Less orders versions.
func (v Version) Less(o Version) bool {
	return v.Major < o.Major || (v.Major == o.Major && v.Minor < o.Minor)
}

// Increments reports whether v is the next minor or the next major version
// after prev (v1.0 → v1.1 or v2.0), the only increments G4 allows.
func (v Version) Increments(prev Version) bool {
	return (v.Major == prev.Major && v.Minor == prev.Minor+1) || (v.Major == prev.Major+1 && v.Minor == 0)
}

// ManifestPath is the path of a version's baseline manifest.
func ManifestPath(v Version) string { return layout.Baseline + "/" + v.String() + ".json" }

// TagName is the name of a version's signed baseline tag (without refs/tags/).
func TagName(v Version) string { return layout.Baseline + "/" + v.String() }

// manifestVersion returns the version a baseline/ entry name stands for.
func manifestVersion(name string) (Version, bool) {
	s, ok := strings.CutSuffix(name, ".json")
	if !ok || !versionRe().MatchString(s) {
		return Version{}, false
	}
	v, err := ParseVersion(s)
	return v, err == nil
}

// isManifestPath reports whether p is a baseline manifest path.
func isManifestPath(p string) bool {
	dir, name := path.Split(p)
	_, ok := manifestVersion(name)
	return ok && dir == layout.Baseline+"/"
}

// ParseManifest strictly reads a baseline manifest found at p: valid JSON,
// a version that matches the file name, a commit that is null or a full
// commit id, known categories with globs, and clean paths with blob ids.
// Every problem is a fault.Input error naming the file.
func ParseManifest(p string, data []byte) (*gov.Manifest, Version, error) {
	bad := func(format string, args ...any) (*gov.Manifest, Version, error) {
		return nil, Version{}, fault.Inputf("%s: not a valid baseline manifest: %s", p, fmt.Sprintf(format, args...))
	}
	var m gov.Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return bad("%v", err)
	}
	v, err := ParseVersion(m.Version)
	if err != nil {
		return bad("version %q is not vMAJOR.MINOR", m.Version)
	}
	if want, ok := manifestVersion(path.Base(p)); ok && want != v {
		return bad("version %s in a file named for %s", v, want)
	}
	if m.Commit != nil && !isHash(*m.Commit) {
		return bad("commit %q is not a full commit id", *m.Commit)
	}
	if _, err := time.Parse(time.RFC3339, m.CreatedAt); err != nil {
		return bad("created_at %q is not an RFC 3339 time", m.CreatedAt)
	}
	if len(m.Categories) == 0 {
		return bad("no frozen categories")
	}
	for cat, globs := range m.Categories {
		if !slices.Contains(policy.FrozenCategories, cat) {
			return bad("unknown category %q", cat)
		}
		for _, g := range globs {
			if g == "" || strings.HasPrefix(g, "/") || strings.Contains(g, "..") {
				return bad("category %s: bad glob %q", cat, g)
			}
			if _, err := path.Match(strings.ReplaceAll(g, "**", "*"), ""); err != nil {
				return bad("category %s: bad glob %q", cat, g)
			}
		}
	}
	if m.Files == nil {
		return bad("no files object")
	}
	for f, id := range m.Files {
		if err := layout.SafeRelPath(f); err != nil {
			return bad("%v", err)
		}
		if !isHash(id) {
			return bad("%s: blob id %q is not 40 hex digits", f, id)
		}
	}
	for _, f := range m.Regenerated {
		if err := layout.SafeRelPath(f); err != nil {
			return bad("regenerated: %v", err)
		}
	}
	return &m, v, nil
}

func isHash(s string) bool {
	if len(s) != 40 || strings.ToLower(s) != s {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

// rules are the frozen categories and regenerated paths a check applies.
type rules struct {
	cats        []string // in policy.FrozenCategories order
	globs       map[string][]string
	regenerated map[string]bool
}

func newRules(m *gov.Manifest) *rules {
	r := &rules{globs: m.Categories, regenerated: map[string]bool{}}
	for _, c := range policy.FrozenCategories {
		if len(m.Categories[c]) > 0 {
			r.cats = append(r.cats, c)
		}
	}
	regen := m.Regenerated
	if len(regen) == 0 {
		regen = []string{layout.StateFile, layout.StatusFile}
	}
	for _, p := range regen {
		r.regenerated[p] = true
	}
	return r
}

// category returns the frozen category of a file path, or "".
func (r *rules) category(p string) string {
	if r.regenerated[p] {
		return ""
	}
	for _, c := range r.cats {
		for _, g := range r.globs[c] {
			if gov.MatchGlob(g, p) {
				return c
			}
		}
	}
	return ""
}

// relevantDir reports whether a directory may hold a frozen file, a
// baseline manifest or a change request: the diff skips every other
// subtree without reading it.
func (r *rules) relevantDir(dir string) bool {
	if dir == layout.Baseline || dir == layout.Governance || strings.HasPrefix(layout.ChangeRequests+"/", dir+"/") {
		return true
	}
	for _, c := range r.cats {
		for _, g := range r.globs[c] {
			if globMayContain(g, dir) {
				return true
			}
		}
	}
	return false
}

// globMayContain reports whether glob can match a path below dir. It runs
// for every changed directory a diff meets, so it splits nothing.
func globMayContain(glob, dir string) bool {
	gMore, dMore := true, true
	var g, d string
	for dMore {
		d, dir, dMore = strings.Cut(dir, "/")
		if !gMore {
			return false
		}
		g, glob, gMore = strings.Cut(glob, "/")
		if g == "**" {
			return true
		}
		if ok, _ := path.Match(g, d); !ok {
			return false
		}
	}
	return gMore
}

// Label is the human name of a category: "economic safety constraints".
func Label(category string) string { return strings.ReplaceAll(category, "_", " ") }

// NewManifest builds the manifest of version v from the blob ids of the
// frozen files (canonical evidence excluded: it is append-only by rule, not
// by list). commit may be nil (the commit that adds the manifest).
func NewManifest(v Version, commit *plumbing.Hash, created time.Time, frozen map[string][]string, regenerated []string, files map[string]plumbing.Hash) *gov.Manifest {
	m := &gov.Manifest{
		Version:     v.String(),
		CreatedAt:   created.UTC().Format(time.RFC3339),
		Categories:  frozen,
		Regenerated: regenerated,
		Files:       make(map[string]string, len(files)),
	}
	if commit != nil {
		s := commit.String()
		m.Commit = &s
	} else {
		m.CommitNote = "the commit that adds this manifest (tag " + TagName(v) + ")"
	}
	for p, h := range files {
		m.Files[p] = h.String()
	}
	return m
}

// MarshalManifest renders a manifest as indented JSON with a final newline
// (map keys sorted, so the bytes are deterministic).
func MarshalManifest(m *gov.Manifest) []byte {
	b, _ := json.MarshalIndent(m, "", "  ")
	return append(b, '\n')
}

// listed reports whether p is a frozen file outside canonical evidence:
// one a manifest lists by blob id.
func (r *rules) listed(p string) bool {
	c := r.category(p)
	return c != "" && c != canonical
}

const canonical = "canonical_evidence"

// sortedKeys returns a map's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
