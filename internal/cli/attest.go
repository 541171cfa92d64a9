package cli

import (
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/vision-ios/vios/internal/attest"
	"github.com/vision-ios/vios/internal/fault"
)

func newAttestCmd(g *Globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "attest",
		Short: "VEGA attestations",
		Args:  cobra.NoArgs,
		RunE:  groupHelp,
	}
	var date string
	var pf pushFlags
	weekly := &cobra.Command{
		Use:   "weekly",
		Short: "Commit VEGA's weekly attestation of the 7 days before a Sunday",
		Long: `Attests the 7 days before a Sunday 00:00 UTC (default: the most recent one) and
commits 05_GOVERNANCE/VEGA_ATTESTATIONS/VEGA_ATTESTATION_YYYY_MM_DD.md signed by
VEGA: one verdict per ADR (001, 002, 007, 008, 009, 010, 012) with its evidence,
the signature verification rate, economic safety from the week's cost data,
determinism from replaying every cycle of the week, the deviations opened, an
evidence digest over the week's artifacts, and one outcome:
  FAIL                  any signature failure, ADR failure, ceiling or budget breach
  PASS WITH CONDITIONS  missing or unreadable artifacts, alerts, determinism below target
  PASS                  otherwise
FAIL pauses production (exit 1): CODE commits the PAUSED state and an
ADR-compliance deviation; LARS resumes production by resolving that
deviation (vios deviation resolve). The Markdown is parsed back with
goldmark and checked before it is signed. Re-running a week is idempotent.
--push fetches the remote first and pushes the attestation after.`,
		Example: `  vios attest weekly --repo ./governance --keys ~/.vios/keys
  vios attest weekly --date 2026-11-22 -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			clk, err := g.clock()
			if err != nil {
				return err
			}
			now := clk.Now()
			sunday := attest.LastSunday(now)
			if date != "" {
				if sunday, err = time.Parse("2006-01-02", date); err != nil {
					return fault.Inputf("--date %q: want YYYY-MM-DD", date)
				}
				if err := attest.CheckSunday(sunday); err != nil {
					return err
				}
			}
			cm, err := g.openCommitting(cmd.Context(), &pf, "VEGA", "CODE")
			if err != nil {
				return err
			}
			defer cm.close()
			ctx, r, push, signers := cm.ctx, cm.r, cm.push, cm.signers
			c, err := attest.Commit(ctx, r, signers["VEGA"], signers["CODE"], sunday, now)
			err = push.finish(ctx, err)
			if c == nil {
				return err
			}
			c.Commit = push.commit(c.Commit)
			if perr := g.emit(c.Attestation, func(w io.Writer) { printAttestation(w, c) }); perr != nil {
				return perr
			}
			if err == nil && c.Attestation.Outcome == attest.Fail {
				err = fault.Governancef("attestation %s: FAIL; production PAUSED", c.Attestation.Date)
			}
			return err
		},
	}
	weekly.Flags().StringVar(&date, "date", "", "the `SUNDAY` (YYYY-MM-DD) that ends the week (default: the most recent)")
	pf.register(weekly)
	cmd.AddCommand(weekly)
	return cmd
}

func printAttestation(w io.Writer, c *attest.Committed) {
	a := c.Attestation
	if c.Existing {
		fmt.Fprintf(w, "attestation %s is already committed with this content (%s); nothing to do\n", a.Date, c.Path)
	} else {
		fmt.Fprintf(w, "committed %s  %s\n", c.Commit.String()[:12], c.Path)
	}
	fmt.Fprintf(w, "week ending %s: %d cycles, signatures %.2f%%, determinism %.2f%%, $%.4f  →  %s\n",
		a.Date, a.Cycles, a.Signatures.RatePct, 100*a.Determinism.OverallRate, a.Economics.TotalCostUSD, a.Outcome)
	for _, adr := range a.ADRs {
		fmt.Fprintf(w, "  %s %-10s %s\n", adr.ID, adr.Verdict, adr.Evidence)
	}
	for _, r := range a.Reasons {
		fmt.Fprintf(w, "  - %s\n", r)
	}
	if c.Paused {
		fmt.Fprintln(w, "production PAUSED; LARS resumes it by resolving the ADR-compliance deviation (`vios deviation resolve DEV --signer LARS`, see `vios deviation list --open`)")
	}
}
