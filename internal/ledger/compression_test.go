package ledger

import (
	"bytes"
	"context"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vision-ios/vios/internal/fault"
	"github.com/vision-ios/vios/internal/testutil/gitcli"
)

// packedSizes commits one compressible file and returns, per object type,
// git's account of the commit's objects: size and size in the pack.
func packedSizes(t *testing.T, config ...string) map[string][2]int {
	t.Helper()
	gitcli.Available(t)
	dir := filepath.Join(t.TempDir(), "repo")
	gitcli.Run(t, filepath.Dir(dir), "init", "-q", dir)
	for i := 0; i+1 < len(config); i += 2 {
		gitcli.Run(t, dir, "config", config[i], config[i+1])
	}
	r, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	signer, _ := sshSigner(t, "CODE", 3)
	data := bytes.Repeat([]byte(`{"close":65723.35,"open":68305.67}`+"\n"), 300)
	if _, err := r.Apply(context.Background(), &Change{Subject: "s", Files: []File{{Path: "05_GOVERNANCE/x/e.json", Data: data}},
		Author: Person{"CODE", "code@x"}, When: time.Unix(1767225600, 0), Signer: signer}); err != nil {
		t.Fatal(err)
	}
	gitcli.Run(t, dir, "fsck", "--strict")
	packs, _ := filepath.Glob(filepath.Join(dir, ".git", "objects", "pack", "*.idx"))
	out := map[string][2]int{}
	for _, p := range packs {
		for _, line := range strings.Split(gitcli.Run(t, dir, "verify-pack", "-v", p), "\n") {
			f := strings.Fields(line)
			if len(f) < 5 || len(f[0]) != 40 {
				continue
			}
			size, _ := strconv.Atoi(f[2])
			inPack, _ := strconv.Atoi(f[3])
			s := out[f[1]]
			out[f[1]] = [2]int{s[0] + size, s[1] + inPack}
		}
	}
	return out
}

// isStored reports whether an object of size bytes took inPack bytes as
// stored deflate blocks would: the object header, zlib's 6 bytes and 5
// per block of at most 64 KB.
func isStored(size, inPack int) bool { return inPack >= size+11 }

// TestCompressionLevels: by default blobs are deflated, trees and commits
// stored; the repository's pack.compression, else core.compression, sets
// the level of every object, as for git; a level git would refuse is an
// input error naming the key, and nothing is written.
func TestCompressionLevels(t *testing.T) {
	def := packedSizes(t)
	if s := def["blob"]; isStored(s[0], s[1]) {
		t.Errorf("default: blob objects of %d bytes take %d in the pack, want them deflated", s[0], s[1])
	}
	for _, typ := range []string{"tree", "commit"} {
		if s := def[typ]; !isStored(s[0], s[1]) {
			t.Errorf("default: %s objects of %d bytes take %d in the pack, want them stored", typ, s[0], s[1])
		}
	}
	if s := packedSizes(t, "core.compression", "1")["commit"]; isStored(s[0], s[1]) {
		t.Errorf("core.compression 1: commit objects of %d bytes take %d in the pack, want them deflated", s[0], s[1])
	}
	stored := packedSizes(t, "core.compression", "0")
	for _, typ := range []string{"blob", "tree", "commit"} {
		if s := stored[typ]; !isStored(s[0], s[1]) {
			t.Errorf("core.compression 0: %s objects of %d bytes take %d in the pack, want them stored", typ, s[0], s[1])
		}
	}
	// (A deflater stores what would not shrink, as the few bytes of a
	// small tree: only the blob's compression is certain.)
	if b := packedSizes(t, "core.compression", "0", "pack.compression", "9")["blob"]; isStored(b[0], b[1]) {
		t.Errorf("pack.compression 9 over core.compression 0: blob of %d bytes takes %d, want it deflated", b[0], b[1])
	}

	if b := packedSizes(t, "core.compression", "0x9")["blob"]; isStored(b[0], b[1]) {
		t.Errorf("core.compression 0x9 (git reads it as 9): blob of %d bytes takes %d, want it deflated", b[0], b[1])
	}

	// What git would stop at stops a commit before anything is written.
	for _, bad := range [][]string{
		{"core.compression", "11"},
		{"core.compression", ""},
		{"pack.compression", "fast"},
		{"pack.compression", "1", "core.compression", "-2"},
	} {
		dir := filepath.Join(t.TempDir(), "repo")
		gitcli.Run(t, filepath.Dir(dir), "init", "-q", dir)
		for i := 0; i+1 < len(bad); i += 2 {
			gitcli.Run(t, dir, "config", bad[i], bad[i+1])
		}
		key := bad[len(bad)-2]
		r, err := Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		signer, _ := sshSigner(t, "CODE", 3)
		_, err = r.Apply(context.Background(), &Change{Subject: "s", Files: []File{{Path: "a", Data: []byte("a")}},
			Author: Person{"CODE", "code@x"}, When: time.Unix(1767225600, 0), Signer: signer})
		if err == nil || !fault.IsInput(err) || !strings.Contains(err.Error(), key) {
			t.Errorf("%v: %v, want an input error naming %s", bad, err, key)
		}
		if _, err := r.Head(); err == nil {
			t.Errorf("%v: a commit was written", bad)
		}
		if _, err := r.Lock(context.Background()); err == nil || !fault.IsInput(err) || !strings.Contains(err.Error(), key) {
			t.Errorf("%v: Lock: %v, want the writer stopped before it works, with an input error naming %s", bad, err, key)
		}
		r.Close()
	}
}
