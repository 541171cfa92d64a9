package ledger

import (
	"bytes"
	"cmp"
	"crypto/sha1"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

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
//
// A merge syncs the pack it writes before it removes the packs it replaces
// (see installPack), so merges are not free: the commits' own packs, the
// smallest, are merged levelZeroFan at a time, half as often as the rest.
const (
	mergeFan       = 8
	levelZeroFan   = 16
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
	levels  levels           // zlib level of each kind of object it compresses
	zw      [11]*zlib.Writer // its compressors, by level+1
}

// newPackBuilder starts a pack of count objects compressed at the given
// levels (see Repo.compression).
func newPackBuilder(count int, lv levels) *packBuilder {
	b := &packBuilder{levels: lv}
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
	zw, err := b.compressor(b.levels.of(obj.Type()))
	if err != nil {
		return err
	}
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
	return nil
}

// compressor returns the builder's compressor for a level (-1 to 9), reset
// to append to the pack. A compressor allocates ~1 MB of tables: they are
// kept across packs (see finish).
func (b *packBuilder) compressor(level int) (*zlib.Writer, error) {
	if level < -1 || level > 9 {
		return nil, fmt.Errorf("zlib level %d", level)
	}
	zw := b.zw[level+1]
	if zw == nil {
		if pooled, ok := zlibPools[level+1].Get().(*zlib.Writer); ok {
			zw = pooled
		} else {
			var err error
			if zw, err = zlib.NewWriterLevel(&b.buf, level); err != nil {
				return nil, err
			}
		}
		b.zw[level+1] = zw
	}
	zw.Reset(&b.buf)
	return zw, nil
}

// zlibPools keep compressors between packs, one pool per level (-1 to 9,
// at index level+1): a compressor keeps the level it was made with.
var zlibPools [11]sync.Pool

// finish returns the pack, its checksum and its index, and gives the
// compressor back to the pool.
func (b *packBuilder) finish() (pack []byte, sum plumbing.Hash, idx []byte) {
	for i, zw := range b.zw {
		if zw != nil {
			zlibPools[i].Put(zw)
			b.zw[i] = nil
		}
	}
	pack = b.buf.Bytes()
	binary.BigEndian.PutUint32(pack[8:12], uint32(len(b.entries)))
	s := sha1.Sum(pack)
	pack = append(pack, s[:]...)
	copy(sum[:], s[:])

	return pack, sum, packIndex(b.entries, sum)
}

// packIndex encodes the version-2 index of a pack holding entries (in any
// order) whose checksum is sum.
func packIndex(entries []packEntry, sum plumbing.Hash) []byte {
	es := slices.Clone(entries)
	slices.SortFunc(es, func(a, b packEntry) int { return bytes.Compare(a.hash[:], b.hash[:]) })
	var large []uint64
	for _, e := range es {
		if e.offset >= 1<<31 {
			large = append(large, e.offset)
		}
	}
	x := make([]byte, 0, 8+256*4+len(es)*(20+4+4)+len(large)*8+40)
	x = append(x, 0xff, 't', 'O', 'c', 0, 0, 0, 2)
	var fan [256]uint32
	for _, e := range es {
		fan[e.hash[0]]++
	}
	var total uint32
	for _, n := range fan {
		total += n
		x = binary.BigEndian.AppendUint32(x, total)
	}
	for _, e := range es {
		x = append(x, e.hash[:]...)
	}
	for _, e := range es {
		x = binary.BigEndian.AppendUint32(x, e.crc)
	}
	k := uint32(0)
	for _, e := range es {
		if e.offset < 1<<31 {
			x = binary.BigEndian.AppendUint32(x, uint32(e.offset))
		} else {
			x = binary.BigEndian.AppendUint32(x, 1<<31|k)
			k++
		}
	}
	for _, o := range large {
		x = binary.BigEndian.AppendUint64(x, o)
	}
	x = append(x, sum[:]...)
	is := sha1.Sum(x)
	return append(x, is[:]...)
}

// writePack stores the pending objects as one packfile with its index.
func (r *Repo) writePack(p *pending) error {
	if len(p.objs) == 0 {
		return nil
	}
	lv, err := r.compression()
	if err != nil {
		return err
	}
	b := newPackBuilder(len(p.objs), lv)
	for _, o := range p.objs {
		if err := b.addObject(o); err != nil {
			return fmt.Errorf("write pack: %w", err)
		}
	}
	return r.storePack(b)
}

func (r *Repo) storePack(b *packBuilder) error {
	pack, sum, idx := b.finish()
	tmp, err := packTemp(r.packDir())
	if err != nil {
		return err
	}
	if _, err := tmp.Write(pack); err != nil {
		discard(tmp)
		return fmt.Errorf("write pack: %w", err)
	}
	if err := installPack(tmp, sum, idx, false); err != nil {
		return err
	}
	if packLevel(int64(len(pack))) == 0 {
		if r.written == nil || len(r.written) >= 2*levelZeroFan {
			r.written = map[string]writtenPack{} // not merged here: another process merged them
		}
		r.written["pack-"+sum.String()] = writtenPack{pack, b.entries}
	}
	return nil
}

// writtenPack is a level-0 pack a Repo wrote, kept until it is merged: the
// next level-0 merge copies it from memory instead of opening and reading
// back its two files. A pack is named by its content, so the copy is the
// file's as long as the file exists.
type writtenPack struct {
	data    []byte
	entries []packEntry // in offset order, as the pack was built
}

// packDir is the repository's pack directory.
func (r *Repo) packDir() string { return filepath.Join(r.gitDir, "objects", "pack") }

// packTemp creates, in the pack directory dir, the file a pack is written
// to before installPack names it.
func packTemp(dir string) (*os.File, error) {
	return createTemp(dir, ".vios-pack-", 0o444)
}

// installPack names the pack written to tmp after its checksum and puts its
// index beside it. Index first: go-git lists packs by their .pack file and
// cannot open a repository holding a .pack without its .idx, while both git
// and go-git ignore an .idx without its .pack. A crash between the two must
// leave the latter (file systems that journal metadata, as ext4, keep the
// two renames in order; a durable pack syncs its directory between them).
//
// A durable pack is on disk, with its index and their names, when
// installPack returns: a merged pack must be, before the packs it replaces
// are removed. Git syncs the packs it writes for the same reason. A commit's
// own pack is not synced, as git does not sync the loose objects of a
// commit: a crash loses at worst the newest commits, never older history.
func installPack(tmp *os.File, sum plumbing.Hash, idx []byte, durable bool) error {
	dir := filepath.Dir(tmp.Name())
	base := filepath.Join(dir, "pack-"+sum.String())
	if durable {
		if err := tmp.Sync(); err != nil {
			discard(tmp)
			return fmt.Errorf("write pack: %w", err)
		}
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write pack: %w", err)
	}
	if err := writeFile(base+".idx", idx, 0o444, durable); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write pack index: %w", err)
	}
	if durable {
		// The index's name first, even where the file system may keep
		// renames out of order.
		if err := syncDir(dir); err != nil {
			os.Remove(tmp.Name())
			return fmt.Errorf("write pack index: %w", err)
		}
	}
	if err := rename(tmp.Name(), base+".pack"); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write pack: %w", err)
	}
	if durable {
		if err := syncDir(dir); err != nil {
			return fmt.Errorf("write pack: %w", err)
		}
	}
	return nil
}

