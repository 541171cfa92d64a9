package ledger

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/zlib"
)

// odb reads objects straight from a repository's pack and loose object
// files. Pack indexes and packs are memory-mapped once and read in place
// (no system call per object, and only the pages a reader touches are
// faulted in), objects are inflated by reused decompressors (or, stored,
// just copied out), and a caller may hand in the buffer an object is read
// into, so a diff that reads a few hundred trees reuses the same few
// buffers. The delta bases
// resolved last are kept in a small ring whose buffers are reused too.
// go-git's reader seeks, allocates 64 KiB buffers and issues several system
// calls per object, which made it most of an audit's and a freeze check's
// time.
//
// Packs written or merged away after the odb was loaded are picked up by
// rescan, on a lookup that misses. What it does not read (an alternate
// object store, an index version other than 2) is not found here and is
// left to go-git by Repo. An odb is not safe for concurrent use; neither is
// a Repo.
type odb struct {
	dir string // .git/objects

	packs  []*pack
	loaded bool
	zr     io.ReadCloser // zlib, for loose objects (and a header raw deflate cannot take)
	fr     io.ReadCloser // raw deflate, for objects of known size
	src    bytes.Reader

	// As of the last rescan: every pack index was one this reads, and
	// whether an alternates file sends lookups elsewhere (see complete).
	allIndexes, alternates bool

	levels [][]byte // the delta base being resolved at each depth of a chain
	delta  []byte   // the instructions of the delta being applied
	ring   [baseSlots]cachedBase
	next   int // ring slot written next
}

// baseSlots is how many resolved delta bases (trees) the odb keeps: enough
// for the tree a diff reads right after the delta made from it, and for
// walking a history whose trees are deltas of each other. Slots hand their
// buffers back and forth with the callers', so a diff reuses a handful.
const baseSlots = 32

type cachedBase struct {
	p    *pack
	off  int64
	typ  plumbing.ObjectType
	data []byte
}

type pack struct {
	path    string
	idx     []byte // the whole version-2 index, mapped
	n       int
	data    []byte // the pack, mapped on first use
	unmap   []func() error
	pending bool // data not yet mapped
	broken  bool // the pack could not be mapped
}

func newODB(gitDir string) *odb {
	return &odb{dir: filepath.Join(gitDir, "objects")}
}

// close unmaps the packs; no slice the odb returned refers to them.
func (o *odb) close() {
	for _, p := range o.packs {
		p.drop()
	}
	o.packs = nil
	o.loaded = false
	o.ring = [baseSlots]cachedBase{}
}

// rescan maps the indexes (version 2) of packs not yet known and forgets
// packs that are gone. It reports whether anything changed.
func (o *odb) rescan() bool {
	o.loaded = true
	_, err := os.Stat(filepath.Join(o.dir, "info", "alternates"))
	o.alternates = !errors.Is(err, os.ErrNotExist)
	idxs, err := filepath.Glob(filepath.Join(o.dir, "pack", "pack-*.idx"))
	o.allIndexes = err == nil
	sort.Strings(idxs)
	known := make(map[string]*pack, len(o.packs))
	for _, p := range o.packs {
		known[p.path] = p
	}
	changed := false
	packs := make([]*pack, 0, len(idxs))
	for _, ip := range idxs {
		path := strings.TrimSuffix(ip, ".idx") + ".pack"
		if p, ok := known[path]; ok && !p.broken {
			packs = append(packs, p)
			delete(known, path)
			continue
		}
		if p := openIndex(ip, path); p != nil {
			packs = append(packs, p)
			changed = true
		} else {
			o.allIndexes = false
		}
	}
	for _, p := range known {
		o.forget(p)
		changed = true
	}
	// Lookups try the packs in order: the largest first, where most objects
	// of a long history are after merges, so that a lookup rarely searches
	// the indexes of the small recent packs in vain.
	slices.SortStableFunc(packs, func(a, b *pack) int { return cmp.Compare(b.n, a.n) })
	o.packs = packs
	return changed
}

