package echo

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"
)

// announce dials addr from the loopback address local (empty: any) and
// sends the header of a binary message of size bytes and the first of its
// content, leaving the rest unsent.
func announce(t *testing.T, addr, local string, size int) net.Conn {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second}
	if local != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(local)}
	}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	f := binaryFrame("a", strings.Repeat("x", size))
	if _, err := c.Write(f[:len(f)-size+10]); err != nil {
		t.Fatal(err)
	}
	return c
}

// busyReply reads the reply to a message on c and returns the message of
// the busy error reply it must be.
func busyReply(c net.Conn) (string, error) {
	m, err := NewReader(c, 0, 0).Read()
	if err != nil {
		return "", err
	}
	_, err = decodeResponse(m)
	var se *ServerError
	if !errors.As(err, &se) || se.Code != "busy" {
		return "", fmt.Errorf("reply %s, want a busy error", m.Content)
	}
	return se.Message, nil
}

// TestServerMemoryBudget: a large message that does not fit in what is left
// of MaxMemory waits for its message timeout and is told busy, while small
// messages are still answered at once from the part kept for them; the
// budget is all given back once the clients have gone, and the refusals are
// logged as a summary, not a line each.
func TestServerMemoryBudget(t *testing.T) {
	const budgetSize = 1 << 20
	const timeout = 400 * time.Millisecond
	srv := &Server{MaxMemory: budgetSize, MessageTimeout: timeout, MaxConnsPerAddr: 100}
	r := serve(t, srv)

	// One 600 KiB message fits in the seven eighths large messages may
	// take, and is echoed; it stands for one that holds the budget, as if
	// its client sent slowly. The next three messages do not fit.
	first := announce(t, r.addr, "", 600<<10)
	r.log.waitFor(t, "msg=open")
	waitInUse(t, srv, 600<<10)
	if _, err := first.Write(bytes.Repeat([]byte("x"), 600<<10-10)); err != nil {
		t.Fatal(err)
	}
	if m, err := NewReader(first, 0, 0).Read(); err != nil || len(m.Content) != 600<<10 {
		t.Fatalf("the granted message: %d bytes, %v", len(m.Content), err)
	}
	waitInUse(t, srv, 0) // given back once the connection waits
	if !srv.mem.grant(600<<10, time.Now(), nil) {
		t.Fatal("the budget has no room for what the first message took")
	}
	start := time.Now()
	var waiting []net.Conn
	for range 3 {
		waiting = append(waiting, announce(t, r.addr, "", 300<<10))
	}

	// Meanwhile a small message is answered.
	small := mustDial(t, r.addr, ClientOptions{Plaintext: true})
	if rtt, err := small.Echo(context.Background(), ContentTypeBinary, bytes.Repeat([]byte("s"), 32<<10)); err != nil || rtt > timeout/2 {
		t.Fatalf("small message while the budget is taken: answered after %v, %v; want at once", rtt, err)
	}

	for _, c := range waiting {
		msg, err := busyReply(c)
		if err != nil || !strings.Contains(msg, "no memory for a message of 307200 bytes within the message timeout") {
			t.Errorf("waiting message: got %q, %v; want a busy reply", msg, err)
		}
		c.Close()
	}
	if d := time.Since(start); d < timeout || d > timeout+2*time.Second {
		t.Errorf("busy after %v, want after the message timeout of %v", d, timeout)
	}

	srv.mem.put(600 << 10)
	first.Close()
	small.Close()
	waitInUse(t, srv, 0)
	r.log.waitCount(t, "msg=refused", 1)
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	log := r.log.String()
	if n := strings.Count(log, "msg=refused"); n != 2 {
		t.Errorf("%d refused lines for 3 refusals, want 2 (the first at once, a summary of the others)\n%s", n, log)
	}
	if !strings.Contains(log, `msg=refused clients=2 addresses=1`) || !strings.Contains(log, `reasons="no memory for a message in time: 2"`) {
		t.Errorf("no summary of the last 2 refusals in the log:\n%s", log)
	}
}

