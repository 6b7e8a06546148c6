package echo

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/netkit/netkit/internal/testenv"
)

// jsonFrame builds a text/json frame by hand.
func jsonFrame(content string) []byte {
	return frame(fmt.Sprintf(`{"byteorder": "little", "content-type": "text/json", "content-encoding": "utf-8", "content-length": %d}`, len(content)), content)
}

// binaryFrame builds a binary frame by hand.
func binaryFrame(contentType, content string) []byte {
	return frame(fmt.Sprintf(`{"byteorder": "big", "content-type": %q, "content-encoding": "binary", "content-length": %d}`, contentType, len(content)), content)
}

// TestServerHandBuiltStream drives a plaintext server with frames built by
// hand, first one byte per write, then several frames in one write.
func TestServerHandBuiltStream(t *testing.T) {
	r := serve(t, &Server{})
	c, err := net.Dial("tcp", r.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	bin := binaryFrame("image/x-test", "\x00\x01hello\xff")
	echo := jsonFrame(`{"action": "echo", "value": {"a": [1, "ü"]}}`)
	info := jsonFrame(`{"action": "info"}`)

	// Byte by byte: TCP_NODELAY is on, so each write is a segment of its own.
	for _, b := range append(append([]byte{}, bin...), echo...) {
		if _, err := c.Write([]byte{b}); err != nil {
			t.Fatal(err)
		}
	}
	// Three frames in one write.
	if _, err := c.Write(bytes.Join([][]byte{bin, echo, info}, nil)); err != nil {
		t.Fatal(err)
	}

	c.SetDeadline(time.Now().Add(5 * time.Second))
	rd := NewReader(c, 0, 0)
	for i, want := range []string{"bin", "echo", "bin", "echo", "info"} {
		m, err := rd.Read()
		if err != nil {
			t.Fatalf("reply %d: %v", i, err)
		}
		switch want {
		case "bin":
			if m.ContentType != "image/x-test" || m.ContentEncoding != "binary" || string(m.Content) != "\x00\x01hello\xff" {
				t.Errorf("reply %d: %+v %q, want the binary content back", i, m.Header, m.Content)
			}
		case "echo":
			if m.ContentType != ContentTypeJSON || string(m.Content) != `{"result":{"a":[1,"ü"]}}` {
				t.Errorf("reply %d: %+v %s", i, m.Header, m.Content)
			}
		case "info":
			var resp struct{ Result PeerInfo }
			if err := json.Unmarshal(m.Content, &resp); err != nil {
				t.Fatal(err)
			}
			local := c.LocalAddr().(*net.TCPAddr)
			if resp.Result.RemoteAddr != "127.0.0.1" || resp.Result.RemotePort != local.Port || resp.Result.TLS {
				t.Errorf("info %+v, want 127.0.0.1:%d without TLS", resp.Result, local.Port)
			}
		}
		if m.ByteOrder != NativeByteOrder {
			t.Errorf("reply %d byteorder %q, want %q", i, m.ByteOrder, NativeByteOrder)
		}
	}
}

func TestServerInvalidActionKeepsConnection(t *testing.T) {
	r := serve(t, &Server{})
	c := mustDial(t, r.addr, ClientOptions{Plaintext: true})
	ctx := context.Background()
	_, _, err := c.Action(ctx, "search", "morpheus")
	var se *ServerError
	if !errors.As(err, &se) || se.Code != "invalid_action" || se.Message != "Error: invalid action 'search'." {
		t.Fatalf("got %v, want the invalid action error reply", err)
	}
	for _, req := range []string{`[1,2]`, `{"action": 5}`} {
		m := NewMessage(ContentTypeJSON, "utf-8", []byte(req))
		reply, _, err := c.RoundTrip(ctx, m)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := decodeResponse(reply); !errors.As(err, &se) || se.Code != "bad_request" {
			t.Errorf("request %s: got %v, want a bad_request reply", req, err)
		}
	}
	if _, err := c.Echo(ctx, ContentTypeBinary, []byte("still here")); err != nil {
		t.Errorf("the connection is not usable after error replies: %v", err)
	}
	if _, err := c.EchoValue(ctx, map[string]any{"k": []int{1, 2}}); err != nil {
		t.Errorf("echo action: %v", err)
	}
}

// TestServerMalformedClients sends broken frames, each on a connection of its
// own, while a good client keeps echoing: each broken one gets an error reply
// and is closed, the good one never notices.
func TestServerMalformedClients(t *testing.T) {
	pki := newTestPKI(t)
	r := serve(t, &Server{TLSConfig: ServerTLSConfig(pki.server.Certificate, nil, nil), MaxContentLength: 1024})
	opts := ClientOptions{RootCAs: pki.serverPool, ServerName: "localhost"}

	good := mustDial(t, r.addr, opts)
	stop := make(chan struct{})
	var echoed atomic.Int64
	goodErr := make(chan error, 1)
	go func() {
		defer close(goodErr)
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := good.Echo(context.Background(), ContentTypeBinary, []byte("good client")); err != nil {
				goodErr <- err
				return
			}
			echoed.Add(1)
		}
	}()

	okFrame := binaryFrame("a", "x")
	tests := []struct {
		name   string
		stream []byte
		code   string
	}{
		{"header not JSON", frame(`{byteorder: little}`, ""), "bad_header"},
		{"missing key", frame(`{"byteorder":"little","content-type":"a","content-length":0}`, ""), "bad_header"},
		{"wrong type", frame(`{"byteorder":"little","content-type":"a","content-encoding":"x","content-length":"0"}`, ""), "bad_header"},
		{"content too long", binaryFrame("a", strings.Repeat("x", 1025)), "content_too_long"},
		{"header too long after a good frame", append(okFrame, 0x20, 0x00), "header_too_long"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tc, err := tls.Dial("tcp", r.addr, &tls.Config{RootCAs: pki.serverPool, ServerName: "localhost"})
			if err != nil {
				t.Fatal(err)
			}
			defer tc.Close()
			tc.SetDeadline(time.Now().Add(5 * time.Second))
			if _, err := tc.Write(tt.stream); err != nil {
				t.Fatal(err)
			}
			rd := NewReader(tc, 0, 0)
			if bytes.HasPrefix(tt.stream, okFrame) {
				if _, err := rd.Read(); err != nil {
					t.Fatalf("reply to the good frame: %v", err)
				}
			}
			m, err := rd.Read()
			if err != nil {
				t.Fatalf("no error reply: %v", err)
			}
			var se *ServerError
			if _, err := decodeResponse(m); !errors.As(err, &se) || se.Code != tt.code || !strings.HasPrefix(se.Message, "Error: ") {
				t.Fatalf("got %v, want an error reply with code %s", err, tt.code)
			}
			if _, err := rd.Read(); err != io.EOF {
				t.Errorf("after the error reply: %v, want the connection closed (EOF)", err)
			}
		})
	}
	r.log.waitFor(t, "level=WARN msg=close", "bad header: missing key \\\"content-encoding\\\"", "content too long", "header too long")

	before := echoed.Load()
	time.Sleep(50 * time.Millisecond)
	close(stop)
	if err := <-goodErr; err != nil {
		t.Fatalf("the good client failed: %v", err)
	}
	if echoed.Load() <= before || before == 0 {
		t.Errorf("the good client echoed %d messages during the test and %d after; it should have kept going", before, echoed.Load()-before)
	}
}

