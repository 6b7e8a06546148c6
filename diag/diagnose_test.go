package diag

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/netkit/netkit/echo"
	"github.com/netkit/netkit/internal/dnstest"
	"github.com/netkit/netkit/internal/golden"
	"github.com/netkit/netkit/internal/testcert"
	"github.com/netkit/netkit/internal/testnet"
	"github.com/netkit/netkit/resolve"
)

// diagResolver returns a resolver over a test hosts file and an in-process
// DNS server, with nsswitch "files dns".
func diagResolver(t *testing.T, hosts string, zone ...string) *resolve.Resolver {
	t.Helper()
	r, _ := diagResolverOrder(t, "files dns", hosts, zone...)
	return r
}

// diagResolverOrder is diagResolver with the nsswitch hosts line order,
// and returns the DNS server too.
func diagResolverOrder(t *testing.T, order, hosts string, zone ...string) (*resolve.Resolver, *dnstest.Server) {
	t.Helper()
	srv := dnstest.Start(t, zone...)
	dir := t.TempDir()
	hp := filepath.Join(dir, "hosts")
	np := filepath.Join(dir, "nsswitch.conf")
	os.WriteFile(hp, []byte(hosts), 0o644)
	os.WriteFile(np, []byte("hosts: "+order+"\n"), 0o644)
	return &resolve.Resolver{HostsPath: hp, Paths: resolve.ConfigPaths{
		ResolvConf: srv.ResolvConf(t, "options timeout:1 attempts:1"), NSSwitch: np,
		Env: func(string) string { return "" }}}, srv
}

const diagHosts = "127.0.0.1 localhost\n127.0.0.61 svc.test\n127.0.0.62 shadow.test\n127.0.0.300 broken.test\n"

func diagnose(t *testing.T, r *resolve.Resolver, host string, port int, mod func(*Options)) *Report {
	t.Helper()
	return diagnoseCtx(t, context.Background(), r, host, port, mod)
}

// diagnoseCtx runs Diagnose with ctx and checks that OnStep saw every step
// in order (calling mod's OnStep too, when it sets one).
func diagnoseCtx(t *testing.T, ctx context.Context, r *resolve.Resolver, host string, port int, mod func(*Options)) *Report {
	t.Helper()
	o := Options{Host: host, Port: uint16(port), Resolver: r, PingCount: 1, Client: echo.ClientOptions{Timeout: time.Second}}
	if mod != nil {
		mod(&o)
	}
	var seen []StepName
	onStep := o.OnStep
	o.OnStep = func(s Step) {
		seen = append(seen, s.Name)
		if onStep != nil {
			onStep(s)
		}
	}
	rep, err := Diagnose(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	want := []StepName{StepHosts, StepResolve, StepPing, StepConnect, StepListen, StepTLS, StepApp}
	if strings.Join(stepNames(seen), ",") != strings.Join(stepNames(want), ",") {
		t.Errorf("OnStep saw %v, want %v", seen, want)
	}
	return rep
}

func stepNames(ns []StepName) []string {
	out := make([]string, len(ns))
	for i, n := range ns {
		out[i] = string(n)
	}
	return out
}

func stepOf(t *testing.T, rep *Report, name StepName) Step {
	t.Helper()
	for _, s := range rep.Steps {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("no step %s in %+v", name, rep.Steps)
	return Step{}
}

// expect checks a step's status, that its summary mentions want, and, for
// a non-empty code, its explanation.
func expect(t *testing.T, rep *Report, name StepName, st Status, want, code string) {
	t.Helper()
	s := stepOf(t, rep, name)
	text := s.Summary + " " + strings.Join(s.Details, " ")
	if s.Status != st || !strings.Contains(text, want) {
		t.Errorf("%s: %s %q %v, want %s mentioning %q", name, s.Status, s.Summary, s.Details, st, want)
	}
	if code != "" && (s.Explanation == nil || s.Explanation.Code != code) {
		t.Errorf("%s: explanation %+v, want %s", name, s.Explanation, code)
	}
}

func portOf(l net.Listener) int { return l.Addr().(*net.TCPAddr).Port }

// serveEcho runs a netkit echo server on l until the test ends.
func serveEcho(t *testing.T, l net.Listener, cfg *tls.Config) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { (&echo.Server{TLSConfig: cfg}).Serve(ctx, l) })
	t.Cleanup(func() { cancel(); wg.Wait() })
}

