package cli

import (
	"fmt"
	"io"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/spf13/cobra"

	"github.com/vision-ios/vios/internal/deviation"
	"github.com/vision-ios/vios/internal/fault"
	"github.com/vision-ios/vios/internal/ledger"
	"github.com/vision-ios/vios/internal/sla"
)

func newDeviationCmd(g *Globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "deviation",
		Short: "List, annotate and resolve deviations",
		Args:  cobra.NoArgs,
		RunE:  groupHelp,
	}
	var openOnly bool
	list := &cobra.Command{
		Use:   "list",
		Short: "List the deviations at HEAD with their status and SLA",
		Long: `Lists every deviation record under 05_GOVERNANCE/DEVIATIONS/ at HEAD: type,
severity, status (open, escalated after an SLA breach, resolved), when it was
detected, when its root cause and remediation plan are due, and its latest
event. -o json prints the records with their whole event history.`,
		Example: `  vios deviation list --repo ./governance
  vios deviation list --open -o json | jq '.deviations[].id'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := ledger.Open(g.Repo)
			if err != nil {
				return err
			}
			defer r.Close()
			head, err := r.Head()
			if err != nil {
				return err
			}
			recs, problems, err := deviation.Load(r, head)
			if err != nil {
				return err
			}
			shown := []*deviation.Record{}
			for _, d := range recs {
				if !openOnly || d.Open() {
					shown = append(shown, d)
				}
			}
			out := struct {
				Head       string              `json:"head"`
				Deviations []*deviation.Record `json:"deviations"`
				Problems   []string            `json:"problems"`
			}{head.String(), shown, problems}
			return g.emit(out, func(w io.Writer) {
				if len(shown) == 0 {
					fmt.Fprintln(w, "no deviations")
				}
				for _, d := range shown {
					last := d.Events[len(d.Events)-1]
					fmt.Fprintf(w, "%-60s %-9s %-9s detected %s  due %s  %d events, last %s at %s\n",
						d.ID, d.Severity, d.Status, d.DetectedAt, d.DueAt, len(d.Events), last.Type, last.At)
				}
				for _, p := range problems {
					fmt.Fprintf(w, "unreadable: %s\n", p)
				}
			})
		},
	}
	list.Flags().BoolVar(&openOnly, "open", false, "only deviations not resolved yet")
	cmd.AddCommand(list)

	var note string
	var updatePush pushFlags
	update := &cobra.Command{
		Use:   "update DEV",
		Short: "Append a status note to a deviation, sent to the alert sinks",
		Long: `Appends a note event to the deviation's history, sends it to every alert sink
(on GitHub, a comment on the deviation's issue) and commits it signed by CODE.
An unknown deviation id is refused (exit 2). --push fetches the remote first
(so the note lands on the newest history) and pushes the commit after.`,
		Example: `  vios deviation update DEV-signature_verification_failure-75c6040e1e25f939 \
      --note "FINN's key file was replaced during the host migration; restoring it"`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := deviation.CheckID(args[0]); err != nil {
				return err
			}
			cm, err := g.openCommitting(cmd.Context(), &updatePush, "CODE")
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
			c, err := sla.Note(ctx, r, code, sinks, args[0], note, clk.Now())
			if err = push.finish(ctx, err); err != nil {
				return err
			}
			return emitChange(g, push, c, "note recorded")
		},
	}
	update.Flags().StringVar(&note, "note", "", "the status `TEXT` (required)")
	updatePush.register(update)
	cmd.AddCommand(update)

	var signer, rootCause, plan string
	var resolvePush pushFlags
	resolve := &cobra.Command{
		Use:   "resolve DEV",
		Short: "Resolve a deviation with its root cause and remediation plan, signed by LARS",
		Long: `Records LARS's resolution of a deviation — the root cause and the remediation
plan — sends it to the alert sinks (the GitHub issue is closed) and commits it
signed by LARS. Only LARS resolves: --signer must be LARS (else exit 2) and the
key must be LARS's ACTIVE registry key (else exit 1).

Resolving a signature-verification deviation lifts HALTED, an ADR-compliance
deviation PAUSED, in the same commit — unless another deviation of that kind
is still open. This is how production resumes after a halt or a pause:
HALTED and PAUSED are lifted only by a LARS-signed resolution (vios state
resume refuses while such a deviation is open). --push fetches the remote
first and pushes the resolution after.`,
		Example: `  vios deviation resolve DEV-signature_verification_failure-75c6040e1e25f939 --signer LARS \
      --root-cause "FINN's key file was overwritten by a stale backup" \
      --plan "restore from the vault; checksum key files before each cycle" --keys ~/.vios/keys`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if signer != "LARS" {
				return fault.Inputf("deviation resolve: --signer must be LARS (only LARS resolves deviations)")
			}
			if err := deviation.CheckID(args[0]); err != nil {
				return err
			}
			cm, err := g.openCommitting(cmd.Context(), &resolvePush, "LARS")
			if err != nil {
				return err
			}
			defer cm.close()
			clk, ctx, r, push := cm.clk, cm.ctx, cm.r, cm.push
			lars := cm.signers["LARS"]
			sinks, err := g.sinks(r)
			if err != nil {
				return push.finish(ctx, err)
			}
			c, err := sla.Resolve(ctx, r, lars, sinks, args[0], rootCause, plan, clk.Now())
			if err = push.finish(ctx, err); err != nil {
				return err
			}
			msg := "resolved by LARS"
			switch {
			case c.StateTo != "":
				msg += fmt.Sprintf("; production %s -> %s", c.StateFrom, c.StateTo)
			case c.StateNote != "":
				msg += "; " + c.StateNote
			}
			return emitChange(g, push, c, msg)
		},
	}
	resolve.Flags().StringVar(&signer, "signer", "", "the resolving agent: LARS")
	resolve.Flags().StringVar(&rootCause, "root-cause", "", "the root cause `TEXT` (required)")
	resolve.Flags().StringVar(&plan, "plan", "", "the remediation plan `TEXT` (required)")
	resolvePush.register(resolve)
	cmd.AddCommand(resolve)
	return cmd
}

// emitChange prints a note or a resolution; with --push, the commit is the
// one that landed on the remote.
func emitChange(g *Globals, push *pusher, c *sla.Change, what string) error {
	c.Commit = push.commit(plumbing.NewHash(c.Commit)).String()
	if err := g.emit(c, func(w io.Writer) {
		fmt.Fprintf(w, "%s: %s (commit %s)\n", c.Deviation.ID, what, c.Commit[:12])
		for _, e := range c.Delivery.Events {
			fmt.Fprintf(w, "  %-22s %s\n", e.Type, deliveries(e.Deliveries))
		}
	}); err != nil {
		return err
	}
	if c.Delivery.Failed > 0 {
		fmt.Fprintf(g.stderr, "vios: %d deliveries failed; recorded, `vios sla tick` retries\n", c.Delivery.Failed)
	}
	return nil
}
