// Package workflows holds the GitHub Actions workflows of a governance
// repository: CI, the hourly production cycle, the daily cost report, the
// weekly attestation, the SLA watch, and the two required checks of a pull
// request, freeze-guard and G4 gate. They are embedded so that
// `vios init --github` writes them into a new governance repository, and
// the vios repository runs the very same files (a test keeps
// .github/workflows/ identical to files/).
package workflows

import (
	"embed"
	"io/fs"
	"path"
	"sort"

	"github.com/vision-ios/vios/internal/ledger"
)

// Dir is where the workflows live in a repository.
const Dir = ".github/workflows"

//go:embed files/*.yml
var embedded embed.FS

// Files returns the workflows as repository files under Dir, sorted by path.
func Files() []ledger.File {
	names, _ := fs.Glob(embedded, "files/*.yml")
	sort.Strings(names)
	out := make([]ledger.File, 0, len(names))
	for _, n := range names {
		data, _ := fs.ReadFile(embedded, n) // embedded: cannot fail
		out = append(out, ledger.File{Path: Dir + "/" + path.Base(n), Data: data})
	}
	return out
}
