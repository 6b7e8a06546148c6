package cli

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/netkit/netkit/diag/sockets"
	"github.com/netkit/netkit/internal/golden"
	"github.com/netkit/netkit/internal/netlab"
	"github.com/netkit/netkit/internal/testenv"
	"github.com/netkit/netkit/internal/testnet"
)

func TestSocketsFlags(t *testing.T) {
	io, _, _, _ := testStreams()
	var got *SocketsOptions
	cmd := NewCmdSockets(io, func(_ context.Context, o *SocketsOptions) error { got = o; return nil })
	cmd.SetArgs([]string{"-t", "-u", "-4", "-l", "--state", "LISTEN,time-wait", "--state", "Estab",
		"--port", "http", "--pid", "42", "--program", "nginx", "-r", "--summary", "--no-header"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	want := sockets.Query{TCP: true, UDP: true, IPv4: true, Listening: true,
		States: []sockets.State{sockets.StateListen, sockets.StateTimeWait, sockets.StateEstablished},
		Port:   80, PID: 42, Program: "nginx", Names: true, SkipOwners: true}
	q := got.Query
	if q.TCP != want.TCP || q.UDP != want.UDP || q.IPv4 != want.IPv4 || q.IPv6 || q.Listening != want.Listening ||
		!slices.Equal(q.States, want.States) || q.Port != want.Port || q.PID != want.PID || q.Program != want.Program ||
		q.Names != want.Names || q.SkipOwners != want.SkipOwners || !got.Summary || !got.Output.NoHeader {
		t.Errorf("options %+v\nwant query %+v", got, want)
	}

	var who *SocketsWhoOptions
	wcmd := NewCmdSocketsWho(io, func(_ context.Context, o *SocketsWhoOptions) error { who = o; return nil })
	wcmd.SetArgs([]string{"ssh", "--json"})
	if err := wcmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if who.Port != 22 || who.Output.Format != "json" {
		t.Errorf("who options %+v, want port 22 and json", who)
	}
}

func TestSocketsBadInput(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"sockets", "--state", "listen,half-open"}, `unknown socket state "half-open": want one of established, syn-sent`},
		{[]string{"sockets", "--state", ""}, `unknown socket state ""`},
		{[]string{"sockets", "--port", "70000"}, `invalid --port: port "70000" is not a number from 1 to 65535`},
		{[]string{"sockets", "--port", "no-such-service"}, `port "no-such-service" is neither a number from 1 to 65535 nor a service name`},
		{[]string{"sockets", "--pid", "-3"}, "--pid: invalid process id -3"},
		{[]string{"sockets", "--pid", "x"}, `invalid argument "x" for "--pid"`},
		{[]string{"sockets", "--program", ""}, "--program: empty name"},
		{[]string{"sockets", "--format", "jsonl"}, "--format jsonl needs --watch"},
		{[]string{"sockets", "--format", "xml"}, `invalid --format "xml"`},
		{[]string{"sockets", "--watch", "x"}, `filter: unexpected "x"`},
		{[]string{"sockets", "--watch=x"}, `invalid argument "x" for "--watch" flag: invalid interval "x"`},
		{[]string{"sockets", "--watch=50ms"}, "--watch: interval 50ms is too short: want 100ms or more"},
		{[]string{"sockets", "-c", "3"}, "-c/--count: want a number of listings above 0, with --watch"},
		{[]string{"sockets", "--watch", "--json"}, "--watch prints a stream: use --format jsonl"},
		{[]string{"sockets", "8080"}, `filter: unexpected "8080": want src, dst, sport, dport, not or ( (did you mean 'netkit sockets who 8080'?)`},
		{[]string{"sockets", "dport", "=", ":99999"}, `filter: dport: port "99999" is not a number from 1 to 65535`},
		{[]string{"sockets", "( sport = :22"}, "filter: missing )"},
		{[]string{"sockets", "state", "bogus"}, `filter: unknown socket state "bogus"`},
		{[]string{"sockets", "dst", "example.com"}, `filter: dst "example.com": want an IP address or prefix (names are not looked up)`},
		{[]string{"sockets", "-tlnpq"}, `unknown shorthand flag: 'q' in -q`},
		{[]string{"sockets", "who", ":0"}, `port "0" is not a number from 1 to 65535`},
		{[]string{"sockets", "who"}, "sockets who takes 1 argument, got 0"},
		{[]string{"sockets", "who", "0"}, `port "0" is not a number from 1 to 65535`},
		{[]string{"sockets", "who", "80", "81"}, "sockets who takes 1 argument, got 2"},
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			assertOneLineError(t, netkit(t, tt.args...), tt.want)
		})
	}
}

