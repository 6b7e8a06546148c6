package output

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

func TestTablePlainWhenPiped(t *testing.T) {
	s, _, out, _ := Test()
	tbl := Table{Header: []string{"Proto", "Recv-Q", "Local Address"}}
	tbl.Append("tcp", "0", "127.0.0.1:22")
	tbl.Append("tcp6", "", "[::1]:443")
	if err := tbl.Print(s, false); err != nil {
		t.Fatal(err)
	}
	want := "Proto  Recv-Q  Local Address\n" +
		"tcp    0       127.0.0.1:22\n" +
		"tcp6   -       [::1]:443\n"
	if out.String() != want {
		t.Errorf("got\n%q\nwant\n%q", out.String(), want)
	}
	out.Reset()
	tbl.Print(s, true)
	if strings.Contains(out.String(), "Proto") {
		t.Errorf("--no-header printed the header: %q", out.String())
	}
}

func TestTableOnTerminal(t *testing.T) {
	s, _, out, _ := Test()
	s.OutTTY = true
	tbl := Table{Header: []string{"Recv-Q", "Foreign Address"}}
	tbl.Append("0", "*:*")
	if err := tbl.Print(s, false); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimRight(out.String(), "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("want header, rule and row, got %q", out.String())
	}
	if !strings.Contains(lines[0], "Recv-Q") || !strings.Contains(lines[0], "Foreign Address") {
		t.Errorf("header was reformatted: %q", lines[0])
	}
	if !strings.Contains(lines[1], "─") {
		t.Errorf("no rule under the header: %q", lines[1])
	}
	if f := strings.Fields(lines[2]); len(f) != 2 || f[0] != "0" || f[1] != "*:*" {
		t.Errorf("row %q", lines[2])
	}
}

func TestPrintJSON(t *testing.T) {
	var b bytes.Buffer
	if err := PrintJSON(&b, struct {
		Name string `json:"name"`
	}{"x"}); err != nil {
		t.Fatal(err)
	}
	if want := "{\n  \"schema_version\": 1,\n  \"name\": \"x\"\n}\n"; b.String() != want {
		t.Errorf("got %q want %q", b.String(), want)
	}
	b.Reset()
	if err := PrintJSON(&b, struct{}{}); err != nil || !strings.Contains(b.String(), `"schema_version": 1`) {
		t.Errorf("empty object: %v %q", err, b.String())
	}
	if err := PrintJSON(&b, []int{1}); err == nil {
		t.Error("a JSON array was accepted as a document")
	}
}

func TestLines(t *testing.T) {
	var b bytes.Buffer
	l := NewLines(&b)
	l.Emit("reply", struct {
		Seq int `json:"seq"`
	}{3})
	l.Emit("summary", struct{}{})
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("%q", b.String())
	}
	var ev map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &ev); err != nil {
		t.Fatal(err)
	}
	if ev["type"] != "reply" || ev["schema_version"] != 1.0 || ev["seq"] != 3.0 {
		t.Errorf("event %v", ev)
	}
	if !strings.HasPrefix(lines[0], `{"type":"reply","schema_version":1,`) {
		t.Errorf("type does not come first: %s", lines[0])
	}
}

func TestOptions(t *testing.T) {
	for _, tc := range []struct {
		args      []string
		streaming bool
		want      Format
		err       string
	}{
		{nil, false, FormatTable, ""},
		{[]string{"--json"}, false, FormatJSON, ""},
		{[]string{"--format", "JSON"}, false, FormatJSON, ""},
		{[]string{"--format", "jsonl"}, true, FormatJSONL, ""},
		{[]string{"--format", "jsonl"}, false, "", `invalid --format "jsonl": want one of table, json`},
		{[]string{"--json", "--format", "jsonl"}, true, "", "--json and --format jsonl cannot be used together"},
		{[]string{"--format", "xml"}, true, "", `invalid --format "xml": want one of table, json, jsonl`},
	} {
		var o Options
		fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
		o.AddFlags(fs, tc.streaming)
		if err := fs.Parse(tc.args); err != nil {
			t.Fatal(err)
		}
		err := o.Resolve()
		switch {
		case tc.err != "" && (err == nil || err.Error() != tc.err):
			t.Errorf("%v: error %v, want %q", tc.args, err, tc.err)
		case tc.err == "" && (err != nil || o.Format != tc.want):
			t.Errorf("%v: %v %v, want %v", tc.args, o.Format, err, tc.want)
		}
	}
}

func TestStatusOnlyOnTerminal(t *testing.T) {
	s, _, _, errOut := Test()
	s.Status("sending 10/100")
	if errOut.Len() != 0 {
		t.Errorf("status written to a non-terminal: %q", errOut.String())
	}
	s.ErrTTY = true
	s.Status("sending 10/100")
	s.Status("")
	if got := errOut.String(); got != "\r\x1b[Ksending 10/100\r\x1b[K" {
		t.Errorf("status %q", got)
	}
}

