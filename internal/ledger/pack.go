package ledger

import (
	"bytes"
	"crypto/sha1"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/klauspost/compress/zlib"
)

// A commit's new objects (blobs, trees, the commit) are written as one small
// packfile instead of a dozen loose objects: creating a file is the most
// expensive thing a commit does, and a pack costs two files however many
// objects it holds. The pack and its index are built in memory, each written
// with one write to a temporary file and renamed into place, index first: a
// crash leaves at worst an index without its pack, which git and go-git
// both ignore (go-git cannot open a repository with a pack but no index).
//
// Small packs are merged level by level (a log-structured merge): packs are
// grouped by size into levels a factor of mergeFan apart, and when a level
// holds mergeFan packs they are rewritten as one pack of the next level by
// copying their compressed entries verbatim. An object is copied O(log n)
// times over its life, a lookup consults O(log n) packs, and the cost of a
// commit stays flat as history grows.
const (
	mergeFan       = 8
	levelZeroBytes = 64 << 10
)

// pending collects the objects of one change in memory, in write order.
type pending struct {
	objs  []*plumbing.MemoryObject
	index map[plumbing.Hash]*plumbing.MemoryObject
}

func newPending() *pending {
	return &pending{index: map[plumbing.Hash]*plumbing.MemoryObject{}}
}

func (p *pending) add(obj *plumbing.MemoryObject) plumbing.Hash {
	h := obj.Hash()
	if _, ok := p.index[h]; !ok {
		p.index[h] = obj
		p.objs = append(p.objs, obj)
	}
	return h
}

// packEntry is one object of a pack being built.
type packEntry struct {
	hash   plumbing.Hash
	crc    uint32
	offset uint64
}

// packBuilder assembles a pack and its version-2 index in memory.
type packBuilder struct {
	buf     bytes.Buffer
	entries []packEntry
	seen    map[plumbing.Hash]bool
	level   int // zlib level of the objects it compresses (-1 to 9)
	zw      *zlib.Writer
}

// newPackBuilder starts a pack of count objects compressed at zlib level
// (see Repo.compression).
func newPackBuilder(count, level int) *packBuilder {
	b := &packBuilder{seen: map[plumbing.Hash]bool{}, level: level}
	b.buf.WriteString("PACK")
	binary.Write(&b.buf, binary.BigEndian, uint32(2))
	binary.Write(&b.buf, binary.BigEndian, uint32(count)) // patched in finish
	return b
}

// addObject compresses and appends an object.
func (b *packBuilder) addObject(obj plumbing.EncodedObject) error {
	start := b.buf.Len()
	size := obj.Size()
	c := byte(obj.Type())<<4 | byte(size&0x0f)
	size >>= 4
	for size > 0 {
		b.buf.WriteByte(c | 0x80)
		c = byte(size & 0x7f)
		size >>= 7
	}
	b.buf.WriteByte(c)
	if b.zw == nil {
		// A compressor allocates ~1 MB of tables: reuse them across packs.
		if zw, ok := zlibPools[b.level+1].Get().(*zlib.Writer); ok {
			b.zw = zw
		} else {
			var err error
			if b.zw, err = zlib.NewWriterLevel(&b.buf, b.level); err != nil {
				return err
			}
		}
	}
	b.zw.Reset(&b.buf)
	zw := b.zw
	rd, err := obj.Reader()
	if err != nil {
		return err
	}
	if _, err := io.Copy(zw, rd); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	b.entries = append(b.entries, packEntry{hash: obj.Hash(), crc: crc32.ChecksumIEEE(b.buf.Bytes()[start:]), offset: uint64(start)})
	b.seen[obj.Hash()] = true
	return nil
}

// addRaw appends an already encoded, non-delta pack entry.
func (b *packBuilder) addRaw(h plumbing.Hash, crc uint32, raw []byte) {
	b.entries = append(b.entries, packEntry{hash: h, crc: crc, offset: uint64(b.buf.Len())})
	b.seen[h] = true
	b.buf.Write(raw)
}

// zlibPools keep compressors between packs, one pool per level (-1 to 9,
// at index level+1): a compressor keeps the level it was made with.
var zlibPools [11]sync.Pool

