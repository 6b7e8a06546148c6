package cli

import (
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/netkit/netkit/internal/dnstest"
	"github.com/netkit/netkit/internal/testenv"
	"github.com/netkit/netkit/internal/testnet"
)

// deadServer listens on UDP port 53 of addr and counts the questions it
// receives, answering none.
func deadServer(t *testing.T, addr string) *atomic.Int64 {
	t.Helper()
	pc, err := net.ListenPacket("udp", net.JoinHostPort(addr, "53"))
	if err != nil {
		t.Skipf("cannot bind %s:53 (root needed): %v", addr, err)
	}
	t.Cleanup(func() { pc.Close() })
	var n atomic.Int64
	go func() {
		buf := make([]byte, 1500)
		for {
			if _, _, err := pc.ReadFrom(buf); err != nil {
				return
			}
			n.Add(1)
		}
	}()
	return &n
}

// TestOneResolver checks that every command that turns a name into an
// address, or an address into a name, asks the resolver netkit is
// configured with: NETKIT_RESOLV_CONF names a server that never answers,
// and /etc/resolv.conf (bind-mounted in a private mount namespace) names
// another one, which must hear nothing. Before, echo send and bench dialled
// through Go's resolver and sockets -r reverse-resolved through it.
func TestOneResolver(t *testing.T) {
	testenv.NeedRoot(t) // to give the commands their own /etc/resolv.conf
	testenv.NeedTool(t, "unshare")
	dead := deadServer(t, "127.83.0.53")
	other := dnstest.Start(t)
	dir := t.TempDir()
	conf := filepath.Join(dir, "resolv.conf")
	hosts := filepath.Join(dir, "hosts")
	os.WriteFile(conf, []byte("nameserver 127.83.0.53\noptions timeout:1 attempts:1\n"), 0o644)
	os.WriteFile(hosts, []byte("127.0.0.1 localhost\n"), 0o644)
	systemConf := other.ResolvConf(t, "options timeout:1 attempts:1")

	// A connection between two addresses no hosts line names, for sockets -r.
	ln := testnet.Listen(t, "127.83.0.9:0")
	testnet.ServeConns(t, ln, func(c net.Conn) { io.Copy(io.Discard, c) })
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	port := fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)

	for _, args := range [][]string{
		{"resolve", "nosuch.test"},
		{"ping", "-c", "1", "nosuch.test"},
		{"ping", "--tcp", "80", "-c", "1", "nosuch.test"},
		{"diagnose", "-c", "1", "nosuch.test:80"},
		{"echo", "send", "--plaintext", "nosuch.test:7", "hi"},
		{"echo", "bench", "--plaintext", "-n", "1", "nosuch.test:7"},
		{"sockets", "-r", "--port", port},
	} {
		before := dead.Load()
		script := fmt.Sprintf(`mount --bind %q /etc/resolv.conf && exec "$@"`, systemConf)
		cmd := exec.Command("unshare", append([]string{"-m", "sh", "-c", script, "sh", binary}, args...)...)
		cmd.Env = append(os.Environ(), "NETKIT_RESOLV_CONF="+conf, "NETKIT_HOSTS_FILE="+hosts)
		out, _ := cmd.CombinedOutput()
		if dead.Load() == before {
			t.Errorf("netkit %s asked no question of NETKIT_RESOLV_CONF's server:\n%s", strings.Join(args, " "), out)
		}
		if q := other.Queries(); len(q) > 0 {
			t.Fatalf("netkit %s asked /etc/resolv.conf's server %v:\n%s", strings.Join(args, " "), q, out)
		}
	}
}