// socketsListener opens a TCP listener on addr for the length of the test.
func socketsListener(t *testing.T, network, addr string) (net.Listener, netip.AddrPort) {
	t.Helper()
	ln, err := net.Listen(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln, netip.MustParseAddrPort(ln.Addr().String())
}

// socketsConnect dials address over network, which must reach ln, and
// accepts on ln, so both ends are held by this process (a connection not
// yet accepted has no owner). It returns the dialling end.
func socketsConnect(t *testing.T, ln net.Listener, network, address string) net.Conn {
	t.Helper()
	c, err := net.Dial(network, address)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	// Reset rather than close, to leave nothing in TIME_WAIT.
	t.Cleanup(func() {
		for _, c := range []net.Conn{c, s} {
			c.(*net.TCPConn).SetLinger(0)
			c.Close()
		}
	})
	return c
}

// socketsOwn keeps the rows whose cell col starts with this process's
// PID: the loopback is shared with other programs, whose connections may
// use the same port number on another address.
func socketsOwn(rows [][]string, col int) [][]string {
	pid := strconv.Itoa(os.Getpid())
	return slices.DeleteFunc(rows, func(r []string) bool {
		return len(r) <= col || r[col] != pid && !strings.HasPrefix(r[col], pid+"/")
	})
}

// socketsCells splits a piped table into rows of cells (two or more spaces
// apart).
func socketsCells(out string) [][]string {
	var rows [][]string
	sep := regexp.MustCompile(`\s{2,}`)
	for _, line := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		rows = append(rows, sep.Split(strings.TrimSpace(line), -1))
	}
	return rows
}

