package spool

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"testing/iotest"
)

func TestRead(t *testing.T) {
	for _, tt := range []struct {
		name   string
		size   int
		limit  int64
		status int // 0: spooled
		inFile bool
	}{
		{"empty", 0, 100, 0, false},
		{"empty, refused", 0, -1, 0, false},
		{"small", 10, 100, 0, false},
		{"at the limit", 100, 100, 0, false},
		{"over the limit", 101, 100, http.StatusRequestEntityTooLarge, false},
		{"zero limit", 1, 0, http.StatusRequestEntityTooLarge, false},
		{"refused", 1, -1, http.StatusLengthRequired, false},
		{"memory full", MemBytes, 1 << 20, 0, false},
		{"to a file", MemBytes + 1, 1 << 20, 0, true},
		{"big", 1 << 20, 1 << 20, 0, true},
		{"big, over", 1<<20 + 1, 1 << 20, http.StatusRequestEntityTooLarge, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			data := bytes.Repeat([]byte("0123456789abcdef"), tt.size/16+1)[:tt.size]
			b, err := Read(bytes.NewReader(data), tt.limit, t.TempDir())
			if tt.status != 0 {
				if b != nil || Status(err) != tt.status {
					t.Fatalf("Read: %v (status %d), want %d", err, Status(err), tt.status)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			if b.Size() != int64(tt.size) || (b.File() != nil) != tt.inFile {
				t.Errorf("size %d, file %v", b.Size(), b.File() != nil)
			}
			for range 2 { // and again after Rewind
				got, err := io.ReadAll(b)
				if err != nil || !bytes.Equal(got, data) {
					t.Fatalf("read back %d bytes, %v", len(got), err)
				}
				if err := b.Rewind(); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

func TestReadErrors(t *testing.T) {
	broken := io.MultiReader(strings.NewReader(strings.Repeat("x", 100<<10)), iotest.ErrReader(errors.New("reset")))
	_, err := Read(broken, 1<<20, t.TempDir())
	if Status(err) != http.StatusBadRequest || !errors.Is(err, ErrRead) {
		t.Errorf("a body that breaks off: %v", err)
	}
	_, err = Read(strings.NewReader(strings.Repeat("x", 100<<10)), 1<<20, "/nonexistent-dir")
	if Status(err) != http.StatusInternalServerError || !errors.Is(err, ErrWrite) {
		t.Errorf("no temporary directory: %v", err)
	}
}
