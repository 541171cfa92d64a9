//go:build !unix

package ledger

import "os"

// mapFile reads f whole where memory mapping is not available.
func mapFile(f *os.File) ([]byte, func() error, error) { return mapRead(f) }
