package ledger

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/klauspost/compress/zlib"
)

// odb reads objects straight from the pack and loose object files. Each
// pack index is read whole and searched in memory, each pack is mapped
// into memory once, and objects are inflated by one reused zlib reader, so
// reading an object costs its inflation and nothing else: go-git's reader
// seeks, allocates 64 KiB buffers and issues several system calls per
// object, which made it most of an audit's time. An odb is not safe for
// concurrent use; neither is a Repo.
//
// Packs written or merged away after the odb was loaded are picked up by
// rescan, which Repo calls when a lookup misses. Anything the odb cannot
// read (an index version other than 2, an alternate object store) is left
// to go-git.
type odb struct {
	dir   string // .git/objects
	packs []*pack
	zr    io.ReadCloser
	src   bytes.Reader

	deltas int // deltas applied (for tests)
}

// pack is one pack file and its index.
type pack struct {
	path  string
	idx   []byte // the whole version-2 index
	n     int
	data  []byte // the pack, mapped or read
	unmap func() error
	bases map[int64]rawObject // delta bases by offset (bounded)
}

type rawObject struct {
	typ  plumbing.ObjectType
	data []byte
}

// errODB marks an object the odb could not read itself.
var errODB = errors.New("object not readable directly")

func newODB(gitDir string) *odb {
	return &odb{dir: filepath.Join(gitDir, "objects")}
}

func (o *odb) close() {
	for _, p := range o.packs {
		p.close()
	}
	o.packs = nil
}

func (p *pack) close() {
	if p.unmap != nil {
		p.unmap()
		p.unmap = nil
	}
	p.data = nil
}

// rescan loads the indexes of packs not yet known and forgets packs that
// are gone. It reports whether anything changed.
func (o *odb) rescan() bool {
	idxs, _ := filepath.Glob(filepath.Join(o.dir, "pack", "pack-*.idx"))
	sort.Strings(idxs)
	known := make(map[string]*pack, len(o.packs))
	for _, p := range o.packs {
		known[p.path] = p
	}
	changed := false
	packs := make([]*pack, 0, len(idxs))
	for _, ip := range idxs {
		path := strings.TrimSuffix(ip, ".idx") + ".pack"
		if p, ok := known[path]; ok {
			packs = append(packs, p)
			delete(known, path)
			continue
		}
		p, err := openPack(ip, path)
		if err != nil {
			continue // go-git handles what this does not
		}
		packs = append(packs, p)
		changed = true
	}
	for _, p := range known {
		p.close()
		changed = true
	}
	// Newest-looking first is no better than any order; a stable order
	// keeps lookups deterministic.
	o.packs = packs
	return changed
}

