package cli

import (
	"context"
	"encoding/json"
	"fmt"
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

	"github.com/netkit/netkit/diag"
	"github.com/netkit/netkit/diag/sockets"
	"github.com/netkit/netkit/internal/netlab"
)

// TestSocketsSSFlags checks that the flag clusters people type for ss and
// netstat are accepted and mean what they mean there.
func TestSocketsSSFlags(t *testing.T) {
	io, _, _, _ := testStreams()
	for _, tt := range []struct {
		args []string
		want sockets.Query
	}{
		{[]string{"-tlnp"}, sockets.Query{TCP: true, Listening: true}},
		{[]string{"-tulpn"}, sockets.Query{TCP: true, UDP: true, Listening: true}},
		{[]string{"-an"}, sockets.Query{}},
		{[]string{"-antp"}, sockets.Query{TCP: true}},
		{[]string{"-n", "-p", "-a"}, sockets.Query{}},
		{[]string{"-xw"}, sockets.Query{Unix: true, Raw: true}},
		{[]string{"-teo"}, sockets.Query{TCP: true}},
	} {
		var got *SocketsOptions
		cmd := NewCmdSockets(io, func(_ context.Context, o *SocketsOptions) error { got = o; return nil })
		cmd.SetArgs(tt.args)
		if err := cmd.Execute(); err != nil {
			t.Errorf("%q: %v", tt.args, err)
			continue
		}
		q := got.Query
		if q.TCP != tt.want.TCP || q.UDP != tt.want.UDP || q.Unix != tt.want.Unix || q.Raw != tt.want.Raw ||
			q.Listening != tt.want.Listening || q.Names || q.SkipOwners {
			t.Errorf("%q: query %+v, want %+v", tt.args, q, tt.want)
		}
		if e := slices.Contains(tt.args, "-teo"); got.Extended != e || got.Timers != e {
			t.Errorf("%q: extended %v, timers %v", tt.args, got.Extended, got.Timers)
		}
	}

	// End to end: -tlnp lists the listener, -e adds User and Inode, -o the
	// timer, 'who :PORT' is 'who PORT'.
	ln, ap := socketsListener(t, "tcp4", "127.0.0.1:0")
	socketsConnect(t, ln, "tcp4", ap.String())
	port := strconv.Itoa(int(ap.Port()))
	r := netkit(t, "sockets", "-tlnp", "--port", port, "-eo")
	rows := socketsCells(r.stdout)
	wantHeader := []string{"Proto", "Recv-Q", "Send-Q", "Local Address", "Foreign Address", "State", "User", "Inode", "PID/Program", "Timer"}
	if r.code != 0 || len(rows) != 2 || !slices.Equal(rows[0], wantHeader) {
		t.Fatalf("exit %d, stdout %q", r.code, r.stdout)
	}
	if row := rows[1]; row[3] != ap.String() || row[5] != "LISTEN" || row[6] != "root" && row[6] != strconv.Itoa(os.Getuid()) ||
		row[7] == "0" || row[9] != "-" {
		t.Errorf("row %q", row)
	}
	r = netkit(t, "sockets", "-antpo", "state", "established", "src", ap.String())
	rows = socketsCells(r.stdout)
	if r.code != 0 || len(rows) != 2 || !strings.HasPrefix(rows[1][7], "keepalive(") {
		t.Errorf("the accepted end with its keepalive timer: exit %d, %q", r.code, r.stdout)
	}
	// The listener and both ends of the connection.
	r = netkit(t, "sockets", "who", ":"+port)
	if rows := socketsOwn(socketsCells(r.stdout), 0); r.code != 0 || len(rows) != 3 {
		t.Errorf("who :%s: exit %d, %q", port, r.code, r.stdout)
	}
}