// finish returns the pack, its checksum and its index, and gives the
// compressor back to the pool.
func (b *packBuilder) finish() (pack []byte, sum plumbing.Hash, idx []byte) {
	if b.zw != nil {
		zlibPools[b.level+1].Put(b.zw)
		b.zw = nil
	}
	pack = b.buf.Bytes()
	binary.BigEndian.PutUint32(pack[8:12], uint32(len(b.entries)))
	s := sha1.Sum(pack)
	pack = append(pack, s[:]...)
	copy(sum[:], s[:])

	es := append([]packEntry(nil), b.entries...)
	sort.Slice(es, func(i, j int) bool { return bytes.Compare(es[i].hash[:], es[j].hash[:]) < 0 })
	var x bytes.Buffer
	x.Write([]byte{0xff, 't', 'O', 'c', 0, 0, 0, 2})
	var fan [256]uint32
	for _, e := range es {
		fan[e.hash[0]]++
	}
	var total uint32
	for i := range fan {
		total += fan[i]
		binary.Write(&x, binary.BigEndian, total)
	}
	for _, e := range es {
		x.Write(e.hash[:])
	}
	for _, e := range es {
		binary.Write(&x, binary.BigEndian, e.crc)
	}
	var large []uint64
	for _, e := range es {
		if e.offset < 1<<31 {
			binary.Write(&x, binary.BigEndian, uint32(e.offset))
		} else {
			binary.Write(&x, binary.BigEndian, uint32(1<<31|len(large)))
			large = append(large, e.offset)
		}
	}
	for _, o := range large {
		binary.Write(&x, binary.BigEndian, o)
	}
	x.Write(sum[:])
	is := sha1.Sum(x.Bytes())
	x.Write(is[:])
	return pack, sum, x.Bytes()
}

// writePack stores the pending objects as one packfile with its index.
func (r *Repo) writePack(p *pending) error {
	if len(p.objs) == 0 {
		return nil
	}
	level, err := r.compression()
	if err != nil {
		return err
	}
	b := newPackBuilder(len(p.objs), level)
	for _, o := range p.objs {
		if err := b.addObject(o); err != nil {
			return fmt.Errorf("write pack: %w", err)
		}
	}
	return r.storePack(b)
}

func (r *Repo) storePack(b *packBuilder) error {
	pack, sum, idx := b.finish()
	dir := filepath.Join(r.gitDir, "objects", "pack")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	base := filepath.Join(dir, "pack-"+sum.String())
	// Index first: go-git lists packs by their .pack file and cannot open
	// a repository holding a .pack without its .idx, while both git and
	// go-git ignore an .idx without its .pack. A crash between the two
	// renames must leave the latter.
	if err := writeFileAtomic(base+".idx", idx, 0o444); err != nil {
		return fmt.Errorf("write pack index: %w", err)
	}
	if err := writeFileAtomic(base+".pack", pack, 0o444); err != nil {
		return fmt.Errorf("write pack: %w", err)
	}
	return nil
}

type packFile struct {
	base string // path without extension
	size int64
}

// maintain merges a level of small packs when it is full. It runs under the
// repository lock, after the branch moved, so a failure here never loses a
// commit: the objects stay readable in the packs they are in.
func (r *Repo) maintain() error {
	dir := filepath.Join(r.gitDir, "objects", "pack")
	ents, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return err
	}
	skip := map[string]bool{}
	for _, e := range ents {
		if n, ok := strings.CutSuffix(e.Name(), ".keep"); ok {
			skip[n] = true
		}
	}
	for _, n := range r.unmergeable {
		skip[n] = true
	}
	levels := map[int][]packFile{}
	sizes := make(map[string]int64, len(r.packSizes))
	for _, e := range ents {
		base, ok := strings.CutSuffix(e.Name(), ".pack")
		if !ok || !strings.HasPrefix(base, "pack-") || skip[base] {
			continue
		}
		// A pack is named by its content, so its size never changes: stat
		// only the packs this Repo has not seen yet, not all of them on
		// every commit.
		size, ok := r.packSizes[base]
		if !ok {
			fi, err := e.Info()
			if err != nil {
				continue
			}
			size = fi.Size()
		}
		sizes[base] = size
		lvl := 0
		for s := size; s >= levelZeroBytes; s /= mergeFan {
			lvl++
		}
		levels[lvl] = append(levels[lvl], packFile{base: filepath.Join(dir, base), size: size})
	}
	r.packSizes = sizes
	var lv []int
	for l := range levels {
		lv = append(lv, l)
	}
	sort.Ints(lv)
	for _, l := range lv {
		if len(levels[l]) >= mergeFan {
			return r.merge(levels[l])
		}
	}
	return nil
}

