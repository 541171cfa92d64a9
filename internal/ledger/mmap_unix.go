//go:build unix

package ledger

import (
	"os"

	"golang.org/x/sys/unix"
)

// mapFile maps f read-only. The mapping outlives f's descriptor and a
// later unlink of the file (a pack merged away), until unmap is called.
func mapFile(f *os.File) ([]byte, func() error, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	if fi.Size() == 0 {
		return nil, nil, nil
	}
	data, err := unix.Mmap(int(f.Fd()), 0, int(fi.Size()), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return mapRead(f)
	}
	return data, func() error { return unix.Munmap(data) }, nil
}
