package ledger

import (
	"bytes"
	"compress/zlib"
	"crypto/sha1"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/vision-ios/vios/internal/testutil/gitcli"
)

// TestODBMatchesGoGit reads every object of a repository packed by git
// (with deltas, after gc) and of loose objects through the odb and
// compares them with go-git's reading; then trees through ReadTree.
func TestODBMatchesGoGit(t *testing.T) {
	gitcli.Available(t)
	t.Parallel()
	dir := t.TempDir()
	gitc := func(args ...string) { gitcli.Run(t, dir, args...) }
	gitc("init", "-q")
	body := bytes.Repeat([]byte("a shared line of text that makes deltas worth their while\n"), 60)
	for round := range 6 {
		for d := range 4 {
			for i := range 40 {
				if round > 0 && i != round {
					continue // one file per directory changes per round
				}
				p := filepath.Join(dir, fmt.Sprintf("d%d/sub/f%02d.txt", d, i))
				os.MkdirAll(filepath.Dir(p), 0o755)
				os.WriteFile(p, append(fmt.Appendf(nil, "file %d %d round %d\n", d, i, round), body...), 0o644)
			}
		}
		gitc("add", "-A")
		gitc("commit", "-q", "-m", fmt.Sprint("round ", round))
		if round == 3 {
			gitc("gc", "-q", "--aggressive")
		}
	}
	r, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	db := newODB(r.GitDir())
	defer db.close()
	iter, err := r.storage.IterEncodedObjects(plumbing.AnyObject)
	if err != nil {
		t.Fatal(err)
	}
	n, trees := 0, 0
	err = iter.ForEach(func(o plumbing.EncodedObject) error {
		rd, err := o.Reader()
		if err != nil {
			return err
		}
		want, err := io.ReadAll(rd)
		rd.Close()
		if err != nil {
			return err
		}
		typ, got, err := db.read(o.Hash(), nil)
		if err != nil {
			return fmt.Errorf("%s: %w", o.Hash(), err)
		}
		if typ != o.Type() || !bytes.Equal(got, want) {
			return fmt.Errorf("%s: odb reads a %s of %d bytes, go-git a %s of %d", o.Hash(), typ, len(got), o.Type(), len(want))
		}
		if !db.has(o.Hash()) {
			return fmt.Errorf("%s: read but has() denies it", o.Hash())
		}
		if typ == plumbing.TreeObject {
			trees++
			var tree object.Tree
			if err := tree.Decode(o); err != nil {
				return err
			}
			entries, err := r.ReadTree(o.Hash())
			if err != nil {
				return err
			}
			if fmt.Sprint(entries) != fmt.Sprint(tree.Entries) {
				return fmt.Errorf("tree %s: ReadTree %v, go-git %v", o.Hash(), entries, tree.Entries)
			}
		}
		n++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// git's own account of the packs: objects stored as deltas (a
	// verify-pack line with a depth and a base) that the odb resolved above.
	deltas := 0
	packs, _ := filepath.Glob(filepath.Join(r.GitDir(), "objects", "pack", "*.idx"))
	for _, p := range packs {
		for _, line := range strings.Split(gitcli.Run(t, dir, "verify-pack", "-v", p), "\n") {
			if f := strings.Fields(line); len(f) == 7 && len(f[0]) == 40 {
				deltas++
			}
		}
	}
	t.Logf("%d objects (%d trees), %d of them deltas", n, trees, deltas)
	if n < 150 || trees == 0 || deltas == 0 {
		t.Fatalf("%d objects compared, %d deltas: the test repository is not what it should be", n, deltas)
	}
	if _, _, err := db.read(plumbing.NewHash("0123456789012345678901234567890123456789"), nil); err == nil || !errorsIsNotFound(err) {
		t.Fatalf("missing object: %v, want ErrObjectNotFound", err)
	}
}

// TestODBSeesNewPacks: a pack written after the odb was loaded (by another
// process) is found, and a pack removed is forgotten.
func TestODBSeesNewPacks(t *testing.T) {
	gitcli.Available(t)
	dir := t.TempDir()
	run := func(args ...string) string { return gitcli.Run(t, dir, args...) }
	run("init", "-q")
	os.WriteFile(filepath.Join(dir, "a"), []byte("one\n"), 0o644)
	run("add", "a")
	run("commit", "-q", "-m", "one")
	run("repack", "-q", "-a", "-d")
	db := newODB(filepath.Join(dir, ".git"))
	defer db.close()
	first := plumbing.NewHash(run("rev-parse", "HEAD"))
	if typ, _, err := db.read(first, nil); err != nil || typ != plumbing.CommitObject {
		t.Fatalf("first commit: %v %v", typ, err)
	}
	os.WriteFile(filepath.Join(dir, "a"), []byte("two\n"), 0o644)
	run("commit", "-q", "-am", "two")
	run("repack", "-q", "-a", "-d")
	second := plumbing.NewHash(run("rev-parse", "HEAD"))
	if typ, _, err := db.read(second, nil); err != nil || typ != plumbing.CommitObject {
		t.Fatalf("commit packed after load: %v %v", typ, err)
	}
	if len(db.packs) != 1 {
		t.Fatalf("%d packs known after the repack removed the first, want 1", len(db.packs))
	}

	// An index whose pack is not there (a writer puts the index in place
	// first; a crash can leave one behind) is passed over, not an error.
	idxs, _ := filepath.Glob(filepath.Join(dir, ".git", "objects", "pack", "pack-*.idx"))
	data, err := os.ReadFile(idxs[0])
	if err != nil {
		t.Fatal(err)
	}
	orphan := filepath.Join(dir, ".git", "objects", "pack", "pack-0000000000000000000000000000000000000000.idx")
	if err := os.WriteFile(orphan, data, 0o644); err != nil {
		t.Fatal(err)
	}
	fresh := newODB(filepath.Join(dir, ".git"))
	defer fresh.close()
	if typ, _, err := fresh.read(second, nil); err != nil || typ != plumbing.CommitObject || !fresh.has(second) {
		t.Fatalf("with an index but no pack sorting first: %v %v", typ, err)
	}
	os.Remove(idxs[0])
	os.Rename(strings.TrimSuffix(idxs[0], ".idx")+".pack", filepath.Join(dir, "elsewhere.pack"))
	gone := newODB(filepath.Join(dir, ".git"))
	defer gone.close()
	if _, _, err := gone.read(first, nil); !errors.Is(err, plumbing.ErrObjectNotFound) || gone.has(first) {
		t.Fatalf("an object only an orphan index names: %v, want not found", err)
	}
}

func errorsIsNotFound(err error) bool { return errors.Is(err, plumbing.ErrObjectNotFound) }

func FuzzApplyDelta(f *testing.F) {
	f.Add([]byte("hello world"), []byte{11, 5, 0x91, 0, 5})
	f.Add([]byte("abc"), []byte{3, 3, 3, 'x', 'y', 'z'})
	f.Add([]byte(""), []byte{0, 0})
	f.Fuzz(func(t *testing.T, base, delta []byte) {
		out, err := applyDeltaTo(nil, base, delta)
		if err == nil && out == nil {
			t.Fatal("no output and no error")
		}
	})
}

// TestApplyDeltaDistrustsItsHeader: a corrupt delta that claims a result
// of a gigabyte is an error, not an allocation of that gigabyte.
func TestApplyDeltaDistrustsItsHeader(t *testing.T) {
	delta := []byte{3, 0x80, 0x80, 0x80, 0x80, 0x04, 3, 'x', 'y', 'z'} // base 3 bytes, result 1 GiB
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if _, err := applyDeltaTo(nil, []byte("abc"), delta); !errors.Is(err, errODB) {
		t.Fatalf("err = %v, want a corrupt-object error", err)
	}
	runtime.ReadMemStats(&after)
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 1<<20 {
		t.Fatalf("allocated %d bytes for a 10-byte delta", grew)
	}
}

// FuzzParseTree: the hand-written tree parser agrees with go-git's decoder
// on every input go-git accepts.
func FuzzParseTree(f *testing.F) {
	f.Add([]byte("100644 a\x00" + string(bytes.Repeat([]byte{1}, 20)) + "40000 d\x00" + string(bytes.Repeat([]byte{2}, 20))))
	f.Add([]byte("100644 a"))
	f.Add([]byte("100644 \x00" + string(bytes.Repeat([]byte{1}, 20))))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := ParseTree(data)
		var obj plumbing.MemoryObject
		obj.SetType(plumbing.TreeObject)
		obj.Write(data)
		var tree object.Tree
		werr := tree.Decode(&obj)
		if err == nil && werr == nil && fmt.Sprint(got) != fmt.Sprint(tree.Entries) {
			t.Fatalf("ParseTree %v, go-git %v", got, tree.Entries)
		}
	})
}

