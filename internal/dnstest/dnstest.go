// Package dnstest runs an in-process DNS server on loopback for tests, so
// that no test ever asks the machine's configured DNS server.
package dnstest

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/miekg/dns"
)

// Server is a DNS server on loopback (UDP and TCP on one port) answering
// from a zone of records given in zone-file syntax.
type Server struct {
	// Addr is the address the server listens on.
	Addr netip.AddrPort

	mu       sync.Mutex
	records  map[string][]dns.RR // lower-cased FQDN -> records
	rcodes   map[string]int      // FQDN -> forced response code
	silent   map[string]bool     // FQDN -> never answer
	replies  map[string]func(*dns.Msg) []byte
	truncate bool
	queries  []dns.Question
}

// Start serves records such as "a.test. 60 IN A 127.0.0.5" until the test
// ends. Names with no record answer NXDOMAIN; names with records of other
// types answer NODATA; CNAMEs are followed within the zone.
//
// The server listens on port 53 of a random address in 127.0.0.0/8, because
// resolv.conf cannot name a port: that way a resolv.conf naming it works for
// netkit and for glibc (getent) alike. Binding port 53 needs root (or
// CAP_NET_BIND_SERVICE); without it the test is skipped. A test that names
// the server with its port instead (Resolver.Servers, --server) can use
// StartAnyPort, which needs no privilege.
func Start(t testing.TB, records ...string) *Server {
	t.Helper()
	return start(t, listen53, records)
}

// StartAnyPort is Start on a random port of 127.0.0.1: it needs no
// privilege, and a resolv.conf cannot name it.
func StartAnyPort(t testing.TB, records ...string) *Server {
	t.Helper()
	return start(t, listenAnyPort, records)
}

func start(t testing.TB, listen func(testing.TB) (net.PacketConn, net.Listener), records []string) *Server {
	t.Helper()
	s := &Server{records: map[string][]dns.RR{}, rcodes: map[string]int{}, silent: map[string]bool{}, replies: map[string]func(*dns.Msg) []byte{}}
	for _, r := range records {
		rr, err := dns.NewRR(r)
		if err != nil {
			t.Fatalf("dnstest: record %q: %v", r, err)
		}
		name := strings.ToLower(rr.Header().Name)
		s.records[name] = append(s.records[name], rr)
	}
	udp, tcp := listen(t)
	s.Addr = udp.LocalAddr().(*net.UDPAddr).AddrPort()
	servers := []*dns.Server{
		{PacketConn: udp, Handler: dns.HandlerFunc(s.serve)},
		{Listener: tcp, Handler: dns.HandlerFunc(s.serve)},
	}
	var wg sync.WaitGroup
	for _, srv := range servers {
		started := make(chan struct{})
		srv.NotifyStartedFunc = func() { close(started) }
		wg.Add(1)
		go func() {
			defer wg.Done()
			srv.ActivateAndServe()
		}()
		<-started
	}
	t.Cleanup(func() {
		for _, srv := range servers {
			srv.Shutdown()
		}
		wg.Wait()
	})
	return s
}

// Rcode makes the server answer name with the response code rcode, such
// as dns.RcodeServerFailure or dns.RcodeRefused.
func (s *Server) Rcode(name string, rcode int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rcodes[strings.ToLower(dns.Fqdn(name))] = rcode
}

// Silence makes the server never answer questions for name, as a server
// behind a firewall.
func (s *Server) Silence(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.silent[strings.ToLower(dns.Fqdn(name))] = true
}

// Reply makes the server answer questions for name with the bytes reply
// returns for the request, whatever they are: a hostile or broken server's
// answer (garbage, a query, the answer to another question).
func (s *Server) Reply(name string, reply func(req *dns.Msg) []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.replies[strings.ToLower(dns.Fqdn(name))] = reply
}

// Truncate makes UDP answers come back truncated, so clients must retry
// over TCP.
func (s *Server) Truncate() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.truncate = true
}

// Queries returns the questions received so far.
func (s *Server) Queries() []dns.Question {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]dns.Question(nil), s.queries...)
}

