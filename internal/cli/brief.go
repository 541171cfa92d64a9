package cli

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/vision-ios/vios/internal/brief"
	"github.com/vision-ios/vios/internal/layout"
)

func newBriefCmd(g *Globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "brief",
		Short: "Governance briefs",
		Args:  cobra.NoArgs,
		RunE:  groupHelp,
	}
	var pf pushFlags
	phase3 := &cobra.Command{
		Use:   "phase3",
		Short: "Commit the Phase 3 readiness brief (after the first weekly attestation)",
		Long: `Writes 05_GOVERNANCE/PHASE3_READINESS_BRIEF.md, signed by CODE, from the first
production week: an executive summary, then stability (completion, errors,
signatures, per-agent reliability), cost trajectory against ADR-012 (average,
trend, distance from the ceiling, headroom), the determinism profile from
replay, early pattern deviations found in the data, and Phase 3 gate criteria
derived from the measured figures; at most 3,200 words. Refused (exit 1)
before the first VEGA weekly attestation exists. --push fetches the remote first
and pushes the commit after.`,
		Example: `  vios brief phase3 --repo ./governance --keys ~/.vios/keys`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cm, err := g.openCommitting(cmd.Context(), &pf, "CODE")
			if err != nil {
				return err
			}
			defer cm.close()
			clk, ctx, r, push := cm.clk, cm.ctx, cm.r, cm.push
			code := cm.signers["CODE"]
			md, h, existing, err := brief.Commit(ctx, r, code, clk.Now())
			if err = push.finish(ctx, err); err != nil {
				return err
			}
			if !existing {
				h = push.commit(h)
			}
			out := map[string]any{"path": layout.Phase3Brief, "commit": h.String(), "already_committed": existing, "markdown": string(md)}
			return g.emit(out, func(w io.Writer) {
				if existing {
					fmt.Fprintf(w, "%s is already committed with this content; nothing to do\n", layout.Phase3Brief)
					return
				}
				fmt.Fprintf(w, "committed %s  %s\n", h.String()[:12], layout.Phase3Brief)
			})
		},
	}
	pf.register(phase3)
	cmd.AddCommand(phase3)
	return cmd
}
