package cli

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/netkit/netkit/internal/dnstest"
	"github.com/netkit/netkit/internal/golden"
)

// resolveEnv points netkit at a test hosts file and an in-process DNS
// server, so no test asks the machine's configured DNS server.
func resolveEnv(t *testing.T) *dnstest.Server {
	t.Helper()
	srv := dnstest.Start(t,
		"db.test. 60 IN A 127.0.0.20",
		"db.test. 60 IN AAAA ::1",
		"www.test. 60 IN CNAME db.test.",
	)
	dir := t.TempDir()
	hosts := filepath.Join(dir, "hosts")
	nss := filepath.Join(dir, "nsswitch.conf")
	os.WriteFile(hosts, []byte("127.0.0.1 localhost\n127.0.0.5 web.test\n"), 0o644)
	os.WriteFile(nss, []byte("hosts: files dns\n"), 0o644)
	t.Setenv("NETKIT_HOSTS_FILE", hosts)
	t.Setenv("NETKIT_NSSWITCH_CONF", nss)
	t.Setenv("NETKIT_RESOLV_CONF", srv.ResolvConf(t, "options timeout:1 attempts:1"))
	return srv
}

func TestResolveCommand(t *testing.T) {
	srv := resolveEnv(t)
	r := netkit(t, "resolve", "www.test", "https", "--canon")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 5 {
		t.Fatalf("want a header and 4 rows (2 addresses × STREAM, DGRAM):\n%s", r.stdout)
	}
	from := func(rtype string) string { return srv.Addr.String() + "/" + rtype + "/www.test.→db.test" }
	for i, want := range [][]string{
		{"AF_INET6", "STREAM", "tcp", "[::1]:443", "db.test", "dns", from("AAAA")},
		{"AF_INET6", "DGRAM", "udp", "[::1]:443", "-", "dns", from("AAAA")},
		{"AF_INET", "STREAM", "tcp", "127.0.0.20:443", "-", "dns", from("A")},
		{"AF_INET", "DGRAM", "udp", "127.0.0.20:443", "-", "dns", from("A")},
	} {
		// Time(ms) is the one column that changes from run to run.
		got := strings.Fields(lines[i+1])
		if len(got) != 8 || !slices.Equal(append(got[:6:6], got[7]), want) {
			t.Errorf("row %d: %q, want %q with a time before the last", i+1, got, want)
		}
	}
	// Piped, every line of a table splits into as many awk fields as its
	// header (the trace, after a blank line, is a table of its own).
	for _, args := range [][]string{{"resolve", "www.test", "https", "--canon"}, {"resolve", "--trace", "-4", "www.test"}} {
		r := netkit(t, args...)
		for _, table := range strings.Split(strings.TrimSpace(r.stdout), "\n\n") {
			lines := strings.Split(table, "\n")
			for _, line := range lines[1:] {
				if n, want := len(strings.Fields(line)), len(strings.Fields(lines[0])); n != want {
					t.Errorf("%v: %d fields, want %d, in %q", args, n, want, line)
				}
			}
		}
	}

	r = netkit(t, "resolve", "-4", "web.test", "--json")
	var doc struct {
		SchemaVersion int `json:"schema_version"`
		Answers       []struct {
			Address string `json:"address"`
			Origin  struct {
				Source string `json:"source"`
				Line   int    `json:"line"`
			} `json:"origin"`
		} `json:"answers"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil || r.code != 0 {
		t.Fatalf("json: %v (exit %d)\n%s", err, r.code, r.stdout)
	}
	if doc.SchemaVersion != 1 || len(doc.Answers) != 3 || doc.Answers[0].Address != "127.0.0.5:0" ||
		doc.Answers[0].Origin.Source != "hosts" || doc.Answers[0].Origin.Line != 2 {
		t.Errorf("json document: %+v", doc)
	}
}

func TestResolveTrace(t *testing.T) {
	resolveEnv(t)
	r := netkit(t, "resolve", "--trace", "-6", "db.test")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	for _, want := range []string{"Step", "hosts", "NOTFOUND", "AAAA", "found"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("trace lacks %q:\n%s", want, r.stdout)
		}
	}
}

func TestResolveNotFound(t *testing.T) {
	srv := resolveEnv(t)
	r := netkit(t, "resolve", "nosuch.test")
	if r.code != exitFailed {
		t.Errorf("exit %d, want 1", r.code)
	}
	first := strings.SplitN(r.stderr, "\n", 2)[0]
	want := "netkit: nosuch.test: no such host (asked: hosts file " + os.Getenv("NETKIT_HOSTS_FILE") + ", DNS server " + srv.Addr.Addr().String() + ":53)"
	if first != want {
		t.Errorf("stderr first line\n got %q\nwant %q", first, want)
	}
	if !strings.Contains(r.stderr, "cause: the name nosuch.test does not exist") {
		t.Errorf("no explanation: %s", r.stderr)
	}
}

func TestResolveBadInput(t *testing.T) {
	resolveEnv(t)
	// A UDP port nothing listens on: the server is unreachable.
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := pc.LocalAddr().String()
	pc.Close()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"resolve", ""}, "empty name"},
		{[]string{"resolve"}, "needs a NAME"},
		{[]string{"resolve", strings.Repeat("a", 64) + ".test"}, "limit is 63"},
		{[]string{"resolve", strings.Repeat("abcdefgh.", 30) + "test"}, "limit is 253"},
		{[]string{"resolve", "localhost", "65536"}, `invalid port "65536"`},
		{[]string{"resolve", "localhost", "no-such-service"}, `invalid service "no-such-service"`},
		{[]string{"resolve", "-4", "-6", "localhost"}, "cannot be used together"},
		{[]string{"resolve", "--type", "seqpacket", "localhost"}, "want stream, dgram or raw"},
		{[]string{"resolve", "--server", "127.0.0.1:0", "db.test"}, "port \"0\""},
		{[]string{"resolve", "--server", closed, "db.test"}, "DNS server unreachable"},
		{[]string{"resolve", "--format", "yaml", "localhost"}, `invalid --format "yaml"`},
		{[]string{"resolve", "--bogus"}, "unknown flag: --bogus"},
		{[]string{"hosts", "--file", filepath.Join(t.TempDir(), "none")}, "no such file"},
		{[]string{"hosts", "a..b"}, "empty label"},
	} {
		r := netkit(t, tc.args...)
		if strings.Contains(tc.want, "unreachable") {
			// A system error: the error line plus its explanation, which
			// does not send the user to resolv.conf for a --server.
			if r.code != exitError || !strings.HasPrefix(r.stderr, "netkit: DNS server unreachable") || !strings.Contains(r.stderr, "cause:") ||
				strings.Contains(r.stderr, "resolv.conf") || !strings.Contains(r.stderr, "leave out --server") {
				t.Errorf("%v: exit %d, stderr %q", tc.args, r.code, r.stderr)
			}
			continue
		}
		assertOneLineError(t, r, tc.want)
	}
}

func TestResolveConfigCommand(t *testing.T) {
	srv := resolveEnv(t)
	r := netkit(t, "resolve", "--config")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	for _, want := range []string{srv.Addr.Addr().String() + ":53", "files → dns", "timeout        1s", "attempts       1"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("config lacks %q:\n%s", want, r.stdout)
		}
	}
}

func TestHostsCommand(t *testing.T) {
	r := netkit(t, "hosts", "--file", "testdata/hosts.lint", "--hostname", "box")
	if r.code != exitFailed {
		t.Errorf("exit %d, want 1 for a file with problems", r.code)
	}
	for _, want := range []string{"hostname-missing", "4     warning   conflict", "5     error     malformed-address", "6     warning   invalid-name"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("report lacks %q:\n%s", want, r.stdout)
		}
	}
	r = netkit(t, "hosts", "--file", "testdata/hosts.lint", "--hostname", "box", "--json")
	golden.Check(t, filepath.Join("testdata", "hosts_lint.json"), []byte(r.stdout), *update)

	// Every line counts for gethostbyname too (glibc >= 2.26): the first
	// line is its first answer; getaddrinfo puts ::1 first (RFC 6724
	// precedence) and, for IPv4 only, ::1 as 127.0.0.1 (longest prefix
	// with the source 127.0.0.1), which is what Python's gethostbyname
	// returns.
	multi := filepath.Join(t.TempDir(), "hosts")
	os.WriteFile(multi, []byte("127.0.0.7 b.test\n::1 B.test ip6-b\n127.0.0.8 b.test\n"), 0o644)
	r = netkit(t, "hosts", "--file", multi, "b.test")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	want := "Line  Address    Used-by                    First-for                         Names\n" +
		"1     127.0.0.7  getaddrinfo,gethostbyname  gethostbyname                     b.test\n" +
		"2     ::1        getaddrinfo,gethostbyname  getaddrinfo,getaddrinfo(AF_INET)  B.test ip6-b\n" +
		"3     127.0.0.8  getaddrinfo,gethostbyname  -                                 b.test\n"
	if r.stdout != want {
		t.Errorf("matches\n got %q\nwant %q", r.stdout, want)
	}
	// A line glibc ignores is shown, marked, with why.
	r = netkit(t, "hosts", "--file", "testdata/hosts.lint", "broken.test")
	if r.code != exitFailed || r.stdout != "Line  Address      Used-by  First-for  Names\n5     127.0.0.300  ignored  -          broken.test\n" ||
		r.stderr != "netkit: note: line 5 names broken.test, but glibc ignores it: \"127.0.0.300\" is not an IPv4 or IPv6 address\n"+
			"netkit: broken.test: no line of testdata/hosts.lint maps this name (line 5 names it, but glibc ignores that line)\n" {
		t.Errorf("ignored line: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = netkit(t, "hosts", "--file", "testdata/hosts.lint", "broken.test", "--json")
	var doc struct {
		Matches []any `json:"matches"`
		Ignored []struct {
			Line    int      `json:"line"`
			Address string   `json:"address"`
			Names   []string `json:"names"`
			Reason  string   `json:"reason"`
		} `json:"ignored"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil || doc.Matches == nil || len(doc.Ignored) != 1 || doc.Ignored[0].Line != 5 || doc.Ignored[0].Address != "127.0.0.300" {
		t.Errorf("ignored line in JSON: %v %+v\n%s", err, doc, r.stdout)
	}
	r = netkit(t, "hosts", "--file", "testdata/hosts.lint", "nosuch.test")
	if r.code != exitFailed || !strings.Contains(r.stderr, "no line of testdata/hosts.lint maps this name") {
		t.Errorf("missing name: exit %d, %s", r.code, r.stderr)
	}

	clean := filepath.Join(t.TempDir(), "hosts")
	os.WriteFile(clean, []byte("127.0.0.1 localhost\n127.0.1.1 box\n"), 0o644)
	r = netkit(t, "hosts", "--file", clean, "--hostname", "box")
	if r.code != 0 || !strings.Contains(r.stdout, "no problems found") {
		t.Errorf("clean file: exit %d, %s", r.code, r.stdout)
	}
}

// TestResolveBinary runs the real binary: exit codes and no stack traces.
func TestResolveBinary(t *testing.T) {
	resolveEnv(t)
	r := netkitBinary(t, "resolve", "nosuch.test")
	if r.code != exitFailed || !strings.HasPrefix(r.stderr, "netkit: nosuch.test: no such host") {
		t.Errorf("exit %d, stderr %q", r.code, r.stderr)
	}
	r = netkitBinary(t, "resolve", "web.test", "--no-header")
	if r.code != 0 || !strings.HasPrefix(strings.Join(strings.Fields(r.stdout), " "), "AF_INET STREAM tcp 127.0.0.5:0 hosts") {
		t.Errorf("exit %d, stdout %q", r.code, r.stdout)
	}
}

// TestResolveUnreadableFiles checks that a hosts file, resolv.conf or
// nsswitch.conf that exists but cannot be read (here a directory) is one
// line naming the file and why, exit 2, for resolve as for hosts: not
// glibc's defaults in silence, nor an explanation about sockets.
func TestResolveUnreadableFiles(t *testing.T) {
	resolveEnv(t)
	dir := t.TempDir()
	for _, tc := range []struct {
		env  string
		args []string
		want string
	}{
		{"NETKIT_RESOLV_CONF", []string{"resolve", "--config"}, "netkit: cannot read resolv.conf " + dir + ": is a directory"},
		{"NETKIT_RESOLV_CONF", []string{"resolve", "web.test"}, "netkit: cannot read resolv.conf " + dir + ": is a directory"},
		{"NETKIT_NSSWITCH_CONF", []string{"resolve", "web.test"}, "netkit: cannot read nsswitch.conf " + dir + ": is a directory"},
		{"NETKIT_HOSTS_FILE", []string{"resolve", "web.test"}, "netkit: cannot read hosts file " + dir + ": is a directory"},
		{"NETKIT_HOSTS_FILE", []string{"hosts"}, "netkit: cannot read hosts file " + dir + ": is a directory"},
	} {
		t.Run(tc.env+" "+strings.Join(tc.args, " "), func(t *testing.T) {
			t.Setenv(tc.env, dir)
			r := netkit(t, tc.args...)
			assertOneLineError(t, r, tc.want)
			if r.stderr != tc.want+"\n" {
				t.Errorf("stderr %q, want %q", r.stderr, tc.want)
			}
		})
	}
}

// TestResolveSocketTypes checks services and socket types as getaddrinfo
// has them: RAW with a protocol, and no service for RAW or in capitals.
func TestResolveSocketTypes(t *testing.T) {
	resolveEnv(t)
	r := netkit(t, "resolve", "localhost", "--type", "raw", "--proto", "tcp", "--no-header")
	if got := strings.Fields(r.stdout); r.code != 0 || len(got) < 4 || strings.Join(got[:4], " ") != "AF_INET RAW tcp 127.0.0.1:0" {
		t.Errorf("--type raw --proto tcp: exit %d, %q %s", r.code, r.stdout, r.stderr)
	}
	assertOneLineError(t, netkit(t, "resolve", "localhost", "443", "--type", "raw"), "RAW sockets have no ports")
	assertOneLineError(t, netkit(t, "resolve", "localhost", "HTTPS"), `invalid service "HTTPS": service names are case-sensitive; /etc/services has https`)
}

// TestDNSServerAddr checks the forms --server takes, and that a malformed
// one is refused before anything is asked: '[::1]' was sent as a DNS query
// for "[::1]." to the configured server.
func TestDNSServerAddr(t *testing.T) {
	srv := resolveEnv(t)
	for _, tc := range []struct{ in, want string }{
		{"[::1]", "[::1]:53"},
		{"[::1]:5353", "[::1]:5353"},
		{"::1", "[::1]:53"},
		{"fe80::1%lo", "[fe80::1%lo]:53"},
		{"127.0.0.53", "127.0.0.53:53"},
		{"127.0.0.53:5353", "127.0.0.53:5353"},
		{"localhost", "127.0.0.1:53"},
		{"localhost:54", "127.0.0.1:54"},
		{"[::1", `invalid --server "[::1": no ] after the IPv6 address`},
		{"[::1]x", `invalid --server "[::1]x": want [IPv6] or [IPv6]:PORT`},
		{"[127.0.0.1]", `invalid --server "[127.0.0.1]": "127.0.0.1" is not an IPv6 address`},
		{"[db.test]:53", `invalid --server "[db.test]:53": "db.test" is not an IPv6 address`},
		{"[::1]:0", `invalid --server "[::1]:0": port "0" is not a number from 1 to 65535`},
		{"127.0.0.1:65536", `invalid --server "127.0.0.1:65536": port "65536" is not a number from 1 to 65535`},
		{"127.0.0.1:+53", `invalid --server "127.0.0.1:+53": port "+53" is not a number from 1 to 65535`},
		{":53", `invalid --server ":53": not an IP address, and not a host name: empty name`},
		{"a:b:c", `invalid --server "a:b:c": "a:b:c" is not an IPv6 address; want HOST:PORT, HOST, IPv6 or [IPv6]:PORT`},
		{"db_x.test", `invalid --server "db_x.test": not an IP address, and not a host name: '_' is not allowed in a host name (letters, digits and hyphens only)`},
	} {
		got := ""
		ap, err := dnsServerAddr(context.Background(), tc.in)
		if err != nil {
			got = err.Error()
		} else {
			got = ap.String()
		}
		if got != tc.want {
			t.Errorf("--server %q: %s, want %s", tc.in, got, tc.want)
		}
	}
	if q := srv.Queries(); len(q) != 0 {
		t.Errorf("parsing --server asked DNS %v", q)
	}
	assertOneLineError(t, netkit(t, "resolve", "--server", "", "db.test"), `invalid --server "": want an IP address or host name`)
	assertOneLineError(t, netkit(t, "resolve", "--server", "[::1", "db.test"), "no ] after the IPv6 address")
}

// TestResolveNoAnswerExit checks the exit codes when DNS does not answer:
// the configured server silent is "got no answer", exit 1 as 'netkit
// --help' says; a --server that does not answer is exit 2.
func TestResolveNoAnswerExit(t *testing.T) {
	srv := resolveEnv(t)
	srv.Silence("slow.test")
	r := netkit(t, "resolve", "slow.test")
	if first := strings.SplitN(r.stderr, "\n", 2)[0]; r.code != exitFailed || !strings.Contains(first, "no answer from DNS server "+srv.Addr.String()) {
		t.Errorf("configured server silent: exit %d, stderr %q; want 1 and the timeout", r.code, r.stderr)
	}
	r = netkit(t, "resolve", "--server", srv.Addr.String(), "--timeout", "200ms", "slow.test")
	if r.code != exitError || !strings.HasPrefix(r.stderr, "netkit: DNS server unreachable: slow.test: no answer from DNS server") {
		t.Errorf("--server silent: exit %d, stderr %q; want 2", r.code, r.stderr)
	}
}

// TestResolveJSONGolden checks the whole --json document of a lookup
// through the hosts file and the in-process DNS server (a CNAME chain, A
// and AAAA) against testdata/resolve_dns.json, with the timings, the
// server's random address and the temporary hosts file path normalised.
func TestResolveJSONGolden(t *testing.T) {
	srv := resolveEnv(t)
	r := netkit(t, "resolve", "www.test", "https", "--json")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	got := regexp.MustCompile(`("[a-z_]+_ms"): [0-9.e+-]+`).ReplaceAllString(r.stdout, "$1: 0")
	got = strings.NewReplacer(srv.Addr.String(), "DNS_SERVER", os.Getenv("NETKIT_HOSTS_FILE"), "HOSTS_FILE").Replace(got)
	golden.Check(t, filepath.Join("testdata", "resolve_dns.json"), []byte(got), *update)
}

// TestResolveServerPort runs resolve --server IPv4:PORT against a server on
// a random port, which needs no root (the other tests name their server in
// a resolv.conf, which cannot say a port).
func TestResolveServerPort(t *testing.T) {
	srv := dnstest.StartAnyPort(t, "db.test. 60 IN A 127.0.0.20")
	none := filepath.Join(t.TempDir(), "none")
	t.Setenv("NETKIT_HOSTS_FILE", none)
	t.Setenv("NETKIT_RESOLV_CONF", none)
	t.Setenv("NETKIT_NSSWITCH_CONF", none)
	r := netkit(t, "resolve", "--server", srv.Addr.String(), "-4", "--type", "stream", "db.test", "--no-header")
	got := strings.Fields(r.stdout)
	if r.code != 0 || len(got) != 7 || got[3] != "127.0.0.20:0" || got[6] != srv.Addr.String()+"/A/db.test." {
		t.Errorf("exit %d, %q, %s", r.code, r.stdout, r.stderr)
	}
}

// TestResolveRecords runs dig's forms: @SERVER, -t TYPE, -x ADDR and
// +short or --short, against a DNS server of the test.
func TestResolveRecords(t *testing.T) {
	resolveEnv(t)
	srv := dnstest.StartAnyPort(t,
		"mail.test. 60 IN MX 10 mx1.mail.test.",
		"mail.test. 60 IN MX 20 mx2.mail.test.",
		`mail.test. 60 IN TXT "v=spf1 -all"`,
		"7.0.0.127.in-addr.arpa. 60 IN PTR seven.test.",
	)
	at := "@" + srv.Addr.String()
	r := netkit(t, "resolve", at, "-t", "mx", "mail.test")
	if r.code != 0 || r.stdout != "Name        TTL  Type  Data\nmail.test.  60   MX    10 mx1.mail.test.\nmail.test.  60   MX    20 mx2.mail.test.\n" {
		t.Errorf("-t mx: exit %d\n%q%s", r.code, r.stdout, r.stderr)
	}
	r = netkit(t, "resolve", "mail.test", "-t", "TXT", "+short", at)
	if r.code != 0 || r.stdout != "\"v=spf1 -all\"\n" {
		t.Errorf("+short TXT: exit %d %q %s", r.code, r.stdout, r.stderr)
	}
	r = netkit(t, "resolve", "--server", srv.Addr.String(), "-x", "127.0.0.7", "--short")
	if r.code != 0 || r.stdout != "seven.test.\n" {
		t.Errorf("-x: exit %d %q %s", r.code, r.stdout, r.stderr)
	}
	r = netkit(t, "resolve", at, "-t", "MX", "--json", "mail.test")
	var doc struct {
		Name    string `json:"name"`
		Type    string `json:"type"`
		Records []struct {
			Data string `json:"data"`
		} `json:"records"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil || doc.Name != "mail.test." || doc.Type != "MX" || len(doc.Records) != 2 {
		t.Errorf("--json: %+v, %v\n%s", doc, err, r.stdout)
	}
	// Without records of the type: exit 1 and the NODATA explanation;
	// without the name: exit 1, NXDOMAIN.
	r = netkit(t, "resolve", at, "-t", "AAAA", "mail.test")
	if r.code != 1 || !strings.Contains(r.stderr, "has no AAAA record") || !strings.Contains(r.stderr, "cause: ") {
		t.Errorf("no AAAA: exit %d %q", r.code, r.stderr)
	}
	if r := netkit(t, "resolve", at, "-t", "MX", "nosuch.test"); r.code != 1 || !strings.Contains(r.stderr, "no such host") {
		t.Errorf("nosuch: exit %d %q", r.code, r.stderr)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"resolve", at, "-t", "HINFO", "mail.test"}, `invalid record type "HINFO"`},
		{[]string{"resolve", "-x", "not-an-ip"}, `invalid -x "not-an-ip": not an IP address`},
		{[]string{"resolve", "-x", "127.0.0.1", "extra.test"}, "-x takes the address"},
		{[]string{"resolve", "--short", "mail.test"}, "--short goes with -t or -x"},
		{[]string{"resolve", at, "--server", "127.0.0.1", "mail.test"}, "give one server"},
	} {
		assertOneLineError(t, netkit(t, tc.args...), tc.want)
	}
}