// TestODBRefDeltaCycle: two objects stored as deltas of each other (a
// corrupt or hostile pack) end in an error, not endless recursion.
func TestODBRefDeltaCycle(t *testing.T) {
	dir := t.TempDir()
	a := plumbing.NewHash("1111111111111111111111111111111111111111")
	b := plumbing.NewHash("2222222222222222222222222222222222222222")
	writeTestPack(t, filepath.Join(dir, "objects", "pack"), []testPackEntry{{name: a, base: b}, {name: b, base: a}})
	db := newODB(dir)
	defer db.close()
	_, _, err := db.read(a, nil)
	if err == nil || !strings.Contains(err.Error(), "delta chain deeper than") {
		t.Fatalf("cyclic delta chain: %v", err)
	}
}

type testPackEntry struct {
	name plumbing.Hash
	base plumbing.Hash // REF_DELTA base
}

// writeTestPack writes a version-2 pack and index holding REF_DELTA
// entries whose deltas are empty copies (sizes 0 → 0).
func writeTestPack(t *testing.T, dir string, entries []testPackEntry) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var pack bytes.Buffer
	pack.WriteString("PACK")
	binary.Write(&pack, binary.BigEndian, uint32(2))
	binary.Write(&pack, binary.BigEndian, uint32(len(entries)))
	offsets := map[plumbing.Hash]uint32{}
	for _, e := range entries {
		offsets[e.name] = uint32(pack.Len())
		delta := []byte{0, 0} // base size 0, result size 0
		pack.WriteByte(byte(plumbing.REFDeltaObject)<<4 | byte(len(delta)))
		pack.Write(e.base[:])
		zw := zlib.NewWriter(&pack)
		zw.Write(delta)
		zw.Close()
	}
	sum := sha1.Sum(pack.Bytes())
	pack.Write(sum[:])
	names := make([]plumbing.Hash, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.name)
	}
	sort.Slice(names, func(i, j int) bool { return bytes.Compare(names[i][:], names[j][:]) < 0 })
	var idx bytes.Buffer
	idx.Write([]byte{0xff, 't', 'O', 'c', 0, 0, 0, 2})
	for k := range 256 {
		n := 0
		for _, h := range names {
			if int(h[0]) <= k {
				n++
			}
		}
		binary.Write(&idx, binary.BigEndian, uint32(n))
	}
	for _, h := range names {
		idx.Write(h[:])
	}
	for range names {
		binary.Write(&idx, binary.BigEndian, uint32(0)) // crc32, unchecked
	}
	for _, h := range names {
		binary.Write(&idx, binary.BigEndian, offsets[h])
	}
	idx.Write(sum[:])
	isum := sha1.Sum(idx.Bytes())
	idx.Write(isum[:])
	base := filepath.Join(dir, fmt.Sprintf("pack-%x", sum))
	if err := os.WriteFile(base+".pack", pack.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(base+".idx", idx.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}
