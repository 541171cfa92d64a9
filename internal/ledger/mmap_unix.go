//go:build unix

package ledger

import (
	"os"

	"golang.org/x/sys/unix"
)

// mapPath maps a file read-only; the mapping outlives the descriptor and a
// later unlink of the file (a pack merged away) until unmap is called.
func mapPath(path string) ([]byte, func() error, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	if fi.Size() == 0 || fi.Size() != int64(int(fi.Size())) {
		return mapReadAll(f)
	}
	data, err := unix.Mmap(int(f.Fd()), 0, int(fi.Size()), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return mapReadAll(f)
	}
	return data, func() error { return unix.Munmap(data) }, nil
}
