// Package echo is netkit's echo service: the frame codec of its wire protocol
// (docs/protocol.md), a server that echoes over TLS or plain TCP, a client that
// reports what the TLS handshake found, self-signed certificates with SHA-256
// pinning, and a load generator.
//
// This file is the only code that reads or writes frames. A frame is a 2-byte
// unsigned big-endian length, a UTF-8 JSON header of that length with the keys
// byteorder, content-type, content-encoding and content-length, then exactly
// content-length bytes of content. It is the application protocol of the
// classic Python sockets tutorial (libclient.py/libserver.py), so that
// tutorial's client talks to a plaintext netkit server as it is (its
// "search" action gets an error reply, binary content is echoed).
package echo

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"unicode/utf8"
)

// DefaultPort is the echo service's TCP port, the one of the Python tutorial.
const DefaultPort = 65432

// DefaultMaxHeaderLength is the longest JSON header AppendFrame writes and
// ParseHeader reads, and the limit of a Reader whose header limit is zero:
// 8191 bytes.
const DefaultMaxHeaderLength = 0x1FFF

// MaxHeaderLimit is the highest header limit a Reader takes, 65535 bytes: the
// most a 2-byte prefix can announce.
const MaxHeaderLimit = 0xFFFF

// DefaultMaxContentLength is the content limit of a Reader whose limit is
// zero: 1 MiB.
const DefaultMaxContentLength = 1 << 20

// ContentTypeJSON is the content type of requests and replies carrying a JSON
// object: requests {"action", "value"} and replies {"result"}.
const ContentTypeJSON = "text/json"

// ContentTypeBinary is the content type netkit uses for bytes echoed as they
// are. Any content type other than ContentTypeJSON is echoed byte for byte.
const ContentTypeBinary = "application/octet-stream"

// The byte orders a header may name: the sender's native one.
const (
	LittleEndian = "little"
	BigEndian    = "big"
)

// NativeByteOrder is this machine's byte order, the byteorder netkit sends.
var NativeByteOrder = func() string {
	if binary.NativeEndian.Uint16([]byte{1, 0}) == 1 {
		return LittleEndian
	}
	return BigEndian
}()

// Header is the JSON header of a frame. All four keys are required.
type Header struct {
	// ByteOrder is the sender's byte order, "little" or "big". It is
	// informational: the length prefix is always big-endian.
	ByteOrder string `json:"byteorder"`
	// ContentType is ContentTypeJSON for JSON requests and replies; any
	// other value marks content that is echoed byte for byte.
	ContentType string `json:"content-type"`
	// ContentEncoding names the text encoding of JSON content ("utf-8");
	// for binary content it is carried along unchanged ("binary").
	ContentEncoding string `json:"content-encoding"`
	// ContentLength is the number of content bytes after the header.
	ContentLength int `json:"content-length"`
}

// Message is one frame: its header and its content.
type Message struct {
	Header
	Content []byte
}

// NewMessage returns a message from this machine: its byte order, the given
// content type and encoding, and the content's length.
func NewMessage(contentType, contentEncoding string, content []byte) Message {
	return Message{
		Header: Header{
			ByteOrder:       NativeByteOrder,
			ContentType:     contentType,
			ContentEncoding: contentEncoding,
			ContentLength:   len(content),
		},
		Content: content,
	}
}

// Request is the content of a text/json request.
type Request struct {
	// Action is "echo" or "info"; the server answers any other with an
	// error result.
	Action string `json:"action"`
	// Value is what "echo" sends back; "info" ignores it.
	Value json.RawMessage `json:"value,omitempty"`
}

// Response is the content of a text/json reply.
type Response struct {
	// Result is the echoed value, the info object, or for an error the
	// string "Error: …" that the Python tutorial's server sends.
	Result json.RawMessage `json:"result"`
	// Error is a stable code when the server refused the request
	// ("invalid_action", "bad_request", "bad_header", "header_too_long",
	// "content_too_long", "busy"), empty otherwise.
	Error string `json:"error,omitempty"`
}

