package explain

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/netkit/netkit/diag/ping"
	"github.com/netkit/netkit/echo"
	"github.com/netkit/netkit/internal/dnstest"
	"github.com/netkit/netkit/internal/testcert"
	"github.com/netkit/netkit/internal/testnet"
	"github.com/netkit/netkit/resolve"
)

func TestExplainConnectionRefused(t *testing.T) {
	addr := testnet.ClosedPort(t, "tcp", "127.0.0.1").String()
	_, err := net.Dial("tcp", addr)
	ex, ok := Error(fmt.Errorf("connect: %w", err))
	if !ok || ex.Code != "ECONNREFUSED" {
		t.Fatalf("%v → %+v %v", err, ex, ok)
	}
	_, port, _ := net.SplitHostPort(addr)
	if !strings.Contains(ex.Cause, addr) || !strings.Contains(ex.Next, "--port "+port) {
		t.Errorf("explanation does not name the address: %+v", ex)
	}
}

func TestExplainAddressInUse(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, err = net.Listen("tcp", l.Addr().String())
	ex, ok := Error(err)
	_, port, _ := net.SplitHostPort(l.Addr().String())
	if !ok || ex.Code != "EADDRINUSE" || !strings.Contains(ex.Next, "netkit sockets who "+port) {
		t.Errorf("%v → %+v", err, ex)
	}
	// A process whose connection has the port at its remote end does not
	// hold it: only the listener's process is named.
	if py, err := exec.LookPath("python3"); err == nil && !testing.Short() {
		peer := exec.Command(py, "-c", "import socket,sys,time; s=socket.create_connection(('127.0.0.1', int(sys.argv[1]))); print('up', flush=True); time.sleep(30)", port)
		out, _ := peer.StdoutPipe()
		if err := peer.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { peer.Process.Kill(); peer.Wait() })
		io.ReadFull(out, make([]byte, 2))
	}
	// On this machine the holder is known: this test process, alone.
	ex, ok = ErrorHere(context.Background(), err)
	if want := fmt.Sprintf(": held by %d/explain.test (", os.Getpid()); !ok || !strings.Contains(ex.Cause, want) || strings.Contains(ex.Cause, "python") {
		t.Errorf("ErrorHere: %+v, want %q alone", ex, want)
	}
}

func TestExplainTimeout(t *testing.T) {
	// A peer that never sends: the read deadline ends the wait.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	c, err := (&net.Dialer{}).DialContext(ctx, "tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	_, err = c.Read(make([]byte, 1))
	if ex, ok := Error(err); !ok || ex.Code != "TIMEOUT" {
		t.Errorf("%v → %+v", err, ex)
	}
}

// listenTLS listens on 127.0.0.1 with cfg and runs the server's side of the
// handshake, then closes, on each connection until the test ends.
func listenTLS(t *testing.T, cfg *tls.Config) net.Listener {
	t.Helper()
	l := tls.NewListener(testnet.Listen(t, "127.0.0.1:0"), cfg)
	testnet.ServeConns(t, l, func(c net.Conn) { c.(*tls.Conn).Handshake() })
	return l
}

func TestExplainTLSFailures(t *testing.T) {
	ca := testcert.NewCA(t)
	now := time.Now()
	for _, tc := range []struct {
		name     string
		leaf     testcert.Leaf
		pool     bool
		code     string
		mentions string
	}{
		{"unknown authority", testcert.Leaf{}, false, "X509-UNKNOWN-AUTHORITY", "netkit test CA"},
		{"wrong name", testcert.Leaf{Names: []string{"other.test", "127.0.0.9"}}, true, "X509-HOSTNAME", "other.test, 127.0.0.9"},
		{"expired", testcert.Leaf{NotBefore: now.Add(-48 * time.Hour), NotAfter: now.Add(-24 * time.Hour)}, true, "X509-EXPIRED", now.Add(-24 * time.Hour).UTC().Format("2006-01-02")},
		{"not yet valid", testcert.Leaf{NotBefore: now.Add(24 * time.Hour), NotAfter: now.Add(48 * time.Hour)}, true, "X509-NOT-YET-VALID", now.Add(24 * time.Hour).UTC().Format("2006-01-02")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := listenTLS(t, &tls.Config{Certificates: []tls.Certificate{ca.Issue(t, tc.leaf)}})
			cfg := &tls.Config{ServerName: "localhost"}
			if tc.pool {
				cfg.RootCAs = ca.Pool()
			}
			_, err := tls.Dial("tcp", l.Addr().String(), cfg)
			ex, ok := Error(fmt.Errorf("handshake: %w", err))
			if !ok || ex.Code != tc.code || !strings.Contains(ex.Cause, tc.mentions) {
				t.Errorf("%v → %+v", err, ex)
			}
		})
	}
}

