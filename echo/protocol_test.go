package echo

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestFrameRoundTrip(t *testing.T) {
	msgs := []Message{
		NewMessage(ContentTypeBinary, "binary", []byte("hello")),
		NewMessage(ContentTypeBinary, "binary", nil),
		NewMessage("binary/custom-client-binary-type", "binary", bytes.Repeat([]byte{0, 1, 0xff}, 50000)),
		NewMessage(`type "with" \ quotes`, "ütf-8\n", []byte{0x20}),
		{Header: Header{ByteOrder: BigEndian, ContentType: ContentTypeJSON, ContentEncoding: "utf-8", ContentLength: 2}, Content: []byte("{}")},
	}
	var stream []byte
	for _, m := range msgs {
		var err error
		if stream, err = AppendFrame(stream, m); err != nil {
			t.Fatal(err)
		}
	}
	r := NewReader(bytes.NewReader(stream), 0, 0)
	for i, want := range msgs {
		got, err := r.Read()
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if got.Header != want.Header || !bytes.Equal(got.Content, want.Content) {
			t.Errorf("message %d: got %+v (%d bytes), want %+v (%d bytes)", i, got.Header, len(got.Content), want.Header, len(want.Content))
		}
		// EchoFrame encodes in place what AppendFrame encodes.
		echoed, err := r.EchoFrame(got.Header)
		if err != nil {
			t.Fatal(err)
		}
		if appended, _ := AppendFrame(nil, want); !bytes.Equal(echoed, appended) {
			t.Errorf("message %d: EchoFrame gives %q, AppendFrame %q", i, echoed[:20], appended[:20])
		}
	}
	if _, err := r.EchoFrame(Header{ByteOrder: BigEndian, ContentType: "a", ContentLength: 3}); err == nil {
		t.Error("EchoFrame with another content length succeeded")
	}
	if _, err := r.Read(); err != io.EOF {
		t.Errorf("after the last frame: %v, want io.EOF", err)
	}
}

// frame builds a frame by hand: the 2-byte big-endian length, the header
// text as given, then the content.
func frame(header, content string) []byte {
	b := binary.BigEndian.AppendUint16(nil, uint16(len(header)))
	return append(append(b, header...), content...)
}

func TestReadErrors(t *testing.T) {
	long := `{"byteorder":"little","content-type":"` + strings.Repeat("x", DefaultMaxHeaderLength) + `"}`
	tests := []struct {
		name   string
		stream []byte
		want   error  // errors.Is target
		detail string // in the message
	}{
		{"not JSON", frame(`{"byteorder": little}`, ""), ErrBadHeader, "header is not JSON"},
		{"not an object", frame(`["byteorder"]`, ""), ErrBadHeader, "not a JSON object"},
		{"not UTF-8", frame("{\"byteorder\":\"\xff\"}", ""), ErrBadHeader, "not valid UTF-8"},
		{"missing key", frame(`{"byteorder":"little","content-type":"a","content-length":0}`, ""), ErrBadHeader, `missing key "content-encoding"`},
		{"key case", frame(`{"ByteOrder":"little","content-type":"a","content-encoding":"","content-length":0}`, ""), ErrBadHeader, `missing key "byteorder"`},
		{"length is a string", frame(`{"byteorder":"little","content-type":"a","content-encoding":"","content-length":"5"}`, "hello"), ErrBadHeader, `"content-length" must be an integer, not a string`},
		{"length is a fraction", frame(`{"byteorder":"little","content-type":"a","content-encoding":"","content-length":1.5}`, "hello"), ErrBadHeader, "must be an integer, not 1.5"},
		{"length is negative", frame(`{"byteorder":"little","content-type":"a","content-encoding":"","content-length":-1}`, ""), ErrBadHeader, "negative"},
		{"type is a number", frame(`{"byteorder":"little","content-type":7,"content-encoding":"","content-length":0}`, ""), ErrBadHeader, `"content-type" must be a string, not a number`},
		{"encoding is null", frame(`{"byteorder":"little","content-type":"a","content-encoding":null,"content-length":0}`, ""), ErrBadHeader, "not null"},
		{"bad byteorder", frame(`{"byteorder":"middle","content-type":"a","content-encoding":"","content-length":0}`, ""), ErrBadHeader, `byteorder "middle"`},
		{"empty type", frame(`{"byteorder":"big","content-type":"","content-encoding":"","content-length":0}`, ""), ErrBadHeader, "content-type is empty"},
		{"duplicate key", frame(`{"byteorder":"big","content-type":"a","content-type":"b","content-encoding":"","content-length":0}`, ""), ErrBadHeader, `"content-type" appears twice`},
		{"header too long", frame(long, ""), ErrHeaderTooLong, "the limit is 8191"},
		{"content too long", frame(`{"byteorder":"big","content-type":"a","content-encoding":"","content-length":1025}`, ""), ErrContentTooLong, "content-length 1025, the limit is 1024"},
		{"length overflows", frame(`{"byteorder":"big","content-type":"a","content-encoding":"","content-length":99999999999999999999}`, ""), ErrContentTooLong, "99999999999999999999"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewReader(bytes.NewReader(tt.stream), 0, 1024).Read()
			var pe *ProtocolError
			if !errors.Is(err, tt.want) || !errors.As(err, &pe) {
				t.Fatalf("got %v, want a *ProtocolError wrapping %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.detail) {
				t.Errorf("error %q does not say %q", err, tt.detail)
			}
		})
	}
}

