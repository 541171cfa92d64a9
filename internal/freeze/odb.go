package freeze

import (
	"bufio"
	"bytes"
	"compress/zlib"
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
	"github.com/go-git/go-git/v5/plumbing/storer"
)

// odb reads objects straight from a repository's pack and loose object
// files: each pack index is read with one read (go-git decodes it with a
// thousand small ones), pack files stay open and are read with pread, and
// trees are inflated from a reused zlib reader. A check touches a few
// hundred trees and no unchanged blob, so this is most of its cost after
// process start. Anything it does not handle (an alternate object store,
// an index version other than 2, an object written by this process and
// still in memory) falls back to the go-git storer.
type odb struct {
	dir      string // .git/objects
	fallback storer.EncodedObjectStorer

	packs  []*pack
	loaded bool
	deltas int // deltas applied (for tests)
	zr     io.ReadCloser
	br     *bufio.Reader
}

type pack struct {
	path    string
	idx     []byte // the whole version-2 index
	n       int
	f       *os.File
	size    int64
	bases   map[int64]rawObject // delta bases by offset (bounded)
	pending bool                // f not yet opened
}

type rawObject struct {
	typ  plumbing.ObjectType
	data []byte
}

func newODB(gitDir string, fallback storer.EncodedObjectStorer) *odb {
	return &odb{dir: filepath.Join(gitDir, "objects"), fallback: fallback}
}

func (o *odb) close() {
	for _, p := range o.packs {
		if p.f != nil {
			p.f.Close()
		}
	}
	o.packs = nil
	o.loaded = false
}

// load reads every pack index (version 2) once.
func (o *odb) load() {
	o.loaded = true
	idxs, _ := filepath.Glob(filepath.Join(o.dir, "pack", "pack-*.idx"))
	sort.Strings(idxs)
	for _, ip := range idxs {
		data, err := os.ReadFile(ip)
		if err != nil || len(data) < 8+256*4+40 || !bytes.Equal(data[:8], []byte{0xff, 't', 'O', 'c', 0, 0, 0, 2}) {
			continue // the go-git fallback handles what this does not
		}
		n := int(binary.BigEndian.Uint32(data[8+255*4:]))
		if len(data) < 8+256*4+n*28+40 {
			continue
		}
		o.packs = append(o.packs, &pack{path: strings.TrimSuffix(ip, ".idx") + ".pack", idx: data, n: n, pending: true})
	}
}

