package cli

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/netkit/netkit/internal/testenv"
)

// TestFilesBounded: every file flag pointed at /dev/zero, which never ends,
// fails at once with the file's limit instead of reading until memory runs
// out.
func TestFilesBounded(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"echo", "send", "--ca", "/dev/zero", "127.0.0.1:1", "x"}, "--ca: read CA file: read /dev/zero: file too large: more than 4 MiB, the limit"},
		{[]string{"echo", "send", "--cert", "/dev/zero", "--key", "/dev/zero", "127.0.0.1:1", "x"}, "--cert/--key: load certificate: read /dev/zero: file too large"},
		{[]string{"echo", "serve", "--cert", "/dev/zero", "--key", "/dev/zero"}, "--cert/--key: load certificate: read /dev/zero: file too large"},
		{[]string{"echo", "serve", "--client-ca", "/dev/zero", "--cert-dir", t.TempDir(), "--listen", "127.0.0.1:0"}, "--client-ca: read CA file: read /dev/zero: file too large"},
		{[]string{"hosts", "--file", "/dev/zero"}, "cannot read hosts file /dev/zero: file too large: more than 64 MiB, the limit"},
	} {
		start := time.Now()
		r := netkitBinary(t, tc.args...)
		assertOneLineError(t, r, tc.want)
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("netkit %s took %v", strings.Join(tc.args, " "), d)
		}
	}
}

// TestHostsFileEnvBounded: NETKIT_HOSTS_FILE=/dev/zero makes resolve fail
// at the limit, not hang.
func TestHostsFileEnvBounded(t *testing.T) {
	cmd := exec.Command(binary, "resolve", "localhost")
	cmd.Env = append(os.Environ(), "NETKIT_HOSTS_FILE=/dev/zero")
	var errOut bytes.Buffer
	cmd.Stderr = &errOut
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatal("resolve with NETKIT_HOSTS_FILE=/dev/zero did not end")
	}
	if !strings.Contains(errOut.String(), "file too large: more than 64 MiB, the limit") {
		t.Errorf("stderr %q does not give the limit", errOut.String())
	}
}

// TestFileReadEndsOnCtrlC: reading a hosts file that never ends (a FIFO
// whose writer sends nothing) stops at the first SIGINT.
func TestFileReadEndsOnCtrlC(t *testing.T) {
	fifo, _ := testenv.StalledFIFO(t)
	cmd := exec.Command(binary, "hosts", "--file", fifo)
	var errOut bytes.Buffer
	cmd.Stderr = &errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	time.Sleep(300 * time.Millisecond)
	cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		cmd.Process.Kill()
		t.Fatal("the first SIGINT did not end the read of the hosts file")
	}
	if !strings.Contains(errOut.String(), "context canceled") {
		t.Logf("stderr: %s", errOut.String())
	}
}
