package fileread

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/netkit/netkit/internal/testenv"
)

func TestReadAllLimit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, []byte("12345678"), 0o644); err != nil {
		t.Fatal(err)
	}
	if b, err := ReadAll(context.Background(), path, 8); err != nil || string(b) != "12345678" {
		t.Errorf("a file of exactly the limit: %q, %v", b, err)
	}
	if _, err := ReadAll(context.Background(), path, 7); !errors.Is(err, ErrTooLarge) {
		t.Errorf("a file over the limit: %v, want ErrTooLarge", err)
	}
}

// TestReadAllDevZero: /dev/zero, which never ends, stops at the limit.
func TestReadAllDevZero(t *testing.T) {
	start := time.Now()
	_, err := ReadAll(context.Background(), "/dev/zero", 4<<20)
	if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "read /dev/zero: file too large: more than 4 MiB, the limit") {
		t.Errorf("got %v, want ErrTooLarge", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("took %v", d)
	}
}

// TestReadAllCancelled: a FIFO whose writer sends nothing is read until the
// context ends, and no longer.
func TestReadAllCancelled(t *testing.T) {
	path, _ := testenv.StalledFIFO(t)
	testenv.StopsOnCancel(t, "the read", func(ctx context.Context) error {
		_, err := ReadAll(ctx, path, 1<<20)
		return err
	})
}
