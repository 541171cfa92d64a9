package ledger

import (
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
)

// errNotRegular is readRegular's error for a path that is not a regular
// file.
var errNotRegular = errors.New("not a regular file")

// createNew creates path, which must not exist yet, for writing, with mode
// perm less the umask (as git creates its files); a missing directory is
// created first.
func createNew(path string, perm os.FileMode) (*os.File, error) {
	const flag = os.O_RDWR | os.O_CREATE | os.O_EXCL
	f, err := openFile(path, flag, perm)
	if errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return nil, err
		}
		f, err = openFile(path, flag, perm)
	}
	return f, err
}

// readFile reads path whole, as os.ReadFile does.
func readFile(path string) ([]byte, error) {
	f, err := openFile(path, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	return readSized(int(fi.Size()), f.Read)
}

// readSized reads a file fstat said holds size bytes through read (which
// returns io.EOF, or 0 and no error, at the end). The buffer is one byte
// larger than the size: a read that fills it means the file grew meanwhile,
// and reading goes on. A read that reaches the size is the end (one more
// read would only say so); a short one before it, as some network file
// systems give, is read on from.
func readSized(size int, read func([]byte) (int, error)) ([]byte, error) {
	buf := make([]byte, size+1)
	n := 0
	for {
		m, err := read(buf[n:])
		n += m
		switch {
		case err == io.EOF || err == nil && m == 0:
			return buf[:n], nil
		case err != nil:
			return nil, err
		case n == len(buf):
			buf = append(buf, make([]byte, len(buf))...)
		case n >= size:
			return buf[:n], nil
		}
	}
}

// createTemp is createNew for a file in dir named prefix and a random
// number.
func createTemp(dir, prefix string, perm os.FileMode) (*os.File, error) {
	for try := 0; ; try++ {
		f, err := createNew(filepath.Join(dir, prefix+strconv.FormatUint(uint64(rand.Uint32()), 10)), perm)
		if errors.Is(err, os.ErrExist) && try < 100 {
			continue
		}
		return f, err
	}
}
