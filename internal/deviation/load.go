package deviation

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/vision-ios/vios/internal/layout"
	"github.com/vision-ios/vios/internal/ledger"
)

// parsed caches records by blob hash (content-addressed, so never stale;
// bounded, since every tick that changes a record makes a new blob);
// callers get a copy, since a pass appends to the records it is given.
var parsed = struct {
	sync.Mutex
	m map[plumbing.Hash]*Record
}{m: map[plumbing.Hash]*Record{}}

const maxParsed = 1 << 14

// ForgetParsed empties the cache of parsed records, so that the next Load
// parses every record again (a cold start, as benchmarks measure it).
func ForgetParsed() {
	parsed.Lock()
	defer parsed.Unlock()
	clear(parsed.m)
}

func cached(h plumbing.Hash) (*Record, bool) {
	parsed.Lock()
	defer parsed.Unlock()
	d, ok := parsed.m[h]
	return d, ok
}

func remember(h plumbing.Hash, d *Record) {
	parsed.Lock()
	defer parsed.Unlock()
	if len(parsed.m) >= maxParsed {
		clear(parsed.m)
	}
	parsed.m[h] = d
}

// Load reads every deviation record at commit h, sorted by id. Records
// that do not parse are listed as problems, not fatal: one bad file must
// not stop the alerts of all the others.
func Load(r *ledger.Repo, h plumbing.Hash) ([]*Record, []string, error) {
	c, err := r.Commit(h)
	if err != nil {
		return nil, nil, err
	}
	th, err := r.Lookup(c.TreeHash, layout.Deviations)
	if errors.Is(err, ledger.ErrNotFound) {
		return nil, []string{}, nil
	}
	if err != nil {
		return nil, nil, err
	}
	entries, err := r.ReadTree(th)
	if err != nil {
		return nil, nil, err
	}
	recs := make([]*Record, 0, len(entries))
	problems := []string{}
	for _, e := range entries {
		if !strings.HasPrefix(e.Name, "DEV-") || !strings.HasSuffix(e.Name, ".json") || !e.Mode.IsFile() {
			continue
		}
		if d, ok := cached(e.Hash); ok {
			recs = append(recs, clone(d))
			continue
		}
		data, err := r.ReadBlob(e.Hash)
		if err != nil {
			return nil, nil, err
		}
		d, err := Parse(data)
		if err == nil && d.ID+".json" != e.Name {
			err = fmt.Errorf("holds %s", d.ID)
		}
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s/%s: %v", layout.Deviations, e.Name, err))
			continue
		}
		remember(e.Hash, clone(d))
		recs = append(recs, d)
	}
	sort.Slice(recs, func(i, j int) bool { return recs[i].ID < recs[j].ID })
	return recs, problems, nil
}

// clone copies a record deeply enough that appending events and filling
// their deliveries never touches the original.
func clone(d *Record) *Record {
	c := *d
	c.Events = make([]Event, len(d.Events), len(d.Events)+8)
	copy(c.Events, d.Events)
	return &c
}
