package cli

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/netkit/netkit/internal/netlab"
	"github.com/netkit/netkit/internal/testenv"
)

// traceHops reads the hops of a report: hop number -> the HOST column,
// addresses joined by commas, ??? for a silent hop.
func traceHops(t *testing.T, out string) map[int]string {
	t.Helper()
	hops := map[int]string{}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) < 2 || strings.Join(strings.Fields(lines[0]), " ") != "HOP HOST LOSS% SNT LAST AVG BEST WRST STDEV" {
		t.Fatalf("report:\n%s", out)
	}
	for _, l := range lines[1:] {
		var n int
		f := strings.Fields(l)
		if len(f) != 9 {
			t.Fatalf("line %q: %d fields, want 9", l, len(f))
		}
		fmt.Sscan(f[0], &n)
		hops[n] = f[1]
	}
	return hops
}

// addrRE finds the addresses in a line of traceroute or mtr output.
var addrRE = regexp.MustCompile(`\b(\d+\.\d+\.\d+\.\d+|[0-9a-f]+:[0-9a-f:]+)\b`)

// tracerouteHops reads traceroute's output (hop number, then addresses and
// times, or stars) into hop number -> addresses joined by commas, ??? for
// a hop of stars only.
func tracerouteHops(out string) map[int]string {
	hops := map[int]string{}
	for _, l := range strings.Split(out, "\n")[1:] {
		var n int
		if _, err := fmt.Sscan(l, &n); err != nil {
			continue
		}
		var addrs []string
		for _, a := range addrRE.FindAllString(l[strings.Index(l, fmt.Sprint(n))+len(fmt.Sprint(n)):], -1) {
			if !strings.Contains(strings.Join(addrs, ","), a) {
				addrs = append(addrs, a)
			}
		}
		hops[n] = strings.Join(addrs, ",")
		if len(addrs) == 0 {
			hops[n] = "???"
		}
	}
	return hops
}

// mtrHops reads 'mtr --report' lines ("  1.|-- 10.251.1.1  0.0% ...").
func mtrHops(out string) map[int]string {
	hops := map[int]string{}
	re := regexp.MustCompile(`(?m)^\s*(\d+)\.\|--\s+(\S+)`)
	for _, m := range re.FindAllStringSubmatch(out, -1) {
		var n int
		fmt.Sscan(m[1], &n)
		hops[n] = m[2]
	}
	return hops
}

