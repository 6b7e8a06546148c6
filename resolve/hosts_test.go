package resolve

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/netkit/netkit/fileread"
	"github.com/netkit/netkit/internal/testenv"
)

const lintHosts = "127.0.0.1\tlocalhost\n" +
	"::1 localhost ip6-localhost\n" +
	"# comment line\n" +
	"\n" +
	"10.0.0.5 db.internal db # primary\n" +
	"10.0.0.6 db.internal\n" +
	"127.0.0.300 broken.test\n" +
	"fe80::1%eth0 router.test\n" +
	"127.0.0.8\n" +
	"127.0.0.9 good.test ; old-comment\n" +
	"192.0.2.1 localhost\n" +
	"10.0.0.5 db.internal\n" +
	"127.0.0.10 under_score.test -bad-.test\r\n" +
	"2001:db8::1 db.internal\n"

func kinds(ps []Problem) []string {
	var out []string
	for _, p := range ps {
		out = append(out, fmt.Sprintf("%d:%s", p.Line, p.Kind))
	}
	return out
}

func TestParseHosts(t *testing.T) {
	hf, err := ParseHosts(strings.NewReader(lintHosts), "test")
	if err != nil {
		t.Fatal(err)
	}
	if hf.Lines != 14 {
		t.Errorf("lines %d, want 14", hf.Lines)
	}
	if len(hf.Entries) != 9 {
		t.Errorf("%d entries, want 9: %+v", len(hf.Entries), hf.Entries)
	}
	// The carriage return of a DOS line ending separates fields, as in glibc.
	last := hf.Entries[len(hf.Entries)-2]
	if last.Line != 13 || !slices.Equal(last.Names, []string{"under_score.test", "-bad-.test"}) {
		t.Errorf("line 13 parsed as %+v", last)
	}
	got := hf.Lookup("DB.internal", AnyFamily)
	var lines []int
	for _, m := range got {
		lines = append(lines, m.Line)
	}
	if !slices.Equal(lines, []int{5, 6, 12, 14}) {
		t.Errorf("db.internal on lines %v, want 5, 6, 12, 14", lines)
	}
	if m := hf.Lookup("db.internal", IPv6); len(m) != 1 || m[0].Address != netip.MustParseAddr("2001:db8::1") {
		t.Errorf("IPv6 lookup %+v", m)
	}
	// glibc answers IPv4 lookups of a "::1" line with 127.0.0.1.
	if m := hf.Lookup("ip6-localhost", IPv4); len(m) != 1 || m[0].Address != netip.MustParseAddr("127.0.0.1") || m[0].Canonical != "localhost" {
		t.Errorf("ip6-localhost IPv4 lookup %+v", m)
	}
}

func TestCheckHosts(t *testing.T) {
	hf, err := ParseHosts(strings.NewReader(lintHosts), "test")
	if err != nil {
		t.Fatal(err)
	}
	got := kinds(hf.Check(CheckOptions{Hostname: "box"}))
	want := []string{
		"0:hostname-missing",
		"6:conflict",
		"7:malformed-address",
		"8:malformed-address",
		"9:no-names",
		"10:invalid-name", // ";" (trailing junk); "old-comment" is a valid host name
		"11:conflict", "11:localhost",
		"12:duplicate",
		"13:invalid-name", "13:invalid-name",
	}
	if !slices.Equal(got, want) {
		t.Errorf("problems\n got %v\nwant %v", got, want)
	}
	for _, p := range hf.Check(CheckOptions{Hostname: "box"}) {
		if p.Message == "" || p.Severity == "" {
			t.Errorf("problem without words: %+v", p)
		}
		if p.Kind == KindConflict && p.Line == 6 && !strings.Contains(p.Message, "glibc returns both: gethostbyname in file order (line 5 first)") {
			t.Errorf("conflict does not say what glibc returns: %s", p.Message)
		}
	}
	// localhost on another loopback address is a warning; off loopback, an error.
	other, _ := ParseHosts(strings.NewReader("127.0.1.1 localhost\n::ffff:127.0.0.1 localhost\n10.0.0.1 localhost\n"), "other")
	var local []string
	for _, p := range other.Check(CheckOptions{}) {
		if p.Kind == KindLocalhost {
			local = append(local, fmt.Sprintf("%d:%s", p.Line, p.Severity))
		}
	}
	if want := []string{"1:warning", "2:warning", "3:error"}; !slices.Equal(local, want) {
		t.Errorf("localhost problems %v, want %v", local, want)
	}
	clean, _ := ParseHosts(strings.NewReader("127.0.0.1 localhost\n::1 localhost\n127.0.1.1 box.example box\n"), "clean")
	if ps := clean.Check(CheckOptions{Hostname: "box"}); len(ps) != 0 {
		t.Errorf("clean file has problems: %+v", ps)
	}
	if ps := clean.Check(CheckOptions{Hostname: "other"}); !slices.Equal(kinds(ps), []string{"0:hostname-missing"}) {
		t.Errorf("missing host name not reported: %+v", ps)
	}
}