// TestSocketsMissingProcess: --pid of a process that does not exist says
// so and exits 1.
func TestSocketsMissingProcess(t *testing.T) {
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	pid := strconv.Itoa(cmd.Process.Pid) // exited and reaped
	r := netkit(t, "sockets", "--pid", pid)
	if r.code != exitFailed || r.stdout != "" || r.stderr != "netkit: list sockets: process "+pid+": no such process\n" {
		t.Errorf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
}

// TestSocketsFilterMatchesSS gives the same ss filter to netkit and to ss,
// on the command line as people type it.
func TestSocketsFilterMatchesSS(t *testing.T) {
	if testing.Short() {
		t.Skip("compares with ss: not under -short")
	}
	if _, err := exec.LookPath("ss"); err != nil {
		t.Skip("ss (iproute2) is not installed (.ci/run installs it)")
	}
	ln, ap := socketsListener(t, "tcp4", "127.0.0.1:0")
	c := socketsConnect(t, ln, "tcp4", ap.String())
	port := strconv.Itoa(int(ap.Port()))
	client := c.LocalAddr().(*net.TCPAddr).Port
	// Addresses as well as ports: other programs' connections on this
	// loopback may use the same port number on other addresses.
	filter := []string{"state", "established", "( dst = 127.0.0.1:" + port + " or src = 127.0.0.1:" + port + " ) and ( dport = :" + port + " or sport = :" + port + " )"}
	r := netkit(t, append([]string{"sockets", "-t", "--no-header"}, filter...)...)
	var got []string
	for _, row := range socketsCells(r.stdout) {
		got = append(got, row[3]+" "+row[4])
	}
	out, err := exec.Command("ss", append([]string{"-H", "-t", "-n"}, filter...)...).Output()
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for l := range strings.SplitSeq(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(l)
		want = append(want, f[len(f)-2]+" "+f[len(f)-1])
	}
	slices.Sort(got)
	slices.Sort(want)
	client4 := "127.0.0.1:" + strconv.Itoa(client)
	ends := []string{ap.String() + " " + client4, client4 + " " + ap.String()}
	slices.Sort(ends)
	if r.code != 0 || !slices.Equal(got, want) || !slices.Equal(got, ends) {
		t.Errorf("netkit %q (exit %d), ss %q", got, r.code, want)
	}
}

// netnsListen opens a TCP listener on 127.0.0.1 in namespace ns, closed
// when t ends, and runs then, still in ns, with it. It returns the
// listener's port.
func netnsListen(t *testing.T, ns string, then func(ln net.Listener) error) int {
	t.Helper()
	var port int
	netlab.Do(t, ns, func() error {
		ln, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			return err
		}
		t.Cleanup(func() { ln.Close() })
		port = ln.Addr().(*net.TCPAddr).Port
		return then(ln)
	})
	return port
}

// socketsNetnsSockets opens, in namespace ns, a TCP listener on
// 127.0.0.1 with a connection to it, a UDP socket and a UNIX stream
// listener on an abstract name (abstract names belong to a network
// namespace); they close when t ends. It returns the TCP port.
func socketsNetnsSockets(t *testing.T, ns string) int {
	t.Helper()
	return netnsListen(t, ns, func(ln net.Listener) error {
		socketsConnect(t, ln, "tcp4", ln.Addr().String())
		u, err := net.ListenPacket("udp4", "127.0.0.1:5353")
		if err != nil {
			return err
		}
		t.Cleanup(func() { u.Close() })
		ux, err := net.Listen("unix", "@"+ns)
		if err != nil {
			return err
		}
		t.Cleanup(func() { ux.Close() })
		return nil
	})
}

