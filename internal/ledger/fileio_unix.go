//go:build unix

package ledger

import (
	"os"
	"syscall"
)

// The files of a commit (its pack, the pack's index, the branch's lock) are
// opened with open(2) and wrapped with os.NewFile rather than through
// os.OpenFile. os.OpenFile tries to make every file pollable, which a
// regular file never is: two fcntl calls to set O_NONBLOCK, an epoll_ctl
// that fails, two more to clear it. On a virtual machine those five calls
// cost as much as the write of a commit's pack.

// openFile opens path with flag (O_CLOEXEC added) and perm, as os.OpenFile
// would.
func openFile(path string, flag int, perm os.FileMode) (*os.File, error) {
	for {
		fd, err := syscall.Open(path, flag|syscall.O_CLOEXEC, uint32(perm.Perm()))
		if err == nil {
			return os.NewFile(uintptr(fd), path), nil
		}
		if err != syscall.EINTR {
			return nil, &os.PathError{Op: "open", Path: path, Err: err}
		}
	}
}

// rename renames from to to, as os.Rename does, without the lstat with
// which os.Rename refuses to replace a directory (rename(2) refuses that
// too).
func rename(from, to string) error {
	if err := syscall.Rename(from, to); err != nil {
		return &os.LinkError{Op: "rename", Old: from, New: to, Err: err}
	}
	return nil
}

// readRegular reads path whole if it is a regular file, not following a
// symbolic link in its last element; errNotRegular if it is not one. A
// FIFO is opened without blocking and refused.
func readRegular(path string) ([]byte, error) {
	var fd int
	var err error
	for {
		fd, err = syscall.Open(path, syscall.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		// A symbolic link fails O_NOFOLLOW with ELOOP on Linux and darwin,
		// with other errors on some BSDs; a missing file, the common
		// failure (a ref not made yet), needs no lstat to tell.
		if err == syscall.ELOOP {
			return nil, errNotRegular
		}
		if err != syscall.ENOENT {
			if fi, lerr := os.Lstat(path); lerr == nil && !fi.Mode().IsRegular() {
				return nil, errNotRegular
			}
		}
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	defer syscall.Close(fd)
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return nil, &os.PathError{Op: "stat", Path: path, Err: err}
	}
	if st.Mode&syscall.S_IFMT != syscall.S_IFREG {
		return nil, errNotRegular
	}
	return readSized(int(st.Size), func(b []byte) (int, error) {
		for {
			n, err := syscall.Read(fd, b)
			if err == syscall.EINTR {
				continue
			}
			if err != nil {
				return 0, &os.PathError{Op: "read", Path: path, Err: err}
			}
			return n, nil
		}
	})
}