// TestTraceAgainstTraceroute traces the lab's paths with each kind of probe
// and compares the hops with traceroute's (-I, -T -p PORT, UDP) and mtr's
// report: same routers at the same hops, the same end. Where traceroute
// prints stars up to its hop limit, netkit prints one ??? line and says
// where the packets vanish.
func TestTraceAgainstTraceroute(t *testing.T) {
	testenv.NeedTool(t, "traceroute")
	lab := netlab.New(t)
	srv, r1, r2 := netlab.ServerAddr, netlab.Router1Addr, netlab.Router2Addr
	for _, tc := range []struct {
		netkit, ref []string
		want        map[int]string
		code        int
		stderr      string // a line the explanation has
	}{
		// First: router1's net unreachable shares a per-client token
		// bucket (net.ipv4.route.error_cost, one a second, not settable in
		// a namespace) with its other ICMP errors, which empty it.
		{[]string{"-c", "1", "-i", "0.05", netlab.Unroutable}, []string{"traceroute", "-n", "-I", "-q", "1", netlab.Unroutable},
			map[int]string{1: r1}, 1, "  cause: router " + r1 + " has no route to " + netlab.Unroutable},
		{[]string{"-c", "2", "-i", "0.05", srv}, []string{"traceroute", "-n", "-I", "-q", "2", srv},
			map[int]string{1: r1, 2: r2, 3: srv}, 0, ""},
		{[]string{"-c", "2", "-i", "0.05", "--tcp", "80", srv}, []string{"traceroute", "-n", "-T", "-p", "80", "-q", "2", srv},
			map[int]string{1: r1, 2: r2, 3: srv}, 0, ""},
		{[]string{"-c", "1", "-i", "0.05", srv + ":85"}, []string{"traceroute", "-n", "-T", "-p", "85", "-q", "1", srv},
			map[int]string{1: r1, 2: r2, 3: srv}, 0, ""},
		{[]string{"-c", "2", "-i", "0.05", "--udp", srv}, []string{"traceroute", "-n", "-q", "2", srv},
			map[int]string{1: r1, 2: r2, 3: srv}, 0, ""},
		{[]string{"-c", "1", "-i", "0.05", "-6", netlab.Server6Addr}, []string{"traceroute", "-6", "-n", "-I", "-q", "1", netlab.Server6Addr},
			map[int]string{1: netlab.Router16Addr, 2: netlab.Router26Addr, 3: netlab.Server6Addr}, 0, ""},
		{[]string{"-c", "1", "-i", "0.05", "--tcp", "82", srv}, []string{"traceroute", "-n", "-T", "-p", "82", "-q", "1", srv},
			map[int]string{1: r1, 2: r2, 3: srv}, 1, "  cause: " + srv + " itself rejects TCP port 82 with ICMP administratively prohibited: a firewall rule on that host"},
		{[]string{"-c", "1", "-i", "0.05", "-W", "0.5", "-m", "5", "--tcp", "81", srv}, []string{"traceroute", "-n", "-T", "-p", "81", "-q", "1", "-w", "0.5", "-m", "5", srv},
			map[int]string{1: r1, 2: r2, 3: "???"}, 1, "  cause: packets to TCP port 81 of " + srv + " are dropped after " + r2 + " (hop 2), and nothing says so"},
	} {
		r := pingIn(t, lab.Client, append([]string{binary, "trace"}, tc.netkit...)...)
		if r.code != tc.code {
			t.Errorf("trace %v: exit %d, want %d\n%s%s", tc.netkit, r.code, tc.code, r.stdout, r.stderr)
			continue
		}
		got := traceHops(t, r.stdout)
		if fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("trace %v: hops %v, want %v\n%s", tc.netkit, got, tc.want, r.stdout)
		}
		if tc.stderr != "" && !strings.Contains(r.stderr, tc.stderr) {
			t.Errorf("trace %v: stderr lacks %q:\n%s", tc.netkit, tc.stderr, r.stderr)
		}
		ref := pingIn(t, lab.Client, tc.ref...)
		refHops := tracerouteHops(ref.stdout)
		for hop, addrs := range got {
			if refHops[hop] != addrs {
				t.Errorf("trace %v: hop %d is %s, %v says %q\n%s", tc.netkit, hop, addrs, tc.ref, refHops[hop], ref.stdout)
			}
		}
		t.Logf("netkit trace %s\n%s%s%s\n%s", strings.Join(tc.netkit, " "), r.stdout, r.stderr, strings.Join(tc.ref, " "), ref.stdout)
	}
}

