package cli

import (
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/vision-ios/vios/internal/clock"
	"github.com/vision-ios/vios/internal/cycle"
	"github.com/vision-ios/vios/internal/ledger"
)

func newCycleCmd(g *Globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cycle",
		Short: "Run production cycles",
		Args:  cobra.NoArgs,
		RunE:  groupHelp,
	}
	var at, source, events, provider, binanceURL, llmURL string
	var pf pushFlags
	run := &cobra.Command{
		Use:   "run",
		Short: "Run one signed production cycle and commit it",
		Long: `Runs the 7-step production cycle for one slot: LINE ingests 90 daily BTCUSDT
candles, FINN scores the cognitive dissonance between price action and news
sentiment and weights it by regime, FINN writes a Tier-2 summary when the CDS
reaches the trigger, STIG recomputes and validates, VEGA attests. Each
operation is signed by its agent and verified against the registry before the
next runs; a failed signature halts the orchestrator (exit 1).

The signature log, evidence bundle and operational state land in one commit
signed by CODE. Running a slot that is already recorded does nothing.

Sources: --source builtin | csv:PATH | binance, --events builtin | file:PATH
(JSON lines), --provider builtin | openai. Defaults come from policies/cycle.yaml.
Before any summary the ADR-012 guard prices the worst case (the prompt plus
max_tokens); a summary that could break the per-summary ceiling, the daily
budget or the daily rate limit is blocked without calling the provider.

--push fetches the remote (--remote, default origin) before the cycle and
pushes after it. When another orchestrator pushed meanwhile, the cycle is run
again on the new tip from the inputs its evidence recorded (so its lineage
links to the newest cycle), every signature is made again, and the push is
retried with jittered backoff.`,
		Example: `  vios cycle run --repo ./governance --keys ~/.vios/keys
  vios cycle run --push --remote https://git.example.com/gov.git   # auth: $VIOS_GIT_TOKEN
  vios cycle run --at 2026-11-24T13:00:00Z --source csv:btc.csv --events file:news.jsonl`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			clk, err := g.clock()
			if err != nil {
				return err
			}
			var slot time.Time
			if at != "" {
				if slot, err = parseTime("--at", at); err != nil {
					return err
				}
				if g.Now == "" {
					clk = clock.NewSim(slot, time.Second)
				}
			}
			r, err := ledger.Open(g.Repo)
			if err != nil {
				return err
			}
			defer r.Close()
			alert, err := g.alertHook(r)
			if err != nil {
				return err
			}
			opt := cycle.Options{
				Slot: slot, Clock: clk, KeysDir: g.Keys,
				MarketSpec: source, EventsSpec: events, ProviderSpec: provider, BinanceURL: binanceURL, LLMURL: llmURL,
				Alert: alert,
			}
			ctx, push, err := g.startPush(cmd.Context(), r, &pf, &opt)
			if err != nil {
				return err
			}
			c, err := cycle.RunAndCommit(ctx, r, opt)
			err = push.finish(ctx, err)
			if c == nil {
				return err
			}
			c = push.cycle(c) // the commit recording it, if the push re-created it
			if perr := g.emit(cycleReport(c), func(w io.Writer) { printCycle(w, c) }); perr != nil {
				return perr
			}
			return err
		},
	}
	f := run.Flags()
	f.StringVar(&at, "at", "", "run the slot at this RFC 3339 `TIME` (time travel; default: now truncated to the schedule)")
	f.StringVar(&source, "source", "", "market `SOURCE`: builtin, csv:PATH or binance")
	f.StringVar(&events, "events", "", "news events `SOURCE`: builtin or file:PATH")
	f.StringVar(&provider, "provider", "", "summary `PROVIDER`: builtin or openai (API key from the env var policies/cycle.yaml names)")
	f.StringVar(&llmURL, "llm-url", "", "OpenAI-compatible base `URL` for --provider openai (vLLM, Ollama, LiteLLM; default from policies/cycle.yaml)")
	f.StringVar(&binanceURL, "binance-url", "", "Binance REST base `URL` for --source binance (default from policies/cycle.yaml)")
	pf.register(run)
	cmd.AddCommand(run)
	return cmd
}

type cycleJSON struct {
	CycleID    string  `json:"cycle_id"`
	Slot       string  `json:"slot"`
	Commit     string  `json:"commit"`
	Log        string  `json:"log"`
	Existing   bool    `json:"already_recorded"`
	Verified   int     `json:"signatures_verified,omitempty"`
	Required   int     `json:"signatures_required,omitempty"`
	Status     string  `json:"verification_status,omitempty"`
	Verdict    string  `json:"verdict,omitempty"`
	CDS        float64 `json:"cds_score,omitempty"`
	Summary    string  `json:"summary_status,omitempty"`
	Halted     bool    `json:"halted"`
	HaltReason string  `json:"halt_reason,omitempty"`
}

func cycleReport(c *cycle.Committed) cycleJSON {
	out := cycleJSON{CycleID: c.CycleID, Slot: c.Slot.Format(time.RFC3339), Commit: c.Commit.String(), Log: c.LogPath, Existing: c.Existing}
	if res := c.Result; res != nil {
		s := res.Log.Summary
		out.Verified, out.Required, out.Status = s.SignaturesVerified, s.SignaturesRequired, s.VerificationStatus
		out.Verdict, out.CDS, out.Summary = res.Log.FinalVerdict, res.Evidence.Outcome.CDSScore, res.Evidence.Outcome.SummaryStatus
		out.Halted, out.HaltReason = res.Halted, res.HaltReason
	}
	return out
}

func printCycle(w io.Writer, c *cycle.Committed) {
	if c.Existing {
		fmt.Fprintf(w, "cycle %s (slot %s) is already recorded in %s; nothing to do\n", c.CycleID, c.Slot.Format(time.RFC3339), c.LogPath)
		return
	}
	res := c.Result
	s := res.Log.Summary
	if res.Halted {
		fmt.Fprintf(w, "cycle %s HALTED: %s\ncommitted %s (%s)\n", c.CycleID, res.HaltReason, c.Commit.String()[:12], c.LogPath)
		return
	}
	fmt.Fprintf(w, "cycle %s  slot %s  %d/%d signatures verified  CDS %.4f  summary %s  VEGA %s\ncommitted %s  %s\n",
		c.CycleID, c.Slot.Format(time.RFC3339), s.SignaturesVerified, s.SignaturesRequired,
		res.Evidence.Outcome.CDSScore, res.Evidence.Outcome.SummaryStatus, res.Log.FinalVerdict, c.Commit.String()[:12], c.LogPath)
}
