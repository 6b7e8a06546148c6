package output

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestEscape(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"plain.example", "plain.example"},
		{"café ünïcode 名前", "café ünïcode 名前"},
		{"\x1b[31mred", `\x1b[31mred`},
		{"\xc2\x9b31mX.example", `\u009b31mX.example`}, // C1 CSI, as in 'ping $'\xc2\x9b31mX.example''
		{"\x9b31m", `\x9b31m`},                         // the same byte alone: not UTF-8
		{"a\tb\nc\rd\x00e\x7f", `a\tb\nc\rd\x00e\x7f`},
		{"\u202eevil", `\u202eevil`},
		{"bad \xff\xfe utf8", `bad \xff\xfe utf8`},
		{`back\slash`, `back\slash`},
	} {
		if got := Escape(tt.in); got != tt.want {
			t.Errorf("Escape(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// FuzzEscape: the result never holds a character Escape escapes, is valid
// UTF-8, and text with nothing to escape comes back as it is.
func FuzzEscape(f *testing.F) {
	f.Add("\xc2\x9b31mX")
	f.Add("plain")
	f.Add("\x1b]0;title\x07")
	f.Fuzz(func(t *testing.T, s string) {
		got := Escape(s)
		if !utf8.ValidString(got) || strings.ContainsFunc(got, mustEscape) {
			t.Fatalf("Escape(%q) = %q still has a control character", s, got)
		}
		if !strings.ContainsFunc(s, mustEscape) && got != s {
			t.Fatalf("Escape(%q) = %q changed clean text", s, got)
		}
	})
}

// TestPeerTextEscaped: a table cell and a JSON string holding a C1 CSI
// and an ESC reach the stream escaped.
func TestPeerTextEscaped(t *testing.T) {
	s, _, out, _ := Test()
	tbl := Table{Header: []string{"Name"}}
	tbl.Append("\xc2\x9b31mX\x1b[2J")
	if err := tbl.Print(s, false); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); strings.ContainsAny(got, "\x1b\u009b") || !strings.Contains(got, `\u009b31mX\x1b[2J`) {
		t.Errorf("table: %q", got)
	}
	out.Reset()
	if err := PrintJSON(out, map[string]string{"name": "\xc2\x9b31mX\x1b[2J\u202e"}); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); strings.ContainsAny(got, "\x1b\u009b\u202e") || !strings.Contains(got, `"\u009b31mX\u001b[2J\u202e"`) {
		t.Errorf("JSON: %q", got)
	}
}
