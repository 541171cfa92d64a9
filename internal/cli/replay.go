package cli

import (
	"fmt"
	"io"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/spf13/cobra"

	"github.com/vision-ios/vios/internal/cycle"
	"github.com/vision-ios/vios/internal/determinism"
	"github.com/vision-ios/vios/internal/fault"
	"github.com/vision-ios/vios/internal/gov"
	"github.com/vision-ios/vios/internal/keys"
)

type replayJSON struct {
	*determinism.Report
	Since    string                `json:"since,omitempty"`
	Until    string                `json:"until,omitempty"`
	Problems []determinism.Problem `json:"problems"`
	// Cost is what a paid provider's replay spent (absent for the free
	// built-in provider).
	Cost *determinism.Charged `json:"cost,omitempty"`
}

func newReplayCmd(g *Globals) *cobra.Command {
	var since, until, provider, llmURL string
	var pf pushFlags
	cmd := &cobra.Command{
		Use:   "replay [CYCLE_ID]",
		Short: "Replay recorded cycles from their evidence and measure determinism",
		Long: `Re-runs recorded cycles from their evidence bundles and scores every step with
the ADR-010 discrepancy score. Tier-4 steps (CDS, relevance, STIG, VEGA) are
recomputed offline and must reproduce every field within the float tolerance
of policies/determinism.yaml; the Tier-2 summary is regenerated through the
summary provider and compared on its checked properties — three sentences,
keyword coverage, STIG's verdict — not its exact text. Prints the Tier-4,
Tier-2 and overall rates and every mismatch (step, field, original, replayed).
Exit 1 when Tier-4 is below 100 % or the overall rate below its target.

Provider: chosen as cycle run chooses it — --provider builtin | openai, else
summary.provider in policies/cycle.yaml (builtin by default); --llm-url
overrides the OpenAI-compatible base URL, the API key comes from the env var
the policy names, the model is summary.model in policies/economics.yaml.

Cost: the built-in provider replays for free and the replay commits nothing.
A paid provider's replay counts against the ADR-012 budget of the UTC day the
replay runs (the day the money is spent, taken when it starts; not the
replayed cycles' days), so it needs CODE's key (--keys). Holding the
repository lock, as a cycle does, every summary call first passes the same
pre-flight guard (worst case against the per-summary ceiling, the day's spend
against the daily cap, the day's count against the rate limit); a call that
could breach it is not made — the step is listed as blocked, not replayed,
and left out of the Tier-2 rate. Each answer is charged at the usage the
provider reports. The charges are then committed, signed by CODE, as
05_GOVERNANCE/COST_REPORTS/REPLAY_CHARGES/YYYY/MM/DD/REPLAY_<id>.json with the
day's tally in OPERATIONAL_STATE.json (and a cost-ceiling deviation when the
guard blocked a call), so later cycles see the spend and that day's
` + "`vios report cost`" + ` counts it.`,
		Example: `  vios replay 75c6040e1e25f939 --repo ./governance
  vios replay --since 2026-11-17 --until 2026-11-24 -o json
  vios replay --provider openai --keys ~/.vios/keys   # paid: charged to today's budget`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			// --push fetches before the tally is read, so a paid replay
			// charges the newest history, and pushes its charge after.
			// CODE's key is needed only when the provider is paid.
			cm, err := g.openCommitting(cmd.Context(), &pf)
			if err != nil {
				return err
			}
			defer cm.close()
			clk, ctx, r, push := cm.clk, cm.ctx, cm.r, cm.push
			snap, err := gov.Load(r)
			if err != nil {
				return err
			}
			prov, err := cycle.NewProvider(snap.Policy, provider, llmURL)
			if err != nil {
				return err
			}
			var charge *determinism.ChargeOptions
			if determinism.Paid(prov) {
				code, err := keys.Load(g.Keys, "CODE")
				if err != nil {
					return err
				}
				alert, err := g.alertHook(r)
				if err != nil {
					return err
				}
				charge = &determinism.ChargeOptions{Code: code, Clock: clk, Alert: alert}
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
			rp := &determinism.Replayer{Policy: snap.Policy, Registry: snap.Registry, Provider: prov}
			var cerr error
			if charge == nil {
				out.Report = rp.Replay(ctx, bundles)
			} else {
				charge.Replayed = snap.Commit
				out.Report, out.Cost, cerr = determinism.ReplayAndCharge(ctx, r, rp, bundles, *charge)
			}
			cerr = push.finish(ctx, cerr)
			if out.Cost != nil && out.Cost.Commit != "" {
				out.Cost.Commit = push.commit(plumbing.NewHash(out.Cost.Commit)).String()
			}
			if out.Report == nil {
				return cerr
			}
			if err := g.emit(out, func(w io.Writer) { printReplay(w, &out) }); err != nil {
				return err
			}
			if cerr != nil {
				return cerr
			}
			d := snap.Policy.Determinism
			if out.Tier4Rate < d.Tiers.Tier4.Target || out.OverallRate < d.OverallTarget || len(out.Problems) > 0 || len(out.Errors) > 0 {
				return fault.Governancef("replay: determinism below target (Tier-4 %.1f%%, overall %.1f%%) or unreadable evidence", 100*out.Tier4Rate, 100*out.OverallRate)
			}
			return nil
		},
	}
	pf.register(cmd)
	cmd.Flags().StringVar(&since, "since", "", "first UTC `DAY` (YYYY-MM-DD; default: 7 days ago)")
	cmd.Flags().StringVar(&until, "until", "", "UTC `DAY` to stop before (YYYY-MM-DD; default: now)")
	cmd.Flags().StringVar(&provider, "provider", "", "summary `PROVIDER` for the Tier-2 replay: builtin (free) or openai (paid: charged to today's ADR-012 budget; default from policies/cycle.yaml)")
	cmd.Flags().StringVar(&llmURL, "llm-url", "", "OpenAI-compatible base `URL` for --provider openai (vLLM, Ollama, LiteLLM; default from policies/cycle.yaml)")
	return cmd
}