// waitInUse waits until srv's memory budget has want bytes in use.
func waitInUse(t *testing.T, srv *Server, want int64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for srv.mem.inUse() != want {
		if time.Now().After(deadline) {
			t.Fatalf("budget in use: %d bytes, want %d", srv.mem.inUse(), want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestServerBudgetShutdown: a message waiting for memory when the drain
// deadline passes stops waiting, so Serve returns in time.
func TestServerBudgetShutdown(t *testing.T) {
	srv := &Server{MaxMemory: 1 << 20, MessageTimeout: time.Minute, DrainTimeout: 200 * time.Millisecond}
	r := serve(t, srv)
	announce(t, r.addr, "", 800<<10)
	r.log.waitFor(t, "msg=open")
	waitInUse(t, srv, 800<<10)
	announce(t, r.addr, "", 800<<10)
	time.Sleep(50 * time.Millisecond)
	start := time.Now()
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Serve took %v to stop with a message waiting for memory", d)
	}
	if n := srv.mem.inUse(); n != 0 {
		t.Errorf("%d bytes of budget in use after Serve returned", n)
	}
}

// TestServerMaxConnsPerAddr: past MaxConnsPerAddr from one address the
// next client from it is told busy; another address is still served.
func TestServerMaxConnsPerAddr(t *testing.T) {
	r := serve(t, &Server{MaxConnsPerAddr: 1})
	echoFrom := func(local string) (net.Conn, error) {
		c := announce(t, r.addr, local, 10)
		m, err := NewReader(c, 0, 0).Read()
		if err == nil && string(m.Content) != "xxxxxxxxxx" {
			err = fmt.Errorf("echo from %s: got %s", local, m.Content)
		}
		return c, err
	}
	if _, err := echoFrom("127.0.0.1"); err != nil {
		t.Fatal(err)
	}
	second := announce(t, r.addr, "127.0.0.1", 10)
	if msg, err := busyReply(second); err != nil || !strings.Contains(msg, "too many connections from 127.0.0.1 (1 open, the limit per address)") {
		t.Fatalf("second connection from 127.0.0.1: %q, %v; want busy", msg, err)
	}
	if _, err := echoFrom("127.0.0.2"); err != nil {
		t.Errorf("from another address: %v", err)
	}
}

// TestServerRawMinRate: a raw client that trickles a byte now and then is
// dropped once it has sent less than MinRawRate allows, though it never
// stays idle for IdleTimeout.
func TestServerRawMinRate(t *testing.T) {
	const idle = 300 * time.Millisecond
	r := serve(t, &Server{Raw: true, IdleTimeout: idle, MinRawRate: 10})
	c, err := net.Dial("tcp", r.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	buf := make([]byte, 1)
	for time.Since(start) < 3*time.Second {
		if _, err := c.Write([]byte("x")); err != nil {
			break
		}
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		if _, err := io.ReadFull(c, buf); err != nil {
			break
		}
		time.Sleep(idle / 2) // 1 byte per 150 ms: 6.7 bytes/s
	}
	d := time.Since(start)
	if d > 2*time.Second {
		t.Fatalf("a client sending under MinRawRate was still served after %v", d)
	}
	r.log.waitFor(t, "msg=close", "sent too little for too long: ", "under the minimum of 10 bytes per second")
}

// rsaCert returns a self-signed certificate for 127.0.0.1 with an RSA key of
// bits bits.
func rsaCert(t *testing.T, bits int) tls.Certificate {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "weak"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

// TestServerTLS12Suites: a TLS 1.2 client offering only CBC suites is
// refused; one offering an AEAD suite is served.
func TestServerTLS12Suites(t *testing.T) {
	cert := rsaCert(t, 2048)
	r := serve(t, &Server{TLSConfig: ServerTLSConfig(cert, nil, nil)})
	for _, tt := range []struct {
		suite uint16
		ok    bool
	}{
		{tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, false},
		{tls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA, false},
		{tls.TLS_RSA_WITH_AES_128_GCM_SHA256, false},
		{tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, true},
	} {
		c, err := tls.Dial("tcp", r.addr, &tls.Config{InsecureSkipVerify: true, MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tt.suite}})
		if err == nil {
			c.Close()
		}
		if (err == nil) != tt.ok {
			t.Errorf("TLS 1.2 with only %s: handshake error %v, want ok=%v", tls.CipherSuiteName(tt.suite), err, tt.ok)
		}
	}
}

// TestDialWeakKey: a server certificate with an RSA-1024 key verifies (by
// its pin) but is reported weak.
func TestDialWeakKey(t *testing.T) {
	cert := rsaCert(t, 1024)
	r := serve(t, &Server{TLSConfig: ServerTLSConfig(cert, nil, nil)})
	c := mustDial(t, r.addr, ClientOptions{Pins: []Fingerprint{FingerprintOf(cert.Leaf)}})
	info := c.Session().TLS
	if !info.Verified || info.WeakKey != "its RSA key has 1024 bits, under the 2048 considered safe" {
		t.Errorf("verified=%v weak_key=%q, want verified and weak", info.Verified, info.WeakKey)
	}
	if weak := WeakKey(rsaCert(t, 2048).Leaf); weak != "" {
		t.Errorf("RSA 2048 reported weak: %s", weak)
	}
}

// TestMinMaxMemory: with MinMaxMemory(n) a text/json message of n bytes is
// granted, with a byte less it never is.
func TestMinMaxMemory(t *testing.T) {
	for _, n := range []int{1, 1000, keepContent / 2, keepContent, DefaultMaxContentLength, 3<<20 + 7} {
		need := int64(2 * n)
		least := MinMaxMemory(n)
		if b := newBudget(least); !b.grant(need, time.Now(), nil) {
			t.Errorf("MinMaxMemory(%d) = %d: a budget of it cannot grant %d bytes", n, least, need)
		}
		if b := newBudget(least - 1); b.grant(need, time.Now(), nil) {
			t.Errorf("MinMaxMemory(%d) = %d: a budget of a byte less grants %d bytes", n, least, need)
		}
	}
}

// TestBudgetGarbage: the budget calls for a collection once a quarter of
// its limit has been put back since it last did, and only once for it, so
// that Server.reclaim collects at most once per interval however many
// messages end together.
func TestBudgetGarbage(t *testing.T) {
	b := newBudget(1 << 20)
	for range 8 {
		if !b.grant(64<<10, time.Now(), nil) {
			t.Fatal("64 KiB of a 1 MiB budget not granted")
		}
	}
	for i := range 3 {
		b.put(64 << 10)
		if b.garbage() {
			t.Fatalf("a collection called for after %d KiB put back, less than a quarter of 1 MiB", (i+1)*64)
		}
	}
	b.put(64 << 10)
	if !b.garbage() {
		t.Fatal("no collection called for after 256 KiB put back, a quarter of 1 MiB")
	}
	if b.garbage() {
		t.Fatal("a second collection called for without anything put back since the first")
	}
	for range 4 {
		b.put(64 << 10)
	}
	if !b.garbage() || b.garbage() {
		t.Fatal("512 KiB more put back at once: want one collection called for, not none or two")
	}
}

// TestBudgetNewestFirst: room that comes back goes to the reservation that
// waited least, which has the most time left; the older one gets the next.
func TestBudgetNewestFirst(t *testing.T) {
	const n = 64 << 10
	b := newBudget(2 * n)
	if !b.grant(n, time.Now(), nil) || !b.grant(n, time.Now(), nil) {
		t.Fatal("two reservations of half the budget not granted")
	}
	wait := func() <-chan bool {
		waiting := len(b.waiters)
		done := make(chan bool, 1)
		go func() { done <- b.grant(n, time.Now().Add(10*time.Second), nil) }()
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
			b.mu.Lock()
			queued := len(b.waiters) > waiting
			b.mu.Unlock()
			if queued {
				return done
			}
			if time.Now().After(deadline) {
				t.Fatal("a reservation over the budget did not wait")
			}
		}
	}
	older := wait()
	newer := wait()
	b.put(n)
	select {
	case ok := <-newer:
		if !ok {
			t.Fatal("the newer reservation was refused")
		}
	case <-older:
		t.Fatal("room went to the older reservation first")
	case <-time.After(5 * time.Second):
		t.Fatal("no reservation granted after room came back")
	}
	b.put(n)
	if ok := <-older; !ok {
		t.Fatal("the older reservation was refused once room came back again")
	}
}

// TestServerHandshakeFloodSummarized: clients that start a TLS handshake
// and leave are summed up in "dropped" lines, not logged one by one.
func TestServerHandshakeFloodSummarized(t *testing.T) {
	pki := newTestPKI(t)
	srv := &Server{TLSConfig: ServerTLSConfig(pki.server.Certificate, nil, nil)}
	r := serve(t, srv)
	const n = 20
	for range n {
		c, err := net.Dial("tcp", r.addr)
		if err != nil {
			t.Fatal(err)
		}
		c.Write([]byte{0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03})
		c.Close()
	}
	r.log.waitFor(t, `level=WARN msg=dropped clients=1 addresses=1`, `reasons="closed by the client during the TLS handshake: 1"`)
	for deadline := time.Now().Add(5 * time.Second); srv.closed.Load() < n && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	log := r.log.String()
	if lines := strings.Count(log, "msg=dropped"); lines != 2 || strings.Contains(log, "msg=close") {
		t.Errorf("%d dropped lines for %d clients, want 2 and no close line:\n%s", lines, n, log)
	}
	if !strings.Contains(log, fmt.Sprintf(`msg=dropped clients=%d addresses=1`, n-1)) {
		t.Errorf("no summary of the other %d clients:\n%s", n-1, log)
	}
}
