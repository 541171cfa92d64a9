package ledger

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/vision-ios/vios/internal/signing"
	"github.com/vision-ios/vios/internal/testutil/gitcli"
)

// TestMergeKeepsEveryObject commits enough incompressible files for packs
// to merge over two levels, with one object stored twice in the meantime,
// and has git judge the result: every pack verifies, the repository is
// sound, every file reads back, and no object is left in two packs. A merge
// copies the packs its Repo wrote from memory and the others from their
// files: once with one Repo throughout, once reopening the repository every
// few commits, so that merges mix both.
func TestMergeKeepsEveryObject(t *testing.T) {
	t.Run("one Repo", func(t *testing.T) { testMergeKeepsEveryObject(t, false) })
	t.Run("reopened", func(t *testing.T) { testMergeKeepsEveryObject(t, true) })
}

func testMergeKeepsEveryObject(t *testing.T, reopen bool) {
	r, dir := initRepo(t)
	signer, _ := sshSigner(t, "CODE", 3)
	rng := rand.New(rand.NewPCG(3, 4))
	const commits = levelZeroFan*mergeFan + 8 // a level-1 merge, and level-0 packs left over
	contents := make([][]byte, commits)
	var parent, first plumbing.Hash
	for i := range commits {
		data := make([]byte, 9000)
		for k := range data {
			data[k] = byte(rng.Uint32())
		}
		contents[i] = data
		h, err := r.Apply(context.Background(), &Change{Subject: fmt.Sprintf("c%d", i),
			Files:  []File{{Path: fmt.Sprintf("d/%02d/f.bin", i), Data: data}},
			Author: Person{"CODE", "code@x"}, When: time.Unix(int64(1767225600+i*60), 0).UTC(), Signer: signer, Parent: parent})
		if err != nil {
			t.Fatalf("commit %d: %v", i, err)
		}
		parent = h
		if i == 0 {
			first = h
		}
		if reopen && i%5 == 4 {
			// As a process that commits and exits.
			if err := r.Close(); err != nil {
				t.Fatal(err)
			}
			if r, err = Open(dir); err != nil {
				t.Fatal(err)
			}
			if i == 4 {
				t.Cleanup(func() { r.Close() }) // the last one
			}
		}
		if i == 2 {
			// A pack holding a copy of an object another pack holds, as a
			// fetch or an interrupted writer can leave.
			storeCopy(t, r, first, "d/00/f.bin")
		}
	}

	settleMerges(t, r)
	idxs, _ := filepath.Glob(filepath.Join(dir, ".git", "objects", "pack", "pack-*.idx"))
	if len(idxs) > levelZeroFan {
		t.Fatalf("%d packs after %d commits: packs were not merged", len(idxs), commits)
	}
	if lv := packLevels(t, dir); lv[2] != 1 || lv[1] != 0 {
		t.Fatalf("packs by level after %d commits: %v, want the eight level-1 packs merged into one of level 2", commits, lv)
	}
	held := map[string]string{}
	for _, idx := range idxs {
		for _, line := range strings.Split(gitcli.Run(t, dir, "verify-pack", "-v", idx), "\n") {
			f := strings.Fields(line)
			if len(f) < 2 || len(f[0]) != 40 {
				continue
			}
			if other, ok := held[f[0]]; ok {
				t.Errorf("object %s is in %s and %s", f[0], filepath.Base(other), filepath.Base(idx))
			}
			held[f[0]] = idx
		}
	}
	if len(held) == 0 {
		t.Fatal("verify-pack listed no objects")
	}
	gitcli.Run(t, dir, "fsck", "--strict", "--full")
	for i, want := range contents {
		got := gitcli.Run(t, dir, "show", fmt.Sprintf("HEAD~%d:d/%02d/f.bin", commits-1-i, i))
		if got != string(want) {
			t.Fatalf("commit %d: file reads back as %d bytes, want the %d committed", i, len(got), len(want))
		}
	}
	leftovers, _ := filepath.Glob(filepath.Join(dir, ".git", "objects", "pack", ".vios-*"))
	if len(leftovers) > 0 {
		t.Fatalf("temporary files left behind: %v", leftovers)
	}
	if _, err := os.Stat(filepath.Join(dir, "d", "00", "f.bin")); err != nil {
		t.Fatal(err)
	}
}

