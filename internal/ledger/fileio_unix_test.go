//go:build unix

package ledger

import (
	"errors"
	"path/filepath"
	"syscall"
	"testing"
)

// A FIFO with no writer would block an ordinary open for good.
func TestReadRegularRefusesFIFO(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := readRegular(fifo); !errors.Is(err, errNotRegular) {
		t.Errorf("readRegular(fifo) = %v, want errNotRegular", err)
	}
}
