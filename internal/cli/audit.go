package cli

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/vision-ios/vios/internal/audit"
	"github.com/vision-ios/vios/internal/fault"
	"github.com/vision-ios/vios/internal/ledger"
)

func newAuditCmd(g *Globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Verify the audit trail",
		Args:  cobra.NoArgs,
		RunE:  groupHelp,
	}
	var workers int
	verify := &cobra.Command{
		Use:   "verify",
		Short: "Verify every signature, lineage link and evidence hash in the history",
		Long: `Walks the whole first-parent history of the governance repository natively and
checks, in parallel across cores:
  - every commit touching 05_GOVERNANCE/ carries a valid SSH signature by a
    registry key, and its agent may sign that artifact kind (signatures.yaml);
    a merge commit no agent signed (a change request merged on GitHub) passes
    only when LARS approved and VEGA recommended the merged head and the
    merge brings in exactly that head's files;
  - every operation signature in every signature log verifies against the
    registry key valid at the operation time (never the key in the log);
  - the lineage chain within each cycle and across all cycles;
  - the evidence bundle's input and output hashes match the signed log;
  - no existing canonical artifact was modified or deleted (a deviation record
    may only gain events);
  - no signature log inside the retention window (signatures.yaml
    retention_days, at least 365 days before --now) is missing at HEAD.
Exit 0 when clean, 1 when anything failed (each failure names commit and file).`,
		Example: `  vios audit verify --repo ./governance
  vios audit verify --repo ./governance -o json | jq .failures`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := ledger.Open(g.Repo)
			if err != nil {
				return err
			}
			defer r.Close()
			clk, err := g.clock()
			if err != nil {
				return err
			}
			rep, err := audit.Verify(cmd.Context(), r, audit.Options{Workers: workers, Now: clk.Now()})
			if err != nil {
				return err
			}
			if err := g.emit(rep, func(w io.Writer) { printAudit(w, rep) }); err != nil {
				return err
			}
			if !rep.Passed {
				return fault.Governancef("audit failed: %d problem(s) found", len(rep.Failures))
			}
			return nil
		},
	}
	verify.Flags().IntVar(&workers, "workers", 0, "parallel verifiers (default: number of CPUs)")
	cmd.AddCommand(verify)
	return cmd
}

func printAudit(w io.Writer, rep *audit.Report) {
	status := "PASS"
	if !rep.Passed {
		status = "FAIL"
	}
	fmt.Fprintf(w, "audit %s: %d commits (%d governance), %d commit signatures, %d signature logs with %d operation signatures, %d evidence bundles, %d lineage links in %.0f ms\n",
		status, rep.CommitsChecked, rep.GovernanceCommits, rep.CommitSignatures, rep.LogsChecked, rep.OperationSignatures, rep.EvidenceChecked, rep.LineageLinks, rep.DurationMS)
	if rep.G4Merges > 0 {
		fmt.Fprintf(w, "  %d change request merge(s) covered by LARS approval and VEGA recommendation of the merged head\n", rep.G4Merges)
	}
	for _, f := range rep.Failures {
		c := f.Commit
		if len(c) > 12 {
			c = c[:12]
		}
		fmt.Fprintf(w, "  FAIL %s %s [%s] %s\n", c, f.File, f.Check, f.Reason)
	}
}