// openIndex maps a pack index; nil when it is not one this reads (go-git
// reads those).
func openIndex(idxPath, packPath string) *pack {
	data, unmap, err := mapPath(idxPath)
	if err != nil {
		return nil
	}
	p := &pack{path: packPath, idx: data, pending: true}
	if unmap != nil {
		p.unmap = append(p.unmap, unmap)
	}
	if len(data) < 8+256*4+40 || !bytes.Equal(data[:8], []byte{0xff, 't', 'O', 'c', 0, 0, 0, 2}) {
		p.drop()
		return nil
	}
	p.n = int(binary.BigEndian.Uint32(data[8+255*4:]))
	if len(data) < 8+256*4+p.n*28+40 {
		p.drop()
		return nil
	}
	return p
}

// forget drops a pack and the ring's bases from it.
func (o *odb) forget(p *pack) {
	for i := range o.ring {
		if o.ring[i].p == p {
			o.ring[i].p = nil
		}
	}
	p.drop()
}

// drop unmaps a pack; no slice the odb returned refers to it.
func (p *pack) drop() {
	for _, u := range p.unmap {
		u()
	}
	p.idx, p.data, p.unmap, p.n, p.pending, p.broken = nil, nil, nil, 0, false, true
}

// find returns the offset of h in p.
func (p *pack) find(h plumbing.Hash) (int64, bool) {
	fan := p.idx[8:]
	lo := 0
	if h[0] > 0 {
		lo = int(binary.BigEndian.Uint32(fan[(int(h[0])-1)*4:]))
	}
	hi := int(binary.BigEndian.Uint32(fan[int(h[0])*4:]))
	if lo > hi || hi > p.n {
		return 0, false
	}
	names := p.idx[8+256*4:]
	i := lo + sort.Search(hi-lo, func(i int) bool { return bytes.Compare(names[(lo+i)*20:(lo+i)*20+20], h[:]) >= 0 })
	if i >= hi || !bytes.Equal(names[i*20:i*20+20], h[:]) {
		return 0, false
	}
	offs := p.idx[8+256*4+p.n*24:]
	off := binary.BigEndian.Uint32(offs[i*4:])
	if off&0x80000000 == 0 {
		return int64(off), true
	}
	large := p.idx[8+256*4+p.n*28:]
	k := int(off & 0x7fffffff)
	if len(large) < (k+1)*8 {
		return 0, false
	}
	return int64(binary.BigEndian.Uint64(large[k*8:])), true
}

// open maps the pack file on first use.
func (p *pack) open() bool {
	if p.pending {
		p.pending = false
		data, unmap, err := mapPath(p.path)
		if err != nil || len(data) < 12+20 || !bytes.Equal(data[:4], []byte("PACK")) {
			if unmap != nil {
				unmap()
			}
			p.broken = true
			return false
		}
		p.data = data
		if unmap != nil {
			p.unmap = append(p.unmap, unmap)
		}
	}
	return !p.broken
}

var errODB = errors.New("object not readable directly")

// read returns an object's type and content, read into buf's storage when
// it is large enough (the result may alias buf, and never anything else the
// odb keeps), or an error wrapping plumbing.ErrObjectNotFound when no pack
// or loose file has it.
func (o *odb) read(h plumbing.Hash, buf []byte) (plumbing.ObjectType, []byte, error) {
	return o.readAt(h, buf, 0)
}

// readAt reads h as a delta base depth levels down a chain.
func (o *odb) readAt(h plumbing.Hash, buf []byte, depth int) (plumbing.ObjectType, []byte, error) {
	if !o.loaded {
		o.rescan()
	}
	for attempt := 0; ; attempt++ {
		// A pack that cannot be opened is skipped: its index may be one
		// a writer put in place before the pack (see storePack), or one a
		// crash left behind.
		for _, p := range o.packs {
			if off, ok := p.find(h); ok && p.open() {
				return o.packed(p, off, depth, buf)
			}
		}
		if attempt > 0 || !o.rescan() {
			break
		}
	}
	return o.loose(h)
}

// complete reports whether, as of its last rescan (which every miss
// makes), the odb knew every pack index of the repository (it read each one
// itself) and no alternate object store existed, so that an object it does
// not find is not there. go-git is then not asked: on a miss it reloads
// every index, twice, which made a push to a moved remote (whose new tip is
// missing by definition) spend most of its time there.
func (o *odb) complete() bool {
	return o.loaded && o.allIndexes && !o.alternates
}

