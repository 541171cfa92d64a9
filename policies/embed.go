// Package policies embeds the v1.0 gold-baseline policy set, the defaults
// that `vios init` writes into a new governance repository.
package policies

import "embed"

// FS holds the policy YAML files, with paths relative to policies/.
//
//go:embed *.yaml agents/*.yaml
var FS embed.FS
