package probe

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/netkit/netkit/diag"
	"github.com/netkit/netkit/echo"
	"github.com/netkit/netkit/internal/dnstest"
	"github.com/netkit/netkit/internal/testcert"
	"github.com/netkit/netkit/internal/testnet"
	"github.com/netkit/netkit/resolve"
)

// value returns the value of the sample name whose labels include want
// (name=value pairs), and whether there is one.
func value(res *Result, name string, want ...string) (float64, bool) {
	for _, s := range res.Samples {
		if s.Name != name {
			continue
		}
		ok := true
		for i := 0; i+1 < len(want); i += 2 {
			ok = ok && slices.Contains(s.Labels, Label{want[i], want[i+1]})
		}
		if ok {
			return s.Value, true
		}
	}
	return 0, false
}

// mustValue is value that fails the test when the sample is missing.
func mustValue(t *testing.T, res *Result, name string, want ...string) float64 {
	t.Helper()
	v, ok := value(res, name, want...)
	if !ok {
		t.Fatalf("no sample %s%v in %+v", name, want, res.Samples)
	}
	return v
}

// assertFailure checks that the result failed at step with reason.
func assertFailure(t *testing.T, res *Result, step, reason string) {
	t.Helper()
	if res.Success {
		t.Errorf("probe succeeded, want a failure at %s (%s)", step, reason)
	}
	for _, f := range res.Failures {
		if !slices.Contains(Reasons(), f.Reason) {
			t.Errorf("reason %q is not in the documented set (Reasons)", f.Reason)
		}
	}
	if !slices.ContainsFunc(res.Failures, func(f Failure) bool { return f.Step == step && f.Reason == reason }) {
		t.Errorf("failures %+v, want step %s reason %s", res.Failures, step, reason)
	}
	if v := mustValue(t, res, "probe_failure_info", "step", step, "reason", reason); v != 1 {
		t.Errorf("probe_failure_info = %v, want 1", v)
	}
	if mustValue(t, res, "probe_success") != 0 {
		t.Error("probe_success is not 0")
	}
}

func mustRun(t *testing.T, target string, m Module, o Options) *Result {
	t.Helper()
	if m.Timeout == 0 {
		m.Timeout = 3 * time.Second
	}
	res, err := Run(context.Background(), target, m, o)
	if err != nil {
		t.Fatalf("Run(%s, %s): %v", m.Prober, target, err)
	}
	return res
}

// accepting listens on addr and counts the connections it accepts.
func accepting(t *testing.T, addr string) (net.Listener, *atomic.Int32) {
	t.Helper()
	l := testnet.Listen(t, addr)
	var n atomic.Int32
	testnet.ServeConns(t, l, func(c net.Conn) { n.Add(1); io.Copy(io.Discard, c) })
	return l, &n
}

func TestTCPOpenAndRefused(t *testing.T) {
	l, _ := accepting(t, "127.0.0.1:0")
	res := mustRun(t, l.Addr().String(), Module{Prober: TCP}, Options{})
	if !res.Success || mustValue(t, res, "probe_success") != 1 {
		t.Fatalf("open port: %+v", res)
	}
	if mustValue(t, res, "probe_ip_protocol") != 4 || mustValue(t, res, "probe_failed_due_to_regex") != 0 {
		t.Errorf("samples %+v", res.Samples)
	}
	if mustValue(t, res, "probe_address_success", "address", "127.0.0.1", "family", "ip4") != 1 {
		t.Error("probe_address_success of 127.0.0.1 is not 1")
	}
	// FNV-32a of the 4 bytes of 127.0.0.1, as blackbox_exporter hashes it.
	if h := mustValue(t, res, "probe_ip_addr_hash"); h != 3668918509 {
		t.Errorf("probe_ip_addr_hash = %v", h)
	}
	closed := testnet.ClosedPort(t, "tcp4", "127.0.0.1")
	res = mustRun(t, closed.String(), Module{Prober: TCP}, Options{})
	assertFailure(t, res, "connect", "ECONNREFUSED")

	// The duplicates kept to read ICMP errors are closed, whatever the
	// dial gave.
	before := openFiles(t)
	for range 20 {
		mustRun(t, closed.String(), Module{Prober: TCP}, Options{})
		mustRun(t, l.Addr().String(), Module{Prober: TCP}, Options{})
	}
	if after := openFiles(t); after > before+2 {
		t.Errorf("%d open files before 40 probes, %d after", before, after)
	}
}

