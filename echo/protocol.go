// Package echo is netkit's echo service: the frame codec of its wire protocol
// (docs/protocol.md), a server that echoes over TLS or plain TCP, a client that
// reports what the TLS handshake found, self-signed certificates with SHA-256
// pinning, and a load generator.
//
// This file is the only code that reads or writes frames. A frame is a 2-byte
// unsigned big-endian length, a UTF-8 JSON header of that length with the keys
// byteorder, content-type, content-encoding and content-length, then exactly
// content-length bytes of content. It is the application protocol of the
// classic Python sockets tutorial (libclient.py/libserver.py), so clients
// written for that tutorial talk to a plaintext netkit server unchanged.
package echo

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"unicode/utf8"
)

// DefaultPort is the echo service's TCP port, the one of the Python tutorial.
const DefaultPort = 65432

// MaxHeaderLength is the longest JSON header netkit reads or writes, 8191
// bytes. The 2-byte prefix could announce up to 65535; with this cap the first
// byte of every frame is below 0x20, which is how the server tells a frame
// from raw text (see Server.Raw).
const MaxHeaderLength = 0x1FFF

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
	// ErrHeaderTooLong: the length prefix announces more than
	// MaxHeaderLength bytes.
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
// when the header would be longer than MaxHeaderLength.
func AppendFrame(dst []byte, m Message) ([]byte, error) {
	h := m.Header
	if h.ContentLength != len(m.Content) {
		return dst, fmt.Errorf("encode frame: content-length %d but %d content bytes", h.ContentLength, len(m.Content))
	}
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
	if n > MaxHeaderLength {
		return dst[:start], &ProtocolError{Err: ErrHeaderTooLong, Detail: fmt.Sprintf("%d bytes, the limit is %d", n, MaxHeaderLength)}
	}
	binary.BigEndian.PutUint16(dst[start:], uint16(n))
	return append(dst, m.Content...), nil
}

