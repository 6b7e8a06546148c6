package resolve

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

func TestParseServices(t *testing.T) {
	s, err := ParseServices(strings.NewReader(`# comment
http		80/tcp		www		# WorldWideWeb HTTP
http		80/udp
bad		x/tcp
short
dup		80/tcp
`))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		proto, name string
		port        uint16
	}{{"tcp", "http", 80}, {"tcp", "www", 80}, {"udp", "http", 80}, {"tcp", "dup", 80}} {
		if got := s.Ports(tt.name)[tt.proto]; got != tt.port {
			t.Errorf("%s/%s: port %d, want %d", tt.proto, tt.name, got, tt.port)
		}
	}
	if got, _ := s.Name("tcp", 80); got != "http" {
		t.Errorf("80/tcp is %q, want the first name, http", got)
	}
	n := 0
	for _, byProto := range s.ports {
		n += len(byProto)
	}
	if n != 4 || len(s.names) != 2 {
		t.Errorf("bad lines were kept: %v %v", s.ports, s.names)
	}
}

// TestParseServicesGlibc checks the readings of glibc's files backend that
// getaddrinfo's services follow: the first line of a name wins for each
// protocol, names and protocols match case included, and port 0 is a port
// by name but names no port.
func TestParseServicesGlibc(t *testing.T) {
	s, err := ParseServices(strings.NewReader("a 1/tcp b\na 2/tcp\na 3/udp\nzero 0/tcp\nupper 4/TCP\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Ports("a"); len(got) != 2 || got["tcp"] != 1 || got["udp"] != 3 {
		t.Errorf("a: %v, want tcp 1 and udp 3", got)
	}
	if got := s.Ports("A"); got != nil {
		t.Errorf("A: %v, want nothing (names are case-sensitive)", got)
	}
	if got, ok := s.Ports("zero")["tcp"]; !ok || got != 0 {
		t.Errorf("zero: %d, %v; want port 0", got, ok)
	}
	if name, ok := s.Name("tcp", 0); ok {
		t.Errorf("port 0 is named %q", name)
	}
	if _, ok := s.Ports("upper")["tcp"]; ok {
		t.Errorf("upper: 4/TCP read as tcp")
	}
}

// TestSystemServices reads the system's services file, or none: a missing
// file is an empty table, as in glibc.
func TestSystemServices(t *testing.T) {
	s, err := SystemServices()
	if err != nil {
		t.Fatal(err)
	}
	if s2, _ := SystemServices(); s2 != s {
		t.Error("the services file was read twice")
	}
	missing, err := readServices(t.TempDir() + "/none")
	if err != nil || len(missing.Ports("http")) != 0 {
		t.Errorf("missing file: %v, %v; want an empty table", missing.Ports("http"), err)
	}
}

// FuzzParseServices checks that every port name it records can be looked
// up again by name.
func FuzzParseServices(f *testing.F) {
	f.Add("http\t\t80/tcp\t\twww\t\t# WorldWideWeb HTTP\nhttp 80/udp\n")
	f.Add("bad x/tcp\n# only a comment\nshort\n")
	f.Fuzz(func(t *testing.T, in string) {
		s, err := ParseServices(strings.NewReader(in))
		if err != nil {
			t.Fatal(err)
		}
		for k, name := range s.names {
			if k.port == 0 {
				t.Fatalf("port 0 recorded for %q", name)
			}
			if _, ok := s.Ports(name)[k.proto]; !ok {
				t.Fatalf("%s/%d is %q, but %s/%s has no port", k.proto, k.port, name, k.proto, name)
			}
		}
	})
}

// TestParsePort checks the port arguments of every command: numbers, and
// service names of the protocol asked for, as getent services reads them.
func TestParsePort(t *testing.T) {
	for _, in := range []string{"0", "65536", "-1", "", "80x", "no-such-service-name"} {
		if p, err := ParsePort(in, ""); err == nil {
			t.Errorf("ParsePort(%q) = %d, want an error", in, p)
		}
	}
	if p, err := ParsePort(" 65535 ", ""); err != nil || p != 65535 {
		t.Errorf("ParsePort(65535) = %d, %v", p, err)
	}
	if _, err := os.Stat(DefaultServicesPath); err != nil {
		t.Skipf("no %s here", DefaultServicesPath)
	}
	for _, tc := range []struct {
		name, proto, getent string
	}{{"https", "tcp", "443/tcp"}, {"domain", "udp", "53/udp"}, {"ssh", "", "22/tcp"}} {
		out, err := exec.Command("getent", "services", tc.getent).Output()
		if err != nil {
			t.Skipf("getent services %s: %v", tc.getent, err)
		}
		want, _ := strconv.ParseUint(strings.Split(tc.getent, "/")[0], 10, 16)
		if f := strings.Fields(string(out)); len(f) == 0 || f[0] != tc.name {
			t.Fatalf("getent services %s: %q, want %s", tc.getent, out, tc.name)
		}
		if got, err := ParsePort(tc.name, tc.proto); err != nil || uint64(got) != want {
			t.Errorf("ParsePort(%q, %q) = %d, %v; want %d", tc.name, tc.proto, got, err, want)
		}
	}
	_, err := ParsePort("ssh", "udp")
	if err == nil || !strings.Contains(err.Error(), "UDP service") {
		t.Errorf("ssh over UDP: %v, want no UDP service", err)
	}
}

// FuzzParsePort checks that ports are 1..65535 and that numbers read as
// strconv reads them.
func FuzzParsePort(f *testing.F) {
	for _, s := range []string{"80", "65535", "0", "65536", "http", " 22 ", "-1", "1e3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		p, err := ParsePort(in, "")
		if err != nil {
			return
		}
		if p == 0 {
			t.Fatalf("%q read as port 0", in)
		}
		if n, err := strconv.ParseUint(strings.TrimSpace(in), 10, 16); err == nil && uint16(n) != p {
			t.Fatalf("%q read as %d, strconv says %d", in, p, n)
		}
	})
}
