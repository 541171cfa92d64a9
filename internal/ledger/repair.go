package ledger

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/format/index"
)

// repairWorktree brings the worktree and index back in line with the
// branch after a process was killed between moving the branch and writing
// them (Apply and Reset move the branch first, then write the files, then
// the index, then record the commit they reflect in .git/vios-worktree).
// Such a kill shows as a record that is not HEAD; only then is the whole
// tree compared with the index, and every file whose index entry is
// missing or stale is written (when its content is stale) and indexed
// again; a file a person edited is left alone. Temporary files the kill
// left in the worktree are removed on the way. A repository without the
// record (made before it existed) is left alone.
func (r *Repo) repairWorktree() error {
	if r.root == "" {
		return nil
	}
	rec, err := os.ReadFile(filepath.Join(r.gitDir, syncedFile))
	if err != nil {
		return nil
	}
	head, err := r.Head()
	if err != nil || strings.TrimSpace(string(rec)) == head.String() {
		return nil
	}
	c, err := r.Commit(head)
	if err != nil {
		return fmt.Errorf("repair worktree: %w", err)
	}
	idx, err := r.storage.Index()
	if err != nil {
		idx = &index.Index{Version: 2} // missing or torn: rebuilt from HEAD
	}
	pos := make(map[string]int, len(idx.Entries))
	for i, e := range idx.Entries {
		pos[e.Name] = i
	}
	var walk func(t plumbing.Hash, dir string) error
	walk = func(t plumbing.Hash, dir string) error {
		tree, err := r.ReadTree(t)
		if err != nil {
			return err
		}
		wdir := filepath.Join(r.root, filepath.FromSlash(dir))
		if tmps, _ := filepath.Glob(filepath.Join(wdir, ".vios-tmp-*")); len(tmps) > 0 {
			for _, p := range tmps {
				os.Remove(p)
			}
		}
		for _, e := range tree {
			p := e.Name
			if dir != "" {
				p = dir + "/" + e.Name
			}
			switch {
			case e.Mode == filemode.Dir:
				if err := walk(e.Hash, p); err != nil {
					return err
				}
				continue
			case e.Mode == filemode.Submodule:
				continue
			}
			if i, ok := pos[p]; ok && idx.Entries[i].Hash == e.Hash {
				continue
			}
			if err := r.repairFile(idx, pos, p, e.Hash); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(c.TreeHash, ""); err != nil {
		return fmt.Errorf("repair worktree: %w", err)
	}
	sort.Slice(idx.Entries, func(i, j int) bool { return idx.Entries[i].Name < idx.Entries[j].Name })
	return r.writeIndex(idx)
}

// repairFile makes worktree file p hold blob h and indexes it, unless the
// file holds something that is neither h nor what the index recorded for
// it: that is a person's edit, left alone.
func (r *Repo) repairFile(idx *index.Index, pos map[string]int, p string, h plumbing.Hash) error {
	full := filepath.Join(r.root, filepath.FromSlash(p))
	cur, err := os.ReadFile(full)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if err == nil {
		ch := plumbing.ComputeHash(plumbing.BlobObject, cur)
		i, indexed := pos[p]
		if ch != h && !(indexed && idx.Entries[i].Hash == ch) {
			return nil
		}
	}
	if err != nil || plumbing.ComputeHash(plumbing.BlobObject, cur) != h {
		data, err := r.ReadBlob(h)
		if err != nil {
			return err
		}
		if err := writeFileAtomic(full, data, 0o644); err != nil {
			return err
		}
	}
	fi, err := os.Stat(full)
	if err != nil {
		return err
	}
	e := &index.Entry{Name: p, Hash: h, Mode: filemode.Regular, Size: uint32(fi.Size()), ModifiedAt: fi.ModTime(), CreatedAt: fi.ModTime()}
	fillStat(e, fi)
	if i, ok := pos[p]; ok {
		idx.Entries[i] = e
	} else {
		pos[p] = len(idx.Entries)
		idx.Entries = append(idx.Entries, e)
	}
	return nil
}
