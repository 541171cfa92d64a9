package cli

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/vision-ios/vios/internal/gov"
	"github.com/vision-ios/vios/internal/keys"
	"github.com/vision-ios/vios/internal/ledger"
	"github.com/vision-ios/vios/internal/policy"
	"github.com/vision-ios/vios/internal/workflows"
)

func newInitCmd(g *Globals) *cobra.Command {
	var github bool
	cmd := &cobra.Command{
		Use:   "init DIR",
		Short: "Scaffold a governance repository signed by CODE",
		Long: `Creates a git repository at DIR (or adopts an empty one) holding the embedded
v1.0 policies, the agent registry built from the public halves of the keys in
--keys, git's allowed_signers file, the v1.0 baseline manifest and the
05_GOVERNANCE layout, all in one first commit signed by CODE, tagged
baseline/v1.0 with an annotated tag signed by CODE. With --github the first
commit also holds the GitHub Actions workflows (.github/workflows: CI, the
hourly cycle, the daily cost report, the weekly attestation, the SLA watch,
freeze-guard and G4 gate). A repository that already has commits is refused.`,
		Example: `  vios keys generate --keys ~/.vios/keys
  vios init ./governance --keys ~/.vios/keys
  vios init ./governance --keys ~/.vios/keys --github`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			clk, err := g.clock()
			if err != nil {
				return err
			}
			signers, err := keys.LoadAll(g.Keys, policy.Agents...)
			if err != nil {
				return err
			}
			var extra []ledger.File
			if github {
				extra = workflows.Files()
			}
			res, err := gov.Init(cmd.Context(), args[0], signers, clk.Now(), extra...)
			if err != nil {
				return err
			}
			out := map[string]any{"repo": args[0], "commit": res.Commit.String(), "files": res.Files, "agents": len(res.Registry.Agents)}
			return g.emit(out, func(w io.Writer) {
				fmt.Fprintf(w, "initialised governance repository %s at %s (%d files, %d agent keys), signed by CODE\n", args[0], res.Commit.String()[:12], res.Files, len(res.Registry.Agents))
			})
		},
	}
	cmd.Flags().BoolVar(&github, "github", false, "also write the GitHub Actions workflows into .github/workflows")
	return cmd
}