func TestIgnoredMentions(t *testing.T) {
	hf, err := ParseHosts(strings.NewReader(lintHosts), "test")
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{
		"BROKEN.test": `7 127.0.0.300 [broken.test] "127.0.0.300" is not an IPv4 or IPv6 address`,
		"router.test": `8 fe80::1%eth0 [router.test] "fe80::1%eth0" has a zone (%eth0), which the hosts file cannot carry`,
		"localhost":   "",
	} {
		got := ""
		for _, l := range hf.IgnoredMentions(name) {
			got += fmt.Sprintf("%d %s %v %s", l.Line, l.Address, l.Names, l.Reason)
		}
		if got != want {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
	}
}

func TestParseHostsLongLine(t *testing.T) {
	long := "127.0.0.1 " + strings.Repeat("a", maxHostsLine) + "\n127.0.0.2 after.test\n"
	hf, err := ParseHosts(strings.NewReader(long), "long")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(kinds(hf.syntax), []string{"1:line-too-long"}) || len(hf.Lookup("after.test", AnyFamily)) != 1 {
		t.Errorf("long line: problems %v, entries %+v", kinds(hf.syntax), hf.Entries)
	}
}

func TestReadHostsFileErrors(t *testing.T) {
	if _, err := ReadHostsFile(filepath.Join(t.TempDir(), "missing")); !os.IsNotExist(unwrapAll(err)) {
		t.Errorf("missing file: %v", err)
	}
}

func unwrapAll(err error) error {
	for {
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return err
		}
		err = u.Unwrap()
	}
}

// FuzzParseHosts checks that any input parses without panic into entries
// that hold valid addresses and names, on increasing lines.
func FuzzParseHosts(f *testing.F) {
	f.Add([]byte(lintHosts))
	f.Add([]byte("127.0.0.1 localhost\n"))
	f.Add([]byte("::1\tlocalhost # c\r\n\x00\xff"))
	f.Fuzz(func(t *testing.T, data []byte) {
		hf, err := ParseHosts(bytes.NewReader(data), "fuzz")
		if err != nil {
			t.Fatal(err)
		}
		prev := 0
		for _, e := range hf.Entries {
			if !e.Address.IsValid() || e.Address.Zone() != "" || len(e.Names) == 0 || e.Line <= prev || e.Line > hf.Lines {
				t.Fatalf("bad entry %+v", e)
			}
			prev = e.Line
			for _, n := range e.Names {
				if n == "" || strings.ContainsAny(n, " \t#\n") {
					t.Fatalf("bad name %q", n)
				}
				if len(hf.Lookup(n, AnyFamily)) == 0 {
					t.Fatalf("name %q not found again", n)
				}
				for _, fam := range []Family{AnyFamily, IPv4, IPv6} {
					streamed, err := lookupHosts(bytes.NewReader(data), n, fam)
					if want := hf.Lookup(n, fam); err != nil || !slices.Equal(streamed, want) {
						t.Fatalf("lookup of %q (%v) streamed: %+v, %v; parsed: %+v", n, fam, streamed, err, want)
					}
				}
			}
		}
		hf.Check(CheckOptions{Hostname: "box"})
	})
}