func TestExplainRemoteAlert(t *testing.T) {
	// A server that requires a client certificate the client does not have
	// answers with an alert.
	ca := testcert.NewCA(t)
	l := listenTLS(t, &tls.Config{
		Certificates: []tls.Certificate{ca.Issue(t, testcert.Leaf{})},
		ClientAuth:   tls.RequireAndVerifyClientCert, ClientCAs: ca.Pool(),
	})
	c, err := tls.Dial("tcp", l.Addr().String(), &tls.Config{ServerName: "localhost", RootCAs: ca.Pool()})
	if err == nil {
		// TLS 1.3: the alert comes with the first read.
		_, err = c.Read(make([]byte, 1))
		c.Close()
	}
	if ex, ok := Error(err); !ok || ex.Code != "TLS-ALERT" || !strings.Contains(ex.Cause, "certificate required") {
		t.Errorf("%v → %+v", err, ex)
	}
}

func TestExplainPlaintextPeer(t *testing.T) {
	l := testnet.Listen(t, "127.0.0.1:0")
	testnet.ServeConns(t, l, func(c net.Conn) { c.Write([]byte("HTTP/1.0 400 Bad Request\r\n\r\n")) })
	_, err := tls.Dial("tcp", l.Addr().String(), &tls.Config{ServerName: "localhost"})
	if ex, ok := Error(err); !ok || ex.Code != "TLS-NOT-TLS" {
		t.Errorf("%v → %+v", err, ex)
	}
}

// TestExplainTLSHandshake dials TLS, as 'netkit echo send' does, to
// plaintext servers that accepted TCP: one waits for the client to speak,
// one hangs up.
func TestExplainTLSHandshake(t *testing.T) {
	for _, tc := range []struct {
		name   string
		handle func(net.Conn)
		code   string
	}{
		{"silent", func(c net.Conn) { io.Copy(io.Discard, c) }, "TLS-NO-ANSWER"},
		{"hangs up", func(net.Conn) {}, "TLS-EOF"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := testnet.Listen(t, "127.0.0.1:0")
			testnet.ServeConns(t, l, tc.handle)
			_, err := echo.Dial(context.Background(), l.Addr().String(), echo.ClientOptions{Timeout: 200 * time.Millisecond})
			ex, ok := Error(fmt.Errorf("echo send: %w", err))
			if !ok || ex.Code != tc.code || !strings.Contains(ex.Cause, l.Addr().String()) {
				t.Errorf("%v → %+v", err, ex)
			}
		})
	}
}

func TestExplainDNS(t *testing.T) {
	srv := dnstest.Start(t, "exists.test. 60 IN TXT \"x\"")
	r := &resolve.Resolver{Servers: []netip.AddrPort{srv.Addr}}
	_, err := r.LookupIP(context.Background(), "nosuch.test", resolve.AnyFamily)
	if ex, ok := Error(err); !ok || ex.Code != "NXDOMAIN" || !strings.Contains(ex.Cause, "nosuch.test") {
		t.Errorf("%v → %+v", err, ex)
	}
	_, err = r.LookupIP(context.Background(), "exists.test", resolve.AnyFamily)
	if ex, ok := Error(err); !ok || ex.Code != "NODATA" {
		t.Errorf("%v → %+v", err, ex)
	}
	srv.Rcode("broken.test", dns.RcodeServerFailure)
	_, err = r.LookupIP(context.Background(), "broken.test", resolve.AnyFamily)
	if ex, ok := Error(err); !ok || ex.Code != "SERVFAIL" {
		t.Errorf("%v → %+v", err, ex)
	}
	// Go's own resolver errors are classified too, and only labelled
	// SERVFAIL when they say so, which they do not.
	if ex, ok := Error(&net.DNSError{Name: "x.test", Err: "no such host", IsNotFound: true}); !ok || ex.Code != "NXDOMAIN" {
		t.Errorf("net.DNSError → %+v", ex)
	}
	ex, ok := Error(&net.DNSError{Name: "x.test", Server: "127.0.0.53:53", Err: "server misbehaving", IsTemporary: true})
	if !ok || ex.Code != "DNS-ERROR" || !strings.Contains(ex.Cause, "x.test") || !strings.Contains(ex.Cause, "server misbehaving") {
		t.Errorf("net.DNSError → %+v", ex)
	}
}