// openFiles counts this process's open file descriptors.
func openFiles(t *testing.T) int {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip(err)
	}
	return len(fds)
}

// TestEveryAddress checks that a name's every address is probed: a
// service on 127.0.0.1 only, behind a name that also has ::1, shows as
// ::1 failing beside 127.0.0.1 working, and probe_success follows the
// preferred family (IPv6 unless ip4 is preferred, as blackbox_exporter).
func TestEveryAddress(t *testing.T) {
	if _, err := net.Listen("tcp6", "[::1]:0"); err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	l, _ := accepting(t, "127.0.0.1:0")
	port := l.Addr().(*net.TCPAddr).Port
	res := testnet.HostsResolver(t, "127.0.0.1 dual.test\n::1 dual.test\n")
	target := net.JoinHostPort("dual.test", strconv.Itoa(port))
	got := mustRun(t, target, Module{Prober: TCP}, Options{Resolver: res})
	if mustValue(t, got, "probe_address_success", "address", "127.0.0.1", "family", "ip4") != 1 ||
		mustValue(t, got, "probe_address_success", "address", "::1", "family", "ip6") != 0 {
		t.Errorf("address samples %+v", got.Samples)
	}
	assertFailure(t, got, "connect", "ECONNREFUSED")
	if mustValue(t, got, "probe_ip_protocol") != 6 {
		t.Error("the primary address is not the IPv6 one")
	}
	got = mustRun(t, target, Module{Prober: TCP, PreferIPv4: true}, Options{Resolver: res})
	if !got.Success || mustValue(t, got, "probe_ip_protocol") != 4 {
		t.Errorf("preferring ip4: %+v", got)
	}
	// The broken AAAA still shows, as a failure of the other address.
	if !slices.ContainsFunc(got.Failures, func(f Failure) bool { return f.Reason == "ECONNREFUSED" }) {
		t.Errorf("failures %+v, want the ::1 refusal", got.Failures)
	}
	got = mustRun(t, target, Module{Prober: TCP, PreferIPv4: true, NoFallback: true}, Options{Resolver: res})
	if !got.Success || len(got.Addresses) != 1 || len(got.Failures) != 0 {
		t.Errorf("ip4 only: %+v", got)
	}
}

func TestTLS(t *testing.T) {
	ca := testcert.NewCA(t)
	good := testnet.ServeTLS(t, ca.Issue(t, testcert.Leaf{}))
	_, port, _ := net.SplitHostPort(good)
	m := Module{Prober: TCP, TLS: true, Client: echo.ClientOptions{RootCAs: ca.Pool()}}
	res := mustRun(t, "localhost:"+port, m, Options{Resolver: testnet.HostsResolver(t, "127.0.0.1 localhost\n")})
	if !res.Success {
		t.Fatalf("TLS probe failed: %+v", res.Failures)
	}
	if v := mustValue(t, res, "probe_tls_version_info", "version", "TLS 1.3"); v != 1 {
		t.Errorf("probe_tls_version_info = %v", v)
	}
	if exp := mustValue(t, res, "probe_ssl_earliest_cert_expiry"); exp < float64(time.Now().Unix()) {
		t.Errorf("probe_ssl_earliest_cert_expiry %v is in the past", exp)
	}
	mustValue(t, res, "probe_ssl_last_chain_info", "subject", "CN=localhost", "subjectalternative", "localhost")

	expired := testnet.ServeTLS(t, ca.Issue(t, testcert.Leaf{NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-time.Hour)}))
	res = mustRun(t, expired, m, Options{})
	assertFailure(t, res, "tls", "X509-EXPIRED")

	res = mustRun(t, good, Module{Prober: TCP, TLS: true}, Options{})
	assertFailure(t, res, "tls", "X509-UNKNOWN-AUTHORITY")

	plain, _ := accepting(t, "127.0.0.1:0")
	res = mustRun(t, plain.Addr().String(), Module{Prober: TCP, TLS: true, Timeout: 500 * time.Millisecond}, Options{})
	assertFailure(t, res, "tls", "TLS-NO-ANSWER")
}

