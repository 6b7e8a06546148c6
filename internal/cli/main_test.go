package cli

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/spf13/pflag"

	"github.com/netkit/netkit/internal/dnstest"
	"github.com/netkit/netkit/internal/output"
)

type pflagFlag = pflag.Flag

// binary is the netkit binary built once by TestMain for end-to-end tests.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "netkit-bin-")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "netkit")
	_, file, _, _ := runtime.Caller(0)
	top := filepath.Join(filepath.Dir(file), "..", "..")
	build := exec.Command("go", "build", "-buildvcs=true", "-o", binary, ".")
	build.Dir = top
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		os.RemoveAll(dir)
		panic("build netkit: " + err.Error())
	}
	isolated, err := dnstest.Isolate()
	if err != nil {
		os.RemoveAll(dir)
		panic(err)
	}
	code := m.Run()
	isolated()
	os.RemoveAll(dir)
	os.Exit(code)
}

func testStreams() (*output.Streams, *bytes.Buffer, *bytes.Buffer, *bytes.Buffer) {
	return output.Test()
}

// result is what one netkit run printed and its exit code.
type result struct {
	stdout, stderr string
	code           int
}

// netkit runs a command line in-process with test streams.
func netkit(t *testing.T, args ...string) result {
	t.Helper()
	return netkitStdin(t, "", args...)
}

// netkitStdin runs a command line in-process with stdin.
func netkitStdin(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	io, in, out, errOut := testStreams()
	in.WriteString(stdin)
	code := run(context.Background(), io, args)
	return result{stdout: out.String(), stderr: errOut.String(), code: code}
}

// netkitBinary runs the built binary, as a user would.
func netkitBinary(t *testing.T, args ...string) result {
	t.Helper()
	cmd := exec.Command(binary, args...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run netkit: %v", err)
	}
	return result{stdout: out.String(), stderr: errOut.String(), code: code}
}

// assertOneLineError checks the shape of a usage error: exit 2, one line on
// stderr that starts with "netkit: " and mentions want, and no Go panic.
func assertOneLineError(t *testing.T, r result, want string) {
	t.Helper()
	if r.code != exitError {
		t.Errorf("exit code %d, want %d; stderr: %s", r.code, exitError, r.stderr)
	}
	lines := strings.Split(strings.TrimRight(r.stderr, "\n"), "\n")
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "netkit: ") {
		t.Errorf("want one line starting with 'netkit: ', got %q", r.stderr)
	}
	if !strings.Contains(r.stderr, want) {
		t.Errorf("stderr %q does not mention %q", r.stderr, want)
	}
	if strings.Contains(r.stderr, "goroutine ") || strings.Contains(r.stderr, "panic:") {
		t.Errorf("stack trace on stderr: %s", r.stderr)
	}
}
