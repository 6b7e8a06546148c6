package sockets

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/netkit/netkit/internal/testenv"
	"github.com/netkit/netkit/internal/testnet"
	"github.com/netkit/netkit/resolve"
)

// testSockets are the loopback sockets the comparison tests open: listeners
// on 127.0.0.1 and ::1, established pairs, one connection in TIME_WAIT, an
// unconnected and a connected UDP socket, and a connection with unread data.
type testSockets struct {
	locals   map[netip.AddrPort]bool // every local address they use
	ln4, ln6 netip.AddrPort          // the TCP listeners
	twPort   uint16                  // listener port whose client is in TIME_WAIT
	twClient netip.AddrPort          // the client end in TIME_WAIT
	unread   netip.AddrPort          // the server end holding unreadBytes unread
	udp4     netip.AddrPort          // unconnected
	udp6     netip.AddrPort          // connected to udp6Peer
}

const unreadBytes = 1000

func addrPort(t *testing.T, a net.Addr) netip.AddrPort {
	t.Helper()
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		t.Fatal(err)
	}
	return ap
}

// openTestSockets opens the sockets of testSockets; they close when t ends.
func openTestSockets(t *testing.T) *testSockets {
	t.Helper()
	ts := &testSockets{locals: map[netip.AddrPort]bool{}}
	// keep closes c when the test ends, TCP connections with a reset, so
	// that they leave nothing in TIME_WAIT for later tests to trip on.
	keep := func(c interface{ Close() error }) {
		t.Cleanup(func() {
			if tc, ok := c.(*net.TCPConn); ok {
				tc.SetLinger(0)
			}
			c.Close()
		})
	}
	local := func(a net.Addr) netip.AddrPort {
		ap := addrPort(t, a)
		ts.locals[ap] = true
		return ap
	}
	listen := func(network, addr string) net.Listener {
		ln, err := net.Listen(network, addr)
		if err != nil {
			t.Fatalf("listen %s %s: %v", network, addr, err)
		}
		keep(ln)
		local(ln.Addr())
		return ln
	}
	// pair connects to ln and returns both ends.
	pair := func(ln net.Listener) (client, server net.Conn) {
		c, err := net.Dial(ln.Addr().Network(), ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		s, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		local(c.LocalAddr())
		return c, s
	}

	ln4 := listen("tcp4", "127.0.0.1:0")
	ts.ln4 = addrPort(t, ln4.Addr())
	c, s := pair(ln4)
	keep(c)
	keep(s)
	if _, err := c.Write(make([]byte, unreadBytes)); err != nil {
		t.Fatal(err)
	}
	ts.unread = addrPort(t, s.LocalAddr())

	ln6 := listen("tcp6", "[::1]:0")
	ts.ln6 = addrPort(t, ln6.Addr())
	c6, s6 := pair(ln6)
	keep(c6)
	keep(s6)

	// TIME_WAIT: the client closes first (the active close), then the
	// server; the client's end waits out 2*MSL.
	lnTW := listen("tcp4", "127.0.0.1:0")
	ts.twPort = addrPort(t, lnTW.Addr()).Port()
	ctw, stw := pair(lnTW)
	ts.twClient = addrPort(t, ctw.LocalAddr())
	ctw.Close()
	if _, err := stw.Read(make([]byte, 1)); err == nil {
		t.Fatal("read after the peer closed: want EOF")
	}
	stw.Close()

	u4, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	keep(u4)
	ts.udp4 = local(u4.LocalAddr())
	u6peer, err := net.ListenPacket("udp6", "[::1]:0")
	if err != nil {
		t.Fatal(err)
	}
	keep(u6peer)
	local(u6peer.LocalAddr())
	u6, err := net.Dial("udp6", u6peer.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	keep(u6)
	ts.udp6 = local(u6.LocalAddr())
	return ts
}

// owns reports whether a socket with these addresses is one of the test's:
// its local address is one of theirs, and so is its peer, if it has one.
// (Another process's connection may share a local address and port with
// a different peer.)
func (ts *testSockets) owns(local, remote netip.AddrPort) bool {
	return ts.locals[local] && (remote.Addr().IsUnspecified() || ts.locals[remote])
}

// ssRow is one line of ss's output, reduced to what is compared.
type ssRow struct {
	state         State
	local, remote string // "127.0.0.1:80", "*:80", "*:*"
	recvQ, sendQ  int
	pids          []int
}

func (r ssRow) String() string {
	return fmt.Sprintf("%s %s -> %s recv-q=%d send-q=%d pids=%v", r.state, r.local, r.remote, r.recvQ, r.sendQ, r.pids)
}

// wildcard writes an address as ss does, but with every unspecified
// address (0.0.0.0, [::], ss's "*") as "*" and port 0 as "*".
func wildcard(ap netip.AddrPort) string {
	host, port := "*", "*"
	if !ap.Addr().IsUnspecified() {
		host = ap.Addr().String()
		if ap.Addr().Is6() {
			host = "[" + host + "]"
		}
	}
	if ap.Port() != 0 {
		port = strconv.Itoa(int(ap.Port()))
	}
	return host + ":" + port
}

// ssAddr reads an address column of ss ("127.0.0.1:80", "[::1]:443",
// "*:*", "0.0.0.0:*", "127.0.0.1%lo:53") into the form wildcard writes.
func ssAddr(t *testing.T, s string) (string, netip.AddrPort) {
	t.Helper()
	i := strings.LastIndexByte(s, ':')
	host, port := s[:i], s[i+1:]
	if j := strings.IndexByte(host, '%'); j >= 0 {
		host = host[:j]
	}
	host = strings.Trim(host, "[]")
	var ap netip.AddrPort
	if host != "*" {
		a, err := netip.ParseAddr(host)
		if err != nil {
			t.Fatalf("ss address %q: %v", s, err)
		}
		p := 0
		if port != "*" {
			p, _ = strconv.Atoi(port)
		}
		ap = netip.AddrPortFrom(a, uint16(p))
		return wildcard(ap), ap
	}
	if port == "*" {
		return "*:*", ap
	}
	return "*:" + port, ap
}

var ssPID = regexp.MustCompile(`pid=(\d+)`)

// runSS runs ss with args (-H -n -p and the protocol) and returns its rows
// for the test's sockets.
func runSS(t *testing.T, ts *testSockets, args ...string) []ssRow {
	t.Helper()
	out, err := exec.Command(testenv.NeedTool(t, "ss"), append([]string{"-H", "-n", "-p"}, args...)...).Output()
	if err != nil {
		t.Fatalf("ss %v: %v", args, err)
	}
	var rows []ssRow
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 5 {
			continue
		}
		local, lap := ssAddr(t, f[3])
		remote, rap := ssAddr(t, f[4])
		if !ts.owns(lap, rap) {
			continue
		}
		st, err := ParseState(f[0])
		if err != nil {
			t.Fatalf("ss state %q: %v", f[0], err)
		}
		r := ssRow{state: st, local: local, remote: remote}
		r.recvQ, _ = strconv.Atoi(f[1])
		r.sendQ, _ = strconv.Atoi(f[2])
		for _, m := range ssPID.FindAllStringSubmatch(sc.Text(), -1) {
			pid, _ := strconv.Atoi(m[1])
			if !slices.Contains(r.pids, pid) {
				r.pids = append(r.pids, pid)
			}
		}
		slices.Sort(r.pids)
		rows = append(rows, r)
	}
	return rows
}

// netkitRows lists sockets with q and reduces the test's to ssRows.
func netkitRows(t *testing.T, q Query, ts *testSockets) []ssRow {
	t.Helper()
	list, err := List(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	var rows []ssRow
	for _, s := range list.Sockets {
		if !ts.owns(s.Local, s.Remote) {
			continue
		}
		r := ssRow{state: s.State, local: wildcard(s.Local), remote: wildcard(s.Remote), recvQ: s.RecvQ, sendQ: s.SendQ}
		if s.PID != 0 {
			r.pids = append([]int{s.PID}, s.OtherPIDs...)
			slices.Sort(r.pids)
		}
		rows = append(rows, r)
	}
	return rows
}

// sameRows compares two listings as sets of lines. ss shows a listener's
// backlog as its Send-Q where /proc and netstat show 0, so that one column
// is left out for listeners.
func sameRows(t *testing.T, what string, got, want []ssRow) {
	t.Helper()
	norm := func(rows []ssRow) []string {
		var out []string
		for _, r := range rows {
			if r.state == StateListen {
				r.sendQ = 0
			}
			out = append(out, r.String())
		}
		slices.Sort(out)
		return out
	}
	g, w := norm(got), norm(want)
	if !slices.Equal(g, w) {
		t.Errorf("%s: netkit and ss differ\nnetkit:\n  %s\nss:\n  %s", what, strings.Join(g, "\n  "), strings.Join(w, "\n  "))
	}
	if len(w) == 0 {
		t.Errorf("%s: ss shows none of the test's sockets", what)
	}
	t.Logf("%s: netkit and ss agree on %d rows:\n  %s", what, len(g), strings.Join(g, "\n  "))
}

// waitTimeWait waits until the kernel has the client end in TIME_WAIT.
func waitTimeWait(t *testing.T, ts *testSockets) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		list, err := List(context.Background(), Query{TCP: true, Port: ts.twPort, SkipOwners: true})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range list.Sockets {
			if s.Local == ts.twClient && s.State == StateTimeWait {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the client %s did not reach TIME_WAIT in 5 s: %+v", ts.twClient, list.Sockets)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestListSocketsMatchesSS(t *testing.T) {
	ts := openTestSockets(t)
	waitTimeWait(t, ts)
	sameRows(t, "ss -tanp", netkitRows(t, Query{TCP: true}, ts), runSS(t, ts, "-t", "-a"))
	sameRows(t, "ss -uanp", netkitRows(t, Query{UDP: true}, ts), runSS(t, ts, "-u", "-a"))

	// The rows ss is compared on must include each kind of socket.
	rows := netkitRows(t, Query{}, ts)
	want := map[string]bool{}
	for _, r := range rows {
		want[string(r.state)] = true
		if r.local == wildcard(ts.unread) && r.recvQ == unreadBytes {
			want["unread"] = true
		}
	}
	for _, k := range []string{"LISTEN", "ESTABLISHED", "TIME_WAIT", "UNCONN", "unread"} {
		if !want[k] {
			t.Errorf("no %s row among the test's sockets: %v", k, rows)
		}
	}
}

func TestListSocketsFilters(t *testing.T) {
	ts := openTestSockets(t)
	waitTimeWait(t, ts)
	ctx := context.Background()
	comm, err := os.ReadFile("/proc/self/comm")
	if err != nil {
		t.Fatal(err)
	}
	self := os.Getpid()
	listening := func(s Socket) bool { return s.State == StateListen || s.State == StateUnconn }
	held := func(s Socket) bool { return s.State != StateTimeWait }
	tests := []struct {
		name string
		q    Query
		n    int                 // how many of the test's 11 sockets q keeps
		want func(s Socket) bool // which ones
	}{
		{"all", Query{}, 11, func(Socket) bool { return true }},
		{"tcp", Query{TCP: true}, 8, func(s Socket) bool { return s.Proto == ProtoTCP || s.Proto == ProtoTCP6 }},
		{"udp ipv6", Query{UDP: true, IPv6: true}, 2, func(s Socket) bool { return s.Proto == ProtoUDP6 }},
		{"ipv4", Query{IPv4: true}, 6, func(s Socket) bool { return s.Local.Addr().Is4() }},
		{"listening", Query{Listening: true}, 5, listening},
		{"listening tcp6", Query{Listening: true, TCP: true, IPv6: true}, 1, func(s Socket) bool { return s.Local == ts.ln6 && listening(s) }},
		{"time-wait", Query{States: []State{StateTimeWait}}, 1, func(s Socket) bool { return s.Local == ts.twClient }},
		{"listen or established on a port", Query{States: []State{StateListen, StateEstablished}, Port: ts.ln4.Port()}, 3,
			func(s Socket) bool { return s.Local.Port() == ts.ln4.Port() || s.Remote == ts.ln4 }},
		{"listening and time-wait", Query{Listening: true, States: []State{StateTimeWait}}, 0, func(Socket) bool { return false }},
		{"port, either end", Query{Port: ts.ln6.Port()}, 3, func(s Socket) bool { return s.Local == ts.ln6 || s.Remote == ts.ln6 }},
		{"pid", Query{PID: self}, 10, held},
		{"program", Query{Program: strings.TrimSpace(string(comm))}, 10, held},
		{"other program", Query{Program: "no-such-program"}, 0, func(Socket) bool { return false }},
		{"pid and its program", Query{PID: self, Program: strings.TrimSpace(string(comm))}, 10, held},
		{"pid and another program", Query{PID: self, Program: "no-such-program"}, 0, func(Socket) bool { return false }},
	}
	all, err := List(ctx, Query{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			list, err := List(ctx, tt.q)
			if err != nil {
				t.Fatal(err)
			}
			var got, want []string
			for _, s := range list.Sockets {
				if ts.owns(s.Local, s.Remote) {
					got = append(got, wildcard(s.Local)+" "+wildcard(s.Remote)+" "+string(s.State))
				}
			}
			for _, s := range all.Sockets {
				if ts.owns(s.Local, s.Remote) && tt.want(s) {
					want = append(want, wildcard(s.Local)+" "+wildcard(s.Remote)+" "+string(s.State))
				}
			}
			slices.Sort(got)
			slices.Sort(want)
			if len(want) != tt.n {
				t.Errorf("the unfiltered listing has %d of the sockets this query should keep, want %d: %v", len(want), tt.n, want)
			}
			if !slices.Equal(got, want) {
				t.Errorf("got\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
			}
		})
	}
}

func TestListSocketsOwners(t *testing.T) {
	ts := openTestSockets(t)
	list, err := List(context.Background(), Query{Port: ts.ln4.Port(), Cmdlines: true})
	if err != nil {
		t.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// Other programs' sockets may use the same port number (the loopback
	// is shared): only the test's count.
	list.Sockets = slices.DeleteFunc(list.Sockets, func(s Socket) bool { return !ts.owns(s.Local, s.Remote) })
	for _, s := range list.Sockets {
		if s.State == StateTimeWait {
			continue
		}
		if s.PID != os.Getpid() || s.Inode == 0 || len(s.Cmdline) == 0 || s.Cmdline[0] != os.Args[0] {
			t.Errorf("socket %s -> %s: pid %d inode %d cmdline %q, want pid %d and %s", s.Local, s.Remote, s.PID, s.Inode, s.Cmdline, os.Getpid(), exe)
		}
		if s.UID != uint32(os.Getuid()) || s.User == "" {
			t.Errorf("socket %s: uid %d user %q, want uid %d", s.Local, s.UID, s.User, os.Getuid())
		}
	}
	if len(list.Sockets) != 3 {
		t.Errorf("port %d: %d sockets, want the listener and both ends of one connection", ts.ln4.Port(), len(list.Sockets))
	}
}

func TestListSocketsNames(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ap := addrPort(t, ln.Addr())
	// Only 127.0.0.1 is looked up, in the test's hosts file.
	r := testnet.HostsResolver(t, "127.0.0.1 loopback-name.test\n")
	list, err := List(context.Background(), Query{TCP: true, IPv4: true, Listening: true, Port: ap.Port(), Names: true, Resolver: r})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Sockets) != 1 {
		t.Fatalf("got %d sockets, want the listener: %+v", len(list.Sockets), list.Sockets)
	}
	s := list.Sockets[0]
	if want := "loopback-name.test:" + serviceName(ProtoTCP, ap.Port()); s.LocalName != want {
		t.Errorf("local name %q, want %q", s.LocalName, want)
	}
	if s.RemoteName != "*:*" {
		t.Errorf("remote name %q, want *:*", s.RemoteName)
	}
}

func TestServiceNames(t *testing.T) {
	if _, err := os.Stat(resolve.DefaultServicesPath); err != nil {
		t.Skipf("no %s here", resolve.DefaultServicesPath)
	}
	// getent reads the same file through libc.
	out, err := exec.Command("getent", "services", "22/tcp").Output()
	if err != nil {
		t.Skipf("getent services 22/tcp: %v", err)
	}
	want := strings.Fields(string(out))[0]
	if got := serviceName(ProtoTCP6, 22); got != want {
		t.Errorf("serviceName(tcp6, 22) = %q, getent says %q", got, want)
	}
	if got, err := resolve.ParsePort(want, "tcp"); err != nil || got != 22 {
		t.Errorf("ParsePort(%q) = %d, %v; want 22", want, got, err)
	}
}

func TestParseSocketState(t *testing.T) {
	for in, want := range map[string]State{
		"listen": StateListen, "LISTEN": StateListen, "listening": StateListen,
		"time-wait": StateTimeWait, "TIME_WAIT": StateTimeWait, "TimeWait": StateTimeWait,
		"estab": StateEstablished, "Established": StateEstablished,
		"fin-wait-1": StateFinWait1, "fin-wait1": StateFinWait1, "FIN_WAIT2": StateFinWait2, "fin-wait-2": StateFinWait2,
		"syn-recv": StateSynRecv, "closed": StateClose, "close-wait": StateCloseWait, "unconn": StateUnconn,
	} {
		if got, err := ParseState(in); err != nil || got != want {
			t.Errorf("ParseState(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	_, err := ParseState("half-open")
	if err == nil || !strings.Contains(err.Error(), `"half-open"`) {
		t.Fatalf("error %v: want it to name the value", err)
	}
	// The names listed are spelled as ss and --help spell them, and each
	// reads back as its own state.
	_, list, _ := strings.Cut(err.Error(), "want one of ")
	want := "established, syn-sent, syn-recv, fin-wait-1, fin-wait-2, time-wait, close, close-wait, last-ack, listen, closing, unconn"
	if list != want {
		t.Errorf("valid names %q, want %q", list, want)
	}
	for i, name := range strings.Split(list, ", ") {
		if st, err := ParseState(name); err != nil || st != States()[i] {
			t.Errorf("listed name %q reads as %q, %v; want %q", name, st, err, States()[i])
		}
	}
}

// TestParseProcNetUnknownState reads a table with a state number netkit
// does not know (0x0D) between two it knows: that socket is listed as
// UNKNOWN(0x0D), the others as usual, and the summary counts it.
func TestParseProcNetUnknownState(t *testing.T) {
	f, err := os.Open("testdata/procnet/tcp_unknown_state")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	socks, err := parseProcNet(f, procNetTables[0], newSocketFilter(Query{}), nil)
	if err != nil {
		t.Fatalf("one unknown state broke the table: %v", err)
	}
	var got []string
	for _, s := range socks {
		got = append(got, fmt.Sprintf("%s %s %s %d", s.Local, s.Remote, s.State, s.Inode))
	}
	want := []string{
		"127.0.0.1:8080 0.0.0.0:0 LISTEN 1050",
		"127.0.0.1:8081 0.0.0.0:0 UNKNOWN(0x0D) 1051",
		"127.0.0.1:8080 127.0.0.1:54321 ESTABLISHED 1052",
	}
	if !slices.Equal(got, want) {
		t.Errorf("got\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	sum := Summarize(socks)
	wantSum := []StateCount{{StateEstablished, 1}, {StateListen, 1}, {"UNKNOWN(0x0D)", 1}}
	if len(sum.Protocols) != 1 || sum.Protocols[0].Total != 3 || !slices.Equal(sum.Protocols[0].States, wantSum) {
		t.Errorf("summary %+v, want %v", sum, wantSum)
	}
	if _, err := f.Seek(0, 0); err != nil {
		t.Fatal(err)
	}
	listening, err := parseProcNet(f, procNetTables[0], newSocketFilter(Query{Listening: true}), nil)
	if err != nil || len(listening) != 1 || listening[0].State != StateListen {
		t.Errorf("listening: %v %+v, want the one LISTEN socket", err, listening)
	}
}

func TestSummarize(t *testing.T) {
	ts := openTestSockets(t)
	waitTimeWait(t, ts)
	list, err := List(context.Background(), Query{SkipOwners: true})
	if err != nil {
		t.Fatal(err)
	}
	sum := Summarize(list.Sockets)
	count := map[string]int{}
	for _, s := range list.Sockets {
		count[s.Proto+" "+string(s.State)]++
	}
	total := 0
	for _, p := range sum.Protocols {
		n := 0
		for _, st := range p.States {
			if st.Count != count[p.Proto+" "+string(st.State)] {
				t.Errorf("%s %s: %d, want %d", p.Proto, st.State, st.Count, count[p.Proto+" "+string(st.State)])
			}
			n += st.Count
		}
		if n != p.Total {
			t.Errorf("%s: total %d, states add up to %d", p.Proto, p.Total, n)
		}
		total += n
	}
	if total != sum.Total || sum.Total != len(list.Sockets) || len(sum.Protocols) != 4 {
		t.Errorf("summary %+v of %d sockets", sum, len(list.Sockets))
	}
}

// lsofHolders runs 'lsof -nP -i :port' and returns its "pid/fd/user"
// lines.
func lsofHolders(t *testing.T, port uint16) []string {
	t.Helper()
	out, err := exec.Command(testenv.NeedTool(t, "lsof"), "-nP", "-F", "pfL", "-i", ":"+strconv.Itoa(int(port))).Output()
	var ee *exec.ExitError
	if err != nil && !(errors.As(err, &ee) && len(out) == 0) {
		t.Fatalf("lsof: %v", err)
	}
	var holders []string
	var pid, user string
	for _, line := range strings.Split(string(out), "\n") {
		if line == "" {
			continue
		}
		switch line[0] {
		case 'p':
			pid = line[1:]
		case 'L':
			user = line[1:]
		case 'f':
			holders = append(holders, pid+"/"+line[1:]+"/"+user)
		}
	}
	slices.Sort(holders)
	return holders
}

func TestWhoHoldsMatchesLsof(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := addrPort(t, ln.Addr()).Port()
	c, err := net.Dial("tcp4", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// A child inherits the listener, as a forked server's workers do: two
	// processes hold the one socket.
	f, err := ln.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	child := exec.Command("sleep", "30")
	child.ExtraFiles = []*os.File{f}
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { child.Process.Kill(); child.Wait() }()

	rep, err := WhoHolds(context.Background(), port)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	sawChild := false
	for _, h := range rep.Holders {
		got = append(got, fmt.Sprintf("%d/%d/%s", h.PID, h.FD, h.User))
		if h.PID == child.Process.Pid {
			sawChild = true
			if !slices.Equal(h.Cmdline, []string{"sleep", "30"}) || h.Program != "sleep" || h.FD != 3 {
				t.Errorf("child holder %+v, want sleep 30 on fd 3", h)
			}
		}
	}
	slices.Sort(got)
	want := lsofHolders(t, port)
	if !slices.Equal(got, want) {
		t.Errorf("holders of port %d (pid/fd/user):\nnetkit %v\nlsof   %v", port, got, want)
	}
	if !sawChild {
		t.Errorf("the child %d holding the listener is missing: %v", child.Process.Pid, got)
	}
}

func TestWhoHoldsFreePort(t *testing.T) {
	port := testnet.UnusedPort(t)
	rep, err := WhoHolds(context.Background(), port)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Holders) != 0 {
		t.Errorf("port %d is unused, got holders %+v", port, rep.Holders)
	}
	if got := lsofHolders(t, port); len(got) != 0 {
		t.Errorf("lsof sees holders of the freed port %d: %v", port, got)
	}
}

// TestWhoHoldsAcceptQueue checks a connection the server has not accepted
// yet: no descriptor holds it, so it is not a holder of its own, but a note
// says it waits, and the listener's Recv-Q counts it.
func TestWhoHoldsAcceptQueue(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ap := addrPort(t, ln.Addr())
	c, err := net.Dial("tcp4", ap.String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rep, err := WhoHolds(context.Background(), ap.Port())
	if err != nil {
		t.Fatal(err)
	}
	var states []string
	for _, h := range rep.Holders {
		states = append(states, string(h.Socket.State)+" "+strconv.Itoa(h.Socket.RecvQ))
		if h.PID != os.Getpid() {
			t.Errorf("holder %+v, want this process", h)
		}
	}
	slices.Sort(states)
	// The listener with one connection queued, and the client's end.
	if want := []string{"ESTABLISHED 0", "LISTEN 1"}; !slices.Equal(states, want) {
		t.Errorf("holders %v, want %v", states, want)
	}
	// Other programs' connections that used the port number may be
	// closing (the loopback is shared): only the accept queue's note counts.
	queued := slices.DeleteFunc(slices.Clone(rep.Notes), func(n string) bool { return strings.Contains(n, "closing (TIME_WAIT") })
	if len(queued) != 1 || !strings.Contains(queued[0], "1 connection to port "+strconv.Itoa(int(ap.Port()))+" waits in a listener's accept queue") {
		t.Errorf("notes %q, want one about the accept queue", rep.Notes)
	}
}
