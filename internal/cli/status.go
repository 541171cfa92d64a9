package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/vision-ios/vios/internal/fault"
	"github.com/vision-ios/vios/internal/gov"
	"github.com/vision-ios/vios/internal/keys"
	"github.com/vision-ios/vios/internal/layout"
	"github.com/vision-ios/vios/internal/ledger"
	"github.com/vision-ios/vios/internal/signing"
	"github.com/vision-ios/vios/internal/status"
)

func newStatusCmd(g *Globals) *cobra.Command {
	var write bool
	var pf pushFlags
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Operational status derived from the repository",
		Long: `Derives the operational status tables from the governance repository: the
state (RUNNING, HALTED, PAUSED; summaries ALLOWED or BLOCKED), the four
directives (architecture freeze, production rhythm, deviation SLA, Phase 3
preparation), each artifact's last generation and next due time (overdue ones
flagged), and deviation counts per type. -o md prints the Markdown; --write
commits it as 05_GOVERNANCE/OPERATIONAL_STATUS.md signed by CODE; with --push
it fetches the remote first (the status of the shared history) and pushes after.`,
		Example: `  vios status --repo ./governance
  vios status -o md --write --keys ~/.vios/keys`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			clk, err := g.clock()
			if err != nil {
				return err
			}
			now := clk.Now()
			r, err := ledger.Open(g.Repo)
			if err != nil {
				return err
			}
			defer r.Close()
			ctx := cmd.Context()
			var push *pusher
			if write {
				if ctx, push, err = g.startPush(ctx, r, &pf, nil); err != nil {
					return err
				}
			}
			s, err := status.Derive(r, now)
			if err != nil {
				return push.finish(ctx, err)
			}
			md := s.Markdown()
			if g.Output == "md" {
				g.stdout.Write(md)
			} else if err := g.emit(s, func(w io.Writer) { printStatus(w, s) }); err != nil {
				return err
			}
			if !write {
				return nil
			}
			code, err := keys.Load(g.Keys, "CODE")
			if err != nil {
				return push.finish(ctx, err)
			}
			return push.finish(ctx, commitStatus(ctx, r, code, s, now))
		},
	}
	cmd.Flags().BoolVar(&write, "write", false, "commit 05_GOVERNANCE/OPERATIONAL_STATUS.md signed by CODE")
	pf.register(cmd)
	return cmd
}

func printStatus(w io.Writer, s *status.Status) {
	fmt.Fprintf(w, "production %s (summaries %s): %s\n\n", s.State, s.Summaries, s.Reason)
	for _, d := range s.Directives {
		fmt.Fprintf(w, "  %-22s %-16s %s\n", d.Name, d.State, d.Detail)
	}
	fmt.Fprintln(w)
	for _, a := range s.Artifacts {
		flag := ""
		if a.Overdue {
			flag = "  OVERDUE"
		}
		fmt.Fprintf(w, "  %-32s last %-22s next %s%s\n", a.Name, a.Last, a.NextDue, flag)
	}
	fmt.Fprintln(w)
	for _, d := range s.Deviations {
		fmt.Fprintf(w, "  %-32s detected %d  escalated %d  open %d  %s\n", d.Type, d.Detected, d.Escalated, d.Open, d.Status)
	}
}

// commitStatus commits the status Markdown signed by CODE, unless HEAD
// already holds it.
func commitStatus(ctx context.Context, r *ledger.Repo, code *signing.Signer, s *status.Status, now time.Time) error {
	md := s.Markdown()
	snap, unlock, err := gov.Begin(ctx, r, now, code)
	if err != nil {
		return err
	}
	defer unlock()
	if snap.Commit.String() != s.Head {
		return fault.Inputf("status: the repository moved while deriving the status; run again")
	}
	if old, err := r.ReadFile(snap.Commit, layout.StatusFile); err == nil && bytes.Equal(old, md) {
		return nil
	}
	ssh, err := code.SSH()
	if err != nil {
		return err
	}
	_, err = r.Apply(ctx, &ledger.Change{
		Subject:  fmt.Sprintf("status: %s, %d directives, %d artifacts", s.State, len(s.Directives), len(s.Artifacts)),
		Trailers: [][2]string{{"Vios-Artifact", "operational_status"}, {"Vios-Agent", "CODE"}, {"Vios-Baseline", snap.Policy.Cycle.Version}},
		Files:    []ledger.File{{Path: layout.StatusFile, Data: md}},
		Author:   gov.Author("CODE"), When: now, Signer: ssh, Parent: snap.Commit,
	})
	return err
}
