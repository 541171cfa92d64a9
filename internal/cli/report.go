package cli

import (
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/vision-ios/vios/internal/costreport"
	"github.com/vision-ios/vios/internal/fault"
)

func newReportCmd(g *Globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "report",
		Short: "Governance reports",
		Args:  cobra.NoArgs,
		RunE:  groupHelp,
	}
	var date string
	var pf pushFlags
	cost := &cobra.Command{
		Use:   "cost",
		Short: "Commit the ADR-012 daily cost report for one UTC day",
		Long: `Aggregates one UTC day's cycles (their evidence bundles) and the paid replays
charged to it (COST_REPORTS/REPLAY_CHARGES, listed under replay_charges) into
05_GOVERNANCE/COST_REPORTS/COST_REPORT_YYYY_MM_DD.json and commits it signed by
CODE: totals and per-summary statistics, ADR-012 compliance (ceiling, daily
budget, rate limit breaches; PASS or FAIL), budget utilisation, the 7- and
30-day cost trajectory and every alert. The default date is yesterday (UTC),
as the 00:00 UTC run produces it. A date already reported with the same
content is left alone (exit 0); different content is refused (exit 1):
canonical evidence is append-only. --push fetches the remote first (so the
report counts every orchestrator's cycles) and pushes the report after.`,
		Example: `  vios report cost --repo ./governance --keys ~/.vios/keys
  vios report cost --push --remote origin
  vios report cost --date 2026-11-24 -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			clk, err := g.clock()
			if err != nil {
				return err
			}
			now := clk.Now()
			day := now.Truncate(24*time.Hour).AddDate(0, 0, -1)
			if date != "" {
				if day, err = time.Parse("2006-01-02", date); err != nil {
					return fault.Inputf("--date %q: want YYYY-MM-DD", date)
				}
			}
			cm, err := g.openCommitting(cmd.Context(), &pf, "CODE")
			if err != nil {
				return err
			}
			defer cm.close()
			ctx, r, push := cm.ctx, cm.r, cm.push
			code := cm.signers["CODE"]
			c, err := costreport.Commit(ctx, r, code, day, now)
			err = push.finish(ctx, err)
			if c == nil {
				return err
			}
			c.Commit = push.commit(c.Commit)
			if perr := g.emit(c.Report, func(w io.Writer) { printCostReport(w, c) }); perr != nil {
				return perr
			}
			return err
		},
	}
	cost.Flags().StringVar(&date, "date", "", "report `DAY` as YYYY-MM-DD (default: yesterday, UTC)")
	pf.register(cost)
	cmd.AddCommand(cost)
	return cmd
}

func printCostReport(w io.Writer, c *costreport.Committed) {
	r := c.Report
	s := r.DailySummary
	switch {
	case c.Existing:
		fmt.Fprintf(w, "cost report %s is already committed with this content (%s); nothing to do\n", r.ReportDate, c.Path)
	case c.Commit.IsZero():
	default:
		fmt.Fprintf(w, "committed %s  %s\n", c.Commit.String()[:12], c.Path)
	}
	fmt.Fprintf(w, "%s  cycles %d  summaries %d  cost $%.2f (avg $%.4f, max $%.4f)  budget %.2f%%  rate %.0f%%  ADR-012 %s  trend %s\n",
		r.ReportDate, s.TotalCycles, s.TotalSummaries, s.TotalCostUSD, s.AverageUSD, s.MaxUSD,
		r.Utilization.BudgetUsedPct, r.Utilization.RateUsedPct, r.ADR012.Status, r.Trajectory.Trend)
	for _, a := range r.Alerts {
		fmt.Fprintf(w, "  ALERT %-22s %-8s %s\n", a.Type, a.Severity, a.Message)
	}
}
