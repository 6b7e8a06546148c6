package echo

import (
	"bytes"
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/netkit/netkit/resolve"
	"github.com/netkit/netkit/units"
)

// DefaultTimeout bounds a Dial (connect and handshake) and each round trip
// when ClientOptions.Timeout is zero.
const DefaultTimeout = 10 * time.Second

// ClientOptions configure Dial. The zero value connects over TLS 1.2 or
// later, verifies the server's certificate against the system's roots for the
// host of the address, sends no client certificate and no ALPN, and gives up
// after DefaultTimeout.
type ClientOptions struct {
	// Timeout bounds the connect and the handshake together, and then each
	// round trip. Zero means DefaultTimeout.
	Timeout time.Duration
	// Plaintext speaks the protocol over plain TCP.
	Plaintext bool
	// ServerName is the name sent as SNI and checked against the
	// certificate. Empty means the host of the address (an IP address is
	// checked against the certificate's IP SANs and not sent as SNI).
	ServerName string
	// RootCAs are the authorities trusted to sign the server's certificate;
	// nil means the system's.
	RootCAs *x509.CertPool
	// Pins, when not empty, replace the authorities: the server's
	// certificate is trusted when its fingerprint is one of them, and then
	// neither its names nor its dates are checked.
	Pins []Fingerprint
	// Certificates are offered to a server that asks for a client
	// certificate (mutual TLS).
	Certificates []tls.Certificate
	// InsecureSkipVerify completes the handshake even when the server's
	// certificate does not verify. The certificate is still checked and the
	// outcome reported in TLSInfo.Verified and VerifyError, so a caller can
	// say "not verified: expired" and carry on.
	InsecureSkipVerify bool
	// NextProtos are the ALPN protocols offered; nil offers none.
	NextProtos []string
	// MaxContentLength is the longest reply content accepted; zero means
	// DefaultMaxContentLength.
	MaxContentLength int
	// Resolver looks up the host names Dial is given; nil means
	// resolve.Default(), the hosts file and DNS as nsswitch.conf orders them.
	Resolver *resolve.Resolver
	// Family limits the addresses Dial tries to one family; the zero value
	// tries both.
	Family resolve.Family
	// Control, if not nil, is called with the socket before it connects,
	// as net.Dialer.Control is: for socket options (the exporter's probes
	// ask for ICMP errors with it).
	Control func(network, address string, c syscall.RawConn) error
}

func (o *ClientOptions) timeout() time.Duration {
	if o.Timeout > 0 {
		return o.Timeout
	}
	return DefaultTimeout
}

// Session describes an established connection.
type Session struct {
	// Address is the address connected to, "ip:port".
	Address string `json:"address"`
	// ConnectMs is the time the TCP connect took.
	ConnectMs float64 `json:"connect_ms,omitempty"`
	// TLS is nil for a plain TCP connection, and when the connection
	// failed before the handshake ended.
	TLS *TLSInfo `json:"tls,omitempty"`
}

// TLSInfo is what a TLS handshake established and what the client thinks of
// the server's certificate.
type TLSInfo struct {
	// HandshakeMs is the time the handshake took.
	HandshakeMs float64 `json:"handshake_ms"`
	// Version is e.g. "TLS 1.3".
	Version string `json:"version"`
	// CipherSuite is e.g. "TLS_AES_128_GCM_SHA256".
	CipherSuite string `json:"cipher_suite"`
	// ServerName is the name the certificate was checked against.
	ServerName string `json:"server_name"`
	// SNI is the name the client sent as Server Name Indication, as the
	// handshake reports it: ServerName without trailing dots, or empty when
	// none was sent because ServerName is an IP address (bracketed or with
	// a zone included).
	SNI string `json:"sni"`
	// ALPN is the negotiated application protocol, empty when none.
	ALPN string `json:"alpn,omitempty"`
	// Chain is the server's certificate chain, leaf first.
	Chain []Certificate `json:"chain"`
	// Verified reports whether the server's certificate was trusted.
	Verified bool `json:"verified"`
	// VerifiedBy is "pin" or "ca" when Verified.
	VerifiedBy string `json:"verified_by,omitempty"`
	// VerifyError is why the certificate was not trusted, when it was
	// not: a *tls.CertificateVerificationError wrapping an x509 error or a
	// *PinError.
	VerifyError error `json:"-"`
	// VerifyErrorText is VerifyError's message, for JSON.
	VerifyErrorText string `json:"verify_error,omitempty"`
	// WeakKey says why the key of the server's certificate is too weak to
	// trust (see WeakKey), empty when it is not. The certificate may
	// verify all the same: crypto/tls accepts RSA keys from 1024 bits.
	WeakKey string `json:"weak_key,omitempty"`
}