// TestExplainDNSServerProblems asks a DNS server that is not there and one
// that does not answer: the explanation names the server and the name
// apart, and says what to check.
func TestExplainDNSServerProblems(t *testing.T) {
	gone := testnet.ClosedPort(t, "udp", "127.0.0.1")
	srv := dnstest.Start(t)
	srv.Silence("quiet.test")
	for _, tc := range []struct {
		server netip.AddrPort
		name   string
		code   string
	}{
		{gone, "db.test", "DNS-UNREACHABLE"},
		{srv.Addr, "quiet.test", "DNS-TIMEOUT"},
	} {
		r := &resolve.Resolver{Servers: []netip.AddrPort{tc.server}, Timeout: 200 * time.Millisecond}
		_, err := r.LookupIP(context.Background(), tc.name, resolve.AnyFamily)
		ex, ok := Error(err)
		if !ok || ex.Code != tc.code || !strings.Contains(ex.Cause, "DNS server "+tc.server.String()) ||
			!strings.Contains(ex.Cause, "about "+tc.name) && !strings.Contains(ex.Cause, "for "+tc.name) ||
			!strings.Contains(ex.Next, "a DNS server runs at "+tc.server.String()) || !strings.Contains(ex.Next, "leave out --server") {
			t.Errorf("%v → %+v", err, ex)
		}
	}
}

func TestExplainUnknown(t *testing.T) {
	if _, ok := Error(errors.New("something else")); ok {
		t.Error("an unknown error was explained")
	}
	if _, ok := Error(nil); ok {
		t.Error("nil was explained")
	}
}

func TestExplainUnreadableFile(t *testing.T) {
	// A file netkit cannot read (a certificate, a hosts file) is not a
	// socket's EACCES: "ports below 1024 need root" would mislead.
	dir := t.TempDir()
	_, err := os.ReadFile(dir) // a directory: "read DIR: is a directory"
	if err == nil {
		t.Fatal("reading a directory succeeded")
	}
	for _, err := range []error{
		fmt.Errorf("load --cert: %w", &fs.PathError{Op: "open", Path: "/etc/key.pem", Err: syscall.EACCES}),
		fmt.Errorf("hosts file: %w", err),
	} {
		if ex, ok := Error(err); ok {
			t.Errorf("%v explained as %+v", err, ex)
		}
	}
}

func TestLookup(t *testing.T) {
	for _, name := range Codes() {
		ex, ok := Lookup(strings.ToLower(name))
		if !ok || ex.Code != name || ex.Cause == "" || ex.Next == "" {
			t.Errorf("%s: %+v", name, ex)
		}
		if strings.Contains(ex.Cause+ex.Next, "{") {
			t.Errorf("%s: unfilled placeholder: %+v", name, ex)
		}
		if strings.Contains(ex.Cause+ex.Next, "address that address") {
			t.Errorf("%s: placeholder filled into a sentence that already says it: %+v", name, ex)
		}
	}
	if ex, ok := Lookup("111"); !ok || ex.Code != "ECONNREFUSED" {
		t.Errorf("111 → %+v", ex)
	}
	if ex, ok := Lookup("EAGAIN"); !ok || ex.Code != "EWOULDBLOCK" {
		t.Errorf("EAGAIN → %+v", ex)
	}
	if _, ok := Lookup("99999"); ok {
		t.Error("99999 explained")
	}
}

