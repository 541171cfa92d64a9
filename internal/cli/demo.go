package cli

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/vision-ios/vios/internal/attest"
	"github.com/vision-ios/vios/internal/audit"
	"github.com/vision-ios/vios/internal/brief"
	"github.com/vision-ios/vios/internal/clock"
	"github.com/vision-ios/vios/internal/costreport"
	"github.com/vision-ios/vios/internal/cycle"
	"github.com/vision-ios/vios/internal/fault"
	"github.com/vision-ios/vios/internal/gov"
	"github.com/vision-ios/vios/internal/keys"
	"github.com/vision-ios/vios/internal/layout"
	"github.com/vision-ios/vios/internal/ledger"
	"github.com/vision-ios/vios/internal/policy"
	"github.com/vision-ios/vios/internal/status"
)

type demoSummary struct {
	Dir                string        `json:"dir"`
	Repo               string        `json:"repo"`
	KeysDir            string        `json:"keys"`
	Cycles             int           `json:"cycles"`
	Summaries          int           `json:"summaries_generated"`
	CostUSD            float64       `json:"summary_cost_usd"`
	Granted            int           `json:"verdicts_granted"`
	Denied             int           `json:"verdicts_denied"`
	Halted             int           `json:"halted"`
	CyclesPerSec       float64       `json:"cycles_per_second"`
	CostReports        []string      `json:"cost_reports"`
	Attestation        string        `json:"attestation,omitempty"`
	AttestationOutcome string        `json:"attestation_outcome,omitempty"`
	Brief              string        `json:"brief,omitempty"`
	Status             string        `json:"status,omitempty"`
	CostReportsFailing int           `json:"cost_reports_failing"`
	Audit              *audit.Report `json:"audit"`
	VerifyCommand      string        `json:"verify_command"`
	FirstSlot          string        `json:"first_slot"`
	LastSlot           string        `json:"last_slot"`
	HeadCommit         string        `json:"head"`
	ElapsedSeconds     float64       `json:"elapsed_seconds"`
}