// PeerInfo is the result of the "info" action: what the server sees of the
// connection the request came on.
type PeerInfo struct {
	// RemoteAddr and RemotePort are the client's address as the server
	// sees it (after any NAT).
	RemoteAddr string `json:"remote_addr"`
	RemotePort int    `json:"remote_port"`
	// LocalAddr and LocalPort are the server's end of the connection.
	LocalAddr string `json:"local_addr"`
	LocalPort int    `json:"local_port"`
	// TLS reports whether the connection is TLS; the fields after it are
	// empty when it is not.
	TLS         bool   `json:"tls"`
	TLSVersion  string `json:"tls_version,omitempty"`
	CipherSuite string `json:"cipher_suite,omitempty"`
	// ServerName is the SNI the client sent, empty when none.
	ServerName string `json:"server_name,omitempty"`
	// ALPN is the negotiated application protocol, empty when none.
	ALPN string `json:"alpn,omitempty"`
	// ClientCertificate is the subject of the client's certificate, empty
	// when it sent none.
	ClientCertificate string `json:"client_certificate,omitempty"`
}

// JSONMessage returns a text/json message whose content is v encoded as JSON.
func JSONMessage(v any) (Message, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return Message{}, fmt.Errorf("encode json content: %w", err)
	}
	return NewMessage(ContentTypeJSON, "utf-8", b), nil
}

// Errors a ProtocolError wraps, for errors.Is.
var (
	// ErrBadHeader: the header is not a JSON object with the four required
	// keys of the right types.
	ErrBadHeader = errors.New("bad header")
	// ErrHeaderTooLong: the length prefix announces more than the reader's
	// limit (DefaultMaxHeaderLength unless set otherwise).
	ErrHeaderTooLong = errors.New("header too long")
	// ErrContentTooLong: content-length is over the reader's limit.
	ErrContentTooLong = errors.New("content too long")
)

// ProtocolError is a frame that breaks the protocol. The stream cannot be
// resynchronised after one: the reader of such a frame closes the
// connection.
type ProtocolError struct {
	// Err is ErrBadHeader, ErrHeaderTooLong or ErrContentTooLong.
	Err error
	// Detail says what exactly was wrong, e.g. `missing key "content-type"`.
	Detail string
}

func (e *ProtocolError) Error() string {
	return "echo protocol: " + e.Err.Error() + ": " + e.Detail
}

func (e *ProtocolError) Unwrap() error { return e.Err }

// Code is the stable name of the error for error replies and logs:
// "bad_header", "header_too_long" or "content_too_long".
func (e *ProtocolError) Code() string {
	switch e.Err {
	case ErrHeaderTooLong:
		return "header_too_long"
	case ErrContentTooLong:
		return "content_too_long"
	default:
		return "bad_header"
	}
}

func badHeader(format string, a ...any) error {
	return &ProtocolError{Err: ErrBadHeader, Detail: fmt.Sprintf(format, a...)}
}

// AppendFrame appends the frame of m to dst. It fails when m's header is
// invalid (see ParseHeader), when ContentLength differs from len(Content), or
// when the header would be longer than DefaultMaxHeaderLength.
func AppendFrame(dst []byte, m Message) ([]byte, error) {
	if m.ContentLength != len(m.Content) {
		return dst, fmt.Errorf("encode frame: content-length %d but %d content bytes", m.ContentLength, len(m.Content))
	}
	dst, err := appendHeader(dst, m.Header, DefaultMaxHeaderLength)
	if err != nil {
		return dst, err
	}
	return append(dst, m.Content...), nil
}

// appendHeader appends the length prefix and the JSON header of h, which
// may be at most limit bytes long.
func appendHeader(dst []byte, h Header, limit int) ([]byte, error) {
	if err := h.validate(); err != nil {
		return dst, err
	}
	start := len(dst)
	dst = append(dst, 0, 0)
	dst = append(dst, `{"byteorder":`...)
	dst = appendJSONString(dst, h.ByteOrder)
	dst = append(dst, `,"content-type":`...)
	dst = appendJSONString(dst, h.ContentType)
	dst = append(dst, `,"content-encoding":`...)
	dst = appendJSONString(dst, h.ContentEncoding)
	dst = append(dst, `,"content-length":`...)
	dst = strconv.AppendInt(dst, int64(h.ContentLength), 10)
	dst = append(dst, '}')
	n := len(dst) - start - 2
	if n > limit {
		return dst[:start], &ProtocolError{Err: ErrHeaderTooLong, Detail: fmt.Sprintf("%d bytes, the limit is %d", n, limit)}
	}
	binary.BigEndian.PutUint16(dst[start:], uint16(n))
	return dst, nil
}

