package ledger

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/storer"
)

// recentCommits bounds the in-process overlay: the objects of this many of
// the latest commits written by this process stay in memory.
const recentCommits = 64

// remember keeps a written commit's objects readable without asking go-git,
// whose pack index only knows the packs that existed when it was loaded.
func (r *Repo) remember(p *pending) {
	if r.recent == nil {
		r.recent = map[plumbing.Hash]*plumbing.MemoryObject{}
	}
	hs := make([]plumbing.Hash, 0, len(p.objs))
	for _, o := range p.objs {
		h := o.Hash()
		r.recent[h] = o
		hs = append(hs, h)
	}
	r.recentOrder = append(r.recentOrder, hs)
	if len(r.recentOrder) > recentCommits {
		for _, h := range r.recentOrder[0] {
			delete(r.recent, h)
		}
		r.recentOrder = r.recentOrder[1:]
	}
}

// refresh makes go-git rescan packs on its next lookup and drops the
// descriptors of packs that may have been removed.
func (r *Repo) refresh() {
	r.storage.Reindex()
	r.storage.ObjectStorage.Close()
}

// Objects returns the repository's object store as go-git's object
// functions want it: objects written by this process come from memory, and
// a lookup that misses (a pack written since the index was loaded, or a
// pack merged away) rescans the packs once before giving up.
func (r *Repo) Objects() storer.EncodedObjectStorer { return objects{r} }

type objects struct{ r *Repo }

func (o objects) EncodedObject(t plumbing.ObjectType, h plumbing.Hash) (plumbing.EncodedObject, error) {
	if m, ok := o.r.recent[h]; ok && (t == plumbing.AnyObject || m.Type() == t) {
		return m, nil
	}
	typ, data, err := o.r.odb.read(h, nil)
	switch {
	case err == nil && t != plumbing.AnyObject && typ != t:
		return nil, plumbing.ErrObjectNotFound
	case err == nil:
		return &readObject{h: h, t: typ, data: data}, nil
	case !errors.Is(err, plumbing.ErrObjectNotFound):
		return nil, fmt.Errorf("object %s: %w", h, err) // corrupt: go-git would fare no better
	}
	if o.r.odb.complete() {
		return nil, err
	}
	return o.r.goGitObject(t, h)
}

// goGitObject asks go-git for what the odb did not find: objects in an
// alternate store or in an index version the odb does not read. A miss
// refreshes go-git's view of the packs and asks once more.
func (r *Repo) goGitObject(t plumbing.ObjectType, h plumbing.Hash) (plumbing.EncodedObject, error) {
	obj, err := r.storage.EncodedObject(t, h)
	if err == nil {
		return obj, nil
	}
	r.refresh()
	obj, err2 := r.storage.EncodedObject(t, h)
	if err2 != nil {
		if errors.Is(err2, plumbing.ErrObjectNotFound) {
			return nil, err2
		}
		return nil, err
	}
	return obj, nil
}

func (o objects) NewEncodedObject() plumbing.EncodedObject { return &plumbing.MemoryObject{} }

func (o objects) SetEncodedObject(obj plumbing.EncodedObject) (plumbing.Hash, error) {
	return o.r.storage.SetEncodedObject(obj)
}

func (o objects) IterEncodedObjects(t plumbing.ObjectType) (storer.EncodedObjectIter, error) {
	return o.r.storage.IterEncodedObjects(t)
}

func (o objects) HasEncodedObject(h plumbing.Hash) error {
	if _, ok := o.r.recent[h]; ok || o.r.odb.has(h) {
		return nil
	}
	if o.r.odb.complete() {
		return plumbing.ErrObjectNotFound
	}
	if err := o.r.storage.HasEncodedObject(h); err == nil {
		return nil
	}
	o.r.refresh()
	return o.r.storage.HasEncodedObject(h)
}

func (o objects) EncodedObjectSize(h plumbing.Hash) (int64, error) {
	if m, ok := o.r.recent[h]; ok {
		return m.Size(), nil
	}
	obj, err := o.EncodedObject(plumbing.AnyObject, h)
	if err != nil {
		return 0, err
	}
	return obj.Size(), nil
}

func (o objects) AddAlternate(remote string) error { return o.r.storage.AddAlternate(remote) }

// readObject is an object read by the odb. Unlike a MemoryObject it knows
// its hash, so go-git's decoders don't recompute a SHA-1 (with collision
// detection) of every object they are handed.
type readObject struct {
	h    plumbing.Hash
	t    plumbing.ObjectType
	data []byte
}

func (o *readObject) Hash() plumbing.Hash           { return o.h }
func (o *readObject) Type() plumbing.ObjectType     { return o.t }
func (o *readObject) SetType(t plumbing.ObjectType) { o.t = t }
func (o *readObject) Size() int64                   { return int64(len(o.data)) }
func (o *readObject) SetSize(int64)                 {}
func (o *readObject) Reader() (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(o.data)), nil
}
func (o *readObject) Writer() (io.WriteCloser, error) { return nil, errReadOnly }

var errReadOnly = errors.New("object read from the object store is read-only")
