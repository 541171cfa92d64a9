package determinism

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"

	"github.com/vision-ios/vios/internal/cycle"
	"github.com/vision-ios/vios/internal/fault"
	"github.com/vision-ios/vios/internal/layout"
	"github.com/vision-ios/vios/internal/ledger"
)

// Problem is an artifact that could not be read.
type Problem struct {
	Path   string `json:"path"`
	Reason string `json:"reason"`
}

// LoadRange reads the bundles of every cycle whose slot falls in
// [since, until) at commit h, a day shard at a time. Unreadable or missing
// artifacts are returned as problems, never skipped silently.
func LoadRange(r *ledger.Repo, h plumbing.Hash, since, until time.Time) ([]Bundle, []Problem, error) {
	var out []Bundle
	var probs []Problem
	for d := since.UTC().Truncate(24 * time.Hour); d.Before(until); d = d.AddDate(0, 0, 1) {
		logs, err := cycle.DayLogs(r, h, d)
		if err != nil {
			return nil, nil, err
		}
		evs, err := cycle.DayEvidence(r, h, d)
		if err != nil {
			return nil, nil, err
		}
		evByID := map[string]cycle.DayFile{}
		for _, e := range evs {
			evByID[e.CycleID] = e
		}
		for _, lf := range logs {
			b, p := load(r, lf, evByID[lf.CycleID])
			if p != nil {
				probs = append(probs, *p)
				continue
			}
			ts, _ := time.Parse(time.RFC3339, b.Evidence.CycleTimestamp)
			if ts.Before(since) || !ts.Before(until) {
				continue
			}
			out = append(out, b)
			delete(evByID, lf.CycleID)
		}
		for id, e := range evByID {
			probs = append(probs, Problem{Path: e.Path, Reason: "evidence of cycle " + id + " has no signature log"})
		}
	}
	return out, probs, nil
}

func load(r *ledger.Repo, lf, ef cycle.DayFile) (Bundle, *Problem) {
	data, err := r.ReadBlob(lf.Blob)
	if err != nil {
		return Bundle{}, &Problem{lf.Path, err.Error()}
	}
	lg, err := cycle.ParseLog(data)
	if err != nil {
		return Bundle{}, &Problem{lf.Path, err.Error()}
	}
	if ef.Path == "" {
		p, _ := layout.EvidenceForLog(lf.Path)
		return Bundle{}, &Problem{p, "evidence bundle is missing"}
	}
	data, err = r.ReadBlob(ef.Blob)
	if err != nil {
		return Bundle{}, &Problem{ef.Path, err.Error()}
	}
	ev, err := cycle.ParseEvidence(data)
	if err != nil {
		return Bundle{}, &Problem{ef.Path, err.Error()}
	}
	return Bundle{Log: lg, Evidence: ev}, nil
}

// LoadCycle finds one cycle by id at commit h.
func LoadCycle(r *ledger.Repo, h plumbing.Hash, id string) (Bundle, error) {
	if err := layout.CheckCycleID(id); err != nil {
		return Bundle{}, err
	}
	c, err := r.Commit(h)
	if err != nil {
		return Bundle{}, err
	}
	root, err := r.Lookup(c.TreeHash, layout.SignatureLogs)
	if err != nil {
		return Bundle{}, fault.Inputf("cycle %s: no signature logs in the repository", id)
	}
	name := "SIGNATURE_LOG_CYCLE_" + id + ".json"
	var found string
	var walk func(plumbing.Hash, string) error
	walk = func(t plumbing.Hash, dir string) error {
		tree, err := r.ReadTree(t)
		if err != nil {
			return err
		}
		for _, e := range tree {
			switch {
			case found != "":
				return nil
			case e.Mode == filemode.Dir:
				if err := walk(e.Hash, dir+"/"+e.Name); err != nil {
					return err
				}
			case e.Name == name:
				found = dir + "/" + e.Name
			}
		}
		return nil
	}
	if err := walk(root, layout.SignatureLogs); err != nil {
		return Bundle{}, err
	}
	if found == "" {
		return Bundle{}, fault.Inputf("cycle %s: not recorded in this repository", id)
	}
	day := strings.TrimPrefix(found[len(layout.SignatureLogs)+1:], "")
	parts := strings.Split(day, "/")
	if len(parts) < 4 {
		return Bundle{}, fmt.Errorf("cycle %s: unexpected log path %s", id, found)
	}
	t, err := time.Parse("2006/01/02", strings.Join(parts[:3], "/"))
	if err != nil {
		return Bundle{}, fmt.Errorf("cycle %s: %v", id, err)
	}
	bs, probs, err := LoadRange(r, h, t, t.AddDate(0, 0, 1))
	if err != nil {
		return Bundle{}, err
	}
	for _, b := range bs {
		if b.Evidence.CycleID == id {
			return b, nil
		}
	}
	for _, p := range probs {
		if strings.Contains(p.Path, id) {
			return Bundle{}, errors.New(p.Path + ": " + p.Reason)
		}
	}
	return Bundle{}, fault.Inputf("cycle %s: not recorded in this repository", id)
}