// errHasDeltas marks a pack (written by git, not vios) that merge leaves alone.
var errHasDeltas = errors.New("pack holds deltas")

// merge rewrites packs as one by copying their entries, then removes them.
func (r *Repo) merge(packs []packFile) error {
	type src struct {
		p       packFile
		pack    []byte
		entries []packEntry
	}
	var srcs []src
	total, size := 0, 0
	for _, p := range packs {
		pack, entries, err := readPack(p.base)
		if errors.Is(err, errHasDeltas) {
			r.unmergeable = append(r.unmergeable, filepath.Base(p.base))
			continue
		}
		if err != nil {
			return fmt.Errorf("merge packs: %w", err)
		}
		srcs = append(srcs, src{p, pack, entries})
		total += len(entries)
		size += len(pack)
	}
	if len(srcs) < 2 {
		return nil
	}
	b := newPackBuilder(total, 0) // entries are copied as they are: nothing is compressed
	b.buf.Grow(size)              // one allocation for the merged pack, not a doubling series
	for _, s := range srcs {
		end := uint64(len(s.pack) - 20)
		for i, e := range s.entries { // sorted by offset
			next := end
			if i+1 < len(s.entries) {
				next = s.entries[i+1].offset
			}
			if !b.seen[e.hash] {
				b.addRaw(e.hash, e.crc, s.pack[e.offset:next])
			}
		}
	}
	if err := r.storePack(b); err != nil {
		return fmt.Errorf("merge packs: %w", err)
	}
	// The merged pack is complete and indexed: the old ones can go, the
	// .pack first, so that neither a reader listing packs nor a crash half
	// way ever finds a .pack without its .idx (see storePack).
	for _, s := range srcs {
		os.Remove(s.p.base + ".pack")
		os.Remove(s.p.base + ".rev")
		os.Remove(s.p.base + ".idx")
	}
	r.refresh()
	return nil
}

// readPack reads a pack and its index, returning the entries sorted by
// offset. A pack holding delta entries returns errHasDeltas.
func readPack(base string) ([]byte, []packEntry, error) {
	idx, err := os.ReadFile(base + ".idx")
	if err != nil {
		return nil, nil, err
	}
	pack, err := os.ReadFile(base + ".pack")
	if err != nil {
		return nil, nil, err
	}
	entries, err := parseIdx(idx)
	if err != nil {
		return nil, nil, fmt.Errorf("%s.idx: %w", base, err)
	}
	if len(pack) < 32 || string(pack[:4]) != "PACK" || !bytes.Equal(pack[len(pack)-20:], idx[len(idx)-40:len(idx)-20]) {
		return nil, nil, fmt.Errorf("%s.pack: does not match its index", base)
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].offset < entries[j].offset })
	for _, e := range entries {
		if e.offset >= uint64(len(pack)-20) {
			return nil, nil, fmt.Errorf("%s.pack: offset out of range", base)
		}
		if t := plumbing.ObjectType(pack[e.offset] >> 4 & 7); t == plumbing.OFSDeltaObject || t == plumbing.REFDeltaObject {
			return nil, nil, errHasDeltas
		}
	}
	return pack, entries, nil
}

// parseIdx reads a version-2 pack index.
func parseIdx(b []byte) ([]packEntry, error) {
	if len(b) < 8+1024+40 || !bytes.Equal(b[:8], []byte{0xff, 't', 'O', 'c', 0, 0, 0, 2}) {
		return nil, errors.New("not a version-2 pack index")
	}
	n := int(binary.BigEndian.Uint32(b[8+255*4:]))
	base := 8 + 1024
	need := base + n*(20+4+4) + 40
	if n < 0 || len(b) < need {
		return nil, io.ErrUnexpectedEOF
	}
	es := make([]packEntry, n)
	crcs := base + n*20
	offs := crcs + n*4
	large := offs + n*4
	for i := range es {
		copy(es[i].hash[:], b[base+i*20:])
		es[i].crc = binary.BigEndian.Uint32(b[crcs+i*4:])
		o := binary.BigEndian.Uint32(b[offs+i*4:])
		if o&(1<<31) == 0 {
			es[i].offset = uint64(o)
			continue
		}
		k := large + int(o&^(1<<31))*8
		if k+8 > len(b)-40 {
			return nil, io.ErrUnexpectedEOF
		}
		es[i].offset = binary.BigEndian.Uint64(b[k:])
	}
	return es, nil
}