// hostsLines returns a hosts file of n lines, localhost first.
func hostsLines(n int) []byte {
	var buf bytes.Buffer
	buf.WriteString("127.0.0.1 localhost\n::1 localhost\n")
	for i := 2; i < n; i++ {
		fmt.Fprintf(&buf, "10.%d.%d.%d host%d.example.test host%d # generated\n", i>>16&0xff, i>>8&0xff, i&0xff, i, i)
	}
	return buf.Bytes()
}

// BenchmarkLookupHosts1M compares a lookup in a hosts file of 1,000,000
// lines read as a stream (LookupHostsFile, what resolve, ping and diagnose
// do) with parsing the whole file first (ReadHostsFile, what 'netkit hosts
// NAME' does), and times the parse and Check of 'netkit hosts'. Compare
// B/op and ns/op.
func BenchmarkLookupHosts1M(b *testing.B) {
	path := filepath.Join(b.TempDir(), "hosts")
	if err := os.WriteFile(path, hostsLines(1_000_000), 0o644); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.Run("stream", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if m, err := LookupHostsFile(ctx, path, "host999999", AnyFamily); err != nil || len(m) != 1 {
				b.Fatal(m, err)
			}
		}
	})
	b.Run("parse", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			hf, err := ReadHostsFileContext(ctx, path)
			if err != nil || len(hf.Lookup("host999999", AnyFamily)) != 1 {
				b.Fatal(err)
			}
		}
	})
	b.Run("check", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			hf, err := ReadHostsFileContext(ctx, path)
			if err != nil {
				b.Fatal(err)
			}
			if p := hf.Check(CheckOptions{}); len(p) != 0 {
				b.Fatalf("problems %v, want none", p)
			}
		}
	})
}

// TestHostsFileBounded: a hosts file that never ends (/dev/zero) is refused
// at MaxHostsFile, by lookups and by the full parse alike, and a read that
// waits for ever (a FIFO) ends with its context.
func TestHostsFileBounded(t *testing.T) {
	ctx := context.Background()
	if _, err := LookupHostsFile(ctx, "/dev/zero", "x", AnyFamily); !errors.Is(err, fileread.ErrTooLarge) {
		t.Errorf("lookup in /dev/zero: %v, want ErrTooLarge", err)
	}
	_, err := ReadHostsFileContext(ctx, "/dev/zero")
	var fe *FileError
	if !errors.As(err, &fe) || !errors.Is(err, fileread.ErrTooLarge) || !strings.Contains(err.Error(), "cannot read hosts file /dev/zero: file too large: more than 64 MiB, the limit") {
		t.Errorf("parse of /dev/zero: %v, want a FileError wrapping ErrTooLarge", err)
	}

	fifo, w := testenv.StalledFIFO(t)
	w.Write([]byte("127.0.0.1 x\n"))
	testenv.StopsOnCancel(t, "the hosts file read", func(ctx context.Context) error {
		_, err := LookupHostsFile(ctx, fifo, "x", AnyFamily)
		return err
	})
}

// BenchmarkCheckHosts100k parses and checks a hosts file of 100,000 lines.
func BenchmarkCheckHosts100k(b *testing.B) {
	data := hostsLines(100_000)
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for b.Loop() {
		hf, err := ParseHosts(bytes.NewReader(data), "bench")
		if err != nil {
			b.Fatal(err)
		}
		if ps := hf.Check(CheckOptions{Hostname: "host2"}); len(ps) != 0 {
			b.Fatalf("problems: %v", ps[:1])
		}
	}
}