// PinError is a server certificate whose fingerprint is none of the pins.
type PinError struct {
	Got  Fingerprint
	Want []Fingerprint
}

func (e *PinError) Error() string {
	want := make([]string, len(e.Want))
	for i, f := range e.Want {
		want[i] = f.String()
	}
	return fmt.Sprintf("certificate %s does not match the pinned %s", e.Got, strings.Join(want, ", "))
}

// ServerError is an error reply from the server: a text/json reply whose
// Response carries an error code.
type ServerError struct {
	// Code is the Response's error code, e.g. "invalid_action" or "busy".
	Code string
	// Message is the result text, "Error: …".
	Message string
}

func (e *ServerError) Error() string {
	return "server replied " + e.Code + ": " + e.Message
}

// ErrEchoedRequest is a reply to a text/json request that is the request
// itself: the peer echoes bytes rather than answering frames.
var ErrEchoedRequest = errors.New("the server echoed the request back: it is not a netkit echo server in frame mode, or is in raw mode")

// MismatchError is an echo that differs from what was sent.
type MismatchError struct {
	// Sent and Got are the lengths of the content sent and received.
	Sent, Got int
	// Offset is the first differing byte.
	Offset int
}

func (e *MismatchError) Error() string {
	return fmt.Sprintf("echo differs from what was sent: sent %d bytes, got %d, first difference at byte %d", e.Sent, e.Got, e.Offset)
}

func checkEcho(sent, got []byte) error {
	if bytes.Equal(sent, got) {
		return nil
	}
	i := 0
	for i < len(sent) && i < len(got) && sent[i] == got[i] {
		i++
	}
	return &MismatchError{Sent: len(sent), Got: len(got), Offset: i}
}

// Conn is a client connection to an echo server. It is not safe for
// concurrent use.
type Conn struct {
	conn    net.Conn
	session Session
	r       *Reader
	buf     []byte // the last frame sent
	timeout time.Duration
}

// Dial connects to address ("host:port", the port a number or a TCP
// service name), does the TLS handshake unless opts.Plaintext, and checks
// the server's certificate as opts say. A host name is looked up with
// opts.Resolver, and its addresses are tried in getaddrinfo's order until
// one accepts the connection; the handshake is done with that one only.
// Errors are *net.OpError, naming the server's address: "dial" for the
// connection (refused, timeout) and "TLS handshake" for the handshake, which
// wraps the crypto/tls error (tls.RecordHeaderError when the server does not
// speak TLS, a remote alert, *tls.CertificateVerificationError wrapping the
// x509 error or a *PinError), so errors.As classifies it; a name that does
// not resolve is resolve's error.
func Dial(ctx context.Context, address string, opts ClientOptions) (*Conn, error) {
	host, portText, err := net.SplitHostPort(address)
	if err != nil {
		return nil, err
	}
	port, err := resolve.ParsePort(portText, "tcp")
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, opts.timeout())
	defer cancel()
	if host == "" {
		host = "localhost"
	}
	r := cmp.Or(opts.Resolver, resolve.Default())
	addrs, err := r.LookupIP(ctx, host, opts.Family)
	if err != nil {
		return nil, err
	}
	if opts.ServerName == "" {
		opts.ServerName = host
	}
	var first error
	for _, a := range addrs {
		c, err := dial(ctx, netip.AddrPortFrom(a, port), opts)
		var op *net.OpError
		if err == nil || errors.As(err, &op) && op.Op != "dial" {
			return c, err
		}
		first = cmp.Or(first, err)
	}
	return nil, first
}