func newDemoCmd(g *Globals) *cobra.Command {
	var dir string
	var days int
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the whole job end to end on embedded defaults",
		Long: `Generates agent keys, initialises a governance repository, runs hourly
production cycles for N simulated days (time travel with --at), audits the
result and prints the stock-git command that verifies every commit signature.
Everything is written under --dir (default: a new temporary directory):
DIR/keys holds the private keys, DIR/governance the repository.`,
		Example: `  vios demo
  vios demo --dir /tmp/vios-demo --days 2`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if days < 1 || days > 366 {
				return fault.Inputf("--days %d: want 1..366", days)
			}
			start := time.Now()
			if dir == "" {
				d, err := os.MkdirTemp("", "vios-demo-")
				if err != nil {
					return err
				}
				dir = d
			} else if ents, err := os.ReadDir(dir); err == nil && len(ents) > 0 {
				return fault.Inputf("demo: %s is not empty; give a new or empty --dir", dir)
			}
			keyDir := filepath.Join(dir, "keys")
			repoDir := filepath.Join(dir, "governance")
			log := g.stderr
			if _, err := keys.Generate(keyDir); err != nil {
				return err
			}
			signers, err := keys.LoadAll(keyDir, policy.Agents...)
			if err != nil {
				return err
			}
			now := time.Now().UTC()
			if g.Now != "" {
				if now, err = parseTime("--now", g.Now); err != nil {
					return err
				}
			}
			// The simulated days end on the most recent Sunday 00:00 UTC, so
			// that the last week is exactly the week VEGA attests.
			first := attest.LastSunday(now).AddDate(0, 0, -days)
			fmt.Fprintf(log, "demo: keys in %s\n", keyDir)
			res, err := gov.Init(cmd.Context(), repoDir, signers, first.Add(-time.Hour))
			if err != nil {
				return err
			}
			fmt.Fprintf(log, "demo: governance repository %s initialised at %s\n", repoDir, res.Commit.String()[:12])
			r, err := ledger.Open(repoDir)
			if err != nil {
				return err
			}
			defer r.Close()
			sum := demoSummary{Dir: dir, Repo: repoDir, KeysDir: keyDir, FirstSlot: first.Format(time.RFC3339)}
			n := days * 24
			cycStart := time.Now()
			for i := 0; i < n; i++ {
				slot := first.Add(time.Duration(i) * time.Hour)
				c, err := cycle.RunAndCommit(cmd.Context(), r, cycle.Options{
					Slot: slot, Clock: clock.NewSim(slot, time.Second), Signers: signers,
				})
				if err != nil && c == nil {
					return fmt.Errorf("demo cycle %d (%s): %w", i+1, slot.Format(time.RFC3339), err)
				}
				sum.Cycles++
				sum.LastSlot = slot.Format(time.RFC3339)
				sum.HeadCommit = c.Commit.String()
				if res := c.Result; res != nil {
					switch {
					case res.Halted:
						sum.Halted++
					case res.Log.FinalVerdict == cycle.Granted:
						sum.Granted++
					default:
						sum.Denied++
					}
					if res.Evidence.Outcome.SummaryStatus == "generated" {
						sum.Summaries++
						sum.CostUSD += res.Evidence.Outcome.CostUSD
					}
				}
				if (i+1)%24 == 0 {
					fmt.Fprintf(log, "demo: day %d/%d done: %d cycles, %d summaries, $%.4f\n", (i+1)/24, days, sum.Cycles, sum.Summaries, sum.CostUSD)
				}
			}
			sum.CyclesPerSec = float64(n) / time.Since(cycStart).Seconds()
			for d := 0; d < days; d++ {
				day := first.AddDate(0, 0, d)
				c, err := costreport.Commit(cmd.Context(), r, signers["CODE"], day, day.AddDate(0, 0, 1))
				if err != nil {
					return fmt.Errorf("demo cost report %s: %w", day.Format("2006-01-02"), err)
				}
				sum.CostReports = append(sum.CostReports, c.Path)
				if c.Report.ADR012.Status != "PASS" {
					sum.CostReportsFailing++
				}
			}
			if days >= 7 {
				sunday := attest.LastSunday(now)
				c, err := attest.Commit(cmd.Context(), r, signers["VEGA"], signers["CODE"], sunday, sunday.Add(time.Hour))
				if err != nil {
					return fmt.Errorf("demo attestation: %w", err)
				}
				sum.Attestation, sum.AttestationOutcome = c.Path, c.Attestation.Outcome
				if _, _, _, err := brief.Commit(cmd.Context(), r, signers["CODE"], sunday.Add(2*time.Hour)); err != nil {
					return fmt.Errorf("demo brief: %w", err)
				}
				sum.Brief = layout.Phase3Brief
				st, err := status.Derive(r, sunday.Add(3*time.Hour))
				if err != nil {
					return err
				}
				if err := commitStatus(cmd.Context(), r, signers["CODE"], st, sunday.Add(3*time.Hour)); err != nil {
					return fmt.Errorf("demo status: %w", err)
				}
				sum.Status = layout.StatusFile
			}
			rep, err := audit.Verify(cmd.Context(), r, audit.Options{})
			if err != nil {
				return err
			}
			sum.Audit = rep
			sum.VerifyCommand = fmt.Sprintf("git -C %s -c gpg.ssh.allowedSignersFile=policies/keys/allowed_signers log --format='%%h %%G? %%GS %%s'", repoDir)
			sum.ElapsedSeconds = time.Since(start).Seconds()
			if err := g.emit(sum, func(w io.Writer) { printDemo(w, &sum) }); err != nil {
				return err
			}
			if !rep.Passed {
				return fault.Governancef("demo: audit failed")
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "", "output `DIR` for keys/ and governance/ (default: a new temporary directory)")
	cmd.Flags().IntVar(&days, "days", 7, "simulated `DAYS` of hourly cycles")
	return cmd
}

func printDemo(w io.Writer, s *demoSummary) {
	fmt.Fprintf(w, `
vios demo complete in %.1fs
  repository   %s
  keys         %s
  cycles       %d hourly slots, %s .. %s (%.0f cycles/s signed and committed)
  verdicts     %d GRANTED, %d DENIED, %d halted
  summaries    %d generated, $%.4f total
  cost reports %d daily ADR-012 reports, %d failing
  attestation  %s %s
  brief        %s
  status       %s
  audit        %s
`, s.ElapsedSeconds, s.Repo, s.KeysDir, s.Cycles, s.FirstSlot, s.LastSlot, s.CyclesPerSec,
		s.Granted, s.Denied, s.Halted, s.Summaries, s.CostUSD, len(s.CostReports), s.CostReportsFailing,
		s.AttestationOutcome, s.Attestation, s.Brief, s.Status, passFail(s.Audit.Passed))
	printAudit(w, s.Audit)
	fmt.Fprintf(w, "\nVerify every commit signature with stock git (expect only G):\n  %s\n", s.VerifyCommand)
	fmt.Fprintf(w, "and the whole audit trail again with:\n  vios audit verify --repo %s\n", s.Repo)
}

func passFail(ok bool) string {
	if ok {
		return "PASS"
	}
	return "FAIL"
}