// TestTraceAgainstMtr compares the report with mtr's, where the server
// drops ICMP (a silent last hop) and where it answers; and checks --json
// and --format jsonl.
func TestTraceAgainstMtr(t *testing.T) {
	testenv.NeedTool(t, "mtr")
	lab := netlab.New(t)
	for _, host := range []string{netlab.ServerAddr, netlab.ServerNoICMP} {
		r := pingIn(t, lab.Client, binary, "trace", "-c", "2", "-i", "0.1", "-W", "0.5", "-m", "6", host)
		ref := pingIn(t, lab.Client, "mtr", "-n", "--report", "-c", "2", "-i", "0.1", "-m", "6", host)
		got, want := traceHops(t, r.stdout), mtrHops(ref.stdout)
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s: hops %v, mtr %v\n%s\n%s", host, got, want, r.stdout, ref.stdout)
		}
		t.Logf("netkit trace %s\n%s%smtr:\n%s", host, r.stdout, r.stderr, ref.stdout)
	}

	r := pingIn(t, lab.Client, binary, "trace", "--json", "-c", "2", "-i", "0.05", netlab.ServerAddr)
	var doc struct {
		SchemaVersion int `json:"schema_version"`
		Hops          []struct {
			Hop       int      `json:"hop"`
			Addresses []string `json:"addresses"`
			Sent      int      `json:"sent"`
			Received  int      `json:"received"`
		} `json:"hops"`
		Stop struct {
			Reason string `json:"reason"`
			Hop    int    `json:"hop"`
		} `json:"stop"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil || r.code != 0 {
		t.Fatalf("--json: exit %d, %v\n%s", r.code, err, r.stdout)
	}
	if doc.SchemaVersion != 1 || len(doc.Hops) != 3 || doc.Stop.Reason != "reached" || doc.Stop.Hop != 3 ||
		doc.Hops[2].Addresses[0] != netlab.ServerAddr || doc.Hops[0].Sent != 2 || doc.Hops[0].Received != 2 {
		t.Errorf("--json:\n%s", r.stdout)
	}
	r = pingIn(t, lab.Client, binary, "trace", "--format", "jsonl", "-c", "2", "-i", "0.05", netlab.ServerAddr)
	probes, summaries := strings.Count(r.stdout, `"type":"probe"`), strings.Count(r.stdout, `"type":"summary"`)
	if r.code != 0 || probes < 6 || summaries != 1 {
		t.Errorf("--format jsonl: exit %d, %d probes, %d summaries\n%s", r.code, probes, summaries, r.stdout)
	}
}

// TestTraceBadInput checks that wrong flags and targets give one line and
// exit 2.
func TestTraceBadInput(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"trace"}, "trace takes 1 argument, got 0"},
		{[]string{"trace", "--udp", "--tcp", "80", "127.0.0.1"}, "--udp and --tcp cannot be used together"},
		{[]string{"trace", "-c", "0", "127.0.0.1"}, "invalid -c 0: want at least 1 probe per hop"},
		{[]string{"trace", "--tcp", "nosuchservice", "127.0.0.1"}, `invalid --tcp: port "nosuchservice"`},
		{[]string{"trace", "--tcp", "80", "127.0.0.1:81"}, "--tcp 80 and the port of 127.0.0.1:81 differ"},
		{[]string{"trace", "-m", "256", "127.0.0.1"}, "invalid --max-hops 256: must be from 1 to 255"},
		{[]string{"trace", "-i", "0.001", "127.0.0.1"}, "invalid -i 1ms: must be at least 10ms"},
		{[]string{"trace", ":80"}, "the host is empty"},
	} {
		assertOneLineError(t, netkit(t, tc.args...), tc.want)
	}
}

// TestTracePrivileges checks that without raw socket rights the error
// names the fix, and that loopback traces work as root: the destination
// answers at hop 1.
func TestTracePrivileges(t *testing.T) {
	testenv.NeedRoot(t)
	bin := pingPublicBinary(t)
	_, r := pingTimed(t, nobody[0], append(nobody[1:], bin, "trace", "127.0.0.1")...)
	lines := strings.Split(strings.TrimRight(r.stderr, "\n"), "\n")
	if r.code != exitError || len(lines) != 3 || !strings.HasPrefix(lines[0], "netkit: trace: trace needs a raw ICMP socket to hear routers (root or CAP_NET_RAW)") ||
		!strings.Contains(lines[2], "setcap cap_net_raw+ep") {
		t.Errorf("nobody: exit %d\n%s", r.code, r.stderr)
	}
	ns := netlab.Netns(t, "trace")
	for _, args := range [][]string{{"127.0.0.1"}, {"::1"}, {"--udp", "127.0.0.1"}} {
		r = pingIn(t, ns, append([]string{bin, "trace", "-c", "2", "-i", "0.05"}, args...)...)
		if hops := traceHops(t, r.stdout); r.code != 0 || len(hops) != 1 || hops[1] != args[len(args)-1] {
			t.Errorf("trace %v: exit %d\n%s%s", args, r.code, r.stdout, r.stderr)
		}
	}
}

// TestTraceMTU measures the path MTU where router1 says "fragmentation
// needed" (a 1400-byte link between the routers) against tracepath's, and
// finds the black hole where router1's answer is dropped (a 1300-byte
// link toward the client), which iputils ping confirms: 1300-byte packets
// pass, 1400-byte ones vanish.
func TestTraceMTU(t *testing.T) {
	testenv.NeedTool(t, "tracepath")
	lab := netlab.New(t)
	lab.LowMTU(1400)
	srv := netlab.ServerAddr
	r := pingIn(t, lab.Client, binary, "trace", "--mtu", "-c", "1", "-i", "0.05", srv)
	ref := pingIn(t, lab.Client, "tracepath", "-n", srv)
	m := regexp.MustCompile(`Resume: pmtu (\d+)`).FindStringSubmatch(ref.stdout)
	if m == nil || m[1] != "1400" {
		t.Fatalf("tracepath:\n%s", ref.stdout)
	}
	if want := "path MTU: " + m[1] + " (" + netlab.Router1Addr + " says 1400)\n"; r.code != 0 || !strings.HasSuffix(r.stdout, want) {
		t.Errorf("trace --mtu: exit %d, want the line %q (tracepath: pmtu %s)\n%s%s", r.code, want, m[1], r.stdout, r.stderr)
	}
	t.Logf("netkit trace --mtu %s\n%s\ntracepath -n %s\n%s", srv, r.stdout, srv, ref.stdout)

	// veth takes frames 4 bytes over its MTU (room for a VLAN tag), so
	// the hole's edge is a little over 1300: iputils ping says where.
	hole := netlab.New(t)
	hole.BlackHole(1300)
	r = pingIn(t, hole.Client, binary, "trace", "--mtu", "-c", "1", "-i", "0.05", srv)
	m = regexp.MustCompile(`(?m)^path MTU: (\d+): packets over (\d+) bytes are dropped between here and ` + regexp.QuoteMeta(srv) + `, and no router says so: an MTU black hole$`).FindStringSubmatch(r.stdout)
	if r.code != exitFailed || m == nil || !strings.Contains(r.stderr, "cause: packets larger than "+m[1]+" bytes are dropped between here and "+srv) {
		t.Fatalf("black hole: exit %d, want 1, the black hole line and its cause\n%s%s", r.code, r.stdout, r.stderr)
	}
	pmtu, _ := strconv.Atoi(m[1])
	if pmtu < 1300 || pmtu > 1304 {
		t.Errorf("black hole at %d bytes, want 1300 to 1304", pmtu)
	}
	for _, size := range []struct {
		payload int
		code    int
	}{{pmtu - 28, 0}, {pmtu - 27, 1}} {
		if ref := pingIn(t, hole.Client, "ping", "-n", "-M", "do", "-s", strconv.Itoa(size.payload), "-c", "1", "-W", "1", srv); ref.code != size.code {
			t.Errorf("iputils ping -M do -s %d: exit %d, want %d\n%s", size.payload, ref.code, size.code, ref.stdout)
		}
	}
	t.Logf("netkit trace --mtu %s (black hole)\n%s%s", srv, r.stdout, r.stderr)
}

// TestTraceLive checks the live table on a terminal: drawn as answers come
// and redrawn in place (cursor up, clear), then what stopped the trace.
func TestTraceLive(t *testing.T) {
	testenv.NeedRoot(t)
	io, _, out, errOut := testStreams()
	io.OutTTY = true
	if code := run(t.Context(), io, []string{"trace", "-c", "4", "-i", "0.15", "127.0.0.1"}); code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	s := out.String()
	last := s[strings.LastIndex(s, "\x1b[J")+1:]
	if redraws := strings.Count(s, "\x1b[3A\x1b[J"); redraws < 2 || !strings.HasSuffix(s, "127.0.0.1 answered at hop 1\n") ||
		!strings.Contains(last, "127.0.0.1  0      4") {
		t.Errorf("%d redraws, want at least 2, then the stop line:\n%q", redraws, s)
	}
}

// TestTraceECMP checks that both routers of an ECMP hop are listed, as
// traceroute lists them, when UDP probes to different ports take both
// links between the routers.
func TestTraceECMP(t *testing.T) {
	testenv.NeedTool(t, "traceroute")
	lab := netlab.New(t)
	lab.ECMP()
	srv := netlab.ServerAddr
	both := func(hop string) bool {
		return strings.Contains(hop, netlab.Router2Addr) && strings.Contains(hop, netlab.Router2ECMPAddr)
	}
	r := pingIn(t, lab.Client, binary, "trace", "--udp", "-c", "10", "-i", "0.02", srv)
	hops := traceHops(t, r.stdout)
	if r.code != 0 || !both(hops[2]) || hops[1] != netlab.Router1Addr || hops[3] != srv {
		t.Errorf("exit %d, hops %v: want both %s and %s at hop 2\n%s%s", r.code, hops, netlab.Router2Addr, netlab.Router2ECMPAddr, r.stdout, r.stderr)
	}
	ref := pingIn(t, lab.Client, "traceroute", "-n", "-q", "10", srv)
	if refHops := tracerouteHops(ref.stdout); !both(refHops[2]) {
		t.Errorf("traceroute does not see both at hop 2 either:\n%s", ref.stdout)
	}
	t.Logf("netkit trace --udp -c 10 %s\n%straceroute -n -q 10 %s\n%s", srv, r.stdout, srv, ref.stdout)
}

// TestTraceNames checks that -r names the hops through netkit's resolver
// (here the test's hosts file), in the table and in the JSON.
func TestTraceNames(t *testing.T) {
	pingNeedRoot(t)
	resolveEnv(t) // its hosts file maps 127.0.0.5 to web.test
	r := netkit(t, "trace", "-c", "1", "-r", "127.0.0.5")
	if rows := strings.Split(strings.TrimSpace(r.stdout), "\n"); r.code != 0 || len(rows) != 2 || strings.Fields(rows[1])[1] != "web.test" {
		t.Errorf("exit %d:\n%s%s", r.code, r.stdout, r.stderr)
	}
	checkDocument(t, netkit(t, "trace", "-c", "1", "-r", "127.0.0.5", "--json"), 0, "trace.json")
}
