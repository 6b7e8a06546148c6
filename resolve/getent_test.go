package resolve

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/miekg/dns"
	"github.com/netkit/netkit/internal/testenv"
)

// compareHosts is the hosts file the comparison with glibc uses: several
// lines for one name, mixed families, aliases, case and comments.
const compareHosts = `127.0.0.1 localhost
::1 localhost ip6-localhost ip6-loopback
127.0.0.5 web.test www.test # comment
127.0.0.9 Multi.test
127.0.0.6 multi.test
::1 multi.test
2001:db8::7 multi.test
127.0.0.5 web.test
`

// sysResolve runs cmd in a private mount namespace where /etc/hosts,
// /etc/resolv.conf and /etc/nsswitch.conf are the test's files, so glibc
// (getent, Python) sees what the Resolver sees. It skips the test where
// that is impossible (not root, no unshare).
func sysResolve(t *testing.T, r *Resolver, cmd ...string) string {
	t.Helper()
	testenv.NeedRoot(t) // to bind-mount the test's /etc/hosts
	testenv.NeedTool(t, "unshare")
	script := fmt.Sprintf(`mount --bind %q /etc/hosts && mount --bind %q /etc/resolv.conf && mount --bind %q /etc/nsswitch.conf && exec "$@"`,
		r.HostsPath, r.Paths.ResolvConf, r.Paths.NSSwitch)
	c := exec.Command("unshare", append([]string{"-m", "sh", "-c", script, "sh"}, cmd...)...)
	c.Env = append(os.Environ(), "LOCALDOMAIN=", "RES_OPTIONS=")
	out, err := c.Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok && ee.ExitCode() == 2 && cmd[0] == "getent" {
			return "" // getent: not found
		}
		t.Fatalf("%v: %v\n%s", cmd, err, out)
	}
	return string(out)
}

// netkitAhosts formats a Result as getent ahosts prints it: address (with
// its scope ID when not 0), socket type, and the canonical name on the first
// line.
func netkitAhosts(t *testing.T, res *Result) string {
	var b strings.Builder
	for i, a := range res.Answers {
		canon := ""
		if i == 0 {
			canon = res.Canonical
		}
		addr := a.Address.Addr().WithZone("").String()
		scope, err := scopeID(a.Address.Addr())
		if err != nil {
			t.Errorf("answer %v: %v", a.Address, err)
		}
		if scope != 0 {
			addr += fmt.Sprintf("%%%d", scope)
		}
		fmt.Fprintf(&b, "%-15s %-6s %s\n", addr, a.SockType, canon)
	}
	return b.String()
}

func normalize(s string) string {
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
		lines = append(lines, strings.Join(strings.Fields(l), " "))
	}
	return strings.Join(lines, "\n")
}

func comparisonResolver(t *testing.T, resolvExtra ...string) *Resolver {
	r, _ := setup(t, zone, resolvExtra...)
	if err := os.WriteFile(r.HostsPath, []byte(compareHosts), 0o644); err != nil {
		t.Fatal(err)
	}
	return r
}

// TestAgreesWithGetent compares netkit with glibc's getaddrinfo as getent
// ahosts, ahostsv4 and ahostsv6 print it, on names from a test hosts file,
// names from an in-process DNS server, and literals.
func TestAgreesWithGetent(t *testing.T) {
	agreeWithGetent(t, comparisonResolver(t), "localhost", "web.test", "www.test", "multi.test", "MULTI.TEST", "ip6-loopback",
		"db.test", "alias.test", "v4only.test", "txtonly.test", "dangling.test", "nosuch.test",
		"127.0.0.1", "127.1", "0x7f.0.0.1", "::1", "::ffff:127.0.0.1",
		"0x", "0x.1", "1.0x", "0x0.1", "1.0x0",
		"fe80::1%lo", "fe80::1%1", "ff02::1%lo", "::1%lo", "::1%0", "::1%1", "fec0::1%lo", "::1%4294967296")
}

// TestAgreesWithGetentNoAAAA compares with resolv.conf's "options
// no-aaaa" (glibc 2.36): no AAAA question to DNS, the hosts file's IPv6
// lines still count.
func TestAgreesWithGetentNoAAAA(t *testing.T) {
	agreeWithGetent(t, comparisonResolver(t, "options no-aaaa"), "localhost", "multi.test", "db.test", "alias.test", "v4only.test", "nosuch.test", "::1")
}