// TestQueryResponse runs blackbox_exporter's query_response dialogues
// against line servers on loopback: a banner, a mismatch, a send that
// expands the expect's group, a STARTTLS upgrade, and a server that says
// nothing.
func TestQueryResponse(t *testing.T) {
	serve := func(handle func(c net.Conn, lines *bufio.Reader)) string {
		l := testnet.Listen(t, "127.0.0.1:0")
		testnet.ServeConns(t, l, func(c net.Conn) {
			c.SetDeadline(time.Now().Add(5 * time.Second))
			handle(c, bufio.NewReader(c))
		})
		return l.Addr().String()
	}
	tcp := func(steps ...QueryResponse) Module {
		return Module{Prober: TCP, Timeout: time.Second, QueryResponse: steps}
	}
	expect := regexp.MustCompile

	banner := serve(func(c net.Conn, _ *bufio.Reader) { io.WriteString(c, "SSH-2.0-OpenSSH_9.6\r\n") })
	res := mustRun(t, banner, tcp(QueryResponse{Expect: expect("^SSH-2.0-")}), Options{})
	if !res.Success || mustValue(t, res, "probe_failed_due_to_regex") != 0 {
		t.Errorf("banner: %+v", res)
	}

	res = mustRun(t, banner, tcp(QueryResponse{Expect: expect("^220 ")}), Options{})
	assertFailure(t, res, "expect", "EXPECT-MISMATCH")
	if mustValue(t, res, "probe_failed_due_to_regex") != 1 {
		t.Error("a mismatch: probe_failed_due_to_regex is not 1")
	}

	// The server answers OK only to the PONG that carries its token.
	pingPong := serve(func(c net.Conn, lines *bufio.Reader) {
		io.WriteString(c, "NOTICE hello\nPING :t0k3n\n")
		if line, _ := lines.ReadString('\n'); line == "PONG t0k3n\n" {
			io.WriteString(c, "001 welcome\n")
		}
	})
	res = mustRun(t, pingPong, tcp(
		QueryResponse{Expect: expect("^PING :([^ ]+)"), Send: "PONG ${1}"},
		QueryResponse{Expect: expect("^001 ")},
	), Options{})
	if !res.Success {
		t.Errorf("ping-pong: %+v", res.Failures)
	}

	// STARTTLS, as SMTP does it: the certificate is checked as with tls.
	ca := testcert.NewCA(t)
	tlsConfig := &tls.Config{Certificates: []tls.Certificate{ca.Issue(t, testcert.Leaf{})}}
	starttls := serve(func(c net.Conn, lines *bufio.Reader) {
		io.WriteString(c, "220 ready\n")
		if line, _ := lines.ReadString('\n'); line != "STARTTLS\n" {
			return
		}
		io.WriteString(c, "220 go ahead\n")
		tc := tls.Server(c, tlsConfig)
		if tc.Handshake() == nil {
			io.WriteString(tc, "250 secure\n")
		}
	})
	upgrade := tcp(
		QueryResponse{Expect: expect("^220 ready"), Send: "STARTTLS"},
		QueryResponse{Expect: expect("^220 "), StartTLS: true},
		QueryResponse{Expect: expect("^250 secure")},
	)
	upgrade.Client.RootCAs = ca.Pool()
	res = mustRun(t, starttls, upgrade, Options{})
	if !res.Success {
		t.Errorf("starttls: %+v", res.Failures)
	} else if v := mustValue(t, res, "probe_tls_version_info", "version", "TLS 1.3"); v != 1 {
		t.Errorf("starttls: probe_tls_version_info = %v", v)
	}
	upgrade.Client.RootCAs = nil
	res = mustRun(t, starttls, upgrade, Options{})
	assertFailure(t, res, "tls", "X509-UNKNOWN-AUTHORITY")

	// A server that sends nothing: the probe's timeout ends the wait.
	silent := serve(func(c net.Conn, lines *bufio.Reader) { lines.ReadString('\n') })
	m := tcp(QueryResponse{Expect: expect("^220 ")})
	m.Timeout = 300 * time.Millisecond
	res = mustRun(t, silent, m, Options{})
	assertFailure(t, res, "expect", "TIMEOUT")
	if mustValue(t, res, "probe_failed_due_to_regex") != 0 {
		t.Error("a timeout: probe_failed_due_to_regex is not 0, as blackbox_exporter")
	}
}

