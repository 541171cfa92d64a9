package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"github.com/vision-ios/vios/internal/attest"
	"github.com/vision-ios/vios/internal/clock"
	"github.com/vision-ios/vios/internal/costreport"
	"github.com/vision-ios/vios/internal/cycle"
	"github.com/vision-ios/vios/internal/fault"
	"github.com/vision-ios/vios/internal/gov"
	"github.com/vision-ios/vios/internal/keys"
	"github.com/vision-ios/vios/internal/ledger"
	"github.com/vision-ios/vios/internal/serve"
	"github.com/vision-ios/vios/internal/signing"
	"github.com/vision-ios/vios/internal/state"
)

func newServeCmd(g *Globals) *cobra.Command {
	var listen string
	var grace time.Duration
	var pf pushFlags
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the production schedule, daily and weekly reports and the SLA tick; serve /healthz and /metrics",
		Long: `Runs the whole operating rhythm in one process, on the wall clock:
  - a production cycle per schedule interval of policies/cycle.yaml (read at
    HEAD before each slot; the current slot runs at start, a recorded slot
    is left alone, slots missed while a job overran are skipped),
  - the ADR-012 cost report of the previous day at 00:00 UTC,
  - VEGA's weekly attestation on Sunday 00:00 UTC (after that day's report),
  - the deviation SLA tick every minute.
Jobs run one at a time. With --push each job fetches the remote first and
pushes after (see vios cycle run --help).

SIGTERM or Ctrl-C stops the schedule: no new job starts, the running one may
finish within --grace, then it is cancelled and abandons its commit cleanly
(the branch moves atomically, last).

--listen serves GET /healthz (200 ok while the schedule runs) and GET
/metrics in the Prometheus text format: vios_cycles_total{outcome},
vios_signature_failures_total, vios_cost_today_usd, vios_open_deviations,
vios_jobs_total{job,result} and vios_job_last_success_timestamp_seconds.`,
		Example: `  vios serve --repo ./governance --keys ~/.vios/keys
  vios serve --listen 127.0.0.1:9464 --push --remote origin
  curl -s 127.0.0.1:9464/metrics | grep vios_cycles_total`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if g.Now != "" {
				return fault.Inputf("serve runs on the wall clock; --now is for one-shot commands")
			}
			if _, _, err := net.SplitHostPort(listen); err != nil {
				return fault.Inputf("--listen %q: %v", listen, err)
			}
			signers, err := keys.LoadAll(g.Keys, "LINE", "FINN", "STIG", "VEGA", "CODE")
			if err != nil {
				return err
			}
			r, err := ledger.Open(g.Repo)
			if err != nil {
				return err
			}
			defer r.Close()
			if _, err := gov.Load(r); err != nil {
				return err
			}
			jobs, err := g.serveJobs(r, signers, &pf)
			if err != nil {
				return err
			}
			log := slog.New(slog.NewTextHandler(g.stderr, nil))
			srv, err := serve.New(serve.Config{Jobs: jobs, Grace: grace, Log: log})
			if err != nil {
				return err
			}
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return fmt.Errorf("listen: %w", err)
			}
			hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 5 * time.Second}
			go hs.Serve(ln)
			log.Info("metrics and health", "url", "http://"+ln.Addr().String()+"/metrics")
			err = srv.Run(cmd.Context())
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			hs.Shutdown(sctx)
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&listen, "listen", "127.0.0.1:9464", "`ADDR` for /healthz and /metrics")
	f.DurationVar(&grace, "grace", 30*time.Second, "on shutdown, how long the running job may still finish")
	pf.register(cmd)
	return cmd
}

// serveJobs wires the scheduled jobs to the domain packages, all on one
// repository handle (the server runs them one at a time).
func (g *Globals) serveJobs(r *ledger.Repo, signers map[string]*signing.Signer, pf *pushFlags) (serve.Jobs, error) {
	alert, err := g.alertHook(r)
	if err != nil {
		return serve.Jobs{}, err
	}
	tick, err := g.slaTick(r, signers["CODE"])
	if err != nil {
		return serve.Jobs{}, err
	}
	return serve.Jobs{
		Interval: func(context.Context) (time.Duration, error) {
			snap, err := gov.Load(r)
			if err != nil {
				return 0, err
			}
			return snap.Policy.Cycle.Schedule.Interval.D(), nil
		},
		Cycle: func(ctx context.Context, slot time.Time) (serve.CycleResult, error) {
			opt := cycle.Options{Slot: slot, Clock: clock.Real{}, Signers: signers, KeysDir: g.Keys, Alert: alert}
			ctx, push, err := g.startPush(ctx, r, pf, &opt)
			if err != nil {
				return serve.CycleResult{}, err
			}
			c, err := cycle.RunAndCommit(ctx, r, opt)
			err = push.finish(ctx, err)
			return cycleResult(push.cycle(c), err), err
		},
		CostReport: func(ctx context.Context, day, now time.Time) error {
			ctx, push, err := g.startPush(ctx, r, pf, nil)
			if err != nil {
				return err
			}
			_, err = costreport.Commit(ctx, r, signers["CODE"], day, now)
			return push.finish(ctx, err)
		},
		Attest: func(ctx context.Context, sunday, now time.Time) error {
			ctx, push, err := g.startPush(ctx, r, pf, nil)
			if err != nil {
				return err
			}
			c, err := attest.Commit(ctx, r, signers["VEGA"], signers["CODE"], sunday, now)
			if err == nil && c != nil && c.Attestation.Outcome == attest.Fail {
				err = fault.Governancef("attestation %s: FAIL; production PAUSED", c.Attestation.Date)
			}
			return push.finish(ctx, err)
		},
		Tick: func(ctx context.Context, now time.Time) error {
			if tick == nil {
				return nil
			}
			ctx, push, err := g.startPush(ctx, r, pf, nil)
			if err != nil {
				return err
			}
			return push.finish(ctx, tick(ctx, now))
		},
		Gauges: serve.RepoGauges(g.Repo),
	}, nil
}

// cycleResult maps a cycle run to its metrics.
func cycleResult(c *cycle.Committed, err error) serve.CycleResult {
	switch {
	case c == nil && (errors.Is(err, state.ErrHalted) || errors.Is(err, state.ErrPaused)):
		return serve.CycleResult{Outcome: serve.Refused}
	case c == nil:
		return serve.CycleResult{Outcome: serve.Failed}
	case c.Existing || c.Result == nil:
		return serve.CycleResult{Outcome: serve.Recorded}
	}
	res := serve.CycleResult{Outcome: serve.Granted, SignatureFailures: c.Result.Log.Summary.SignaturesFailed}
	switch {
	case c.Result.Halted:
		res.Outcome = serve.Halted
	case c.Result.Log.FinalVerdict == cycle.Denied:
		res.Outcome = serve.Denied
	}
	return res
}