// agreeWithGetent compares r with getent ahosts, ahostsv4 and ahostsv6 on
// names.
func agreeWithGetent(t *testing.T, r *Resolver, names ...string) {
	t.Helper()
	for _, db := range []struct {
		getent string
		fam    Family
	}{{"ahosts", AnyFamily}, {"ahostsv4", IPv4}, {"ahostsv6", IPv6}} {
		for _, name := range names {
			want := sysResolve(t, r, "getent", db.getent, name)
			// getent ahostsv6 asks with AI_V4MAPPED.
			res, err := r.Resolve(context.Background(), Query{Name: name, Family: db.fam, V4Mapped: db.fam == IPv6})
			got := ""
			if err == nil {
				got = netkitAhosts(t, res)
			}
			if normalize(got) != normalize(want) {
				t.Errorf("getent %s %s:\n%s\nnetkit (err %v):\n%s", db.getent, name, want, err, got)
			}
		}
	}
}

// TestAgreesWithPython compares with Python's socket.getaddrinfo, which also
// calls glibc, with services and socket type hints.
func TestAgreesWithPython(t *testing.T) {
	testenv.NeedTool(t, "python3")
	r := comparisonResolver(t)
	const py = `import json, socket, sys
name, svc, fam, typ, proto = sys.argv[1], sys.argv[2] or None, int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
try:
    res = socket.getaddrinfo(name, svc, fam, typ, proto, socket.AI_CANONNAME)
    print(json.dumps([[int(f), int(t), p, c, a[0], a[1], a[3] if len(a) > 3 else 0] for f, t, p, c, a in res]))
except socket.gaierror as e:
    print(json.dumps({"error": e.errno}))`
	type q struct {
		name, svc string
		fam       Family
		typ       SockType
		proto     Protocol
	}
	afs := map[Family]int{AnyFamily: 0, IPv4: 2, IPv6: 10}
	types := map[SockType]int{AnySockType: 0, Stream: 1, Dgram: 2, Raw: 3}
	protos := map[Protocol]int{TCP: 6, UDP: 17, AnyProtocol: 0}
	for _, c := range []q{
		{"localhost", "", AnyFamily, AnySockType, AnyProtocol},
		{"multi.test", "https", AnyFamily, AnySockType, AnyProtocol},
		{"multi.test", "ssh", IPv6, AnySockType, AnyProtocol},
		{"web.test", "8080", IPv4, Dgram, AnyProtocol},
		{"alias.test", "domain", AnyFamily, Stream, AnyProtocol},
		{"127.1", "443", AnyFamily, AnySockType, AnyProtocol},
		{"fe80::1%lo", "", AnyFamily, Stream, AnyProtocol},
		{"ff02::1%lo", "", AnyFamily, Stream, AnyProtocol},
		{"::1%0", "", AnyFamily, Stream, AnyProtocol},
		{"::1%7", "", AnyFamily, Stream, AnyProtocol},
		{"::ffff:127.0.0.1%1", "", IPv4, Stream, AnyProtocol},
		// Service names are case-sensitive for glibc.
		{"localhost", "HTTPS", AnyFamily, AnySockType, AnyProtocol},
		{"localhost", "Domain", AnyFamily, AnySockType, AnyProtocol},
		// RAW: no service, not even a port; any protocol goes.
		{"localhost", "443", AnyFamily, Raw, AnyProtocol},
		{"localhost", "0", AnyFamily, Raw, AnyProtocol},
		{"localhost", "https", AnyFamily, Raw, AnyProtocol},
		{"localhost", "", AnyFamily, Raw, AnyProtocol},
		{"localhost", "", AnyFamily, Raw, TCP},
		{"localhost", "", AnyFamily, Raw, UDP},
		// A protocol or socket type asked: one result, the first that fits.
		{"localhost", "", AnyFamily, AnySockType, TCP},
		{"localhost", "443", AnyFamily, AnySockType, UDP},
		{"localhost", "domain", AnyFamily, AnySockType, UDP},
		{"localhost", "443", AnyFamily, Stream, UDP},
	} {
		out := sysResolve(t, r, "python3", "-c", py, c.name, c.svc, fmt.Sprint(afs[c.fam]), fmt.Sprint(types[c.typ]), fmt.Sprint(protos[c.proto]))
		var want any
		if err := json.Unmarshal([]byte(out), &want); err != nil {
			t.Fatalf("%+v: python said %s", c, out)
		}
		res, err := r.Resolve(context.Background(), Query{Name: c.name, Service: c.svc, Family: c.fam, SockType: c.typ, Protocol: c.proto})
		if _, failed := want.(map[string]any); failed || err != nil {
			if !failed || err == nil {
				t.Errorf("%+v: python %s; netkit error %v", c, out, err)
			}
			continue
		}
		var got [][]any
		for i, a := range res.Answers {
			canon := ""
			if i == 0 {
				canon = res.Canonical
			}
			fam := 2
			if a.Family == IPv6 {
				fam = 10
			}
			scope, err := scopeID(a.Address.Addr())
			if err != nil {
				t.Errorf("%+v: answer %v: %v", c, a.Address, err)
			}
			got = append(got, []any{float64(fam), float64(types[a.SockType]), float64(protos[a.Protocol]), canon,
				a.Address.Addr().WithZone("").String(), float64(a.Address.Port()), float64(scope)})
		}
		gj, _ := json.Marshal(got)
		wj, _ := json.Marshal(want)
		if string(gj) != string(wj) {
			t.Errorf("%+v:\npython %s\nnetkit %s", c, wj, gj)
		}
	}
}