// TestServerTLSToPlaintext: a TLS client of a plaintext server is closed at
// once with a reason in the log, not left waiting for its handshake.
func TestServerTLSToPlaintext(t *testing.T) {
	r := serve(t, &Server{})
	start := time.Now()
	_, err := Dial(context.Background(), r.addr, ClientOptions{InsecureSkipVerify: true, Timeout: 5 * time.Second})
	// The server closes with the ClientHello unread: the client sees a
	// reset (or an end of stream, if the close wins the race).
	if err == nil || !errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, io.EOF) {
		t.Fatalf("got %v, want the handshake to end with a reset", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("the handshake took %v to fail", d)
	}
	r.log.waitFor(t, "the client speaks TLS to a plaintext server")
}

func TestServerIdleClientsDropped(t *testing.T) {
	pki := newTestPKI(t)
	const timeout = 300 * time.Millisecond
	r := serve(t, &Server{
		TLSConfig:        ServerTLSConfig(pki.server.Certificate, nil, nil),
		HandshakeTimeout: timeout,
		IdleTimeout:      timeout,
	})
	// One connects and never starts the handshake; one completes it and never
	// sends a message.
	silent, err := net.Dial("tcp", r.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	idle := mustDial(t, r.addr, ClientOptions{RootCAs: pki.serverPool, ServerName: "localhost"})
	start := time.Now()
	for _, c := range []net.Conn{silent, idle.conn} {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if n, err := c.Read(make([]byte, 1)); err != io.EOF {
			t.Errorf("read %d bytes, %v; want the server to close the connection", n, err)
		}
	}
	if d := time.Since(start); d < timeout || d > 3*time.Second {
		t.Errorf("dropped after %v, want about %v", d, timeout)
	}
	r.log.waitFor(t, `msg=dropped clients=1 addresses=1`, `reasons="TLS handshake not finished within the handshake timeout: 1"`, `reason="idle timeout"`)
}

// TestServerIdleMemory: connections that sent a large message and went idle
// do not keep its memory, neither the buffer it was read into nor the reply.
func TestServerIdleMemory(t *testing.T) {
	r := serve(t, &Server{})
	const conns = 16
	value := strings.Repeat("v", DefaultMaxContentLength-100)
	requests := [][]byte{
		binaryFrame("a", strings.Repeat("b", DefaultMaxContentLength)),
		jsonFrame(`{"action":"echo","value":"` + value + `"}`),
	}
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	before := heap()
	for i := range conns {
		c, err := net.Dial("tcp", r.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Write(requests[i%2]); err != nil {
			t.Fatal(err)
		}
		// Read the reply without keeping it: its prefix, header and content.
		br := bufio.NewReader(c)
		var n uint16
		if err := binary.Read(br, binary.BigEndian, &n); err != nil {
			t.Fatal(err)
		}
		h := make([]byte, n)
		if _, err := io.ReadFull(br, h); err != nil {
			t.Fatal(err)
		}
		hdr, err := ParseHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.CopyN(io.Discard, br, int64(hdr.ContentLength)); err != nil || hdr.ContentLength < DefaultMaxContentLength-100 {
			t.Fatalf("reply of %d bytes: %v", hdr.ContentLength, err)
		}
	}
	time.Sleep(50 * time.Millisecond) // the last connection goes idle
	grown := int64(heap()) - int64(before)
	t.Logf("%d idle connections: heap grew by %d KiB", conns, grown>>10)
	if grown > conns*DefaultMaxContentLength/4 {
		t.Errorf("%d idle connections hold %d KiB more heap (%d KiB each) after a %d KiB message",
			conns, grown>>10, grown/conns>>10, DefaultMaxContentLength>>10)
	}
}

// TestServerLargeMessagesReuseBuffers: messages of over 64 KiB sent one
// after the other, each once the last echo is back (as echo bench sends
// them), are read and answered in the same buffers: the server gives its
// large buffers up only when the next message does not follow.
func TestServerLargeMessagesReuseBuffers(t *testing.T) {
	r := serve(t, &Server{})
	c, err := net.Dial("tcp", r.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Minute))
	const size = 4 * keepContent
	one, err := AppendFrame(nil, NewMessage(ContentTypeBinary, "binary", bytes.Repeat([]byte("x"), size)))
	if err != nil {
		t.Fatal(err)
	}
	reader := NewReader(c, 0, 0)
	roundTrip := func() {
		if _, err := c.Write(one); err != nil {
			t.Fatal(err)
		}
		if m, err := reader.Read(); err != nil || len(m.Content) != size {
			t.Fatal(m.Header, err)
		}
	}
	roundTrip() // the first message allocates the buffers, at both ends
	allocs := testing.AllocsPerRun(50, roundTrip)
	if allocs >= 1 {
		t.Errorf("%.1f allocations per %d-byte message echoed, want none", allocs, size)
	}
}

func TestServerMaxConns(t *testing.T) {
	r := serve(t, &Server{MaxConns: 2, MaxConnsPerAddr: 2})
	ctx := context.Background()
	opts := ClientOptions{Plaintext: true}
	first, second := mustDial(t, r.addr, opts), mustDial(t, r.addr, opts)
	for _, c := range []*Conn{first, second} {
		if _, err := c.Echo(ctx, ContentTypeBinary, []byte("in")); err != nil {
			t.Fatal(err)
		}
	}
	third := mustDial(t, r.addr, opts)
	_, err := third.Echo(ctx, ContentTypeBinary, []byte("over the limit"))
	var se *ServerError
	if !errors.As(err, &se) || se.Code != "busy" {
		t.Fatalf("got %v, want a busy error reply", err)
	}
	third.Close() // ends the server's linger
	r.log.waitFor(t, `level=WARN msg=refused clients=1 addresses=1`, `reasons="too many connections: 1"`)

	// A place frees up: the next connection is served.
	first.Close()
	r.log.waitFor(t, `reason="closed by peer"`)
	if _, err := mustDial(t, r.addr, opts).Echo(ctx, ContentTypeBinary, []byte("now")); err != nil {
		t.Errorf("after a connection closed: %v", err)
	}
}

// TestServerBusyText: a text client over MaxConns, on a raw server or one
// that tells it by its first bytes, gets the busy line as text, and then a
// clean close even though it sent data the server never read.
func TestServerBusyText(t *testing.T) {
	const busy = "netkit echo: server busy: too many connections (1 open, the limit); try again later\n"
	for _, raw := range []bool{true, false} {
		t.Run(fmt.Sprintf("raw=%v", raw), func(t *testing.T) {
			r := serve(t, &Server{Raw: raw, MaxConns: 1, MaxConnsPerAddr: 1})
			first, err := net.Dial("tcp", r.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer first.Close()
			first.SetDeadline(time.Now().Add(5 * time.Second))
			first.Write([]byte("in\n"))
			if _, err := io.ReadFull(first, make([]byte, 3)); err != nil {
				t.Fatal(err)
			}
			c, err := net.Dial("tcp", r.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(5 * time.Second))
			if _, err := c.Write([]byte("hello, anyone?\n")); err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(c)
			if string(got) != busy || err != nil {
				t.Errorf("got %q, %v; want %q and a clean close", got, err, busy)
			}
			c.Close() // ends the server's linger
			r.log.waitFor(t, `msg=refused`, `reasons="too many connections: 1"`)
		})
	}
}

func TestServerMutualTLS(t *testing.T) {
	pki := newTestPKI(t)
	r := serve(t, &Server{TLSConfig: ServerTLSConfig(pki.server.Certificate, pki.clientCA, []string{"netkit-echo"})})
	opts := ClientOptions{RootCAs: pki.serverPool, ServerName: "localhost", NextProtos: []string{"netkit-echo"}}

	t.Run("accepted", func(t *testing.T) {
		o := opts
		o.Certificates = []tls.Certificate{pki.client}
		c := mustDial(t, r.addr, o)
		info, _, err := c.Info(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		want := PeerInfo{
			RemoteAddr: "127.0.0.1", RemotePort: c.conn.LocalAddr().(*net.TCPAddr).Port,
			LocalAddr: "127.0.0.1", LocalPort: c.conn.RemoteAddr().(*net.TCPAddr).Port,
			TLS: true, TLSVersion: "TLS 1.3", CipherSuite: c.Session().TLS.CipherSuite,
			ServerName: "localhost", ALPN: "netkit-echo", ClientCertificate: "CN=test client",
		}
		if info != want {
			t.Errorf("info\n got %+v\nwant %+v", info, want)
		}
		if s := c.Session().TLS; s.ALPN != "netkit-echo" || !s.Verified || s.VerifiedBy != "ca" {
			t.Errorf("session %+v", s)
		}
		r.log.waitFor(t, `msg=open peer=127.0.0.1:`, `tls="TLS 1.3"`, `alpn=netkit-echo client_cert="CN=test client"`)
	})
	for _, tt := range []struct {
		name  string
		certs []tls.Certificate
		log   string
	}{
		{"refused without a certificate", nil, "client didn't provide a certificate"},
		// crypto/tls offers only a certificate issued by one of the CAs the
		// server names, so the stranger's is not even sent.
		{"refused with an unknown certificate", []tls.Certificate{pki.stranger}, "client didn't provide a certificate"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o := opts
			o.Certificates = tt.certs
			// In TLS 1.3 the client's handshake ends before the server has
			// checked its certificate: the refusal comes with the first read.
			c, err := Dial(context.Background(), r.addr, o)
			if err == nil {
				_, err = c.Echo(context.Background(), ContentTypeBinary, []byte("let me in"))
				c.Close()
			}
			var op *net.OpError
			if !errors.As(err, &op) || op.Op != "remote error" {
				t.Fatalf("got %v, want a TLS alert from the server", err)
			}
			r.log.waitFor(t, tt.log)
		})
	}
}

// TestServerMutualTLSOpenSSL presents a certificate from an unknown CA with
// openssl, which sends it even though the server names other CAs.
func TestServerMutualTLSOpenSSL(t *testing.T) {
	testenv.NeedTool(t, "openssl")
	pki := newTestPKI(t)
	r := serve(t, &Server{TLSConfig: ServerTLSConfig(pki.server.Certificate, pki.clientCA, nil)})
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "stranger.pem"), filepath.Join(dir, "stranger.key")
	keyDER, err := x509.MarshalPKCS8PrivateKey(pki.stranger.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: pki.stranger.Certificate[0]}), 0o644)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "openssl", "s_client", "-connect", r.addr, "-quiet", "-cert", certFile, "-key", keyFile)
	cmd.Stdin = strings.NewReader("let me in\n")
	out, _ := cmd.CombinedOutput()
	if strings.Contains(string(out), "let me in") {
		t.Fatalf("the server echoed a client with an unknown certificate:\n%s", out)
	}
	r.log.waitFor(t, `reason="TLS handshake: tls: failed to verify certificate: x509: certificate signed by unknown authority`)
}