// appendJSONString appends s as a JSON string. Printable ASCII without quotes
// or backslashes, the usual content type, is copied as it is; otherwise only
// what JSON requires is escaped (not <, > and &, and not non-ASCII text, as
// Python's json.dumps(ensure_ascii=False) does not).
func appendJSONString(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			var b bytes.Buffer
			enc := json.NewEncoder(&b)
			enc.SetEscapeHTML(false)
			enc.Encode(s) // a string always encodes
			return append(dst, bytes.TrimSuffix(b.Bytes(), []byte("\n"))...)
		}
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}

// validate checks the values of h, as ParseHeader does for a received one.
func (h Header) validate() error {
	if h.ByteOrder != LittleEndian && h.ByteOrder != BigEndian {
		return badHeader("byteorder %q is neither %q nor %q", h.ByteOrder, LittleEndian, BigEndian)
	}
	if h.ContentType == "" {
		return badHeader("content-type is empty")
	}
	if h.ContentLength < 0 {
		return badHeader("content-length %d is negative", h.ContentLength)
	}
	return nil
}

// Header keys, as they appear on the wire.
const (
	keyByteOrder       = "byteorder"
	keyContentType     = "content-type"
	keyContentEncoding = "content-encoding"
	keyContentLength   = "content-length"
)

// requiredKeys lists the header keys in the order a missing one is reported.
var requiredKeys = [...]string{keyByteOrder, keyContentType, keyContentEncoding, keyContentLength}

// commonValues are header values returned without allocating a string.
var commonValues = [...]string{LittleEndian, BigEndian, ContentTypeJSON, ContentTypeBinary, "utf-8", "binary"}

// ParseHeader decodes a JSON header: an object holding the four required keys
// (byteorder "little" or "big", content-type a non-empty string,
// content-encoding a string, content-length a non-negative integer), each
// once, matched exactly (keys are case-sensitive). Other keys are allowed and
// ignored. The header must be valid UTF-8 and at most DefaultMaxHeaderLength
// bytes. Errors are *ProtocolError wrapping ErrBadHeader, or ErrHeaderTooLong.
func ParseHeader(b []byte) (Header, error) {
	if len(b) > DefaultMaxHeaderLength {
		return Header{}, &ProtocolError{Err: ErrHeaderTooLong, Detail: fmt.Sprintf("%d bytes, the limit is %d", len(b), DefaultMaxHeaderLength)}
	}
	return parseHeader(b, nil)
}

// parseHeader is ParseHeader without the length limit, which is the
// caller's; string values equal to those of prev, when not nil, are taken
// from it rather than allocated again.
func parseHeader(b []byte, prev *Header) (Header, error) {
	if !utf8.Valid(b) {
		return Header{}, badHeader("header is not valid UTF-8")
	}
	// One pass checks that b is JSON and finds the raw values of the
	// required keys; they are interpreted once the whole header is known to
	// be JSON, so a syntax error is reported before a type error.
	s := scanner{b: b}
	var raw [len(requiredKeys)][]byte
	dup := ""
	s.space()
	if s.peek() != '{' {
		if s.value() && s.end() {
			return Header{}, badHeader("header is not a JSON object: %s", quoteStart(b))
		}
		return Header{}, s.syntaxError()
	}
	member := func() bool {
		key, ok := s.key()
		if !ok || !s.colon() {
			return false
		}
		start := s.i
		if !s.value() {
			return false
		}
		if k := keyIndex(key); k >= 0 {
			if raw[k] != nil && dup == "" {
				dup = requiredKeys[k]
			}
			raw[k] = b[start:s.i]
		}
		return true
	}
	if !s.members('}', member) || !s.end() {
		return Header{}, s.syntaxError()
	}
	if dup != "" {
		return Header{}, badHeader("key %q appears twice", dup)
	}
	for k, v := range raw {
		if v == nil {
			return Header{}, badHeader("missing key %q", requiredKeys[k])
		}
	}
	var h Header
	if prev == nil {
		prev = &Header{}
	}
	var err error
	if h.ByteOrder, err = stringValue(keyByteOrder, raw[0], prev.ByteOrder); err != nil {
		return Header{}, err
	}
	if h.ContentType, err = stringValue(keyContentType, raw[1], prev.ContentType); err != nil {
		return Header{}, err
	}
	if h.ContentEncoding, err = stringValue(keyContentEncoding, raw[2], prev.ContentEncoding); err != nil {
		return Header{}, err
	}
	if h.ContentLength, err = lengthValue(raw[3]); err != nil {
		return Header{}, err
	}
	return h, h.validate()
}

