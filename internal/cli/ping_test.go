package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/netkit/netkit/diag/ping"
	"github.com/netkit/netkit/internal/output"
	"github.com/netkit/netkit/internal/testenv"
	"github.com/netkit/netkit/internal/testnet"
	"github.com/netkit/netkit/resolve"
)

// TestPingFlags checks how the command line lands in PingOptions.
func TestPingFlags(t *testing.T) {
	dir := t.TempDir()
	list := filepath.Join(dir, "hosts.txt")
	os.WriteFile(list, []byte("# lab\n127.0.0.2\n::1\n"), 0o644)
	io, _, _, _ := testStreams()
	var got *PingOptions
	cmd := NewCmdPing(io, func(_ context.Context, o *PingOptions) error { got = o; return nil })
	cmd.SetArgs([]string{"-c", "3", "-i", "0.2", "-W", "500ms", "-w", "2", "-t", "9", "-4", "-q", "-v", "-O", "--tcp", "https", "-f", list, "--json", "127.0.0.1"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	want := []string{"127.0.0.1", "127.0.0.2", "::1"}
	if strings.Join(got.Hosts, ",") != strings.Join(want, ",") {
		t.Errorf("hosts %q, want %q", got.Hosts, want)
	}
	if got.Count != 3 || got.Interval != 200*time.Millisecond || got.Timeout != 500*time.Millisecond || got.Deadline != 2*time.Second ||
		got.TTL != 9 || got.family != resolve.IPv4 || !got.Quiet || !got.Verbose || !got.Outstanding || got.TCPPort != 443 || got.Output.Format != output.FormatJSON {
		t.Errorf("options %+v", got)
	}
	got = nil
	cmd = NewCmdPing(io, func(_ context.Context, o *PingOptions) error { got = o; return nil })
	cmd.SetArgs([]string{"::1"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if got.Interval != ping.DefaultInterval || got.Timeout != ping.DefaultTimeout || got.Size != ping.DefaultSize || got.Count != 0 || got.Deadline != 0 {
		t.Errorf("defaults %+v", got)
	}
}

// TestPingUsageErrors checks that bad input is one line and exit 2.
func TestPingUsageErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.txt")
	os.WriteFile(bad, []byte("127.0.0.1\nweb db\n"), 0o644)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"ping"}, "no host to ping"},
		{[]string{"ping", "-4", "-6", "::1"}, "-4 and -6 cannot be used together"},
		{[]string{"ping", "-c", "0", "127.0.0.1"}, "invalid -c 0"},
		{[]string{"ping", "-c", "x", "127.0.0.1"}, `invalid argument "x" for "-c, --count"`},
		{[]string{"ping", "-i", "abc", "127.0.0.1"}, "want seconds, such as 0.2 or 200ms"},
		{[]string{"ping", "-i", "-1", "127.0.0.1"}, "want seconds from 0 to"},
		{[]string{"ping", "-i", "0", "127.0.0.1"}, "invalid -i 0"},
		{[]string{"ping", "-i", "0.0001", "127.0.0.1"}, "invalid -i 100µs: must be at least 1ms"},
		{[]string{"ping", "-W", "NaN", "127.0.0.1"}, "want seconds from 0 to"},
		{[]string{"ping", "-w", "1e300", "127.0.0.1"}, "want seconds from 0 to"},
		{[]string{"ping", "-s", "70000", "127.0.0.1"}, "invalid -s 70000: must be from 0 to 65507 bytes"},
		{[]string{"ping", "-t", "256", "127.0.0.1"}, "invalid -t 256: must be from 1 to 255"},
		{[]string{"ping", "--tcp", "0", "127.0.0.1"}, `invalid --tcp: port "0" is not a number from 1 to 65535`},
		{[]string{"ping", "--tcp", "70000", "127.0.0.1"}, `invalid --tcp: port "70000" is not a number`},
		{[]string{"ping", "--tcp", "nosuchservice", "127.0.0.1"}, `port "nosuchservice" is neither a number from 1 to 65535 nor a TCP service name`},
		{[]string{"ping", "--tcp", "80", "-s", "100", "127.0.0.1"}, "-s does not apply to --tcp"},
		{[]string{"ping", "--format", "yaml", "127.0.0.1"}, `invalid --format "yaml"`},
		{[]string{"ping", "-f", filepath.Join(dir, "missing.txt")}, "no such file or directory"},
		{[]string{"ping", "-f", bad}, "line 2: 2 words, want one host per line"},
	} {
		assertOneLineError(t, netkit(t, tc.args...), tc.want)
	}
}

