// Package testenv says what a test may use on this machine, and skips it
// when the machine cannot give it: a system tool to compare netkit with,
// root. Under 'go test -short' (the quick mode, without root and without
// system tools) it skips every such test.
package testenv

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// NeedTool returns the path of the system tool name that a differential
// test compares netkit with (ss, getent, openssl, …), and skips the test
// when the tool is missing or under 'go test -short', the quick mode that
// runs without root and without system tools.
func NeedTool(t testing.TB, name string) string {
	t.Helper()
	if testing.Short() {
		t.Skipf("-short: skipping the comparison with %s", name)
	}
	path, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s is not installed (.ci/run installs it)", name)
	}
	return path
}

// NeedRoot skips the test when the process is not root (network
// namespaces, raw sockets, bind mounts, port 53) or under -short.
func NeedRoot(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: skipping a test that needs root")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
}

// StalledFIFO makes a named pipe in a temporary folder, holds its writing
// end open until the test ends, and returns its path and that end: a file
// whose read waits for ever unless the test writes (a hosts or PEM file
// that never ends), for the tests that a read stops when it should.
func StalledFIFO(t testing.TB) (path string, w *os.File) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	// Opened read-write, so that the open does not wait for a reader.
	w, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return path, w
}

// StopsOnCancel runs read (of a StalledFIFO, say) with a context it cancels
// after 50 ms, and fails the test unless read then returns
// context.Canceled within 5 s: what, in the failure, names the read.
func StopsOnCancel(t testing.TB, what string, read func(context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- read(ctx) }()
	time.Sleep(50 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s: got %v, want context.Canceled", what, err)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("%s outlasted its context", what)
	}
}