// discard closes and removes a temporary file that will not be used.
func discard(f *os.File) {
	f.Close()
	os.Remove(f.Name())
}

// packLevel is the merge level of a pack of size bytes: 0 below
// levelZeroBytes, one more for each factor of mergeFan above.
func packLevel(size int64) int {
	l := 0
	for s := size; s >= levelZeroBytes; s /= mergeFan {
		l++
	}
	return l
}

type packFile struct {
	base string // path without extension
	size int64
	rev  bool // a reverse index (.rev) lies beside it
}

// staleTemp is the age past which a temporary file in the pack directory
// is a crashed writer's: vios writes packs under the repository lock, in
// well under a minute.
const staleTemp = time.Hour

// removeStale removes e, a file of the pack directory dir, if it is a
// temporary file of vios's (a pack or an index being written) older than
// staleTemp. A writer killed half way, a merge above all, would otherwise
// leave it there for good: git gc removes only its own.
func removeStale(dir string, e os.DirEntry) {
	if !strings.HasPrefix(e.Name(), ".vios-") {
		return
	}
	if fi, err := e.Info(); err == nil && time.Since(fi.ModTime()) > staleTemp {
		os.Remove(filepath.Join(dir, e.Name()))
	}
}

// maintainAfterCommit is maintain after a commit wrote its small pack.
// Listing the pack directory costs more than the rest of a commit's check,
// and only the commits' own packs arrive between merges: when the last
// listing found n packs of level 0, no merge is due before another
// levelZeroFan-n of them, so the directory is listed again only then
// (and on the commit after a merge, which may have filled the next level).
// A pack another process wrote meanwhile is seen at that listing, and a
// Repo that has not listed the directory yet (as in a process that commits
// once) lists it at once.
func (r *Repo) maintainAfterCommit() error {
	if r.packSizes != nil && r.mergeDueIn > 1 {
		r.mergeDueIn--
		return nil
	}
	return r.maintain()
}

