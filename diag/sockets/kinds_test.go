package sockets

import (
	"cmp"
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// needSS skips a test that compares with ss when ss is not installed,
// and under -short.
func needSS(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("compares with ss: not under -short")
	}
	if _, err := exec.LookPath("ss"); err != nil {
		t.Skip("ss (iproute2) is not installed: the comparison needs it (.ci/run installs it)")
	}
}

// ssLines runs ss with args and returns the fields of each line.
func ssLines(t *testing.T, args ...string) [][]string {
	t.Helper()
	out, err := exec.Command("ss", args...).Output()
	if err != nil {
		t.Fatalf("ss %s: %v", strings.Join(args, " "), err)
	}
	var lines [][]string
	for l := range strings.SplitSeq(strings.TrimSpace(string(out)), "\n") {
		if f := strings.Fields(l); len(f) > 0 {
			lines = append(lines, f)
		}
	}
	return lines
}

// testUnixSockets opens UNIX sockets of each kind, closed when t ends: a
// stream listener on a path with a connection accepted (5 bytes sent to
// the server's end, unread) and one waiting in its accept queue, a
// datagram socket on an abstract name, and stream and seqpacket
// socketpairs. It returns the listener's path and the abstract name.
func testUnixSockets(t *testing.T) (path, abstract string) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "nk.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	c, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if _, err := c.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	queued, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { queued.Close() })
	abstract = fmt.Sprintf("@nkunix%d", os.Getpid())
	d, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: abstract, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	for _, typ := range []int{syscall.SOCK_STREAM, syscall.SOCK_SEQPACKET} {
		fds, err := syscall.Socketpair(syscall.AF_UNIX, typ|syscall.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { syscall.Close(fds[0]); syscall.Close(fds[1]) })
	}
	return path, abstract
}

// ownInodes are the inodes of the sockets this process holds.
func ownInodes(t *testing.T) map[uint64]bool {
	t.Helper()
	inodes := map[uint64]bool{}
	_, err := walkSocketFDs(context.Background(), []int{os.Getpid()}, func(_, _ int, inode uint64) { inodes[inode] = true })
	if err != nil {
		t.Fatal(err)
	}
	return inodes
}

// unixNetids are ss's names of the UNIX socket types.
var unixNetids = map[string]string{"u_str": "stream", "u_dgr": "dgram", "u_seq": "seqpacket"}

