package cli

import (
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"
)

// pingServe accepts and closes connections on ln until the test ends.
func pingServe(t *testing.T, ln net.Listener) {
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
}

// pingListener returns the port of a listener on 127.0.0.1.
func pingListener(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	pingServe(t, ln)
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

// pingClosedPort returns a port on 127.0.0.1 that nothing listens on.
func pingClosedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

var pingNetnsSeq atomic.Int32

// pingNetns creates a network namespace with a name unique to this test
// process and its loopback up, deleted when the test ends.
func pingNetns(t *testing.T) string {
	t.Helper()
	pingNeedRoot(t)
	name := fmt.Sprintf("nkping%d-%d", os.Getpid(), pingNetnsSeq.Add(1))
	pingMust(t, "ip", "netns", "add", name)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", name).Run() })
	pingMust(t, "ip", "-n", name, "link", "set", "lo", "up")
	return name
}

// pingMust runs a setup command and fails the test if it fails.
func pingMust(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// pingInNetns runs f on an OS thread moved into namespace ns, so that the
// sockets f opens belong to ns; they keep working from any thread. The
// thread stays locked and exits with its goroutine, never to run other
// goroutines in the wrong namespace.
func pingInNetns(t *testing.T, ns string, f func() error) {
	t.Helper()
	errc := make(chan error, 1)
	go func() {
		// The thread enters ns only for f and then goes back: a thread left
		// in ns could be the main thread, which Go never ends, and every
		// later read of /proc/net by this test binary would see ns.
		runtime.LockOSThread()
		orig, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			errc <- err
			return
		}
		defer unix.Close(orig)
		fd, err := unix.Open("/run/netns/"+ns, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			errc <- err
			return
		}
		defer unix.Close(fd)
		if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("setns %s: %w", ns, err)
			return
		}
		ferr := f()
		if err := unix.Setns(orig, unix.CLONE_NEWNET); err != nil {
			// Leave the thread locked: Go ends it when this goroutine exits.
			errc <- fmt.Errorf("setns back from %s: %w", ns, err)
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

// pingIn runs the netkit binary (or another program) inside namespace ns,
// with a one-minute limit.
func pingIn(t *testing.T, ns string, args ...string) result {
	t.Helper()
	_, r := pingTimed(t, "ip", append([]string{"netns", "exec", ns}, args...)...)
	return r
}

// pingResponder answers the echo requests to 127.0.0.1 in a namespace whose
// kernel does not (icmp_echo_ignore_all): plan[seq] lists when to send
// each reply to request seq; a sequence number without a plan gets none.
func pingResponder(t *testing.T, ns string, plan map[int][]time.Duration) {
	t.Helper()
	pingMust(t, "ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv4.icmp_echo_ignore_all=1")
	var c net.PacketConn
	pingInNetns(t, ns, func() (err error) {
		c, err = net.ListenPacket("ip4:icmp", "127.0.0.1")
		return err
	})
	t.Cleanup(func() { c.Close() })
	go func() {
		buf := make([]byte, 1<<16)
		for {
			n, from, err := c.ReadFrom(buf)
			if err != nil {
				return
			}
			m, err := icmp.ParseMessage(1, buf[:n])
			if err != nil || m.Type != ipv4.ICMPTypeEcho {
				continue
			}
			echo := m.Body.(*icmp.Echo)
			reply, _ := (&icmp.Message{Type: ipv4.ICMPTypeEchoReply, Body: echo}).Marshal(nil)
			for _, d := range plan[echo.Seq] {
				time.AfterFunc(d, func() { c.WriteTo(reply, from) })
			}
		}
	}()
}

// TestPingLateDuplicateLost sends four probes to a responder that answers
// the first twice, the second after its timeout, the third never and the
// fourth at once, and checks ping's marks and counts for each. The probes
// are numbered from 1, one more than on the wire, as in iputils ping. The
// "no answer yet" lines are -O's; without it, as iputils, there are none.
func TestPingLateDuplicateLost(t *testing.T) {
	ns := pingNetns(t)
	// The plan is by wire sequence number, from 0.
	pingResponder(t, ns, map[int][]time.Duration{0: {0, 0}, 1: {450 * time.Millisecond}, 3: {0}})
	want := []string{
		`^PING 127\.0\.0\.1 \(127\.0\.0\.1\) 56\(84\) bytes of data\.$`,
		`^64 bytes from 127\.0\.0\.1: icmp_seq=1 ttl=64 time=\d+\.\d{3} ms$`,
		`^64 bytes from 127\.0\.0\.1: icmp_seq=1 ttl=64 time=\d+\.\d{3} ms \(DUP!\)$`,
		`^no answer yet for icmp_seq=2$`,
		`^64 bytes from 127\.0\.0\.1: icmp_seq=2 ttl=64 time=4\d\d\.\d{3} ms \(LATE!\)$`,
		`^no answer yet for icmp_seq=3$`,
		`^64 bytes from 127\.0\.0\.1: icmp_seq=4 ttl=64 time=\d+\.\d{3} ms$`,
		`^$`,
		`^--- 127\.0\.0\.1 ping statistics ---$`,
		`^4 packets transmitted, 2 received, \+1 duplicates, \+1 late, 50% packet loss, time \d+ms$`,
		`^rtt min/avg/max/mdev = `,
	}
	for _, outstanding := range []bool{true, false} {
		args := []string{binary, "ping", "-c", "4", "-i", "0.5", "-W", "0.3", "127.0.0.1"}
		w := want
		if outstanding {
			args = append(args, "-O")
		} else {
			w = slices.DeleteFunc(slices.Clone(want), func(re string) bool { return strings.HasPrefix(re, "^no answer yet") })
		}
		r := pingIn(t, ns, args...)
		if r.code != 0 {
			t.Errorf("-O %v: exit %d, want 0 (replies came): %s", outstanding, r.code, r.stderr)
		}
		lines := strings.Split(strings.TrimRight(r.stdout, "\n"), "\n")
		if len(lines) != len(w) {
			t.Fatalf("-O %v: %d lines, want %d:\n%s", outstanding, len(lines), len(w), r.stdout)
		}
		for i, re := range w {
			if !regexp.MustCompile(re).MatchString(lines[i]) {
				t.Errorf("-O %v: line %d %q does not match %s", outstanding, i+1, lines[i], re)
			}
		}
	}
	// Every kind of probe, as JSON: each matches its schema.
	args := []string{binary, "ping", "-c", "4", "-i", "0.5", "-W", "0.3", "127.0.0.1"}
	checkDocument(t, pingIn(t, ns, append(args, "--json")...), 0, "ping.json")
	checkLines(t, pingIn(t, ns, append(args, "--format", "jsonl")...), 0, "ping")
}

// pingPublicBinary copies the netkit binary where an unprivileged user may
// run it (TestMain builds it in a 0700 directory).
func pingPublicBinary(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("setpriv"); err != nil {
		t.Skip("setpriv not installed (util-linux)")
	}
	dir, err := os.MkdirTemp("", "netkit-public-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	src, err := os.Open(binary)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	path := filepath.Join(dir, "netkit")
	dst, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// nobody runs a command as user and group nobody with no supplementary
// groups and no capabilities.
var nobody = []string{"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"}

// TestPingPrivileges checks the three privilege cases for real: root (and
// an unprivileged user granted CAP_NET_RAW) use raw sockets; nobody in a
// namespace whose ping_group_range admits every group uses datagram
// sockets, like iputils ping there; nobody where the range admits no group
// gets the error that says how to fix it.
func TestPingPrivileges(t *testing.T) {
	pingNeedRoot(t)
	bin := pingPublicBinary(t)

	r := pingIn(t, pingNetns(t), bin, "ping", "-v", "-c", "1", "127.0.0.1")
	if r.code != 0 || !strings.Contains(r.stderr, "netkit: ping: sending with raw ICMP sockets") {
		t.Errorf("root: exit %d, stderr %q", r.code, r.stderr)
	}
	_, r = pingTimed(t, nobody[0], append(nobody[1:], "--inh-caps=+net_raw", "--ambient-caps=+net_raw", bin, "ping", "-v", "-c", "1", "127.0.0.1")...)
	if r.code != 0 || !strings.Contains(r.stderr, "sending with raw ICMP sockets") {
		t.Errorf("nobody with CAP_NET_RAW: exit %d, stderr %q", r.code, r.stderr)
	}

	ns := pingNetns(t)
	pingMust(t, "ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv4.ping_group_range=0 2147483647")
	for _, host := range []string{"127.0.0.1", "::1"} {
		r = pingIn(t, ns, append(nobody, bin, "ping", "-v", "-c", "2", "-i", "0.2", host)...)
		if r.code != 0 || !strings.Contains(r.stderr, "sending with unprivileged ICMP datagram sockets") ||
			!strings.Contains(r.stdout, "2 packets transmitted, 2 received, 0% packet loss") {
			t.Errorf("nobody, datagram, %s: exit %d\n%s%s", host, r.code, r.stdout, r.stderr)
		}
		if _, err := exec.LookPath("ping"); err == nil {
			ref := pingIn(t, ns, append(nobody, "ping", "-c", "2", "-i", "0.2", host)...)
			if ref.code != 0 || !strings.Contains(ref.stdout, "2 packets transmitted, 2 received, 0% packet loss") {
				t.Errorf("iputils ping as nobody in the same namespace: exit %d\n%s%s", ref.code, ref.stdout, ref.stderr)
			}
		}
	}
	// Intervals: iputils ping lets users go down to 2 ms, and so does
	// netkit; TCP probes have no limit.
	r = pingIn(t, ns, append(nobody, bin, "ping", "-q", "-c", "2", "-i", "0.05", "127.0.0.1")...)
	if r.code != 0 || !strings.Contains(r.stdout, "2 packets transmitted, 2 received, 0% packet loss") {
		t.Errorf("nobody, datagram, -i 0.05: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if _, err := exec.LookPath("ping"); err == nil {
		ref := pingIn(t, ns, append(nobody, "ping", "-q", "-c", "2", "-i", "0.05", "127.0.0.1")...)
		refFlood := pingIn(t, ns, append(nobody, "ping", "-q", "-c", "2", "-i", "0.001", "127.0.0.1")...)
		if ref.code != 0 || refFlood.code != exitError {
			t.Errorf("iputils ping as nobody: -i 0.05 exit %d, -i 0.001 exit %d; want 0 and 2", ref.code, refFlood.code)
		}
	}
	r = pingIn(t, ns, append(nobody, bin, "ping", "-c", "1", "-i", "0.001", "127.0.0.1")...)
	assertOneLineError(t, r, "invalid -i 1ms: below 2ms is a flood: it needs root or CAP_NET_RAW (iputils ping: root)")
	var ln net.Listener
	pingInNetns(t, ns, func() (err error) {
		ln, err = net.Listen("tcp4", "127.0.0.1:0")
		return err
	})
	pingServe(t, ln)
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	r = pingIn(t, ns, append(nobody, bin, "ping", "-q", "--tcp", port, "-c", "3", "-i", "0.001", "127.0.0.1")...)
	if r.code != 0 || !strings.Contains(r.stdout, "3 probes transmitted, 3 received") {
		t.Errorf("nobody, --tcp -i 0.001: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	rng, _ := os.ReadFile("/proc/sys/net/ipv4/ping_group_range")
	if f := strings.Fields(string(rng)); len(f) == 2 && f[0] <= "65534" && f[0] != "1" {
		t.Logf("ping_group_range here is %q: nobody may ping, the error case is not testable", rng)
		return
	}
	_, r = pingTimed(t, nobody[0], append(nobody[1:], bin, "ping", "-c", "1", "127.0.0.1")...)
	lines := strings.Split(strings.TrimRight(r.stderr, "\n"), "\n")
	wantFirst := "netkit: ping: ICMP (IPv4) not permitted: raw socket: operation not permitted (needs root or CAP_NET_RAW); " +
		"datagram socket: permission denied (group 65534 is not in net.ipv4.ping_group_range \"" + strings.Join(strings.Fields(string(rng)), " ") + "\")"
	if r.code != exitError || len(lines) != 3 || lines[0] != wantFirst ||
		!strings.Contains(lines[2], `sysctl -w net.ipv4.ping_group_range="0 2147483647"`) || !strings.Contains(lines[2], "setcap cap_net_raw+ep") {
		t.Errorf("nobody, no privilege: exit %d, stderr:\n%s\nwant first line:\n%s", r.code, r.stderr, wantFirst)
	}
}

// pingLab builds three namespaces, client - router - server, and returns
// the client's. The server has 10.44.2.2, whose ICMP echo requests and TCP
// port 81 a firewall drops and where port 80 listens, and 10.44.2.3, which
// answers pings; port 82 is closed. Traffic only flows between these
// namespaces.
func pingLab(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("nft"); err != nil {
		t.Skip("nft not installed (apt-get install nftables)")
	}
	cli, rtr, srv := pingNetns(t), pingNetns(t), pingNetns(t)
	for _, c := range [][]string{
		{"-n", cli, "link", "add", "c0", "type", "veth", "peer", "name", "r0", "netns", rtr},
		{"-n", rtr, "link", "add", "r1", "type", "veth", "peer", "name", "s1", "netns", srv},
		{"-n", cli, "addr", "add", "10.44.1.2/24", "dev", "c0"},
		{"-n", cli, "link", "set", "c0", "up"},
		{"-n", cli, "route", "add", "default", "via", "10.44.1.1"},
		{"-n", rtr, "addr", "add", "10.44.1.1/24", "dev", "r0"},
		{"-n", rtr, "addr", "add", "10.44.2.1/24", "dev", "r1"},
		{"-n", rtr, "link", "set", "r0", "up"},
		{"-n", rtr, "link", "set", "r1", "up"},
		{"-n", srv, "addr", "add", "10.44.2.2/24", "dev", "s1"},
		{"-n", srv, "addr", "add", "10.44.2.3/24", "dev", "s1"},
		{"-n", srv, "link", "set", "s1", "up"},
		{"-n", srv, "route", "add", "default", "via", "10.44.2.1"},
	} {
		pingMust(t, "ip", c...)
	}
	pingMust(t, "ip", "netns", "exec", rtr, "sysctl", "-qw", "net.ipv4.ip_forward=1")
	rules := filepath.Join(t.TempDir(), "rules.nft")
	os.WriteFile(rules, []byte(`table inet netkit_ping_test {
	chain input {
		type filter hook input priority 0; policy accept;
		ip daddr 10.44.2.2 icmp type echo-request drop
		tcp dport 81 drop
	}
}
`), 0o644)
	pingMust(t, "ip", "netns", "exec", srv, "nft", "-f", rules)
	var ln net.Listener
	pingInNetns(t, srv, func() (err error) {
		ln, err = net.Listen("tcp4", "10.44.2.2:80")
		return err
	})
	pingServe(t, ln)
	return cli
}

// TestPingFiltered is the case --tcp is for: a firewall drops ICMP while
// the service behind it is fine. It also checks -t against a router, and
// the table and exit code of several hosts when one is unreachable.
func TestPingFiltered(t *testing.T) {
	ns := pingLab(t)
	// The error, then its explanation: ICMP-NO-REPLY for ICMP, TIMEOUT for
	// TCP connects.
	icmpNoReply := func(host string) string {
		return "  cause: no ICMP echo reply from " + host + ": a firewall may drop ICMP, or the host is down\n" +
			"  next:  rely on the TCP connect: a host that accepts or refuses a connection is up ('netkit ping --tcp PORT " + host + "')\n"
	}
	for _, tc := range []struct {
		args   []string
		code   int
		want   []string
		stderr string // how stderr starts, when the case sets it
	}{
		{[]string{"-c", "2", "-i", "0.2", "-W", "0.5", "10.44.2.2"}, 1,
			[]string{"2 packets transmitted, 0 received, 100% packet loss"},
			"netkit: ping: no reply from 10.44.2.2\n" + icmpNoReply("10.44.2.2")},
		{[]string{"-O", "-c", "2", "-i", "0.2", "-W", "0.5", "10.44.2.2"}, 1,
			[]string{"no answer yet for icmp_seq=1", "no answer yet for icmp_seq=2"}, ""},
		{[]string{"--tcp", "80", "-c", "2", "-i", "0.2", "10.44.2.2"}, 0,
			[]string{"from 10.44.2.2:80: tcp_seq=1 open time=", "2 probes transmitted, 2 received, 0% probe loss", "port 80: 2 open, 0 closed"}, ""},
		{[]string{"--tcp", "82", "-c", "1", "10.44.2.2"}, 0,
			[]string{"from 10.44.2.2:82: tcp_seq=1 closed time=", "port 82: 0 open, 1 closed"}, ""},
		{[]string{"--tcp", "81", "-c", "1", "-W", "0.5", "10.44.2.2"}, 1,
			[]string{"1 probes transmitted, 0 received, 100% probe loss"},
			"netkit: ping: no reply from 10.44.2.2 on port 81\n  cause: no answer from 10.44.2.2:81 before the deadline: packets are dropped on the way, the host is down, or it is too slow\n"},
		// TTL 1 dies at the router: pro-bing's socket filter drops the ICMP
		// time exceeded (iputils prints it), so the probe times out; TCP
		// gets it as an error. TTL 2 arrives, and the reply crossed the
		// router (ttl=63).
		{[]string{"-O", "-c", "1", "-t", "1", "-W", "0.5", "10.44.2.3"}, 1, []string{"no answer yet for icmp_seq=1"}, ""},
		{[]string{"-c", "1", "-t", "2", "10.44.2.3"}, 0, []string{"icmp_seq=1 ttl=63 time="}, ""},
		{[]string{"--tcp", "80", "-c", "1", "-t", "1", "10.44.2.2"}, 1,
			[]string{"error for tcp_seq=1: dial tcp 10.44.2.2:80: connect: no route to host", "+1 errors"}, ""},
	} {
		r := pingIn(t, ns, append([]string{binary, "ping"}, tc.args...)...)
		if r.code != tc.code {
			t.Errorf("ping %v: exit %d, want %d; stderr %q", tc.args, r.code, tc.code, r.stderr)
		}
		for _, w := range tc.want {
			if !strings.Contains(r.stdout, w) {
				t.Errorf("ping %v: output lacks %q:\n%s", tc.args, w, r.stdout)
			}
		}
		if tc.stderr != "" && !strings.HasPrefix(r.stderr, tc.stderr) {
			t.Errorf("ping %v: stderr\n%s\nwant it to start with\n%s", tc.args, r.stderr, tc.stderr)
		}
		if !slices.Contains(tc.args, "-O") && strings.Contains(r.stdout, "no answer yet") {
			t.Errorf("ping %v: 'no answer yet' lines without -O:\n%s", tc.args, r.stdout)
		}
	}
	if _, err := exec.LookPath("ping"); err == nil {
		r := pingIn(t, ns, "ping", "-n", "-c", "1", "-t", "1", "10.44.2.3")
		if r.code != 1 || !strings.Contains(r.stdout, "Time to live exceeded") {
			t.Errorf("iputils ping -t 1: exit %d\n%s", r.code, r.stdout)
		}
	}

	r := pingIn(t, ns, binary, "ping", "-c", "2", "-i", "0.2", "-W", "0.5", "10.44.2.2", "10.44.2.3")
	if r.code != exitFailed {
		t.Errorf("two hosts, one unreachable: exit %d, want 1 (as fping)", r.code)
	}
	rows := pingTableRows(r.stdout)
	if f := rows["10.44.2.2"]; len(f) != 9 || f[3] != "0" || f[4] != "100" || f[5] != "-" || f[8] != "unreachable" {
		t.Errorf("10.44.2.2 row %v:\n%s", f, r.stdout)
	}
	if f := rows["10.44.2.3"]; len(f) != 9 || f[3] != "2" || f[8] != "alive" {
		t.Errorf("10.44.2.3 row %v:\n%s", f, r.stdout)
	}
	if want := "netkit: ping: 1 of 2 hosts did not reply\n" + icmpNoReply("10.44.2.2"); r.stderr != want {
		t.Errorf("two hosts, one unreachable: stderr %q, want %q", r.stderr, want)
	}

	// The same as JSON, and the TCP probe that got a network error: each
	// matches its schema (no RTT without a reply, the error of the probe).
	checkDocument(t, pingIn(t, ns, binary, "ping", "-c", "2", "-i", "0.2", "-W", "0.5", "10.44.2.2", "10.44.2.3", "--json"), exitFailed, "ping.json")
	checkLines(t, pingIn(t, ns, binary, "ping", "-O", "-c", "1", "-t", "1", "-W", "0.5", "10.44.2.3", "--format", "jsonl"), exitFailed, "ping")
	checkDocument(t, pingIn(t, ns, binary, "ping", "--tcp", "80", "-c", "1", "-t", "1", "10.44.2.2", "--json"), exitFailed, "ping.json")
	checkLines(t, pingIn(t, ns, binary, "ping", "--tcp", "81", "-c", "1", "-W", "0.5", "10.44.2.2", "--format", "jsonl"), exitFailed, "ping")
}