// maintain starts merging a level of small packs when it is full, after
// finishing the merge the last one started (see mergeJob). It runs under
// the repository lock, after the branch moved, so a failure here never
// loses a commit: the objects stay readable in the packs they are in.
func (r *Repo) maintain() error {
	if err := r.maintErr; err != nil {
		// A merge that failed after the last call that could report it.
		r.maintErr = nil
		return err
	}
	if j := r.merging; j != nil {
		j.waited++
		select {
		case <-j.done:
		default:
			if j.waited < levelZeroFan {
				return nil // one merge at a time: the next commit looks again
			}
			// Merges that cannot keep up with the commits would leave the
			// packs of every level to pile up: the commits wait for them.
		}
		if err := r.finishMerge(); err != nil {
			return err
		}
	}
	dir := r.packDir()
	ents, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return err
	}
	skip, rev := map[string]bool{}, map[string]bool{}
	for _, e := range ents {
		if n, ok := strings.CutSuffix(e.Name(), ".keep"); ok {
			skip[n] = true
		}
		if n, ok := strings.CutSuffix(e.Name(), ".rev"); ok {
			rev[n] = true
		}
		removeStale(dir, e)
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
		lvl := packLevel(size)
		levels[lvl] = append(levels[lvl], packFile{base: filepath.Join(dir, base), size: size, rev: rev[base]})
	}
	r.packSizes = sizes
	r.mergeDueIn = levelZeroFan - len(levels[0])
	var lv []int
	for l := range levels {
		lv = append(lv, l)
	}
	sort.Ints(lv)
	for _, l := range lv {
		fan := mergeFan
		if l == 0 {
			fan = levelZeroFan
		}
		if len(levels[l]) >= fan {
			// The next commit looks whether it is done (see finishMerge).
			r.startMerge(levels[l])
			r.mergeDueIn = 1
			return nil
		}
	}
	return nil
}

// mergeJob is a merge running in the background: a Repo that writes many
// commits goes on committing while it builds and syncs the merged pack,
// the way git runs gc --auto detached. Only the copying, the writing and
// the syncs run there; the Repo's state and the removal of the merged packs
// wait for finishMerge, on the Repo's goroutine, so that between calls the
// repository only ever gains files (see finishMerge).
type mergeJob struct {
	done   chan struct{}
	srcs   []packFile
	waited int // maintenance calls that found it running
	res    mergeResult
}

// mergeResult is what mergePacks did.
type mergeResult struct {
	sum        plumbing.Hash // the merged pack's checksum; zero when none was written
	delta      string        // the base name of a source holding deltas, which gave the merge up
	fromMemory int           // sources copied from memory (see writtenPack)
	err        error
}

// startMerge starts merging packs in the background. One merge runs at a
// time: maintain starts none while one runs.
func (r *Repo) startMerge(packs []packFile) {
	specs := make([]packSpec, len(packs))
	for i, p := range packs {
		specs[i].packFile = p
		if w, ok := r.written[filepath.Base(p.base)]; ok && int64(len(w.data)) == p.size {
			specs[i].mem = &w
		}
	}
	j := &mergeJob{done: make(chan struct{}), srcs: packs}
	r.merging = j
	dir := r.packDir()
	slow := slowMerge
	go func() {
		defer close(j.done)
		if slow != nil {
			slow()
		}
		j.res = mergePacks(dir, specs)
	}()
}

// slowMerge, when a test sets it, runs before each background merge, to
// stand for slow syncs.
var slowMerge func()

