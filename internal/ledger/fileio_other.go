//go:build !unix

package ledger

import "os"

// openFile opens path as os.OpenFile does.
func openFile(path string, flag int, perm os.FileMode) (*os.File, error) {
	return os.OpenFile(path, flag, perm)
}

// rename renames from to to, as os.Rename does.
func rename(from, to string) error {
	return os.Rename(from, to)
}

// readRegular reads path whole if it is a regular file, not following a
// symbolic link; errNotRegular if it is not one.
func readRegular(path string) ([]byte, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, errNotRegular
	}
	return os.ReadFile(path)
}