// has reports whether a pack or loose file holds h, without reading it.
func (o *odb) has(h plumbing.Hash) bool {
	if !o.loaded {
		o.rescan()
	}
	for attempt := 0; ; attempt++ {
		for _, p := range o.packs {
			if _, ok := p.find(h); ok && p.open() {
				return true
			}
		}
		s := h.String()
		if _, err := os.Stat(filepath.Join(o.dir, s[:2], s[2:])); err == nil {
			return true
		}
		if attempt > 0 || !o.rescan() {
			return false
		}
	}
}

func (o *odb) loose(h plumbing.Hash) (plumbing.ObjectType, []byte, error) {
	s := h.String()
	z, err := os.ReadFile(filepath.Join(o.dir, s[:2], s[2:]))
	if errors.Is(err, os.ErrNotExist) {
		return plumbing.InvalidObject, nil, fmt.Errorf("%s: %w", s, plumbing.ErrObjectNotFound)
	}
	if err != nil {
		return plumbing.InvalidObject, nil, err
	}
	raw, err := o.inflate(z, -1, nil)
	if err != nil {
		return plumbing.InvalidObject, nil, fmt.Errorf("loose object %s: %w", s, err)
	}
	nul := bytes.IndexByte(raw, 0)
	if nul < 0 {
		return plumbing.InvalidObject, nil, fmt.Errorf("loose object %s: %w", s, errODB)
	}
	kind, size, ok := strings.Cut(string(raw[:nul]), " ")
	t, err := plumbing.ParseObjectType(kind)
	if !ok || err != nil || strconv.Itoa(len(raw)-nul-1) != size {
		return plumbing.InvalidObject, nil, fmt.Errorf("loose object %s: bad header: %w", s, errODB)
	}
	return t, raw[nul+1:], nil
}

// inflate decompresses the zlib stream at the start of src into dst's
// storage; size < 0 is unknown.
//
// An object of known size is read as its raw deflate stream, without the
// zlib reader's Adler-32 digest: reading exactly size bytes, the zlib
// reader would stop before the trailer, and io.ReadFull drop the checksum
// error it reports only past the last byte, so the digest was work
// without a check (a twentieth of an audit). What vouches for an object's
// content is its name, which `git fsck` recomputes.
func (o *odb) inflate(src []byte, size int64, dst []byte) ([]byte, error) {
	if size >= 0 && zlibHeader(src) {
		if out, ok := stored(src, size, dst); ok {
			return out, nil
		}
		o.src.Reset(src[2:])
		var err error
		if o.fr == nil {
			o.fr = flate.NewReader(&o.src)
		} else {
			err = o.fr.(flate.Resetter).Reset(&o.src, nil)
		}
		if err != nil {
			return nil, err
		}
		out := grow(dst, int(size))
		if _, err := io.ReadFull(o.fr, out); err != nil {
			return nil, err
		}
		return out, nil
	}
	o.src.Reset(src)
	var err error
	if o.zr == nil {
		o.zr, err = zlib.NewReader(&o.src)
	} else {
		err = o.zr.(zlib.Resetter).Reset(&o.src, nil)
	}
	if err != nil {
		return nil, err
	}
	if size < 0 {
		return io.ReadAll(o.zr)
	}
	out := grow(dst, int(size))
	if _, err := io.ReadFull(o.zr, out); err != nil {
		return nil, err
	}
	return out, nil
}

// zlibHeader reports whether src starts with the header of a zlib stream
// of deflate data without a preset dictionary (RFC 1950: CMF deflate with
// a window of at most 32K, FLG without FDICT, the pair a multiple of 31).
func zlibHeader(src []byte) bool {
	return len(src) >= 2 && src[0]&0x0f == 8 && src[0]>>4 <= 7 && src[1]&0x20 == 0 && (uint(src[0])<<8|uint(src[1]))%31 == 0
}

