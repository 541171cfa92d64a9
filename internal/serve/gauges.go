package serve

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing/filemode"

	"github.com/vision-ios/vios/internal/economics"
	"github.com/vision-ios/vios/internal/layout"
	"github.com/vision-ios/vios/internal/ledger"
	"github.com/vision-ios/vios/internal/state"
)

// RepoGauges reads the gauges from the repository at dir, through a handle
// of its own per call (a scrape runs beside the jobs): the day's ADR-012
// spend from OPERATIONAL_STATE.json (zero when its tally is of another
// day) and the deviations whose status is not "resolved".
func RepoGauges(dir string) func(ctx context.Context, now time.Time) (Gauges, error) {
	return func(ctx context.Context, now time.Time) (Gauges, error) {
		var g Gauges
		r, err := ledger.Open(dir)
		if err != nil {
			return g, err
		}
		defer r.Close()
		head, err := r.Head()
		if err != nil {
			return g, err
		}
		data, err := r.ReadFile(head, layout.StateFile)
		if err != nil {
			return g, err
		}
		st, err := state.Parse(data)
		if err != nil {
			return g, err
		}
		if st.EconomicsDay == economics.DayOf(now) {
			g.CostTodayUSD = st.SpendTodayUSD
		}
		c, err := r.Commit(head)
		if err != nil {
			return g, err
		}
		th, err := r.Lookup(c.TreeHash, layout.Deviations)
		if errors.Is(err, ledger.ErrNotFound) {
			return g, nil
		}
		if err != nil {
			return g, err
		}
		tree, err := r.ReadTree(th)
		if err != nil {
			return g, err
		}
		for _, e := range tree {
			if ctx.Err() != nil {
				return g, ctx.Err()
			}
			if e.Mode == filemode.Dir || !strings.HasSuffix(e.Name, ".json") {
				continue
			}
			data, err := r.ReadBlob(e.Hash)
			if err != nil {
				return g, err
			}
			var d struct {
				Status string `json:"status"`
			}
			if err := json.Unmarshal(data, &d); err != nil {
				return g, fmt.Errorf("%s/%s: %w", layout.Deviations, e.Name, err)
			}
			if d.Status != "resolved" {
				g.OpenDeviations++
			}
		}
		return g, nil
	}
}