// keyIndex returns the index in requiredKeys of a key as the scanner found
// it (escapes not yet decoded), or -1.
func keyIndex(key []byte) int {
	if bytes.IndexByte(key, '\\') >= 0 {
		var k string
		json.Unmarshal(append(append([]byte{'"'}, key...), '"'), &k) // checked by the scanner: cannot fail
		key = []byte(k)
	}
	for k, name := range requiredKeys {
		if string(key) == name {
			return k
		}
	}
	return -1
}

// stringValue returns the string a raw JSON value holds, prev when it is the
// same text.
func stringValue(key string, v []byte, prev string) (string, error) {
	if v[0] != '"' {
		return "", badHeader("%q must be a string, not %s", key, kindOf(v[0]))
	}
	text := v[1 : len(v)-1]
	if bytes.IndexByte(text, '\\') >= 0 {
		var out string
		json.Unmarshal(v, &out) // checked by the scanner: cannot fail
		return out, nil
	}
	if string(text) == prev {
		return prev, nil
	}
	for _, c := range commonValues {
		if string(text) == c {
			return c, nil
		}
	}
	return string(text), nil
}

// lengthValue returns the non-negative integer a raw JSON value holds.
func lengthValue(v []byte) (int, error) {
	if c := v[0]; c != '-' && (c < '0' || c > '9') {
		return 0, badHeader("%q must be an integer, not %s", keyContentLength, kindOf(c))
	}
	if bytes.ContainsAny(v, ".eE") {
		return 0, badHeader("%q must be an integer, not %s", keyContentLength, v)
	}
	if v[0] == '-' {
		if string(v) == "-0" {
			return 0, nil
		}
		return 0, badHeader("content-length %s is negative", v)
	}
	n := 0
	for _, c := range v {
		d := int(c - '0')
		if n > (math.MaxInt-d)/10 {
			return 0, &ProtocolError{Err: ErrContentTooLong, Detail: fmt.Sprintf("content-length %s", v)}
		}
		n = n*10 + d
	}
	return n, nil
}

// kindOf names the JSON type of a value by its first byte.
func kindOf(c byte) string {
	switch c {
	case '"':
		return "a string"
	case '{':
		return "an object"
	case '[':
		return "an array"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	default:
		return "a number"
	}
}

// quoteStart quotes the start of b for an error message.
func quoteStart(b []byte) string {
	const max = 40
	if len(b) > max {
		return strconv.Quote(string(b[:max])) + "…"
	}
	return strconv.Quote(string(b))
}

// maxNesting is the deepest a header's objects and arrays may nest. The
// scanner recurses once per level, and a goroutine's stack keeps the size
// its deepest call needed: bounding the depth keeps a connection that sent
// a deeply nested header as small as any other.
const maxNesting = 64

// scanner checks JSON text (RFC 8259) as it walks it. Its methods report
// false, leaving i where the text went wrong, when it is not JSON or nests
// deeper than maxNesting (then tooDeep is set).
type scanner struct {
	b       []byte
	i       int
	depth   int
	tooDeep bool
}