// TestAlignedMatchesTablewriter checks that the layout used for long tables
// on a terminal is the one tablewriter draws for short ones.
func TestAlignedMatchesTablewriter(t *testing.T) {
	sockets := Table{Header: []string{"Proto", "Recv-Q", "Send-Q", "Local Address", "Foreign Address", "State", "PID/Program"}}
	sockets.Append("tcp", "0", "0", "127.0.0.1:22", "*:*", "LISTEN", "812/sshd")
	sockets.Append("tcp6", "1000", "0", "[::ffff:127.0.0.1]:8080", "[::ffff:127.0.0.1]:51234", "ESTABLISHED", "-")
	sockets.Append("udp", "", "", "*:53", "*:*", "UNCONN", "")
	wide := Table{Header: []string{"PID", "Program", "Command"}}
	wide.Append("1", "日本語", "café  (e + U+0301: cafe\u0301)")
	wide.Append("22", "🙂 smile", " leading and trailing spaces ")
	wide.Append("333", "Ωmega", "cafe\u0301")
	headerOnly := Table{Header: []string{"A", "Bb"}}
	for name, tbl := range map[string]Table{"sockets": sockets, "wide": wide, "header only": headerOnly} {
		for _, noHeader := range []bool{false, true} {
			var got, want bytes.Buffer
			if err := tbl.printAligned(&got, noHeader); err != nil {
				t.Fatal(err)
			}
			if err := tbl.printTablewriter(&want, noHeader); err != nil {
				t.Fatal(err)
			}
			if got.String() != want.String() {
				t.Errorf("%s, no header %v:\ngot\n%s\nwant (tablewriter)\n%s", name, noHeader, got.String(), want.String())
			}
		}
	}
}

// TestLongTableOnTerminal checks that a long table on a terminal is laid
// out without tablewriter's cost per cell (a few allocations in all, not
// tens per row), and that a cell tablewriter must handle itself (a line
// break) keeps the table with tablewriter.
func TestLongTableOnTerminal(t *testing.T) {
	tbl := Table{Header: []string{"Proto", "Local Address", "State"}}
	for i := range alignedMinRows {
		tbl.Append("tcp", "127.0.0.1:"+strconv.Itoa(1024+i), "ESTABLISHED")
	}
	s, _, out, _ := Test()
	s.OutTTY = true
	if allocs := testing.AllocsPerRun(3, func() {
		out.Reset()
		if err := tbl.Print(s, false); err != nil {
			t.Fatal(err)
		}
	}); allocs > 50 {
		t.Errorf("%d rows on a terminal: %.0f allocations, want a handful", len(tbl.Rows), allocs)
	}
	var want bytes.Buffer
	if err := tbl.printTablewriter(&want, false); err != nil {
		t.Fatal(err)
	}
	if out.String() != want.String() {
		t.Errorf("a long table does not look like a short one")
	}

	// A line break is escaped, and aligned as the two characters \n.
	tbl.Rows[0][2] = "two\nlines"
	out.Reset()
	want.Reset()
	if err := tbl.Print(s, false); err != nil {
		t.Fatal(err)
	}
	if err := tbl.escaped().printTablewriter(&want, false); err != nil {
		t.Fatal(err)
	}
	if out.String() != want.String() || !strings.Contains(out.String(), ` two\nlines `) {
		t.Errorf("a cell with a line break was not escaped and aligned")
	}
}

// TestColor checks when colour is written: on a terminal only, never with
// NO_COLOR (no-color.org) or --color never, always with --color always.
func TestColor(t *testing.T) {
	for _, tc := range []struct {
		mode    ColorMode
		tty     bool
		noColor string
		want    bool
	}{
		{ColorAuto, true, "", true},
		{ColorAuto, false, "", false},
		{ColorAuto, true, "1", false},
		{ColorNever, true, "", false},
		{ColorAlways, false, "", true},
		{ColorAlways, false, "1", true},
	} {
		t.Setenv("NO_COLOR", tc.noColor)
		s, _, out, errOut := Test()
		s.OutTTY, s.ErrTTY = tc.tty, tc.tty
		if err := s.SetColor(tc.mode); err != nil {
			t.Fatal(err)
		}
		s.Printf("%s\n", s.Paint(Fail, "x"))
		s.Warnf("w")
		if got := strings.Contains(out.String(), "\x1b[31mx\x1b[0m"); got != tc.want {
			t.Errorf("%+v: out %q, coloured %v, want %v", tc, out, got, tc.want)
		}
		if got := strings.Contains(errOut.String(), "\x1b[33mWARNING\x1b[0m"); got != tc.want {
			t.Errorf("%+v: stderr %q, coloured %v, want %v", tc, errOut, got, tc.want)
		}
		if !tc.want && strings.Contains(out.String()+errOut.String(), "\x1b") {
			t.Errorf("%+v: escape codes written: %q %q", tc, out, errOut)
		}
	}
	s, _, _, _ := Test()
	if err := s.SetColor("sometimes"); err == nil || !strings.Contains(err.Error(), `"sometimes"`) {
		t.Errorf("bad mode: %v", err)
	}
}

// BenchmarkTable lays out 40,000 rows of sockets-like cells the three ways
// a table can go: tablewriter and printAligned on a terminal, printPlain
// for a pipe. The ratio of tablewriter to printAligned is why
// alignedMinRows exists.
func BenchmarkTable(b *testing.B) {
	t := Table{Header: []string{"Proto", "Recv-Q", "Send-Q", "Local Address", "Foreign Address", "State", "PID/Program"}}
	for i := range 40000 {
		t.Append("tcp", "0", "0", fmt.Sprintf("127.0.0.1:%d", 1024+i%60000), "127.0.0.1:443", "ESTABLISHED", fmt.Sprintf("%d/server", 1000+i%50))
	}
	for _, m := range []struct {
		name  string
		print func(io.Writer, bool) error
	}{{"tablewriter", t.printTablewriter}, {"aligned", t.printAligned}, {"plain", t.printPlain}} {
		b.Run(m.name, func(b *testing.B) {
			for b.Loop() {
				if err := m.print(io.Discard, false); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
