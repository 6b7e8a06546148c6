package ping

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
	probing "github.com/prometheus-community/pro-bing"
	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"

	"github.com/netkit/netkit/internal/dnstest"
	"github.com/netkit/netkit/internal/testenv"
	"github.com/netkit/netkit/internal/testnet"
	"github.com/netkit/netkit/resolve"
)

// needRawICMP skips tests that send ICMP from this process when it may not
// open raw sockets (they run as root in CI).
func needRawICMP(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: skipping a test that sends ICMP")
	}
	if !rawICMPAllowed() {
		t.Skip("needs root or CAP_NET_RAW for raw ICMP sockets")
	}
}

// recorder collects the events of a run.
type recorder struct {
	mu     sync.Mutex
	starts []Start
	probes []Probe
}

func (r *recorder) hook(o *Options) {
	o.OnStart = func(s Start) {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.starts = append(r.starts, s)
	}
	o.OnProbe = func(p Probe) {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.probes = append(r.probes, p)
	}
}

func (r *recorder) kinds(target int) map[ProbeKind]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := map[ProbeKind]int{}
	for _, p := range r.probes {
		if p.Target == target {
			n[p.Kind]++
		}
	}
	return n
}

// iputils is what iputils ping printed in its statistics block.
type iputils struct {
	sent, received, dups int
	min, avg, max, mdev  float64
	out                  string
}

var (
	iputilsCounts = regexp.MustCompile(`(\d+) packets transmitted, (\d+) received(?:, \+(\d+) duplicates)?`)
	iputilsRTT    = regexp.MustCompile(`rtt min/avg/max/mdev = ([\d.]+)/([\d.]+)/([\d.]+)/([\d.]+) ms`)
)