func printReplay(w io.Writer, r *replayJSON) {
	fmt.Fprintf(w, "replayed %d cycles: Tier-4 %.2f%% (%d/%d steps), Tier-2 %.2f%% (%d/%d summaries), overall %.2f%%\n",
		r.Cycles, 100*r.Tier4Rate, r.Tier4Match, r.Tier4Steps, 100*r.Tier2Rate, r.Tier2Match, r.Tier2Steps, 100*r.OverallRate)
	if c := r.Cost; c != nil {
		fmt.Fprintf(w, "provider %s (%s): %d summaries charged $%.6f to %s (day tally %d summaries, $%.6f)", c.Provider, c.Model, c.Summaries, c.CostUSD, c.Day, c.SummariesToday, c.SpendTodayUSD)
		if c.Blocked > 0 {
			fmt.Fprintf(w, "; %d blocked by ADR-012, not replayed", c.Blocked)
		}
		if c.Failed > 0 {
			fmt.Fprintf(w, "; %d failed", c.Failed)
		}
		fmt.Fprintln(w)
		if c.Commit != "" {
			fmt.Fprintf(w, "committed %s  %s\n", c.Commit[:12], c.Path)
		}
		if c.Deviation != "" {
			fmt.Fprintf(w, "opened %s\n", c.Deviation)
		}
	} else if r.Provider != "" {
		fmt.Fprintf(w, "provider %s (%s): free, nothing charged\n", r.Provider, r.Model)
	}
	for _, b := range r.Blocked {
		fmt.Fprintf(w, "  BLOCKED cycle %s step %d by ADR-012 %s (not replayed): %s\n", b.CycleID, b.Step, b.Rule, b.Reason)
	}
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
