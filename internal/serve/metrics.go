package serve

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Handler serves GET /healthz (200 "ok" while the schedule runs, 503 while
// starting or shutting down) and GET /metrics in the Prometheus text
// exposition format (version 0.0.4).
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		s.m.mu.Lock()
		st := s.m.state
		s.m.mu.Unlock()
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if st != "running" {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintln(w, st)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
		defer cancel()
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		s.WriteMetrics(ctx, w)
	})
	return mux
}

// WriteMetrics writes the metrics in the Prometheus text format: the
// counters of this process, and the gauges read from the repository now
// (a failed read is reported as vios_gauge_read_errors_total and the
// gauges are left out, never shown as zero).
func (s *Server) WriteMetrics(ctx context.Context, w io.Writer) {
	var g Gauges
	var gerr error
	if s.cfg.Jobs.Gauges != nil {
		g, gerr = s.cfg.Jobs.Gauges(ctx, s.cfg.Clock.Now().UTC())
	}
	m := &s.m
	m.mu.Lock()
	if gerr != nil {
		m.jobs[[2]string{"gauges", "error"}]++
	}
	cycles := sortedKeys(m.cycles)
	sigFails := m.sigFails
	type jobCount struct {
		job, result string
		n           int
	}
	var jobs []jobCount
	for k, n := range m.jobs {
		jobs = append(jobs, jobCount{k[0], k[1], n})
	}
	last := map[string]time.Time{}
	for k, v := range m.lastOK {
		last[k] = v
	}
	counts := map[string]int{}
	for k, v := range m.cycles {
		counts[k] = v
	}
	m.mu.Unlock()
	sort.Slice(jobs, func(i, j int) bool {
		if jobs[i].job != jobs[j].job {
			return jobs[i].job < jobs[j].job
		}
		return jobs[i].result < jobs[j].result
	})

	e := expo{w: w}
	e.head("vios_cycles_total", "counter", "Production cycles this server ran, by outcome (granted, denied, halted, recorded, refused, failed).")
	if len(cycles) == 0 {
		e.sample("vios_cycles_total", `outcome="granted"`, 0)
	}
	for _, o := range cycles {
		e.sample("vios_cycles_total", `outcome="`+o+`"`, float64(counts[o]))
	}
	e.head("vios_signature_failures_total", "counter", "Operation signatures that failed verification in cycles this server ran.")
	e.sample("vios_signature_failures_total", "", float64(sigFails))
	if s.cfg.Jobs.Gauges != nil && gerr == nil {
		e.head("vios_cost_today_usd", "gauge", "ADR-012 spend of the current UTC day, from OPERATIONAL_STATE.json at HEAD.")
		e.sample("vios_cost_today_usd", "", g.CostTodayUSD)
		e.head("vios_open_deviations", "gauge", "Deviations at HEAD that are not resolved.")
		e.sample("vios_open_deviations", "", float64(g.OpenDeviations))
	}
	e.head("vios_jobs_total", "counter", "Scheduled jobs run, by job and result.")
	for _, j := range jobs {
		e.sample("vios_jobs_total", `job="`+j.job+`",result="`+j.result+`"`, float64(j.n))
	}
	e.head("vios_job_last_success_timestamp_seconds", "gauge", "When each job last succeeded (Unix time).")
	for _, k := range sortedKeys(last) {
		e.sample("vios_job_last_success_timestamp_seconds", `job="`+k+`"`, float64(last[k].Unix()))
	}
}

// expo writes the text exposition format.
type expo struct{ w io.Writer }

func (e expo) head(name, typ, help string) {
	fmt.Fprintf(e.w, "# HELP %s %s\n# TYPE %s %s\n", name, escapeHelp(help), name, typ)
}

func (e expo) sample(name, labels string, v float64) {
	if labels != "" {
		name += "{" + labels + "}"
	}
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		fmt.Fprintf(e.w, "%s %d\n", name, int64(v))
		return
	}
	fmt.Fprintf(e.w, "%s %s\n", name, strconv.FormatFloat(v, 'g', -1, 64))
}

func escapeHelp(s string) string {
	return strings.NewReplacer(`\`, `\\`, "\n", `\n`).Replace(s)
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