func TestICMP(t *testing.T) {
	if testing.Short() {
		t.Skip("ICMP: not with -short")
	}
	if os.Geteuid() != 0 {
		t.Skip("raw ICMP sockets need root here")
	}
	res := mustRun(t, "127.0.0.1", Module{Prober: ICMP, ICMP: ICMPOptions{TTL: 7}}, Options{})
	if !res.Success {
		t.Fatalf("ping 127.0.0.1 failed: %+v", res.Failures)
	}
	if rtt := mustValue(t, res, "probe_icmp_duration_seconds", "phase", "rtt"); rtt <= 0 || rtt > 1 {
		t.Errorf("rtt %v", rtt)
	}
	mustValue(t, res, "probe_icmp_duration_seconds", "phase", "setup")
	mustValue(t, res, "probe_icmp_duration_seconds", "phase", "resolve")
	// The reply to a request with TTL 7 comes back with the kernel's TTL.
	if hl := mustValue(t, res, "probe_icmp_reply_hop_limit"); hl != 64 {
		t.Errorf("probe_icmp_reply_hop_limit = %v, want 64", hl)
	}
}

func TestDNS(t *testing.T) {
	srv := dnstest.StartAnyPort(t, "a.test. 60 IN A 127.0.0.5", "test. 60 IN SOA ns.test. admin.test. 2026120301 3600 600 86400 60")
	srv.Silence("slow.test")
	target := srv.Addr.String()
	m := func(name string, qtype uint16) Module {
		return Module{Prober: DNS, Timeout: time.Second, DNS: DNSOptions{QueryName: name, QueryType: qtype}}
	}
	res := mustRun(t, target, m("a.test", dns.TypeA), Options{})
	if !res.Success || mustValue(t, res, "probe_dns_answer_rrs") != 1 || mustValue(t, res, "probe_dns_query_succeeded") != 1 {
		t.Fatalf("A query: %+v", res)
	}
	for _, phase := range []string{"resolve", "connect", "request"} {
		mustValue(t, res, "probe_dns_duration_seconds", "phase", phase)
	}
	res = mustRun(t, target, m("test", dns.TypeSOA), Options{})
	if mustValue(t, res, "probe_dns_serial") != 2026120301 {
		t.Errorf("serial: %+v", res.Samples)
	}
	res = mustRun(t, target, m("nosuch.test", dns.TypeA), Options{})
	assertFailure(t, res, "rcode", "NXDOMAIN")

	nx := m("nosuch.test", dns.TypeA)
	nx.DNS.ValidRcodes = []int{dns.RcodeNameError}
	if res = mustRun(t, target, nx, Options{}); !res.Success {
		t.Errorf("NXDOMAIN with valid_rcodes [NXDOMAIN]: %+v", res.Failures)
	}
	checked := m("a.test", dns.TypeA)
	checked.DNS.Answer.FailIfNotMatches = []*regexp.Regexp{regexp.MustCompile(`127\.0\.0\.9`)}
	res = mustRun(t, target, checked, Options{})
	assertFailure(t, res, "answer", "DNS-ANSWER")
	checked.DNS.Answer.FailIfNotMatches = []*regexp.Regexp{regexp.MustCompile(`\t127\.0\.0\.5$`)}
	if res = mustRun(t, target, checked, Options{}); !res.Success {
		t.Errorf("matching answer: %+v", res.Failures)
	}
	tcp := m("a.test", dns.TypeA)
	tcp.DNS.TCP = true
	if res = mustRun(t, target, tcp, Options{}); !res.Success {
		t.Errorf("over TCP: %+v", res.Failures)
	}
	start := time.Now()
	res = mustRun(t, target, m("slow.test", dns.TypeA), Options{})
	assertFailure(t, res, "query", "TIMEOUT")
	if d := time.Since(start); d > 1500*time.Millisecond {
		t.Errorf("a silent server held the probe %v, past its 1s timeout", d)
	}
}

// TestResolveFailure checks the reason of a target name that does not
// exist, from a DNS server of the test's own.
func TestResolveFailure(t *testing.T) {
	srv := dnstest.StartAnyPort(t)
	r := &resolve.Resolver{Servers: []netip.AddrPort{srv.Addr}}
	for _, p := range []Prober{TCP, ICMP, Echo} {
		target := "nosuch.test:80"
		if p == ICMP {
			target = "nosuch.test"
		}
		res := mustRun(t, target, Module{Prober: p}, Options{Resolver: r})
		assertFailure(t, res, "resolve", "NXDOMAIN")
		if mustValue(t, res, "probe_ip_protocol") != 0 {
			t.Errorf("%s: probe_ip_protocol of an unresolved name is not 0", p)
		}
	}
}