// diagnoseClosedPort diagnoses svc.test, from the test hosts file, on a
// port of 127.0.0.61 nothing listens on.
func diagnoseClosedPort(t *testing.T) (rep *Report, r *resolve.Resolver, port int) {
	t.Helper()
	r = diagResolver(t, diagHosts)
	l := testnet.Listen(t, "127.0.0.61:0")
	port = portOf(l)
	l.Close()
	return diagnose(t, r, "svc.test", port, nil), r, port
}

func TestDiagnoseClosedPort(t *testing.T) {
	rep, _, _ := diagnoseClosedPort(t)
	expect(t, rep, StepHosts, StatusOK, "svc.test → 127.0.0.61 (line 2)", "")
	expect(t, rep, StepResolve, StatusOK, "127.0.0.61 (hosts)", "")
	expect(t, rep, StepPing, StatusOK, "127.0.0.61 1/1", "")
	expect(t, rep, StepConnect, StatusFail, "refused", "ECONNREFUSED")
	expect(t, rep, StepListen, StatusFail, "nothing on this machine listens", "NOT-LISTENING")
	expect(t, rep, StepTLS, StatusSkip, "no open connection", "")
	if rep.OK || rep.FailedStep != StepConnect {
		t.Errorf("ok %v, failed step %s", rep.OK, rep.FailedStep)
	}
}

// TestDiagnoseNotAllowed checks that an address Options.Allowed refuses
// fails the resolve step and that nothing is sent: the ping and connect
// steps are skipped, and the listener at that address hears nothing.
func TestDiagnoseNotAllowed(t *testing.T) {
	r := diagResolver(t, diagHosts)
	l := testnet.Listen(t, "127.0.0.61:0")
	refused := netip.MustParseAddr("127.0.0.61")
	rep := diagnose(t, r, "svc.test", portOf(l), func(o *Options) {
		o.Allowed = func(a netip.Addr) bool { return a != refused }
	})
	expect(t, rep, StepResolve, StatusFail, `target "svc.test" (127.0.0.61) is not in the allowed networks`, "")
	expect(t, rep, StepPing, StatusSkip, "no address", "")
	expect(t, rep, StepConnect, StatusSkip, "", "")
	if rep.OK || rep.FailedStep != StepResolve {
		t.Errorf("ok %v, failed step %s", rep.OK, rep.FailedStep)
	}
	l.(*net.TCPListener).SetDeadline(time.Now().Add(100 * time.Millisecond))
	if c, err := l.Accept(); err == nil {
		c.Close()
		t.Error("a connection reached the address Allowed refused")
	}
}

