package freeze

import (
	"context"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/vision-ios/vios/internal/ledger"
	"github.com/vision-ios/vios/internal/signing"
	"github.com/vision-ios/vios/internal/testutil"
)

// fixture is an initialised governance repository (tagged baseline/v1.0)
// that tests change with plain, unsigned commits: the freeze check reads
// trees, not signatures.
type fixture struct {
	t       testing.TB
	dir     string
	signers map[string]*signing.Signer
	when    time.Time
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	s := testutil.Signers(t, "freeze")
	return &fixture{t: t, dir: testutil.InitRepo(t, s), signers: s, when: testutil.Epoch.Add(time.Hour)}
}

func (f *fixture) open() *ledger.Repo {
	f.t.Helper()
	return testutil.OpenRepo(f.t, f.dir)
}

// commit writes one commit on main: files maps a path to its new content,
// or to nil to delete it.
func (f *fixture) commit(msg string, files map[string]*string) plumbing.Hash {
	f.t.Helper()
	r := f.open()
	head, err := r.Head()
	if err != nil {
		f.t.Fatal(err)
	}
	hc, err := r.Commit(head)
	if err != nil {
		f.t.Fatal(err)
	}
	flat := map[string]plumbing.Hash{}
	if err := flatten(r, hc.TreeHash, "", flat); err != nil {
		f.t.Fatal(err)
	}
	st := r.Git.Storer
	for p, data := range files {
		if data == nil {
			delete(flat, p)
			continue
		}
		obj := st.NewEncodedObject()
		obj.SetType(plumbing.BlobObject)
		w, _ := obj.Writer()
		w.Write([]byte(*data))
		w.Close()
		h, err := st.SetEncodedObject(obj)
		if err != nil {
			f.t.Fatal(err)
		}
		flat[p] = h
	}
	tree, err := build(r, flat)
	if err != nil {
		f.t.Fatal(err)
	}
	f.when = f.when.Add(time.Minute)
	sig := object.Signature{Name: "x", Email: "x@y", When: f.when}
	c := &object.Commit{Author: sig, Committer: sig, Message: msg + "\n", TreeHash: tree, ParentHashes: []plumbing.Hash{head}}
	obj := st.NewEncodedObject()
	if err := c.Encode(obj); err != nil {
		f.t.Fatal(err)
	}
	h, err := st.SetEncodedObject(obj)
	if err != nil {
		f.t.Fatal(err)
	}
	if err := st.SetReference(plumbing.NewHashReference(plumbing.NewBranchReferenceName("main"), h)); err != nil {
		f.t.Fatal(err)
	}
	return h
}

func flatten(r *ledger.Repo, t plumbing.Hash, dir string, out map[string]plumbing.Hash) error {
	tree, err := object.GetTree(r.Objects(), t)
	if err != nil {
		return err
	}
	for _, e := range tree.Entries {
		p := join(dir, e.Name)
		if e.Mode == filemode.Dir {
			if err := flatten(r, e.Hash, p, out); err != nil {
				return err
			}
			continue
		}
		out[p] = e.Hash
	}
	return nil
}

func build(r *ledger.Repo, files map[string]plumbing.Hash) (plumbing.Hash, error) {
	var entries []object.TreeEntry
	subs := map[string]map[string]plumbing.Hash{}
	for p, h := range files {
		if dir, rest, ok := strings.Cut(p, "/"); ok {
			if subs[dir] == nil {
				subs[dir] = map[string]plumbing.Hash{}
			}
			subs[dir][rest] = h
		} else {
			entries = append(entries, object.TreeEntry{Name: p, Mode: filemode.Regular, Hash: h})
		}
	}
	for dir, m := range subs {
		h, err := build(r, m)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		entries = append(entries, object.TreeEntry{Name: dir, Mode: filemode.Dir, Hash: h})
	}
	key := func(e object.TreeEntry) string {
		if e.Mode == filemode.Dir {
			return e.Name + "/"
		}
		return e.Name
	}
	sort.Slice(entries, func(i, j int) bool { return key(entries[i]) < key(entries[j]) })
	obj := r.Git.Storer.NewEncodedObject()
	if err := (&object.Tree{Entries: entries}).Encode(obj); err != nil {
		return plumbing.ZeroHash, err
	}
	return r.Git.Storer.SetEncodedObject(obj)
}

// read returns a file at HEAD.
func (f *fixture) read(p string) string {
	f.t.Helper()
	data, err := f.open().HeadFile(p)
	if err != nil {
		f.t.Fatal(err)
	}
	return string(data)
}

func (f *fixture) check(opt Options) (*Report, error) {
	f.t.Helper()
	return Check(context.Background(), f.open(), opt)
}

func (f *fixture) mustCheck(opt Options) *Report {
	f.t.Helper()
	rep, err := f.check(opt)
	if err != nil {
		f.t.Fatalf("check: %v", err)
	}
	return rep
}

func str(s string) *string { return &s }

// violations renders a report's violations as "change path [category]".
func violations(rep *Report) []string {
	out := []string{}
	for _, v := range rep.Violations {
		out = append(out, string(v.Change)+" "+v.Path+" ["+v.Label+"]")
	}
	return out
}

const logPath = "05_GOVERNANCE/SIGNATURE_AUDIT_LOGS/2026/11/01/SIGNATURE_LOG_CYCLE_0123456789abcdef.json"