// TestServerShutdownFinishesInFlight starts messages, shuts the server down
// half way through them, and checks that each is answered in full while idle
// connections are closed at once and new ones are refused. The rest of each
// message comes in one write with a whole second message: that one has
// arrived too, so it is answered as well, and the connection then ends with
// a clean close, not a reset.
func TestServerShutdownFinishesInFlight(t *testing.T) {
	pki := newTestPKI(t)
	r := serve(t, &Server{TLSConfig: ServerTLSConfig(pki.server.Certificate, nil, nil), DrainTimeout: 10 * time.Second})
	cfg := &tls.Config{RootCAs: pki.serverPool, ServerName: "localhost"}
	const busy, size = 20, 64 << 10
	content := bytes.Repeat([]byte("0123456789abcdef"), size/16)
	msg, err := AppendFrame(nil, NewMessage(ContentTypeBinary, "binary", content))
	if err != nil {
		t.Fatal(err)
	}
	var conns []*tls.Conn
	for range busy {
		c, err := tls.Dial("tcp", r.addr, cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := c.Write(msg[:len(msg)/2]); err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	idle, err := tls.Dial("tcp", r.addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	// Wait until the server has the first halves: each connection is busy.
	r.log.waitCount(t, "msg=open", busy+1)
	time.Sleep(200 * time.Millisecond)

	stopped := make(chan error, 1)
	start := time.Now()
	go func() { stopped <- r.stop() }()
	idle.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := idle.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("idle connection: %v, want it closed by the shutdown", err)
	}
	if _, err := net.DialTimeout("tcp", r.addr, time.Second); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("a new connection during shutdown: %v, want connection refused", err)
	}

	value := strings.Repeat("pipelined ", 5000)
	second := jsonFrame(`{"action": "echo", "value": "` + value + `"}`)
	var wg sync.WaitGroup
	for i, c := range conns {
		wg.Go(func() {
			if _, err := c.Write(append(msg[len(msg)/2:len(msg):len(msg)], second...)); err != nil {
				t.Errorf("conn %d: write the second half and a second message: %v", i, err)
				return
			}
			rd := NewReader(c, 0, 0)
			m, err := rd.Read()
			if err != nil || !bytes.Equal(m.Content, content) {
				t.Errorf("conn %d: reply %v, %d bytes; want the whole echo", i, err, len(m.Content))
				return
			}
			if m, err = rd.Read(); err != nil || string(m.Content) != `{"result":"`+value+`"}` {
				t.Errorf("conn %d: reply to the second message: %v, %d bytes; want it answered", i, err, len(m.Content))
				return
			}
			if _, err := rd.Read(); err != io.EOF {
				t.Errorf("conn %d: after the replies: %v, want the connection closed", i, err)
			}
		})
	}
	wg.Wait()
	if err := <-stopped; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("shutdown took %v", d)
	}
	if n := strings.Count(r.log.String(), `reason="server shutting down"`); n != busy+1 {
		t.Errorf("%d connections closed for the shutdown, want %d; log:\n%s", n, busy+1, r.log)
	}
}

