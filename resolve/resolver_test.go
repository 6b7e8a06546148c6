package resolve

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/netkit/netkit/internal/dnstest"
)

// testHosts is the hosts file of these tests.
const testHosts = `# test hosts file
127.0.0.1	localhost
::1		localhost ip6-localhost
127.0.0.5   web.test   www.test    # two names
127.0.0.6   multi.test
::1         multi.test
127.0.0.7   multi.test
`

// setup writes the test hosts file, starts a DNS server with zone, and
// returns a resolver using both with nsswitch "files dns".
func setup(t *testing.T, zone []string, resolvExtra ...string) (*Resolver, *dnstest.Server) {
	t.Helper()
	dir := t.TempDir()
	hosts := filepath.Join(dir, "hosts")
	nss := filepath.Join(dir, "nsswitch.conf")
	if err := os.WriteFile(hosts, []byte(testHosts), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(nss, []byte("hosts: files dns\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	srv := dnstest.Start(t, zone...)
	r := &Resolver{
		HostsPath: hosts,
		Paths: ConfigPaths{
			ResolvConf: srv.ResolvConf(t, append([]string{"options timeout:1 attempts:1"}, resolvExtra...)...),
			NSSwitch:   nss,
			Hostname:   "box",
			Env:        func(string) string { return "" },
		},
	}
	return r, srv
}

var zone = []string{
	"db.test. 60 IN A 127.0.0.20",
	"db.test. 60 IN A 127.0.0.21",
	"db.test. 60 IN AAAA ::1",
	"alias.test. 60 IN CNAME mid.test.",
	"mid.test. 60 IN CNAME db.test.",
	"v4only.test. 60 IN A 127.0.0.30",
	"txtonly.test. 60 IN TXT \"no address here\"",
	"short.corp.test. 60 IN A 127.0.0.40",
	"dangling.test. 60 IN CNAME gone.test.",
	"txt.corp.test. 60 IN TXT \"no address here\"",
}

func addrsOf(res *Result) []string {
	var out []string
	for _, a := range res.Answers {
		s := a.Address.Addr().String()
		if len(out) == 0 || out[len(out)-1] != s {
			out = append(out, s)
		}
	}
	return out
}

func TestResolveHostsFile(t *testing.T) {
	r, srv := setup(t, zone)
	res, err := r.Resolve(context.Background(), Query{Name: "www.test"})
	if err != nil {
		t.Fatal(err)
	}
	if got := addrsOf(res); !slices.Equal(got, []string{"127.0.0.5"}) {
		t.Errorf("addresses %v", got)
	}
	if res.Canonical != "web.test" {
		t.Errorf("canonical %q, want the line's first name web.test", res.Canonical)
	}
	if len(res.Answers) != 3 {
		t.Fatalf("%d answers, want STREAM, DGRAM, RAW", len(res.Answers))
	}
	for i, want := range []SockType{Stream, Dgram, Raw} {
		a := res.Answers[i]
		if a.SockType != want || a.Origin.Source != "hosts" || a.Origin.Line != 4 {
			t.Errorf("answer %d: %+v", i, a)
		}
	}
	if q := srv.Queries(); len(q) != 0 {
		t.Errorf("DNS was asked %v although the hosts file answered", q)
	}
}

// TestResolveHostsCanonical checks that the canonical name is the first
// name of the first line in file order, whatever line getaddrinfo's sort
// puts first.
func TestResolveHostsCanonical(t *testing.T) {
	dir := t.TempDir()
	hosts, nss := filepath.Join(dir, "hosts"), filepath.Join(dir, "nsswitch.conf")
	if err := os.WriteFile(hosts, []byte("127.0.0.8 first.test both.test\n::1 second.test both.test\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(nss, []byte("hosts: files\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := &Resolver{HostsPath: hosts, Paths: ConfigPaths{ResolvConf: filepath.Join(dir, "none"), NSSwitch: nss, Env: func(string) string { return "" }}}
	res, err := r.Resolve(context.Background(), Query{Name: "both.test", SockType: Stream})
	if err != nil {
		t.Fatal(err)
	}
	if got := addrsOf(res); !slices.Equal(got, []string{"::1", "127.0.0.8"}) {
		t.Errorf("addresses %v, want ::1 first (RFC 6724 precedence)", got)
	}
	if res.Canonical != "first.test" {
		t.Errorf("canonical %q, want first.test, the first name of line 1", res.Canonical)
	}
}

func TestResolveDNS(t *testing.T) {
	r, _ := setup(t, zone)
	res, err := r.Resolve(context.Background(), Query{Name: "alias.test", Service: "https"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Canonical != "db.test" {
		t.Errorf("canonical %q, want db.test", res.Canonical)
	}
	got := addrsOf(res)
	if !slices.Equal(got, []string{"::1", "127.0.0.20", "127.0.0.21"}) {
		t.Errorf("addresses %v, want ::1 first (RFC 6724 precedence) then the A records", got)
	}
	for _, a := range res.Answers {
		if a.Address.Port() != 443 {
			t.Errorf("port %d, want 443", a.Address.Port())
		}
		if a.SockType == Raw {
			t.Errorf("a named service gives no RAW result: %+v", a)
		}
		o := a.Origin
		if o.Source != "dns" || !slices.Equal(o.CNAMEs, []string{"mid.test", "db.test"}) || o.QueryName != "alias.test." {
			t.Errorf("origin %+v", o)
		}
	}
	var hosts, dnsSteps int
	for _, s := range res.Steps {
		switch s.Source {
		case "hosts":
			hosts++
			if s.Status != StatusNotFound {
				t.Errorf("hosts step %+v", s)
			}
		case "dns":
			dnsSteps++
			if s.Status != StatusFound || s.DurationMS <= 0 {
				t.Errorf("dns step %+v", s)
			}
		}
	}
	if hosts != 1 || dnsSteps != 2 {
		t.Errorf("steps %+v: want one hosts and two DNS (A, AAAA)", res.Steps)
	}
}

func TestResolveFailures(t *testing.T) {
	r, srv := setup(t, zone)
	srv.Rcode("broken.test", dns.RcodeServerFailure)
	srv.Rcode("closed.test", dns.RcodeRefused)
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		fam  Family
		want error
		msg  string // the error's text before " (asked: "
	}{
		{"nosuch.test", AnyFamily, ErrNoSuchHost, "nosuch.test: no such host"},
		{"txtonly.test", AnyFamily, ErrNoData, "txtonly.test: the name exists but has no A or AAAA record"},
		{"v4only.test", IPv6, ErrNoData, "v4only.test: the name exists but has no AAAA record"},
		{"dangling.test", IPv4, ErrNoData, "dangling.test: the name is an alias (CNAME) of gone.test, which has no A record"},
		{"broken.test", AnyFamily, ErrServerFailure, "broken.test: DNS server failure (SERVFAIL)"},
		{"closed.test", AnyFamily, ErrRefused, "closed.test: DNS server refused the query (REFUSED)"},
	} {
		_, err := r.Resolve(ctx, Query{Name: tc.name, Family: tc.fam})
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: error %v, want %v", tc.name, err, tc.want)
			continue
		}
		if msg, _, _ := strings.Cut(err.Error(), " (asked: "); msg != tc.msg {
			t.Errorf("%s: error %q, want %q", tc.name, msg, tc.msg)
		}
		var le *LookupError
		if !errors.As(err, &le) || !strings.Contains(err.Error(), "asked: hosts file") || !strings.Contains(err.Error(), srv.Addr.Addr().String()) {
			t.Errorf("%s: error %q does not say what was asked", tc.name, err)
		}
	}
}

func TestResolveTimeout(t *testing.T) {
	r, srv := setup(t, zone)
	srv.Silence("slow.test")
	start := time.Now()
	_, err := r.Resolve(context.Background(), Query{Name: "slow.test"})
	var le *LookupError
	if !errors.As(err, &le) || !le.Timeout() {
		t.Fatalf("error %v, want a timeout", err)
	}
	if d := time.Since(start); d > 4*time.Second {
		t.Errorf("took %v with timeout:1 attempts:1", d)
	}
}

func TestResolveSearchList(t *testing.T) {
	r, srv := setup(t, zone, "search corp.test")
	res, err := r.Resolve(context.Background(), Query{Name: "short", Family: IPv4})
	if err != nil {
		t.Fatal(err)
	}
	if got := addrsOf(res); !slices.Equal(got, []string{"127.0.0.40"}) {
		t.Errorf("addresses %v", got)
	}
	if q := srv.Queries(); len(q) == 0 || q[0].Name != "short.corp.test." {
		t.Errorf("first question %v, want short.corp.test. (ndots:1, no dot: search list first)", q)
	}
	// The name that exists without addresses is named.
	_, err = r.Resolve(context.Background(), Query{Name: "txt", Family: IPv4})
	if msg, _, _ := strings.Cut(fmt.Sprint(err), " (asked: "); !errors.Is(err, ErrNoData) || msg != "txt: txt.corp.test exists but has no A record" {
		t.Errorf("txt: %v", err)
	}
}

func TestResolveTruncatedRetriesTCP(t *testing.T) {
	r, srv := setup(t, zone)
	srv.Truncate()
	res, err := r.Resolve(context.Background(), Query{Name: "v4only.test", Family: IPv4})
	if err != nil {
		t.Fatal(err)
	}
	if got := addrsOf(res); !slices.Equal(got, []string{"127.0.0.30"}) {
		t.Errorf("addresses %v", got)
	}
}

func TestResolveServerFlag(t *testing.T) {
	// Asked directly, the server need not be on port 53: this test runs
	// without root.
	srv := dnstest.StartAnyPort(t, zone...)
	dir := t.TempDir()
	hosts := filepath.Join(dir, "hosts")
	if err := os.WriteFile(hosts, []byte(testHosts), 0o644); err != nil {
		t.Fatal(err)
	}
	none := filepath.Join(dir, "none") // glibc's defaults; their 127.0.0.1:53 is not asked
	r := &Resolver{HostsPath: hosts, Servers: []netip.AddrPort{srv.Addr}, Timeout: time.Second,
		Paths: ConfigPaths{ResolvConf: none, NSSwitch: none, Hostname: "box", Env: func(string) string { return "" }}}
	// localhost is only in the hosts file: asking the server directly skips it.
	if _, err := r.Resolve(context.Background(), Query{Name: "localhost"}); !errors.Is(err, ErrNoSuchHost) {
		t.Errorf("localhost via --server: %v, want no such host", err)
	}
	res, err := r.Resolve(context.Background(), Query{Name: "db.test", Family: IPv4})
	if err != nil {
		t.Fatal(err)
	}
	if got := addrsOf(res); !slices.Equal(got, []string{"127.0.0.20", "127.0.0.21"}) {
		t.Errorf("addresses %v", got)
	}
}

func TestResolveLiterals(t *testing.T) {
	r, srv := setup(t, zone)
	for _, tc := range []struct{ in, want string }{
		{"127.0.0.1", "127.0.0.1"},
		{"127.1", "127.0.0.1"},
		{"0x7f.1", "127.0.0.1"},
		{"010.0.0.1", "8.0.0.1"},
		{"2130706433", "127.0.0.1"},
		{"::1", "::1"},
		{"fe80::1%lo", "fe80::1%lo"},
		{"ff02::1%lo", "ff02::1%lo"},
		{"::1%0", "::1%0"}, // any address takes a numeric zone, 0 too
		{"::1%4294967295", "::1%4294967295"},
		{"::ffff:127.0.0.1", "::ffff:127.0.0.1"},
	} {
		res, err := r.Resolve(context.Background(), Query{Name: tc.in})
		if err != nil {
			t.Errorf("%s: %v", tc.in, err)
			continue
		}
		if got := addrsOf(res); !slices.Equal(got, []string{tc.want}) {
			t.Errorf("%s: %v, want %s", tc.in, got, tc.want)
		}
	}
	if q := srv.Queries(); len(q) != 0 {
		t.Errorf("literals went to DNS: %v", q)
	}
	for _, bad := range []Query{
		{Name: "127.0.0.1", Family: IPv6},
		{Name: "fe80::1%nosuchif0"},
		{Name: "::1%lo"}, // an interface name is a zone only for link-local addresses
		{Name: "fec0::1%lo"},
		{Name: "::1%4294967296"},
		{Name: "fe80::1%1x"},
		{Name: "localhost", Service: "70000"},
		{Name: "localhost", Service: "nosuchservice"},
		{Name: ""},
		{Name: strings.Repeat("a", 64) + ".test"},
		{Name: strings.Repeat("abcdefgh.", 30) + "test"},
		{Name: "a..b"},
	} {
		_, err := r.Resolve(context.Background(), bad)
		var ie *InputError
		if !errors.As(err, &ie) {
			t.Errorf("%+v: error %v, want an input error", bad, err)
		}
	}
	// "0x" with no digits is no number for inet_aton: these are names.
	for _, name := range []string{"0x", "0x.1", "1.0x", "0X"} {
		if res, err := r.Resolve(context.Background(), Query{Name: name}); !errors.Is(err, ErrNoSuchHost) {
			t.Errorf("%s: %v, error %v; want no such host from DNS", name, res, err)
		}
	}
}

// TestResolveUnreadableHostsFile checks that a hosts file that exists but
// cannot be read ends the lookup with an error naming it, while a missing
// one is skipped as glibc skips it.
func TestResolveUnreadableHostsFile(t *testing.T) {
	r, _ := setup(t, zone)
	r.HostsPath = t.TempDir()
	_, err := r.Resolve(context.Background(), Query{Name: "db.test"})
	var fe *FileError
	if !errors.As(err, &fe) || err.Error() != "cannot read hosts file "+r.HostsPath+": is a directory" {
		t.Errorf("hosts file a directory: error %v, want a FileError", err)
	}
	r.HostsPath = filepath.Join(r.HostsPath, "missing")
	if res, err := r.Resolve(context.Background(), Query{Name: "db.test", Family: IPv4}); err != nil || len(res.Answers) == 0 {
		t.Errorf("missing hosts file: %v, want the DNS answer", err)
	}
}

// TestResolveServices checks services and socket types as glibc's
// getaddrinfo treats them: service names are case-sensitive, RAW takes no
// service but any protocol, and a protocol or type asked gives one result.
func TestResolveServices(t *testing.T) {
	r, _ := setup(t, zone)
	for _, tc := range []struct {
		q    Query
		want string // "TYPE/proto:port ..." or "error: ..."
	}{
		{Query{Service: "https"}, "STREAM/tcp:443 DGRAM/udp:443"},
		{Query{Service: "HTTPS"}, `error: invalid service "HTTPS": service names are case-sensitive; /etc/services has https`},
		{Query{Service: "443"}, "STREAM/tcp:443 DGRAM/udp:443 RAW/ip:443"},
		{Query{Service: "443", SockType: Raw}, `error: invalid service "443": RAW sockets have no ports; getaddrinfo refuses a service with SOCK_RAW`},
		{Query{SockType: Raw, Protocol: TCP}, "RAW/tcp:0"},
		{Query{Protocol: TCP}, "STREAM/tcp:0"},
		{Query{Service: "domain", Protocol: UDP}, "DGRAM/udp:53"},
		{Query{SockType: Stream, Protocol: UDP}, `error: invalid socket type "STREAM": does not go with protocol udp`},
	} {
		tc.q.Name = "web.test"
		res, err := r.Resolve(context.Background(), tc.q)
		var got []string
		if err != nil {
			got = append(got, "error: "+err.Error())
		} else {
			for _, a := range res.Answers {
				got = append(got, fmt.Sprintf("%s/%s:%d", a.SockType, a.Protocol, a.Address.Port()))
			}
		}
		if g := strings.Join(got, " "); g != tc.want {
			t.Errorf("%+v:\n got %s\nwant %s", tc.q, g, tc.want)
		}
	}
}

// TestResolveRotate checks "options rotate": each lookup starts at the next
// server (both get questions), where without it the first answers all.
func TestResolveRotate(t *testing.T) {
	for _, rotate := range []bool{false, true} {
		r, first := setup(t, zone)
		second := dnstest.Start(t, zone...)
		conf := fmt.Sprintf("nameserver %s\nnameserver %s\noptions timeout:1 attempts:1\n", first.Addr.Addr(), second.Addr.Addr())
		if rotate {
			conf += "options rotate\n"
		}
		if err := os.WriteFile(r.Paths.ResolvConf, []byte(conf), 0o644); err != nil {
			t.Fatal(err)
		}
		for range 4 {
			if _, err := r.Resolve(context.Background(), Query{Name: "db.test"}); err != nil {
				t.Fatal(err)
			}
		}
		n1, n2 := len(first.Queries()), len(second.Queries())
		if rotate && (n1 != 4 || n2 != 4) || !rotate && (n1 != 8 || n2 != 0) {
			t.Errorf("rotate %v: %d and %d questions to the two servers (A and AAAA of 4 lookups)", rotate, n1, n2)
		}
	}
}

// TestResolveNoAAAA checks "options no-aaaa": no AAAA question, and an
// IPv6 lookup finds nothing in DNS (the hosts file still counts).
func TestResolveNoAAAA(t *testing.T) {
	r, srv := setup(t, zone, "options no-aaaa")
	res, err := r.Resolve(context.Background(), Query{Name: "db.test"})
	if err != nil {
		t.Fatal(err)
	}
	if got := addrsOf(res); !slices.Equal(got, []string{"127.0.0.20", "127.0.0.21"}) || len(res.Notes) == 0 {
		t.Errorf("addresses %v, notes %q", got, res.Notes)
	}
	if _, err := r.Resolve(context.Background(), Query{Name: "db.test", Family: IPv6}); !errors.Is(err, ErrNoData) {
		t.Errorf("IPv6 lookup: %v, want no data", err)
	}
	for _, q := range srv.Queries() {
		if q.Qtype == dns.TypeAAAA {
			t.Errorf("asked %v", q)
		}
	}
	if res, err := r.Resolve(context.Background(), Query{Name: "multi.test", Family: IPv6}); err != nil || !slices.Equal(addrsOf(res), []string{"::1"}) {
		t.Errorf("hosts file IPv6 line: %v", err)
	}
}

func TestResolveCancelled(t *testing.T) {
	// A server that never answers, a long timeout, and a cancel (Ctrl-C)
	// shortly after the query goes out: Resolve returns at once.
	r, srv := setup(t, zone)
	srv.Silence("slow.test")
	r.Timeout = time.Minute
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel)
	start := time.Now()
	_, err := r.Resolve(ctx, Query{Name: "slow.test"})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error %v, want context.Canceled", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v after a cancel at 200ms", d)
	}
}

// TestResolveHostileServer: answers that cannot be used are reported for
// what they are, each with its own error, never as a missing address or an
// unreachable server.
func TestResolveHostileServer(t *testing.T) {
	r, srv := setup(t, []string{
		"loop.test. 60 IN CNAME loop2.test.",
		"loop2.test. 60 IN CNAME loop.test.",
	})
	reply := func(edit func(req, m *dns.Msg)) func(*dns.Msg) []byte {
		return func(req *dns.Msg) []byte {
			m := new(dns.Msg)
			m.SetReply(req)
			edit(req, m)
			b, err := m.Pack()
			if err != nil {
				t.Error(err)
			}
			return b
		}
	}
	srv.Reply("chain20.test", reply(func(req, m *dns.Msg) {
		owner := "chain20.test."
		for i := 1; i <= 20; i++ {
			target := fmt.Sprintf("c%d.test.", i)
			m.Answer = append(m.Answer, &dns.CNAME{Hdr: dns.RR_Header{Name: owner, Rrtype: dns.TypeCNAME, Class: dns.ClassINET, Ttl: 60}, Target: target})
			owner = target
		}
		if req.Question[0].Qtype == dns.TypeA {
			m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: owner, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60}, A: []byte{127, 0, 0, 9}})
		}
	}))
	srv.Reply("other.test", reply(func(req, m *dns.Msg) {
		m.Question[0].Name = "elsewhere.test."
		m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: "elsewhere.test.", Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60}, A: []byte{127, 0, 0, 9}})
	}))
	srv.Reply("noqr.test", reply(func(req, m *dns.Msg) {
		m.Response = false
		m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: "noqr.test.", Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60}, A: []byte{127, 0, 0, 9}})
	}))
	srv.Reply("garbage.test", func(req *dns.Msg) []byte {
		// The query's ID, so that the client reads it, then junk.
		return []byte{byte(req.Id >> 8), byte(req.Id), 0x81, 0x80, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0xde, 0xad}
	})
	server := srv.Addr.String()
	for _, tc := range []struct {
		name string
		want error
		msg  string // the error's text before " (asked: "
	}{
		{"chain20.test", ErrCNAMEChainTooLong, "chain20.test: CNAME chain too long from DNS server " + server + ": chain20.test → … → c16.test goes on to c17.test; netkit follows at most 16 aliases"},
		{"loop.test", ErrCNAMELoop, "loop.test: CNAME loop from DNS server " + server + ": loop.test → loop2.test → loop.test"},
		{"other.test", ErrWrongQuestion, "other.test: DNS reply to another question from DNS server " + server + ": it answered elsewhere.test A"},
		{"noqr.test", ErrNotAReply, "noqr.test: DNS message without the QR (response) flag from DNS server " + server + ": it sent a query (QR=0), not an answer"},
		{"garbage.test", ErrMalformedReply, "garbage.test: malformed DNS reply from DNS server " + server + ": bad question name"},
	} {
		_, err := r.Resolve(context.Background(), Query{Name: tc.name, Family: IPv4})
		var re *ReplyError
		if !errors.Is(err, tc.want) || !errors.As(err, &re) || re.Server != server {
			t.Errorf("%s: error %v, want a *ReplyError wrapping %v", tc.name, err, tc.want)
			continue
		}
		if msg, _, _ := strings.Cut(err.Error(), " (asked: "); !strings.HasPrefix(msg, tc.msg) {
			t.Errorf("%s: error %q, want %q", tc.name, msg, tc.msg)
		}
		var le *LookupError
		if errors.As(err, &le) && le.Timeout() || errors.Is(err, ErrNoData) || errors.Is(err, ErrNoSuchHost) {
			t.Errorf("%s: error %v also reads as a timeout, a missing address or a missing name", tc.name, err)
		}
	}
}