// TestICMPPermissionErrorExplained checks that the error of a process that
// may open no ICMP socket is explained with the fixes, not as a bare EPERM.
func TestICMPPermissionErrorExplained(t *testing.T) {
	err := &ping.PermissionError{Raw: syscall.EPERM, Datagram: syscall.EACCES, GID: 65534, GroupRange: "1 0"}
	msg := err.Error()
	for _, want := range []string{"raw socket: operation not permitted", "datagram socket: permission denied", `group 65534 is not in net.ipv4.ping_group_range "1 0"`} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q lacks %q", msg, want)
		}
	}
	ex, ok := Error(errors.Join(errors.New("ping"), err))
	if !ok || ex.Code != "ICMP-NOT-PERMITTED" {
		t.Fatalf("Error: %+v, %v", ex, ok)
	}
	for _, want := range []string{"net.ipv4.ping_group_range", "setcap cap_net_raw+ep", "root"} {
		if !strings.Contains(ex.Next, want) {
			t.Errorf("next step %q lacks %q", ex.Next, want)
		}
	}
}

// TestFamilyErrorExplained checks that ping's error for a name with no
// address of the family asked for is explained as NODATA naming the host,
// and that a literal of the other family gets no explanation.
func TestFamilyErrorExplained(t *testing.T) {
	r := testnet.HostsResolver(t, "127.0.0.1 localhost\n")
	for _, tc := range []struct {
		host   string
		family resolve.Family
		code   string // "" for none
	}{
		{"127.0.0.1", resolve.IPv6, ""},
		{"localhost", resolve.IPv6, "NODATA"},
	} {
		stats, err := ping.Run(context.Background(), ping.Options{Targets: []ping.Target{{Host: tc.host}}, Resolver: r, Family: tc.family, Count: 1})
		if err != nil {
			t.Fatal(err)
		}
		ex, ok := Error(stats[0].Err)
		if ok != (tc.code != "") || ex.Code != tc.code {
			t.Errorf("%s: Error %+v, %v; want code %q", tc.host, ex, ok, tc.code)
		}
		if ok && !strings.Contains(ex.Cause, "the name "+tc.host+" exists") {
			t.Errorf("%s: cause %q does not name the host", tc.host, ex.Cause)
		}
	}
}

// TestExplainNoSuchHostFromHostsFileOnly checks that a name missing from
// the hosts file, where nsswitch.conf names no DNS, is not blamed on a DNS
// server that was never asked.
func TestExplainNoSuchHostFromHostsFileOnly(t *testing.T) {
	r := testnet.HostsResolver(t, "127.0.0.1 localhost\n")
	_, err := r.LookupIP(context.Background(), "nosuch.test", resolve.AnyFamily)
	ex, ok := Error(err)
	if !ok || ex.Code != "NXDOMAIN" || strings.Contains(ex.Cause, "DNS server answered") || !strings.Contains(ex.Cause, "no DNS server was asked") {
		t.Errorf("%v → %+v", err, ex)
	}
}

// TestExplainHostileDNS checks that the answers a hostile or broken DNS
// server gives get their own explanation, naming the server and the host.
func TestExplainHostileDNS(t *testing.T) {
	srv := dnstest.StartAnyPort(t,
		"loop1.test. 60 IN CNAME loop2.test.",
		"loop2.test. 60 IN CNAME loop1.test.",
	)
	r := &resolve.Resolver{Servers: []netip.AddrPort{srv.Addr}, Timeout: time.Second}
	_, err := r.LookupIP(context.Background(), "loop1.test", resolve.IPv4)
	ex, ok := Error(err)
	if !ok || ex.Code != "CNAME-LOOP" || !strings.Contains(ex.Cause, "loop1.test") {
		t.Errorf("%v → %+v", err, ex)
	}
	ex, ok = Error(&resolve.LookupError{Name: "x.test", Err: &resolve.ReplyError{Server: "127.0.0.1:53", Err: resolve.ErrNotAReply}})
	if !ok || ex.Code != "DNS-BAD-REPLY" || !strings.Contains(ex.Cause, "127.0.0.1:53") || strings.Contains(ex.Cause+ex.Next, "{") {
		t.Errorf("not a reply → %+v", ex)
	}
}

func TestExplainEchoBusy(t *testing.T) {
	if ex, ok := Error(fmt.Errorf("echo: %w", &echo.ServerError{Code: "busy", Message: "Error: busy"})); !ok || ex.Code != "ECHO-BUSY" {
		t.Errorf("busy → %+v, %v", ex, ok)
	}
}
