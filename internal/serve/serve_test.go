package serve

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// fakeClock is a Clock the test moves by hand: After registers a waiter
// that fires when the clock is moved past its time.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []waiter
	wake    chan struct{} // a new waiter arrived
}

type waiter struct {
	at time.Time
	ch chan time.Time
}

func newFakeClock(t time.Time) *fakeClock {
	return &fakeClock{now: t, wake: make(chan struct{}, 1)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.now
		return ch
	}
	c.waiters = append(c.waiters, waiter{c.now.Add(d), ch})
	select {
	case c.wake <- struct{}{}:
	default:
	}
	return ch
}

// set moves the clock to t and fires the waiters due.
func (c *fakeClock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if !w.at.After(t) {
			w.ch <- t
		} else {
			kept = append(kept, w)
		}
	}
	c.waiters = kept
}

// runUntil steps the clock from waiter to waiter (the scheduler waits on
// one at a time, after finishing its jobs) until the next one is after end.
func (c *fakeClock) runUntil(t *testing.T, end time.Time) {
	t.Helper()
	for {
		var next waiter
		deadline := time.After(10 * time.Second)
		for {
			c.mu.Lock()
			if len(c.waiters) > 0 {
				next = c.waiters[0]
			}
			c.mu.Unlock()
			if next.ch != nil {
				break
			}
			select {
			case <-c.wake:
			case <-time.After(time.Millisecond):
			case <-deadline:
				t.Fatal("the scheduler never waited on the clock")
			}
		}
		if next.at.After(end) {
			return
		}
		c.set(next.at)
	}
}

// recorder fakes the jobs and records their calls.
type recorder struct {
	mu       sync.Mutex
	calls    []string
	interval time.Duration
	clk      *fakeClock
}

func (r *recorder) add(s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, s)
}

func (r *recorder) list(prefix string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, c := range r.calls {
		if strings.HasPrefix(c, prefix) {
			out = append(out, c)
		}
	}
	return out
}

func (r *recorder) jobs() Jobs {
	return Jobs{
		Interval: func(context.Context) (time.Duration, error) { return r.interval, nil },
		Cycle: func(_ context.Context, slot time.Time) (CycleResult, error) {
			r.add("cycle " + slot.Format(time.RFC3339))
			if slot.Hour() == 1 {
				return CycleResult{Outcome: Halted, SignatureFailures: 1}, errors.New("cycle halted")
			}
			return CycleResult{Outcome: Granted}, nil
		},
		CostReport: func(_ context.Context, day, now time.Time) error {
			r.add("cost " + day.Format("2006-01-02") + " at " + now.Format(time.RFC3339))
			return nil
		},
		Attest: func(_ context.Context, sunday, now time.Time) error {
			r.add("attest " + sunday.Format("2006-01-02") + " at " + now.Format(time.RFC3339))
			return nil
		},
		Tick: func(_ context.Context, now time.Time) error {
			r.add("tick " + now.Format(time.RFC3339))
			return nil
		},
		Gauges: func(context.Context, time.Time) (Gauges, error) {
			return Gauges{CostTodayUSD: 0.0123, OpenDeviations: 2}, nil
		},
	}
}

var (
	saturday = time.Date(2026, 11, 7, 22, 30, 0, 0, time.UTC)
	sunday   = time.Date(2026, 11, 8, 0, 0, 0, 0, time.UTC)
)

