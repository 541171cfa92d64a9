package ledger

import (
	"strconv"
	"strings"

	"github.com/vision-ios/vios/internal/fault"
)

// DefaultCompression is the zlib level of the objects vios writes when the
// repository's config sets none: BestSpeed. A commit writes a few
// kilobytes that deflate shrinks about three times, and the cost of a
// commit is mostly the files it creates: compressing harder saves little;
// storing (level 0) would triple what commits write and what merging packs
// copies.
//
// Storing makes reading cheaper: an audit spends about a third of its CPU
// inflating, and the odb copies stored objects out without a decompressor
// (see stored). A repository that would rather have a faster audit than a
// smaller pack says so with git's own keys (core.compression 0; see the
// README for what it costs). Storing only trees and commits, which deflate
// shrinks by just 1.2 to 1.4 times, was tried as the default: it saved an
// audit about 9 % of its CPU, but with the highly compressible artifacts of
// the flatness benchmark it added a third to what commits write, and a
// commit at 10,000 commits cost 1.2 to 1.7 times one in the first thousand.
const DefaultCompression = 1

// compression returns the zlib level for the objects this repository
// writes, reading its config once: pack.compression, else
// core.compression, -1 (zlib's default) to 9, as git reads them. Only the
// repository's own config counts (not the user's or the system's), so
// that what a governance repository writes does not depend on who runs
// vios. A value git would stop at (not a number, empty, or out of range,
// in either key) is an input error naming the key.
func (r *Repo) compression() (int, error) {
	if r.level != nil {
		return *r.level, nil
	}
	cfg, err := r.Git.Config()
	if err != nil {
		return 0, fault.Inputf("repo config: %v", err)
	}
	level, set := DefaultCompression, false
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
			return 0, fault.Inputf("repo config: %s = %q: want a zlib level from -1 to 9", key, v)
		}
		if !set {
			level, set = int(n), true
		}
	}
	r.level = &level
	return level, nil
}