// TestPingStdinList reads the host list from stdin with --file -.
func TestPingStdinList(t *testing.T) {
	r := netkitStdin(t, "127.0.0.1\n::1\n", "ping", "-c", "1", "-f", "-", "--no-header")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if lines := strings.Split(strings.TrimSpace(r.stdout), "\n"); len(lines) != 2 {
		t.Errorf("want one row per host and no header:\n%s", r.stdout)
	}
}

var (
	replyLine = regexp.MustCompile(`^64 bytes from (\S+): icmp_seq=(\d+) ttl=64 time=(\d+\.\d{3}) ms$`)
	// iputils prints fewer decimals as the time grows ("time=1.51 ms").
	iputilsReplyLine = regexp.MustCompile(`^64 bytes from (\S+): icmp_seq=(\d+) ttl=64 time=(\d+(?:\.\d+)?) ms$`)
	statsLine        = regexp.MustCompile(`^(\d+) packets transmitted, (\d+) received, (\S+)% packet loss, time \d+ms$`)
	rttLine          = regexp.MustCompile(`^rtt min/avg/max/mdev = (\d+\.\d{3})/(\d+\.\d{3})/(\d+\.\d{3})/(\d+\.\d{3}) ms$`)
)

// TestPingOneHost pings 127.0.0.1 and ::1 and checks ping's output shape
// against iputils ping run in the same test: the same header, one line per
// reply and the same statistics block.
func TestPingOneHost(t *testing.T) {
	pingNeedRoot(t)
	for _, host := range []string{"127.0.0.1", "::1"} {
		r := netkit(t, "ping", "-c", "3", "-i", "0.2", "-W", "1", host)
		if r.code != 0 {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		lines := strings.Split(strings.TrimRight(r.stdout, "\n"), "\n")
		if len(lines) != 8 {
			t.Fatalf("want header, 3 replies, blank, 3 summary lines:\n%s", r.stdout)
		}
		ref := pingIputilsLines(t, "-c", "3", "-i", "0.2", host)
		if lines[0] != ref[0] {
			t.Errorf("header %q, iputils %q", lines[0], ref[0])
		}
		for i, l := range lines[1:4] {
			m, mref := replyLine.FindStringSubmatch(l), iputilsReplyLine.FindStringSubmatch(ref[i+1])
			if m == nil || mref == nil || m[1] != host || m[2] != strconv.Itoa(i+1) || m[2] != mref[2] {
				t.Errorf("reply line %q, iputils %q: want icmp_seq from 1, as iputils", l, ref[i+1])
				continue
			}
			if rtt, _ := strconv.ParseFloat(m[3], 64); rtt <= 0 || rtt >= 1000 {
				t.Errorf("rtt %v ms: want 0 < rtt < the 1 s timeout", rtt)
			}
		}
		if lines[5] != "--- "+host+" ping statistics ---" || lines[5] != ref[len(ref)-3] {
			t.Errorf("summary title %q, iputils %q", lines[5], ref[len(ref)-3])
		}
		m, mref := statsLine.FindStringSubmatch(lines[6]), statsLine.FindStringSubmatch(ref[len(ref)-2])
		if m == nil || mref == nil || m[1] != "3" || m[2] != "3" || m[3] != "0" || m[1] != mref[1] || m[2] != mref[2] || m[3] != mref[3] {
			t.Errorf("statistics %q, iputils %q", lines[6], ref[len(ref)-2])
		}
		rtt, rttRef := rttLine.FindStringSubmatch(lines[7]), rttLine.FindStringSubmatch(ref[len(ref)-1])
		if rtt == nil || rttRef == nil {
			t.Fatalf("rtt line %q, iputils %q", lines[7], ref[len(ref)-1])
		}
		t.Logf("%s: netkit %s; iputils %s", host, lines[7], ref[len(ref)-1])
		// pro-bing takes its receive time after a goroutine hop, iputils
		// from the kernel: netkit's loopback RTT is a few times larger, but
		// of the same order, and far below the 1 s timeout.
		avg, _ := strconv.ParseFloat(rtt[2], 64)
		avgRef, _ := strconv.ParseFloat(rttRef[2], 64)
		if !(avg > 0 && avgRef > 0 && avg < 1000 && avg < 20*avgRef+5) {
			t.Errorf("%s: avg rtt %.3f ms, iputils %.3f ms: want both positive, netkit's below the timeout and 20×iputils+5 ms", host, avg, avgRef)
		}
	}
}

// pingIputilsLines runs iputils ping and returns its output lines, skipping
// the test when ping is not installed.
func pingIputilsLines(t *testing.T, args ...string) []string {
	t.Helper()
	if _, err := exec.LookPath("ping"); err != nil {
		t.Skip("iputils ping not installed (apt-get install iputils-ping)")
	}
	out, err := exec.Command("ping", append([]string{"-n"}, args...)...).Output()
	if err != nil {
		t.Fatalf("ping %v: %v", args, err)
	}
	return strings.Split(strings.TrimRight(string(out), "\n"), "\n")
}

// pingNeedRoot skips tests that need raw ICMP sockets or namespaces.
func pingNeedRoot(t *testing.T) {
	t.Helper()
	testenv.NeedRoot(t)
}

// TestPingQuiet checks that -q keeps the header and the summary only.
func TestPingQuiet(t *testing.T) {
	pingNeedRoot(t)
	r := netkit(t, "ping", "-q", "-c", "2", "-i", "0.2", "127.0.0.1")
	if r.code != 0 || strings.Contains(r.stdout, "bytes from") || !strings.Contains(r.stdout, "2 packets transmitted, 2 received") {
		t.Errorf("exit %d:\n%s", r.code, r.stdout)
	}
}

// TestPingJSON checks the --json document and the JSON lines stream.
func TestPingJSON(t *testing.T) {
	pingNeedRoot(t)
	r := netkit(t, "ping", "--json", "-c", "2", "-i", "0.2", "127.0.0.1", "::1")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var doc struct {
		SchemaVersion int `json:"schema_version"`
		Targets       []struct {
			ping.Stats
			Probes []ping.Probe `json:"probes"`
		} `json:"targets"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatalf("%v\n%s", err, r.stdout)
	}
	if doc.SchemaVersion != output.SchemaVersion || len(doc.Targets) != 2 {
		t.Fatalf("document %+v", doc)
	}
	for i, tg := range doc.Targets {
		if tg.Host != []string{"127.0.0.1", "::1"}[i] || tg.Sent != 2 || tg.Received != 2 || tg.LossPct != 0 || tg.State != ping.Alive ||
			tg.Method != ping.MethodRaw || tg.MinMs <= 0 || tg.MaxMs >= 2000 || len(tg.Probes) != 2 {
			t.Errorf("target %d: %+v", i, tg)
		}
		for j, p := range tg.Probes {
			if p.Kind != ping.ProbeReply || p.RTTMs <= 0 || p.Seq != j+1 {
				t.Errorf("target %d probe %+v", i, p)
			}
		}
		if strings.Contains(r.stdout, `"open"`) {
			t.Errorf("ICMP targets with TCP port counts:\n%s", r.stdout)
		}
	}

	// --tcp: both port counts, a zero one too.
	r = netkit(t, "ping", "--json", "--tcp", strconv.Itoa(int(testnet.ClosedPort(t, "tcp4", "127.0.0.1").Port())), "-c", "1", "127.0.0.1")
	if r.code != 0 || !strings.Contains(r.stdout, `"open": 0,`) || !strings.Contains(r.stdout, `"closed": 1,`) {
		t.Errorf("--tcp --json: exit %d\n%s", r.code, r.stdout)
	}

	r = netkit(t, "ping", "--format", "jsonl", "-c", "2", "-i", "0.2", "127.0.0.1")
	var types []string
	sc := bufio.NewScanner(strings.NewReader(r.stdout))
	for sc.Scan() {
		var ev struct {
			Type          string `json:"type"`
			SchemaVersion int    `json:"schema_version"`
		}
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil || ev.SchemaVersion != output.SchemaVersion {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		types = append(types, ev.Type)
	}
	if strings.Join(types, ",") != "start,probe,probe,summary" {
		t.Errorf("event types %v", types)
	}
}

// TestPingUnresolvable pings a name the in-process DNS server answers
// NXDOMAIN for: exit 1, as resolve and diagnose, with the lookup's message
// and its explanation; with other hosts, the table says unresolved and the
// exit code is still 1.
func TestPingUnresolvable(t *testing.T) {
	srv := resolveEnv(t)
	r := netkit(t, "ping", "-c", "1", "nosuch.test")
	if r.code != exitFailed {
		t.Errorf("exit %d, want 1", r.code)
	}
	want := "netkit: ping: nosuch.test: no such host (asked: hosts file " + os.Getenv("NETKIT_HOSTS_FILE") + ", DNS server " + srv.Addr.Addr().String() + ":53)\n"
	if !strings.HasPrefix(r.stderr, want) || !strings.Contains(r.stderr, "cause: the name nosuch.test does not exist") {
		t.Errorf("stderr %q, want it to start with %q and explain NXDOMAIN", r.stderr, want)
	}
	if r.stdout != "" {
		t.Errorf("stdout %q, want nothing", r.stdout)
	}
	if os.Geteuid() != 0 {
		return
	}
	r = netkit(t, "ping", "-c", "1", "web.test", "nosuch.test", "nosuch2.test")
	if r.code != exitFailed {
		t.Errorf("exit %d, want 1", r.code)
	}
	rows := pingTableRows(r.stdout)
	if rows["web.test"][1] != "127.0.0.5" || rows["web.test"][9] != "alive" || rows["nosuch.test"][9] != "unresolved" || rows["nosuch.test"][1] != "-" {
		t.Errorf("table:\n%s", r.stdout)
	}
	// Each error is said, and each kind explained once.
	lines := strings.Split(strings.TrimRight(r.stderr, "\n"), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "netkit: ping: nosuch.test: no such host") ||
		!strings.HasPrefix(lines[1], "  cause: the name nosuch.test does not exist") || !strings.HasPrefix(lines[2], "  next:  ") ||
		!strings.HasPrefix(lines[3], "netkit: ping: nosuch2.test: no such host") {
		t.Errorf("stderr:\n%s", r.stderr)
	}
}

// pingTableRows splits a plain (piped) table into rows keyed by their first
// column.
func pingTableRows(out string) map[string][]string {
	rows := map[string][]string{}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n")[1:] {
		f := strings.Fields(l)
		rows[f[0]] = f
	}
	return rows
}

// TestPingTCP checks --tcp against a listener (open) and a closed port
// (closed): both mean the host is up, exit 0.
func TestPingTCP(t *testing.T) {
	ln := testnet.Listen(t, "127.0.0.1:0")
	testnet.ServeConns(t, ln, func(net.Conn) {})
	open := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	closed := strconv.Itoa(int(testnet.ClosedPort(t, "tcp4", "127.0.0.1").Port()))
	for _, tc := range []struct{ port, state string }{{open, "open"}, {closed, "closed"}} {
		r := netkit(t, "ping", "--tcp", tc.port, "-c", "2", "-i", "0.2", "127.0.0.1")
		if r.code != 0 {
			t.Fatalf("port %s: exit %d: %s", tc.port, r.code, r.stderr)
		}
		line := regexp.MustCompile(`(?m)^from 127\.0\.0\.1:` + tc.port + `: tcp_seq=2 ` + tc.state + ` time=\d+\.\d{3} ms$`)
		if !line.MatchString(r.stdout) || !strings.Contains(r.stdout, "2 probes transmitted, 2 received, 0% probe loss") {
			t.Errorf("port %s:\n%s", tc.port, r.stdout)
		}
		if !strings.Contains(r.stdout, "port "+tc.port+": ") {
			t.Errorf("no port summary:\n%s", r.stdout)
		}
	}
}

// TestPingManyHosts pings 200 loopback addresses at once, as fping would,
// and checks that it takes about what one host takes; fping and iputils
// ping are timed in the same run for comparison.
func TestPingManyHosts(t *testing.T) {
	pingNeedRoot(t)
	var hosts strings.Builder
	for i := 1; i <= 200; i++ {
		hosts.WriteString("127.0.0." + strconv.Itoa(i) + "\n")
	}
	list := filepath.Join(t.TempDir(), "hosts.txt")
	os.WriteFile(list, []byte(hosts.String()), 0o644)

	t1, r1 := pingTimed(t, binary, "ping", "-q", "-c", "3", "-i", "0.2", "127.0.0.1")
	t200, r := pingTimed(t, binary, "ping", "-c", "3", "-i", "0.2", "--file", list)
	if r1.code != 0 || r.code != 0 {
		t.Fatalf("exit %d / %d: %s%s", r1.code, r.code, r1.stderr, r.stderr)
	}
	rows := pingTableRows(r.stdout)
	if len(rows) != 200 {
		t.Fatalf("%d rows, want 200", len(rows))
	}
	for host, f := range rows {
		if f[2] != "3" || f[3] != "3" || f[4] != "0" || f[5] != "0" || f[9] != "alive" {
			t.Errorf("%s: %v", host, f)
		}
	}
	msg := "netkit: 1 host " + t1.Round(time.Millisecond).String() + ", 200 hosts " + t200.Round(time.Millisecond).String() +
		" (" + strconv.FormatFloat(float64(t200)/float64(t1), 'f', 2, 64) + "x)"
	if _, err := exec.LookPath("fping"); err == nil {
		tf, rf := pingTimed(t, "fping", "-q", "-c", "3", "-p", "200", "-i", "1", "-g", "127.0.0.1", "127.0.0.200")
		msg += "; fping 200 hosts " + tf.Round(time.Millisecond).String() + " (exit " + strconv.Itoa(rf.code) + ")"
	}
	if _, err := exec.LookPath("ping"); err == nil {
		tp, _ := pingTimed(t, "ping", "-q", "-c", "3", "-i", "0.2", "127.0.0.1")
		msg += "; iputils ping 1 host " + tp.Round(time.Millisecond).String()
	}
	t.Log(msg)
	// One host after another would take 200 times as long; a loaded
	// machine stretches the concurrent run to a few times one host.
	if t200 > 20*t1 {
		t.Errorf("200 hosts took %v, one host %v: the hosts are not pinged concurrently", t200, t1)
	}
}

// pingTimed runs a command with a one-minute limit and says how long it took.
func pingTimed(t *testing.T, name string, args ...string) (time.Duration, result) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	start := time.Now()
	r := pingRunCommand(t, exec.CommandContext(ctx, name, args...))
	return time.Since(start), r
}

// pingRunCommand runs cmd and returns what it printed and its exit code.
func pingRunCommand(t *testing.T, cmd *exec.Cmd) result {
	t.Helper()
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if err != nil && cmd.ProcessState == nil {
		t.Fatalf("%s: %v", cmd, err)
	}
	return result{stdout: out.String(), stderr: errOut.String(), code: cmd.ProcessState.ExitCode()}
}

// TestPingInterrupt stops an endless ping with SIGINT, as Ctrl-C does: it
// prints the statistics and exits 0, since replies came.
func TestPingInterrupt(t *testing.T) {
	pingNeedRoot(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, "ping", "-i", "0.2", "127.0.0.1")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	var out strings.Builder
	replies := 0
	for replies < 2 && sc.Scan() {
		out.WriteString(sc.Text() + "\n")
		if replyLine.MatchString(sc.Text()) {
			replies++
		}
	}
	cmd.Process.Signal(syscall.SIGINT)
	for sc.Scan() {
		out.WriteString(sc.Text() + "\n")
	}
	err = cmd.Wait()
	if err != nil || !strings.Contains(out.String(), "--- 127.0.0.1 ping statistics ---") || !strings.Contains(out.String(), "0% packet loss") {
		t.Errorf("after SIGINT: %v\n%s", err, out.String())
	}
}

// TestPingDeadline checks -w against iputils ping run in the same test: an
// endless ping stops at the deadline with the probes iputils sends (4 with
// -w 1 -i 0.25), all answered: none goes out at the deadline to be cut off
// and counted as lost. With -c 5 -i 0.3 -w 1 the fifth probe would be due
// at 1.2 s: 4 replies of 5 by the deadline is exit 1, as in iputils.
func TestPingDeadline(t *testing.T) {
	pingNeedRoot(t)
	counts := regexp.MustCompile(`(\d+) packets transmitted, (\d+) received, (\S+)% packet loss`)
	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"-w", "1", "-i", "0.25"}, 0},
		{[]string{"-c", "5", "-i", "0.3", "-w", "1"}, 1},
	} {
		start := time.Now()
		r := netkit(t, append([]string{"ping", "-q"}, append(tc.args, "127.0.0.1")...)...)
		took := time.Since(start)
		m := counts.FindStringSubmatch(r.stdout)
		if r.code != tc.code || m == nil {
			t.Fatalf("%v: exit %d, want %d:\n%s%s", tc.args, r.code, tc.code, r.stdout, r.stderr)
		}
		if m[1] != "4" || m[2] != "4" || m[3] != "0" || took > 3*time.Second {
			t.Errorf("%v: %s in %v; want 4 transmitted, 4 received, 0%% loss", tc.args, m[0], took)
		}
		if tc.code == 1 && !strings.Contains(r.stderr, "4 of 5 replies by the -w deadline") {
			t.Errorf("%v: stderr %q does not say why exit 1", tc.args, r.stderr)
		}
		if _, err := exec.LookPath("ping"); err != nil {
			continue
		}
		ref := pingRunCommand(t, exec.Command("ping", append(append([]string{"-n", "-q"}, tc.args...), "127.0.0.1")...))
		if mref := counts.FindStringSubmatch(ref.stdout); ref.code != r.code || mref == nil || mref[1] != m[1] || mref[2] != m[2] {
			t.Errorf("%v: netkit %q exit %d; iputils %q exit %d", tc.args, m[0], r.code, mref, ref.code)
		}
	}
}

// TestPingFamily checks what -4 and -6 say about a target of the other
// family: a literal is an address of that family, not a name without
// addresses; a name from the hosts file has only addresses of the other
// family, not "no such host".
func TestPingFamily(t *testing.T) {
	resolveEnv(t)
	r := netkit(t, "ping", "-c", "1", "-4", "::1")
	assertOneLineError(t, r, "netkit: ping: ::1 is an IPv6 address, and IPv4 was asked for")
	r = netkit(t, "ping", "-c", "1", "-6", "localhost")
	if r.code != exitFailed || !strings.HasPrefix(r.stderr, "netkit: ping: localhost has only IPv4 addresses (127.0.0.1), and IPv6 was asked for\n") ||
		!strings.Contains(r.stderr, "cause: the name localhost exists") {
		t.Errorf("-6 localhost: exit %d, stderr:\n%s", r.code, r.stderr)
	}
}

// FuzzParseSeconds checks that -i, -W and -w either refuse a value or give
// a duration from 0 to maxSeconds that prints back to the same duration.
func FuzzParseSeconds(f *testing.F) {
	for _, s := range []string{"0.2", "1", "200ms", "1e-3", "NaN", "-1", "1e300", "Inf", "0x1p-2", "1h"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := parseSeconds(s)
		if err != nil {
			return
		}
		if d < 0 || d > maxSeconds*time.Second {
			t.Fatalf("%q: %v out of range", s, d)
		}
		back, err := parseSeconds(secondsValue{&d}.String())
		if err != nil || math.Abs(float64(back-d)) > 1 {
			t.Fatalf("%q: %v prints as %q, which reads back as %v (%v)", s, d, secondsValue{&d}.String(), back, err)
		}
	})
}

// TestPingIputilsFlags checks the flags netkit ping shares with iputils
// ping: -n is accepted, -D starts each probe line with the time as iputils
// does, -t 0 and a -s too small for netkit's probes are refused rather than
// silently replaced by the defaults, and -I names an interface or address
// that must exist. -s goes down to 0 as iputils allows, with the same lines
// (no times below 16 bytes).
func TestPingIputilsFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"ping", "-t", "0", "127.0.0.1"}, "invalid -t 0: must be from 1 to 255"},
		{[]string{"ping", "-s", "-1", "127.0.0.1"}, "invalid -s -1: must be from 0 to 65507 bytes"},
		{[]string{"ping", "-s", "8", "-I", "lo", "127.0.0.1"}, "invalid -s 8: below 24 bytes cannot be sent from a given interface or address"},
		{[]string{"ping", "-I", "nosuch0", "127.0.0.1"}, "invalid -I nosuch0: neither an address nor an interface of this machine"},
	} {
		assertOneLineError(t, netkit(t, tc.args...), tc.want)
	}
	pingNeedRoot(t)
	stamped := regexp.MustCompile(`(?m)^\[\d+\.\d{6}\] 64 bytes from 127\.0\.0\.1: icmp_seq=1 ttl=64 time=\d+\.\d+ ms$`)
	r := netkit(t, "ping", "-n", "-D", "-c", "1", "-I", "lo", "127.0.0.1")
	if r.code != 0 || !stamped.MatchString(r.stdout) {
		t.Errorf("-n -D -I lo: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if _, err := exec.LookPath("ping"); err == nil {
		_, ref := pingTimed(t, "ping", "-n", "-D", "-c", "1", "-I", "lo", "127.0.0.1")
		if !stamped.MatchString(ref.stdout) {
			t.Errorf("iputils ping -D does not print the same form:\n%s", ref.stdout)
		}
	}
	r = netkit(t, "ping", "-c", "1", "-I", "127.0.0.1", "127.0.0.1")
	if r.code != 0 || !strings.Contains(r.stdout, "1 packets transmitted, 1 received") {
		t.Errorf("-I 127.0.0.1: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if _, err := exec.LookPath("ping"); err != nil {
		return
	}
	times := regexp.MustCompile(`time[= ]\d+(\.\d+)?\s?ms|\d+\.\d{3}/\d+\.\d{3}/\d+\.\d{3}/\d+\.\d{3}`)
	for _, size := range []string{"0", "8", "16", "23"} {
		for _, host := range []string{"127.0.0.1", "::1"} {
			r := netkit(t, "ping", "-s", size, "-c", "2", "-i", "0.2", host)
			_, ref := pingTimed(t, "ping", "-n", "-s", size, "-c", "2", "-i", "0.2", host)
			if got, want := times.ReplaceAllString(r.stdout, "T"), times.ReplaceAllString(ref.stdout, "T"); r.code != ref.code || got != want {
				t.Errorf("-s %s %s: exit %d\n%s\niputils ping: exit %d\n%s", size, host, r.code, got, ref.code, want)
			}
		}
	}
}

// TestPingLiveOnTerminal checks that several hosts on a terminal get a line
// per answer as it comes, as fping prints them, before the table; piped,
// only the table.
func TestPingLiveOnTerminal(t *testing.T) {
	pingNeedRoot(t)
	io, _, out, _ := testStreams()
	io.OutTTY = true
	if code := run(context.Background(), io, []string{"ping", "-c", "2", "-i", "0.2", "127.0.0.1", "127.0.0.2"}); code != 0 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	live := regexp.MustCompile(`(?m)^127\.0\.0\.[12] : 64 bytes from 127\.0\.0\.[12]: icmp_seq=[12] ttl=64 time=\d+\.\d{3} ms$`)
	if n := len(live.FindAllString(out.String(), -1)); n != 4 || !strings.Contains(out.String(), "HOST") {
		t.Errorf("%d live lines, want 4, then the table:\n%s", n, out)
	}
	r := netkit(t, "ping", "-c", "2", "-i", "0.2", "127.0.0.1", "127.0.0.2")
	if live.MatchString(r.stdout) {
		t.Errorf("piped: live lines:\n%s", r.stdout)
	}
}