// appendJSONString appends s as a JSON string. Printable ASCII without quotes
// or backslashes, the usual content type, is copied as it is.
func appendJSONString(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			b, _ := json.Marshal(s) // a string always encodes
			return append(dst, b...)
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

// ParseHeader decodes a JSON header: an object holding the four required keys
// (byteorder "little" or "big", content-type a non-empty string,
// content-encoding a string, content-length a non-negative integer), each
// once, matched exactly (keys are case-sensitive). Other keys are allowed and
// ignored. Errors are *ProtocolError wrapping ErrBadHeader.
func ParseHeader(b []byte) (Header, error) {
	if !utf8.Valid(b) {
		return Header{}, badHeader("header is not valid UTF-8")
	}
	if !json.Valid(b) {
		return Header{}, badHeader("header is not JSON: %s", quoteStart(b))
	}
	// b is valid JSON from here on, which keeps the scanner below simple: it
	// only has to find the top-level keys and take their values apart.
	s := scanner{b: b}
	if s.skipSpace() != '{' {
		return Header{}, badHeader("header is not a JSON object: %s", quoteStart(b))
	}
	s.i++
	var h Header
	var seen [len(requiredKeys)]bool
	for s.skipSpace() != '}' {
		if s.b[s.i] == ',' {
			s.i++
			s.skipSpace()
		}
		key := s.str()
		s.skipSpace()
		s.i++ // ':'
		s.skipSpace()
		k := slices.Index(requiredKeys[:], key)
		if k < 0 {
			s.skipValue()
			continue
		}
		if seen[k] {
			return Header{}, badHeader("key %q appears twice", key)
		}
		seen[k] = true
		if key == keyContentLength {
			n, err := s.length()
			if err != nil {
				return Header{}, err
			}
			h.ContentLength = n
			continue
		}
		if s.b[s.i] != '"' {
			return Header{}, badHeader("%q must be a string, not %s", key, s.valueKind())
		}
		v := s.str()
		switch key {
		case keyByteOrder:
			h.ByteOrder = v
		case keyContentType:
			h.ContentType = v
		case keyContentEncoding:
			h.ContentEncoding = v
		}
	}
	for k, ok := range seen {
		if !ok {
			return Header{}, badHeader("missing key %q", requiredKeys[k])
		}
	}
	return h, h.validate()
}

// quoteStart quotes the start of b for an error message.
func quoteStart(b []byte) string {
	const max = 40
	if len(b) > max {
		return strconv.Quote(string(b[:max])) + "…"
	}
	return strconv.Quote(string(b))
}

// scanner walks a valid JSON document.
type scanner struct {
	b []byte
	i int
}

// skipSpace skips white space and returns the next byte.
func (s *scanner) skipSpace() byte {
	for s.i < len(s.b) {
		switch c := s.b[s.i]; c {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return c
		}
	}
	return 0
}

// str reads the string at s.i and returns its value.
func (s *scanner) str() string {
	start := s.i
	escaped := false
	for s.i++; s.b[s.i] != '"'; s.i++ {
		if s.b[s.i] == '\\' {
			escaped = true
			s.i++
		}
	}
	s.i++
	raw := s.b[start:s.i]
	if !escaped {
		return string(raw[1 : len(raw)-1])
	}
	var v string
	json.Unmarshal(raw, &v) // valid JSON: cannot fail
	return v
}

// skipValue skips the value at s.i.
func (s *scanner) skipValue() {
	depth := 0
	for {
		switch s.b[s.i] {
		case '"':
			s.str()
		case '{', '[':
			depth++
			s.i++
		case '}', ']':
			depth--
			s.i++
		default:
			s.i++
		}
		if depth == 0 {
			if c := s.skipSpace(); c == ',' || c == '}' {
				return
			}
		}
	}
}

// valueKind names the JSON type of the value at s.i for error messages.
func (s *scanner) valueKind() string {
	switch s.b[s.i] {
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

// length reads the content-length value at s.i.
func (s *scanner) length() (int, error) {
	start := s.i
	if c := s.b[s.i]; c != '-' && (c < '0' || c > '9') {
		return 0, badHeader("%q must be an integer, not %s", keyContentLength, s.valueKind())
	}
	s.skipValue()
	num := bytes.TrimRight(s.b[start:s.i], " \t\r\n")
	n, err := strconv.Atoi(string(num))
	switch {
	case err != nil && bytes.ContainsAny(num, ".eE"):
		return 0, badHeader("%q must be an integer, not %s", keyContentLength, num)
	case err != nil: // out of range
		return 0, &ProtocolError{Err: ErrContentTooLong, Detail: fmt.Sprintf("content-length %s", num)}
	case n < 0:
		return 0, badHeader("content-length %d is negative", n)
	}
	return n, nil
}

// Reader reads frames from a stream. It is not safe for concurrent use.
type Reader struct {
	br      *bufio.Reader
	max     int
	content []byte
}

// ReaderBufferSize is the size of a Reader's buffer: one TLS record, so a
// header always fits.
const ReaderBufferSize = 16 << 10

// NewReader returns a Reader on r that refuses content longer than
// maxContent bytes (zero: DefaultMaxContentLength). When r is a
// *bufio.Reader of at least ReaderBufferSize bytes it is used directly, so
// the caller may look at the stream with Peek before the next frame.
func NewReader(r io.Reader, maxContent int) *Reader {
	if maxContent <= 0 {
		maxContent = DefaultMaxContentLength
	}
	return &Reader{br: bufio.NewReaderSize(r, ReaderBufferSize), max: maxContent}
}

// Read reads the next frame. The returned Content is valid until the next
// call to Read. At a clean end of stream between frames it returns io.EOF;
// a stream that ends inside a frame gives io.ErrUnexpectedEOF. A frame that
// breaks the protocol gives a *ProtocolError, after which the stream is out
// of step: its content has not been read. Buffers grow only as content
// arrives, so a peer that announces a large content-length and sends nothing
// costs no memory.
func (r *Reader) Read() (Message, error) {
	prefix, err := r.br.Peek(2)
	if err != nil {
		if len(prefix) > 0 && err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return Message{}, err
	}
	n := int(binary.BigEndian.Uint16(prefix))
	if n > MaxHeaderLength {
		return Message{}, &ProtocolError{Err: ErrHeaderTooLong, Detail: fmt.Sprintf("the prefix announces %d bytes, the limit is %d", n, MaxHeaderLength)}
	}
	frame, err := r.br.Peek(2 + n)
	if err != nil {
		return Message{}, unexpectedEOF(err)
	}
	h, err := ParseHeader(frame[2:])
	if err != nil {
		return Message{}, err
	}
	if h.ContentLength > r.max {
		return Message{}, &ProtocolError{Err: ErrContentTooLong, Detail: fmt.Sprintf("content-length %d, the limit is %d", h.ContentLength, r.max)}
	}
	r.br.Discard(2 + n) // peeked: cannot fail
	r.content = r.content[:0]
	for len(r.content) < h.ContentLength {
		if len(r.content) == cap(r.content) {
			r.content = slices.Grow(r.content, min(h.ContentLength-len(r.content), max(len(r.content), 64<<10)))
		}
		m, err := r.br.Read(r.content[len(r.content):min(cap(r.content), h.ContentLength)])
		r.content = r.content[:len(r.content)+m]
		if err != nil && len(r.content) < h.ContentLength {
			return Message{}, unexpectedEOF(err)
		}
	}
	return Message{Header: h, Content: r.content}, nil
}

func unexpectedEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// Writer writes frames to a stream, each with a single Write. It is not safe
// for concurrent use.
type Writer struct {
	w   io.Writer
	buf []byte
}

// NewWriter returns a Writer on w.
func NewWriter(w io.Writer) *Writer {
	return &Writer{w: w}
}

// Write encodes m (see AppendFrame) and writes it.
func (w *Writer) Write(m Message) error {
	buf, err := AppendFrame(w.buf[:0], m)
	if err != nil {
		return err
	}
	w.buf = buf
	_, err = w.w.Write(buf)
	return err
}