// TestSocketsNetnsMatchesSS lists a namespace's sockets with --netns and
// --netns-pid, and with 'ip netns exec NAME ss': the same rows, with this
// process as their owner.
func TestSocketsNetnsMatchesSS(t *testing.T) {
	if testing.Short() {
		t.Skip("network namespaces: not under -short")
	}
	ns := netlab.Netns(t, "cli")
	port := socketsNetnsSockets(t, ns)
	// Netid State Recv-Q Send-Q Local Peer: TCP, UDP and UNIX rows, the
	// latter with their inodes.
	out, err := exec.Command("ip", "netns", "exec", ns, "ss", "-H", "-tuxan").Output()
	if err != nil {
		t.Fatalf("ss in %s: %v", ns, err)
	}
	var want []string
	for l := range strings.SplitSeq(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(l)
		st, err := sockets.ParseState(f[1])
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(f[0], "u_") {
			// Local and peer are "NAME INODE" each; a peer of inode 0 is none.
			peer := f[6] + " " + f[7]
			if f[7] == "0" {
				peer = "*"
			}
			want = append(want, f[0]+" "+string(st)+" "+f[4]+" "+peer)
			continue
		}
		local, remote := f[4], f[5]
		if st == sockets.StateListen || st == sockets.StateUnconn {
			remote = "*:*"
		}
		want = append(want, f[0]+" "+string(st)+" "+local+" "+remote)
	}
	slices.Sort(want)

	sleep := exec.Command("ip", "netns", "exec", ns, "sleep", "60")
	if err := sleep.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sleep.Process.Kill(); sleep.Wait() })
	time.Sleep(100 * time.Millisecond) // for ip to enter the namespace and exec sleep
	owner := strconv.Itoa(os.Getpid()) + "/"
	for _, flag := range [][]string{{"--netns", ns}, {"--netns-pid", strconv.Itoa(sleep.Process.Pid)}} {
		r := netkit(t, append([]string{"sockets", "-tux", "--no-header"}, flag...)...)
		var got []string
		for _, row := range socketsCells(r.stdout) {
			if !strings.HasPrefix(row[6], owner) {
				t.Errorf("%s: row %q is not this process's", flag, row)
			}
			proto := strings.TrimSuffix(row[0], "6")
			if strings.HasPrefix(proto, "u_") {
				row[3] = strings.Fields(row[3])[0]
			}
			got = append(got, proto+" "+row[5]+" "+row[3]+" "+row[4])
		}
		slices.Sort(got)
		if r.code != 0 || !slices.Equal(got, want) {
			t.Errorf("%s: exit %d, %s\nnetkit:\n  %s\nss:\n  %s", flag, r.code, r.stderr, strings.Join(got, "\n  "), strings.Join(want, "\n  "))
		}
	}
	if len(want) != 5 || !slices.Contains(want, "tcp LISTEN 127.0.0.1:"+strconv.Itoa(port)+" *:*") {
		t.Errorf("ss lists %q, want the test's 5 sockets", want)
	}

	// The abstract name is the namespace's own: not listed here.
	r := netkit(t, "sockets", "-x", "src", "@"+ns)
	if r.code != 0 || len(socketsCells(r.stdout)) != 1 {
		t.Errorf("the root namespace lists @%s: %q", ns, r.stdout)
	}
	for _, tt := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--netns", ns + "-none"}, exitFailed, "netkit: list sockets: network namespace /run/netns/" + ns + "-none: no such network namespace"},
		{[]string{"--netns", "../x"}, exitError, `netkit: --netns: invalid namespace name "../x"`},
		{[]string{"--netns-pid", "0"}, exitError, "netkit: --netns-pid: invalid process id 0"},
		{[]string{"--netns", ns, "--netns-pid", "1"}, exitError, "netkit: --netns and --netns-pid cannot be used together"},
	} {
		r := netkit(t, append([]string{"sockets"}, tt.args...)...)
		if r.code != tt.code || !strings.HasPrefix(r.stderr, tt.want) {
			t.Errorf("%q: exit %d, stderr %q; want %d, %q", tt.args, r.code, r.stderr, tt.code, tt.want)
		}
	}
	// Entering a namespace needs CAP_SYS_ADMIN: nobody gets the reason.
	r = socketsAsNobody(t, "sockets", "--netns", ns)
	if r.code != exitError || !strings.Contains(r.stderr, "operation not permitted") ||
		!strings.Contains(r.stderr, "cause: this process may not enter that network namespace") {
		t.Errorf("as nobody: exit %d, stderr %q", r.code, r.stderr)
	}
}

