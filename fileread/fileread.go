// Package fileread opens the files netkit is pointed at (certificates, keys,
// hosts files) so that reading them is bounded in size and ends when a
// context does: a path such as /dev/zero or a FIFO that never ends can
// neither fill the memory nor outlast Ctrl-C.
package fileread

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
	"time"
)

// ErrTooLarge is wrapped by the error of a read past a file's limit.
var ErrTooLarge = errors.New("file too large")

// File is a file open for reading within a limit. Read fails with an
// *fs.PathError wrapping ErrTooLarge once more than the limit has been read,
// and wrapping the context's error once the context is done.
type File struct {
	f     *os.File
	ctx   context.Context
	stop  func() bool
	path  string
	limit int64
	read  int64
}

// Open opens path for reading at most limit bytes while ctx lasts.
func Open(ctx context.Context, path string, limit int64) (*File, error) {
	// Non-blocking, so that opening a FIFO does not wait for a writer and
	// reading it goes through the poller, where the deadline below works.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	// A read of a pipe or a terminal may block for ever: the deadline
	// ends it. Regular files and devices such as /dev/zero ignore
	// deadlines, but their reads return at once; Read checks ctx between
	// them.
	stop := context.AfterFunc(ctx, func() { f.SetReadDeadline(time.Now()) })
	return &File{f: f, ctx: ctx, stop: stop, path: path, limit: limit}, nil
}

// Read reads from the file, as io.Reader.
func (r *File) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, &fs.PathError{Op: "read", Path: r.path, Err: err}
	}
	// Read one byte past the limit, to tell a file of exactly limit bytes
	// from a larger one.
	if int64(len(p)) > r.limit-r.read+1 {
		p = p[:r.limit-r.read+1]
	}
	n, err := r.f.Read(p)
	r.read += int64(n)
	if r.read > r.limit {
		return n, &fs.PathError{Op: "read", Path: r.path, Err: fmt.Errorf("%w: more than %s, the limit", ErrTooLarge, size(r.limit))}
	}
	if err != nil && r.ctx.Err() != nil {
		err = &fs.PathError{Op: "read", Path: r.path, Err: r.ctx.Err()}
	}
	return n, err
}

// Close closes the file.
func (r *File) Close() error {
	r.stop()
	return r.f.Close()
}

// ReadAll returns the content of path, which may be at most limit bytes,
// reading it while ctx lasts.
func ReadAll(ctx context.Context, path string, limit int64) ([]byte, error) {
	f, err := Open(ctx, path, limit)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}

// size says n bytes in the largest binary unit that divides it.
func size(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
