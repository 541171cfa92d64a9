package ledger

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"path"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
)

// TreeFS is a read-only fs.FS over a directory of a committed tree, so that
// policies are read from what the repository holds at a commit, never from
// uncommitted edits in the worktree.
type TreeFS struct {
	r    *Repo
	tree plumbing.Hash
	dir  string
}

// FS returns the files below dir in the tree of commit h.
func (r *Repo) FS(h plumbing.Hash, dir string) (*TreeFS, error) {
	c, err := r.Commit(h)
	if err != nil {
		return nil, err
	}
	return &TreeFS{r: r, tree: c.TreeHash, dir: dir}, nil
}

// ReadFile implements fs.ReadFileFS.
func (t *TreeFS) ReadFile(name string) ([]byte, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "read", Path: name, Err: fs.ErrInvalid}
	}
	data, err := t.r.ReadTreeFile(t.tree, path.Join(t.dir, name))
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, &fs.PathError{Op: "read", Path: name, Err: fs.ErrNotExist}
		}
		return nil, &fs.PathError{Op: "read", Path: name, Err: err}
	}
	return data, nil
}

// Open implements fs.FS for regular files.
func (t *TreeFS) Open(name string) (fs.File, error) {
	data, err := t.ReadFile(name)
	if err != nil {
		return nil, err
	}
	return &memFile{name: path.Base(name), Reader: bytes.NewReader(data), size: int64(len(data))}, nil
}

type memFile struct {
	*bytes.Reader
	name string
	size int64
}

func (f *memFile) Stat() (fs.FileInfo, error) { return f, nil }
func (f *memFile) Close() error               { return nil }
func (f *memFile) Name() string               { return f.name }
func (f *memFile) Size() int64                { return f.size }
func (f *memFile) Mode() fs.FileMode          { return 0o444 }
func (f *memFile) ModTime() time.Time         { return time.Time{} }
func (f *memFile) IsDir() bool                { return false }
func (f *memFile) Sys() any                   { return nil }

var _ io.Reader = (*memFile)(nil)