// DialAddrPort is Dial to an IP address and port: no name is looked up,
// and without opts.ServerName the certificate is checked for the address.
func DialAddrPort(ctx context.Context, ap netip.AddrPort, opts ClientOptions) (*Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, opts.timeout())
	defer cancel()
	return dial(ctx, ap, opts)
}

// dial connects to ap and does the handshake for opts.ServerName (ap's
// address when empty), within ctx.
func dial(ctx context.Context, ap netip.AddrPort, opts ClientOptions) (*Conn, error) {
	d := net.Dialer{Control: opts.Control}
	start := time.Now()
	raw, err := d.DialContext(ctx, "tcp", ap.String())
	if err != nil {
		return nil, err
	}
	c := &Conn{
		conn:    raw,
		session: Session{Address: raw.RemoteAddr().String(), ConnectMs: units.Millis(time.Since(start))},
		timeout: opts.timeout(),
	}
	if opts.Plaintext {
		c.r = NewReader(c.conn, 0, opts.MaxContentLength)
		return c, nil
	}
	if err := c.StartTLS(ctx, cmp.Or(opts.ServerName, ap.Addr().WithZone("").String()), opts); err != nil {
		raw.Close()
		return nil, err
	}
	return c, nil
}

// StartTLS does the TLS handshake for serverName on the connection, within
// ctx, checking the server's certificate as opts say, and speaks TLS on it
// from then on; Session().TLS tells what was established. Dial does it
// unless opts.Plaintext; a caller does it itself on a plaintext connection
// that a protocol of its own upgrades (STARTTLS). The error is a
// *net.OpError "TLS handshake", as Dial's; the connection is left open.
func (c *Conn) StartTLS(ctx context.Context, serverName string, opts ClientOptions) error {
	info := &TLSInfo{ServerName: serverName}
	tc := tls.Client(c.conn, opts.tlsConfig(serverName, info))
	start := time.Now()
	if err := tc.HandshakeContext(ctx); err != nil {
		return &net.OpError{Op: "TLS handshake", Net: "tcp", Addr: c.conn.RemoteAddr(), Err: err}
	}
	cs := tc.ConnectionState()
	info.HandshakeMs = units.Millis(time.Since(start))
	info.Version = tls.VersionName(cs.Version)
	info.CipherSuite = tls.CipherSuiteName(cs.CipherSuite)
	info.SNI = cs.ServerName
	info.ALPN = cs.NegotiatedProtocol
	for _, cert := range cs.PeerCertificates {
		info.Chain = append(info.Chain, Summarize(cert))
	}
	c.conn, c.session.TLS = tc, info
	c.r = NewReader(c.conn, 0, opts.MaxContentLength)
	return nil
}

// NetConn returns the connection the Conn reads and writes, the TLS one
// once it speaks TLS, for a protocol of the caller's own; frames sent or
// read on it directly are not the Conn's.
func (c *Conn) NetConn() net.Conn {
	return c.conn
}

