package cli

import (
	"encoding/json"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/netkit/netkit/internal/netlab"
	"github.com/netkit/netkit/internal/testenv"
	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
)

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
	netlab.Must(t, "ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv4.icmp_echo_ignore_all=1")
	var c net.PacketConn
	netlab.Do(t, ns, func() (err error) {
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
	ns := netlab.Netns(t, "ping")
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

	r := pingIn(t, netlab.Netns(t, "ping"), bin, "ping", "-v", "-c", "1", "127.0.0.1")
	if r.code != 0 || !strings.Contains(r.stderr, "netkit: ping: sending with raw ICMP sockets") {
		t.Errorf("root: exit %d, stderr %q", r.code, r.stderr)
	}
	_, r = pingTimed(t, nobody[0], append(nobody[1:], "--inh-caps=+net_raw", "--ambient-caps=+net_raw", bin, "ping", "-v", "-c", "1", "127.0.0.1")...)
	if r.code != 0 || !strings.Contains(r.stderr, "sending with raw ICMP sockets") {
		t.Errorf("nobody with CAP_NET_RAW: exit %d, stderr %q", r.code, r.stderr)
	}

	ns := netlab.Netns(t, "ping")
	netlab.Must(t, "ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv4.ping_group_range=0 2147483647")
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
	port := strconv.Itoa(netlab.Listen(t, ns, "127.0.0.1:0").Addr().(*net.TCPAddr).Port)
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

// TestPingFiltered is the case --tcp is for: a firewall drops ICMP while
// the service behind it is fine. It also checks -t against the routers,
// and the table and exit code of several hosts when one is unreachable.
func TestPingFiltered(t *testing.T) {
	lab := netlab.New(t)
	ns := lab.Client
	// The error, then its explanation: ICMP-NO-REPLY for ICMP, TIMEOUT for
	// TCP connects.
	icmpNoReply := func(host string) string {
		return "  cause: no ICMP echo reply from " + host + ": a firewall may drop ICMP, or the host is down\n" +
			"  next:  rely on the TCP connect: a host that accepts or refuses a connection is up ('netkit ping --tcp PORT " + host + "')\n"
	}
	dropped, alive := netlab.ServerNoICMP, netlab.ServerAddr
	// First: router1's net unreachable is rate limited (see netlab).
	r := pingIn(t, ns, binary, "ping", "-c", "2", "-i", "0.2", "-W", "0.5", dropped, alive, netlab.Unroutable)
	if r.code != exitFailed {
		t.Errorf("three hosts, two unreachable: exit %d, want 1 (as fping)", r.code)
	}
	rows := pingTableRows(r.stdout)
	if f := rows[dropped]; len(f) != 10 || f[3] != "0" || f[4] != "100" || f[5] != "0" || f[6] != "-" || f[9] != "unreachable" {
		t.Errorf("%s row %v:\n%s", dropped, f, r.stdout)
	}
	if f := rows[alive]; len(f) != 10 || f[3] != "2" || f[5] != "0" || f[9] != "alive" {
		t.Errorf("%s row %v:\n%s", alive, f, r.stdout)
	}
	if f := rows[netlab.Unroutable]; len(f) != 10 || f[3] != "0" || f[5] != "2" || f[9] != "unreachable" {
		t.Errorf("%s row %v:\n%s", netlab.Unroutable, f, r.stdout)
	}
	want := "netkit: ping: no reply from " + netlab.Unroutable + "; " + netlab.Router1Addr + " answered: Destination Net Unreachable\n" +
		"  cause: router " + netlab.Router1Addr + " has no route to " + netlab.Unroutable + " (ICMP net unreachable): packets go no further than " + netlab.Router1Addr + "\n" +
		"  next:  check the routes of " + netlab.Router1Addr + " ('ip route get " + netlab.Unroutable + "' there) and that " + netlab.Unroutable + " is the address you meant; 'netkit trace " + netlab.Unroutable + "' shows how far packets get\n" +
		"netkit: ping: 1 of 3 hosts did not reply\n" + icmpNoReply(dropped)
	if r.stderr != want {
		t.Errorf("three hosts: stderr\n%s\nwant\n%s", r.stderr, want)
	}

	for _, tc := range []struct {
		args   []string
		code   int
		want   []string
		stderr string // how stderr starts, when the case sets it
	}{
		{[]string{"-c", "2", "-i", "0.2", "-W", "0.5", dropped}, 1,
			[]string{"2 packets transmitted, 0 received, 100% packet loss"},
			"netkit: ping: no reply from " + dropped + "\n" + icmpNoReply(dropped)},
		{[]string{"-O", "-c", "2", "-i", "0.2", "-W", "0.5", dropped}, 1,
			[]string{"no answer yet for icmp_seq=1", "no answer yet for icmp_seq=2"}, ""},
		{[]string{"--tcp", "80", "-c", "2", "-i", "0.2", dropped}, 0,
			[]string{"from " + dropped + ":80: tcp_seq=1 open time=", "2 probes transmitted, 2 received, 0% probe loss", "port 80: 2 open, 0 closed"}, ""},
		{[]string{"--tcp", "85", "-c", "1", dropped}, 0,
			[]string{"from " + dropped + ":85: tcp_seq=1 closed time=", "port 85: 0 open, 1 closed"}, ""},
		{[]string{"--tcp", "81", "-c", "1", "-W", "0.5", dropped}, 1,
			[]string{"1 probes transmitted, 0 received, 100% probe loss"},
			"netkit: ping: no reply from " + dropped + " on port 81\n  cause: no answer from " + dropped + ":81 before the deadline: packets are dropped on the way, the host is down, or it is too slow\n"},
		// TTL 2 dies at router2, which says so; TTL 3 arrives, and the
		// reply crossed both routers (ttl=62).
		{[]string{"-c", "1", "-t", "2", "-W", "0.5", alive}, 1, []string{"From " + netlab.Router2Addr + " icmp_seq=1 Time to live exceeded", "+1 errors"},
			"netkit: ping: no reply from " + alive + "; " + netlab.Router2Addr + " answered: Time to live exceeded\n  cause: the packets' TTL (hop limit) ran out at router " + netlab.Router2Addr},
		{[]string{"-c", "1", "-t", "3", alive}, 0, []string{"icmp_seq=1 ttl=62 time="}, ""},
		// --tcp names the ICMP error that ended a connect, and its sender.
		{[]string{"--tcp", "82", "-c", "1", alive}, 1, []string{"From " + alive + " tcp_seq=1 Packet filtered", "+1 errors"},
			"netkit: ping: no reply from " + alive + " on port 82; " + alive + " answered: Packet filtered\n  cause: " + alive + " itself rejects TCP port 82 with ICMP administratively prohibited: a firewall rule on that host"},
		{[]string{"--tcp", "80", "-c", "1", "-t", "1", alive}, 1, []string{"From " + netlab.Router1Addr + " tcp_seq=1 Time to live exceeded"}, ""},
	} {
		r = pingIn(t, ns, append([]string{binary, "ping"}, tc.args...)...)
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

}

// TestPingICMPErrors compares netkit ping with iputils ping, line by line
// (times aside), where routers and the server answer with ICMP errors:
// no route (router1), TTL exceeded (router1, router2), a firewall's
// admin-prohibited (the server), in IPv4 and IPv6. The exit codes and
// statistics match too; --json carries each error's type, code and
// sender, and the explanation says who said what.
func TestPingICMPErrors(t *testing.T) {
	testenv.NeedTool(t, "ping")
	lab := netlab.New(t)
	times := regexp.MustCompile(`time[= ]\d+(\.\d+)?\s?ms`)
	for _, tc := range []struct {
		args []string
		who  string // what the explanation's cause starts with
	}{
		{[]string{"-c", "2", "-i", "0.2", "-W", "1", netlab.Unroutable}, "router " + netlab.Router1Addr + " has no route to " + netlab.Unroutable},
		{[]string{"-c", "2", "-i", "0.2", "-W", "1", netlab.Unroutable6}, "router " + netlab.Router16Addr + " has no route to " + netlab.Unroutable6},
		{[]string{"-c", "2", "-i", "0.2", "-W", "1", "-t", "1", netlab.ServerAddr}, "the packets' TTL (hop limit) ran out at router " + netlab.Router1Addr},
		{[]string{"-c", "1", "-W", "1", "-t", "2", netlab.Server6Addr}, "the packets' TTL (hop limit) ran out at router " + netlab.Router26Addr},
		{[]string{"-c", "2", "-i", "0.2", "-W", "1", netlab.ServerRejectICMP}, netlab.ServerRejectICMP + " itself rejects ICMP packets with ICMP administratively prohibited: a firewall rule on that host"},
	} {
		ref := pingIn(t, lab.Client, append([]string{"ping", "-n"}, tc.args...)...)
		r := pingIn(t, lab.Client, append([]string{binary, "ping"}, tc.args...)...)
		if r.code != ref.code {
			t.Errorf("ping %v: exit %d, iputils %d", tc.args, r.code, ref.code)
		}
		got, want := times.ReplaceAllString(r.stdout, "time T"), times.ReplaceAllString(ref.stdout, "time T")
		if got != want {
			t.Errorf("ping %v:\n%q\niputils ping:\n%q", tc.args, got, want)
		}
		if !strings.Contains(r.stderr, "  cause: "+tc.who) {
			t.Errorf("ping %v: stderr %q lacks the cause %q", tc.args, r.stderr, tc.who)
		}
	}

	r := pingIn(t, lab.Client, binary, "ping", "--json", "-c", "1", "-t", "1", netlab.ServerAddr)
	var doc struct {
		Targets []struct {
			Errors int `json:"errors"`
			Probes []struct {
				Kind string `json:"kind"`
				From string `json:"from"`
				ICMP struct {
					Type, Code int
					From, Kind string
				} `json:"icmp"`
			} `json:"probes"`
		} `json:"targets"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatalf("--json: %v\n%s", err, r.stdout)
	}
	if tg := doc.Targets[0]; tg.Errors != 1 || len(tg.Probes) != 1 || tg.Probes[0].Kind != "error" || tg.Probes[0].From != netlab.Router1Addr ||
		tg.Probes[0].ICMP.Type != 11 || tg.Probes[0].ICMP.Code != 0 || tg.Probes[0].ICMP.From != netlab.Router1Addr || tg.Probes[0].ICMP.Kind != "time-exceeded" {
		t.Errorf("--json -t 1:\n%s", r.stdout)
	}

	// The same as JSON, and the TCP probes that got a network error: each
	// matches its schema (no RTT without a reply, the error of the probe).
	checkDocument(t, pingIn(t, lab.Client, binary, "ping", "-c", "2", "-i", "0.2", "-W", "0.5", netlab.ServerNoICMP, netlab.ServerAddr, "--json"), exitFailed, "ping.json")
	checkLines(t, pingIn(t, lab.Client, binary, "ping", "-O", "-c", "1", "-t", "1", "-W", "0.5", netlab.ServerAddr, "--format", "jsonl"), exitFailed, "ping")
	checkDocument(t, pingIn(t, lab.Client, binary, "ping", "--tcp", strconv.Itoa(netlab.PortProhibited), "-c", "1", netlab.ServerAddr, "--json"), exitFailed, "ping.json")
	checkLines(t, pingIn(t, lab.Client, binary, "ping", "--tcp", strconv.Itoa(netlab.PortDropped), "-c", "1", "-W", "0.5", netlab.ServerAddr, "--format", "jsonl"), exitFailed, "ping")
}
