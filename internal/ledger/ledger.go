// Package ledger is the git-native audit trail: it opens governance
// repositories with go-git, commits artifacts by writing blobs, trees and a
// signed commit straight through the object store (no worktree scan, so a
// commit costs the same at the ten-thousandth cycle as at the first), moves
// the branch atomically, and keeps a worktree and its index in step.
package ledger

import (
	"cmp"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/go-git/go-billy/v5/osfs"
	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/filesystem"

	"github.com/vision-ios/vios/internal/fault"
	"github.com/vision-ios/vios/internal/layout"
	"github.com/vision-ios/vios/internal/signing"
)

// DefaultBranch is the branch a new governance repository starts on.
const DefaultBranch = "main"

// Errors callers branch on.
var (
	ErrNotRepo    = errors.New("not a git repository")
	ErrNoCommits  = errors.New("repository has no commits")
	ErrMoved      = errors.New("branch moved concurrently")
	ErrNotFound   = errors.New("file not found")
	ErrLockTaken  = errors.New("repository is locked by another vios process")
	errDirIsEntry = errors.New("path crosses a file")
)

// Repo is an open governance repository.
type Repo struct {
	Git     *git.Repository
	storage *filesystem.Storage
	odb     *odb
	gitDir  string
	root    string // worktree root; "" when bare

	recent      map[plumbing.Hash]*plumbing.MemoryObject
	recentOrder [][]plumbing.Hash
	unmergeable []string
	packSizes   map[string]int64       // pack base name → size, for maintain
	written     map[string]writtenPack // level-0 packs this Repo wrote, by base name, for merge
	merging     *mergeJob              // the merge running in the background, if any
	maintErr    error                  // a merge's failure found by Lock's unlock, for the next commit or Close
	mergeDueIn  int                    // commits before a level-0 merge can be due (see maintainAfterCommit)
	levels      *levels                // zlib levels of written objects, once read (see compression)
}

// Open opens the repository at dir (a worktree root or a bare repository)
// with pack descriptors kept open across reads.
func Open(dir string) (*Repo, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fault.Inputf("repo %s: %v", dir, err)
	}
	gitDir, root := filepath.Join(abs, ".git"), abs
	if fi, err := os.Stat(gitDir); err != nil || !fi.IsDir() {
		if !isBare(abs) {
			return nil, fault.Input(fmt.Errorf("repo %s: %w", dir, ErrNotRepo))
		}
		gitDir, root = abs, ""
	}
	st := filesystem.NewStorageWithOptions(osfs.New(gitDir, osfs.WithBoundOS()), cache.NewObjectLRUDefault(), filesystem.Options{KeepDescriptors: true})
	var repo *git.Repository
	if root != "" {
		repo, err = git.Open(st, osfs.New(root, osfs.WithBoundOS()))
	} else {
		repo, err = git.Open(st, nil)
	}
	if err != nil {
		st.Close()
		return nil, fault.Input(fmt.Errorf("repo %s: %w", dir, err))
	}
	return &Repo{Git: repo, storage: st, odb: newODB(gitDir), gitDir: gitDir, root: root}, nil
}

func isBare(dir string) bool {
	for _, p := range []string{"HEAD", "objects", "refs"} {
		if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
			return false
		}
	}
	return true
}

// Init creates a repository at dir on branch main, or opens an existing
// repository that has no commits yet.
func Init(dir string) (*Repo, error) {
	if r, err := Open(dir); err == nil {
		if _, err := r.Head(); err == nil {
			r.Close()
			return nil, fault.Inputf("repo %s: already has commits", dir)
		}
		return r, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("init %s: %w", dir, err)
	}
	_, err := git.PlainInitWithOptions(dir, &git.PlainInitOptions{
		InitOptions: git.InitOptions{DefaultBranch: plumbing.NewBranchReferenceName(DefaultBranch)},
	})
	if err != nil {
		return nil, fmt.Errorf("init %s: %w", dir, err)
	}
	return Open(dir)
}