// tlsConfig returns the client configuration for a handshake with name, which
// records the certificate check in info. Verification is done by
// VerifyConnection rather than by crypto/tls so that with InsecureSkipVerify
// the outcome is still known.
func (o *ClientOptions) tlsConfig(name string, info *TLSInfo) *tls.Config {
	return &tls.Config{
		ServerName:         name,
		MinVersion:         tls.VersionTLS12,
		Certificates:       o.Certificates,
		NextProtos:         o.NextProtos,
		InsecureSkipVerify: true, // VerifyConnection checks, and fails unless o.InsecureSkipVerify
		VerifyConnection: func(cs tls.ConnectionState) error {
			by, err := o.verify(cs.PeerCertificates, name)
			info.Verified, info.VerifiedBy, info.VerifyError = err == nil, by, err
			if len(cs.PeerCertificates) > 0 {
				info.WeakKey = WeakKey(cs.PeerCertificates[0])
			}
			if err != nil {
				info.VerifyErrorText = err.Error()
				if !o.InsecureSkipVerify {
					return err
				}
			}
			return nil
		},
	}
}

// verify checks the server's chain against the pins or the roots, as
// crypto/tls would, and says which trusted it.
func (o *ClientOptions) verify(certs []*x509.Certificate, name string) (by string, err error) {
	if len(certs) == 0 {
		return "", errors.New("the server sent no certificate")
	}
	if len(o.Pins) > 0 {
		got := FingerprintOf(certs[0])
		if slices.Contains(o.Pins, got) {
			return "pin", nil
		}
		return "", &tls.CertificateVerificationError{UnverifiedCertificates: certs, Err: &PinError{Got: got, Want: o.Pins}}
	}
	opts := x509.VerifyOptions{Roots: o.RootCAs, DNSName: name, Intermediates: x509.NewCertPool()}
	for _, c := range certs[1:] {
		opts.Intermediates.AddCert(c)
	}
	if _, err := certs[0].Verify(opts); err != nil {
		return "", &tls.CertificateVerificationError{UnverifiedCertificates: certs, Err: err}
	}
	return "ca", nil
}

// Session returns what the connection established.
func (c *Conn) Session() Session {
	return c.session
}

// Close closes the connection.
func (c *Conn) Close() error {
	return c.conn.Close()
}