// TestHostsOrderAgreesWithGlibc checks what 'netkit hosts NAME' says about
// a name on several lines against glibc: gethostbyname returns every IPv4
// line in file order (glibc >= 2.26 reads the hosts file with "multi on"),
// and Python's socket.gethostbyname is the first address of getaddrinfo
// for AF_INET.
func TestHostsOrderAgreesWithGlibc(t *testing.T) {
	testenv.NeedTool(t, "python3")
	r := comparisonResolver(t)
	hf, err := ReadHostsFile(r.HostsPath)
	if err != nil {
		t.Fatal(err)
	}
	const py = `import json, socket, sys
print(json.dumps([socket.gethostbyname_ex(sys.argv[1])[2], socket.gethostbyname(sys.argv[1])]))`
	for _, name := range []string{"multi.test", "web.test", "localhost", "ip6-loopback"} {
		var want []any
		out := sysResolve(t, r, "python3", "-c", py, name)
		if err := json.Unmarshal([]byte(out), &want); err != nil {
			t.Fatalf("%s: python said %s", name, out)
		}
		var all []any
		for _, m := range hf.Lookup(name, IPv4) {
			all = append(all, m.Address.String())
		}
		got := []any{all, hf.LookupSorted(name, IPv4)[0].Address.String()}
		gj, _ := json.Marshal(got)
		wj, _ := json.Marshal(want)
		if string(gj) != string(wj) {
			t.Errorf("%s: [gethostbyname_ex, gethostbyname]\npython %s\nnetkit %s", name, wj, gj)
		}
	}
}

// TestLookupAddrAgreesWithGetent compares LookupAddr with glibc's
// gethostbyaddr as 'getent hosts ADDR' prints it: addresses of the hosts
// file (one that DNS names otherwise: the file comes first), addresses only
// DNS names (PTR records of the test's server, IPv4 and IPv6), and one
// nobody names.
func TestLookupAddrAgreesWithGetent(t *testing.T) {
	var zone []string
	for a, name := range map[string]string{"127.0.0.77": "ptr77.test.", "127.0.0.9": "not-the-hosts-file.test.", "2001:db8::8": "ptr6.test."} {
		arpa, _ := dns.ReverseAddr(a)
		zone = append(zone, arpa+" 60 IN PTR "+name)
	}
	r, srv := setup(t, zone)
	if err := os.WriteFile(r.HostsPath, []byte(compareHosts), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{"127.0.0.5", "127.0.0.9", "127.0.0.77", "2001:db8::8", "127.0.0.99"} {
		addr := netip.MustParseAddr(a)
		want := strings.Fields(sysResolve(t, r, "getent", "hosts", a))
		names, err := r.LookupAddr(context.Background(), addr)
		switch {
		case len(want) < 2:
			if !errors.Is(err, ErrNoSuchHost) {
				t.Errorf("%s: getent finds no name; netkit %q, %v", a, names, err)
			}
		case err != nil || len(names) == 0 || names[0] != want[1]:
			t.Errorf("%s: getent says %q; netkit %q, %v", a, want[1:], names, err)
		}
	}
	asked := 0
	for _, q := range srv.Queries() {
		if q.Qtype == dns.TypePTR {
			asked++
		}
	}
	if asked == 0 {
		t.Error("no PTR question reached the test's DNS server")
	}
}