// TestMergeLeavesDeltaPacks: a pack git wrote with deltas cannot be copied
// verbatim, so merges pass it over, and the repository stays sound.
func TestMergeLeavesDeltaPacks(t *testing.T) {
	gitcli.Available(t)
	dir := t.TempDir()
	run := func(args ...string) string { return gitcli.Run(t, dir, args...) }
	run("init", "-q", "-b", "main")
	run("config", "user.name", "t")
	run("config", "user.email", "t@x")
	line := strings.Repeat("the same long line of a file that changes little\n", 40)
	for i := range 3 {
		os.WriteFile(filepath.Join(dir, "f.txt"), []byte(line+fmt.Sprint(i)), 0o644)
		run("add", "f.txt")
		run("commit", "-q", "-m", fmt.Sprint(i))
	}
	run("repack", "-q", "-a", "-d", "-f")
	gitPacks, _ := filepath.Glob(filepath.Join(dir, ".git", "objects", "pack", "pack-*.pack"))
	if len(gitPacks) != 1 || !strings.Contains(run("verify-pack", "-v", gitPacks[0]), "chain length") {
		t.Fatalf("git's repack wrote no delta pack: %v", gitPacks)
	}
	r, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	signer, _ := sshSigner(t, "CODE", 5)
	parent := plumbing.NewHash(strings.TrimSpace(run("rev-parse", "HEAD")))
	for i := range 2 * levelZeroFan {
		parent = commitNumbered(t, r, signer, "v", i, parent)
	}
	settleMerges(t, r)
	if _, err := os.Stat(gitPacks[0]); err != nil {
		t.Fatalf("git's delta pack was merged away: %v", err)
	}
	packs, _ := filepath.Glob(filepath.Join(dir, ".git", "objects", "pack", "pack-*.pack"))
	if len(packs) >= 2*levelZeroFan {
		t.Fatalf("%d packs: vios's own packs were not merged", len(packs))
	}
	run("fsck", "--strict", "--full")
	if got := run("show", "HEAD~"+fmt.Sprint(2*levelZeroFan)+":f.txt"); got != line+"2" {
		t.Fatalf("git's last commit reads %q", got)
	}
}

// settleMerges finishes the running merge and those it makes due, as the
// commits that follow would, so that a test sees every full level merged
// however long a merge's syncs take.
func settleMerges(t *testing.T, r *Repo) {
	t.Helper()
	for {
		if err := r.finishMerge(); err != nil {
			t.Fatal(err)
		}
		if err := r.maintain(); err != nil {
			t.Fatal(err)
		}
		if r.merging == nil {
			return
		}
	}
}

// packLevels counts the repository's packs by merge level.
func packLevels(t *testing.T, dir string) map[int]int {
	t.Helper()
	packs, _ := filepath.Glob(filepath.Join(dir, ".git", "objects", "pack", "pack-*.pack"))
	lv := map[int]int{}
	for _, p := range packs {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		lv[packLevel(fi.Size())]++
	}
	return lv
}

// TestMergeIntoItself: when the first pack of a merge already holds every
// object of the others, the merged pack is that pack, under its own name;
// the merge removes the others and keeps it.
func TestMergeIntoItself(t *testing.T) {
	r, dir := initRepo(t)
	signer, _ := sshSigner(t, "CODE", 3)
	h, err := r.Apply(context.Background(), &Change{Subject: "c", Files: []File{{Path: "a.txt", Data: []byte("a")}, {Path: "b.txt", Data: []byte("b")}},
		Author: Person{"CODE", "code@x"}, When: time.Unix(1767225600, 0).UTC(), Signer: signer})
	if err != nil {
		t.Fatal(err)
	}
	packDir := filepath.Join(dir, ".git", "objects", "pack")
	whole, _ := filepath.Glob(filepath.Join(packDir, "pack-*.pack"))
	if len(whole) != 1 {
		t.Fatalf("%d packs after one commit", len(whole))
	}
	copied := storeCopy(t, r, h, "a.txt")
	var packs []packFile
	for _, p := range []string{whole[0], copied} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		packs = append(packs, packFile{base: strings.TrimSuffix(p, ".pack"), size: fi.Size()})
	}
	r.startMerge(packs)
	if err := r.finishMerge(); err != nil {
		t.Fatal(err)
	}
	after, _ := filepath.Glob(filepath.Join(packDir, "pack-*.pack"))
	if len(after) != 1 || after[0] != whole[0] {
		t.Fatalf("packs after the merge: %v, want %v", after, whole)
	}
	gitcli.Run(t, dir, "fsck", "--strict", "--full")
}

