package ping

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/netkit/netkit/resolve"
)

func TestParseHostList(t *testing.T) {
	in := "# lab hosts\n127.0.0.1\n\n  ::1   # loopback six\nlocalhost\r\nfe80::1%lo\n\tdb.example.  \n"
	got, err := ParseHostList(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"127.0.0.1", "::1", "localhost", "fe80::1%lo", "db.example."}
	if !slices.Equal(got, want) {
		t.Errorf("hosts %q, want %q", got, want)
	}
}

func TestParseHostListErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"127.0.0.1\nweb db\n", "line 2: 2 words, want one host per line"},
		{"ok\nbad..name\n", "line 2: invalid name"},
		{strings.Repeat("a", 300) + "\n", "line 1: invalid name"},
		{"x\n" + strings.Repeat("#", maxHostLine+1) + "\n", "line 2: longer than 4096 bytes"},
		{strings.Repeat("h\n", MaxTargets+1), "line 10001: more than 10000 hosts"},
	} {
		_, err := ParseHostList(strings.NewReader(tc.in))
		var he *HostListError
		if !errors.As(err, &he) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%.30q: error %v, want a *HostListError with %q", tc.in, err, tc.want)
		}
	}
}

// FuzzParseHostList checks that any input either fails with a
// *HostListError or gives hosts that are IP literals or names the resolver
// accepts, one word each, without '#'.
func FuzzParseHostList(f *testing.F) {
	f.Add("127.0.0.1\n::1\nlocalhost # me\n")
	f.Add("# only a comment\n\n")
	f.Add("a b\n")
	f.Add("fe80::1%eth0\n")
	f.Fuzz(func(t *testing.T, in string) {
		hosts, err := ParseHostList(strings.NewReader(in))
		if err != nil {
			var he *HostListError
			if !errors.As(err, &he) || he.Line < 1 {
				t.Fatalf("error %v (%T) is not a *HostListError with a line", err, err)
			}
			return
		}
		for _, h := range hosts {
			if strings.ContainsAny(h, "# \t\r\n") {
				t.Fatalf("host %q holds a separator", h)
			}
			if _, err := netip.ParseAddr(h); err != nil && resolve.CheckName(h) != nil {
				t.Fatalf("host %q is neither an address nor a valid name", h)
			}
		}
	})
}
