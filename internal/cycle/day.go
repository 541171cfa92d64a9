package cycle

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"

	"github.com/vision-ios/vios/internal/economics"
	"github.com/vision-ios/vios/internal/layout"
	"github.com/vision-ios/vios/internal/ledger"
)

// DayFile is one cycle artifact of a UTC day.
type DayFile struct {
	CycleID string
	Path    string
	Blob    plumbing.Hash
}

// DayEvidence lists the evidence bundles of the UTC day of t at commit h,
// reading only that day's shard of the tree.
func DayEvidence(r *ledger.Repo, h plumbing.Hash, t time.Time) ([]DayFile, error) {
	return dayFiles(r, h, layout.CycleEvidence+"/"+layout.ShardDate(t), "CYCLE_")
}

// DayLogs lists the signature logs of the UTC day of t at commit h.
func DayLogs(r *ledger.Repo, h plumbing.Hash, t time.Time) ([]DayFile, error) {
	return dayFiles(r, h, layout.SignatureLogs+"/"+layout.ShardDate(t), "SIGNATURE_LOG_CYCLE_")
}

func dayFiles(r *ledger.Repo, h plumbing.Hash, dir, prefix string) ([]DayFile, error) {
	c, err := r.Commit(h)
	if err != nil {
		return nil, err
	}
	th, err := r.Lookup(c.TreeHash, dir)
	if errors.Is(err, ledger.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	tree, err := r.ReadTree(th)
	if err != nil {
		return nil, err
	}
	var out []DayFile
	for _, e := range tree {
		if e.Mode == filemode.Dir {
			continue
		}
		id, ok := strings.CutPrefix(e.Name, prefix)
		if !ok {
			continue
		}
		id, ok = strings.CutSuffix(id, ".json")
		if !ok || layout.CheckCycleID(id) != nil {
			continue
		}
		out = append(out, DayFile{CycleID: id, Path: dir + "/" + e.Name, Blob: e.Hash})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

// ReadOutcome reads only the outcome of an evidence bundle, which vios
// writes before the steps, without decoding the steps.
func ReadOutcome(data []byte) (Outcome, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return Outcome{}, errors.New("evidence: not a JSON object")
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return Outcome{}, fmt.Errorf("evidence: %w", err)
		}
		if t == "outcome" {
			var o Outcome
			if err := dec.Decode(&o); err != nil {
				return Outcome{}, fmt.Errorf("evidence outcome: %w", err)
			}
			return o, nil
		}
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return Outcome{}, fmt.Errorf("evidence: %w", err)
		}
	}
	return Outcome{}, errors.New("evidence: no outcome")
}

// ReplayChargeFile is one committed replay charge record of a UTC day.
type ReplayChargeFile struct {
	Path   string
	Charge *economics.ReplayCharge
}

// DayReplayChargeFiles lists the replay charge records of the UTC day of t
// at commit h, unread.
func DayReplayChargeFiles(r *ledger.Repo, h plumbing.Hash, t time.Time) ([]DayFile, error) {
	return dayFiles(r, h, layout.ReplayCharges+"/"+layout.ShardDate(t), "REPLAY_")
}

// DayReplayCharges reads the replay charge records charged to the UTC day
// of t at commit h (only that day's shard), in path order.
func DayReplayCharges(r *ledger.Repo, h plumbing.Hash, t time.Time) ([]ReplayChargeFile, error) {
	files, err := DayReplayChargeFiles(r, h, t)
	if err != nil {
		return nil, err
	}
	out := make([]ReplayChargeFile, 0, len(files))
	for _, f := range files {
		data, err := r.ReadBlob(f.Blob)
		if err != nil {
			return nil, err
		}
		c, err := economics.ParseReplayCharge(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.Path, err)
		}
		out = append(out, ReplayChargeFile{Path: f.Path, Charge: c})
	}
	return out, nil
}

// DayUsage tallies the summaries generated on the UTC day of t from that
// day's evidence at commit h, plus the paid replay summaries charged to it.
func DayUsage(r *ledger.Repo, h plumbing.Hash, t time.Time) (*economics.Usage, error) {
	files, err := DayEvidence(r, h, t)
	if err != nil {
		return nil, err
	}
	u := &economics.Usage{Day: economics.DayOf(t)}
	for _, f := range files {
		data, err := r.ReadBlob(f.Blob)
		if err != nil {
			return nil, err
		}
		o, err := ReadOutcome(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.Path, err)
		}
		if o.SummaryStatus == "generated" {
			u.Settle(o.CostUSD)
		}
	}
	charges, err := DayReplayCharges(r, h, t)
	if err != nil {
		return nil, err
	}
	for _, c := range charges {
		for _, k := range c.Charge.Calls {
			if k.Status == economics.ReplayCharged {
				u.Settle(k.CostUSD)
			}
		}
	}
	return u, nil
}
