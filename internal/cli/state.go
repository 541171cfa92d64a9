package cli

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/vision-ios/vios/internal/fault"
	"github.com/vision-ios/vios/internal/gov"
	"github.com/vision-ios/vios/internal/ledger"
)

func newStateCmd(g *Globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "state",
		Short: "Show or change the operational state (RUNNING, HALTED, PAUSED)",
		Args:  cobra.NoArgs,
		RunE:  groupHelp,
	}
	cmd.AddCommand(&cobra.Command{
		Use:     "show",
		Short:   "Print the operational state at HEAD",
		Example: `  vios state show --repo ./governance -o json`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := ledger.Open(g.Repo)
			if err != nil {
				return err
			}
			defer r.Close()
			snap, err := gov.Load(r)
			if err != nil {
				return err
			}
			st := snap.State
			return g.emit(st, func(w io.Writer) {
				fmt.Fprintf(w, "state %s since %s (summaries %s)\nreason: %s\nlast cycle: %s at %s, %d cycles recorded\n",
					st.State, st.Since, st.Summaries, st.Reason, st.LastCycleID, st.LastCycleSlot, st.CyclesRecorded)
			})
		},
	})
	var signer, reason string
	var pf pushFlags
	resume := &cobra.Command{
		Use:   "resume",
		Short: "Lift HALTED or PAUSED that no open deviation explains, signed by LARS",
		Long: `HALTED and PAUSED are lifted only by a LARS-signed resolution. A halt opens a
signature-verification deviation and a pause an ADR-compliance deviation; LARS
lifts the stop by resolving it with its root cause and remediation plan:

  vios deviation resolve DEV --signer LARS --root-cause TEXT --plan TEXT

which moves production back to RUNNING in the same commit once no deviation of
that kind is open (vios deviation list --open shows them). While one is open,
state resume refuses (exit 1) and names it.

state resume moves production back to RUNNING with a commit signed by LARS
when no open deviation explains the stop (a state recorded by hand or before
deviations were). Only LARS may resume: --signer must be LARS (else exit 2) and
the key given must be LARS's ACTIVE key in the registry (else exit 1). Say why
with --reason; it is recorded in the state and the commit. --push fetches the
remote first and pushes the commit after.`,
		Example: `  vios state resume --signer LARS --reason "state set by hand during the migration" --keys ~/.vios/keys`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if signer != "LARS" {
				return fault.Inputf("state resume: --signer must be LARS (only LARS may resume production)")
			}
			cm, err := g.openCommitting(cmd.Context(), &pf, "LARS")
			if err != nil {
				return err
			}
			defer cm.close()
			clk, ctx, r, push := cm.clk, cm.ctx, cm.r, cm.push
			lars := cm.signers["LARS"]
			h, st, err := gov.Resume(ctx, r, lars, reason, clk.Now())
			if err = push.finish(ctx, err); err != nil {
				return err
			}
			h = push.commit(h)
			return g.emit(map[string]any{"commit": h.String(), "state": st}, func(w io.Writer) {
				fmt.Fprintf(w, "production RUNNING again (commit %s, signed by LARS)\n", h.String()[:12])
			})
		},
	}
	resume.Flags().StringVar(&signer, "signer", "", "the approving agent: LARS")
	resume.Flags().StringVar(&reason, "reason", "", "why production may resume (required)")
	pf.register(resume)
	cmd.AddCommand(resume)
	return cmd
}
