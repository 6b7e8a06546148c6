package cli

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/netkit/netkit/internal/testnet"
)

func TestExporterOptions(t *testing.T) {
	io, _, _, _ := testStreams()
	var got *ExporterOptions
	cmd := NewCmdExporter(io, func(_ context.Context, o *ExporterOptions) error { got = o; return nil })
	cmd.SetArgs([]string{"--allow", "10.0.0.0/8, 192.0.2.7", "--max-in-flight", "4", "--config", "x.yml"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	want := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.0.2.7/32")}
	if got.Listen != "127.0.0.1:9115" || got.MaxInFlight != 4 || got.Config != "x.yml" || len(got.Allow) != 2 ||
		got.Allow[0] != want[0] || got.Allow[1] != want[1] || !got.loopbackOnly {
		t.Errorf("options %+v", got)
	}
}

func TestExporterBadUsage(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.yml")
	os.WriteFile(bad, []byte("modules:\n  web:\n    prober: http\n"), 0o644)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--listen", "9115"}, "invalid --listen"},
		{[]string{"--allow", "10.0.0.0/40"}, "invalid --allow"},
		{[]string{"--max-in-flight", "0"}, "invalid --max-in-flight"},
		{[]string{"--listen", "0.0.0.0:0"}, "give --allow"},
		{[]string{"--config", bad}, "bad.yml:3: modules.web.prober: netkit cannot do this"},
		{[]string{"--config", "/nonexistent.yml"}, "--config: open /nonexistent.yml"},
		{[]string{"extra"}, "exporter takes no arguments, got 1"},
	} {
		assertOneLineError(t, netkit(t, append([]string{"exporter"}, tc.args...)...), tc.want)
	}
}

// exporterProcess is a 'netkit exporter' started from the binary.
type exporterProcess struct {
	cmd  *exec.Cmd
	base string // http://ADDR
}

// startExporter runs the binary's exporter on a free loopback port.
func startExporter(t *testing.T, args ...string) *exporterProcess {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"exporter", "--listen", "127.0.0.1:0"}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("exporter stderr:\n%s", stderr.String())
		}
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "netkit exporter: listening on ")
	if err != nil || !ok {
		t.Fatalf("first line %q, %v", line, err)
	}
	go io.Copy(io.Discard, stdout)
	return &exporterProcess{cmd: cmd, base: addr}
}

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestExporterProcess runs the command as a user would: a probe, SIGHUP
// to reload a changed configuration, and SIGTERM to stop (exit 0).
func TestExporterProcess(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "netkit.yml")
	os.WriteFile(cfg, []byte("modules:\n  conn:\n    prober: tcp\n"), 0o644)
	e := startExporter(t, "--config", cfg, "--allow", "127.0.0.0/8")
	l := testnet.Listen(t, "127.0.0.1:0")
	testnet.ServeConns(t, l, func(net.Conn) {})
	code, body := httpGet(t, e.base+"/probe?module=conn&target="+l.Addr().String())
	if code != 200 || !strings.Contains(body, "\nprobe_success 1\n") {
		t.Fatalf("%d\n%s", code, body)
	}
	os.WriteFile(cfg, []byte("modules:\n  conn2:\n    prober: tcp\n"), 0o644)
	e.cmd.Process.Signal(syscall.SIGHUP)
	deadline := time.Now().Add(5 * time.Second)
	for {
		code, body = httpGet(t, e.base+"/probe?module=conn2&target="+l.Addr().String())
		if code == 200 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if code != 200 {
		t.Fatalf("module conn2 after SIGHUP: %d %s", code, body)
	}
	_, metrics := httpGet(t, e.base+"/metrics")
	if !strings.Contains(metrics, `netkit_exporter_config_reloads_total{result="success"} 2`) {
		t.Errorf("/metrics after SIGHUP:\n%s", metrics)
	}
	e.cmd.Process.Signal(syscall.SIGTERM)
	if err := e.cmd.Wait(); err != nil {
		t.Errorf("exit after SIGTERM: %v", err)
	}
}