// ResolvConf writes a resolv.conf naming this server, with extra lines
// (such as "search test" or "options ndots:2 timeout:1"), into a temporary
// directory and returns its path. The server must listen on port 53
// (Start).
func (s *Server) ResolvConf(t testing.TB, extra ...string) string {
	t.Helper()
	if s.Addr.Port() != 53 {
		t.Fatalf("dnstest: a resolv.conf cannot name port %d (use Start)", s.Addr.Port())
	}
	path := filepath.Join(t.TempDir(), "resolv.conf")
	body := fmt.Sprintf("nameserver %s\n%s\n", s.Addr.Addr(), strings.Join(extra, "\n"))
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func (s *Server) serve(w dns.ResponseWriter, req *dns.Msg) {
	m := new(dns.Msg)
	m.SetReply(req)
	m.Authoritative = true
	if len(req.Question) != 1 {
		m.Rcode = dns.RcodeFormatError
		w.WriteMsg(m)
		return
	}
	q := req.Question[0]
	name := strings.ToLower(q.Name)
	s.mu.Lock()
	s.queries = append(s.queries, q)
	rcode, forced := s.rcodes[name]
	silent := s.silent[name]
	reply := s.replies[name]
	truncate := s.truncate && w.LocalAddr().Network() == "udp"
	s.mu.Unlock()
	switch {
	case silent:
		return
	case reply != nil:
		w.Write(reply(req))
		return
	case forced:
		m.Rcode = rcode
	case truncate:
		m.Truncated = true
	default:
		s.answer(m, name, q.Qtype)
	}
	w.WriteMsg(m)
}

// answer fills m for name and qtype, following CNAMEs within the zone.
func (s *Server) answer(m *dns.Msg, name string, qtype uint16) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.records[name]; !ok {
		m.Rcode = dns.RcodeNameError
		return
	}
	for hop := 0; hop < 16; hop++ {
		var cname string
		for _, rr := range s.records[name] {
			switch {
			case rr.Header().Rrtype == qtype:
				m.Answer = append(m.Answer, rr)
			case rr.Header().Rrtype == dns.TypeCNAME:
				m.Answer = append(m.Answer, rr)
				cname = strings.ToLower(rr.(*dns.CNAME).Target)
			}
		}
		if cname == "" {
			return
		}
		name = cname
	}
}

// listenAnyPort binds UDP and TCP on one random port of 127.0.0.1.
func listenAnyPort(t testing.TB) (net.PacketConn, net.Listener) {
	t.Helper()
	var lastErr error
	for try := 0; try < 20; try++ {
		udp, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("dnstest: %v", err)
		}
		tcp, err := net.Listen("tcp", udp.LocalAddr().String())
		if err == nil {
			return udp, tcp
		}
		udp.Close()
		lastErr = err // the TCP port is taken: try another
	}
	t.Fatalf("dnstest: %v", lastErr)
	return nil, nil
}

// listen53 binds UDP and TCP port 53 on a random loopback address.
func listen53(t testing.TB) (net.PacketConn, net.Listener) {
	t.Helper()
	var lastErr error
	for try := 0; try < 20; try++ {
		addr := fmt.Sprintf("127.%d.%d.%d:53", 1+rand.IntN(254), rand.IntN(256), 1+rand.IntN(254))
		udp, err := net.ListenPacket("udp", addr)
		if err != nil {
			lastErr = err
			if errors.Is(err, syscall.EACCES) {
				break
			}
			continue
		}
		tcp, err := net.Listen("tcp", addr)
		if err != nil {
			udp.Close()
			lastErr = err
			continue
		}
		return udp, tcp
	}
	if errors.Is(lastErr, syscall.EACCES) {
		t.Skipf("dnstest: binding port 53 needs root: %v", lastErr)
	}
	t.Fatalf("dnstest: %v", lastErr)
	return nil, nil
}

// Isolate points netkit's default resolver (resolve.Default) away from the
// machine's DNS servers for a whole test binary: it writes a resolv.conf
// naming 127.255.255.254, where nothing answers, and sets
// NETKIT_RESOLV_CONF to it, for this process and the commands it starts.
// A test that needs DNS starts a Server and sets the variable itself
// (t.Setenv); one that forgets gets "no answer" rather than asking the
// machine's server. Call it from TestMain; run the returned cleanup after
// m.Run.
func Isolate() (cleanup func(), err error) {
	dir, err := os.MkdirTemp("", "netkit-dnstest-")
	if err != nil {
		return nil, err
	}
	conf := filepath.Join(dir, "resolv.conf")
	if err := os.WriteFile(conf, []byte("nameserver 127.255.255.254\noptions timeout:1 attempts:1\n"), 0o644); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	os.Setenv("NETKIT_RESOLV_CONF", conf)
	return func() { os.RemoveAll(dir) }, nil
}

// Main is a TestMain for packages that need nothing else: it runs the
// tests with Isolate in effect and exits with their code.
func Main(m *testing.M) {
	cleanup, err := Isolate()
	if err != nil {
		fmt.Fprintln(os.Stderr, "dnstest:", err)
		os.Exit(2)
	}
	code := m.Run()
	cleanup()
	os.Exit(code)
}