// TestReadAllocs: reading a steady stream of frames of one shape allocates
// nothing per frame (the header's strings are reused).
func TestReadAllocs(t *testing.T) {
	one, err := AppendFrame(nil, NewMessage("binary/custom-client-binary-type", "binary", bytes.Repeat([]byte("x"), 1000)))
	if err != nil {
		t.Fatal(err)
	}
	const n = 200
	stream := bytes.Repeat(one, n+1)
	r := NewReader(bytes.NewReader(stream), 0, 0)
	r.Read() // the first frame allocates the buffers
	allocs := testing.AllocsPerRun(n-1, func() {
		m, err := r.Read()
		if err != nil || len(m.Content) != 1000 {
			t.Fatal(m.Header, err)
		}
		if _, err := r.EchoFrame(m.Header); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("%.1f allocations per frame, want 0", allocs)
	}
}

// TestReaderRelease: a large message is read into a buffer no larger than
// its content needs, Release gives that buffer up, and the next message is
// read into a new one.
func TestReaderRelease(t *testing.T) {
	big, err := AppendFrame(nil, NewMessage(ContentTypeBinary, "binary", make([]byte, DefaultMaxContentLength-1)))
	if err != nil {
		t.Fatal(err)
	}
	one, err := AppendFrame(nil, NewMessage(ContentTypeBinary, "binary", []byte("small")))
	if err != nil {
		t.Fatal(err)
	}
	r := NewReader(bytes.NewReader(append(big, one...)), 0, 0)
	if _, err := r.Read(); err != nil {
		t.Fatal(err)
	}
	if c := cap(r.buf); c != r.room+DefaultMaxContentLength-1 {
		t.Errorf("a %d-byte message was read into a buffer of %d bytes, want %d", DefaultMaxContentLength-1, c, r.room+DefaultMaxContentLength-1)
	}
	r.Release()
	if r.buf != nil {
		t.Errorf("after Release the Reader holds %d bytes", cap(r.buf))
	}
	if m, err := r.Read(); err != nil || string(m.Content) != "small" {
		t.Fatalf("after Release: %q, %v", m.Content, err)
	}
}

// headerStem is a header for 5 content bytes in netkit's own encoding (so
// that EchoFrame writes it back unchanged), with an empty content type.
const headerStem = `{"byteorder":"big","content-type":"","content-encoding":"binary","content-length":5}`

// headerOf returns headerStem made n bytes long by its content type.
func headerOf(n int) string {
	return strings.Replace(headerStem, `"content-type":""`, `"content-type":"`+strings.Repeat("t", n-len(headerStem))+`"`, 1)
}

// TestReaderHeaderLimit: a Reader takes headers up to its limit, also those
// longer than its buffer, echoes them back, and refuses longer ones.
func TestReaderHeaderLimit(t *testing.T) {
	for _, tt := range []struct {
		limit, n int
		ok       bool
	}{
		{0, DefaultMaxHeaderLength, true},
		{0, DefaultMaxHeaderLength + 1, false},
		{20000, 20000, true}, // longer than the Reader's buffer
		{20000, 20001, false},
		{1 << 20, MaxHeaderLimit, true}, // the limit is capped at what a prefix can say
	} {
		stream := frame(headerOf(tt.n), "hello")
		r := NewReader(bytes.NewReader(stream), tt.limit, 0)
		m, err := r.Read()
		if !tt.ok {
			if !errors.Is(err, ErrHeaderTooLong) {
				t.Errorf("limit %d, header of %d bytes: %v, want ErrHeaderTooLong", tt.limit, tt.n, err)
			}
			continue
		}
		if err != nil || string(m.Content) != "hello" || len(m.ContentType) != tt.n-len(headerStem) {
			t.Errorf("limit %d, header of %d bytes: %v, %q", tt.limit, tt.n, err, m.Content)
			continue
		}
		if echoed, err := r.EchoFrame(m.Header); err != nil || !bytes.Equal(echoed, stream) {
			t.Errorf("limit %d, header of %d bytes: EchoFrame %v, %d bytes, want the frame back", tt.limit, tt.n, err, len(echoed))
		}
	}
}

func TestReadTruncated(t *testing.T) {
	full := frame(`{"byteorder":"big","content-type":"a","content-encoding":"","content-length":5}`, "hello")
	for n := 1; n < len(full); n++ {
		_, err := NewReader(bytes.NewReader(full[:n]), 0, 0).Read()
		if err != io.ErrUnexpectedEOF {
			t.Fatalf("frame cut after %d bytes: %v, want io.ErrUnexpectedEOF", n, err)
		}
	}
}

func TestParseHeaderAccepts(t *testing.T) {
	// What the Python tutorial's client sends (json.dumps, ensure_ascii=False),
	// with an extra nested key and escapes.
	h, err := ParseHeader([]byte(` { "byteorder": "little", "extra": {"a": [1, "}\"", {}]}, "content-type": "text/json",` +
		` "content-encoding": "utf\u002d8", "content-length": 42 , "z": null } `))
	if err != nil {
		t.Fatal(err)
	}
	want := Header{ByteOrder: "little", ContentType: "text/json", ContentEncoding: "utf-8", ContentLength: 42}
	if h != want {
		t.Errorf("got %+v, want %+v", h, want)
	}
}

// TestParseHeaderSyntax checks the scanner's view of JSON syntax against
// encoding/json on the corners of the grammar.
func TestParseHeaderSyntax(t *testing.T) {
	const keys = `"byteorder":"big","content-type":"a","content-encoding":"","content-length":0`
	for _, extra := range []string{
		`1`, `-0`, `01`, `1.`, `.5`, `-`, `1e`, `1e+`, `1E-7`, `0.5e10`, `- 1`, `+1`, `1.5.5`,
		`"\u00e9"`, `"\u00"`, `"\x41"`, `"\/"`, "\"tab\there\"", `"unterminated`,
		`true`, `tru`, `nul`, `falsey`, `[]`, `[1,]`, `[,1]`, `[1 2]`, `{}`, `{"a":1,}`, `{"a" 1}`, `{1:2}`,
		`{"a":{"b":[{"c":[]}]}}`, strings.Repeat("[", 500) + strings.Repeat("]", 500), strings.Repeat("[", 500) + strings.Repeat("]", 499),
		strings.Repeat("[", maxNesting-1) + strings.Repeat("]", maxNesting-1), strings.Repeat("[", maxNesting) + strings.Repeat("]", maxNesting),
	} {
		for _, doc := range []string{`{` + keys + `,"x":` + extra + `}`, `{"x":` + extra + `,` + keys + `}`} {
			_, err := ParseHeader([]byte(doc))
			if _, ok := oracleHeader([]byte(doc)); ok != (err == nil) {
				t.Errorf("%s: ParseHeader says %v, encoding/json ok=%v", doc, err, ok)
			}
		}
	}
	for _, doc := range []string{`{` + keys + `}}`, `{` + keys + `} x`, `{` + keys + `,}`, ` {` + keys + "}\n", `{}`, `{` + keys + `}{}`} {
		_, err := ParseHeader([]byte(doc))
		if _, ok := oracleHeader([]byte(doc)); ok != (err == nil) {
			t.Errorf("%s: ParseHeader says %v, encoding/json ok=%v", doc, err, ok)
		}
	}
}

// TestParseHeaderNesting: a header nested 4,045 levels deep, as an attacker
// sent one, is refused for its depth, with a small stack.
func TestParseHeaderNesting(t *testing.T) {
	doc := `{"byteorder":"big","content-type":"a","content-encoding":"","content-length":0,"x":` + strings.Repeat("[", 4045) + strings.Repeat("]", 4045) + `}`
	_, err := ParseHeader([]byte(doc))
	if !errors.Is(err, ErrBadHeader) || !strings.Contains(err.Error(), "header nests objects and arrays deeper than 64 levels (at byte 146)") {
		t.Errorf("got %v, want a bad header nested too deep", err)
	}
}

// TestProtocolDocHex checks that the hex example in docs/protocol.md is what
// the codec produces for the message the document describes.
func TestProtocolDocHex(t *testing.T) {
	doc, err := os.ReadFile("../docs/protocol.md")
	if err != nil {
		t.Fatal(err)
	}
	block := regexp.MustCompile("(?s)<!-- hex-example -->\\s*```\\n(.*?)```").FindSubmatch(doc)
	if block == nil {
		t.Fatal("docs/protocol.md has no hex example after <!-- hex-example -->")
	}
	var hexDigits strings.Builder
	for line := range strings.Lines(string(block[1])) {
		// "0000  00 5d 7b 22 …  |..{"…|": keep the hex columns only.
		line, _, _ = strings.Cut(line, "|")
		fields := strings.Fields(line)
		if len(fields) > 0 {
			hexDigits.WriteString(strings.Join(fields[1:], ""))
		}
	}
	got, err := hex.DecodeString(hexDigits.String())
	if err != nil {
		t.Fatal(err)
	}
	m, err := JSONMessage(Request{Action: "echo", Value: json.RawMessage(`"hi"`)})
	if err != nil {
		t.Fatal(err)
	}
	m.ByteOrder = LittleEndian // the document shows a little-endian sender
	want, err := AppendFrame(nil, m)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("docs/protocol.md hex example differs from the codec:\n doc:   %x\n codec: %x\n%s", got, want, hex.Dump(want))
	}
}