// socketsRetransmitting opens, in namespace ns, a connection to a
// listener on 127.0.0.1 whose data an nftables rule drops (the handshake
// passes: only packets longer than 100 bytes to the listener's port are
// dropped), sends 1000 bytes and waits, at most 10 s, until the client has
// retransmitted twice. It returns the listener's port.
func socketsRetransmitting(t *testing.T, ns string) int {
	t.Helper()
	if _, err := exec.LookPath("nft"); err != nil {
		t.Skip("nft (nftables) is not installed (.ci/run installs it)")
	}
	port := netnsListen(t, ns, func(ln net.Listener) error {
		port := ln.Addr().(*net.TCPAddr).Port
		nft := exec.Command("ip", "netns", "exec", ns, "nft", "-f", "-")
		nft.Stdin = strings.NewReader(fmt.Sprintf("table inet nksock {\n chain in {\n  type filter hook input priority 0;\n"+
			"  tcp dport %d ip length > 100 drop\n }\n}\n", port))
		if out, err := nft.CombinedOutput(); err != nil {
			return fmt.Errorf("nft: %v: %s", err, out)
		}
		c := socketsConnect(t, ln, "tcp4", ln.Addr().String())
		_, err := c.Write(make([]byte, 1000))
		return err
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		list, err := sockets.List(t.Context(), sockets.Query{TCP: true, Netns: sockets.NetnsPath(ns), SkipOwners: true,
			States: []sockets.State{sockets.StateEstablished}})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range list.Sockets {
			if int(s.Remote.Port()) == port && s.Timer == sockets.TimerRetransmit && s.Retransmits >= 2 {
				return port
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no retransmissions after 10 s: %+v", list.Sockets)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestSocketsRetransmittingMatchesSS lists a connection stuck
// retransmitting with 'sockets -o' and 'ss -o' in its namespace: the same
// timer and count.
func TestSocketsRetransmittingMatchesSS(t *testing.T) {
	if testing.Short() {
		t.Skip("network namespaces and nftables: not under -short")
	}
	ns := netlab.Netns(t, "cli")
	port := strconv.Itoa(socketsRetransmitting(t, ns))
	// The count grows while the two tools run: take the first pass where
	// both saw the same one, of three.
	var got, want string
	for range 3 {
		r := netkit(t, "sockets", "--netns", ns, "-to", "--no-header", "state", "established", "dport = :"+port)
		rows := socketsCells(r.stdout)
		if r.code != 0 || len(rows) != 1 {
			t.Fatalf("exit %d: %q", r.code, r.stdout)
		}
		timer := rows[0][7] // retransmit(1.2s,3)
		got = timer[:strings.IndexByte(timer, '(')] + " " + timer[strings.LastIndexByte(timer, ',')+1:len(timer)-1]
		out, err := exec.Command("ip", "netns", "exec", ns, "ss", "-H", "-tno", "state", "established", "dport = :"+port).Output()
		if err != nil {
			t.Fatal(err)
		}
		m := regexp.MustCompile(`timer:\(on,[^,]*,(\d+)\)`).FindStringSubmatch(string(out))
		if m == nil {
			t.Fatalf("ss shows no retransmit timer: %s", out)
		}
		if want = "retransmit " + m[1]; got == want {
			break
		}
	}
	if got != want {
		t.Errorf("netkit %q, ss %q", got, want)
	}
}

// TestDiagnoseRetransmitting runs diagnose, in the namespace, against the
// listener whose connection is stuck retransmitting: the listen step says
// so.
func TestDiagnoseRetransmitting(t *testing.T) {
	if testing.Short() {
		t.Skip("network namespaces and nftables: not under -short")
	}
	ns := netlab.Netns(t, "cli")
	port := strconv.Itoa(socketsRetransmitting(t, ns))
	r := pingIn(t, ns, binary, "diagnose", "-c", "1", "--timeout", "1s", "--json", "127.0.0.1:"+port)
	var rep struct {
		Steps          []diag.Step      `json:"steps"`
		Retransmitting []sockets.Socket `json:"retransmitting"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("%v: %s", err, r.stderr)
	}
	var listen *diag.Step
	for i := range rep.Steps {
		if rep.Steps[i].Name == diag.StepListen {
			listen = &rep.Steps[i]
		}
	}
	if listen == nil || listen.Status != diag.StatusWarn || len(rep.Retransmitting) != 1 ||
		!slices.ContainsFunc(listen.Details, func(d string) bool {
			return strings.HasPrefix(d, "1 connection on port "+port+" is retransmitting (up to ")
		}) {
		t.Errorf("listen step %+v, retransmitting %+v", listen, rep.Retransmitting)
	}
}

// TestSocketsWhoPath asks who holds a UNIX socket path, as a user would.
func TestSocketsWhoPath(t *testing.T) {
	path := filepath.Join(t.TempDir(), "who.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	r := netkit(t, "sockets", "who", path)
	rows := socketsCells(r.stdout)
	if r.code != 0 || len(rows) != 2 || rows[1][0] != strconv.Itoa(os.Getpid()) || rows[1][4] != "u_str" ||
		!strings.HasPrefix(rows[1][5], path+" ") || rows[1][7] != "LISTEN" {
		t.Errorf("exit %d, %q", r.code, r.stdout)
	}
	ln.Close()
	r = netkit(t, "sockets", "who", path)
	if r.code != exitFailed || !strings.HasPrefix(r.stderr, "netkit: nothing holds UNIX socket "+path) {
		t.Errorf("after close: exit %d, stderr %q", r.code, r.stderr)
	}
}

// TestSocketsWatchPiped: in a pipe, --watch prints a timestamped listing
// per interval, -c of them.
func TestSocketsWatchPiped(t *testing.T) {
	_, ap := socketsListener(t, "tcp4", "127.0.0.1:0")
	port := strconv.Itoa(int(ap.Port()))
	start := time.Now()
	r := netkit(t, "sockets", "-tl", "--port", port, "--watch", "0.2", "-c", "3")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if took := time.Since(start); took < 400*time.Millisecond {
		t.Errorf("3 listings 0.2 s apart took %s", took)
	}
	frames := regexp.MustCompile(`(?m)^# (\S+)\n`).Split(r.stdout, -1)
	stamps := regexp.MustCompile(`(?m)^# (\S+)$`).FindAllStringSubmatch(r.stdout, -1)
	if len(frames) != 4 || frames[0] != "" || len(stamps) != 3 {
		t.Fatalf("want 3 timestamped listings, got %q", r.stdout)
	}
	for i, f := range frames[1:] {
		if _, err := time.Parse(time.RFC3339, stamps[i][1]); err != nil {
			t.Errorf("timestamp %q: %v", stamps[i][1], err)
		}
		rows := socketsCells(f)
		if len(rows) != 2 || rows[1][3] != ap.String() || rows[1][5] != "LISTEN" {
			t.Errorf("listing %d: %q", i+1, f)
		}
	}
}

// TestSocketsWatchJSONLines: --format jsonl prints one "listing" line per
// interval, with the sockets or the summary.
func TestSocketsWatchJSONLines(t *testing.T) {
	_, ap := socketsListener(t, "tcp4", "127.0.0.1:0")
	port := strconv.Itoa(int(ap.Port()))
	for _, summary := range []bool{false, true} {
		// -l: the listener only, not the connections of other programs
		// that used the port before and are closing.
		args := []string{"sockets", "-tl", "--port", port, "--watch=100ms", "-c", "2", "--format", "jsonl"}
		if summary {
			args = append(args, "-s")
		}
		r := netkit(t, args...)
		lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
		if r.code != 0 || len(lines) != 2 {
			t.Fatalf("exit %d, %q", r.code, r.stdout)
		}
		for _, l := range lines {
			var ev struct {
				Type          string           `json:"type"`
				SchemaVersion int              `json:"schema_version"`
				Time          time.Time        `json:"time"`
				Sockets       []sockets.Socket `json:"sockets"`
				Summary       *sockets.Summary `json:"summary"`
			}
			if err := json.Unmarshal([]byte(l), &ev); err != nil {
				t.Fatalf("%v: %s", err, l)
			}
			ok := ev.Type == "listing" && ev.SchemaVersion == 1 && time.Since(ev.Time) < time.Minute
			if summary {
				ok = ok && ev.Sockets == nil && ev.Summary != nil && ev.Summary.Total == 1
			} else {
				ok = ok && ev.Summary == nil && len(ev.Sockets) == 1 && ev.Sockets[0].Local == ap
			}
			if !ok {
				t.Errorf("summary %v: line %s", summary, l)
			}
		}
	}
}

// TestSocketsWatchTerminal draws three listings on a terminal, with a
// connection opened after the first and closed after the second: the
// second marks its two ends new (+), the third gone (-); the summary
// shows each count's change.
func TestSocketsWatchTerminal(t *testing.T) {
	ln, ap := socketsListener(t, "tcp4", "127.0.0.1:0")
	io, _, out, _ := testStreams()
	io.OutTTY = true
	// Listening and established only: other programs' connections that
	// used the port before may be closing.
	opts := &SocketsOptions{IO: io, Watch: time.Second, Query: sockets.Query{TCP: true, Port: ap.Port(),
		States: []sockets.State{sockets.StateListen, sockets.StateEstablished}}}
	w := &socketsWatcher{opts: opts}
	sum := &socketsWatcher{opts: &SocketsOptions{IO: io, Watch: time.Second, Summary: true}}
	frame := func() (table, summary string) {
		t.Helper()
		list, err := sockets.List(t.Context(), opts.Query)
		if err != nil {
			t.Fatal(err)
		}
		out.Reset()
		if err := w.frame(time.Now(), list); err != nil {
			t.Fatal(err)
		}
		table = out.String()
		out.Reset()
		if err := sum.frame(time.Now(), list); err != nil {
			t.Fatal(err)
		}
		return table, out.String()
	}
	// marks are the +/- cells of a frame's rows, by state.
	marks := func(frame string) []string {
		var m []string
		for _, l := range strings.Split(frame, "\n")[3:] {
			f := strings.Fields(l)
			switch {
			case len(f) == 0 || strings.HasPrefix(l, "─") || strings.HasPrefix(l, "note:"):
			case f[0] == "+" || f[0] == "-" || f[0] == "~":
				m = append(m, f[0]+" "+f[6])
			default:
				m = append(m, "  "+f[5])
			}
		}
		slices.Sort(m)
		return m
	}
	first, _ := frame()
	if !strings.HasPrefix(first, "\x1b[H\x1b[2JEvery 1s: netkit sockets, ") || !strings.Contains(first, ", 1 socket\n") {
		t.Errorf("first frame %q", first)
	}
	if got := marks(first); !slices.Equal(got, []string{"  LISTEN"}) {
		t.Errorf("first frame marks %q:\n%s", got, first)
	}
	c, err := net.Dial("tcp4", ap.String())
	if err != nil {
		t.Fatal(err)
	}
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	second, sum2 := frame()
	if got := marks(second); !slices.Equal(got, []string{"  LISTEN", "+ ESTABLISHED", "+ ESTABLISHED"}) ||
		!strings.Contains(second, "3 sockets: 2 new, 0 changed, 0 gone") {
		t.Errorf("second frame marks %q:\n%s", got, second)
	}
	if !regexp.MustCompile(`tcp\s+ESTABLISHED\s+2\s+\+2`).MatchString(sum2) {
		t.Errorf("second summary:\n%s", sum2)
	}
	for _, conn := range []net.Conn{c, s} {
		conn.(*net.TCPConn).SetLinger(0)
		conn.Close()
	}
	third, sum3 := frame()
	if got := marks(third); !slices.Equal(got, []string{"  LISTEN", "- ESTABLISHED", "- ESTABLISHED"}) {
		t.Errorf("third frame marks %q:\n%s", got, third)
	}
	if !regexp.MustCompile(`tcp\s+ESTABLISHED\s+0\s+-2`).MatchString(sum3) {
		t.Errorf("third summary:\n%s", sum3)
	}
}

// TestSocketsWatchInterrupt: Ctrl-C ends --watch normally (exit 0).
func TestSocketsWatchInterrupt(t *testing.T) {
	cmd := exec.Command(binary, "sockets", "-t", "--watch", "0.1")
	var out strings.Builder
	cmd.Stdout = &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	cmd.Process.Signal(os.Interrupt)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil || strings.Count(out.String(), "\n# ") < 1 {
			t.Errorf("after Ctrl-C: %v, %d bytes of listings", err, out.Len())
		}
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		t.Fatal("--watch did not end on Ctrl-C")
	}
}
