package cli

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/spf13/cobra"

	"github.com/vision-ios/vios/internal/deviation"
	"github.com/vision-ios/vios/internal/gov"
	"github.com/vision-ios/vios/internal/ledger"
	"github.com/vision-ios/vios/internal/sla"
)

func newSLACmd(g *Globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "sla",
		Short: "Run the deviation SLA engine",
		Args:  cobra.NoArgs,
		RunE:  groupHelp,
	}
	var pf pushFlags
	tick := &cobra.Command{
		Use:   "tick",
		Short: "Send what is due on every open deviation and record it (cron: every 5 min)",
		Long: `Reads every deviation at HEAD and moves each along its escalation timeline
(policies/governance.yaml):
  - the alert, at once on detection and at the latest alert_within after it;
    an alert that has not reached every sink by then is recorded as an SLA miss;
  - the investigation start, when the alert window closes;
  - a status update every status_update_interval while the deviation is open;
  - when the SLA passes without LARS's root cause and remediation plan, an
    SLA breach, escalated to the emergency protocol (LARS, critical).
Each notification goes to every alert sink (stderr, webhook, github), one
deviation at a time, never grouped. A delivery that failed is retried by
later ticks (after 1, 2, 4 … at most 30 minutes). Every event and every
delivery outcome is appended to the deviation's history, all in one commit
signed by CODE; nothing due means no commit.

A tick holds the repository lock from reading the records to committing what
it sent, so ticks that overlap (a slow cron run, serve and cron together)
queue: the later one finds the events recorded and sends nothing twice. With
--push it first fetches the remote (so events another orchestrator already
sent and pushed are not sent again) and pushes the commit after.

Exit 0 when everything due was delivered, 3 when a delivery failed (it is
recorded and retried), 2 on a broken sink configuration.`,
		Example: `  vios sla tick --repo ./governance --keys ~/.vios/keys
  */5 * * * *  vios sla tick --repo /srv/governance -o json   # crontab
  vios sla tick --now 2026-11-24T14:05:00Z                     # as of a given time`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cm, err := g.openCommitting(cmd.Context(), &pf, "CODE")
			if err != nil {
				return err
			}
			defer cm.close()
			clk, ctx, r, push := cm.clk, cm.ctx, cm.r, cm.push
			code := cm.signers["CODE"]
			sinks, err := g.sinks(r)
			if err != nil {
				return push.finish(ctx, err)
			}
			rep, err := sla.Tick(ctx, r, code, sinks, clk.Now())
			if err = push.finish(ctx, err); err != nil {
				return err
			}
			if rep.Commit != "" {
				rep.Commit = push.commit(plumbing.NewHash(rep.Commit)).String()
			}
			if err := g.emit(rep, func(w io.Writer) { printTick(w, rep) }); err != nil {
				return err
			}
			if rep.Failed > 0 {
				return fmt.Errorf("sla tick: %d deliveries failed; recorded, the next tick retries", rep.Failed)
			}
			return nil
		},
	}
	pf.register(tick)
	cmd.AddCommand(tick)
	return cmd
}

// sinks builds the alert sinks the repository's policy configures, writing
// the stderr sink to the command's stderr. A broken sink is exit 2.
func (g *Globals) sinks(r *ledger.Repo) ([]sla.Sink, error) {
	snap, err := gov.Load(r)
	if err != nil {
		return nil, err
	}
	return sla.NewSinks(snap.Policy.Governance.AlertSinks, sla.SinkOptions{Stderr: g.stderr})
}

// alertHook returns the cycle's detection hook: the deviations a cycle
// opens are alerted at once, inside the command, through the configured
// sinks; a failed delivery is reported on stderr and left to `sla tick`.
func (g *Globals) alertHook(r *ledger.Repo) (func(context.Context, []*deviation.Record, time.Time), error) {
	snap, err := gov.Load(r)
	if err != nil {
		return nil, err
	}
	sinks, err := sla.NewSinks(snap.Policy.Governance.AlertSinks, sla.SinkOptions{Stderr: g.stderr})
	if err != nil {
		return nil, err
	}
	n := &sla.Notifier{Policy: snap.Policy, Sinks: sinks, Budget: 30 * time.Second}
	return func(ctx context.Context, opened []*deviation.Record, now time.Time) {
		rep := n.Opened(ctx, opened, now)
		for _, e := range rep.Events {
			for _, d := range e.Deliveries {
				if d.DeliveredAt == "" {
					fmt.Fprintf(g.stderr, "vios: %s %s not delivered to %s: %s (`vios sla tick` retries)\n", e.Deviation, e.Type, d.Sink, d.LastError)
				}
			}
		}
	}, nil
}

func printTick(w io.Writer, rep *sla.TickReport) {
	fmt.Fprintf(w, "sla tick at %s: %d deviations, %d open; %d events on %d deviations; delivered %d, failed %d, not attempted %d",
		rep.At, rep.Deviations, rep.Open, len(rep.Events), rep.Changed, rep.Delivered, rep.Failed, rep.Skipped)
	if rep.Breaches > 0 {
		fmt.Fprintf(w, "; %d SLA breaches escalated to LARS", rep.Breaches)
	}
	if rep.Commit != "" {
		fmt.Fprintf(w, "\ncommitted %s", rep.Commit[:12])
	}
	fmt.Fprintln(w)
	for _, e := range rep.Events {
		fmt.Fprintf(w, "  %-60s %-22s %s\n", e.Deviation, e.Type, deliveries(e.Deliveries))
	}
	for _, p := range rep.Problems {
		fmt.Fprintf(w, "  unreadable: %s\n", p)
	}
}

func deliveries(ds []deviation.Delivery) string {
	var out []string
	for _, d := range ds {
		if d.DeliveredAt != "" {
			out = append(out, d.Sink+" ok")
		} else {
			out = append(out, d.Sink+" FAILED: "+d.LastError)
		}
	}
	return strings.Join(out, "; ")
}
