package cli

import (
	"encoding/json"
	"io"
)

// emit writes v as indented JSON under -o json, or calls text otherwise.
func (g *Globals) emit(v any, text func(w io.Writer)) error {
	if g.Output == "json" {
		enc := json.NewEncoder(g.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	text(g.stdout)
	return nil
}
