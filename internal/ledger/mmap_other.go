//go:build !unix

package ledger

import "os"

// mapPath reads a file whole where memory mapping is not available.
func mapPath(path string) ([]byte, func() error, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	return mapReadAll(f)
}