func TestEcho(t *testing.T) {
	l := testnet.Listen(t, "127.0.0.1:0")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- (&echo.Server{}).Serve(ctx, l) }()
	t.Cleanup(func() { cancel(); <-done })
	res := mustRun(t, l.Addr().String(), Module{Prober: Echo, Plaintext: true}, Options{})
	if !res.Success {
		t.Fatalf("echo: %+v", res.Failures)
	}
	if rtt := mustValue(t, res, "probe_echo_round_trip_seconds"); rtt <= 0 {
		t.Errorf("round trip %v", rtt)
	}
	// A service that accepts and answers something else.
	other := testnet.Listen(t, "127.0.0.1:0")
	testnet.ServeConns(t, other, func(c net.Conn) { c.Write([]byte("SSH-2.0-OpenSSH_9.2\r\n")); io.Copy(io.Discard, c) })
	res = mustRun(t, other.Addr().String(), Module{Prober: Echo, Plaintext: true, Timeout: time.Second}, Options{})
	assertFailure(t, res, "echo", "NOT-ECHO")
}

func TestDiagnose(t *testing.T) {
	closed := testnet.ClosedPort(t, "tcp4", "127.0.0.1")
	res := mustRun(t, closed.String(), Module{Prober: Diagnose, Plaintext: true}, Options{})
	assertFailure(t, res, "connect", "ECONNREFUSED")
	if mustValue(t, res, "probe_step_success", "step", "resolve") != 1 || mustValue(t, res, "probe_step_success", "step", "connect") != 0 {
		t.Errorf("steps %+v", res.Samples)
	}
	mustValue(t, res, "probe_step_duration_seconds", "step", "connect")
	if _, ok := value(res, "probe_step_success", "step", "tls"); ok {
		t.Error("a step not checked has a probe_step_success sample")
	}
}

// TestNotAllowed checks that a target outside the allowed networks gets
// no packet.
func TestNotAllowed(t *testing.T) {
	l, accepted := accepting(t, "127.0.0.1:0")
	nothing := func(netip.Addr) bool { return false }
	_, err := Run(context.Background(), l.Addr().String(), Module{Prober: TCP}, Options{Allowed: nothing})
	var na *diag.NotAllowedError
	if !errors.As(err, &na) || na.Address != netip.MustParseAddr("127.0.0.1") {
		t.Fatalf("err %v, want a *diag.NotAllowedError for 127.0.0.1", err)
	}
	time.Sleep(50 * time.Millisecond)
	if n := accepted.Load(); n != 0 {
		t.Errorf("%d connections reached a target that is not allowed", n)
	}
}

func TestTargetErrors(t *testing.T) {
	for _, tc := range []struct {
		prober Prober
		target string
		want   string
	}{
		{TCP, "localhost", "HOST:PORT"},
		{TCP, "localhost:0", "from 1 to 65535"},
		{TCP, "localhost:nosuchservice", "nosuchservice"},
		{Echo, ":80", "host is empty"},
		{ICMP, "", "empty"},
		{DNS, "bad..name", "bad..name"},
		{Prober("http"), "localhost:80", "unknown prober"},
	} {
		_, err := Run(context.Background(), tc.target, Module{Prober: tc.prober}, Options{})
		var te *TargetError
		if !errors.As(err, &te) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s %q: err %v, want a *TargetError mentioning %q", tc.prober, tc.target, err, tc.want)
		}
	}
}

// TestReasons checks that every reason a probe gives is in the bounded
// set the docs list.
func TestReasons(t *testing.T) {
	for _, code := range []string{"DNS-RCODE", "DNS-ANSWER", "NOT-ECHO", "ECONNREFUSED", "NXDOMAIN", "X509-EXPIRED", ReasonOther} {
		if !slices.Contains(Reasons(), code) {
			t.Errorf("%s is not in Reasons()", code)
		}
	}
}

// childEnv names the test that a run of the test binary started inside a
// network namespace is for (inNetns).
const childEnv = "NETKIT_PROBE_NETNS_CHILD"