// find returns the offset of h in p.
func (p *pack) find(h plumbing.Hash) (int64, bool) {
	fan := p.idx[8:]
	lo := 0
	if h[0] > 0 {
		lo = int(binary.BigEndian.Uint32(fan[(int(h[0])-1)*4:]))
	}
	hi := int(binary.BigEndian.Uint32(fan[int(h[0])*4:]))
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

var errODB = errors.New("object not readable directly")

// object returns an object's type and content.
func (o *odb) object(h plumbing.Hash) (plumbing.ObjectType, []byte, error) {
	if !o.loaded {
		o.load()
	}
	for _, p := range o.packs {
		if off, ok := p.find(h); ok {
			if obj, err := o.packed(p, off, 0); err == nil {
				return obj.typ, obj.data, nil
			}
			break
		}
	}
	if t, data, err := o.loose(h); err == nil {
		return t, data, nil
	}
	obj, err := o.fallback.EncodedObject(plumbing.AnyObject, h)
	if err != nil {
		return plumbing.InvalidObject, nil, err
	}
	rd, err := obj.Reader()
	if err != nil {
		return plumbing.InvalidObject, nil, err
	}
	defer rd.Close()
	data, err := io.ReadAll(rd)
	return obj.Type(), data, err
}

// encoded returns an object as go-git's decoders want it.
func (o *odb) encoded(h plumbing.Hash) (plumbing.EncodedObject, error) {
	t, data, err := o.object(h)
	if err != nil {
		return nil, err
	}
	m := &plumbing.MemoryObject{}
	m.SetType(t)
	m.SetSize(int64(len(data)))
	if _, err := m.Write(data); err != nil {
		return nil, err
	}
	return m, nil
}

func (o *odb) loose(h plumbing.Hash) (plumbing.ObjectType, []byte, error) {
	s := h.String()
	f, err := os.Open(filepath.Join(o.dir, s[:2], s[2:]))
	if err != nil {
		return plumbing.InvalidObject, nil, err
	}
	defer f.Close()
	raw, err := o.inflate(f, -1)
	if err != nil {
		return plumbing.InvalidObject, nil, err
	}
	nul := bytes.IndexByte(raw, 0)
	if nul < 0 {
		return plumbing.InvalidObject, nil, errODB
	}
	kind, size, ok := strings.Cut(string(raw[:nul]), " ")
	t, err := plumbing.ParseObjectType(kind)
	if !ok || err != nil || strconv.Itoa(len(raw)-nul-1) != size {
		return plumbing.InvalidObject, nil, errODB
	}
	return t, raw[nul+1:], nil
}

// inflate decompresses a zlib stream from r; size < 0 is unknown.
func (o *odb) inflate(r io.Reader, size int64) ([]byte, error) {
	if o.br == nil {
		o.br = bufio.NewReaderSize(r, 16<<10)
	} else {
		o.br.Reset(r)
	}
	var err error
	if o.zr == nil {
		o.zr, err = zlib.NewReader(o.br)
	} else {
		err = o.zr.(zlib.Resetter).Reset(o.br, nil)
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
		return rawObject{}, errODB
	}
	if b, ok := p.bases[off]; ok {
		return b, nil
	}
	if p.pending {
		p.pending = false
		f, err := os.Open(p.path)
		if err != nil {
			return rawObject{}, err
		}
		fi, err := f.Stat()
		if err != nil {
			f.Close()
			return rawObject{}, err
		}
		p.f, p.size = f, fi.Size()
	}
	if p.f == nil || off >= p.size {
		return rawObject{}, errODB
	}
	var hdr [32]byte
	n, err := p.f.ReadAt(hdr[:], off)
	if n == 0 {
		return rawObject{}, err
	}
	b := hdr[:n]
	i := 0
	c := b[i]
	i++
	typ := plumbing.ObjectType((c >> 4) & 7)
	size := int64(c & 0x0f)
	for shift := 4; c&0x80 != 0; shift += 7 {
		if i >= len(b) || shift > 56 {
			return rawObject{}, errODB
		}
		c = b[i]
		i++
		size |= int64(c&0x7f) << shift
	}
	var base rawObject
	switch typ {
	case plumbing.CommitObject, plumbing.TreeObject, plumbing.BlobObject, plumbing.TagObject:
	case plumbing.OFSDeltaObject:
		if i >= len(b) {
			return rawObject{}, errODB
		}
		c = b[i]
		i++
		rel := int64(c & 0x7f)
		for c&0x80 != 0 {
			if i >= len(b) || rel > 1<<50 {
				return rawObject{}, errODB
			}
			c = b[i]
			i++
			rel = (rel+1)<<7 | int64(c&0x7f)
		}
		if rel <= 0 || rel > off {
			return rawObject{}, errODB
		}
		if base, err = o.packed(p, off-rel, depth+1); err != nil {
			return rawObject{}, err
		}
	case plumbing.REFDeltaObject:
		if i+20 > len(b) {
			return rawObject{}, errODB
		}
		var bh plumbing.Hash
		copy(bh[:], b[i:i+20])
		i += 20
		t, data, err := o.object(bh)
		if err != nil {
			return rawObject{}, err
		}
		base = rawObject{t, data}
	default:
		return rawObject{}, errODB
	}
	data, err := o.inflate(io.NewSectionReader(p.f, off+int64(i), p.size-off-int64(i)), size)
	if err != nil {
		return rawObject{}, err
	}
	obj := rawObject{typ, data}
	if typ == plumbing.OFSDeltaObject || typ == plumbing.REFDeltaObject {
		out, err := applyDelta(base.data, data)
		if err != nil {
			return rawObject{}, err
		}
		o.deltas++
		obj = rawObject{base.typ, out}
	}
	if depth > 0 && obj.typ == plumbing.TreeObject {
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
						return nil, errODB
					}
					off |= int(delta[0]) << (8 * k)
					delta = delta[1:]
				}
			}
			for k := range 3 {
				if op&(0x10<<k) != 0 {
					if len(delta) == 0 {
						return nil, errODB
					}
					n |= int(delta[0]) << (8 * k)
					delta = delta[1:]
				}
			}
			if n == 0 {
				n = 0x10000
			}
			if off+n > len(base) || len(out)+n > dst {
				return nil, errODB
			}
			out = append(out, base[off:off+n]...)
		case op != 0:
			if int(op) > len(delta) || len(out)+int(op) > dst {
				return nil, errODB
			}
			out = append(out, delta[:op]...)
			delta = delta[op:]
		default:
			return nil, errODB
		}
	}
	if len(out) != dst {
		return nil, errODB
	}
	return out, nil
}
