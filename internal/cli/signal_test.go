package cli

import (
	"net"
	"syscall"
	"testing"
	"time"
)

// TestSecondSignalEndsDrain: the first SIGTERM starts a graceful stop,
// which waits for a message still arriving; a second one ends the process
// at once, as people expect of a second Ctrl-C.
func TestSecondSignalEndsDrain(t *testing.T) {
	s := startEchoServer(t, "--plaintext", "--drain-timeout", "30s")
	c, err := net.Dial("tcp", s.ready.Listen)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// Half a frame: the server waits for the rest while it drains.
	if _, err := c.Write([]byte("\x00\x60{\"byteorder\": \"little\"")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	s.cmd.Process.Signal(syscall.SIGTERM)
	exited := make(chan struct{})
	go func() {
		s.cmd.Wait()
		close(exited)
	}()
	select {
	case <-exited:
		t.Fatalf("the first SIGTERM did not wait for the message in flight: %s", s.stderr)
	case <-time.After(500 * time.Millisecond):
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
		t.Fatal("the second SIGTERM did not end the process")
	}
	if ws, ok := s.cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGTERM {
		t.Errorf("process state %v, want killed by SIGTERM", s.cmd.ProcessState)
	}
}