// FuzzParseHeader checks ParseHeader against encoding/json: both accept the
// same headers and read the same values, and nothing panics.
func FuzzParseHeader(f *testing.F) {
	f.Add([]byte(`{"byteorder": "little", "content-type": "text/json", "content-encoding": "utf-8", "content-length": 37}`))
	f.Add([]byte(`{"byteorder":"big","content-type":"a\u0000","content-encoding":"","content-length":0,"x":[{"}":"]"}]}`))
	f.Add([]byte(`{"byteorder":"little","content-type":1,"content-encoding":"","content-length":1e3}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := ParseHeader(b)
		want, ok := oracleHeader(b)
		if ok != (err == nil) {
			t.Fatalf("ParseHeader(%q) = %+v, %v; encoding/json says ok=%v (%+v)", b, h, err, ok, want)
		}
		if ok && h != want {
			t.Fatalf("ParseHeader(%q) = %+v, encoding/json reads %+v", b, h, want)
		}
		if err != nil {
			var pe *ProtocolError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v is not a *ProtocolError", err)
			}
			return
		}
		// A header that parses encodes back to one that parses the same.
		out, err := AppendFrame(nil, Message{Header: h, Content: make([]byte, h.ContentLength)})
		if h.ContentLength > 1<<20 {
			return
		}
		if err != nil {
			if errors.Is(err, ErrHeaderTooLong) {
				return
			}
			t.Fatal(err)
		}
		again, err := ParseHeader(out[2 : len(out)-h.ContentLength])
		if err != nil || again != h {
			t.Fatalf("re-encoded header %q parses as %+v, %v; want %+v", out, again, err, h)
		}
	})
}

// oracleHeader is ParseHeader's rules written with encoding/json.
func oracleHeader(b []byte) (Header, bool) {
	if len(b) > DefaultMaxHeaderLength || !json.Valid(b) || !utf8.Valid(b) || nesting(b) > maxNesting {
		return Header{}, false
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return Header{}, false
	}
	values := map[string]json.RawMessage{}
	for dec.More() {
		tok, _ := dec.Token()
		key := tok.(string)
		var v json.RawMessage
		dec.Decode(&v)
		if _, dup := values[key]; dup && isRequired(key) {
			return Header{}, false
		}
		values[key] = v
	}
	var h Header
	str := func(key string, dst *string) bool {
		v, ok := values[key]
		return ok && len(v) > 0 && v[0] == '"' && json.Unmarshal(v, dst) == nil
	}
	if !str(keyByteOrder, &h.ByteOrder) || !str(keyContentType, &h.ContentType) || !str(keyContentEncoding, &h.ContentEncoding) {
		return Header{}, false
	}
	v, ok := values[keyContentLength]
	if !ok || json.Unmarshal(v, &h.ContentLength) != nil {
		return Header{}, false
	}
	return h, h.validate() == nil
}

// nesting returns how deep the objects and arrays of valid JSON b nest.
func nesting(b []byte) int {
	depth, deepest := 0, 0
	dec := json.NewDecoder(bytes.NewReader(b))
	for {
		tok, err := dec.Token()
		if err != nil {
			return deepest
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
			deepest = max(deepest, depth)
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
	}
}

func isRequired(key string) bool {
	for _, k := range requiredKeys {
		if k == key {
			return true
		}
	}
	return false
}

// FuzzReader reads arbitrary streams: no panic, errors are typed, and every
// frame read re-encodes to a frame that reads back the same.
func FuzzReader(f *testing.F) {
	good, _ := AppendFrame(nil, NewMessage(ContentTypeBinary, "binary", []byte("hello")))
	f.Add(good)
	f.Add(append(good, good[:7]...))
	f.Add(frame(`{"byteorder":"little","content-type":"a","content-encoding":"","content-length":2000}`, "x"))
	f.Fuzz(func(t *testing.T, stream []byte) {
		r := NewReader(bytes.NewReader(stream), 0, 1024)
		for {
			m, err := r.Read()
			if err != nil {
				var pe *ProtocolError
				if err != io.EOF && err != io.ErrUnexpectedEOF && !errors.As(err, &pe) {
					t.Fatalf("untyped error %T: %v", err, err)
				}
				return
			}
			if len(m.Content) != m.ContentLength || m.ContentLength > 1024 {
				t.Fatalf("read %d content bytes for content-length %d", len(m.Content), m.ContentLength)
			}
			out, err := AppendFrame(nil, m)
			if err != nil {
				t.Fatalf("re-encode %+v: %v", m.Header, err)
			}
			back, err := NewReader(bytes.NewReader(out), 0, 1024).Read()
			if err != nil || back.Header != m.Header || !bytes.Equal(back.Content, m.Content) {
				t.Fatalf("re-encoded frame reads back as %+v, %v", back.Header, err)
			}
		}
	})
}