// TestScheduleRunsEveryJob drives the server with a fake clock from
// Saturday 22:30 to Sunday 02:00 UTC: a cycle per hourly slot (the current
// one at start), the cost report of Saturday and the weekly attestation at
// Sunday 00:00 after that slot's cycle, an SLA tick every minute; then
// checks /healthz and the /metrics text.
func TestScheduleRunsEveryJob(t *testing.T) {
	clk := newFakeClock(saturday)
	rec := &recorder{interval: time.Hour, clk: clk}
	s, err := New(Config{Jobs: rec.jobs(), Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.Run(ctx) }()
	clk.runUntil(t, sunday.Add(2*time.Hour))

	want := []string{"cycle 2026-11-07T22:00:00Z", "cycle 2026-11-07T23:00:00Z", "cycle 2026-11-08T00:00:00Z", "cycle 2026-11-08T01:00:00Z", "cycle 2026-11-08T02:00:00Z"}
	if d := cmp.Diff(want, rec.list("cycle")); d != "" {
		t.Errorf("cycles (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{"cost 2026-11-07 at 2026-11-08T00:00:00Z"}, rec.list("cost")); d != "" {
		t.Errorf("cost reports (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{"attest 2026-11-08 at 2026-11-08T00:00:00Z"}, rec.list("attest")); d != "" {
		t.Errorf("attestations (-want +got):\n%s", d)
	}
	ticks := rec.list("tick")
	if len(ticks) != 211 || ticks[0] != "tick 2026-11-07T22:30:00Z" || ticks[210] != "tick 2026-11-08T02:00:00Z" {
		t.Errorf("%d ticks, %q .. %q; want 211 from 22:30 to 02:00", len(ticks), ticks[0], ticks[len(ticks)-1])
	}
	// Sunday 00:00: the slot's cycle, then the day's report, then the
	// attestation that reads it, then the tick.
	var order []string
	for _, c := range rec.list("") {
		if strings.Contains(c, "2026-11-08T00:00:00Z") && !strings.HasPrefix(c, "cost 2026-11-08") {
			order = append(order, strings.Fields(c)[0])
		}
	}
	if d := cmp.Diff([]string{"cycle", "cost", "attest", "tick"}, order); d != "" {
		t.Errorf("order at Sunday 00:00 (-want +got):\n%s", d)
	}

	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	if code, body := get(t, srv.URL+"/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("/healthz: %d %q", code, body)
	}
	code, body := get(t, srv.URL+"/metrics")
	if code != 200 {
		t.Fatalf("/metrics: %d", code)
	}
	for _, line := range []string{
		"# TYPE vios_cycles_total counter",
		`vios_cycles_total{outcome="granted"} 4`,
		`vios_cycles_total{outcome="halted"} 1`,
		"# TYPE vios_signature_failures_total counter",
		"vios_signature_failures_total 1",
		"# TYPE vios_cost_today_usd gauge",
		"vios_cost_today_usd 0.0123",
		"# TYPE vios_open_deviations gauge",
		"vios_open_deviations 2",
		`vios_jobs_total{job="attestation",result="ok"} 1`,
		`vios_jobs_total{job="cost_report",result="ok"} 1`,
		`vios_jobs_total{job="sla_tick",result="ok"} 211`,
		`vios_job_last_success_timestamp_seconds{job="attestation"} 1794096000`,
	} {
		if !strings.Contains(body, line+"\n") {
			t.Errorf("/metrics lacks %q:\n%s", line, body)
		}
	}
	checkExposition(t, body)

	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if code, body := get(t, srv.URL+"/healthz"); code != 503 || body != "stopping\n" {
		t.Errorf("/healthz after shutdown: %d %q", code, body)
	}
}

// checkExposition checks the text format's grammar line by line: comments
// are HELP or TYPE, every sample is NAME[{LABELS}] VALUE of a declared
// metric.
func checkExposition(t *testing.T, body string) {
	t.Helper()
	typed := map[string]bool{}
	for _, l := range strings.Split(strings.TrimSuffix(body, "\n"), "\n") {
		if rest, ok := strings.CutPrefix(l, "# TYPE "); ok {
			f := strings.Fields(rest)
			if len(f) != 2 || (f[1] != "counter" && f[1] != "gauge") {
				t.Errorf("bad TYPE line %q", l)
			}
			typed[f[0]] = true
			continue
		}
		if strings.HasPrefix(l, "# HELP ") {
			continue
		}
		f := strings.Fields(l)
		name, _, _ := strings.Cut(f[0], "{")
		if len(f) != 2 || !typed[name] || strings.Count(f[0], "{") != strings.Count(f[0], "}") {
			t.Errorf("bad sample line %q", l)
		}
	}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestOverrunSkipsMissedSlots: a cycle that runs past later slots is
// followed by the current slot, not by a backlog.
func TestOverrunSkipsMissedSlots(t *testing.T) {
	clk := newFakeClock(time.Date(2026, 11, 10, 9, 0, 0, 0, time.UTC))
	rec := &recorder{interval: time.Hour, clk: clk}
	jobs := rec.jobs()
	jobs.Tick = nil
	inner := jobs.Cycle
	jobs.Cycle = func(ctx context.Context, slot time.Time) (CycleResult, error) {
		if slot.Hour() == 9 {
			clk.set(clk.Now().Add(3*time.Hour + 10*time.Minute)) // a very slow cycle
		}
		return inner(ctx, slot)
	}
	s, _ := New(Config{Jobs: jobs, Clock: clk})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.Run(ctx) }()
	clk.runUntil(t, time.Date(2026, 11, 10, 13, 0, 0, 0, time.UTC))
	cancel()
	<-done
	want := []string{"cycle 2026-11-10T09:00:00Z", "cycle 2026-11-10T12:00:00Z", "cycle 2026-11-10T13:00:00Z"}
	if d := cmp.Diff(want, rec.list("cycle")); d != "" {
		t.Errorf("cycles (-want +got):\n%s", d)
	}
}

// TestGracefulShutdown: a job running when shutdown begins finishes when
// it can within the grace period; one that does not is cancelled then, and
// Run returns either way without starting another job.
func TestGracefulShutdown(t *testing.T) {
	for _, tc := range []struct {
		name     string
		grace    time.Duration
		finishes bool // the job completes by itself during the grace
	}{
		{"finishes", 5 * time.Second, true},
		{"abandons", 30 * time.Millisecond, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := newFakeClock(time.Date(2026, 11, 10, 9, 0, 0, 0, time.UTC))
			rec := &recorder{interval: time.Hour, clk: clk}
			jobs := rec.jobs()
			started, release := make(chan struct{}), make(chan struct{})
			var jobErr error
			var calls int
			jobs.Cycle = func(ctx context.Context, slot time.Time) (CycleResult, error) {
				calls++
				close(started)
				select {
				case <-release:
					return CycleResult{Outcome: Granted}, nil
				case <-ctx.Done():
					jobErr = ctx.Err()
					return CycleResult{}, ctx.Err()
				}
			}
			s, _ := New(Config{Jobs: jobs, Clock: clk, Grace: tc.grace})
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error)
			go func() { done <- s.Run(ctx) }()
			<-started
			cancel() // SIGTERM
			if tc.finishes {
				time.Sleep(20 * time.Millisecond)
				close(release)
			}
			select {
			case err := <-done:
				if err != nil {
					t.Fatal(err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("Run did not return after shutdown")
			}
			if tc.finishes != (jobErr == nil) {
				t.Errorf("job error %v, want finished=%v", jobErr, tc.finishes)
			}
			if calls != 1 || len(rec.list("tick")) != 0 {
				t.Errorf("%d cycles and %d ticks after shutdown began", calls, len(rec.list("tick")))
			}
		})
	}
}

func TestNewNeedsJobsAndInterval(t *testing.T) {
	if _, err := New(Config{}); err == nil {
		t.Fatal("a server without jobs")
	}
	rec := &recorder{}
	jobs := rec.jobs()
	jobs.Interval = func(context.Context) (time.Duration, error) { return 0, errors.New("no policy") }
	s, _ := New(Config{Jobs: jobs, Clock: newFakeClock(saturday)})
	if err := s.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "no policy") {
		t.Fatalf("Run without an interval: %v", err)
	}
}