// stored copies out the content of a zlib stream of size bytes made only of
// stored (uncompressed) deflate blocks, as vios and git write every object
// under core.compression 0 (and deflate writes what would not shrink): a
// memory copy instead of a decompressor's set-up. It reports false for
// any other stream, well-formed or not, which the decompressor then reads
// (and reports on, if it is corrupt). Like the decompressor's reading of
// an object (see inflate), it does not check the Adler-32 trailer.
func stored(src []byte, size int64, dst []byte) ([]byte, bool) {
	if size < 0 || !zlibHeader(src) {
		return nil, false
	}
	out := grow(dst, int(min(size, int64(len(src)))))[:0]
	for p := 2; ; {
		// RFC 1951 3.2.4: a block header of three bits (BFINAL, BTYPE 00)
		// padded to a byte, then LEN and its complement NLEN. A stream of
		// stored blocks keeps every header on a byte boundary.
		if p+5 > len(src) || src[p]&0x06 != 0 {
			return nil, false
		}
		final := src[p]&1 == 1
		n := int(binary.LittleEndian.Uint16(src[p+1:]))
		if binary.LittleEndian.Uint16(src[p+3:]) != ^uint16(n) || p+5+n > len(src) || int64(len(out)+n) > size {
			return nil, false
		}
		out = append(out, src[p+5:p+5+n]...)
		p += 5 + n
		if final {
			return out, int64(len(out)) == size
		}
	}
}

// grow returns a slice of length n, in buf's storage when it is big enough.
func grow(buf []byte, n int) []byte {
	if buf != nil && cap(buf) >= n {
		return buf[:n]
	}
	return make([]byte, n)
}

const maxDeltaDepth = 64

// packed reads the object at off into dst's storage, resolving deltas.
// The bases of a chain are resolved into o.levels, one buffer per depth,
// and resolved trees are remembered in the ring.
func (o *odb) packed(p *pack, off int64, depth int, dst []byte) (plumbing.ObjectType, []byte, error) {
	if depth > maxDeltaDepth {
		return plumbing.InvalidObject, nil, fmt.Errorf("%s: delta chain deeper than %d: %w", filepath.Base(p.path), maxDeltaDepth, errODB)
	}
	for i := range o.ring {
		c := &o.ring[i]
		if c.p != p || c.off != off {
			continue
		}
		if depth > 0 {
			return c.typ, append(dst[:0], c.data...), nil
		}
		// Asked for itself, a base is usually done with as a base (a
		// diff reads a tree right after the delta made from it): the
		// caller takes its buffer, and the slot keeps the caller's.
		data := c.data
		c.p, c.data = nil, dst[:0]
		return c.typ, data, nil
	}
	if !p.open() {
		return plumbing.InvalidObject, nil, fmt.Errorf("%s: cannot be read: %w", filepath.Base(p.path), errODB)
	}
	if off < 12 || off >= int64(len(p.data))-20 {
		return plumbing.InvalidObject, nil, fmt.Errorf("%s: offset %d outside the pack: %w", filepath.Base(p.path), off, errODB)
	}
	b := p.data[off : len(p.data)-20]
	i := 0
	c := b[i]
	i++
	typ := plumbing.ObjectType((c >> 4) & 7)
	size := int64(c & 0x0f)
	for shift := 4; c&0x80 != 0; shift += 7 {
		if i >= len(b) || shift > 56 {
			return plumbing.InvalidObject, nil, errODB
		}
		c = b[i]
		i++
		size |= int64(c&0x7f) << shift
	}
	if size > int64(len(b)-i)*1032+1<<20 { // more than deflate can expand the rest of the pack to
		return plumbing.InvalidObject, nil, errODB
	}
	var baseType plumbing.ObjectType
	var base []byte
	var err error
	switch typ {
	case plumbing.CommitObject, plumbing.TreeObject, plumbing.BlobObject, plumbing.TagObject:
		out, err := o.inflate(b[i:], size, dst)
		if err != nil {
			return plumbing.InvalidObject, nil, err
		}
		o.remember(p, off, depth, typ, out)
		return typ, out, nil
	case plumbing.OFSDeltaObject:
		if i >= len(b) {
			return plumbing.InvalidObject, nil, errODB
		}
		c = b[i]
		i++
		rel := int64(c & 0x7f)
		for c&0x80 != 0 {
			if i >= len(b) || rel > 1<<50 {
				return plumbing.InvalidObject, nil, errODB
			}
			c = b[i]
			i++
			rel = (rel+1)<<7 | int64(c&0x7f)
		}
		if rel <= 0 || rel > off {
			return plumbing.InvalidObject, nil, errODB
		}
		if baseType, base, err = o.packed(p, off-rel, depth+1, o.level(depth+1)); err != nil {
			return plumbing.InvalidObject, nil, err
		}
		o.levels[depth+1] = base
	case plumbing.REFDeltaObject:
		if i+20 > len(b) {
			return plumbing.InvalidObject, nil, errODB
		}
		var bh plumbing.Hash
		copy(bh[:], b[i:i+20])
		i += 20
		// Rare (thin packs are completed with full objects): a base of
		// its own; the chain it starts uses the levels above this one.
		if baseType, base, err = o.readAt(bh, nil, depth+1); err != nil {
			return plumbing.InvalidObject, nil, err
		}
	default:
		return plumbing.InvalidObject, nil, errODB
	}
	if o.delta, err = o.inflate(b[i:], size, o.delta); err != nil {
		return plumbing.InvalidObject, nil, err
	}
	out, err := applyDeltaTo(dst, base, o.delta)
	if err != nil {
		return plumbing.InvalidObject, nil, err
	}
	o.remember(p, off, depth, baseType, out)
	return baseType, out, nil
}