// isChild reports whether this process is the run of test that inNetns
// started inside its namespace.
func isChild(test string) bool { return os.Getenv(childEnv) == test }

// netnsSeq numbers the namespaces of this test process.
var netnsSeq atomic.Int32

// newNetns makes a network namespace with its loopback up, deleted when
// the test ends; it skips under -short and without root.
func newNetns(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("network namespaces: not with -short")
	}
	if os.Geteuid() != 0 {
		t.Skip("network namespaces need root")
	}
	ns := fmt.Sprintf("nkprobe%d-%d", os.Getpid(), netnsSeq.Add(1))
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Skipf("ip netns add: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	must(t, "ip", "-n", ns, "link", "set", "lo", "up")
	return ns
}

// must runs a setup command and fails the test if it fails.
func must(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// inNetns runs the test named test again, in a child process inside
// namespace ns, where isChild(test) is true, and fails unless it passes.
// The probes run in a process of their own because pro-bing and the
// dialers open their sockets on goroutines that any thread may run.
func inNetns(t *testing.T, ns, test string) {
	t.Helper()
	child := exec.Command("ip", "netns", "exec", ns, os.Args[0], "-test.run", "^"+test+"$", "-test.v", "-test.count=1")
	child.Env = append(os.Environ(), childEnv+"="+test)
	out, err := child.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: "+test) {
		t.Fatalf("%s in namespace %s: %v\n%s", test, ns, err, out)
	}
}

// TestDontFragment probes 127.0.0.1 with 2,000-byte requests in a network
// namespace whose loopback has an MTU of 1,500: with dont_fragment the
// request fails (EMSGSIZE), as iputils 'ping -M do' does; without it, it
// is fragmented and answered.
func TestDontFragment(t *testing.T) {
	if isChild(t.Name()) {
		df := mustRun(t, "127.0.0.1", Module{Prober: ICMP, ICMP: ICMPOptions{PayloadSize: 2000, DontFragment: true}}, Options{})
		assertFailure(t, df, "icmp", "EMSGSIZE")
		frag := mustRun(t, "127.0.0.1", Module{Prober: ICMP, ICMP: ICMPOptions{PayloadSize: 2000}}, Options{})
		if !frag.Success {
			t.Errorf("without dont_fragment: %+v", frag.Failures)
		}
		return
	}
	ns := newNetns(t)
	must(t, "ip", "-n", ns, "link", "set", "lo", "mtu", "1500")
	// The system's ping agrees: with the bit set, 2,000 bytes do not go.
	out, err := exec.Command("ip", "netns", "exec", ns, "ping", "-c", "1", "-W", "1", "-M", "do", "-s", "2000", "127.0.0.1").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "message too long") {
		t.Errorf("ping -M do -s 2000 in the namespace: %v %s", err, out)
	}
	inNetns(t, ns, t.Name())
}