// InitBare creates a bare repository at dir on branch main, the shape a
// server or CI runner holds.
func InitBare(dir string) (*Repo, error) {
	_, err := git.PlainInitWithOptions(dir, &git.PlainInitOptions{
		Bare:        true,
		InitOptions: git.InitOptions{DefaultBranch: plumbing.NewBranchReferenceName(DefaultBranch)},
	})
	if err != nil {
		return nil, fmt.Errorf("init %s: %w", dir, err)
	}
	return Open(dir)
}

// Close waits for a merge running in the background and completes it,
// then releases the kept pack descriptors. It reports a merge that
// failed, which loses nothing: the objects stay in the packs they are in.
func (r *Repo) Close() error {
	err := cmp.Or(r.finishMerge(), r.maintErr)
	r.maintErr = nil
	r.odb.close()
	return cmp.Or(err, r.storage.Close())
}

// GitDir is the repository's git directory.
func (r *Repo) GitDir() string { return r.gitDir }

// Root is the worktree root, or "" for a bare repository.
func (r *Repo) Root() string { return r.root }

// Branch returns the reference HEAD points to (refs/heads/main).
func (r *Repo) Branch() (plumbing.ReferenceName, error) {
	ref, err := r.reference(plumbing.HEAD)
	if err != nil {
		return "", fmt.Errorf("read HEAD: %w", err)
	}
	if ref.Type() != plumbing.SymbolicReference {
		return "", errors.New("HEAD is detached; check out a branch")
	}
	return ref.Target(), nil
}

// Head returns the commit HEAD resolves to.
func (r *Repo) Head() (plumbing.Hash, error) {
	br, err := r.Branch()
	if err != nil {
		return plumbing.ZeroHash, err
	}
	ref, err := r.reference(br)
	if errors.Is(err, plumbing.ErrReferenceNotFound) {
		return plumbing.ZeroHash, ErrNoCommits
	}
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("read %s: %w", br, err)
	}
	return ref.Hash(), nil
}

// reference reads a reference without resolving it. A loose reference of
// the usual form (a regular file holding a hash, or "ref: " and a name, on
// one line) is read straight from its file: go-git's storage would stat every directory on
// the way, twice, and a commit reads its branch three times. Anything else
// (a packed reference, a name outside refs/, an unusual file) is go-git's
// to read.
func (r *Repo) reference(name plumbing.ReferenceName) (*plumbing.Reference, error) {
	n := string(name)
	if n == "HEAD" || strings.HasPrefix(n, "refs/") && !strings.Contains(n, "..") && !strings.ContainsAny(n, "\\:\x00") {
		p := filepath.Join(r.gitDir, filepath.FromSlash(n))
		// A symbolic link is go-git's to follow or refuse (it refuses one
		// that leaves the repository).
		data, err := readRegular(p)
		if err == nil && len(data) > 0 && data[len(data)-1] == '\n' {
			line := string(data[:len(data)-1])
			if target, ok := strings.CutPrefix(line, "ref: "); ok && strings.HasPrefix(target, "refs/") && !strings.ContainsAny(target, " \t\n") {
				return plumbing.NewSymbolicReference(name, plumbing.ReferenceName(target)), nil
			}
			if _, err := hex.DecodeString(line); err == nil && len(line) == 40 {
				return plumbing.NewHashReference(name, plumbing.NewHash(line)), nil
			}
		}
	}
	return r.storage.Reference(name)
}

// Commit returns a commit object.
func (r *Repo) Commit(h plumbing.Hash) (*object.Commit, error) {
	return object.GetCommit(r.Objects(), h)
}

// DecodeCommit decodes data, the content of commit h already read (with
// ReadObject), without reading it again.
func (r *Repo) DecodeCommit(h plumbing.Hash, data []byte) (*object.Commit, error) {
	return object.DecodeCommit(r.Objects(), &readObject{h: h, t: plumbing.CommitObject, data: data})
}

// ReadFile reads path from the tree of commit h.
func (r *Repo) ReadFile(h plumbing.Hash, path string) ([]byte, error) {
	c, err := r.Commit(h)
	if err != nil {
		return nil, err
	}
	return r.ReadTreeFile(c.TreeHash, path)
}