func (s *scanner) peek() byte {
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

// space skips white space.
func (s *scanner) space() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// end reports whether only white space is left.
func (s *scanner) end() bool {
	s.space()
	return s.i == len(s.b)
}

func (s *scanner) syntaxError() error {
	if s.tooDeep {
		return badHeader("header nests objects and arrays deeper than %d levels (at byte %d)", maxNesting, s.i)
	}
	return badHeader("header is not JSON (error at byte %d): %s", s.i, quoteStart(s.b))
}

// value checks the value at i and moves past it.
func (s *scanner) value() bool {
	switch s.peek() {
	case '{':
		return s.members('}', s.pair)
	case '[':
		return s.members(']', s.value)
	case '"':
		_, ok := s.key()
		return ok
	case 't':
		return s.literal("true")
	case 'f':
		return s.literal("false")
	case 'n':
		return s.literal("null")
	}
	return s.number()
}

// members checks an object or array from its opening byte at i to its
// closing byte, each member with member, and moves past it.
func (s *scanner) members(closing byte, member func() bool) bool {
	if s.depth == maxNesting {
		s.tooDeep = true
		return false
	}
	s.depth++
	defer func() { s.depth-- }()
	s.i++
	s.space()
	if s.peek() == closing {
		s.i++
		return true
	}
	for {
		if !member() {
			return false
		}
		s.space()
		switch s.peek() {
		case ',':
			s.i++
			s.space()
		case closing:
			s.i++
			return true
		default:
			return false
		}
	}
}

// pair checks a "key": value member of an object.
func (s *scanner) pair() bool {
	if _, ok := s.key(); !ok || !s.colon() {
		return false
	}
	return s.value()
}

// colon moves past the white space, colon and white space after a key.
func (s *scanner) colon() bool {
	s.space()
	if s.peek() != ':' {
		return false
	}
	s.i++
	s.space()
	return true
}

// key checks the string at i, moves past it and returns its raw bytes
// between the quotes, escapes left as they are.
func (s *scanner) key() ([]byte, bool) {
	if s.peek() != '"' {
		return nil, false
	}
	start := s.i + 1
	for s.i++; s.i < len(s.b); {
		switch c := s.b[s.i]; {
		case c == '"':
			s.i++
			return s.b[start : s.i-1], true
		case c < 0x20:
			return nil, false
		case c != '\\':
			s.i++
		case s.i+1 >= len(s.b):
			return nil, false
		default:
			switch s.b[s.i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.i += 2
			case 'u':
				if s.i+6 > len(s.b) || !isHex(s.b[s.i+2:s.i+6]) {
					return nil, false
				}
				s.i += 6
			default:
				return nil, false
			}
		}
	}
	return nil, false
}

func isHex(b []byte) bool {
	for _, c := range b {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

func (s *scanner) literal(word string) bool {
	if !bytes.HasPrefix(s.b[s.i:], []byte(word)) {
		return false
	}
	s.i += len(word)
	return true
}

// number checks -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *scanner) number() bool {
	if s.peek() == '-' {
		s.i++
	}
	switch c := s.peek(); {
	case c == '0':
		s.i++
	case '1' <= c && c <= '9':
		s.digits()
	default:
		return false
	}
	if s.peek() == '.' {
		s.i++
		if !s.digits() {
			return false
		}
	}
	if c := s.peek(); c == 'e' || c == 'E' {
		s.i++
		if c := s.peek(); c == '+' || c == '-' {
			s.i++
		}
		if !s.digits() {
			return false
		}
	}
	return true
}

// digits moves past [0-9]+ and reports whether there was one.
func (s *scanner) digits() bool {
	start := s.i
	for s.i < len(s.b) && '0' <= s.b[s.i] && s.b[s.i] <= '9' {
		s.i++
	}
	return s.i > start
}

// Reader reads frames from a stream. It is not safe for concurrent use.
type Reader struct {
	br        *bufio.Reader
	max       int // content limit
	maxHeader int
	room      int // 2 + maxHeader: the longest prefix and header
	// buf holds room bytes, then the content of the last frame, so that
	// EchoFrame can put a header in front of it. A header too long for br
	// is read into the room.
	buf []byte
	// reserve, when set, is called with each header before its content is
	// read; an error it returns is Read's, and the content is left unread.
	reserve func(Header) error
	last    Header // the last header read, whose strings parseHeader reuses
	echoed  Header // the header EchoFrame encoded last, in hdr
	hdr     []byte
}

// ReaderBufferSize is the size of a Reader's buffer: one TLS record, so a
// header of the default limit always fits.
const ReaderBufferSize = 16 << 10

// NewReader returns a Reader on r that refuses headers longer than maxHeader
// bytes (zero: DefaultMaxHeaderLength; at most MaxHeaderLimit) and content
// longer than maxContent bytes (zero: DefaultMaxContentLength). When r is a
// *bufio.Reader of at least ReaderBufferSize bytes it is used directly, so
// the caller may look at the stream with Peek before the next frame.
func NewReader(r io.Reader, maxHeader, maxContent int) *Reader {
	if maxHeader <= 0 {
		maxHeader = DefaultMaxHeaderLength
	}
	maxHeader = min(maxHeader, MaxHeaderLimit)
	if maxContent <= 0 {
		maxContent = DefaultMaxContentLength
	}
	return &Reader{br: bufio.NewReaderSize(r, ReaderBufferSize), max: maxContent, maxHeader: maxHeader, room: 2 + maxHeader}
}

// Read reads the next frame. The returned Content is valid until the next
// call to Read. At a clean end of stream between frames it returns io.EOF;
// a stream that ends inside a frame gives io.ErrUnexpectedEOF. A frame that
// breaks the protocol gives a *ProtocolError, after which the stream is out
// of step: its content has not been read. The buffer holds 64 KiB of
// content at first, and the whole content once that has come, so a peer
// that announces a large content-length and sends nothing costs little
// memory.
func (r *Reader) Read() (Message, error) {
	prefix, err := r.br.Peek(2)
	if err != nil {
		if len(prefix) > 0 && err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return Message{}, err
	}
	n := int(binary.BigEndian.Uint16(prefix))
	if n > r.maxHeader {
		return Message{}, &ProtocolError{Err: ErrHeaderTooLong, Detail: fmt.Sprintf("the prefix announces %d bytes, the limit is %d", n, r.maxHeader)}
	}
	var frame []byte
	if 2+n <= r.br.Size() {
		frame, err = r.br.Peek(2 + n)
	} else {
		// Longer than br: read into the room, where nothing is kept.
		r.setRoom(0)
		frame = r.buf[:2+n]
		_, err = io.ReadFull(r.br, frame)
	}
	if err != nil {
		return Message{}, unexpectedEOF(err)
	}
	h, err := parseHeader(frame[2:], &r.last)
	if err != nil {
		return Message{}, err
	}
	if h.ContentLength > r.max {
		return Message{}, &ProtocolError{Err: ErrContentTooLong, Detail: fmt.Sprintf("content-length %d, the limit is %d", h.ContentLength, r.max)}
	}
	if r.reserve != nil {
		if err := r.reserve(h); err != nil {
			return Message{}, err
		}
	}
	r.last = h
	if 2+n <= r.br.Size() {
		r.br.Discard(2 + n) // peeked: cannot fail
	}
	want := r.room + h.ContentLength
	r.setRoom(h.ContentLength)
	for len(r.buf) < want {
		if len(r.buf) == cap(r.buf) {
			// The first keepContent bytes have come: make room for the
			// whole content, exactly, at once. Growing step by step would
			// leave garbage of about the content's size behind.
			grown := make([]byte, len(r.buf), want)
			copy(grown, r.buf)
			r.buf = grown
		}
		m, err := r.br.Read(r.buf[len(r.buf):min(cap(r.buf), want)])
		r.buf = r.buf[:len(r.buf)+m]
		if err != nil && len(r.buf) < want {
			return Message{}, unexpectedEOF(err)
		}
	}
	return Message{Header: h, Content: r.buf[r.room:]}, nil
}

// setRoom makes buf the room alone, allocating it when missing with space
// for up to keepContent bytes of content, or content bytes if fewer.
func (r *Reader) setRoom(content int) {
	if cap(r.buf) < r.room {
		r.buf = make([]byte, r.room, r.room+min(content, keepContent))
	}
	r.buf = r.buf[:r.room]
}

// keepContent, 64 KiB, is the step by which a Reader's buffer grows at
// first, and the largest message the server's memory budget counts as
// small (see budget).
const keepContent = 64 << 10

// Release gives up the Reader's buffer, so that a connection waiting for its
// next message does not hold the memory of one it read before; a Reader
// that is not released reuses its buffer for the next message. The Content
// and EchoFrame frame of the last message are not valid after Release.
func (r *Reader) Release() {
	r.buf = nil
}

// EchoFrame encodes the frame of a message with header h and, as content,
// the content of the message Read returned last. It writes the header in
// front of that content, which is not copied. h.ContentLength must be the
// content's length; the header may be as long as the Reader's header limit.
// The frame is valid until the next Read.
func (r *Reader) EchoFrame(h Header) ([]byte, error) {
	if len(r.buf) < r.room || h.ContentLength != len(r.buf)-r.room {
		return nil, fmt.Errorf("encode frame: content-length %d is not that of the last message read", h.ContentLength)
	}
	if len(r.hdr) == 0 || h != r.echoed {
		hdr, err := appendHeader(r.hdr[:0], h, r.maxHeader)
		if err != nil {
			return nil, err
		}
		r.hdr, r.echoed = hdr, h
	}
	start := r.room - len(r.hdr)
	copy(r.buf[start:], r.hdr)
	return r.buf[start:], nil
}

func unexpectedEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