// level returns the buffer for the delta base at depth d.
func (o *odb) level(d int) []byte {
	for len(o.levels) <= d {
		o.levels = append(o.levels, nil)
	}
	return o.levels[d]
}

// remember keeps a copy of a tree resolved as a delta base, reusing the
// storage of the ring slot it replaces.
func (o *odb) remember(p *pack, off int64, depth int, typ plumbing.ObjectType, data []byte) {
	if depth == 0 || typ != plumbing.TreeObject {
		return
	}
	var c *cachedBase
	for i := range o.ring {
		if o.ring[i].p == nil {
			c = &o.ring[i] // an empty slot, perhaps with a buffer to reuse
			break
		}
	}
	if c == nil {
		c = &o.ring[o.next]
		o.next = (o.next + 1) % baseSlots
	}
	c.p, c.off, c.typ = p, off, typ
	c.data = append(c.data[:0], data...)
}

// applyDeltaTo applies a git delta to base, writing the result into dst's
// storage when it is large enough; dst must not overlap base.
func applyDeltaTo(dst, base, delta []byte) ([]byte, error) {
	varint := func() (int, bool) {
		v, shift := 0, 0
		for len(delta) > 0 && shift < 63 {
			c := delta[0]
			delta = delta[1:]
			v |= int(c&0x7f) << shift
			if c&0x80 == 0 {
				return v, true
			}
			shift += 7
		}
		return 0, false
	}
	src, ok1 := varint()
	n, ok2 := varint()
	if !ok1 || !ok2 || src != len(base) || n > 1<<31 {
		return nil, fmt.Errorf("%w: bad delta header", errODB)
	}
	out := dst[:0]
	if out == nil || cap(out) < n {
		// n comes from the delta's header: trust it only as far as the
		// bytes at hand go, so a corrupt header is an error, not an
		// allocation of gigabytes; a larger result grows as it is copied.
		out = make([]byte, 0, min(n, len(base)+len(delta)))
	}
	for len(delta) > 0 {
		op := delta[0]
		delta = delta[1:]
		switch {
		case op&0x80 != 0:
			var off, k int
			for j := range 4 {
				if op&(1<<j) != 0 {
					if len(delta) == 0 {
						return nil, errODB
					}
					off |= int(delta[0]) << (8 * j)
					delta = delta[1:]
				}
			}
			for j := range 3 {
				if op&(0x10<<j) != 0 {
					if len(delta) == 0 {
						return nil, errODB
					}
					k |= int(delta[0]) << (8 * j)
					delta = delta[1:]
				}
			}
			if k == 0 {
				k = 0x10000
			}
			if off+k > len(base) || len(out)+k > n {
				return nil, errODB
			}
			out = append(out, base[off:off+k]...)
		case op != 0:
			if int(op) > len(delta) || len(out)+int(op) > n {
				return nil, errODB
			}
			out = append(out, delta[:op]...)
			delta = delta[op:]
		default:
			return nil, errODB
		}
	}
	if len(out) != n {
		return nil, errODB
	}
	return out, nil
}

// mapReadAll reads f whole: the fallback for a file that cannot be mapped.
func mapReadAll(f *os.File) ([]byte, func() error, error) {
	data, err := io.ReadAll(f)
	return data, nil, err
}