// ReadTreeFile reads path below tree t.
func (r *Repo) ReadTreeFile(t plumbing.Hash, path string) ([]byte, error) {
	bh, err := r.Lookup(t, path)
	if err != nil {
		return nil, err
	}
	return r.ReadBlob(bh)
}

// Lookup resolves path below tree t to its blob (or tree) hash.
func (r *Repo) Lookup(t plumbing.Hash, path string) (plumbing.Hash, error) {
	cur := t
	segs := strings.Split(path, "/")
	for i, seg := range segs {
		entries, err := r.ReadTree(cur)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		found := false
		for _, e := range entries {
			if e.Name == seg {
				if i < len(segs)-1 && e.Mode != filemode.Dir {
					return plumbing.ZeroHash, fmt.Errorf("%s: %w", path, ErrNotFound)
				}
				cur, found = e.Hash, true
				break
			}
		}
		if !found {
			return plumbing.ZeroHash, fmt.Errorf("%s: %w", path, ErrNotFound)
		}
	}
	return cur, nil
}

// ReadObject returns object h's type and content, read into buf's storage
// when it is large enough: the result may alias buf and nothing else, so a
// caller that reads many objects can hand the same buffer back. Objects
// come from memory-mapped packs (see odb); what those do not hold (an
// alternate object store) from go-git.
func (r *Repo) ReadObject(h plumbing.Hash, buf []byte) (plumbing.ObjectType, []byte, error) {
	if m, ok := r.recent[h]; ok {
		data, err := readAll(m)
		return m.Type(), data, err
	}
	t, data, err := r.odb.read(h, buf)
	if err == nil || !errors.Is(err, plumbing.ErrObjectNotFound) || r.odb.complete() {
		return t, data, err
	}
	obj, err := r.goGitObject(plumbing.AnyObject, h)
	if err != nil {
		return plumbing.InvalidObject, nil, err
	}
	data, err = readAll(obj)
	return obj.Type(), data, err
}

// ReadTyped is ReadObject of an object that must be of type want: one of
// another type is an error wrapping plumbing.ErrObjectNotFound. The content
// read is returned even then, so that a caller handing the same buffer back
// from read to read keeps it; nil when nothing could be read.
func (r *Repo) ReadTyped(h plumbing.Hash, want plumbing.ObjectType, buf []byte) ([]byte, error) {
	t, data, err := r.ReadObject(h, buf)
	switch {
	case err != nil:
		return nil, fmt.Errorf("%s %s: %w", want, h, err)
	case t != want:
		return data, fmt.Errorf("object %s is a %s, not a %s: %w", h, t, want, plumbing.ErrObjectNotFound)
	}
	return data, nil
}

// ReadBlob returns a blob's content; the caller owns the slice.
func (r *Repo) ReadBlob(h plumbing.Hash) ([]byte, error) {
	data, err := r.ReadTyped(h, plumbing.BlobObject, nil)
	if err != nil {
		return nil, err
	}
	return data, nil
}

// HeadFile reads path at HEAD.
func (r *Repo) HeadFile(path string) ([]byte, error) {
	h, err := r.Head()
	if err != nil {
		return nil, err
	}
	return r.ReadFile(h, path)
}

// File is one file of an artifact commit.
type File struct {
	Path string
	Data []byte
}

// Person names the author and committer of a commit.
type Person struct {
	Name  string
	Email string
}

// Change is one signed artifact commit.
type Change struct {
	Subject  string
	Body     string
	Trailers [][2]string // in order: {"Vios-Artifact", "signature_log"}
	Files    []File
	Author   Person
	When     time.Time
	Signer   *signing.SSHSigner
	// Parent is the commit the change must land on (zero: the repository's
	// first commit). A branch that moved meanwhile fails with ErrMoved.
	Parent plumbing.Hash
}

// Message renders subject, body and trailers.
func (c *Change) Message() string {
	var b strings.Builder
	b.WriteString(c.Subject)
	b.WriteString("\n")
	if c.Body != "" {
		b.WriteString("\n")
		b.WriteString(strings.TrimRight(c.Body, "\n"))
		b.WriteString("\n")
	}
	if len(c.Trailers) > 0 {
		b.WriteString("\n")
		for _, t := range c.Trailers {
			fmt.Fprintf(&b, "%s: %s\n", t[0], t[1])
		}
	}
	return b.String()
}

