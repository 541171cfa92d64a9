package ledger

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestReadRegular(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "ref")
	if err := os.WriteFile(file, []byte("0123456789abcdef0123456789abcdef01234567\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := readRegular(file)
	if err != nil || string(got) != "0123456789abcdef0123456789abcdef01234567\n" {
		t.Fatalf("readRegular(file) = %q, %v", got, err)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err := readRegular(empty); err != nil || len(got) != 0 {
		t.Fatalf("readRegular(empty) = %q, %v", got, err)
	}
	if _, err := readRegular(dir); !errors.Is(err, errNotRegular) {
		t.Errorf("readRegular(directory) = %v, want errNotRegular", err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(file, link); err == nil {
		if _, err := readRegular(link); !errors.Is(err, errNotRegular) {
			t.Errorf("readRegular(symlink) = %v, want errNotRegular", err)
		}
	}
	if _, err := readRegular(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("readRegular(missing) = %v, want ErrNotExist", err)
	}
}

func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []int{0, 1, 4095, 4096, 100_000} {
		p := filepath.Join(dir, "f")
		want := strings.Repeat("x", n)
		if err := os.WriteFile(p, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := readFile(p)
		if err != nil || string(got) != want {
			t.Fatalf("readFile of %d bytes = %d bytes, %v", n, len(got), err)
		}
	}
}

// A file larger than the size fstat gave (as Linux's /proc files, which
// say 0) is read whole.
func TestReadGrownFile(t *testing.T) {
	const p = "/proc/self/maps"
	fi, err := os.Stat(p)
	if err != nil || fi.Size() != 0 {
		t.Skip("no /proc file whose size reads 0")
	}
	for name, read := range map[string]func(string) ([]byte, error){"readFile": readFile, "readRegular": readRegular} {
		got, err := read(p)
		if err != nil || len(got) < 100 || !strings.HasSuffix(string(got), "\n") {
			t.Errorf("%s(%s) = %d bytes %q…, %v; want the whole file", name, p, len(got), got[:min(len(got), 40)], err)
		}
	}
}

func TestCreateNew(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "a", "b", "lock")
	f, err := createNew(p, 0o644)
	if err != nil {
		t.Fatalf("createNew with missing directories: %v", err)
	}
	if _, err := f.WriteString("x"); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if _, err := createNew(p, 0o644); !errors.Is(err, os.ErrExist) {
		t.Errorf("createNew of an existing file = %v, want ErrExist", err)
	}
	if b, _ := os.ReadFile(p); string(b) != "x" {
		t.Errorf("existing file was changed: %q", b)
	}
	tmp, err := createTemp(filepath.Join(dir, "c"), ".vios-tmp-", 0o444)
	if err != nil {
		t.Fatal(err)
	}
	defer tmp.Close()
	if _, err := tmp.WriteString("written through a read-only mode"); err != nil {
		t.Errorf("write to a file created read-only: %v", err)
	}
	fi, err := os.Stat(tmp.Name())
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm()&0o222 != 0 {
		t.Errorf("mode %v, want no write permission", fi.Mode())
	}
	if !strings.HasPrefix(filepath.Base(tmp.Name()), ".vios-tmp-") {
		t.Errorf("temporary name %s", tmp.Name())
	}
}

func TestRenameReplaces(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	os.WriteFile(a, []byte("new"), 0o644)
	os.WriteFile(b, []byte("old"), 0o644)
	if err := rename(a, b); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(b); string(got) != "new" {
		t.Errorf("after rename: %q", got)
	}
	if err := rename(a, b); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("rename of a missing file = %v, want ErrNotExist", err)
	}
}
