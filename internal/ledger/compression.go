package ledger

import (
	"strconv"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/vision-ios/vios/internal/fault"
)

// levels are the zlib levels (-1 to 9) of the objects a repository
// writes: one for blobs, one for trees, commits and tags.
type levels struct {
	blob, other int
}

func (lv levels) of(t plumbing.ObjectType) int {
	if t == plumbing.BlobObject {
		return lv.blob
	}
	return lv.other
}

// defaultLevels are the levels when the repository's config sets none.
//
// Blobs, the artifacts, are deflated at BestSpeed. A commit writes a few
// kilobytes of JSON that deflate shrinks about three times, and its cost
// is mostly the files it creates: compressing harder saves little, and
// storing would triple what commits write and what merges copy.
//
// Trees, commits and tags are stored (level 0, deflate's stored blocks).
// They are mostly SHA-1s and signatures, which deflate shrinks by only 1.2
// to 1.4 times (some 600 bytes a cycle commit), yet inflating each costs
// the set-up of a Huffman table: a cycle commit brings some ten new trees,
// and an audit reads every one of them, through the odb's copy of stored
// streams (see stored).
//
// A repository that sets a level gets it for every object, as with git
// (see the README for what core.compression 0 costs and saves). Git reads
// stored objects like any others, and git gc keeps them as they are
// unless told to recompress.
var defaultLevels = levels{blob: 1, other: 0}

// compression returns the zlib levels for the objects this repository
// writes, reading its config once: pack.compression, else
// core.compression, -1 (zlib's default) to 9, as git reads them, for every
// object; defaultLevels when neither is set. Only the
// repository's own config counts (not the user's or the system's), so
// that what a governance repository writes does not depend on who runs
// vios. A value git would stop at (not a number, empty, or out of range,
// in either key) is an input error naming the key.
func (r *Repo) compression() (levels, error) {
	if r.levels != nil {
		return *r.levels, nil
	}
	cfg, err := r.Git.Config()
	if err != nil {
		return levels{}, fault.Inputf("repo config: %v", err)
	}
	lv, set := defaultLevels, false
	for _, key := range [...]string{"pack.compression", "core.compression"} {
		sec, opt, _ := strings.Cut(key, ".")
		if !cfg.Raw.Section(sec).HasOption(opt) {
			continue
		}
		v := strings.TrimSpace(cfg.Raw.Section(sec).Option(opt))
		// git parses the number as C's strtoimax with base 0: decimal,
		// 0x hexadecimal or 0 octal, without Go's underscores.
		n, err := strconv.ParseInt(v, 0, 64)
		if err != nil || strings.Contains(v, "_") || n < -1 || n > 9 {
			return levels{}, fault.Inputf("repo config: %s = %q: want a zlib level from -1 to 9", key, v)
		}
		if !set {
			lv, set = levels{blob: int(n), other: int(n)}, true
		}
	}
	r.levels = &lv
	return lv, nil
}
