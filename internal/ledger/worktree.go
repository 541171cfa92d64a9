package ledger

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"sort"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/format/index"
)

// syncWorktree writes the committed files into the worktree and records
// them in the index, so `git status` stays clean after an artifact commit.
// Only the committed paths are touched.
func (r *Repo) syncWorktree(files []File, hashes map[string]plumbing.Hash) error {
	idx, err := r.storage.Index()
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			return err
		}
		idx = &index.Index{Version: 2}
	}
	pos := make(map[string]int, len(idx.Entries))
	for i, e := range idx.Entries {
		pos[e.Name] = i
	}
	added := false
	for _, f := range files {
		p := filepath.Join(r.root, filepath.FromSlash(f.Path))
		if err := writeFileAtomic(p, f.Data, 0o644); err != nil {
			return err
		}
		fi, err := os.Stat(p)
		if err != nil {
			return err
		}
		e := &index.Entry{
			Name:       f.Path,
			Hash:       hashes[f.Path],
			Mode:       filemode.Regular,
			Size:       uint32(fi.Size()),
			ModifiedAt: fi.ModTime(),
			CreatedAt:  fi.ModTime(),
		}
		fillStat(e, fi)
		if i, ok := pos[f.Path]; ok {
			idx.Entries[i] = e
		} else {
			pos[f.Path] = len(idx.Entries)
			idx.Entries = append(idx.Entries, e)
			added = true
		}
	}
	if added {
		sort.Slice(idx.Entries, func(i, j int) bool { return idx.Entries[i].Name < idx.Entries[j].Name })
	}
	return r.writeIndex(idx)
}

// writeFileAtomic writes through a temporary file and a rename, creating
// parent directories.
func writeFileAtomic(p string, data []byte, mode os.FileMode) error {
	return writeFile(p, data, mode, false)
}

// writeFile is writeFileAtomic, which also syncs the file before the rename
// when durable is set (the caller syncs the directory). The file's mode is
// mode less the umask, as git checks files out.
func writeFile(p string, data []byte, mode os.FileMode, durable bool) error {
	tmp, err := createTemp(filepath.Dir(p), ".vios-tmp-", mode)
	if err != nil {
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		discard(tmp)
		return err
	}
	if durable {
		if err := tmp.Sync(); err != nil {
			discard(tmp)
			return err
		}
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	if err := rename(tmp.Name(), p); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return nil
}

// syncDir makes the names created in dir durable. Windows cannot sync a
// directory, and makes names durable by itself.
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