// startMessage connects to addr and sends the first half of a message,
// whose second half never comes. The connection is closed when the test
// ends.
func startMessage(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	msg := binaryFrame("a", "half of this is never sent")
	if _, err := c.Write(msg[:len(msg)/2]); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestServerMessageTimeout: a client that starts a message and stalls is
// dropped after MessageTimeout, long before its idle timeout.
func TestServerMessageTimeout(t *testing.T) {
	const timeout = 300 * time.Millisecond
	r := serve(t, &Server{MessageTimeout: timeout, IdleTimeout: time.Minute})
	c := startMessage(t, r.addr)
	start := time.Now()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("read %d bytes, %v; want the server to close the connection", n, err)
	}
	if d := time.Since(start); d < timeout || d > 3*time.Second {
		t.Errorf("dropped after %v, want about %v", d, timeout)
	}
	r.log.waitFor(t, "level=WARN msg=close", `reason="read message: read tcp`, "i/o timeout")
}

// TestServerDrainDeadline: a message that does not finish by DrainTimeout is
// cut off; Serve returns in time and logs the forced close as a warning.
func TestServerDrainDeadline(t *testing.T) {
	const drain = 300 * time.Millisecond
	r := serve(t, &Server{DrainTimeout: drain})
	startMessage(t, r.addr)
	r.log.waitFor(t, "msg=open")
	time.Sleep(100 * time.Millisecond) // the server has the first half
	start := time.Now()
	if err := r.stop(); err != nil {
		t.Fatalf("Serve: %v", err)
	}
	if d := time.Since(start); d < drain || d > drain+time.Second {
		t.Errorf("Serve returned %v after the shutdown began, want about %v", d, drain)
	}
	r.log.waitFor(t, "level=WARN msg=close", `reason="closed at the drain deadline in the middle of a message, which is lost: read message:`)
}

