package cli

import (
	"bufio"
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"github.com/netkit/netkit/internal/netlab"
)

// TestDiagnoseLab runs diagnose in the namespace lab against each rule of
// the server and the routers, and checks the failing step and its cause:
// who answered the connect with which ICMP error, a reset, or, for a
// dropped port, where a short TCP SYN trace finds the packets vanish.
func TestDiagnoseLab(t *testing.T) {
	lab := netlab.New(t)
	srv := netlab.ServerAddr
	for _, tc := range []struct {
		target string
		want   []string // lines of the output, in order
	}{
		// First: router1's net unreachable is rate limited (see netlab).
		{netlab.Unroutable + ":80", []string{
			"! ping     " + netlab.Unroutable + " no reply: router " + netlab.Router1Addr + " answered Destination Net Unreachable (1 of 1 probes)",
			"✗ connect  " + netlab.Unroutable + ":80 network is unreachable (router " + netlab.Router1Addr + " answered: Destination Net Unreachable)",
			"cause: router " + netlab.Router1Addr + " has no route to " + netlab.Unroutable + " (ICMP net unreachable)",
		}},
		{fmt.Sprintf("%s:%d", srv, netlab.PortProhibited), []string{
			"✗ connect  " + srv + ":82 no route to host (" + srv + " itself answered: Packet filtered)",
			"cause: " + srv + " itself rejects TCP port 82 with ICMP administratively prohibited: a firewall rule on that host refuses this traffic",
		}},
		{fmt.Sprintf("%s:%d", srv, netlab.PortHostUnreach), []string{
			"✗ connect  " + srv + ":83 no route to host (" + srv + " itself answered: Destination Host Unreachable)",
			`cause: ` + srv + ` itself answers TCP port 83 with ICMP "Destination Host Unreachable": a host is not unreachable from itself, so a firewall rule on it rejects this traffic that way`,
		}},
		{fmt.Sprintf("%s:%d", srv, netlab.PortReset), []string{
			"✗ connect  " + srv + ":84 refused",
			"cause: nothing is listening on " + srv + ":84, or a firewall rejected the connection (the host answered with a reset)",
		}},
		{fmt.Sprintf("%s:%d", srv, netlab.PortDropped), []string{
			"✗ connect  " + srv + ":81 no answer in 1 s",
			"TCP SYN trace to port 81: 1 " + netlab.Router1Addr + ", 2 " + netlab.Router2Addr + ", 3 ???; then silence",
			"cause: packets to TCP port 81 of " + srv + " are dropped after " + netlab.Router2Addr + " (hop 2), and nothing says so",
		}},
		{fmt.Sprintf("%s:%d", srv, netlab.PortOpen), []string{
			"✓ connect  " + srv + ":80 open",
		}},
	} {
		r := pingIn(t, lab.Client, binary, "diagnose", "-c", "1", "--timeout", "1s", tc.target)
		out := r.stdout
		for _, w := range tc.want {
			i := strings.Index(out, w)
			if i < 0 {
				t.Errorf("diagnose %s: no %q (in order) in:\n%s%s", tc.target, w, r.stdout, r.stderr)
				break
			}
			out = out[i+len(w):]
		}
		t.Logf("netkit diagnose %s\n%s", tc.target, r.stdout)
	}
}

// TestDiagnoseBlackHole is the MTU black hole of the lab: a netkit echo
// server behind a router whose 1300-byte link drops large packets and
// whose "fragmentation needed" is filtered. The TCP connect works, Go's TLS
// handshake stalls (the server's first flight is large), and diagnose says
// why instead of "does not answer TLS"; openssl s_client, whose handshake
// is small, gets through, as the issue measured.
func TestDiagnoseBlackHole(t *testing.T) {
	lab := netlab.New(t)
	lab.BlackHole(1300)
	addr := netlab.ServerAddr + ":65432"
	srv := exec.Command("ip", "netns", "exec", lab.Server, binary, "echo", "serve", "--listen", addr, "--cert-dir", t.TempDir())
	out, err := srv.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Process.Kill(); srv.Wait() })
	if _, err := bufio.NewReader(out).ReadString('\n'); err != nil {
		t.Fatalf("echo serve: %v", err)
	}
	if _, err := exec.LookPath("openssl"); err == nil {
		ref := pingIn(t, lab.Client, "sh", "-c", "openssl s_client -connect "+addr+" </dev/null")
		if ref.code != 0 || !strings.Contains(ref.stdout, "BEGIN CERTIFICATE") {
			t.Errorf("openssl s_client through the black hole: exit %d\n%s", ref.code, ref.stdout)
		}
	}
	r := pingIn(t, lab.Client, binary, "diagnose", "-c", "1", "--timeout", "1s", addr)
	for _, w := range []string{
		"✓ connect  " + addr + " open",
		"✗ tls      the TLS handshake stalled: packets over 130",
		"bytes are dropped between here and " + netlab.ServerAddr + ", and no router says so: an MTU black hole",
		"cause: packets larger than 130",
	} {
		if !strings.Contains(r.stdout, w) {
			t.Errorf("diagnose %s: no %q in:\n%s%s", addr, w, r.stdout, r.stderr)
		}
	}
	if r.code != exitFailed {
		t.Errorf("diagnose %s: exit %d, want 1", addr, r.code)
	}
	t.Logf("netkit diagnose %s\n%s", addr, r.stdout)
}

// TestDiagnoseUnheard runs diagnose without raw socket rights (user nobody)
// against the port the server rejects with admin-prohibited: the ICMP
// error cannot be heard, so the errno's wording stays, and the step says
// that who sent it could not be seen.
func TestDiagnoseUnheard(t *testing.T) {
	lab := netlab.New(t)
	bin := pingPublicBinary(t)
	target := fmt.Sprintf("%s:%d", netlab.ServerAddr, netlab.PortProhibited)
	r := pingIn(t, lab.Client, append(nobody, bin, "diagnose", "-c", "1", "--timeout", "1s", target)...)
	for _, w := range []string{
		"✗ connect  " + target + " no route to host",
		"who sent the ICMP error behind this could not be seen: hearing it needs raw socket rights (root or CAP_NET_RAW)",
		"cause: no route to the host " + netlab.ServerAddr,
	} {
		if !strings.Contains(r.stdout, w) {
			t.Errorf("diagnose %s as nobody: no %q in:\n%s%s", target, w, r.stdout, r.stderr)
		}
	}
}
