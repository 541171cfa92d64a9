package audit

import (
	"errors"
	"fmt"
	"path"
	"time"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/vision-ios/vios/internal/deviation"
	"github.com/vision-ios/vios/internal/gov"
	"github.com/vision-ios/vios/internal/ledger"
)

// deviationAppended checks that a modified deviation record only gained
// events: the one change canonical evidence may undergo in place.
func (c *checker) deviationAppended(parentTree plumbing.Hash, ch change) error {
	old, err := c.readFile(parentTree, ch.path)
	if err != nil {
		return fmt.Errorf("read the previous version: %w", err)
	}
	cur, err := c.r.ReadBlob(ch.blob)
	if err != nil {
		return fmt.Errorf("read the new version: %w", err)
	}
	prev, err := deviation.Parse(old)
	if err != nil {
		return fmt.Errorf("previous version: %w", err)
	}
	next, err := deviation.Parse(cur)
	if err != nil {
		return fmt.Errorf("new version: %w", err)
	}
	if path.Base(ch.path) != next.ID+".json" {
		return fmt.Errorf("the file holds %s", next.ID)
	}
	return deviation.Extends(prev, next)
}

// checkRetention flags every signature log that history deleted, that is
// absent at HEAD, and whose slot is inside the retention window
// (policies/signatures.yaml retention_days before now).
func checkRetention(r *ledger.Repo, snap *gov.Snapshot, deleted []string, now time.Time) ([]Failure, error) {
	if len(deleted) == 0 {
		return nil, nil
	}
	if now.IsZero() {
		now = time.Now()
	}
	days := snap.Policy.Signatures.LogRetentionDays()
	start := now.UTC().AddDate(0, 0, -days)
	c, err := r.Commit(snap.Commit)
	if err != nil {
		return nil, err
	}
	var out []Failure
	seen := map[string]bool{}
	for _, p := range deleted {
		if seen[p] {
			continue
		}
		seen[p] = true
		if _, err := r.Lookup(c.TreeHash, p); err == nil {
			continue // deleted once, restored since
		} else if !errors.Is(err, ledger.ErrNotFound) {
			return nil, err
		}
		slot, ok := logDay(p)
		if ok && slot.AddDate(0, 0, 1).Before(start) {
			continue // the whole day left the window
		}
		day := "an unknown day"
		if ok {
			day = slot.Format("2006-01-02")
		}
		out = append(out, Failure{Commit: snap.Commit.String(), File: p, Check: "retention",
			Reason: fmt.Sprintf("signature log of %s is missing at HEAD, inside the %d-day retention window (since %s)", day, days, start.Format("2006-01-02"))})
	}
	return out, nil
}

// logDay is the slot day of a sharded signature log path (…/YYYY/MM/DD/…).
func logDay(p string) (time.Time, bool) {
	dir := path.Dir(p)
	if len(dir) < len("2006/01/02") {
		return time.Time{}, false
	}
	t, err := time.Parse("2006/01/02", dir[len(dir)-len("2006/01/02"):])
	return t, err == nil
}
