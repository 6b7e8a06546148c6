package resolve

import (
	"bytes"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestLoadConfig(t *testing.T) {
	dir := t.TempDir()
	rc := filepath.Join(dir, "resolv.conf")
	nss := filepath.Join(dir, "nsswitch.conf")
	os.WriteFile(rc, []byte(`# generated
nameserver 127.0.0.53
nameserver ::1
nameserver not-an-ip
domain old.example
search corp.example example.test
nameserver 127.0.0.54
nameserver 127.0.0.55 ; fourth is ignored
options ndots:3 timeout:40 attempts:2 rotate edns0 bogus
`), 0o644)
	os.WriteFile(nss, []byte("passwd: files\nhosts:  files mdns4_minimal [NOTFOUND=return] dns myhostname\n"), 0o644)
	env := map[string]string{"RES_OPTIONS": "attempts:4"}
	c, err := LoadConfig(ConfigPaths{ResolvConf: rc, NSSwitch: nss, Hostname: "box.site.example", Env: func(k string) string { return env[k] }})
	if err != nil {
		t.Fatal(err)
	}
	want := []netip.AddrPort{netip.MustParseAddrPort("127.0.0.53:53"), netip.MustParseAddrPort("[::1]:53"), netip.MustParseAddrPort("127.0.0.54:53")}
	if !slices.Equal(c.Nameservers, want) {
		t.Errorf("nameservers %v, want %v", c.Nameservers, want)
	}
	if !slices.Equal(c.Search, []string{"corp.example", "example.test"}) || c.SearchSource != "search" {
		t.Errorf("search %v from %q", c.Search, c.SearchSource)
	}
	if c.Ndots != 3 || c.TimeoutMS != 30000 || c.Attempts != 4 || !c.Rotate || !c.EDNS0 {
		t.Errorf("options: ndots %d timeout %v attempts %d rotate %v edns0 %v", c.Ndots, c.TimeoutMS, c.Attempts, c.Rotate, c.EDNS0)
	}
	var order []string
	for _, s := range c.HostsOrder {
		order = append(order, s.Name+strings.Join(s.Criteria, ","))
	}
	if !slices.Equal(order, []string{"files", "mdns4_minimal" + "NOTFOUND=return", "dns", "myhostname"}) {
		t.Errorf("hosts order %v", order)
	}
	notes := strings.Join(c.Notes, "\n")
	for _, want := range []string{"not-an-ip", "127.0.0.55", "bogus"} {
		if !strings.Contains(notes, want) {
			t.Errorf("notes do not mention %s:\n%s", want, notes)
		}
	}
	if !c.HostsOrder[1].returnsOn("NOTFOUND") || c.HostsOrder[0].returnsOn("NOTFOUND") || !c.HostsOrder[0].returnsOn("SUCCESS") {
		t.Errorf("criteria not applied: %+v", c.HostsOrder)
	}
}

func TestLoadConfigDefaults(t *testing.T) {
	dir := t.TempDir()
	c, err := LoadConfig(ConfigPaths{ResolvConf: filepath.Join(dir, "none"), NSSwitch: filepath.Join(dir, "none"),
		Hostname: "box.lab.example", Env: func(k string) string {
			if k == "LOCALDOMAIN" {
				return "a.example b.example"
			}
			return ""
		}})
	if err != nil {
		t.Fatal(err)
	}
	if !c.DefaultNameserver || c.Nameservers[0] != netip.MustParseAddrPort("127.0.0.1:53") {
		t.Errorf("default nameserver: %v", c.Nameservers)
	}
	if c.Ndots != 1 || c.TimeoutMS != 5000 || c.Attempts != 2 {
		t.Errorf("defaults: %+v", c)
	}
	if !slices.Equal(c.Search, []string{"a.example", "b.example"}) || c.SearchSource != "LOCALDOMAIN" {
		t.Errorf("LOCALDOMAIN: %v %s", c.Search, c.SearchSource)
	}
	if c.HostsOrder[0].Name != "dns" || !c.HostsOrder[0].returnsOn("NOTFOUND") {
		t.Errorf("glibc default order: %+v", c.HostsOrder)
	}
}

func TestSearchNames(t *testing.T) {
	c := &Config{Ndots: 2, Search: []string{"a.example", "b.example"}}
	for name, want := range map[string][]string{
		"db":       {"db.a.example", "db.b.example", "db"},
		"db.x":     {"db.x.a.example", "db.x.b.example", "db.x"},
		"db.x.y":   {"db.x.y", "db.x.y.a.example", "db.x.y.b.example"},
		"db.x.y.z": {"db.x.y.z", "db.x.y.z.a.example", "db.x.y.z.b.example"},
		"db.":      {"db."},
	} {
		if got := searchNames(name, c); !slices.Equal(got, want) {
			t.Errorf("%s: %v, want %v", name, got, want)
		}
	}
}

// FuzzParseResolvConf checks that any resolv.conf parses within glibc's
// limits.
func FuzzParseResolvConf(f *testing.F) {
	f.Add([]byte("nameserver 127.0.0.53\noptions edns0 trust-ad ndots:5\nsearch a b\n"))
	f.Add([]byte("domain x\nnameserver ::1%lo\noptions timeout:0 attempts:99\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseResolvConf(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		if len(c.Nameservers) > maxNameservers || c.Ndots < 0 || c.Ndots > maxNdots ||
			c.Attempts < 1 || c.Attempts > maxAttempts || c.TimeoutMS < 1000 || c.TimeoutMS > 30000 {
			t.Fatalf("out of limits: %+v", c)
		}
	})
}

// FuzzParseNSSwitchSources checks that any hosts line parses into named
// sources.
func FuzzParseNSSwitchSources(f *testing.F) {
	f.Add("files mdns4_minimal [NOTFOUND=return] dns myhostname")
	f.Add("dns [!UNAVAIL=return] files")
	f.Add("[")
	f.Fuzz(func(t *testing.T, s string) {
		for _, src := range ParseNSSwitchSources(s) {
			if src.Name == "" || strings.ContainsAny(src.Name, " \t[") {
				t.Fatalf("bad source %+v from %q", src, s)
			}
		}
	})
}

// FuzzParseLiteral checks inet_aton parsing against netip for the plain
// dotted-quad form, and that every accepted form gives a valid address.
func FuzzParseLiteral(f *testing.F) {
	for _, s := range []string{"127.0.0.1", "127.1", "0x7f.1", "010.0.0.1", "4294967295", "::1", "fe80::1%lo", "1.2.3.4.5", "0x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, _, ok := parseLiteral(s)
		if !ok {
			return
		}
		if !a.IsValid() {
			t.Fatalf("%q: invalid address", s)
		}
		if p, err := netip.ParseAddr(s); err == nil && p != a {
			t.Fatalf("%q: %v, netip says %v", s, a, p)
		}
	})
}

// TestLoadConfigUnreadable checks that a resolv.conf or nsswitch.conf that
// exists but cannot be read is an error naming the file, not glibc's
// defaults in silence (a missing file gives the defaults:
// TestLoadConfigDefaults).
func TestLoadConfigUnreadable(t *testing.T) {
	dir := t.TempDir()
	ok := filepath.Join(dir, "ok")
	os.WriteFile(ok, []byte("hosts: files\n"), 0o644)
	for _, tc := range []struct {
		paths ConfigPaths
		what  string
	}{
		{ConfigPaths{ResolvConf: dir, NSSwitch: ok}, "resolv.conf"},
		{ConfigPaths{ResolvConf: ok, NSSwitch: dir}, "nsswitch.conf"},
	} {
		tc.paths.Env = func(string) string { return "" }
		c, err := LoadConfig(tc.paths)
		var fe *FileError
		if !errors.As(err, &fe) || fe.What != tc.what || fe.Path != dir {
			t.Fatalf("%s a directory: config %+v, error %v; want a FileError", tc.what, c, err)
		}
		if want := "cannot read " + tc.what + " " + dir + ": is a directory"; err.Error() != want {
			t.Errorf("error %q, want %q", err, want)
		}
	}
}