// runIputils runs iputils ping with args and parses its summary; it skips
// the test when ping is not installed (apt package iputils-ping).
func runIputils(t testing.TB, args ...string) iputils {
	t.Helper()
	out, err := exec.Command(testenv.NeedTool(t, "ping"), append([]string{"-n"}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("ping %v: %v\n%s", args, err, out)
	}
	var r iputils
	r.out = string(out)
	m := iputilsCounts.FindStringSubmatch(r.out)
	if m == nil {
		t.Fatalf("no statistics in ping's output:\n%s", out)
	}
	r.sent, _ = strconv.Atoi(m[1])
	r.received, _ = strconv.Atoi(m[2])
	r.dups, _ = strconv.Atoi(m[3])
	if m := iputilsRTT.FindStringSubmatch(r.out); m != nil {
		r.min, _ = strconv.ParseFloat(m[1], 64)
		r.avg, _ = strconv.ParseFloat(m[2], 64)
		r.max, _ = strconv.ParseFloat(m[3], 64)
		r.mdev, _ = strconv.ParseFloat(m[4], 64)
	}
	return r
}

// TestPingLoopback pings 127.0.0.1 and ::1 for real, checks the counts and
// RTTs, and compares them with iputils ping run just before.
func TestPingLoopback(t *testing.T) {
	needRawICMP(t)
	for _, host := range []string{"127.0.0.1", "::1"} {
		t.Run(host, func(t *testing.T) {
			ref := runIputils(t, "-c", "3", "-i", "0.2", host)
			var rec recorder
			o := Options{Targets: []Target{{Host: host}}, Count: 3, Interval: 200 * time.Millisecond, Timeout: time.Second}
			rec.hook(&o)
			stats, err := Run(context.Background(), o)
			if err != nil {
				t.Fatal(err)
			}
			s := stats[0]
			t.Logf("netkit: %d/%d rtt %.3f/%.3f/%.3f/%.3f ms; iputils: %d/%d rtt %.3f/%.3f/%.3f/%.3f ms",
				s.Sent, s.Received, s.MinMs, s.AvgMs, s.MaxMs, s.MdevMs, ref.sent, ref.received, ref.min, ref.avg, ref.max, ref.mdev)
			if s.Sent != ref.sent || s.Received != ref.received || s.LossPct != 0 {
				t.Errorf("netkit sent %d received %d loss %v%%; iputils %d/%d", s.Sent, s.Received, s.LossPct, ref.sent, ref.received)
			}
			if s.State != Alive || s.Method != MethodRaw || s.Addr != netip.MustParseAddr(host) {
				t.Errorf("state %s method %s address %s", s.State, s.Method, s.Addr)
			}
			if !(0 < s.MinMs && s.MinMs <= s.AvgMs && s.AvgMs <= s.MaxMs && s.MaxMs < 1000) || s.MdevMs < 0 {
				t.Errorf("rtt min/avg/max/mdev %v/%v/%v/%v ms: want 0 < min <= avg <= max < timeout", s.MinMs, s.AvgMs, s.MaxMs, s.MdevMs)
			}
			if !rttComparable(s.AvgMs, ref.avg) {
				t.Errorf("avg rtt %.3f ms, iputils %.3f ms: not of the same order", s.AvgMs, ref.avg)
			}
			if s.Duplicates+s.Late+s.Errors != 0 {
				t.Errorf("duplicates %d late %d errors %d on loopback", s.Duplicates, s.Late, s.Errors)
			}
			if doc, _ := json.Marshal(s); strings.Contains(string(doc), `"open"`) {
				t.Errorf("ICMP statistics with TCP port counts: %s", doc)
			}
			if len(rec.starts) != 1 || rec.starts[0].Method != MethodRaw || rec.starts[0].Size != DefaultSize {
				t.Errorf("starts %+v", rec.starts)
			}
			for i, p := range rec.probes {
				if p.Kind != ProbeReply || p.Seq != i+1 || p.Bytes != DefaultSize+8 || p.TTL != 64 || p.From != s.Addr || p.RTTMs <= 0 {
					t.Errorf("probe %d: %+v", i, p)
				}
			}
			if len(rec.probes) != 3 {
				t.Errorf("%d probe events, want 3", len(rec.probes))
			}
		})
	}
}

// echoWatcher reads, on a raw socket bound to addr (so it sees only packets
// to addr), the ICMP echo requests sent there, and can answer each a
// second time, which the pinger must count as a duplicate.
type echoWatcher struct {
	conn *ipv4.RawConn
	dup  bool

	mu   sync.Mutex
	seen []*ipv4.Header
	data [][]byte
}

// rawConn opens a raw IPv4 socket for network ("ip4:icmp", "ip4:tcp")
// bound to addr: it reads the packets of that protocol sent to addr, IP
// header included. The test closes it when it ends.
func rawConn(t *testing.T, network, addr string) *ipv4.RawConn {
	t.Helper()
	c, err := net.ListenPacket(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := ipv4.NewRawConn(c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rc.Close() })
	return rc
}

// watchEcho starts an echoWatcher on addr, stopped when the test ends.
func watchEcho(t *testing.T, addr string, dup bool) *echoWatcher {
	t.Helper()
	rc := rawConn(t, "ip4:icmp", addr)
	w := &echoWatcher{conn: rc, dup: dup}
	done := make(chan struct{})
	go func() {
		defer close(done)
		w.serve()
	}()
	t.Cleanup(func() {
		rc.Close()
		<-done
	})
	return w
}

// serve records echo requests, and answers them again when w.dup is set,
// until the socket is closed.
func (w *echoWatcher) serve() {
	buf := make([]byte, 1<<16)
	for {
		h, p, _, err := w.conn.ReadFrom(buf)
		if err != nil {
			return
		}
		m, err := icmp.ParseMessage(1, p)
		if err != nil || m.Type != ipv4.ICMPTypeEcho {
			continue
		}
		echo := m.Body.(*icmp.Echo)
		w.mu.Lock()
		w.seen = append(w.seen, h)
		w.data = append(w.data, echo.Data)
		w.mu.Unlock()
		if !w.dup {
			continue
		}
		reply, _ := (&icmp.Message{Type: ipv4.ICMPTypeEchoReply, Body: echo}).Marshal(nil)
		rh := &ipv4.Header{Version: 4, Len: ipv4.HeaderLen, TotalLen: ipv4.HeaderLen + len(reply), TTL: 64,
			Protocol: 1, Src: h.Dst, Dst: h.Src}
		w.conn.WriteTo(rh, reply, nil)
	}
}

// TestPingSizeTTL checks on the wire that -s and -t reach the echo
// requests: the payload length and the IP TTL the kernel sent.
func TestPingSizeTTL(t *testing.T) {
	needRawICMP(t)
	const addr = "127.4.4.5"
	w := watchEcho(t, addr, false)
	stats, err := Run(context.Background(), Options{Targets: []Target{{Host: addr}}, Count: 2,
		Interval: 200 * time.Millisecond, Size: 1000, TTL: 5})
	if err != nil {
		t.Fatal(err)
	}
	if stats[0].Received != 2 {
		t.Fatalf("received %d of 2", stats[0].Received)
	}
	// The reply can beat the watcher's read of the request: give it a
	// moment.
	for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		w.mu.Lock()
		n := len(w.seen)
		w.mu.Unlock()
		if n >= 2 {
			break
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.seen) != 2 {
		t.Fatalf("saw %d echo requests to %s, want 2", len(w.seen), addr)
	}
	for i, h := range w.seen {
		if h.TTL != 5 || len(w.data[i]) != 1000 {
			t.Errorf("request %d: TTL %d, payload %d bytes; want 5 and 1000", i, h.TTL, len(w.data[i]))
		}
	}
}

// TestPingDuplicates answers every echo request twice (the kernel's reply
// and one from a raw socket) and checks that netkit and iputils ping both
// count the second as a duplicate, not as a reply.
func TestPingDuplicates(t *testing.T) {
	needRawICMP(t)
	const addr = "127.4.4.4"
	watchEcho(t, addr, true)
	ref := runIputils(t, "-c", "3", "-i", "0.2", addr)
	var rec recorder
	o := Options{Targets: []Target{{Host: addr}}, Count: 3, Interval: 200 * time.Millisecond}
	rec.hook(&o)
	stats, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	s := stats[0]
	// Both end with the third reply, usually before its duplicate.
	if ref.dups < 2 || ref.received != 3 {
		t.Fatalf("iputils saw %d received, %d duplicates, want 3 and at least 2:\n%s", ref.received, ref.dups, ref.out)
	}
	if s.Received != ref.received || s.Duplicates < 2 || s.LossPct != 0 {
		t.Errorf("netkit received %d, duplicates %d, loss %v%%; iputils %d and %d", s.Received, s.Duplicates, s.LossPct, ref.received, ref.dups)
	}
	if k := rec.kinds(0); k[ProbeReply] != 3 || k[ProbeDuplicate] != s.Duplicates {
		t.Errorf("events %v, want 3 replies and %d duplicates", k, s.Duplicates)
	}
}

// rttComparable reports whether an average RTT netkit measured is of the
// order of the one iputils ping measured in the same run: both positive,
// netkit's below a generous bound (pro-bing takes its receive time after a
// goroutine hop, iputils from the kernel; a busy machine delays the hop).
// Loopback RTTs are tens of microseconds; the bound still catches RTTs
// that are really scheduling delays of many milliseconds.
func rttComparable(netkitMs, iputilsMs float64) bool {
	return netkitMs > 0 && iputilsMs > 0 && netkitMs < 20*iputilsMs+5
}

// TestPingManyLoopback pings 200 loopback addresses, as fping would: each
// is a real target, all must answer, the run takes about what one target
// takes for each MaxConcurrentTargets of them, and the RTTs stay those of
// loopback. Targets started all at once
// made 200 probes and 200 answers compete for two cores every interval,
// and the wait showed as RTT: 4 to 27 ms on average where one target had
// 0.2 ms.
func TestPingManyLoopback(t *testing.T) {
	needRawICMP(t)
	var targets []Target
	for i := 1; i <= 200; i++ {
		targets = append(targets, Target{Host: "127.0.0." + strconv.Itoa(i)})
	}
	o := Options{Targets: targets, Count: 3, Interval: 200 * time.Millisecond}
	one := o
	one.Targets = targets[:1]
	t0 := time.Now()
	single, err := Run(context.Background(), one)
	if err != nil {
		t.Fatal(err)
	}
	tOne := time.Since(t0)
	t0 = time.Now()
	stats, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	tMany := time.Since(t0)
	avgs := make([]float64, len(stats))
	for i, s := range stats {
		if s.State != Alive || s.Received != 3 {
			t.Errorf("%s: %s, %d of 3 received", s.Host, s.State, s.Received)
		}
		avgs[i] = s.AvgMs
	}
	slices.Sort(avgs)
	median, oneAvg := avgs[len(avgs)/2], single[0].AvgMs
	t.Logf("1 target %v, avg rtt %.3f ms; 200 targets %v (ratio %.2f), median avg rtt %.3f ms, worst %.3f ms",
		tOne, oneAvg, tMany, float64(tMany)/float64(tOne), median, avgs[len(avgs)-1])
	if turns := (len(targets) + MaxConcurrentTargets - 1) / MaxConcurrentTargets; tMany > time.Duration(turns+1)*tOne {
		t.Errorf("200 targets took %v, one %v: not %d at once", tMany, tOne, MaxConcurrentTargets)
	}
	if median > 4*oneAvg+1 {
		t.Errorf("median avg rtt of 200 targets %.3f ms, one target %.3f ms: the targets' probes collide", median, oneAvg)
	}
}

// TestPingDeadline checks a run that ctx's deadline ends (ping -w): as
// iputils ping, no probe goes out at the deadline, so loopback shows no
// loss; with Count, no more than Count probes, and fewer if they do not fit.
func TestPingDeadline(t *testing.T) {
	needRawICMP(t)
	for _, tc := range []struct {
		count    int
		interval time.Duration
		want     int
	}{
		{0, 250 * time.Millisecond, 4}, // probes at 0, 0.25, 0.5 and 0.75 s; iputils -w 1 -i 0.25 sends 4
		{5, 300 * time.Millisecond, 4}, // the fifth would be at 1.2 s; iputils -c 5 -w 1 -i 0.3 sends 4
		{2, 300 * time.Millisecond, 2},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		stats, err := Run(ctx, Options{Targets: []Target{{Host: "127.0.0.1"}}, Count: tc.count, Interval: tc.interval})
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		if s := stats[0]; s.Sent != tc.want || s.Received != tc.want || s.LossPct != 0 || s.Err != nil {
			t.Errorf("-c %d -i %v -w 1: sent %d, received %d, loss %v%%, error %v; want %d sent and received",
				tc.count, tc.interval, s.Sent, s.Received, s.LossPct, s.Err, tc.want)
		}
	}
}

// TestPingMoreTargetsThanAtOnce pings more targets than may run at once.
// With a deadline and no Count, each target sends the probes that fit
// before the deadline, so the targets that wait for a place still get
// theirs: every target is alive without loss. Before, the first ones ran
// until the deadline and the others then sent a probe each after it, whose
// answer never counted: "1 sent, 0 received, unreachable". When the run is
// cancelled (Ctrl-C) before their turn, they are skipped, nothing sent.
func TestPingMoreTargetsThanAtOnce(t *testing.T) {
	needRawICMP(t)
	var targets []Target
	for i := 1; i <= 5; i++ {
		targets = append(targets, Target{Host: "127.0.0." + strconv.Itoa(i)})
	}
	o := Options{Targets: targets, Interval: 200 * time.Millisecond, concurrency: 2}

	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	stats, err := Run(ctx, o)
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range stats {
		if s.State != Alive || s.Sent == 0 || s.LossPct != 0 {
			t.Errorf("deadline: %s: %s, %d of %d received; want alive without loss", s.Host, s.State, s.Received, s.Sent)
		}
	}

	ctx, cancel = context.WithCancel(context.Background())
	time.AfterFunc(300*time.Millisecond, cancel)
	stats, err = Run(ctx, o)
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range stats {
		switch {
		case i < 2 && (s.State != Alive || s.Received < 1):
			t.Errorf("cancelled: %s: %s, %d of %d received; want alive", s.Host, s.State, s.Received, s.Sent)
		case i >= 2 && (s.State != Skipped || s.Sent != 0 || !strings.HasSuffix(s.Error, "not pinged: the run ended before its turn (at most 2 hosts are pinged at once)")):
			t.Errorf("cancelled: %s: %s, %d sent, error %q; want skipped, nothing sent", s.Host, s.State, s.Sent, s.Error)
		}
	}
}

// TestPingSendErrorCounts drives the OnSendError hook as pro-bing calls it.
// A failed send is one probe, sent and an error. An ENOBUFS that pro-bing
// retries at once (its test: a *net.OpError whose Err is the errno itself)
// is no probe of its own: the retry that goes out is the probe. An ENOBUFS
// wrapped in an *os.SyscallError, as x/net's sockets return it, is not
// retried and is a failed probe like any other.
func TestPingSendErrorCounts(t *testing.T) {
	r := &targetRun{o: &Options{Timeout: time.Minute}, stats: &Stats{}, pending: map[int]*time.Timer{}}
	pkt := &probing.Packet{Seq: 0}
	for range 3 {
		r.sendFailed(pkt, &net.OpError{Op: "write", Net: "ip4:icmp", Err: syscall.ENOBUFS})
	}
	r.sent(pkt)
	if r.tally.sent != 1 || r.tally.errors != 0 {
		t.Errorf("3 ENOBUFS retries then a send: %d sent, %d errors; want 1 sent, no error", r.tally.sent, r.tally.errors)
	}
	r.sendFailed(&probing.Packet{Seq: 1}, &net.OpError{Op: "write", Net: "ip4:icmp", Err: os.NewSyscallError("sendmsg", syscall.ENOBUFS)})
	if r.tally.sent != 2 || r.tally.errors != 1 {
		t.Errorf("then a failed send: %d sent, %d errors; want 2 and 1", r.tally.sent, r.tally.errors)
	}
	// The statistics keep the first error's message, not a later one's.
	r.sendFailed(&probing.Packet{Seq: 2}, errors.New("a later error"))
	r.tally.fill(r.stats)
	if want := "write ip4:icmp: sendmsg: no buffer space available"; r.stats.FirstError != want {
		t.Errorf("first error %q, want %q", r.stats.FirstError, want)
	}
	for _, tm := range r.pending {
		tm.Stop()
	}
}

// TestPingResolve resolves names through package resolve (a temporary
// hosts file, no DNS) and reports a name that does not resolve without
// pinging it.
func TestPingResolve(t *testing.T) {
	needRawICMP(t)
	r := testnet.HostsResolver(t, "127.4.4.6 pingme.test\n")
	stats, err := Run(context.Background(), Options{
		Targets:  []Target{{Host: "pingme.test"}, {Host: "nosuch.test"}},
		Resolver: r, Family: resolve.IPv4, Count: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	if s := stats[0]; s.State != Alive || s.Addr != netip.MustParseAddr("127.4.4.6") {
		t.Errorf("pingme.test: %s %s", s.State, s.Addr)
	}
	for _, s := range stats[1:] {
		var le *resolve.LookupError
		if s.State != Unresolved || s.Sent != 0 || !errors.As(s.Err, &le) || le.Name != s.Host {
			t.Errorf("%s: state %s, sent %d, error %v; want unresolved with a *resolve.LookupError", s.Host, s.State, s.Sent, s.Err)
		}
	}
	if !errors.Is(stats[1].Err, resolve.ErrNoSuchHost) {
		t.Errorf("error %v: want no such host", stats[1].Err)
	}
}

// TestPingFamily checks that -4/-6 apply to IP literals too, and that a
// target of the other family says so: a literal is an address of the other
// family (not a name without addresses), a name has only addresses of the
// other family (not "no such host", which the lookup of the asked family
// alone would say).
func TestPingFamily(t *testing.T) {
	r := testnet.HostsResolver(t, "127.0.0.1 localhost\n")
	for _, tc := range []struct {
		host   string
		family resolve.Family
		msg    string
	}{
		{"127.0.0.1", resolve.IPv6, "127.0.0.1 is an IPv4 address, and IPv6 was asked for"},
		{"::1", resolve.IPv4, "::1 is an IPv6 address, and IPv4 was asked for"},
		{"localhost", resolve.IPv6, "localhost has only IPv4 addresses (127.0.0.1), and IPv6 was asked for"},
	} {
		stats, err := Run(context.Background(), Options{Targets: []Target{{Host: tc.host}}, Resolver: r, Family: tc.family, Count: 1})
		if err != nil {
			t.Fatal(err)
		}
		s := stats[0]
		var fe *FamilyError
		if s.State != Unresolved || s.Sent != 0 || !errors.As(s.Err, &fe) || s.Error != tc.msg {
			t.Errorf("%s: state %s, sent %d, error %q; want unresolved, %q", tc.host, s.State, s.Sent, s.Error, tc.msg)
		}
	}
}

// TestPingFamilyAsksOtherFamily checks that a name with no address of the
// family asked for is then asked for the other family alone, not for both
// again: one AAAA question, then one A question.
func TestPingFamilyAsksOtherFamily(t *testing.T) {
	srv := dnstest.StartAnyPort(t, "v4only.test. 60 IN A 127.0.0.7")
	none := t.TempDir() + "/none"
	r := &resolve.Resolver{Servers: []netip.AddrPort{srv.Addr}, Timeout: time.Second,
		Paths: resolve.ConfigPaths{ResolvConf: none, NSSwitch: none}}
	stats, err := Run(context.Background(), Options{Targets: []Target{{Host: "v4only.test"}}, Resolver: r, Family: resolve.IPv6, Count: 1})
	if err != nil {
		t.Fatal(err)
	}
	var fe *FamilyError
	if s := stats[0]; !errors.As(s.Err, &fe) || s.Error != "v4only.test has only IPv4 addresses (127.0.0.7), and IPv6 was asked for" {
		t.Errorf("error %q, want a *FamilyError", s.Error)
	}
	var asked []string
	for _, q := range srv.Queries() {
		asked = append(asked, dns.TypeToString[q.Qtype]+" "+q.Name)
	}
	if want := []string{"AAAA v4only.test.", "A v4only.test."}; !slices.Equal(asked, want) {
		t.Errorf("questions %q, want %q", asked, want)
	}
}

// TestPingCancel checks that cancelling the context (Ctrl-C) ends an
// endless run normally, with the statistics of what was sent.
func TestPingCancel(t *testing.T) {
	needRawICMP(t)
	ctx, cancel := context.WithCancel(context.Background())
	var once sync.Once
	o := Options{Targets: []Target{{Host: "127.0.0.1"}}, Interval: 100 * time.Millisecond}
	replies := 0
	o.OnProbe = func(p Probe) {
		if replies++; replies == 3 {
			once.Do(cancel)
		}
	}
	done := make(chan struct{})
	var stats []Stats
	var err error
	go func() {
		defer close(done)
		stats, err = Run(ctx, o)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		cancel()
		t.Fatal("Ping did not end 10 s after its context was cancelled")
	}
	if err != nil || stats[0].Err != nil {
		t.Fatalf("Ping: %v / %v; cancelling is a normal end", err, stats[0].Err)
	}
	if s := stats[0]; s.Received < 3 || s.State != Alive {
		t.Errorf("received %d, state %s", s.Received, s.State)
	}
}

// TestPingOptionErrors checks that bad options fail before anything is
// sent, with a *OptionError naming the field.
func TestPingOptionErrors(t *testing.T) {
	one := []Target{{Host: "127.0.0.1"}}
	for _, tc := range []struct {
		o      Options
		option string
	}{
		{Options{}, "Targets"},
		{Options{Targets: make([]Target, MaxTargets+1)}, "Targets"},
		{Options{Targets: one, Count: -1}, "Count"},
		{Options{Targets: one, Interval: time.Microsecond}, "Interval"},
		{Options{Targets: one, Timeout: -time.Second}, "Timeout"},
		{Options{Targets: one, Size: -1}, "Size"},
		{Options{Targets: one, Size: 10, Interface: "lo"}, "Size"},
		{Options{Targets: one, Size: MaxSize + 1}, "Size"},
		{Options{Targets: one, TTL: 256}, "TTL"},
		{Options{Targets: one, TCPPort: 65536}, "TCPPort"},
	} {
		_, err := Run(context.Background(), tc.o)
		var oe *OptionError
		if !errors.As(err, &oe) || oe.Option != tc.option {
			t.Errorf("%+v: error %v, want a *OptionError for %s", tc.o, err, tc.option)
		}
	}
}