// TestPathReasons probes through a lab of three namespaces, client --
// router -- server, whose firewalls break the path in different ways, and
// checks that each way has its own reason: a dropped SYN is TIMEOUT, a
// router rejecting with ICMP admin-prohibited is ICMP-ADMIN-PROHIBITED
// (with host-unreachable, EHOSTUNREACH: the same errno), a closed port is
// ECONNREFUSED, dropped ICMP is ICMP-NO-REPLY.
func TestPathReasons(t *testing.T) {
	if isChild(t.Name()) {
		tcp := Module{Prober: TCP, Timeout: time.Second}
		if res := mustRun(t, "10.45.2.2:80", tcp, Options{}); !res.Success {
			t.Errorf("open port through the router: %+v", res.Failures)
		}
		assertFailure(t, mustRun(t, "10.45.2.2:81", tcp, Options{}), "connect", "TIMEOUT")
		rejected := mustRun(t, "10.45.2.2:82", tcp, Options{})
		assertFailure(t, rejected, "connect", "ICMP-ADMIN-PROHIBITED")
		if !strings.Contains(rejected.Failures[0].Error, "administratively prohibited from 10.45.1.1") {
			t.Errorf("the rejection does not name the router: %q", rejected.Failures[0].Error)
		}
		assertFailure(t, mustRun(t, "10.45.2.2:82", Module{Prober: Echo, Plaintext: true, Timeout: time.Second}, Options{}), "connect", "ICMP-ADMIN-PROHIBITED")
		assertFailure(t, mustRun(t, "10.45.2.2:84", tcp, Options{}), "connect", "EHOSTUNREACH")
		assertFailure(t, mustRun(t, "10.45.2.2:83", tcp, Options{}), "connect", "ECONNREFUSED")
		icmp := Module{Prober: ICMP, Timeout: time.Second}
		assertFailure(t, mustRun(t, "10.45.2.2", icmp, Options{}), "icmp", "ICMP-NO-REPLY")
		if res := mustRun(t, "10.45.2.3", icmp, Options{}); !res.Success {
			t.Errorf("ping 10.45.2.3: %+v", res.Failures)
		}
		// diagnose traces the silent port: the router after which the
		// packets vanish is named (PATH-DROPPED), not a bare timeout.
		diag := mustRun(t, "10.45.2.2:81", Module{Prober: Diagnose, Plaintext: true, Timeout: 3 * time.Second}, Options{})
		assertFailure(t, diag, "connect", "PATH-DROPPED")
		if v := mustValue(t, diag, "probe_step_success", "step", "connect"); v != 0 {
			t.Errorf("diagnose: connect step %v", v)
		}
		return
	}
	if _, err := exec.LookPath("nft"); err != nil {
		t.Skip("nft not installed (apt-get install nftables)")
	}
	if _, err := exec.LookPath("ncat"); err != nil {
		t.Skip("ncat not installed (apt-get install ncat)")
	}
	cli, rtr, srv := newNetns(t), newNetns(t), newNetns(t)
	for _, c := range [][]string{
		{"-n", cli, "link", "add", "c0", "type", "veth", "peer", "name", "r0", "netns", rtr},
		{"-n", rtr, "link", "add", "r1", "type", "veth", "peer", "name", "s1", "netns", srv},
		{"-n", cli, "addr", "add", "10.45.1.2/24", "dev", "c0"},
		{"-n", cli, "link", "set", "c0", "up"},
		{"-n", cli, "route", "add", "default", "via", "10.45.1.1"},
		{"-n", rtr, "addr", "add", "10.45.1.1/24", "dev", "r0"},
		{"-n", rtr, "addr", "add", "10.45.2.1/24", "dev", "r1"},
		{"-n", rtr, "link", "set", "r0", "up"},
		{"-n", rtr, "link", "set", "r1", "up"},
		{"-n", srv, "addr", "add", "10.45.2.2/24", "dev", "s1"},
		{"-n", srv, "addr", "add", "10.45.2.3/24", "dev", "s1"},
		{"-n", srv, "link", "set", "s1", "up"},
		{"-n", srv, "route", "add", "default", "via", "10.45.2.1"},
	} {
		must(t, "ip", c...)
	}
	must(t, "ip", "netns", "exec", rtr, "sysctl", "-qw", "net.ipv4.ip_forward=1")
	dir := t.TempDir()
	rules := map[string]string{
		rtr: "table inet netkit_probe_test {\n\tchain forward {\n\t\ttype filter hook forward priority 0; policy accept;\n" +
			"\t\ttcp dport 82 reject with icmp type admin-prohibited\n\t\ttcp dport 84 reject with icmp type host-unreachable\n\t}\n}\n",
		srv: "table inet netkit_probe_test {\n\tchain input {\n\t\ttype filter hook input priority 0; policy accept;\n" +
			"\t\tip daddr 10.45.2.2 icmp type echo-request drop\n\t\ttcp dport 81 drop\n\t}\n}\n",
	}
	for ns, r := range rules {
		path := dir + "/" + ns + ".nft"
		os.WriteFile(path, []byte(r), 0o644)
		must(t, "ip", "netns", "exec", ns, "nft", "-f", path)
	}
	server := exec.Command("ip", "netns", "exec", srv, "ncat", "-l", "-k", "10.45.2.2", "80")
	if err := server.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { server.Process.Kill(); server.Wait() })
	// ncat listens once it has started; wait for it from the client side.
	deadline := time.Now().Add(5 * time.Second)
	for exec.Command("ip", "netns", "exec", cli, "ncat", "-z", "-w", "1", "10.45.2.2", "80").Run() != nil {
		if time.Now().After(deadline) {
			t.Fatal("ncat does not listen on 10.45.2.2:80")
		}
		time.Sleep(50 * time.Millisecond)
	}
	inNetns(t, cli, t.Name())
}