func TestDiagnoseEchoServer(t *testing.T) {
	ca := testcert.NewCA(t)
	r := diagResolver(t, diagHosts)
	l := testnet.Listen(t, "127.0.0.61:0")
	serveEcho(t, l, echo.ServerTLSConfig(ca.Issue(t, testcert.Leaf{Names: []string{"svc.test"}}), nil, nil))
	rep := diagnose(t, r, "svc.test", portOf(l), func(o *Options) {
		o.TLS, o.Client.RootCAs = TLSOn, ca.Pool()
	})
	expect(t, rep, StepConnect, StatusOK, "open", "")
	expect(t, rep, StepListen, StatusOK, "127.0.0.61", "")
	expect(t, rep, StepTLS, StatusOK, "TLS 1.3", "")
	expect(t, rep, StepApp, StatusOK, "it sees this client as 127.0.0.", "")
	if !rep.OK || rep.Echo == nil || !rep.Echo.TLS || rep.TLS == nil || !rep.TLS.Verified {
		t.Errorf("report %+v", rep)
	}
	// The round trip's time is in the data, not only in the summary.
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Echo map[string]any `json:"echo"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if rtt, ok := doc.Echo["rtt_ms"].(float64); !ok || rtt <= 0 || doc.Echo["remote_addr"] != "127.0.0.1" {
		t.Errorf("echo in JSON: %v", doc.Echo)
	}
}

func TestDiagnosePlaintextEchoServer(t *testing.T) {
	r := diagResolver(t, diagHosts)
	l := testnet.Listen(t, "127.0.0.61:0")
	serveEcho(t, l, nil)
	rep := diagnose(t, r, "svc.test", portOf(l), nil)
	expect(t, rep, StepTLS, StatusSkip, "does not answer TLS", "")
	expect(t, rep, StepApp, StatusOK, "netkit echo server answered", "")
	if !rep.OK || rep.Echo.TLS {
		t.Errorf("report %+v", rep)
	}
	// The same with --tls: a plaintext service where TLS is required.
	rep = diagnose(t, r, "svc.test", portOf(l), func(o *Options) { o.TLS = TLSOn })
	expect(t, rep, StepTLS, StatusFail, "TLS handshake", "TLS-EOF")
	// The echo check does not fall back to plain TCP.
	expect(t, rep, StepApp, StatusSkip, "the TLS handshake failed", "")
	if rep.Echo != nil || rep.FailedStep != StepTLS {
		t.Errorf("echo %+v, failed step %s", rep.Echo, rep.FailedStep)
	}
}

// hold keeps a connection open, reading and discarding, until the client
// closes it or the test ends.
func hold(t *testing.T) func(net.Conn) {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	return func(c net.Conn) {
		stop := context.AfterFunc(ctx, func() { c.Close() })
		defer stop()
		io.Copy(io.Discard, c)
	}
}

// TestDiagnoseSilentService diagnoses a service that accepts and never
// says anything, on a port where TLS is not required: the TLS and echo
// steps warn that it answered nothing, and TCP is all that is proven.
func TestDiagnoseSilentService(t *testing.T) {
	r := diagResolver(t, diagHosts)
	silent := testnet.Listen(t, "127.0.0.61:0")
	testnet.ServeConns(t, silent, hold(t))
	rep := diagnose(t, r, "svc.test", portOf(silent), func(o *Options) { o.Client.Timeout = 500 * time.Millisecond })
	expect(t, rep, StepConnect, StatusOK, "open", "")
	expect(t, rep, StepTLS, StatusWarn, "answered nothing to a TLS ClientHello in 0.5 s", "SILENT")
	expect(t, rep, StepApp, StatusWarn, "answered nothing to a netkit echo request in 0.5 s", "SILENT")
	if !rep.OK || rep.Proven != LayerTCP {
		t.Errorf("ok %v, proven %q; want ok and tcp only", rep.OK, rep.Proven)
	}
	for _, s := range rep.Steps {
		if strings.Contains(s.Summary, "deadline exceeded") {
			t.Errorf("%s: %q", s.Name, s.Summary)
		}
	}
}

// TestDiagnoseTLSOnPlaintext requires TLS from plaintext services: one
// that waits for the client to speak (the handshake gets no answer) and
// one that sends a banner first (the answer is not TLS).
func TestDiagnoseTLSOnPlaintext(t *testing.T) {
	r := diagResolver(t, diagHosts)
	tlsOn := func(o *Options) { o.TLS, o.Client.Timeout = TLSOn, 500*time.Millisecond }

	silent := testnet.Listen(t, "127.0.0.61:0")
	testnet.ServeConns(t, silent, hold(t))
	rep := diagnose(t, r, "svc.test", portOf(silent), tlsOn)
	expect(t, rep, StepConnect, StatusOK, "open", "")
	expect(t, rep, StepTLS, StatusFail, "no answer to the TLS handshake in 0.5 s", "TLS-NO-ANSWER")
	if s := stepOf(t, rep, StepTLS); s.Explanation == nil || !strings.Contains(s.Explanation.Cause, "did not answer the TLS handshake") {
		t.Errorf("tls explanation %+v", s.Explanation)
	}
	expect(t, rep, StepApp, StatusSkip, "the TLS handshake failed", "")
	if rep.FailedStep != StepTLS {
		t.Errorf("failed step %s", rep.FailedStep)
	}

	banner := testnet.Listen(t, "127.0.0.61:0")
	greet := hold(t)
	testnet.ServeConns(t, banner, func(c net.Conn) {
		c.Write([]byte("220 smtp.test ESMTP ready\r\n"))
		greet(c)
	})
	rep = diagnose(t, r, "svc.test", portOf(banner), tlsOn)
	expect(t, rep, StepConnect, StatusOK, "the server speaks first: \"220 smtp.test ESMTP ready\"", "")
	expect(t, rep, StepTLS, StatusFail, "TLS handshake", "TLS-NOT-TLS")
	if rep.FailedStep != StepTLS {
		t.Errorf("failed step %s", rep.FailedStep)
	}
}

// TestDiagnoseInterrupted cancels the context, as Ctrl-C does: before the
// walk, and during a TLS handshake that would wait for its timeout. The
// steps not run are not checked, with no cause, and no step fails.
func TestDiagnoseInterrupted(t *testing.T) {
	r := diagResolver(t, diagHosts)
	l := testnet.Listen(t, "127.0.0.61:0")
	testnet.ServeConns(t, l, hold(t))

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	rep := diagnoseCtx(t, ctx, r, "svc.test", portOf(l), nil)
	for _, s := range rep.Steps {
		if s.Status != StatusSkip || s.Summary != "not checked: interrupted" || s.Explanation != nil {
			t.Errorf("%s: %s %q %+v", s.Name, s.Status, s.Summary, s.Explanation)
		}
	}
	if rep.OK || !rep.Interrupted || rep.FailedStep != "" {
		t.Errorf("ok %v, interrupted %v, failed step %q", rep.OK, rep.Interrupted, rep.FailedStep)
	}

	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	start := time.Now()
	rep = diagnoseCtx(t, ctx, r, "svc.test", portOf(l), func(o *Options) {
		o.TLS, o.Client.Timeout = TLSOn, 10*time.Second
		o.OnStep = func(s Step) {
			if s.Name == StepListen {
				time.AfterFunc(200*time.Millisecond, cancel) // during the handshake
			}
		}
	})
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("the cancel took %v to end the walk", took)
	}
	expect(t, rep, StepConnect, StatusOK, "open", "")
	for _, name := range []StepName{StepTLS, StepApp} {
		if s := stepOf(t, rep, name); s.Status != StatusSkip || s.Summary != "not checked: interrupted" || s.Explanation != nil {
			t.Errorf("%s: %s %q %+v", name, s.Status, s.Summary, s.Explanation)
		}
	}
	if rep.OK || !rep.Interrupted || rep.FailedStep != "" {
		t.Errorf("ok %v, interrupted %v, failed step %q", rep.OK, rep.Interrupted, rep.FailedStep)
	}
}

func TestDiagnoseCertificateProblems(t *testing.T) {
	ca := testcert.NewCA(t)
	r := diagResolver(t, diagHosts)
	now := time.Now()
	for _, tc := range []struct {
		name, code, mention string
		leaf                testcert.Leaf
	}{
		{"other name", "X509-HOSTNAME", "other.test", testcert.Leaf{Names: []string{"other.test"}}},
		{"expired", "X509-EXPIRED", "expired", testcert.Leaf{Names: []string{"svc.test"}, NotBefore: now.Add(-72 * time.Hour), NotAfter: now.Add(-24 * time.Hour)}},
		{"not yet valid", "X509-NOT-YET-VALID", "valid from", testcert.Leaf{Names: []string{"svc.test"}, NotBefore: now.Add(24 * time.Hour), NotAfter: now.Add(72 * time.Hour)}},
		{"unknown authority", "X509-UNKNOWN-AUTHORITY", "netkit test CA", testcert.Leaf{Names: []string{"svc.test"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pool := ca.Pool()
			if tc.code == "X509-UNKNOWN-AUTHORITY" {
				pool = testcert.NewCA(t).Pool() // another CA
			}
			l := testnet.Listen(t, "127.0.0.61:0")
			serveEcho(t, l, echo.ServerTLSConfig(ca.Issue(t, tc.leaf), nil, nil))
			rep := diagnose(t, r, "svc.test", portOf(l), func(o *Options) { o.Client.RootCAs = pool; o.TLS = TLSOn })
			expect(t, rep, StepTLS, StatusFail, "NOT verified", tc.code)
			if s := stepOf(t, rep, StepTLS); s.Explanation == nil || !strings.Contains(s.Explanation.Cause, tc.mention) {
				t.Errorf("explanation %+v does not mention %q", s.Explanation, tc.mention)
			}
			expect(t, rep, StepApp, StatusSkip, "did not verify", "")
			if rep.OK || rep.FailedStep != StepTLS {
				t.Errorf("ok %v, failed step %s", rep.OK, rep.FailedStep)
			}
			// --insecure, as curl -k: the unverified certificate is a
			// warning that says why, the echo check runs, and the path
			// passes with verified false.
			rep = diagnose(t, r, "svc.test", portOf(l), func(o *Options) {
				o.Client.RootCAs = pool
				o.TLS = TLSOn
				o.Client.InsecureSkipVerify = true
			})
			expect(t, rep, StepTLS, StatusWarn, "not verified (--insecure)", tc.code)
			if s := stepOf(t, rep, StepTLS); s.Explanation == nil || strings.Contains(s.Explanation.Next, "--insecure skips") {
				t.Errorf("explanation %+v still offers --insecure", s.Explanation)
			}
			expect(t, rep, StepApp, StatusOK, "netkit echo server answered", "")
			if !rep.OK || rep.FailedStep != "" || rep.Proven != LayerEcho || rep.TLS == nil || rep.TLS.Verified {
				t.Errorf("ok %v, failed step %q, proven %q, tls %+v", rep.OK, rep.FailedStep, rep.Proven, rep.TLS)
			}
		})
	}
}

// TestDiagnoseClientCertificateRequired diagnoses a mutual-TLS echo server
// without a client certificate: with TLS 1.3 the handshake looks complete
// and the refusal comes as an alert on the first read.
func TestDiagnoseClientCertificateRequired(t *testing.T) {
	ca := testcert.NewCA(t)
	r := diagResolver(t, diagHosts)
	l := testnet.Listen(t, "127.0.0.61:0")
	serveEcho(t, l, echo.ServerTLSConfig(ca.Issue(t, testcert.Leaf{Names: []string{"svc.test"}}), ca.Pool(), nil))
	rep := diagnose(t, r, "svc.test", portOf(l), func(o *Options) { o.Client.RootCAs = ca.Pool() })
	expect(t, rep, StepTLS, StatusOK, "TLS 1.3", "")
	expect(t, rep, StepApp, StatusFail, "certificate required", "TLS-ALERT")
	if s := stepOf(t, rep, StepApp); s.Explanation == nil || !strings.Contains(s.Explanation.Cause, "certificate required") {
		t.Errorf("explanation %+v does not name the alert", s.Explanation)
	}
	if rep.OK || rep.FailedStep != StepApp {
		t.Errorf("ok %v, failed step %s", rep.OK, rep.FailedStep)
	}
	// With a client certificate the CA trusts, the round trip works.
	rep = diagnose(t, r, "svc.test", portOf(l), func(o *Options) {
		o.Client.RootCAs = ca.Pool()
		o.Client.Certificates = []tls.Certificate{ca.Issue(t, testcert.Leaf{Names: []string{"client.test"}, Client: true})}
	})
	expect(t, rep, StepApp, StatusOK, "netkit echo server answered", "")
	if !rep.OK || rep.Echo.ClientCertificate == "" {
		t.Errorf("ok %v, echo %+v", rep.OK, rep.Echo)
	}
}

func TestDiagnoseResetAfterAccept(t *testing.T) {
	r := diagResolver(t, diagHosts)
	l := testnet.Listen(t, "127.0.0.61:0")
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.(*net.TCPConn).SetLinger(0)
			c.Close()
		}
	}()
	// The reset beats the end of the connect or comes after it, from run
	// to run: the report must be the same either way.
	rep := diagnose(t, r, "svc.test", portOf(l), nil)
	expect(t, rep, StepConnect, StatusFail, "accepted the connection, then reset it", "TURNED-AWAY")
	// Nothing was sent yet, no TLS tried: not ECONNRESET's "another
	// protocol", nor "run netkit diagnose" inside diagnose.
	if ex := stepOf(t, rep, StepConnect).Explanation; ex == nil || !strings.Contains(ex.Cause, "127.0.0.61:") ||
		strings.Contains(ex.Cause+ex.Next, "TLS") || strings.Contains(ex.Cause+ex.Next, "netkit diagnose") {
		t.Errorf("explanation %+v", ex)
	}
	expect(t, rep, StepTLS, StatusSkip, "no open connection", "")
	expect(t, rep, StepApp, StatusSkip, "no open connection", "")
	if rep.FailedStep != StepConnect || len(rep.Connect) != 1 || rep.Connect[0].State != "error" {
		t.Errorf("failed step %s, connect %+v", rep.FailedStep, rep.Connect)
	}
}

// TestDiagnoseClosedAtOnce diagnoses a server that accepts and closes
// every connection: no client can use it.
func TestDiagnoseClosedAtOnce(t *testing.T) {
	r := diagResolver(t, diagHosts)
	l := testnet.Listen(t, "127.0.0.61:0")
	testnet.ServeConns(t, l, func(net.Conn) {})
	rep := diagnose(t, r, "svc.test", portOf(l), nil)
	expect(t, rep, StepConnect, StatusFail, "accepted the connection, then closed it at once", "TURNED-AWAY")
	if s := stepOf(t, rep, StepConnect); s.Explanation == nil || !strings.Contains(s.Explanation.Cause, "127.0.0.61:") {
		t.Errorf("explanation %+v does not name the address", s.Explanation)
	}
	expect(t, rep, StepTLS, StatusSkip, "no open connection", "")
	expect(t, rep, StepApp, StatusSkip, "no open connection", "")
	if rep.OK || rep.FailedStep != StepConnect || rep.Connect[0].State != "error" {
		t.Errorf("ok %v, failed step %s, connect %+v", rep.OK, rep.FailedStep, rep.Connect)
	}
}

func TestDiagnoseFullBacklog(t *testing.T) {
	r := diagResolver(t, diagHosts)
	// A listener with a backlog of 1 that never accepts: once its queue is
	// full, the kernel drops new SYNs and connects time out.
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 61}}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 1); err != nil {
		t.Fatal(err)
	}
	f := os.NewFile(uintptr(fd), "backlog")
	l, err := net.FileListener(f) // a duplicate of fd
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	addr := l.Addr().String()
	full := false
	for i := 0; i < 8 && !full; i++ { // bounded: the queue holds backlog+1
		c, err := net.DialTimeout("tcp", addr, 300*time.Millisecond)
		if err != nil {
			full = true
			break
		}
		t.Cleanup(func() { c.Close() })
	}
	if !full {
		t.Fatal("the accept queue never filled")
	}
	rep := diagnose(t, r, "svc.test", portOf(l), func(o *Options) { o.Client.Timeout = 500 * time.Millisecond })
	expect(t, rep, StepConnect, StatusFail, "no answer in 0.5 s", "ACCEPT-QUEUE-FULL")
	expect(t, rep, StepListen, StatusFail, "its accept queue is full", "ACCEPT-QUEUE-FULL")
	if rep.FailedStep != StepConnect {
		t.Errorf("failed step %s", rep.FailedStep)
	}
}

func TestDiagnoseListenAddressMismatch(t *testing.T) {
	r := diagResolver(t, "127.0.0.1 localhost\n127.0.0.63 mismatch.test\n")
	l := testnet.Listen(t, "[::1]:0")
	rep := diagnose(t, r, "mismatch.test", portOf(l), nil)
	expect(t, rep, StepConnect, StatusFail, "refused", "ECONNREFUSED")
	expect(t, rep, StepListen, StatusFail, "the server listens on ::1 only", "LISTEN-ADDRESS")
	if rep.FailedStep != StepConnect {
		t.Errorf("failed step %s", rep.FailedStep)
	}

	// The same with an IP literal: nothing resolves, no hosts file to fix.
	rep = diagnose(t, r, "127.0.0.63", portOf(l), nil)
	expect(t, rep, StepListen, StatusFail, "nothing listens on 127.0.0.63: the server listens on ::1 only", "LISTEN-ADDRESS-IP")
	if s := stepOf(t, rep, StepListen); strings.Contains(strings.Join(s.Details, " "), "resolves") ||
		s.Explanation == nil || strings.Contains(s.Explanation.Cause+s.Explanation.Next, "resolve") || strings.Contains(s.Explanation.Next, "netkit hosts") {
		t.Errorf("listen step %+v, explanation %+v", s, s.Explanation)
	}
}

func TestDiagnoseNames(t *testing.T) {
	r := diagResolver(t, diagHosts, "shadow.test. 60 IN A 127.0.0.99")
	l := testnet.Listen(t, "127.0.0.1:0")
	port := portOf(l)

	rep := diagnose(t, r, "nosuch.test", port, nil)
	expect(t, rep, StepHosts, StatusOK, "DNS decides", "")
	expect(t, rep, StepResolve, StatusFail, "nosuch.test: no such host", "NXDOMAIN")
	expect(t, rep, StepPing, StatusSkip, "no address", "")
	expect(t, rep, StepConnect, StatusSkip, "no address", "")
	expect(t, rep, StepListen, StatusSkip, "no address to check", "")
	if rep.FailedStep != StepResolve {
		t.Errorf("failed step %s", rep.FailedStep)
	}

	rep = diagnose(t, r, "shadow.test", port, nil)
	expect(t, rep, StepHosts, StatusWarn, "the hosts file shadows DNS", "")

	// A name only in the test hosts file, on a line glibc ignores (and not
	// in DNS): the hosts step shows the broken line, resolution fails.
	rep = diagnose(t, r, "broken.test", port, nil)
	expect(t, rep, StepHosts, StatusWarn, "127.0.0.300", "")
	expect(t, rep, StepResolve, StatusFail, "broken.test: no such host", "NXDOMAIN")
	if rep.FailedStep != StepResolve {
		t.Errorf("failed step %s", rep.FailedStep)
	}
}

// TestDiagnoseDNSServerGone resolves through a DNS server address where
// nothing answers: the resolve step names the server, not "start the
// service".
func TestDiagnoseDNSServerGone(t *testing.T) {
	gone := testnet.ClosedPort(t, "udp", "127.0.0.1")
	r := diagResolver(t, diagHosts)
	r.Servers, r.Timeout = []netip.AddrPort{gone}, 200*time.Millisecond
	rep := diagnose(t, r, "db.test", 80, nil)
	expect(t, rep, StepResolve, StatusFail, "connection refused", "DNS-UNREACHABLE")
	if s := stepOf(t, rep, StepResolve); s.Explanation == nil || !strings.Contains(s.Explanation.Cause, "DNS server "+gone.String()) {
		t.Errorf("explanation %+v does not name the server", s.Explanation)
	}
	if rep.FailedStep != StepResolve {
		t.Errorf("failed step %s", rep.FailedStep)
	}
}

// TestDiagnoseHostsShadow checks the hosts step's look at DNS: it follows
// the nsswitch order, never asks DNS for localhost, and stops with ctx.
func TestDiagnoseHostsShadow(t *testing.T) {
	zone := []string{"shadow.test. 60 IN A 127.0.0.99", "localhost. 60 IN A 127.0.0.99"}
	l := testnet.Listen(t, "127.0.0.1:0")

	r, _ := diagResolverOrder(t, "dns files", diagHosts, zone...)
	rep := diagnose(t, r, "shadow.test", portOf(l), nil)
	expect(t, rep, StepHosts, StatusWarn, "DNS shadows these lines", "")
	if s := stepOf(t, rep, StepHosts); strings.Contains(strings.Join(s.Details, " "), "the hosts file shadows DNS") {
		t.Errorf("with dns before files: %v", s.Details)
	}
	expect(t, rep, StepResolve, StatusOK, "127.0.0.99 (dns)", "")

	r, srv := diagResolverOrder(t, "files dns", diagHosts, zone...)
	rep = diagnose(t, r, "localhost", portOf(l), nil)
	expect(t, rep, StepHosts, StatusOK, "localhost → 127.0.0.1", "")
	if q := srv.Queries(); len(q) != 0 {
		t.Errorf("DNS was asked %v", q)
	}

	srv.Silence("shadow.test")
	r.Paths.ResolvConf = srv.ResolvConf(t, "options timeout:5 attempts:1")
	// (A deadline: the DNS client obeys a context's deadline, not yet its
	// cancellation.)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	rep = diagnoseCtx(t, ctx, r, "shadow.test", portOf(l), func(o *Options) { o.Client.Timeout = 5 * time.Second })
	if took := time.Since(start); took > 2*time.Second || !rep.Interrupted {
		t.Errorf("the context's end during the DNS look of the hosts step ended the walk after %v, interrupted %v", took, rep.Interrupted)
	}
}

var update = flag.Bool("update", false, "rewrite the golden files in testdata instead of comparing")

// msField and msText match the timings of a report: the _ms fields, and
// figures in milliseconds in its texts.
var (
	msField = regexp.MustCompile(`("[a-z_]+_ms"): [-0-9.e+]+`)
	msText  = regexp.MustCompile(`[0-9]+\.[0-9]+ ms`)
)

// TestDiagnoseReportGolden pins the JSON of a whole report (a closed port
// on a name from the test hosts file), with the timings zeroed, the port
// zeroed or replaced by PORT, and the temporary directory by TMP. The
// schema_version the CLI adds is checked by TestDiagnoseCommandFailure.
func TestDiagnoseReportGolden(t *testing.T) {
	rep, r, port := diagnoseClosedPort(t)
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	b = msField.ReplaceAll(b, []byte("$1: 0"))
	b = msText.ReplaceAll(b, []byte("N ms"))
	got := strings.NewReplacer(fmt.Sprintf(`"port": %d,`, port), `"port": 0,`,
		filepath.Dir(r.HostsPath), "TMP", strconv.Itoa(port), "PORT").Replace(string(b)) + "\n"
	golden.Check(t, filepath.Join("testdata", "diagnose_closed_port.json"), []byte(got), *update)
}

func TestDiagnoseBadOptions(t *testing.T) {
	for _, o := range []Options{{Port: 1}, {Host: "x"}, {Host: "x", Port: 1, PingCount: -1}} {
		if _, err := Diagnose(context.Background(), o); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
}
