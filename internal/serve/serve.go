// Package serve is vios's self-hosted scheduler: one process that runs the
// production schedule of policies/cycle.yaml (a cycle per schedule
// interval), the ADR-012 daily cost report at 00:00 UTC for the day before,
// VEGA's weekly attestation on Sunday 00:00 UTC and the deviation SLA tick
// every minute, and serves /healthz and Prometheus /metrics.
//
// The jobs are function values (the CLI wires the domain packages, tests
// fake them) run one at a time in schedule order, so they never race on the
// repository. Time comes from a Clock, so tests drive the schedule with a
// fake one. A slot missed while a job overran is skipped, except the
// current one. On shutdown no new job starts; the running one may finish
// within Grace, then its context is cancelled and it abandons its commit
// cleanly (objects are written before the branch, which moves atomically).
package serve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Clock tells the time and makes timers.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

// RealClock is the wall clock in UTC.
type RealClock struct{}

// Now implements Clock.
func (RealClock) Now() time.Time { return time.Now().UTC() }

// After implements Clock.
func (RealClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Cycle outcomes, the values of vios_cycles_total's outcome label.
const (
	Granted  = "granted"  // committed, VEGA GRANTED
	Denied   = "denied"   // committed, VEGA DENIED
	Halted   = "halted"   // committed, a signature failed: production HALTED
	Recorded = "recorded" // the slot was already recorded: nothing done
	Refused  = "refused"  // not run: production is HALTED or PAUSED
	Failed   = "failed"   // an error; nothing committed
)

// CycleResult is what a cycle job reports for the metrics.
type CycleResult struct {
	Outcome           string
	SignatureFailures int
}

// Gauges are read from the repository when /metrics is scraped.
type Gauges struct {
	CostTodayUSD   float64
	OpenDeviations int
}

// Jobs are the scheduled work. Cycle, CostReport and Attest are required;
// a nil Tick disables the SLA tick.
type Jobs struct {
	// Interval is the cycle schedule interval, read from
	// policies/cycle.yaml at HEAD before each cycle is scheduled.
	Interval func(ctx context.Context) (time.Duration, error)
	// Cycle runs and commits the cycle of slot.
	Cycle func(ctx context.Context, slot time.Time) (CycleResult, error)
	// CostReport commits the cost report of day (a UTC midnight).
	CostReport func(ctx context.Context, day, now time.Time) error
	// Attest commits VEGA's attestation of the week ending on sunday.
	Attest func(ctx context.Context, sunday, now time.Time) error
	// Tick runs the deviation SLA engine at now.
	Tick func(ctx context.Context, now time.Time) error
	// Gauges reads the gauges; nil leaves them at zero.
	Gauges func(ctx context.Context, now time.Time) (Gauges, error)
}

// Config configures a Server.
type Config struct {
	Jobs  Jobs
	Clock Clock // default RealClock
	// Grace is how long a running job may go on after shutdown begins
	// (default 30 s); then its context is cancelled.
	Grace time.Duration
	// TickEvery is the SLA tick period (default one minute).
	TickEvery time.Duration
	Log       *slog.Logger // default discards
}

// Server runs the schedule and keeps the metrics.
type Server struct {
	cfg Config
	m   metrics
}

// New returns a server for cfg.
func New(cfg Config) (*Server, error) {
	j := cfg.Jobs
	if j.Interval == nil || j.Cycle == nil || j.CostReport == nil || j.Attest == nil {
		return nil, errors.New("serve: the interval, cycle, cost report and attestation jobs are required")
	}
	if cfg.Clock == nil {
		cfg.Clock = RealClock{}
	}
	if cfg.Grace <= 0 {
		cfg.Grace = 30 * time.Second
	}
	if cfg.TickEvery <= 0 {
		cfg.TickEvery = time.Minute
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	s := &Server{cfg: cfg}
	s.m.init()
	return s, nil
}

// schedule holds the next due time of each job.
type schedule struct {
	cycle, daily, weekly, tick time.Time
	interval                   time.Duration
}

// ceil returns the first multiple of d (from the Unix epoch, so whole UTC
// hours, days and minutes) at or after t.
func ceil(t time.Time, d time.Duration) time.Time {
	f := t.Truncate(d)
	if f.Before(t) {
		f = f.Add(d)
	}
	return f
}

// nextSunday is the first Sunday 00:00 UTC at or after t.
func nextSunday(t time.Time) time.Time {
	d := ceil(t, 24*time.Hour)
	return d.AddDate(0, 0, (7-int(d.Weekday()))%7)
}

// Run runs the schedule until ctx is done. It starts with the current
// cycle slot (running a recorded slot does nothing), and the first daily,
// weekly and minute boundaries at or after the start. When ctx is done no
// further job starts; Run returns once the running job has finished or,
// after Grace, been cancelled.
func (s *Server) Run(ctx context.Context) error {
	jobCtx, cancelJobs := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelJobs()
	defer s.m.setStopping()
	stopGrace := context.AfterFunc(ctx, func() {
		s.m.setStopping()
		time.AfterFunc(s.cfg.Grace, cancelJobs)
	})
	defer stopGrace()

	clk := s.cfg.Clock
	now := clk.Now().UTC()
	sc := &schedule{daily: ceil(now, 24*time.Hour), weekly: nextSunday(now), tick: ceil(now, s.cfg.TickEvery)}
	if err := s.scheduleCycle(jobCtx, sc, now, true); err != nil {
		return err
	}
	s.m.setRunning()
	s.cfg.Log.Info("serving the schedule", "interval", sc.interval, "next_cycle", sc.cycle, "next_cost_report", sc.daily, "next_attestation", sc.weekly)
	for {
		next := sc.cycle
		for _, t := range []time.Time{sc.daily, sc.weekly} {
			if t.Before(next) {
				next = t
			}
		}
		if s.cfg.Jobs.Tick != nil && sc.tick.Before(next) {
			next = sc.tick
		}
		if wait := next.Sub(clk.Now()); wait > 0 {
			select {
			case <-ctx.Done():
				return nil
			case <-clk.After(wait):
			}
		}
		if ctx.Err() != nil {
			return nil
		}
		s.runDue(ctx, jobCtx, sc, next)
		if ctx.Err() != nil {
			return nil
		}
	}
}

// runDue runs every job due at t, in the order the artifacts depend on each
// other: the cycle of the slot, the report of the day that just ended, the
// attestation of the week (which reads that report), the SLA tick.
func (s *Server) runDue(ctx, jobCtx context.Context, sc *schedule, t time.Time) {
	j := s.cfg.Jobs
	if !sc.cycle.After(t) {
		slot := sc.cycle
		res, err := j.Cycle(jobCtx, slot)
		if err != nil && res.Outcome == "" {
			res.Outcome = Failed
		}
		s.m.cycle(res, s.cfg.Clock.Now())
		s.logJob("cycle", err, "slot", slot, "outcome", res.Outcome)
		if err := s.scheduleCycle(jobCtx, sc, slot, false); err != nil {
			s.cfg.Log.Error("read the schedule interval; keeping the last one", "err", err)
		}
	}
	if ctx.Err() == nil && !sc.daily.After(t) {
		day := sc.daily.AddDate(0, 0, -1)
		err := j.CostReport(jobCtx, day, s.cfg.Clock.Now().UTC())
		s.m.job("cost_report", err, s.cfg.Clock.Now())
		s.logJob("cost report", err, "day", day.Format("2006-01-02"))
		sc.daily = ceil(laterOf(sc.daily.Add(time.Nanosecond), s.cfg.Clock.Now().UTC()), 24*time.Hour)
	}
	if ctx.Err() == nil && !sc.weekly.After(t) {
		sunday := sc.weekly
		err := j.Attest(jobCtx, sunday, s.cfg.Clock.Now().UTC())
		s.m.job("attestation", err, s.cfg.Clock.Now())
		s.logJob("weekly attestation", err, "sunday", sunday.Format("2006-01-02"))
		sc.weekly = nextSunday(laterOf(sc.weekly.Add(time.Nanosecond), s.cfg.Clock.Now().UTC()))
	}
	if ctx.Err() == nil && j.Tick != nil && !sc.tick.After(t) {
		err := j.Tick(jobCtx, s.cfg.Clock.Now().UTC())
		s.m.job("sla_tick", err, s.cfg.Clock.Now())
		if err != nil {
			s.cfg.Log.Error("sla tick", "err", err)
		}
		sc.tick = ceil(laterOf(sc.tick.Add(time.Nanosecond), s.cfg.Clock.Now().UTC()), s.cfg.TickEvery)
	}
}

// scheduleCycle sets the next cycle slot after the one that ran (or, at
// start, the current slot), skipping slots missed while a job overran.
func (s *Server) scheduleCycle(ctx context.Context, sc *schedule, after time.Time, first bool) error {
	d, err := s.cfg.Jobs.Interval(ctx)
	switch {
	case err != nil && sc.interval == 0:
		return fmt.Errorf("serve: schedule interval: %w", err)
	case err == nil && d <= 0:
		err = fmt.Errorf("serve: schedule interval %v is not positive", d)
		if sc.interval == 0 {
			return err
		}
	case err == nil:
		sc.interval = d
	}
	now := s.cfg.Clock.Now().UTC()
	if first {
		sc.cycle = now.Truncate(sc.interval)
		return err
	}
	sc.cycle = laterOf(after.Truncate(sc.interval).Add(sc.interval), now.Truncate(sc.interval))
	return err
}

func laterOf(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func (s *Server) logJob(what string, err error, args ...any) {
	if err != nil {
		s.cfg.Log.Error(what+" failed", append(args, "err", err)...)
		return
	}
	s.cfg.Log.Info(what, args...)
}

// metrics are the server's counters and state.
type metrics struct {
	mu       sync.Mutex
	cycles   map[string]int
	sigFails int
	jobs     map[[2]string]int // {job, result}
	lastOK   map[string]time.Time
	state    string // starting, running, stopping
}

func (m *metrics) init() {
	m.cycles = map[string]int{}
	m.jobs = map[[2]string]int{}
	m.lastOK = map[string]time.Time{}
	m.state = "starting"
}

func (m *metrics) setRunning() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.state == "starting" {
		m.state = "running"
	}
}

func (m *metrics) setStopping() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.state = "stopping"
}

func (m *metrics) cycle(r CycleResult, now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.cycles[r.Outcome]++
	m.sigFails += r.SignatureFailures
	res := "ok"
	if r.Outcome == Failed {
		res = "error"
	} else {
		m.lastOK["cycle"] = now
	}
	m.jobs[[2]string{"cycle", res}]++
}

func (m *metrics) job(name string, err error, now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	res := "ok"
	if err != nil {
		res = "error"
	} else {
		m.lastOK[name] = now
	}
	m.jobs[[2]string{name, res}]++
}