func openPack(idxPath, packPath string) (*pack, error) {
	idx, err := os.ReadFile(idxPath)
	if err != nil {
		return nil, err
	}
	if len(idx) < 8+256*4+40 || !bytes.Equal(idx[:8], []byte{0xff, 't', 'O', 'c', 0, 0, 0, 2}) {
		return nil, errODB
	}
	n := int(binary.BigEndian.Uint32(idx[8+255*4:]))
	if len(idx) < 8+256*4+n*28+40 {
		return nil, errODB
	}
	f, err := os.Open(packPath)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, unmap, err := mapFile(f)
	if err != nil {
		return nil, err
	}
	if len(data) < 12+20 || !bytes.Equal(data[:4], []byte("PACK")) {
		if unmap != nil {
			unmap()
		}
		return nil, errODB
	}
	return &pack{path: packPath, idx: idx, n: n, data: data, unmap: unmap}, nil
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

// object returns an object's type and content, or an error wrapping
// plumbing.ErrObjectNotFound when no pack or loose file has it.
func (o *odb) object(h plumbing.Hash) (plumbing.ObjectType, []byte, error) {
	return o.objectAt(h, 0)
}

// objectAt reads h as a delta base depth levels down a delta chain.
func (o *odb) objectAt(h plumbing.Hash, depth int) (plumbing.ObjectType, []byte, error) {
	if o.packs == nil {
		o.rescan()
	}
	if obj, err := o.lookup(h, depth); err == nil || !errors.Is(err, plumbing.ErrObjectNotFound) {
		return obj.typ, obj.data, err
	}
	if o.rescan() {
		if obj, err := o.lookup(h, depth); err == nil || !errors.Is(err, plumbing.ErrObjectNotFound) {
			return obj.typ, obj.data, err
		}
	}
	return o.loose(h)
}

// has reports whether a pack or loose file holds h, without reading it.
func (o *odb) has(h plumbing.Hash) bool {
	if o.packs == nil {
		o.rescan()
	}
	for range 2 {
		for _, p := range o.packs {
			if _, ok := p.find(h); ok {
				return true
			}
		}
		s := h.String()
		if _, err := os.Stat(filepath.Join(o.dir, s[:2], s[2:])); err == nil {
			return true
		}
		if !o.rescan() {
			break
		}
	}
	return false
}

func (o *odb) lookup(h plumbing.Hash, depth int) (rawObject, error) {
	for _, p := range o.packs {
		if off, ok := p.find(h); ok {
			return o.packed(p, off, depth)
		}
	}
	return rawObject{}, plumbing.ErrObjectNotFound
}

func (o *odb) loose(h plumbing.Hash) (plumbing.ObjectType, []byte, error) {
	s := h.String()
	raw, err := os.ReadFile(filepath.Join(o.dir, s[:2], s[2:]))
	if errors.Is(err, os.ErrNotExist) {
		return plumbing.InvalidObject, nil, plumbing.ErrObjectNotFound
	}
	if err != nil {
		return plumbing.InvalidObject, nil, err
	}
	if raw, err = o.inflate(raw, -1); err != nil {
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

// inflate decompresses the zlib stream at the start of src; size < 0 is
// unknown.
func (o *odb) inflate(src []byte, size int64) ([]byte, error) {
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
	out := make([]byte, size)
	if _, err := io.ReadFull(o.zr, out); err != nil {
		return nil, err
	}
	return out, nil
}

const maxDeltaDepth = 64

// packed reads the object at off, resolving deltas.
func (o *odb) packed(p *pack, off int64, depth int) (rawObject, error) {
	if depth > maxDeltaDepth {
		return rawObject{}, fmt.Errorf("%s: delta chain deeper than %d: %w", filepath.Base(p.path), maxDeltaDepth, errODB)
	}
	if b, ok := p.bases[off]; ok {
		if depth == 0 { // the caller owns what it gets
			b.data = bytes.Clone(b.data)
		}
		return b, nil
	}
	bad := func(what string) (rawObject, error) {
		return rawObject{}, fmt.Errorf("%s at offset %d: %s: %w", filepath.Base(p.path), off, what, errODB)
	}
	if off < 12 || off >= int64(len(p.data))-20 {
		return bad("offset outside the pack")
	}
	b := p.data[off : len(p.data)-20]
	i := 0
	c := b[i]
	i++
	typ := plumbing.ObjectType((c >> 4) & 7)
	size := int64(c & 0x0f)
	for shift := 4; c&0x80 != 0; shift += 7 {
		if i >= len(b) || shift > 56 {
			return bad("bad object header")
		}
		c = b[i]
		i++
		size |= int64(c&0x7f) << shift
	}
	if size > int64(len(p.data))*1032+1<<20 {
		return bad("object size larger than its pack can inflate to")
	}
	var base rawObject
	var err error
	switch typ {
	case plumbing.CommitObject, plumbing.TreeObject, plumbing.BlobObject, plumbing.TagObject:
	case plumbing.OFSDeltaObject:
		if i >= len(b) {
			return bad("truncated delta offset")
		}
		c = b[i]
		i++
		rel := int64(c & 0x7f)
		for c&0x80 != 0 {
			if i >= len(b) || rel > 1<<50 {
				return bad("bad delta offset")
			}
			c = b[i]
			i++
			rel = (rel+1)<<7 | int64(c&0x7f)
		}
		if rel <= 0 || rel > off {
			return bad("delta base outside the pack")
		}
		if base, err = o.packed(p, off-rel, depth+1); err != nil {
			return rawObject{}, err
		}
	case plumbing.REFDeltaObject:
		if i+20 > len(b) {
			return bad("truncated delta base")
		}
		var bh plumbing.Hash
		copy(bh[:], b[i:i+20])
		i += 20
		t, data, err := o.objectAt(bh, depth+1)
		if err != nil {
			return rawObject{}, err
		}
		base = rawObject{t, data}
	default:
		return bad("unknown object type")
	}
	data, err := o.inflate(b[i:], size)
	if err != nil {
		return bad(err.Error())
	}
	obj := rawObject{typ, data}
	if typ == plumbing.OFSDeltaObject || typ == plumbing.REFDeltaObject {
		out, err := applyDelta(base.data, data)
		if err != nil {
			return rawObject{}, err
		}
		obj = rawObject{base.typ, out}
		o.deltas++
	}
	if depth > 0 {
		if p.bases == nil || len(p.bases) > 256 {
			p.bases = map[int64]rawObject{}
		}
		p.bases[off] = obj
	}
	return obj, nil
}

// applyDelta applies a git delta to base.
func applyDelta(base, delta []byte) ([]byte, error) {
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
	dst, ok2 := varint()
	if !ok1 || !ok2 || src != len(base) || dst > 1<<31 {
		return nil, fmt.Errorf("%w: bad delta header", errODB)
	}
	out := make([]byte, 0, dst)
	for len(delta) > 0 {
		op := delta[0]
		delta = delta[1:]
		switch {
		case op&0x80 != 0:
			var off, n int
			for k := range 4 {
				if op&(1<<k) != 0 {
					if len(delta) == 0 {
						return nil, fmt.Errorf("%w: truncated delta copy", errODB)
					}
					off |= int(delta[0]) << (8 * k)
					delta = delta[1:]
				}
			}
			for k := range 3 {
				if op&(0x10<<k) != 0 {
					if len(delta) == 0 {
						return nil, fmt.Errorf("%w: truncated delta copy", errODB)
					}
					n |= int(delta[0]) << (8 * k)
					delta = delta[1:]
				}
			}
			if n == 0 {
				n = 0x10000
			}
			if off+n > len(base) || len(out)+n > dst {
				return nil, fmt.Errorf("%w: delta copy outside its base", errODB)
			}
			out = append(out, base[off:off+n]...)
		case op != 0:
			if int(op) > len(delta) || len(out)+int(op) > dst {
				return nil, fmt.Errorf("%w: truncated delta insert", errODB)
			}
			out = append(out, delta[:op]...)
			delta = delta[op:]
		default:
			return nil, fmt.Errorf("%w: reserved delta opcode", errODB)
		}
	}
	if len(out) != dst {
		return nil, fmt.Errorf("%w: delta result has the wrong size", errODB)
	}
	return out, nil
}

// mapRead reads f whole: the fallback when it cannot be mapped.
func mapRead(f *os.File) ([]byte, func() error, error) {
	data, err := io.ReadAll(f)
	return data, nil, err
}
