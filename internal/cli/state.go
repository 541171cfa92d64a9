package cli

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/vision-ios/vios/internal/fault"
	"github.com/vision-ios/vios/internal/gov"
	"github.com/vision-ios/vios/internal/keys"
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
	resume := &cobra.Command{
		Use:   "resume",
		Short: "Lift HALTED or PAUSED, signed by LARS",
		Long: `Moves production back to RUNNING with a commit signed by LARS. Only LARS may
resume: the key given must be LARS's ACTIVE key in the registry. Say why with
--reason; it is recorded in the state and the commit.`,
		Example: `  vios state resume --signer LARS --reason "FINN key rotated, see DEV-0001" --keys ~/.vios/keys`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if signer != "LARS" {
				return fault.Inputf("state resume: --signer must be LARS (only LARS may resume production)")
			}
			clk, err := g.clock()
			if err != nil {
				return err
			}
			lars, err := keys.Load(g.Keys, signer)
			if err != nil {
				return err
			}
			r, err := ledger.Open(g.Repo)
			if err != nil {
				return err
			}
			defer r.Close()
			h, st, err := gov.Resume(cmd.Context(), r, lars, reason, clk.Now())
			if err != nil {
				return err
			}
			return g.emit(map[string]any{"commit": h.String(), "state": st}, func(w io.Writer) {
				fmt.Fprintf(w, "production RUNNING again (commit %s, signed by LARS)\n", h.String()[:12])
			})
		},
	}
	resume.Flags().StringVar(&signer, "signer", "", "the approving agent: LARS")
	resume.Flags().StringVar(&reason, "reason", "", "why production may resume (required)")
	cmd.AddCommand(resume)
	return cmd
}