// TestStaleTemporaryFilesRemoved: a pack a writer left half written (a
// killed merge) is removed once it is old; a fresh one, perhaps a live
// writer's, is left alone.
func TestStaleTemporaryFilesRemoved(t *testing.T) {
	r, dir := initRepo(t)
	signer, _ := sshSigner(t, "CODE", 3)
	packDir := filepath.Join(dir, ".git", "objects", "pack")
	os.MkdirAll(packDir, 0o755)
	stale, fresh := filepath.Join(packDir, ".vios-pack-1"), filepath.Join(packDir, ".vios-tmp-2")
	for _, p := range []string{stale, fresh} {
		if err := os.WriteFile(p, []byte("half a pack"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().Add(-2 * staleTemp)
	os.Chtimes(stale, old, old)
	if _, err := r.Apply(context.Background(), &Change{Subject: "c", Files: []File{{Path: "a.txt", Data: []byte("a")}},
		Author: Person{"CODE", "code@x"}, When: time.Unix(1767225600, 0).UTC(), Signer: signer}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stale temporary pack: %v, want it removed", err)
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("fresh temporary file: %v, want it left", err)
	}
}

// storeCopy writes a pack of its own holding a copy of the blob at path in
// commit h, and returns the pack's path.
func storeCopy(t *testing.T, r *Repo, h plumbing.Hash, path string) string {
	t.Helper()
	c, err := r.Commit(h)
	if err != nil {
		t.Fatal(err)
	}
	bh, err := r.Lookup(c.TreeHash, path)
	if err != nil {
		t.Fatal(err)
	}
	o, err := r.Objects().EncodedObject(plumbing.BlobObject, bh)
	if err != nil {
		t.Fatal(err)
	}
	glob := filepath.Join(r.GitDir(), "objects", "pack", "pack-*.pack")
	before, _ := filepath.Glob(glob)
	b := newPackBuilder(1, defaultLevels)
	if err := b.addObject(o); err != nil {
		t.Fatal(err)
	}
	if err := r.storePack(b); err != nil {
		t.Fatal(err)
	}
	after, _ := filepath.Glob(glob)
	for _, p := range after {
		if !slices.Contains(before, p) {
			return p
		}
	}
	t.Fatal("the copy's pack was not written")
	return ""
}

// TestBackgroundMerge: a merge runs beside the commits that follow it, and
// the packs it merges stay until the Repo finishes it, so that between the
// Repo's calls the repository only gains files; Lock's unlock finishes it.
func TestBackgroundMerge(t *testing.T) {
	r, dir := initRepo(t)
	signer, _ := sshSigner(t, "CODE", 3)
	ctx := context.Background()
	unlock, err := r.Lock(ctx)
	if err != nil {
		t.Fatal(err)
	}
	j := commitUntilMerge(t, r, signer)
	<-j.done
	if j.res.err != nil || j.res.sum.IsZero() {
		t.Fatalf("merge: %v, sum %v", j.res.err, j.res.sum)
	}
	// Every pack but the first commit's, which Init's Repo wrote, came
	// from memory.
	if j.res.fromMemory < len(j.srcs)-1 {
		t.Errorf("%d of %d packs merged from memory, want all this Repo wrote", j.res.fromMemory, len(j.srcs))
	}
	merged := filepath.Join(dir, ".git", "objects", "pack", "pack-"+j.res.sum.String())
	for _, p := range append([]string{merged}, func() (b []string) {
		for _, s := range j.srcs {
			b = append(b, s.base)
		}
		return
	}()...) {
		for _, ext := range []string{".pack", ".idx"} {
			if _, err := os.Stat(p + ext); err != nil {
				t.Fatalf("before the merge is finished: %v", err)
			}
		}
	}
	gitcli.Run(t, dir, "fsck", "--strict", "--full")

	unlock()
	if r.merging != nil {
		t.Fatal("unlock left the merge running")
	}
	for _, s := range j.srcs {
		if _, err := os.Stat(s.base + ".pack"); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("merged pack %s still there after unlock: %v", filepath.Base(s.base), err)
		}
	}
	if _, err := os.Stat(merged + ".pack"); err != nil {
		t.Fatal(err)
	}
	gitcli.Run(t, dir, "fsck", "--strict", "--full")
	if got := gitcli.Run(t, dir, "show", "HEAD:f/0.txt"); got != "0" {
		t.Fatalf("first file reads %q", got)
	}
}

// TestSlowMergesHoldCommits: when merges take longer than the commits that
// follow them, the commits wait for them rather than let small packs pile
// up, so that the number of packs stays bounded.
func TestSlowMergesHoldCommits(t *testing.T) {
	slowMerge = func() { time.Sleep(150 * time.Millisecond) }
	t.Cleanup(func() { slowMerge = nil })
	r, dir := initRepo(t)
	signer, _ := sshSigner(t, "CODE", 3)
	var parent plumbing.Hash
	for i := range 5 * levelZeroFan {
		parent = commitNumbered(t, r, signer, "f", i, parent)
		if n := packLevels(t, dir)[0]; n > 2*levelZeroFan+1 {
			t.Fatalf("%d small packs after commit %d: commits outran the merges", n, i)
		}
	}
}

// commitNumbered commits file dir/i.txt holding i, as the i-th of a
// series of commits a minute apart on parent, and returns the commit.
func commitNumbered(t *testing.T, r *Repo, signer *signing.SSHSigner, dir string, i int, parent plumbing.Hash) plumbing.Hash {
	t.Helper()
	h, err := r.Apply(context.Background(), &Change{Subject: fmt.Sprint(i), Files: []File{{Path: fmt.Sprintf("%s/%d.txt", dir, i), Data: []byte(fmt.Sprint(i))}},
		Author: Person{"CODE", "code@x"}, When: time.Unix(int64(1767225600+i*60), 0).UTC(), Signer: signer, Parent: parent})
	if err != nil {
		t.Fatalf("commit %d: %v", i, err)
	}
	return h
}

// commitUntilMerge commits numbered files until a commit starts a merge,
// and returns it.
func commitUntilMerge(t *testing.T, r *Repo, signer *signing.SSHSigner) *mergeJob {
	t.Helper()
	var parent plumbing.Hash
	for i := 0; r.merging == nil; i++ {
		if i > 2*levelZeroFan {
			t.Fatal("no merge started")
		}
		parent = commitNumbered(t, r, signer, "f", i, parent)
	}
	return r.merging
}

// TestMergeKeepsIndexOfUnremovedPack: a merged pack whose .pack cannot be
// removed keeps its .idx, since go-git cannot open a repository holding a
// .pack without one.
func TestMergeKeepsIndexOfUnremovedPack(t *testing.T) {
	r, dir := initRepo(t)
	signer, _ := sshSigner(t, "CODE", 3)
	j := commitUntilMerge(t, r, signer)
	<-j.done
	// A non-empty directory in place of one source's .pack: os.Remove
	// fails on it (as on a file the user may not delete), whoever runs.
	stuck := j.srcs[len(j.srcs)-1].base
	if err := os.Rename(stuck+".pack", stuck+".moved"); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(stuck+".pack", "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := r.finishMerge(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stuck + ".idx"); err != nil {
		t.Errorf("the .idx of a .pack that could not be removed: %v, want it kept", err)
	}
	if _, err := os.Stat(j.srcs[0].base + ".idx"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the .idx of a removed pack: %v, want it removed", err)
	}
	os.RemoveAll(stuck + ".pack")
	if err := os.Rename(stuck+".moved", stuck+".pack"); err != nil {
		t.Fatal(err)
	}
	gitcli.Run(t, dir, "fsck", "--strict", "--full")
}