func TestSocketsListing(t *testing.T) {
	ln, ap := socketsListener(t, "tcp4", "127.0.0.1:0")
	port := strconv.Itoa(int(ap.Port()))
	socketsConnect(t, ln, "tcp", ap.String())
	comm, _ := os.ReadFile("/proc/self/comm")
	owner := strconv.Itoa(os.Getpid()) + "/" + strings.TrimSpace(string(comm))

	r := netkit(t, "sockets", "-t", "-l", "--port", port)
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	rows := socketsCells(r.stdout)
	wantHeader := []string{"Proto", "Recv-Q", "Send-Q", "Local Address", "Foreign Address", "State", "PID/Program"}
	want := []string{"tcp", "0", "0", ap.String(), "*:*", "LISTEN", owner}
	if len(rows) != 2 || !slices.Equal(rows[0], wantHeader) || !slices.Equal(rows[1], want) {
		t.Errorf("got %q\nwant header %q and one row %q", r.stdout, wantHeader, want)
	}

	// Both ends of the connection, and the listener, with --no-header.
	r = netkit(t, "sockets", "--port", port, "--no-header", "--state", "estab")
	rows = socketsOwn(socketsCells(r.stdout), 6)
	if len(rows) != 2 {
		t.Fatalf("want the two ends of the connection, got %q", r.stdout)
	}
	for _, row := range rows {
		if row[0] != "tcp" || row[5] != "ESTABLISHED" || row[6] != owner || row[3] != ap.String() && row[4] != ap.String() {
			t.Errorf("row %q", row)
		}
	}

	// JSON: the same sockets, typed.
	r = netkit(t, "sockets", "--port", port, "--state", "listen,estab", "--json")
	var doc struct {
		SchemaVersion int              `json:"schema_version"`
		Sockets       []sockets.Socket `json:"sockets"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatalf("%v\n%s", err, r.stdout)
	}
	if doc.SchemaVersion != 1 || len(doc.Sockets) != 3 {
		t.Fatalf("want schema 1 and 3 sockets, got %s", r.stdout)
	}
	for _, s := range doc.Sockets {
		if s.PID != os.Getpid() || s.Proto != "tcp" || s.Family != "ipv4" || s.Inode == 0 {
			t.Errorf("socket %+v", s)
		}
	}
	for _, field := range []string{`"recv_q"`, `"send_q"`, `"local": "` + ap.String() + `"`, `"remote": "0.0.0.0:0"`, `"state": "LISTEN"`} {
		if !strings.Contains(r.stdout, field) {
			t.Errorf("JSON lacks %s:\n%s", field, r.stdout)
		}
	}

	// An empty listing is not an error.
	r = netkit(t, "sockets", "--port", port, "--state", "syn-sent")
	if r.code != 0 || len(socketsCells(r.stdout)) != 1 {
		t.Errorf("empty listing: exit %d, %q", r.code, r.stdout)
	}
}

func TestSocketsSummary(t *testing.T) {
	ln, ap := socketsListener(t, "tcp6", "[::1]:0")
	socketsConnect(t, ln, "tcp", ap.String())
	port := strconv.Itoa(int(ap.Port()))
	// Only listening and established sockets: an earlier listener on the
	// same port may have left connections in TIME_WAIT.
	r := netkit(t, "sockets", "--summary", "-t6", "--state", "listen,estab", "--port", port)
	want := [][]string{{"Proto", "State", "Sockets"}, {"tcp6", "ESTABLISHED", "2"}, {"tcp6", "LISTEN", "1"},
		{"tcp6", "total", "3"}, {"all", "total", "3"}}
	if got := socketsCells(r.stdout); r.code != 0 || !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("exit %d, got %q, want %q", r.code, got, want)
	}
	r = netkit(t, "sockets", "-s", "-t6", "--state", "listen,estab", "--port", port, "--json")
	var sum sockets.Summary
	if err := json.Unmarshal([]byte(r.stdout), &sum); err != nil || sum.Total != 3 || len(sum.Protocols) != 1 ||
		sum.Protocols[0].Proto != "tcp6" || len(sum.Protocols[0].States) != 2 {
		t.Errorf("summary JSON %v: %s", err, r.stdout)
	}
}

func TestSocketsWho(t *testing.T) {
	_, ap := socketsListener(t, "tcp4", "127.0.0.1:0")
	port := strconv.Itoa(int(ap.Port()))
	r := netkit(t, "sockets", "who", port)
	rows := socketsCells(r.stdout)
	exe, _ := os.Executable()
	wantHeader := []string{"PID", "User", "Program", "FD", "Proto", "Local Address", "Foreign Address", "State", "Command"}
	if r.code != 0 || !slices.Equal(rows[0], wantHeader) || len(socketsOwn(rows[1:], 0)) != 1 {
		t.Fatalf("exit %d, stdout %q", r.code, r.stdout)
	}
	row := socketsOwn(rows[1:], 0)[0]
	if row[0] != strconv.Itoa(os.Getpid()) || row[4] != "tcp" || row[5] != ap.String() || row[7] != "LISTEN" ||
		!strings.HasPrefix(row[8], os.Args[0]) {
		t.Errorf("row %q, want pid %d, the listener and command %s", row, os.Getpid(), exe)
	}

	// A port nothing holds: exit 1 and one line on stderr.
	free := testnet.UnusedPort(t)
	r = netkit(t, "sockets", "who", strconv.Itoa(int(free)))
	if r.code != exitFailed || r.stdout != "" || !strings.HasPrefix(r.stderr, "netkit: nothing holds port "+strconv.Itoa(int(free))) {
		t.Errorf("free port: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
}

// socketsAsNobody runs the built binary as the unprivileged user nobody.
func socketsAsNobody(t *testing.T, args ...string) result {
	t.Helper()
	testenv.NeedRoot(t) // to switch to nobody
	testenv.NeedTool(t, "setpriv")
	// TestMain builds the binary in a private directory; let nobody in.
	if err := os.Chmod(filepath.Dir(binary), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("setpriv", append([]string{"--reuid=65534", "--regid=65534", "--clear-groups", binary}, args...)...)
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var ee *exec.ExitError
	code := 0
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{stdout: out.String(), stderr: errOut.String(), code: code}
}

// TestSocketsUnprivileged runs netkit as nobody against a socket this
// root test process holds: the socket is listed with "-" and a note says
// why, as netstat does.
func TestSocketsUnprivileged(t *testing.T) {
	_, ap := socketsListener(t, "tcp4", "127.0.0.1:0")
	port := strconv.Itoa(int(ap.Port()))
	r := socketsAsNobody(t, "sockets", "-l", "--port", port)
	rows := socketsCells(r.stdout)
	if r.code != 0 || len(rows) != 2 || !slices.Equal(rows[1], []string{"tcp", "0", "0", ap.String(), "*:*", "LISTEN", "-"}) {
		t.Errorf("as nobody: exit %d, stdout %q", r.code, r.stdout)
	}
	notes := strings.Split(strings.TrimRight(r.stderr, "\n"), "\n")
	if len(notes) != 1 || !strings.Contains(notes[0], "permission denied, uid 65534") || !strings.Contains(notes[0], "1 socket shows '-'") {
		t.Errorf("want one note on stderr explaining the '-', got %q", r.stderr)
	}

	r = socketsAsNobody(t, "sockets", "who", port, "--json")
	var rep sockets.PortReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("%v: %s", err, r.stdout)
	}
	// Connections of other programs on this machine may have used the same
	// port and be closing: only the note about the unreadable owner counts.
	unreadable := 0
	for _, n := range rep.Notes {
		if strings.Contains(n, "could not be read") {
			unreadable++
		}
	}
	if r.code != 0 || len(rep.Holders) != 1 || rep.Holders[0].PID != 0 || !rep.Holders[0].Socket.OwnerUnreadable || unreadable != 1 {
		t.Errorf("who as nobody: exit %d, report %+v", r.code, rep)
	}

	// As root, the same socket has its owner.
	list, err := sockets.List(context.Background(), sockets.Query{Listening: true, Port: ap.Port()})
	if err != nil || len(list.Sockets) != 1 || list.Sockets[0].PID != os.Getpid() {
		t.Errorf("as root: %v %+v", err, list)
	}
}

// needPIDNamespace skips a test that runs netkit in a new PID namespace
// (as in a container) where that cannot be done.
func needPIDNamespace(t *testing.T) {
	t.Helper()
	testenv.NeedRoot(t)
	testenv.NeedTool(t, "unshare")
}

// TestSocketsOtherPIDNamespace runs netkit as root in a PID namespace of
// its own (with its own /proc), where this test process, which holds a
// listener, is not visible: the listener is listed with "-" and one note
// says why. A connection closed on the same port (TIME_WAIT, held by no
// process anywhere) is not counted in the note.
func TestSocketsOtherPIDNamespace(t *testing.T) {
	needPIDNamespace(t)
	ln, ap := socketsListener(t, "tcp4", "127.0.0.1:0")
	port := strconv.Itoa(int(ap.Port()))
	c, err := net.Dial("tcp4", ap.String())
	if err != nil {
		t.Fatal(err)
	}
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	s.Close()

	cmd := exec.Command("unshare", "--pid", "--fork", "--mount-proc", binary, "sockets", "--port", port)
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Skipf("unshare --pid --fork --mount-proc: %v: %s", err, errOut.String())
	}
	var listener []string
	closed := 0
	for _, row := range socketsCells(out.String())[1:] {
		if row[5] == "LISTEN" {
			listener = row
		} else {
			closed++
		}
	}
	if closed == 0 {
		t.Errorf("the closed connection's end is not listed:\n%s", out.String())
	}
	if !slices.Equal(listener, []string{"tcp", "0", "0", ap.String(), "*:*", "LISTEN", "-"}) {
		t.Errorf("listener row %q, want it without an owner:\n%s", listener, out.String())
	}
	notes := strings.Split(strings.TrimRight(errOut.String(), "\n"), "\n")
	if len(notes) != 1 || !strings.HasPrefix(notes[0], "netkit: note: 1 socket is open but no process visible here holds it") ||
		!strings.Contains(notes[0], "another PID namespace") {
		t.Errorf("want one note counting the listener, got %q", errOut.String())
	}

	// 'who' lists the listener as held, by a process it cannot name.
	cmd = exec.Command("unshare", "--pid", "--fork", "--mount-proc", binary, "sockets", "who", port, "--json")
	cmd.Stderr = io.Discard
	b, err := cmd.Output()
	if err != nil {
		t.Fatalf("sockets who in a new PID namespace: %v", err)
	}
	var rep sockets.PortReport
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	hidden := 0
	for _, n := range rep.Notes {
		if strings.Contains(n, "another PID namespace") {
			hidden++
		}
	}
	if len(rep.Holders) != 1 || rep.Holders[0].PID != 0 || rep.Holders[0].Socket.State != sockets.StateListen || hidden != 1 {
		t.Errorf("who: holders %+v, notes %q; want the listener without a PID and one note about it", rep.Holders, rep.Notes)
	}

	// In this PID namespace the owner is found, and nothing needs a note.
	r := netkit(t, "sockets", "--port", port)
	if r.code != 0 || r.stderr != "" || !strings.Contains(r.stdout, strconv.Itoa(os.Getpid())+"/") {
		t.Errorf("here: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
}

// TestSocketsAddressesMatchSS lists, with netkit and with ss, a listener on
// [::1], a dual-stack listener on [::] (which ss writes "*:PORT") and a
// connection from 127.0.0.1 to it, whose accepted end is an IPv6 socket
// with IPv4-mapped addresses ("[::ffff:127.0.0.1]:PORT"). Addresses must
// read as ss writes them, except a listener's peer, which netkit writes
// "*:*" for every family (ss: "[::]:*", "0.0.0.0:*" or "*:*").
func TestSocketsAddressesMatchSS(t *testing.T) {
	testenv.NeedTool(t, "ss")
	ln6, ap6 := socketsListener(t, "tcp6", "[::1]:0")
	socketsConnect(t, ln6, "tcp", ap6.String())
	// "tcp" on the unspecified address is one IPv6 socket that also takes
	// IPv4 connections (IPV6_V6ONLY off).
	dual, apDual := socketsListener(t, "tcp", "[::]:0")
	c := socketsConnect(t, dual, "tcp4", net.JoinHostPort("127.0.0.1", strconv.Itoa(int(apDual.Port()))))
	port := func(addr string) string { return addr[strings.LastIndexByte(addr, ':')+1:] }
	ours := map[string]bool{}
	for _, a := range []net.Addr{ln6.Addr(), dual.Addr(), c.LocalAddr()} {
		ours[port(a.String())] = true
	}
	// rows keeps the lines of the test's sockets as "state local remote":
	// a local port of theirs, and a peer port of theirs or none.
	rows := func(lines [][]string, state, local, remote int) []string {
		var out []string
		for _, f := range lines {
			if len(f) <= max(state, local, remote) || !ours[port(f[local])] || !ours[port(f[remote])] && port(f[remote]) != "*" {
				continue
			}
			st, err := sockets.ParseState(f[state])
			if err != nil {
				t.Fatalf("state %q: %v", f[state], err)
			}
			peer := f[remote]
			if st == sockets.StateListen {
				peer = "*:*"
			}
			out = append(out, string(st)+" "+f[local]+" "+peer)
		}
		return out
	}
	var got, want []string
	for p := range ours {
		r := netkit(t, "sockets", "-t", "--no-header", "--port", p)
		if r.code != 0 {
			t.Fatalf("netkit sockets --port %s: exit %d, %s", p, r.code, r.stderr)
		}
		got = append(got, rows(socketsCells(r.stdout), 5, 3, 4)...)
		out, err := exec.Command("ss", "-H", "-t", "-a", "-n", "( sport = :"+p+" or dport = :"+p+" )").Output()
		if err != nil {
			t.Fatalf("ss: %v", err)
		}
		var lines [][]string
		for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			lines = append(lines, strings.Fields(l))
		}
		want = append(want, rows(lines, 0, 3, 4)...)
	}
	// Listing by each port lists a connection twice, once per end's port.
	slices.Sort(got)
	slices.Sort(want)
	got, want = slices.Compact(got), slices.Compact(want)
	if !slices.Equal(got, want) {
		t.Errorf("netkit and ss differ\nnetkit:\n  %s\nss:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	dualPort := strconv.Itoa(int(apDual.Port()))
	for _, addr := range []string{ap6.String(), "*:" + dualPort, "[::ffff:127.0.0.1]:" + dualPort} {
		if !slices.ContainsFunc(got, func(r string) bool { return strings.Fields(r)[1] == addr }) {
			t.Errorf("no socket with the local address %s among\n  %s", addr, strings.Join(got, "\n  "))
		}
	}
}

// TestSocketsJSONGolden compares 'sockets --json' with
// testdata/sockets.json, in a network namespace of its own where the only
// sockets are the test's, on fixed ports: a dual-stack TCP listener, a
// connection to it from 127.0.0.1 (one IPv4 end, one IPv4-mapped IPv6
// end), an unconnected UDP socket and a connected UDP6 one. Tables are
// listed in order tcp, tcp6, udp, udp6, and listeners before connections
// within one, so the document's order is fixed; inodes and the PID are
// replaced by placeholders.
func TestSocketsJSONGolden(t *testing.T) {
	ns := netlab.Netns(t, "sock")
	var r result
	netlab.Do(t, ns, func() error {
		ln, err := net.Listen("tcp", "[::]:8080")
		if err != nil {
			return err
		}
		defer ln.Close()
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}}
		c, err := d.Dial("tcp4", "127.0.0.1:8080")
		if err != nil {
			return err
		}
		s, err := ln.Accept()
		if err != nil {
			return err
		}
		for _, c := range []net.Conn{c, s} {
			defer c.Close()
			defer c.(*net.TCPConn).SetLinger(0)
		}
		u4, err := net.ListenPacket("udp4", "127.0.0.1:53")
		if err != nil {
			return err
		}
		defer u4.Close()
		u6, err := net.DialUDP("udp6", &net.UDPAddr{IP: net.IPv6loopback, Port: 101}, &net.UDPAddr{IP: net.IPv6loopback, Port: 100})
		if err != nil {
			return err
		}
		defer u6.Close()
		r = netkit(t, "sockets", "--json")
		return nil
	})
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	comm, err := os.ReadFile("/proc/self/comm")
	if err != nil {
		t.Fatal(err)
	}
	doc := regexp.MustCompile(`"inode": [1-9][0-9]*`).ReplaceAllString(r.stdout, `"inode": "INODE"`)
	doc = regexp.MustCompile(`"timer_ms": [0-9.]+`).ReplaceAllString(doc, `"timer_ms": "TIMER_MS"`)
	doc = strings.ReplaceAll(doc, `"pid": `+strconv.Itoa(os.Getpid())+`,`, `"pid": "PID",`)
	doc = strings.ReplaceAll(doc, `"program": "`+strings.TrimSpace(string(comm))+`"`, `"program": "PROGRAM"`)
	golden.Check(t, filepath.Join("testdata", "sockets.json"), []byte(doc), *update)
}

// TestAddressInUseOtherPIDNamespace: run from inside a new PID namespace (as
// in a container), netkit cannot see the process holding a port it fails
// to bind, and the explanation says so rather than blaming permissions.
func TestAddressInUseOtherPIDNamespace(t *testing.T) {
	needPIDNamespace(t)
	_, ap := socketsListener(t, "tcp4", "127.0.0.1:0")
	cmd := exec.Command("unshare", "--pid", "--fork", "--mount-proc", binary,
		"echo", "serve", "--plaintext", "--listen", ap.String())
	var errOut strings.Builder
	cmd.Stderr = &errOut
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != exitError {
		t.Fatalf("echo serve on a held port: %v, want exit %d: %s", err, exitError, errOut.String())
	}
	if !strings.Contains(errOut.String(), "address already in use") ||
		!strings.Contains(errOut.String(), "held by a process in another PID namespace") {
		t.Errorf("stderr does not say the holder is in another PID namespace:\n%s", errOut.String())
	}
}
