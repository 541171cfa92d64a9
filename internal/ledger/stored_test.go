package ledger

import (
	"bytes"
	"compress/flate"
	"compress/zlib"
	"io"
	"testing"
)

func deflate(t testing.TB, data []byte, level int) []byte {
	var b bytes.Buffer
	w, err := zlib.NewWriterLevel(&b, level)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data)
	w.Close()
	return b.Bytes()
}

// TestStored: streams of stored blocks are copied out, across block
// boundaries; compressed or damaged streams are left to the decompressor,
// which reports the damage.
func TestStored(t *testing.T) {
	for _, n := range []int{0, 1, 1000, 65535, 65536, 200_000} {
		data := bytes.Repeat([]byte("tree 100644 a\x00"), n/14+1)[:n]
		z := deflate(t, data, zlib.NoCompression)
		got, ok := stored(append(z, "next object"...), int64(n), nil)
		if !ok || !bytes.Equal(got, data) {
			t.Fatalf("%d bytes stored: ok=%v, equal=%v", n, ok, bytes.Equal(got, data))
		}
		if _, ok := stored(z, int64(n)+1, nil); ok {
			t.Fatalf("%d bytes stored, read as %d", n, n+1)
		}
		if _, ok := stored(deflate(t, data, zlib.BestSpeed), int64(n), nil); ok && n >= 1000 { // a writer may store what does not shrink
			t.Fatalf("%d bytes deflated read as stored", n)
		}
	}
	data := []byte("commit payload")
	z := deflate(t, data, zlib.NoCompression)
	var o odb
	bad := bytes.Clone(z)
	bad[5] ^= 1 // NLEN of the first block
	if _, ok := stored(bad, int64(len(data)), nil); ok {
		t.Fatal("a bad block length passed")
	}
	for _, level := range []int{zlib.NoCompression, zlib.BestSpeed, zlib.BestCompression} {
		z := deflate(t, data, level)
		if got, err := o.inflate(z, int64(len(data)), make([]byte, 0, 64)); err != nil || !bytes.Equal(got, data) {
			t.Fatalf("inflate of a level %d stream: %q, %v", level, got, err)
		}
		if got, err := o.inflate(z, -1, nil); err != nil || !bytes.Equal(got, data) {
			t.Fatalf("inflate of a level %d stream of unknown size: %q, %v", level, got, err)
		}
	}
	if _, err := o.inflate([]byte{0x78, 0x9c, 0xff, 0xff}, 10, nil); err == nil {
		t.Fatal("inflate took a corrupt stream")
	}
	if _, err := o.inflate([]byte{0x00, 0x00, 0x01}, 1, nil); err == nil {
		t.Fatal("inflate took a stream without a zlib header")
	}
}

// FuzzStored: whatever stored accepts, the standard decompressor reads to
// the same bytes, read as odb.inflate reads an object: its size in bytes of
// raw deflate after the zlib header, the Adler-32 trailer unread.
func FuzzStored(f *testing.F) {
	for _, n := range []int{0, 5, 300} {
		data := bytes.Repeat([]byte{'x'}, n)
		f.Add(deflate(f, data, zlib.NoCompression), int64(n))
		f.Add(deflate(f, data, zlib.BestSpeed), int64(n))
	}
	f.Fuzz(func(t *testing.T, z []byte, size int64) {
		got, ok := stored(z, size, nil)
		if !ok {
			return
		}
		want := make([]byte, size)
		_, err := io.ReadFull(flate.NewReader(bytes.NewReader(z[2:])), want)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("stored read %q, the decompressor %q (%v)", got, want, err)
		}
	})
}