// Apply writes the change as one signed commit and moves the branch to it.
// Objects are written first, the branch last and atomically (write and
// rename), so a crash leaves the repository before or after the commit.
func (r *Repo) Apply(ctx context.Context, c *Change) (plumbing.Hash, error) {
	if err := ctx.Err(); err != nil {
		return plumbing.ZeroHash, err
	}
	if c.Signer == nil {
		return plumbing.ZeroHash, errors.New("commit: no signer")
	}
	br, err := r.Branch()
	if err != nil {
		return plumbing.ZeroHash, err
	}
	return r.apply(ctx, br, c, true)
}

// ApplyTo writes the change as one signed commit on branch (a full name,
// refs/heads/...), which need not be checked out: c.Parent must be the
// branch's current tip, exactly as Apply wants it for HEAD's branch. The
// worktree and index are updated only when branch is the one HEAD points to.
func (r *Repo) ApplyTo(ctx context.Context, branch plumbing.ReferenceName, c *Change) (plumbing.Hash, error) {
	if err := ctx.Err(); err != nil {
		return plumbing.ZeroHash, err
	}
	if c.Signer == nil {
		return plumbing.ZeroHash, errors.New("commit: no signer")
	}
	if !branch.IsBranch() {
		return plumbing.ZeroHash, fault.Inputf("commit: %q is not a branch (want refs/heads/...)", branch)
	}
	if err := layout.SafeRelPath(branch.String()); err != nil {
		return plumbing.ZeroHash, fault.Inputf("commit: branch %q: %v", branch, err)
	}
	checkedOut := false
	if cur, err := r.Branch(); err == nil && cur == branch {
		checkedOut = true
	}
	return r.apply(ctx, branch, c, checkedOut)
}

// tip returns the commit branch points to, or ErrNoCommits when it does
// not exist yet.
func (r *Repo) tip(br plumbing.ReferenceName) (plumbing.Hash, error) {
	ref, err := r.reference(br)
	if errors.Is(err, plumbing.ErrReferenceNotFound) {
		return plumbing.ZeroHash, ErrNoCommits
	}
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("read %s: %w", br, err)
	}
	return ref.Hash(), nil
}

// apply commits c on branch br; checkedOut says whether HEAD points to br.
func (r *Repo) apply(ctx context.Context, br plumbing.ReferenceName, c *Change, checkedOut bool) (plumbing.Hash, error) {
	head, err := r.tip(br)
	if err != nil && !errors.Is(err, ErrNoCommits) {
		return plumbing.ZeroHash, err
	}
	if head != c.Parent {
		return plumbing.ZeroHash, fmt.Errorf("%w: %s is at %s, expected %s", ErrMoved, br.Short(), short(head), short(c.Parent))
	}
	var baseTree plumbing.Hash
	if !c.Parent.IsZero() {
		// Only the tree is wanted: the header parser, not a full decoding
		// of the commit and its signature.
		data, err := r.ReadTyped(c.Parent, plumbing.CommitObject, nil)
		var hd *CommitHeader
		if err == nil {
			hd, err = ParseCommitHeader(data)
		}
		if err != nil {
			return plumbing.ZeroHash, fmt.Errorf("read parent: %w", err)
		}
		baseTree = hd.TreeHash
	}
	p := newPending()
	changes := make(map[string]plumbing.Hash, len(c.Files))
	for _, f := range c.Files {
		if err := layout.SafeRelPath(f.Path); err != nil {
			return plumbing.ZeroHash, fault.Input(err)
		}
		changes[f.Path] = p.add(blob(f.Data))
	}
	tree, err := r.updateTree(p, baseTree, changes)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	sig := object.Signature{Name: c.Author.Name, Email: c.Author.Email, When: c.When}
	commit := &object.Commit{
		Author:    sig,
		Committer: sig,
		Message:   c.Message(),
		TreeHash:  tree,
	}
	if !c.Parent.IsZero() {
		commit.ParentHashes = []plumbing.Hash{c.Parent}
	}
	if commit.PGPSignature, err = sshSign(commit.EncodeWithoutSignature, c.Signer); err != nil {
		return plumbing.ZeroHash, err
	}
	obj := &plumbing.MemoryObject{}
	if err := commit.Encode(obj); err != nil {
		return plumbing.ZeroHash, err
	}
	h := p.add(obj)
	if err := r.writePack(p); err != nil {
		return plumbing.ZeroHash, err
	}
	r.remember(p)
	if err := r.setRef(br, c.Parent, h); err != nil {
		return plumbing.ZeroHash, err
	}
	if err := r.maintainAfterCommit(); err != nil {
		return h, fmt.Errorf("commit %s landed; pack maintenance failed: %w", short(h), err)
	}
	if r.root != "" && checkedOut {
		if err := r.syncWorktree(c.Files, changes); err != nil {
			return h, fmt.Errorf("commit %s landed; updating the worktree failed: %w", short(h), err)
		}
	}
	return h, nil
}

