package cli

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/vision-ios/vios/internal/fault"
	"github.com/vision-ios/vios/internal/keys"
	"github.com/vision-ios/vios/internal/policy"
	"github.com/vision-ios/vios/internal/signing"
)

func newKeysCmd(g *Globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "keys",
		Short: "Manage the agents' Ed25519 private keys",
		Args:  cobra.NoArgs,
		RunE:  groupHelp,
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "generate",
		Short: "Write fresh Ed25519 keys for LARS FINN STIG LINE VEGA CODE",
		Long: `Writes one PEM private key per agent to DIR/<agent>.key with mode 0600.
Existing keys are never overwritten, and no key is written inside a git work
tree: keep private keys out of every repository. In CI, pass keys as
VIOS_KEY_<AGENT> secrets instead.`,
		Example: `  vios keys generate --keys ~/.vios/keys
  VIOS_KEYS=/etc/vios/keys vios keys generate`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if g.Keys == "" {
				return fault.Inputf("keys generate: --keys DIR (or VIOS_KEYS) is required")
			}
			paths, err := keys.Generate(g.Keys)
			if err != nil {
				return err
			}
			type keyOut struct {
				Agent     string `json:"agent"`
				Path      string `json:"path"`
				KeyID     string `json:"key_id"`
				PublicKey string `json:"public_key"`
			}
			var out []keyOut
			for i, a := range policy.Agents {
				s, err := keys.Load(g.Keys, a)
				if err != nil {
					return err
				}
				out = append(out, keyOut{a, paths[i], signing.KeyID(a, s.Public()), signing.FormatKey(s.Public())})
			}
			return g.emit(out, func(w io.Writer) {
				for _, k := range out {
					fmt.Fprintf(w, "%-5s %s  %s\n", k.Agent, k.KeyID, k.Path)
				}
			})
		},
	})
	return cmd
}