// finishMerge waits for the running merge, if any, and completes it: the
// packs it merged are removed, the .pack first, so that neither a reader
// listing packs nor a crash half way ever finds a .pack without its .idx
// (see installPack). A source whose every other source's objects it
// already held comes out of the merge unchanged, under its own name: that
// one stays. Removing the sources here rather than in the background keeps
// them in place until the Repo's next call that maintains (a commit, Close,
// the unlock of Lock), so a git command run between calls never sees a
// pack vanish.
func (r *Repo) finishMerge() error {
	j := r.merging
	if j == nil {
		return nil
	}
	<-j.done
	r.merging = nil
	// The merge may have filled the next level, or been given up: the next
	// commit lists the directory again.
	r.mergeDueIn = 1
	for _, p := range j.srcs {
		delete(r.written, filepath.Base(p.base))
	}
	res := j.res
	if res.delta != "" {
		// A pack written by git may hold deltas, which a verbatim copy
		// cannot move; it stays as it is.
		r.unmergeable = append(r.unmergeable, res.delta)
		return nil
	}
	if res.err != nil {
		return fmt.Errorf("merge packs: %w", res.err)
	}
	if res.sum.IsZero() {
		return nil
	}
	merged := "pack-" + res.sum.String()
	for _, p := range j.srcs {
		if filepath.Base(p.base) == merged {
			continue
		}
		// An .idx goes only with its .pack: go-git cannot open a
		// repository holding a .pack without its .idx.
		if err := os.Remove(p.base + ".pack"); err != nil && !errors.Is(err, os.ErrNotExist) {
			continue
		}
		if p.rev {
			os.Remove(p.base + ".rev")
		}
		os.Remove(p.base + ".idx")
	}
	r.refresh()
	return nil
}

// packSpec is a pack to merge, with its content when the Repo wrote it.
type packSpec struct {
	packFile
	mem *writtenPack
}

// mergePacks writes the packs as one pack in dir, durably (see
// installPack), and returns its checksum; the sources are left in place.
// Entries are copied as they are: each run of entries in a pack is read in
// chunks through one buffer, summed and written, so a merge costs a read, a
// write and the new pack's checksum per byte, however large the packs. A
// source holding deltas gives the merge up and is named in delta.
func mergePacks(dir string, packs []packSpec) (res mergeResult) {
	var srcs []*packSource
	defer func() {
		for _, s := range srcs {
			if s.f != nil {
				s.f.Close()
			}
		}
	}()
	seen := map[plumbing.Hash]bool{}
	count, size := 0, int64(0)
	for _, p := range packs {
		size += p.size
		s, err := openSource(p)
		if err != nil {
			return mergeResult{err: err}
		}
		if s.data != nil {
			res.fromMemory++
		}
		srcs = append(srcs, s)
		s.keep = make([]bool, len(s.entries))
		for i, e := range s.entries {
			if !seen[e.hash] {
				seen[e.hash], s.keep[i] = true, true
				count++
			}
		}
	}
	if len(srcs) < 2 {
		return res
	}
	tmp, err := packTemp(dir)
	if err != nil {
		return mergeResult{err: err}
	}
	w := &packWriter{f: tmp, sum: sha1.New(), buf: make([]byte, min(size, mergeChunk))}
	w.write(binary.BigEndian.AppendUint32([]byte{'P', 'A', 'C', 'K', 0, 0, 0, 2}, uint32(count)))
	out := make([]packEntry, 0, count)
	for _, s := range srcs {
		if out, err = w.copyEntries(s, out); err != nil {
			break
		}
	}
	var sum plumbing.Hash
	w.sum.Sum(sum[:0])
	if err = cmp.Or(err, w.err); err == nil {
		_, err = tmp.Write(sum[:])
	}
	if err != nil {
		discard(tmp)
		if d, ok := errors.AsType[deltaPack](err); ok {
			return mergeResult{delta: filepath.Base(d.base)}
		}
		return mergeResult{err: err}
	}
	if err := installPack(tmp, sum, packIndex(out, sum), true); err != nil {
		return mergeResult{err: err}
	}
	res.sum = sum
	return res
}

// mergeChunk is how much of a pack a merge reads at a time.
const mergeChunk = 1 << 20

// packSource is a pack being merged: its open file, or its content when
// this Repo wrote it, and its index's entries, sorted by offset.
type packSource struct {
	base    string
	f       *os.File
	data    []byte
	end     uint64 // offset of the trailing checksum
	entries []packEntry
	keep    []bool // the entry is not a copy of one merged before it
}