func short(h plumbing.Hash) string {
	if h.IsZero() {
		return "(no commit)"
	}
	return h.String()[:12]
}

// sshSign encodes a commit or tag without its signature and returns git's
// armored SSH signature over those bytes.
func sshSign(encodeUnsigned func(plumbing.EncodedObject) error, s *signing.SSHSigner) (string, error) {
	unsigned := &plumbing.MemoryObject{}
	if err := encodeUnsigned(unsigned); err != nil {
		return "", err
	}
	payload, err := readAll(unsigned)
	if err != nil {
		return "", err
	}
	armored, err := s.SignGit(payload)
	if err != nil {
		return "", err
	}
	return string(armored), nil
}

func readAll(o plumbing.EncodedObject) ([]byte, error) {
	rd, err := o.Reader()
	if err != nil {
		return nil, err
	}
	defer rd.Close()
	return io.ReadAll(rd)
}

func blob(data []byte) *plumbing.MemoryObject {
	obj := &plumbing.MemoryObject{}
	obj.SetType(plumbing.BlobObject)
	obj.Write(data)
	return obj
}

// updateTree returns the hash of base with the given files (paths relative
// to base) added or replaced. Only the trees on changed paths are written.
func (r *Repo) updateTree(p *pending, base plumbing.Hash, files map[string]plumbing.Hash) (plumbing.Hash, error) {
	var entries []object.TreeEntry
	if !base.IsZero() {
		var err error
		if entries, err = r.ReadTree(base); err != nil {
			return plumbing.ZeroHash, fmt.Errorf("read tree %s: %w", short(base), err)
		}
	}
	direct := map[string]plumbing.Hash{}
	sub := map[string]map[string]plumbing.Hash{}
	for p, h := range files {
		if dir, rest, ok := strings.Cut(p, "/"); ok {
			if sub[dir] == nil {
				sub[dir] = map[string]plumbing.Hash{}
			}
			sub[dir][rest] = h
		} else {
			direct[p] = h
		}
	}
	index := make(map[string]int, len(entries))
	for i, e := range entries {
		index[e.Name] = i
	}
	for name, h := range direct {
		if i, ok := index[name]; ok {
			if entries[i].Mode == filemode.Dir {
				return plumbing.ZeroHash, fmt.Errorf("%s: %w", name, errDirIsEntry)
			}
			entries[i].Hash = h
			continue
		}
		index[name] = len(entries)
		entries = append(entries, object.TreeEntry{Name: name, Mode: filemode.Regular, Hash: h})
	}
	for name, inner := range sub {
		var subBase plumbing.Hash
		i, ok := index[name]
		if ok {
			if entries[i].Mode != filemode.Dir {
				return plumbing.ZeroHash, fmt.Errorf("%s: %w", name, errDirIsEntry)
			}
			subBase = entries[i].Hash
		}
		h, err := r.updateTree(p, subBase, inner)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		if ok {
			entries[i].Hash = h
		} else {
			index[name] = len(entries)
			entries = append(entries, object.TreeEntry{Name: name, Mode: filemode.Dir, Hash: h})
		}
	}
	sortEntries(entries)
	obj := &plumbing.MemoryObject{}
	if err := (&object.Tree{Entries: entries}).Encode(obj); err != nil {
		return plumbing.ZeroHash, err
	}
	return p.add(obj), nil
}