// TestListUnixMatchesSS lists the test's UNIX sockets with netkit and with
// 'ss -xap': type, state, queues, name, inode, the peer's inode and the
// owner must agree, and each connected socket's peer must be the other
// end.
func TestListUnixMatchesSS(t *testing.T) {
	needSS(t)
	path, abstract := testUnixSockets(t)
	own := ownInodes(t)
	list, err := List(context.Background(), Query{Unix: true})
	if err != nil {
		t.Fatal(err)
	}
	byInode := map[uint64]Socket{}
	var got []string
	for _, s := range list.Sockets {
		if s.Proto != ProtoUnix || s.Family != "unix" || s.Local.IsValid() {
			t.Errorf("UNIX socket %+v", s)
		}
		if !own[s.Inode] {
			continue
		}
		byInode[s.Inode] = s
		got = append(got, fmt.Sprintf("%s %s %d %d %q %d %d pid=%d", s.Type, s.State, s.RecvQ, s.SendQ, s.Path, s.Inode, s.PeerInode, s.PID))
	}
	// Netid State Recv-Q Send-Q Local Inode Peer PeerInode users:(("prog",pid=N,fd=M))
	var want []string
	for _, f := range ssLines(t, "-H", "-x", "-a", "-n", "-p") {
		inode, _ := strconv.ParseUint(f[5], 10, 64)
		if len(f) < 8 || !own[inode] {
			continue
		}
		st, err := ParseState(f[1])
		if err != nil {
			t.Fatal(err)
		}
		name := f[4]
		if name == "*" {
			name = ""
		}
		pid := 0
		if m := ssPID.FindStringSubmatch(strings.Join(f[8:], " ")); m != nil {
			pid, _ = strconv.Atoi(m[1])
		}
		want = append(want, fmt.Sprintf("%s %s %s %s %q %s %s pid=%d", unixNetids[f[0]], st, f[2], f[3], name, f[5], f[7], pid))
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("netkit and ss differ\nnetkit:\n  %s\nss:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	// Nine sockets: the listener, the accepted end and its client, the
	// queued client, the datagram socket and two pairs.
	if len(got) != 9 {
		t.Errorf("want the test's 9 UNIX sockets, got %d", len(got))
	}
	kinds := map[string]int{}
	for _, s := range byInode {
		switch {
		case s.State == StateListen:
			kinds["listener on path"] += btoi(s.Path == path && s.Type == "stream" && s.RecvQ == 1)
		case s.Type == "dgram":
			kinds["abstract dgram"] += btoi(s.Path == abstract && s.State == StateUnconn)
		case s.PeerInode != 0:
			peer, ok := byInode[s.PeerInode]
			if !ok || peer.PeerInode != s.Inode || peer.Path != s.PeerPath {
				t.Errorf("socket %d: peer %d is not paired back: %+v", s.Inode, s.PeerInode, peer)
			}
			kinds["paired "+s.Type]++
		}
	}
	// The queued client's peer is the embryo the listener holds, which
	// is not a socket of its own yet (ss shows 0 too).
	want2 := map[string]int{"listener on path": 1, "abstract dgram": 1, "paired stream": 4, "paired seqpacket": 2}
	for k, n := range want2 {
		if kinds[k] != n {
			t.Errorf("%d %s, want %d (%v)", kinds[k], k, n, kinds)
		}
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestWhoHoldsPath asks who holds the test's UNIX socket path and abstract
// name: the listener, the connection it accepted and the clients, all this
// process; a path nothing is bound to has no holders.
func TestWhoHoldsPath(t *testing.T) {
	path, abstract := testUnixSockets(t)
	rep, err := WhoHoldsPath(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, h := range rep.Holders {
		if h.PID != os.Getpid() {
			t.Errorf("holder %+v, want this process", h)
		}
		role := "client"
		if h.Socket.Path == path {
			role = "bound"
		}
		got = append(got, role+" "+string(h.Socket.State))
	}
	slices.Sort(got)
	want := []string{"bound ESTABLISHED", "bound LISTEN", "client ESTABLISHED"}
	if !slices.Equal(got, want) || rep.Path != path || rep.Port != 0 {
		t.Errorf("holders of %s: %q, want %q (the queued client's peer is not accepted yet)", path, got, want)
	}
	rep, err = WhoHoldsPath(context.Background(), abstract)
	if err != nil || len(rep.Holders) != 1 || rep.Holders[0].Socket.Type != "dgram" {
		t.Errorf("holders of %s: %v %+v", abstract, err, rep)
	}
	// Relative to the working directory, as it was not bound.
	t.Chdir(filepath.Dir(path))
	rep, err = WhoHoldsPath(context.Background(), filepath.Base(path))
	if err != nil || len(rep.Holders) != 3 {
		t.Errorf("holders of %s from %s: %v %+v", filepath.Base(path), filepath.Dir(path), err, rep)
	}
	rep, err = WhoHoldsPath(context.Background(), path+"*")
	if err != nil || len(rep.Holders) != 0 {
		t.Errorf("a path with a glob character is matched as a pattern: %v %+v", err, rep)
	}
}

// TestListRawMatchesSS opens raw ICMP and ICMPv6 sockets and lists them
// with netkit and with 'ss -wanp'.
func TestListRawMatchesSS(t *testing.T) {
	needSS(t)
	if os.Geteuid() != 0 {
		t.Skip("raw sockets need root")
	}
	for _, fam := range []struct{ af, proto int }{{syscall.AF_INET, syscall.IPPROTO_ICMP}, {syscall.AF_INET6, syscall.IPPROTO_ICMPV6}} {
		fd, err := syscall.Socket(fam.af, syscall.SOCK_RAW|syscall.SOCK_CLOEXEC, fam.proto)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { syscall.Close(fd) })
	}
	own := ownInodes(t)
	fds := map[int]uint64{}
	walkSocketFDs(context.Background(), []int{os.Getpid()}, func(_, fd int, inode uint64) { fds[fd] = inode })
	list, err := List(context.Background(), Query{Raw: true})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range list.Sockets {
		if own[s.Inode] {
			got = append(got, fmt.Sprintf("%s %s %s %d pid=%d", s.State, wildcard(s.Local), wildcard(s.Remote), s.Inode, s.PID))
		}
	}
	// ss -w has no inodes: its rows are this process's by pid and fd.
	var want []string
	self := regexp.MustCompile(`pid=` + strconv.Itoa(os.Getpid()) + `,fd=(\d+)\)`)
	for _, f := range ssLines(t, "-H", "-w", "-a", "-n", "-p") {
		m := self.FindStringSubmatch(strings.Join(f, " "))
		if m == nil {
			continue
		}
		fd, _ := strconv.Atoi(m[1])
		inode := fds[fd]
		st, err := ParseState(f[0])
		if err != nil {
			t.Fatal(err)
		}
		local, _ := ssAddr(t, f[3])
		remote, _ := ssAddr(t, f[4])
		pid := 0
		if p := ssPID.FindStringSubmatch(strings.Join(f, " ")); p != nil {
			pid, _ = strconv.Atoi(p[1])
		}
		want = append(want, fmt.Sprintf("%s %s %s %d pid=%d", st, local, remote, inode, pid))
	}
	slices.Sort(got)
	slices.Sort(want)
	if len(got) != 2 || !slices.Equal(got, want) {
		t.Errorf("netkit and ss differ\nnetkit:\n  %s\nss:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	wantLocal := []string{"*:1", "*:58"} // the protocol numbers of ICMP and ICMPv6
	for i, g := range got {
		if strings.Fields(g)[1] != wantLocal[i] {
			t.Errorf("raw socket %s, want local address %s", g, wantLocal[i])
		}
	}
}

// ssTimer matches ss's timer column, "timer:(keepalive,14sec,0)", and
// ssDuration ss's durations: "1min28sec", "14sec", "2.500ms" (2.5 s),
// "200ms".
var (
	ssTimer    = regexp.MustCompile(`timer:\((\w+),([^,]*),(\d+)\)`)
	ssDuration = regexp.MustCompile(`^(?:(\d+)min)?(?:(\d+)(sec|\.))?(?:(\d+)ms)?$`)
)

// ssTimerNames maps ss's timer names to netkit's.
var ssTimerNames = map[string]Timer{"on": TimerRetransmit, "keepalive": TimerKeepalive, "timewait": TimerTimeWait, "persist": TimerZeroWindowProbe}

// parseSSDuration reads an ss duration; ss writes a timer that is due as
// "".
func parseSSDuration(t *testing.T, s string) time.Duration {
	t.Helper()
	m := ssDuration.FindStringSubmatch(s)
	if m == nil {
		t.Fatalf("ss duration %q", s)
	}
	n := func(s string) time.Duration { v, _ := strconv.Atoi(s); return time.Duration(v) }
	return n(m[1])*time.Minute + n(m[2])*time.Second + n(m[4])*time.Millisecond
}

// ssTimers reads 'ss -tano' (with extra args) into "local remote timer
// count" per socket, and the time left on each.
func ssTimers(t *testing.T, args ...string) map[string]time.Duration {
	t.Helper()
	timers := map[string]time.Duration{}
	for _, f := range ssLines(t, append(args, "-H", "-t", "-a", "-n", "-o")...) {
		if len(f) < 5 {
			continue
		}
		local, _ := ssAddr(t, f[3])
		remote, _ := ssAddr(t, f[4])
		key := local + " " + remote + " -"
		var left time.Duration
		if m := ssTimer.FindStringSubmatch(strings.Join(f, " ")); m != nil {
			key = local + " " + remote + " " + string(ssTimerNames[m[1]]) + " " + m[3]
			left = parseSSDuration(t, m[2])
		}
		timers[key] = left
	}
	return timers
}

// TestTimersMatchSS lists the timers of the test's sockets with netkit and
// with 'ss -tano': a keepalive on each established end (Go turns
// keepalives on every 15 s), the client in TIME_WAIT, none on the
// listeners. The times left must agree within a second.
func TestTimersMatchSS(t *testing.T) {
	needSS(t)
	ts := openTestSockets(t)
	waitTimeWait(t, ts)
	list, err := List(context.Background(), Query{TCP: true, SkipOwners: true})
	if err != nil {
		t.Fatal(err)
	}
	want := ssTimers(t)
	seen := map[Timer]int{}
	for _, s := range list.Sockets {
		if !ts.owns(s.Local, s.Remote) {
			continue
		}
		key := wildcard(s.Local) + " " + wildcard(s.Remote) + " -"
		if s.Timer != TimerNone {
			key = wildcard(s.Local) + " " + wildcard(s.Remote) + " " + string(s.Timer) + " " + strconv.Itoa(s.Retransmits)
		}
		left, ok := want[key]
		if !ok {
			t.Errorf("netkit %q: ss has no such socket and timer", key)
			continue
		}
		seen[s.Timer]++
		ours := time.Duration(s.TimerMs * float64(time.Millisecond))
		if d := ours - left; d < -time.Second || d > time.Second {
			t.Errorf("%s: netkit says %s left, ss %s", key, ours, left)
		}
	}
	if seen[TimerKeepalive] != 4 || seen[TimerTimeWait] != 1 || seen[TimerNone] < 2 {
		t.Errorf("timers seen %v, want 4 keepalives, 1 time-wait and the listeners without one", seen)
	}
}

// TestFilterMatchesSS lists the test's sockets with ss filter expressions,
// given to netkit and to ss alike.
func TestFilterMatchesSS(t *testing.T) {
	needSS(t)
	ts := openTestSockets(t)
	waitTimeWait(t, ts)
	p4, p6 := strconv.Itoa(int(ts.ln4.Port())), strconv.Itoa(int(ts.ln6.Port()))
	for _, expr := range []string{
		"( sport = :" + p4 + " or dport = :" + p4 + " )",
		"state established ( sport = :" + p4 + " or dport = :" + p6 + " )",
		"state listening src 127.0.0.1",
		"exclude listening exclude time-wait dst [::1]:" + p6,
		"sport >= :" + p4 + " and not dport = :" + p4 + " and src 127.0.0.0/8",
		"state connected src ::1/128 || ! dport le :" + p6,
		"src [::1/128]:" + p6 + " or src [::1]:" + p6,
		"state bucket",
	} {
		t.Run(expr, func(t *testing.T) {
			f, err := ParseFilter([]string{expr})
			if err != nil {
				t.Fatal(err)
			}
			ssArgs := append([]string{"-H", "-t", "-n"}, strings.Fields(expr)...)
			if !strings.HasPrefix(expr, "state") && !strings.HasPrefix(expr, "exclude") {
				ssArgs = append([]string{"-a"}, ssArgs...)
			}
			var want []string
			for _, l := range ssLines(t, ssArgs...) {
				// With a state filter of one state, ss leaves the State column out.
				if len(l) < 4 {
					continue
				}
				local, lap := ssAddr(t, l[len(l)-2])
				remote, rap := ssAddr(t, l[len(l)-1])
				if ts.owns(lap, rap) {
					want = append(want, local+" "+remote)
				}
			}
			list, err := List(context.Background(), Query{TCP: true, Filter: f, SkipOwners: true})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, s := range list.Sockets {
				if ts.owns(s.Local, s.Remote) {
					got = append(got, wildcard(s.Local)+" "+wildcard(s.Remote))
				}
			}
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("netkit and ss differ on %q\nnetkit:\n  %s\nss:\n  %s", expr, strings.Join(got, "\n  "), strings.Join(want, "\n  "))
			}
			if len(got) == 0 {
				t.Errorf("%q matches none of the test's sockets: a useless case", expr)
			}
		})
	}
}

// TestParseFilterErrors checks that each bad expression is refused with an
// error that names what is wrong.
func TestParseFilterErrors(t *testing.T) {
	for _, tt := range []struct{ expr, want string }{
		{"state", `filter: "state" needs a state name after it`},
		{"state nope", `filter: unknown socket state "nope"`},
		{"sport =", "filter: sport needs a port"},
		{"dport > :x-no-such", `filter: dport: port "x-no-such" is neither a number`},
		{"( src 10.0.0.1", "filter: missing )"},
		{"src 10.0.0.1 )", `filter: unexpected ")"`},
		{"src [::1", "filter: src \"[::1\": missing ]"},
		{"dst 10.0.0.300", `filter: dst "10.0.0.300": want an IP address or prefix`},
		{"sport = :22 or", "filter: expression ends too early"},
		{"autobound", `filter: unexpected "autobound": want src, dst, sport, dport, not or (`},
	} {
		_, err := ParseFilter([]string{tt.expr})
		if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("%q: error %v, want %q", tt.expr, err, tt.want)
		}
	}
	// An IPv4 prefix matches IPv4-mapped addresses on IPv6 sockets too.
	f, err := ParseFilter([]string{"src 127.0.0.0/8"})
	if err != nil {
		t.Fatal(err)
	}
	s := Socket{Family: "ipv6", Local: netip.MustParseAddrPort("[::ffff:127.0.0.1]:80")}
	if !f.Match(&s) {
		t.Errorf("%s does not match %s", f, s.Local)
	}
}

// TestZeroWindowProbeMatchesSS fills a connection whose receiver never
// reads (a 4 KiB receive buffer): the sender's zero-window probe timer,
// with its count of probes, must read as 'ss -tno' shows it ("persist").
func TestZeroWindowProbeMatchesSS(t *testing.T) {
	needSS(t)
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) { serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
		return cmp.Or(err, serr)
	}}
	ln, err := lc.Listen(context.Background(), "tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp4", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	for _, conn := range []net.Conn{c, s} {
		defer conn.Close()
		defer conn.(*net.TCPConn).SetLinger(0)
	}
	// Write until the receiver's window and the sender's buffer are full.
	c.SetWriteDeadline(time.Now().Add(500 * time.Millisecond))
	for {
		if _, err := c.Write(make([]byte, 64<<10)); err != nil {
			break
		}
	}
	client := c.LocalAddr().String()
	port := ln.Addr().(*net.TCPAddr).Port
	deadline := time.Now().Add(5 * time.Second)
	for {
		list, err := List(context.Background(), Query{TCP: true, Port: uint16(port), SkipOwners: true})
		if err != nil {
			t.Fatal(err)
		}
		i := slices.IndexFunc(list.Sockets, func(s Socket) bool { return s.Local.String() == client })
		if i < 0 {
			t.Fatalf("the client %s is not listed", client)
		}
		got := list.Sockets[i]
		if got.Timer == TimerZeroWindowProbe && got.Retransmits >= 1 {
			key := client + " " + ln.Addr().String() + " " + string(got.Timer) + " " + strconv.Itoa(got.Retransmits)
			if _, ok := ssTimers(t, "dport", "=", ":"+strconv.Itoa(port))[key]; ok {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no zero-window probe that ss agrees on in 5 s: netkit %s %s(%d), ss %v", client, got.Timer, got.Retransmits,
				ssTimers(t, "dport", "=", ":"+strconv.Itoa(port)))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestListPacketMatchesSS opens a packet socket for every protocol on
// every interface (as tcpdump -i any does) and one for IPv4 bound to lo,
// and lists them with netkit and with 'ss -0ap'.
func TestListPacketMatchesSS(t *testing.T) {
	needSS(t)
	if os.Geteuid() != 0 {
		t.Skip("packet sockets need root")
	}
	lo, err := net.InterfaceByName("lo")
	if err != nil {
		t.Fatal(err)
	}
	htons := func(v uint16) uint16 { return v<<8 | v>>8 }
	all, err := syscall.Socket(syscall.AF_PACKET, syscall.SOCK_RAW|syscall.SOCK_CLOEXEC, int(htons(syscall.ETH_P_ALL)))
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(all)
	ip, err := syscall.Socket(syscall.AF_PACKET, syscall.SOCK_DGRAM|syscall.SOCK_CLOEXEC, int(htons(syscall.ETH_P_IP)))
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(ip)
	if err := syscall.Bind(ip, &syscall.SockaddrLinklayer{Protocol: htons(syscall.ETH_P_IP), Ifindex: lo.Index}); err != nil {
		t.Fatal(err)
	}
	fds := map[int]uint64{}
	walkSocketFDs(context.Background(), []int{os.Getpid()}, func(_, fd int, inode uint64) { fds[fd] = inode })
	list, err := List(context.Background(), Query{Packet: true})
	if err != nil {
		t.Fatal(err)
	}
	netids := map[string]string{"raw": "p_raw", "dgram": "p_dgr"}
	var got []string
	for _, s := range list.Sockets {
		if s.Inode == fds[all] || s.Inode == fds[ip] {
			iface := cmp.Or(s.Interface, "*")
			got = append(got, fmt.Sprintf("%s %s %s:%s %d", netids[s.Type], s.State, EtherTypeName(s.EtherType), iface, s.Inode))
		}
	}
	// ss -0 has no inodes: its rows are this process's by pid and fd.
	var want []string
	self := regexp.MustCompile(`pid=` + strconv.Itoa(os.Getpid()) + `,fd=(\d+)\)`)
	for _, f := range ssLines(t, "-H", "-0", "-a", "-p") {
		m := self.FindStringSubmatch(strings.Join(f, " "))
		if m == nil {
			continue
		}
		fd, _ := strconv.Atoi(m[1])
		st, err := ParseState(f[1])
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, fmt.Sprintf("%s %s %s %d", f[0], st, f[4], fds[fd]))
	}
	slices.Sort(got)
	slices.Sort(want)
	if len(got) != 2 || !slices.Equal(got, want) {
		t.Errorf("netkit and ss differ\nnetkit:\n  %s\nss:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

// TestProcNetUnixMatchesSockDiag reads the test's UNIX sockets from
// /proc/net/unix, the fallback where the kernel has no sock_diag for
// them, and over sock_diag: the same types, states, names and inodes.
func TestProcNetUnixMatchesSockDiag(t *testing.T) {
	path, abstract := testUnixSockets(t)
	own := ownInodes(t)
	describe := func(socks []Socket) []string {
		var out []string
		for _, s := range socks {
			if own[s.Inode] {
				out = append(out, fmt.Sprintf("%s %s %q %d", s.Type, s.State, s.Path, s.Inode))
			}
		}
		slices.Sort(out)
		return out
	}
	fromProc, err := readProcNetUnix()
	if err != nil {
		t.Fatal(err)
	}
	fromDiag, err := dumpUnix()
	if err != nil {
		t.Fatal(err)
	}
	got, want := describe(fromProc), describe(fromDiag)
	if len(want) != 9 || !slices.Equal(got, want) {
		t.Errorf("/proc/net/unix and sock_diag differ\nproc:\n  %s\nsock_diag:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	for _, name := range []string{path, abstract} {
		if !slices.ContainsFunc(got, func(s string) bool { return strings.Contains(s, strconv.Quote(name)) }) {
			t.Errorf("%s is not among\n  %s", name, strings.Join(got, "\n  "))
		}
	}
}

// TestParseProcNetDuplicate reads a table in which the kernel wrote a
// socket twice (one read ending and the next resuming with it, while
// other sockets came and went): it is listed once. Sockets no descriptor
// holds (inode 0) cannot be told apart and are all kept.
func TestParseProcNetDuplicate(t *testing.T) {
	header := "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
	a := "   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242 1 0000000000000000 100 0 0 10 0\n"
	b := "   1: 0100007F:8AE6 0100007F:1F90 01 00000000:00000000 02:000005DC 00000000     0        0 4343 2 0000000000000000 20 4 30 10 -1\n"
	tw := "   2: 0100007F:8AE8 0100007F:1F90 06 00000000:00000000 03:00001770 00000000     0        0 0 3 0000000000000000\n"
	socks, err := parseProcNet(strings.NewReader(header+a+b+b+tw+tw), procNetTables[0], newSocketFilter(Query{}), nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range socks {
		got = append(got, fmt.Sprintf("%s %d %s", s.State, s.Inode, s.Timer))
	}
	want := []string{"LISTEN 4242 ", "ESTABLISHED 4343 keepalive", "TIME_WAIT 0 time-wait", "TIME_WAIT 0 time-wait"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}
