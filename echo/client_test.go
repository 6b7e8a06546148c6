package echo

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

func TestDialVerification(t *testing.T) {
	pki := newTestPKI(t)
	r := serve(t, &Server{TLSConfig: ServerTLSConfig(pki.server.Certificate, nil, nil)})
	expiredKP, err := (&SelfSigned{
		Dir:      t.TempDir(),
		Validity: 24 * time.Hour,
		Now:      func() time.Time { return time.Now().AddDate(0, 0, -10) },
	}).LoadOrCreate(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	expired := serve(t, &Server{TLSConfig: ServerTLSConfig(expiredKP.Certificate, nil, nil)})
	expiredPool := x509.NewCertPool()
	expiredPool.AddCert(expiredKP.Leaf)
	pin := FingerprintOf(pki.server.Leaf)

	tests := []struct {
		name  string
		addr  string
		opts  ClientOptions
		by    string                     // VerifiedBy when the handshake succeeds and verifies
		check func(error) bool           // the error, when Dial fails
		later func(*testing.T, *TLSInfo) // more checks on a successful Dial
	}{
		{name: "CA and IP address", addr: r.addr, opts: ClientOptions{RootCAs: pki.serverPool}, by: "ca"},
		{name: "CA and localhost", addr: r.addr, opts: ClientOptions{RootCAs: pki.serverPool, ServerName: "localhost"}, by: "ca"},
		{name: "pin ignores names", addr: r.addr, opts: ClientOptions{Pins: []Fingerprint{{1}, pin}, ServerName: "db.example"}, by: "pin"},
		{name: "pin mismatch", addr: r.addr, opts: ClientOptions{Pins: []Fingerprint{{1}}}, check: func(err error) bool {
			var pe *PinError
			var cve *tls.CertificateVerificationError
			return errors.As(err, &pe) && pe.Got == pin && errors.As(err, &cve)
		}},
		{name: "unknown authority", addr: r.addr, opts: ClientOptions{}, check: func(err error) bool {
			var ua x509.UnknownAuthorityError
			return errors.As(err, &ua)
		}},
		{name: "name mismatch", addr: r.addr, opts: ClientOptions{RootCAs: pki.serverPool, ServerName: "db.example"}, check: func(err error) bool {
			var he x509.HostnameError
			return errors.As(err, &he) && he.Host == "db.example" && slices.Contains(he.Certificate.DNSNames, "localhost")
		}},
		{name: "expired", addr: expired.addr, opts: ClientOptions{RootCAs: expiredPool}, check: func(err error) bool {
			var ie x509.CertificateInvalidError
			return errors.As(err, &ie) && ie.Reason == x509.Expired && ie.Cert.NotAfter.Before(time.Now())
		}},
		{name: "insecure still reports expired", addr: expired.addr, opts: ClientOptions{RootCAs: expiredPool, InsecureSkipVerify: true},
			later: func(t *testing.T, info *TLSInfo) {
				var ie x509.CertificateInvalidError
				if info.Verified || !errors.As(info.VerifyError, &ie) || ie.Reason != x509.Expired || info.VerifyErrorText == "" {
					t.Errorf("verified %v, error %v; want not verified: expired", info.Verified, info.VerifyError)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Dial(context.Background(), tt.addr, tt.opts)
			if tt.check != nil {
				if err == nil {
					c.Close()
					t.Fatal("Dial succeeded, want a verification error")
				}
				if !tt.check(err) {
					t.Fatalf("wrong error %T: %v", errors.Unwrap(err), err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			info := c.Session().TLS
			if tt.later != nil {
				tt.later(t, info)
			} else if !info.Verified || info.VerifiedBy != tt.by || info.VerifyError != nil {
				t.Errorf("verified %v by %q (%v), want by %q", info.Verified, info.VerifiedBy, info.VerifyError, tt.by)
			}
			if _, err := c.Echo(context.Background(), ContentTypeBinary, []byte("x")); err != nil {
				t.Errorf("echo after the handshake: %v", err)
			}
		})
	}
	// The server saw the refusals as bad certificate alerts.
	r.log.waitFor(t, "TLS handshake: remote error: tls: bad certificate")
}

func TestSessionDescribesCertificate(t *testing.T) {
	pki := newTestPKI(t)
	r := serve(t, &Server{TLSConfig: ServerTLSConfig(pki.server.Certificate, nil, nil)})
	c := mustDial(t, r.addr, ClientOptions{RootCAs: pki.serverPool})
	s := c.Session()
	if s.Address != r.addr || s.TLS == nil || s.TLS.Version != "TLS 1.3" || s.TLS.ServerName != "127.0.0.1" || len(s.TLS.Chain) != 1 {
		t.Fatalf("session %+v %+v", s, s.TLS)
	}
	leaf, want := s.TLS.Chain[0], pki.server.Leaf
	if leaf.Subject != want.Subject.String() || leaf.Issuer != want.Issuer.String() || leaf.SHA256 != FingerprintOf(want).String() ||
		!leaf.NotAfter.Equal(want.NotAfter) || !slices.Contains(leaf.SANs, "::1") || !slices.Contains(leaf.SANs, "localhost") {
		t.Errorf("chain[0] = %+v", leaf)
	}
}

// TestDialSNI: TLSInfo.SNI is the name the server received as SNI, none
// for IP addresses in any spelling, while ServerName stays the name the
// certificate was checked against.
func TestDialSNI(t *testing.T) {
	pki := newTestPKI(t)
	r := serve(t, &Server{TLSConfig: ServerTLSConfig(pki.server.Certificate, nil, nil)})
	pins := []Fingerprint{FingerprintOf(pki.server.Leaf)} // names are not checked
	for _, tt := range []struct{ serverName, wantName, wantSNI string }{
		{"", "127.0.0.1", ""}, // the host of the address
		{"localhost", "localhost", "localhost"},
		{"db.example.", "db.example.", "db.example"},
		{"::1", "::1", ""},
		{"[::1]", "[::1]", ""},
		{"fe80::1%eth0", "fe80::1%eth0", ""},
		{"[fe80::1%25eth0]", "[fe80::1%25eth0]", ""},
	} {
		c := mustDial(t, r.addr, ClientOptions{Pins: pins, ServerName: tt.serverName})
		info := c.Session().TLS
		if info.ServerName != tt.wantName || info.SNI != tt.wantSNI {
			t.Errorf("ServerName %q: TLSInfo server name %q, SNI %q; want %q, %q", tt.serverName, info.ServerName, info.SNI, tt.wantName, tt.wantSNI)
		}
		seen, _, err := c.Info(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if seen.ServerName != tt.wantSNI {
			t.Errorf("ServerName %q: the server received SNI %q, want %q", tt.serverName, seen.ServerName, tt.wantSNI)
		}
	}
}

func TestDialErrors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	if _, err := Dial(context.Background(), closed, ClientOptions{}); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("closed port: %v, want connection refused", err)
	}

	// A plaintext client of a TLS server: the server's TLS stack sees no
	// handshake and closes.
	pki := newTestPKI(t)
	r := serve(t, &Server{TLSConfig: ServerTLSConfig(pki.server.Certificate, nil, nil)})
	c := mustDial(t, r.addr, ClientOptions{Plaintext: true})
	if _, err := c.Echo(context.Background(), ContentTypeBinary, []byte("x")); !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("plaintext to TLS: %v, want the server to close", err)
	}
	r.log.waitFor(t, "TLS handshake: tls: first record does not look like a TLS handshake")
}

// TestRoundTripHonoursContext: a server that never answers does not hold the
// client past its context.
func TestRoundTripHonoursContext(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			defer c.Close()
			io.Copy(io.Discard, c) // reads, never answers
		}
	}()
	c := mustDial(t, ln.Addr().String(), ClientOptions{Plaintext: true})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	_, err = c.Echo(ctx, ContentTypeBinary, []byte("anyone?"))
	if !errors.Is(err, context.Canceled) {
		t.Errorf("got %v, want context.Canceled", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("returned after %v", d)
	}
}

// TestRepliesMustBeWellFormed: a reply to a text/json request needs a
// "result", and an info result the fields of one; a peer that echoes bytes
// sends the request back, which is named as such.
func TestRepliesMustBeWellFormed(t *testing.T) {
	ctx := context.Background()
	raw := serve(t, &Server{Raw: true})
	c := mustDial(t, raw.addr, ClientOptions{Plaintext: true})
	if _, _, err := c.Action(ctx, "foo", "x"); !errors.Is(err, ErrEchoedRequest) {
		t.Errorf("action foo to a raw server: %v, want ErrEchoedRequest", err)
	}
	if _, _, err := c.Info(ctx); !errors.Is(err, ErrEchoedRequest) {
		t.Errorf("info from a raw server: %v, want ErrEchoedRequest", err)
	}
	if _, err := c.EchoValue(ctx, "x"); !errors.Is(err, ErrEchoedRequest) {
		t.Errorf("echo action to a raw server: %v, want ErrEchoedRequest", err)
	}

	// A server that answers every request with the same content.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var reply atomic.Value
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				r := NewReader(conn, 0, 0)
				for {
					if _, err := r.Read(); err != nil {
						return
					}
					frame, _ := AppendFrame(nil, NewMessage(ContentTypeJSON, "utf-8", []byte(reply.Load().(string))))
					conn.Write(frame)
				}
			}()
		}
	}()
	c = mustDial(t, ln.Addr().String(), ClientOptions{Plaintext: true})
	for _, tt := range []struct {
		reply string
		info  bool
		want  string
	}{
		{`{"ok": true}`, false, `reply has no "result": "{\"ok\": true}"`},
		{`{"result": null}`, false, ""},
		{`{"result": "x"}`, true, "decode info result: json: cannot unmarshal string"},
		{`{"result": {"tls": false}}`, true, `info result {"tls": false} has no remote_addr or local_addr`},
		{`{"result": {"remote_addr": "127.0.0.1", "remote_port": 1, "local_addr": "127.0.0.1", "local_port": 2}}`, true, ""},
	} {
		reply.Store(tt.reply)
		if tt.info {
			_, _, err = c.Info(ctx)
		} else {
			_, _, err = c.Action(ctx, "x", nil)
		}
		if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("reply %s: %v, want %q", tt.reply, err, tt.want)
		}
	}
}
