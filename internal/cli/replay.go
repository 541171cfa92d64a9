package cli

import (
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/vision-ios/vios/internal/determinism"
	"github.com/vision-ios/vios/internal/fault"
	"github.com/vision-ios/vios/internal/gov"
	"github.com/vision-ios/vios/internal/ledger"
	"github.com/vision-ios/vios/internal/llm"
)

type replayJSON struct {
	*determinism.Report
	Since    string                `json:"since,omitempty"`
	Until    string                `json:"until,omitempty"`
	Problems []determinism.Problem `json:"problems"`
}

func newReplayCmd(g *Globals) *cobra.Command {
	var since, until string
	cmd := &cobra.Command{
		Use:   "replay [CYCLE_ID]",
		Short: "Replay recorded cycles from their evidence and measure determinism",
		Long: `Re-runs recorded cycles from their evidence bundles, without the network, and
scores every step with the ADR-010 discrepancy score. Tier-4 steps (CDS,
relevance, STIG, VEGA) must reproduce every field within the float tolerance of
policies/determinism.yaml; the Tier-2 summary is regenerated with the built-in
provider (free) and compared on its checked properties — three sentences,
keyword coverage, STIG's verdict — not its exact text. Prints the Tier-4,
Tier-2 and overall rates and every mismatch (step, field, original, replayed).
Exit 1 when Tier-4 is below 100 % or the overall rate below its target.`,
		Example: `  vios replay 75c6040e1e25f939 --repo ./governance
  vios replay --since 2026-11-17 --until 2026-11-24 -o json`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			clk, err := g.clock()
			if err != nil {
				return err
			}
			r, err := ledger.Open(g.Repo)
			if err != nil {
				return err
			}
			defer r.Close()
			snap, err := gov.Load(r)
			if err != nil {
				return err
			}
			out := replayJSON{Problems: []determinism.Problem{}}
			var bundles []determinism.Bundle
			if len(args) == 1 {
				if since != "" || until != "" {
					return fault.Inputf("replay: give a CYCLE_ID or --since/--until, not both")
				}
				b, err := determinism.LoadCycle(r, snap.Commit, args[0])
				if err != nil {
					return err
				}
				bundles = []determinism.Bundle{b}
			} else {
				now := clk.Now()
				from, to := now.Truncate(24*time.Hour).AddDate(0, 0, -7), now
				if since != "" {
					if from, err = time.Parse("2006-01-02", since); err != nil {
						return fault.Inputf("--since %q: want YYYY-MM-DD", since)
					}
				}
				if until != "" {
					if to, err = time.Parse("2006-01-02", until); err != nil {
						return fault.Inputf("--until %q: want YYYY-MM-DD", until)
					}
				}
				if !from.Before(to) {
					return fault.Inputf("replay: --since %s is not before --until %s", from.Format("2006-01-02"), to.Format("2006-01-02"))
				}
				out.Since, out.Until = from.Format(time.RFC3339), to.Format(time.RFC3339)
				if bundles, out.Problems, err = determinism.LoadRange(r, snap.Commit, from, to); err != nil {
					return err
				}
			}
			rp := &determinism.Replayer{Policy: snap.Policy, Registry: snap.Registry, Provider: llm.Builtin{ModelName: snap.Policy.Economics.Summary.Model}}
			out.Report = rp.Replay(cmd.Context(), bundles)
			if err := g.emit(out, func(w io.Writer) { printReplay(w, &out) }); err != nil {
				return err
			}
			d := snap.Policy.Determinism
			if out.Tier4Rate < d.Tiers.Tier4.Target || out.OverallRate < d.OverallTarget || len(out.Problems) > 0 || len(out.Errors) > 0 {
				return fault.Governancef("replay: determinism below target (Tier-4 %.1f%%, overall %.1f%%) or unreadable evidence", 100*out.Tier4Rate, 100*out.OverallRate)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&since, "since", "", "first UTC `DAY` (YYYY-MM-DD; default: 7 days ago)")
	cmd.Flags().StringVar(&until, "until", "", "UTC `DAY` to stop before (YYYY-MM-DD; default: now)")
	return cmd
}

func printReplay(w io.Writer, r *replayJSON) {
	fmt.Fprintf(w, "replayed %d cycles: Tier-4 %.2f%% (%d/%d steps), Tier-2 %.2f%% (%d/%d summaries), overall %.2f%%\n",
		r.Cycles, 100*r.Tier4Rate, r.Tier4Match, r.Tier4Steps, 100*r.Tier2Rate, r.Tier2Match, r.Tier2Steps, 100*r.OverallRate)
	for _, m := range r.Mismatches {
		fmt.Fprintf(w, "  MISMATCH cycle %s step %d %s: original %s, replayed %s\n", m.CycleID, m.Step, m.Field, m.Original, m.Replayed)
	}
	for _, p := range r.Problems {
		fmt.Fprintf(w, "  UNREADABLE %s: %s\n", p.Path, p.Reason)
	}
	for _, e := range r.Errors {
		fmt.Fprintf(w, "  ERROR %s\n", e)
	}
}
