package ledger

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// heldKey marks a context whose holder owns a repository's vios lock.
type heldKey struct{ r *Repo }

// Hold takes the repository lock like Lock and returns a context under
// which Lock on the same Repo returns at once without taking it again, so a
// command can hold the lock across several operations that each lock (fetch,
// cycle, push). Calling Hold with such a context is itself a no-op.
func (r *Repo) Hold(ctx context.Context) (context.Context, func(), error) {
	if holds(ctx, r) {
		return ctx, func() {}, nil
	}
	unlock, err := r.Lock(ctx)
	if err != nil {
		return nil, nil, err
	}
	return context.WithValue(ctx, heldKey{r}, true), unlock, nil
}

// holds reports whether ctx was returned by r.Hold.
func holds(ctx context.Context, r *Repo) bool {
	v, _ := ctx.Value(heldKey{r}).(bool)
	return v
}

// StaleRefLockAge is how old a ref lock file must be, found while holding
// the vios lock, to count as left behind by a killed process. vios creates
// ref locks only under the vios lock, so a lock seen by the next holder is
// either a killed vios's or a running git's; git holds a ref lock for
// milliseconds, so one this old is nobody's.
var StaleRefLockAge = 2 * time.Second

// recoverFromCrash runs with the vios lock just taken: whatever a killed
// vios left half-done is repaired before anything else reads the
// repository.
func (r *Repo) recoverFromCrash(ctx context.Context) error {
	if err := r.recoverRefLocks(ctx); err != nil {
		return err
	}
	return r.repairWorktree()
}

// recoverRefLocks removes stale lock files of the refs vios moves (HEAD's
// branch, refs/vios/*, refs/remotes/*/*), waiting while a young one may
// still belong to a running git. It runs with the vios lock held.
func (r *Repo) recoverRefLocks(ctx context.Context) error {
	var locks []string
	if br, err := r.Branch(); err == nil {
		locks = append(locks, filepath.Join(r.gitDir, filepath.FromSlash(br.String()))+".lock")
	}
	if more, err := filepath.Glob(filepath.Join(r.gitDir, "refs", "remotes", "*", "*.lock")); err == nil {
		locks = append(locks, more...)
	}
	filepath.WalkDir(filepath.Join(r.gitDir, "refs", "vios"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".lock") {
			locks = append(locks, p)
		}
		return nil
	})
	for _, p := range locks {
		if err := waitStale(ctx, p); err != nil {
			return err
		}
	}
	return nil
}

// waitStale returns once the lock file p is gone, removing it when it is
// older than StaleRefLockAge.
func waitStale(ctx context.Context, p string) error {
	for {
		fi, err := os.Stat(p)
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("lock: %w", err)
		}
		if time.Since(fi.ModTime()) >= StaleRefLockAge {
			if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("lock: remove stale %s: %w", p, err)
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: %s is held: %v", ErrLockTaken, p, ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}