// openSource returns p to merge: from memory when the Repo wrote it (see
// writtenPack), else from its files.
func openSource(p packSpec) (*packSource, error) {
	if p.mem != nil {
		w := p.mem
		return &packSource{base: p.base, data: w.data, end: uint64(len(w.data) - 20), entries: slices.Clone(w.entries)}, nil
	}
	return openPackSource(p.packFile)
}

// openPackSource opens a pack and reads its index.
func openPackSource(p packFile) (*packSource, error) {
	idx, err := readFile(p.base + ".idx")
	if err != nil {
		return nil, err
	}
	entries, err := parseIdx(idx)
	if err != nil {
		return nil, fmt.Errorf("%s.idx: %w", p.base, err)
	}
	f, err := openFile(p.base+".pack", os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	var head [12]byte
	var trailer [20]byte
	size := fi.Size()
	if size < 32 {
		f.Close()
		return nil, fmt.Errorf("%s.pack: does not match its index", p.base)
	}
	_, err1 := f.ReadAt(head[:], 0)
	_, err2 := f.ReadAt(trailer[:], size-20)
	if err := cmp.Or(err1, err2); err != nil {
		f.Close()
		return nil, err
	}
	if string(head[:4]) != "PACK" || !bytes.Equal(trailer[:], idx[len(idx)-40:len(idx)-20]) {
		f.Close()
		return nil, fmt.Errorf("%s.pack: does not match its index", p.base)
	}
	s := &packSource{base: p.base, f: f, end: uint64(size - 20), entries: entries}
	slices.SortFunc(entries, func(a, b packEntry) int { return cmp.Compare(a.offset, b.offset) })
	for _, e := range entries {
		if e.offset < 12 || e.offset >= s.end {
			f.Close()
			return nil, fmt.Errorf("%s.pack: offset out of range", p.base)
		}
	}
	return s, nil
}

// deltaPack is the error of a pack that holds delta entries.
type deltaPack struct{ base string }

func (d deltaPack) Error() string { return d.base + ".pack holds deltas" }

// packWriter writes a pack to its file and sums it as it goes.
type packWriter struct {
	f   *os.File
	sum hash.Hash
	n   uint64 // bytes written
	buf []byte // for copies
	err error  // the first write error
}

func (w *packWriter) write(p []byte) {
	if w.err != nil || len(p) == 0 {
		return
	}
	w.sum.Write(p)
	_, w.err = w.f.Write(p)
	w.n += uint64(len(p))
}

// copyEntries appends the entries of s it keeps, in runs, and adds them to
// out with their offsets in the new pack.
func (w *packWriter) copyEntries(s *packSource, out []packEntry) ([]packEntry, error) {
	// The entries s.entries[run:i] lie in s at [from, to), not written yet;
	// they land at w.n.
	run := 0
	var from, to uint64
	if len(s.entries) > 0 {
		from, to = s.entries[0].offset, s.entries[0].offset
	}
	for i, e := range s.entries {
		next := s.end
		if i+1 < len(s.entries) {
			next = s.entries[i+1].offset
		}
		if e.offset != to || !s.keep[i] {
			if err := w.copyRun(s, s.entries[run:i], from, to); err != nil {
				return nil, err
			}
			run, from = i, e.offset
		}
		if !s.keep[i] {
			run, from, to = i+1, next, next
			continue
		}
		out = append(out, packEntry{hash: e.hash, crc: e.crc, offset: w.n + e.offset - from})
		to = next
	}
	return out, w.copyRun(s, s.entries[run:], from, to)
}

// copyRun copies s's bytes [from, to), which hold entries es, checking as it
// goes that none of them is a delta.
func (w *packWriter) copyRun(s *packSource, es []packEntry, from, to uint64) error {
	for off := from; off < to; {
		var chunk []byte
		if s.data != nil {
			chunk = s.data[off:to]
		} else {
			chunk = w.buf[:min(uint64(len(w.buf)), to-off)]
			if _, err := s.f.ReadAt(chunk, int64(off)); err != nil {
				return err
			}
		}
		for len(es) > 0 && es[0].offset < off+uint64(len(chunk)) {
			if t := plumbing.ObjectType(chunk[es[0].offset-off] >> 4 & 7); t == plumbing.OFSDeltaObject || t == plumbing.REFDeltaObject {
				return deltaPack{s.base}
			}
			es = es[1:]
		}
		w.write(chunk)
		if w.err != nil {
			return w.err
		}
		off += uint64(len(chunk))
	}
	return nil
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
