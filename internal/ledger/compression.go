package ledger

import (
	"strconv"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/vision-ios/vios/internal/fault"
)

// levels are the zlib levels (-1 to 9) of the objects a repository writes:
// one for blobs, one for trees, commits and tags.
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
// Blobs, the artifacts, are deflated at BestSpeed: JSON evidence shrinks
// about 3.4 times, and at a higher level a commit costs more CPU for a few
// per cent less.
//
// Trees, commits and tags are stored (level 0, deflate's stored blocks).
// They are mostly SHA-1s and signatures, which deflate shrinks by only
// 1.2 to 1.4 times (some 600 bytes a cycle commit), yet inflating each of
// them costs the set-up of a Huffman table: a cycle commit brings some ten
// new trees, and an audit reads every one of them. Stored, they are read
// at memory speed; the audit spends about a tenth less CPU.
//
// Git reads stored objects like any others, and `git gc` keeps them as
// they are unless told to recompress.
var defaultLevels = levels{blob: 1, other: 0}

// compression returns the zlib levels for the objects this repository
// writes, reading its config once. The config decides as it does for git:
// pack.compression, else core.compression, -1 (zlib's default) to 9, for
// every object. A level git would refuse is an input error naming the key.
func (r *Repo) compression() (levels, error) {
	if r.levels != nil {
		return *r.levels, nil
	}
	cfg, err := r.Git.Config()
	if err != nil {
		return levels{}, fault.Inputf("repo config: %v", err)
	}
	lv := defaultLevels
	for _, key := range [...]string{"pack.compression", "core.compression"} {
		sec, opt, _ := strings.Cut(key, ".")
		v := cfg.Raw.Section(sec).Option(opt)
		if v == "" {
			continue
		}
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < -1 || n > 9 {
			return levels{}, fault.Inputf("repo config: %s = %q: want a zlib level from -1 to 9", key, v)
		}
		lv = levels{blob: n, other: n}
		break
	}
	r.levels = &lv
	return lv, nil
}