// RoundTrip sends m and reads the reply, within the connection's timeout and
// ctx. It returns the reply, valid until the next round trip, and the time
// from sending to the whole reply. An error reply is not an error here:
// see Echo, Action and Info.
func (c *Conn) RoundTrip(ctx context.Context, m Message) (Message, time.Duration, error) {
	frame, err := AppendFrame(c.buf[:0], m)
	if err != nil {
		return Message{}, 0, err
	}
	c.buf = frame
	deadline := time.Now().Add(c.timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	c.conn.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { c.conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	reply, rtt, err := c.exchange(frame)
	if err != nil && ctx.Err() != nil {
		err = ctx.Err()
	}
	return reply, rtt, err
}

// exchange writes an encoded frame and reads the reply.
func (c *Conn) exchange(frame []byte) (Message, time.Duration, error) {
	start := time.Now()
	if _, err := c.conn.Write(frame); err != nil {
		return Message{}, 0, fmt.Errorf("send: %w", err)
	}
	reply, err := c.r.Read()
	if err != nil {
		return Message{}, 0, &ReplyError{Addr: c.session.Address, Plaintext: c.session.TLS == nil, Err: err}
	}
	return reply, time.Since(start), nil
}

// ReplyError is a reply that could not be read: the server closed or reset
// the connection, sent something that is not a frame, or did not answer in
// time.
type ReplyError struct {
	// Addr is the server's address, "ip:port".
	Addr string
	// Plaintext reports that the connection was plain TCP, where a TLS
	// server closes without a word.
	Plaintext bool
	Err       error
}

func (e *ReplyError) Error() string { return "read reply from " + e.Addr + ": " + e.Err.Error() }

func (e *ReplyError) Unwrap() error { return e.Err }

// Echo sends content with the given content type (not text/json) and checks
// that the reply is the same bytes with the same content type. A different
// echo is a *MismatchError, an error reply a *ServerError.
func (c *Conn) Echo(ctx context.Context, contentType string, content []byte) (time.Duration, error) {
	if contentType == ContentTypeJSON {
		return 0, fmt.Errorf("echo: content type %s is for requests; use EchoValue", ContentTypeJSON)
	}
	reply, rtt, err := c.RoundTrip(ctx, NewMessage(contentType, "binary", content))
	if err != nil {
		return 0, err
	}
	return rtt, checkEchoReply(contentType, content, reply)
}

// checkEchoReply checks that reply echoes content of contentType.
func checkEchoReply(contentType string, content []byte, reply Message) error {
	if reply.ContentType != contentType {
		if _, err := decodeResponse(reply); err != nil {
			return err
		}
		return fmt.Errorf("echo came back as %q, sent as %q", reply.ContentType, contentType)
	}
	return checkEcho(content, reply.Content)
}

// Action sends the text/json request {"action": action, "value": value} and
// returns the reply's result. A reply with an error code is a *ServerError.
func (c *Conn) Action(ctx context.Context, action string, value any) (json.RawMessage, time.Duration, error) {
	v, err := json.Marshal(value)
	if err != nil {
		return nil, 0, fmt.Errorf("encode value: %w", err)
	}
	m, err := JSONMessage(Request{Action: action, Value: v})
	if err != nil {
		return nil, 0, err
	}
	reply, rtt, err := c.RoundTrip(ctx, m)
	if err != nil {
		return nil, 0, err
	}
	resp, err := decodeResponse(reply)
	return resp.Result, rtt, err
}

// EchoValue sends the "echo" action with value and checks that the result is
// the same JSON value (compared in compact form).
func (c *Conn) EchoValue(ctx context.Context, value any) (time.Duration, error) {
	sent, err := json.Marshal(value)
	if err != nil {
		return 0, fmt.Errorf("encode value: %w", err)
	}
	result, rtt, err := c.Action(ctx, "echo", json.RawMessage(sent))
	if err != nil {
		return rtt, err
	}
	var a, b bytes.Buffer
	json.Compact(&a, sent)
	if err := json.Compact(&b, result); err != nil {
		return rtt, fmt.Errorf("echo result is not JSON: %w", err)
	}
	return rtt, checkEcho(a.Bytes(), b.Bytes())
}

// Info asks the server what it sees of this connection.
func (c *Conn) Info(ctx context.Context) (PeerInfo, time.Duration, error) {
	result, rtt, err := c.Action(ctx, "info", nil)
	if err != nil {
		return PeerInfo{}, rtt, err
	}
	var info PeerInfo
	if err := json.Unmarshal(result, &info); err != nil {
		return PeerInfo{}, rtt, fmt.Errorf("decode info result: %w", err)
	}
	if info.RemoteAddr == "" || info.LocalAddr == "" {
		return PeerInfo{}, rtt, fmt.Errorf("info result %s has no remote_addr or local_addr: not a netkit echo server's answer", result)
	}
	return info, rtt, nil
}

// decodeResponse decodes a text/json reply, which must have a "result"; an
// error reply is a *ServerError, the request sent back ErrEchoedRequest.
func decodeResponse(m Message) (Response, error) {
	var r Response
	if m.ContentType != ContentTypeJSON {
		return r, fmt.Errorf("reply has content type %q, want %q", m.ContentType, ContentTypeJSON)
	}
	if err := json.Unmarshal(m.Content, &r); err != nil {
		return r, fmt.Errorf("decode reply: %w", err)
	}
	if r.Result == nil { // absent: "result": null is json.RawMessage("null")
		var req Request
		if json.Unmarshal(m.Content, &req) == nil && req.Action != "" {
			return r, ErrEchoedRequest
		}
		return r, fmt.Errorf("reply has no \"result\": %s", quoteStart(m.Content))
	}
	if r.Error != "" {
		var msg string
		if json.Unmarshal(r.Result, &msg) != nil {
			msg = string(r.Result)
		}
		return r, &ServerError{Code: r.Error, Message: msg}
	}
	return r, nil
}