// sortEntries orders tree entries as git does: by name, a directory
// compared as if its name ended in "/".
func sortEntries(e []object.TreeEntry) {
	slices.SortFunc(e, func(a, b object.TreeEntry) int {
		return TreeOrder(a.Name, a.Mode == filemode.Dir, b.Name, b.Mode == filemode.Dir)
	})
}

// setRef moves branch from old to new the way git does: write a lock file,
// check the current value, rename into place. A crash leaves the old value.
func (r *Repo) setRef(br plumbing.ReferenceName, old, new plumbing.Hash) error {
	return r.lockedRefWrite(br, new, func() (bool, error) {
		cur, err := r.tip(br)
		if err != nil && !errors.Is(err, ErrNoCommits) {
			return false, err
		}
		if cur != old {
			return false, fmt.Errorf("%w: %s is at %s, expected %s", ErrMoved, br.Short(), short(cur), short(old))
		}
		return true, nil
	})
}

// lockedRefWrite changes a loose reference the way git does: it creates
// name.lock exclusively, runs check while holding it (check compares the
// current value and says whether to proceed), then renames the new value
// into place — or, for a zero new value, deletes the reference. A crash
// leaves the old value. No fsync: the rename is atomic, so a killed process
// leaves the old or the new value; durability across power loss is the
// filesystem's, as for git itself with its default core.fsync.
func (r *Repo) lockedRefWrite(name plumbing.ReferenceName, new plumbing.Hash, check func() (proceed bool, err error)) error {
	p := filepath.Join(r.gitDir, filepath.FromSlash(name.String()))
	lock := p + ".lock"
	f, err := createNew(lock, 0o644)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("%w: %s exists (remove it if no git process is running)", ErrMoved, lock)
		}
		return err
	}
	renamed := false
	defer func() {
		if !renamed {
			os.Remove(lock)
		}
	}()
	proceed, err := check()
	if err != nil || !proceed {
		f.Close()
		return err
	}
	if new.IsZero() {
		f.Close()
		// Removes the loose file and any packed-refs entry.
		if err := r.storage.RemoveReference(name); err != nil {
			return fmt.Errorf("delete %s: %w", name, err)
		}
		return nil
	}
	if _, err := f.WriteString(new.String() + "\n"); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := rename(lock, p); err != nil {
		return err
	}
	renamed = true
	return nil
}

// Lock takes the repository's vios lock (flock on .git/vios.lock), waiting
// until ctx is done. Every committing command holds it from reading HEAD to
// moving the branch, so concurrent processes serialise instead of racing.
// Under a context from Hold it is a no-op. Having taken the lock, it repairs
// what a killed process may have left: ref lock files (see StaleRefLockAge)
// and a worktree or index behind the branch.
func (r *Repo) Lock(ctx context.Context) (unlock func(), err error) {
	if holds(ctx, r) { // the caller's Hold already owns it
		return func() {}, nil
	}
	f, err := os.OpenFile(filepath.Join(r.gitDir, "vios.lock"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock: %w", err)
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			// A compression level git would refuse stops a writer here,
			// before it does any work (a cycle may pay for a summary),
			// not when it comes to write.
			if _, err := r.compression(); err != nil {
				syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
				f.Close()
				return nil, err
			}
			if err := r.recoverFromCrash(ctx); err != nil {
				syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
				f.Close()
				return nil, err
			}
			return func() {
				// Maintenance runs under the lock: a merge started by the
				// last commit completes before the lock is released.
				if err := r.finishMerge(); err != nil {
					r.maintErr = cmp.Or(r.maintErr, err)
				}
				syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
				f.Close()
			}, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("lock: %w", err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("%w: %v", ErrLockTaken, ctx.Err())
		case <-time.After(2 * time.Millisecond):
		}
	}
}