// TestServerDrainDeadlineRaw: a raw client still sending at the drain
// deadline is cut off there, and that is logged as a warning saying so, not
// as an ordinary shutdown.
func TestServerDrainDeadlineRaw(t *testing.T) {
	r := serve(t, &Server{Raw: true, DrainTimeout: 300 * time.Millisecond})
	c, err := net.Dial("tcp", r.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	go io.Copy(io.Discard, c)
	go func() {
		for range 200 { // 4 s at most
			if _, err := c.Write([]byte("raw data\n")); err != nil {
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	r.log.waitFor(t, "msg=open")
	time.Sleep(50 * time.Millisecond)
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	r.log.waitFor(t, "level=WARN msg=close", "mode=raw", `reason="closed at the drain deadline while the client was still sending raw data: what it sent since is not echoed"`)
}

// TestServerALPN: a client offering only protocols the server does not
// accept is refused; one offering none is served without ALPN.
func TestServerALPN(t *testing.T) {
	pki := newTestPKI(t)
	r := serve(t, &Server{TLSConfig: ServerTLSConfig(pki.server.Certificate, nil, []string{"netkit-echo"})})
	opts := ClientOptions{RootCAs: pki.serverPool, ServerName: "localhost", NextProtos: []string{"h2", "http/1.1"}}
	_, err := Dial(context.Background(), r.addr, opts)
	if err == nil || !strings.Contains(err.Error(), "remote error: tls: no application protocol") {
		t.Errorf("offering h2 and http/1.1: %v, want a no_application_protocol alert", err)
	}
	r.log.waitFor(t, "level=WARN msg=close", "client requested unsupported application protocols")
	opts.NextProtos = nil
	c := mustDial(t, r.addr, opts)
	if _, err := c.Echo(context.Background(), ContentTypeBinary, []byte("no ALPN")); err != nil || c.Session().TLS.ALPN != "" {
		t.Errorf("offering no ALPN: %v, negotiated %q; want served without ALPN", err, c.Session().TLS.ALPN)
	}
}

// startPiped starts cmd with pipes to its stdin and from its stdout, and
// its stderr collected.
func startPiped(t *testing.T, cmd *exec.Cmd) (stdin io.WriteCloser, stdout io.ReadCloser, stderr *bytes.Buffer) {
	t.Helper()
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err = cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr = new(bytes.Buffer)
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return stdin, stdout, stderr
}

// TestServerRawOpenSSL tests raw mode with 'openssl s_client', which also
// checks that OpenSSL accepts the self-signed certificate. The first line is
// empty and sent on its own: one byte, "\n", which is text.
func TestServerRawOpenSSL(t *testing.T) {
	testenv.NeedTool(t, "openssl")
	pki := newTestPKI(t)
	r := serve(t, &Server{TLSConfig: ServerTLSConfig(pki.server.Certificate, nil, nil), IdleTimeout: 500 * time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "openssl", "s_client", "-connect", r.addr, "-quiet",
		"-CAfile", pki.server.CertFile, "-verify_return_error", "-verify_hostname", "localhost", "-servername", "localhost")
	stdin, stdout, stderr := startPiped(t, cmd)
	defer stdin.Close()
	io.WriteString(stdin, "\n")
	first := make([]byte, 1)
	if _, err := io.ReadFull(stdout, first); err != nil || first[0] != '\n' {
		cmd.Wait()
		t.Fatalf("openssl s_client printed %q (%v) for an empty line; stderr:\n%s", first, err, stderr.String())
	}
	io.WriteString(stdin, "hello from openssl\nsecond line\n")
	// The server closes the connection after its idle timeout; s_client then
	// ends, with status 0 or 1 depending on the OpenSSL version.
	out, _ := io.ReadAll(stdout)
	err := cmd.Wait()
	if string(out) != "hello from openssl\nsecond line\n" {
		t.Fatalf("openssl s_client printed %q (%v); stderr:\n%s", out, err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "verify return:1") {
		t.Errorf("openssl did not verify the certificate:\n%s", stderr.String())
	}
	r.log.waitFor(t, "mode=raw", `reason="idle timeout"`)
}

func TestServerRawNcat(t *testing.T) {
	testenv.NeedTool(t, "ncat")
	pki := newTestPKI(t)
	r := serve(t, &Server{TLSConfig: ServerTLSConfig(pki.server.Certificate, nil, nil)})
	host, port, _ := net.SplitHostPort(r.addr)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ncat", "--ssl", "--ssl-trustfile", pki.server.CertFile, "--ssl-servername", "localhost", host, port)
	// ncat ends at the end of its input without waiting for the echo: close
	// its stdin once the echo is back, and it ends at once.
	stdin, stdout, stderr := startPiped(t, cmd)
	const line = "hello from ncat\n"
	io.WriteString(stdin, line)
	got := make([]byte, len(line))
	_, readErr := io.ReadFull(stdout, got)
	stdin.Close()
	rest, _ := io.ReadAll(stdout)
	err := cmd.Wait()
	if string(got) != line || len(rest) > 0 || err != nil {
		t.Fatalf("ncat printed %q then %q (%v), exit %v; want %q; stderr:\n%s", got, rest, readErr, err, line, stderr.String())
	}
	r.log.waitFor(t, "mode=raw", `reason="closed by peer"`)
}

// TestServerMaxHeaderLength: a server with a higher header limit reads and
// echoes a header longer than the default one, which a default server
// refuses.
func TestServerMaxHeaderLength(t *testing.T) {
	long := frame(headerOf(30000), "hello")
	for _, limit := range []int{40000, 0} {
		r := serve(t, &Server{MaxHeaderLength: limit})
		c, err := net.Dial("tcp", r.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Write(long); err != nil {
			t.Fatal(err)
		}
		m, err := NewReader(c, MaxHeaderLimit, 0).Read()
		if err != nil {
			t.Fatalf("limit %d: %v", limit, err)
		}
		var se *ServerError
		if limit == 0 {
			if _, err := decodeResponse(m); !errors.As(err, &se) || se.Code != "header_too_long" || !strings.Contains(se.Message, "the limit is 8191") {
				t.Errorf("default limit: %v, want a header_too_long reply", err)
			}
		} else if len(m.ContentType) != 30000-len(headerStem) || string(m.Content) != "hello" {
			t.Errorf("limit %d: reply %d bytes of content type, %q; want the message back", limit, len(m.ContentType), m.Content)
		}
	}
}

// TestServerTellsTextFromFrames: in auto mode a connection whose third byte
// is '{' is read as frames, whatever its first two bytes; anything else,
// including fewer than three bytes, is text and is echoed raw.
func TestServerTellsTextFromFrames(t *testing.T) {
	r := serve(t, &Server{})
	// A header of 0x207b bytes: its prefix, 20 7b, is printable text.
	long := `{"byteorder":"big","content-type":"","content-encoding":"","content-length":0}`
	long = strings.Replace(long, `"content-type":""`, `"content-type":"`+strings.Repeat("x", 0x207b-len(long))+`"`, 1)
	tests := []struct {
		name string
		send []byte
		code string // the error reply wanted; empty: the bytes echoed back
	}{
		{"leading newline", []byte("\nhello\n"), ""},
		{"leading tab", []byte("\thello\n"), ""},
		{"leading CRLF", []byte("\r\nhello\r\n"), ""},
		{"an empty line alone", []byte("\n"), ""},
		{"two bytes alone", []byte("a\n"), ""},
		{"text", []byte("hello\n"), ""},
		{"JSON text", []byte(`{"a": 1}` + "\n"), ""},
		{"header length with a printable high byte", frame(long, ""), "header_too_long"},
		{"header length 0x2000", frame(long[:0x2000-1]+"}", ""), "header_too_long"},
		{"text whose third byte is {", []byte(`  {"a": 1}` + "\n"), "header_too_long"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := net.Dial("tcp", r.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(3 * time.Second))
			if _, err := c.Write(tt.send); err != nil {
				t.Fatal(err)
			}
			if tt.code == "" {
				got := make([]byte, len(tt.send))
				if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, tt.send) {
					t.Fatalf("got %q, %v; want %q echoed", got, err, tt.send)
				}
				return
			}
			m, err := NewReader(c, 0, 0).Read()
			var se *ServerError
			if err != nil {
				t.Fatalf("no reply: %v", err)
			}
			if _, err := decodeResponse(m); !errors.As(err, &se) || se.Code != tt.code {
				t.Fatalf("got %v, want an error reply %s", err, tt.code)
			}
		})
	}
	// Frames, some with a header length whose low byte is '{' or text.
	c := mustDial(t, r.addr, ClientOptions{Plaintext: true})
	for size := 1; size <= 300; size++ {
		if _, err := c.Echo(context.Background(), strings.Repeat("t", size), []byte("frame")); err != nil {
			t.Errorf("content type of %d bytes: %v", size, err)
		}
	}
}

// TestServerForcedRaw: with Raw, bytes that would start a frame are echoed
// as they are.
func TestServerForcedRaw(t *testing.T) {
	r := serve(t, &Server{Raw: true})
	c, err := net.Dial("tcp", r.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	want := binaryFrame("a", "b")
	c.Write(want)
	got := make([]byte, len(want))
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("got %q, %v; want %q", got, err, want)
	}
}

// TestPythonTutorialClient runs the Python tutorial's client against a
// plaintext server. The "search" and "binary" cases take the guide's code as
// it is; "echo" and "info" take the one line testdata/python/app-client.py
// changes (they go as text/json there, as binary in the guide).
func TestPythonTutorialClient(t *testing.T) {
	testenv.NeedTool(t, "python3")
	r := serve(t, &Server{})
	host, port, _ := net.SplitHostPort(r.addr)
	for _, tt := range []struct{ action, value, want string }{
		{"echo", "hello netkit", "Got result: hello netkit\n"},
		{"search", "morpheus", "Got result: Error: invalid action 'search'.\n"},
		{"info", "", "Got result: {'remote_addr': '127.0.0.1', 'remote_port': "},
		{"binary", "payload", "Received binary/custom-client-binary-type response from ('127.0.0.1', " + port + ")\nGot response: b'binarypayload'\n"},
	} {
		t.Run(tt.action, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			out, err := exec.CommandContext(ctx, "python3", filepath.Join("testdata", "python", "app-client.py"), host, port, tt.action, tt.value).CombinedOutput()
			if err != nil || !strings.Contains(string(out), tt.want) || strings.Contains(string(out), "Main: Error") {
				t.Errorf("app-client.py %s %q: %v\n%s\nwant %q", tt.action, tt.value, err, out, tt.want)
			}
		})
	}
}

// TestServerDualStack listens on [::] and serves IPv4 and IPv6 clients.
func TestServerDualStack(t *testing.T) {
	if ln, err := net.Listen("tcp6", "[::1]:0"); err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	} else {
		ln.Close()
	}
	r := serveOn(t, &Server{}, "[::]:0")
	_, port, _ := net.SplitHostPort(r.addr)
	for _, ip := range []string{"127.0.0.1", "::1"} {
		c := mustDial(t, net.JoinHostPort(ip, port), ClientOptions{Plaintext: true})
		info, _, err := c.Info(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if info.RemoteAddr != ip || info.LocalAddr != ip || strconv.Itoa(info.LocalPort) != port {
			t.Errorf("via %s: info %+v", ip, info)
		}
	}
}

// TestServerCertificateFiles checks where and how the self-signed
// certificate is written, and that it is reused.
func TestServerCertificateFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "netkit", "echo")
	s := &SelfSigned{Dir: dir}
	kp, err := s.LoadOrCreate(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !kp.Created {
		t.Error("first call did not create a certificate")
	}
	for name, mode := range map[string]os.FileMode{dir: 0o700 | os.ModeDir, kp.KeyFile: 0o600, kp.CertFile: 0o644} {
		st, err := os.Stat(name)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode() != mode {
			t.Errorf("%s: mode %v, want %v", name, st.Mode(), mode)
		}
	}
	// A server certificate, not a CA: RFC 5280 allows keyCertSign only with
	// the CA bit.
	if l := kp.Leaf; l.IsCA || l.KeyUsage != x509.KeyUsageDigitalSignature || !slices.Equal(l.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}) {
		t.Errorf("IsCA %v, key usage %b, extended %v; want a server certificate with digitalSignature only", l.IsCA, l.KeyUsage, l.ExtKeyUsage)
	}
	host, _ := os.Hostname()
	for _, name := range []string{"localhost", "127.0.0.1", "::1", host} {
		if err := kp.Leaf.VerifyHostname(name); err != nil {
			t.Errorf("certificate is not for %s: %v", name, err)
		}
	}
	again, err := s.LoadOrCreate(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if again.Created || FingerprintOf(again.Leaf) != FingerprintOf(kp.Leaf) {
		t.Error("a valid certificate was not reused")
	}
	// A key others may read is not reused, nor replaced behind the user's back.
	os.Chmod(kp.KeyFile, 0o640)
	if _, err := s.LoadOrCreate(context.Background()); err == nil || !strings.Contains(err.Error(), "is mode 0640, so other users may read the private key: run 'chmod 600 "+kp.KeyFile+"'") {
		t.Errorf("key.pem of mode 0640: %v, want a refusal", err)
	}
	os.Chmod(kp.KeyFile, 0o600)
	if again, err := s.LoadOrCreate(context.Background()); err != nil || FingerprintOf(again.Leaf) != FingerprintOf(kp.Leaf) {
		t.Errorf("after chmod 600: %v; want the same certificate reused", err)
	}
	// A day before it expires it is replaced.
	s.Now = func() time.Time { return kp.Leaf.NotAfter.Add(-time.Hour) }
	renewed, err := s.LoadOrCreate(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !renewed.Created || FingerprintOf(renewed.Leaf) == FingerprintOf(kp.Leaf) {
		t.Error("a certificate about to expire was not replaced")
	}
	// The fingerprint openssl computes is the one netkit prints.
	if _, err := exec.LookPath("openssl"); err == nil && !testing.Short() {
		out, err := exec.Command("openssl", "x509", "-in", renewed.CertFile, "-noout", "-fingerprint", "-sha256").Output()
		if err != nil {
			t.Fatal(err)
		}
		_, fp, _ := strings.Cut(strings.TrimSpace(string(out)), "=")
		got, err := ParseFingerprint("sha256:" + fp)
		if err != nil || got != FingerprintOf(renewed.Leaf) {
			t.Errorf("openssl says %s (%v), netkit %s", fp, err, FingerprintOf(renewed.Leaf))
		}
	}
}
