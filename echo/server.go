package echo

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Defaults of the Server's limits, used where a field is zero.
const (
	DefaultHandshakeTimeout = 10 * time.Second
	DefaultIdleTimeout      = 30 * time.Second
	DefaultMessageTimeout   = 30 * time.Second
	DefaultDrainTimeout     = 10 * time.Second
	DefaultMaxConns         = 10000
	// DefaultMinRawRate is the least a raw connection must send, in bytes
	// per second on average, once its first IdleTimeout is over.
	DefaultMinRawRate = 1
)

// refusalLogInterval is how often at most the server logs its summary of
// the clients it refused.
const refusalLogInterval = 10 * time.Second

// reclaimInterval is how often the server looks whether a load has passed
// (see reclaim), and reclaimConns how many connections must have closed
// since it last handed memory back for their end to count as one.
const (
	reclaimInterval = time.Second
	reclaimConns    = 256
)

// maxRejecting bounds the connections being told "busy" at once; past it a
// connection over the limit is closed without a word.
const maxRejecting = 64

// lingerTimeout and lingerBytes bound how long and how much the server keeps
// reading from a connection it is closing for a protocol error or a shutdown,
// so that its last reply is not lost to a TCP reset caused by unread data.
const (
	lingerTimeout = time.Second
	lingerBytes   = 256 << 10
)

// detectTimeout is how long the server waits for the first three bytes of a
// connection, which tell frames from text, once the first has come. A client
// that sends fewer (an empty line is one byte) is taken for text.
const detectTimeout = 250 * time.Millisecond

// busyWait bounds the wait for the first byte of a connection refused for
// MaxConns, whose first bytes decide the form of the busy answer.
const busyWait = time.Second

// drainPeek is how long a connection of a server shutting down looks for the
// start of another message before it closes: a message whose first bytes
// have already arrived is in flight, and is answered.
const drainPeek = 10 * time.Millisecond

// keepWait is how long a connection that read or answered a message waits
// for the next one before it gives up the buffers the message took, and
// their memory budget: a client that sends messages one after the other, as
// echo bench does, gets them reused, and a connection left idle holds none
// after keepWait.
const keepWait = 10 * time.Millisecond

// tls12Suites are the TLS 1.2 cipher suites an echo server offers: ECDHE
// key exchange with an AEAD cipher only, none of the CBC suites (LUCKY13
// and the other padding-oracle attacks) nor static RSA key exchange. TLS
// 1.3's suites are all AEAD and are not configurable.
var tls12Suites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// ServerTLSConfig returns the TLS configuration of an echo server: TLS 1.2
// (with ECDHE and AEAD suites only, see tls12Suites) or later with cert,
// client certificates required and checked against clientCAs when it is
// not nil (mutual TLS), and the ALPN protocols nextProtos (nil negotiates
// none).
func ServerTLSConfig(cert tls.Certificate, clientCAs *x509.CertPool, nextProtos []string) *tls.Config {
	cfg := &tls.Config{
		MinVersion:   tls.VersionTLS12,
		CipherSuites: tls12Suites,
		Certificates: []tls.Certificate{cert},
		NextProtos:   nextProtos,
	}
	if clientCAs != nil {
		cfg.ClientCAs = clientCAs
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return cfg
}

// Server echoes frames (and raw bytes) to many concurrent clients. Set its
// fields, then call Serve once; the fields must not change afterwards. The
// zero value serves plain TCP with the default limits and logs nothing.
type Server struct {
	// TLSConfig, when not nil, makes every connection TLS (see
	// ServerTLSConfig). Nil serves plain TCP.
	TLSConfig *tls.Config
	// Raw echoes bytes as they come on every connection. When false each
	// connection is looked at once, on its first three bytes (see
	// startsFrame): a connection whose third byte is '{' is read as frames,
	// any other is echoed raw.
	Raw bool
	// HandshakeTimeout bounds the TLS handshake; zero means
	// DefaultHandshakeTimeout.
	HandshakeTimeout time.Duration
	// IdleTimeout bounds the wait for the first byte of the next message
	// (or of raw data); a client that sends nothing for this long is
	// dropped. Zero means DefaultIdleTimeout.
	IdleTimeout time.Duration
	// MessageTimeout bounds, once a message has started, receiving the
	// rest of it and writing the reply. Zero means DefaultMessageTimeout.
	//
	// Like HandshakeTimeout and IdleTimeout it may run over by up to an
	// eighth: a connection keeps a deadline that is within that margin of
	// the one it needs, so that while the two timeouts are equal (as by
	// default) a busy connection moves its deadline once in an eighth of
	// the timeout rather than twice per message.
	MessageTimeout time.Duration
	// DrainTimeout bounds how long Serve lets in-flight messages finish
	// once its context is done; connections still busy then are closed.
	// Zero means DefaultDrainTimeout.
	DrainTimeout time.Duration
	// MaxHeaderLength is the longest JSON header accepted, and echoed back;
	// zero means DefaultMaxHeaderLength, and it is at most MaxHeaderLimit.
	MaxHeaderLength int
	// MaxContentLength is the longest content accepted; zero means
	// DefaultMaxContentLength.
	MaxContentLength int
	// MaxMemory bounds the bytes held for message contents, all
	// connections together (a text/json message counts twice, for its
	// reply). A message is read only once its bytes are granted; one that
	// does not fit waits for room until its MessageTimeout is over and is
	// then told the server is busy, and its connection closed (room that
	// comes back goes to the messages that waited least, which have the
	// most time left to be read); one that
	// could never fit is told so at once (MinMaxMemory gives the least
	// MaxMemory for MaxContentLength). Messages of over 64 KiB may take at
	// most seven eighths of it, so that small messages are still answered
	// while large ones wait. Zero means DefaultMaxMemory.
	MaxMemory int64
	// MaxConns is the most connections served at once. One more is told
	// the server is busy and closed. Zero means DefaultMaxConns.
	MaxConns int
	// MaxConnsPerAddr is the most connections served at once from one
	// client address; one more is told the server is busy and closed.
	// Zero means a quarter of MaxConns (at least one).
	MaxConnsPerAddr int
	// MinRawRate is the least a raw connection must send on average, in
	// bytes per second, once its first IdleTimeout is over: each byte buys
	// it 1/MinRawRate seconds beyond that, so a client that trickles a
	// byte now and then cannot hold a connection for ever. Zero means
	// DefaultMinRawRate.
	MinRawRate float64
	// Logger gets one line when a connection opens (after its handshake)
	// and one when it closes, with the peer, TLS version, messages, bytes,
	// duration and the reason. Clients refused (told busy) and clients
	// that never finished the TLS handshake (it timed out, or they left)
	// are summed up instead, in a "refused" and a "dropped" line at most
	// once per 10 seconds each. Nil logs nothing.
	Logger *slog.Logger

	log      *slog.Logger
	mem      *budget
	stop     chan struct{} // closed when the drain deadline passed
	shutting atomic.Bool   // set once, when the context is done
	forced   atomic.Bool   // set once, when the drain deadline passed
	wg       sync.WaitGroup
	mu       sync.Mutex
	closed   atomic.Int64             // connections ended, for reclaim
	conns    map[*serverConn]struct{} // served
	refusing map[*serverConn]struct{} // over a connection limit, being told so
	perAddr  map[netip.Addr]int       // connections served, by client address
	refused  refusals                 // clients told busy
	dropped  refusals                 // clients that never finished the TLS handshake
}

// orDefault returns v, or def when v is zero (or negative).
func orDefault[T int | int64 | float64 | time.Duration](v, def T) T {
	if v > 0 {
		return v
	}
	return def
}

// Serve accepts connections on ln and serves each on its own goroutine until
// ctx is done. Then it stops accepting, closes ln, wakes the connections that
// wait for a message, lets the messages in flight finish for up to
// DrainTimeout, closes what is left and returns nil. A message is in flight
// once its first bytes have arrived, so messages a client sent one after the
// other are all answered. A connection closed by the shutdown is half-closed
// first and read for up to a second, so that its last replies are not lost
// to a TCP reset. Serve returns early, after the same draining, when ln fails
// for good.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	s.log = s.Logger
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.conns = make(map[*serverConn]struct{})
	s.refusing = make(map[*serverConn]struct{})
	s.perAddr = make(map[netip.Addr]int)
	s.mem = newBudget(orDefault(s.MaxMemory, DefaultMaxMemory))
	s.stop = make(chan struct{})
	s.refused.log, s.refused.msg = s.log, "refused"
	s.dropped.log, s.dropped.msg = s.log, "dropped"
	defer s.refused.flush()
	defer s.dropped.flush()
	go s.reclaim(ctx)
	defer context.AfterFunc(ctx, func() { ln.Close() })()
	defer ln.Close()
	var backoff time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				s.drain()
				return nil
			}
			if !temporary(err) {
				s.drain()
				return fmt.Errorf("accept: %w", err)
			}
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			s.log.Warn("accept failed, retrying", "error", err, "retry_in", backoff)
			select {
			case <-time.After(backoff):
			case <-ctx.Done():
			}
			continue
		}
		backoff = 0
		s.accept(c)
	}
}

// reclaim keeps the memory of message contents near what the budget
// grants, until ctx is done. It looks once per reclaimInterval. When a
// quarter of MaxMemory or more has been put back since it last looked, it
// collects the garbage those buffers have become (runtime.GC): the
// collector would otherwise let it grow as large as the live heap, so that
// a server whose budget is full could hold twice its budget. At most one
// collection per interval: when hundreds of large messages end together,
// as when an attack's clients time out at once, a collection per quarter
// would run back to back and keep both cores marking the heap, which is
// what delays the small messages of the other clients. And it hands the
// memory a load took back to the system once the load has passed: when
// the budget is nearly unused again after a peak of 16 MiB or more, or
// when at least reclaimConns connections have closed and at most half as
// many are open as at the peak (Go otherwise keeps freed memory for
// minutes, so the process's RSS would stay at its peak long after the
// clients have gone). A steady load, which allocates as much as it frees,
// does not make it hand memory back.
func (s *Server) reclaim(ctx context.Context) {
	t := time.NewTicker(reclaimInterval)
	defer t.Stop()
	peakConns, closedAt := 0, s.closed.Load()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.mu.Lock()
		open := len(s.conns) + len(s.refusing)
		s.mu.Unlock()
		peakConns = max(peakConns, open)
		closed := s.closed.Load()
		due := s.mem.garbage()
		switch {
		case s.mem.calm() || closed-closedAt >= reclaimConns && open <= peakConns/2:
			debug.FreeOSMemory() // which collects first
			peakConns, closedAt = open, closed
		case due:
			runtime.GC()
		}
	}
}

// temporary reports whether an accept error is a shortage that may pass:
// out of file descriptors or memory.
func temporary(err error) bool {
	for _, e := range []error{syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// accept starts serving c, or refuses it when MaxConns are open, or
// MaxConnsPerAddr from its address.
func (s *Server) accept(c net.Conn) {
	sc := &serverConn{s: s, tcp: &countingConn{Conn: c}, start: time.Now(), idle: true}
	ip, port := splitAddr(c.RemoteAddr())
	sc.peer = net.JoinHostPort(ip, strconv.Itoa(port))
	sc.addr, _ = netip.ParseAddr(ip) // the zero Addr for a listener of no IP: all such count as one address
	sc.conn = sc.tcp
	s.mu.Lock()
	defer s.mu.Unlock()
	maxConns := orDefault(s.MaxConns, DefaultMaxConns)
	perAddr := orDefault(s.MaxConnsPerAddr, max(maxConns/4, 1))
	var reason, kind string
	switch open, fromAddr := len(s.conns), s.perAddr[sc.addr]; {
	case open >= maxConns:
		kind, reason = refusedConns, fmt.Sprintf("too many connections (%d open, the limit)", open)
	case fromAddr >= perAddr:
		kind, reason = refusedAddr, fmt.Sprintf("too many connections from %s (%d open, the limit per address)", sc.addr, fromAddr)
	default:
		s.conns[sc] = struct{}{}
		s.perAddr[sc.addr]++
		s.wg.Add(1)
		go sc.serve()
		return
	}
	if len(s.refusing) >= maxRejecting {
		c.Close()
		s.refused.add(kind+", closed untold", sc.addr)
		return
	}
	s.refusing[sc] = struct{}{}
	s.wg.Add(1)
	go sc.refuse(kind, reason)
}

// drain stops the connections as Serve describes.
func (s *Server) drain() {
	s.shutting.Store(true)
	s.each(func(c *serverConn) { c.wake() })
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	t := time.NewTimer(orDefault(s.DrainTimeout, DefaultDrainTimeout))
	defer t.Stop()
	select {
	case <-done:
		return
	case <-t.C:
	}
	s.forced.Store(true)
	close(s.stop)
	s.each(func(c *serverConn) { c.tcp.Close() })
	<-done
}

// each calls f for every connection, served or being refused, with s.mu held.
func (s *Server) each(f func(*serverConn)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		f(c)
	}
	for c := range s.refusing {
		f(c)
	}
}

// Reasons a connection ends that are part of normal service.
var (
	errClosedByPeer = errors.New("closed by peer")
	errIdleTimeout  = errors.New("idle timeout")
	errShutdown     = errors.New("server shutting down")
	errTLSClient    = errors.New("the client speaks TLS to a plaintext server")
	errTooSlow      = errors.New("sent too little for too long")
	errRawCutOff    = errors.New("closed at the drain deadline while the client was still sending raw data: what it sent since is not echoed")
	// errHandshakeTimeout and errHandshakeLeft are TLS handshakes the
	// client never finished, as in a handshake flood: they are summed up
	// in the log (Server.dropped) rather than logged one by one.
	errHandshakeTimeout = errors.New("TLS handshake not finished within the handshake timeout")
	errHandshakeLeft    = errors.New("closed by the client during the TLS handshake")
)

// busyError is a message refused because the memory budget had no room
// for it in time.
type busyError struct {
	need, used, limit int64
}

func (e *busyError) Error() string {
	return fmt.Sprintf("no memory for a message of %d bytes within the message timeout (%d of %d bytes in use)", e.need, e.used, e.limit)
}

// startsTLS reports whether the first bytes of a connection are those of a
// TLS handshake record (a ClientHello): 0x16 0x03 0x0N.
func startsTLS(first []byte) bool {
	return len(first) == 3 && first[0] == 0x16 && first[1] == 0x03 && first[2] <= 0x04
}

// startsFrame reports whether the first bytes of a connection start a frame
// rather than text: a frame is a 2-byte header length (any two bytes: a
// length over the limit is refused as a frame, not echoed as text) followed
// by the JSON header, which starts with '{' as netkit and the Python
// tutorial write it. Text is anything else, fewer than three bytes included.
func startsFrame(first []byte) bool {
	return len(first) == 3 && first[2] == '{'
}

// serverConn is one client connection, served by one goroutine.
type serverConn struct {
	s    *Server
	tcp  *countingConn // the accepted connection; its counters belong to the serving goroutine
	conn net.Conn      // tcp, or the TLS connection over it
	tls  *tls.ConnectionState
	addr netip.Addr // the client's address, for MaxConnsPerAddr
	peer string     // its address and port, for logs
	mode string     // "frames" or "raw", once known

	start    time.Time
	messages int
	out      []byte // the last reply frame encoded
	held     int64  // bytes of the memory budget the connection holds

	mu       sync.Mutex // guards idle and deadline
	idle     bool       // waiting for a message (or handshaking): wake may interrupt
	deadline time.Time  // the deadline last set
}

func (c *serverConn) serve() {
	reason := c.run()
	if errors.Is(reason, errShutdown) {
		c.linger()
	}
	c.conn.Close()
	c.putBack()
	s := c.s
	s.mu.Lock()
	delete(s.conns, c)
	if s.perAddr[c.addr]--; s.perAddr[c.addr] == 0 {
		delete(s.perAddr, c.addr)
	}
	s.mu.Unlock()
	s.closed.Add(1)
	level := slog.LevelInfo
	var busy *busyError
	switch {
	case errors.Is(reason, errHandshakeTimeout):
		s.dropped.add(errHandshakeTimeout.Error(), c.addr)
		s.wg.Done()
		return
	case errors.Is(reason, errHandshakeLeft):
		s.dropped.add(errHandshakeLeft.Error(), c.addr)
		s.wg.Done()
		return
	case errors.As(reason, &busy):
		s.refused.add(refusedMemory, c.addr)
		level = slog.LevelWarn
	case errors.Is(reason, errClosedByPeer), errors.Is(reason, errIdleTimeout), errors.Is(reason, errShutdown):
	case errors.Is(reason, errRawCutOff):
		level = slog.LevelWarn
	case s.forced.Load():
		reason = fmt.Errorf("closed at the drain deadline in the middle of a message, which is lost: %w", reason)
		level = slog.LevelWarn
	default:
		level = slog.LevelWarn
	}
	attrs := []slog.Attr{slog.String("peer", c.peer)}
	if c.tls != nil {
		attrs = append(attrs, slog.String("tls", tls.VersionName(c.tls.Version)))
	}
	attrs = append(attrs,
		slog.String("mode", c.mode),
		slog.Int("messages", c.messages),
		slog.Int64("bytes_in", c.tcp.in),
		slog.Int64("bytes_out", c.tcp.out),
		slog.Duration("duration", time.Since(c.start).Round(time.Microsecond)),
		slog.String("reason", reason.Error()),
	)
	s.log.LogAttrs(context.Background(), level, "close", attrs...)
	s.wg.Done()
}

// run serves the connection and returns why it ended.
func (c *serverConn) run() error {
	s := c.s
	if err := c.handshake(); err != nil {
		return err
	}
	attrs := []slog.Attr{slog.String("peer", c.peer)}
	if cs := c.tls; cs != nil {
		attrs = append(attrs,
			slog.String("tls", tls.VersionName(cs.Version)),
			slog.String("cipher", tls.CipherSuiteName(cs.CipherSuite)),
			slog.String("sni", cs.ServerName),
			slog.String("alpn", cs.NegotiatedProtocol),
		)
		if len(cs.PeerCertificates) > 0 {
			attrs = append(attrs, slog.String("client_cert", cs.PeerCertificates[0].Subject.String()))
		}
	}
	s.log.LogAttrs(context.Background(), slog.LevelInfo, "open", attrs...)

	// The first byte is awaited with a small buffer, so that an idle
	// connection holds no ReaderBufferSize one. The large buffer reads from
	// the small one, which passes large reads straight through once empty.
	small := bufio.NewReaderSize(c.conn, 16)
	first, frames, err := c.detect(small, c.next)
	if err != nil {
		return err
	}
	c.setBusy()
	if s.TLSConfig == nil && startsTLS(first) {
		return errTLSClient
	}
	br := bufio.NewReaderSize(small, ReaderBufferSize)
	if !frames {
		c.mode = "raw"
		return c.echoRaw(br)
	}
	c.mode = "frames"
	return c.echoFrames(br)
}

// handshake does the TLS handshake, when the server speaks TLS.
func (c *serverConn) handshake() error {
	if c.s.TLSConfig == nil {
		return nil
	}
	if !c.setIdle(orDefault(c.s.HandshakeTimeout, DefaultHandshakeTimeout)) {
		return errShutdown
	}
	tc := tls.Server(c.tcp, c.s.TLSConfig)
	c.conn = tc
	if err := tc.Handshake(); err != nil {
		switch {
		case c.s.shutting.Load() && errors.Is(err, os.ErrDeadlineExceeded):
			return errShutdown
		case errors.Is(err, os.ErrDeadlineExceeded):
			return fmt.Errorf("%w: %w", errHandshakeTimeout, err)
		case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.ECONNRESET):
			return fmt.Errorf("%w: %w", errHandshakeLeft, err)
		}
		return fmt.Errorf("TLS handshake: %w", err)
	}
	cs := tc.ConnectionState()
	c.tls = &cs
	return nil
}

// detect looks at the first bytes of the connection, read through br, once
// wait has seen the first one come (it returns why not, and detect returns
// that). It returns them, three unless the client sent fewer within
// detectTimeout, and whether they start a frame (startsFrame). On a raw
// server it looks only at what has come, and never sees a frame: there is
// nothing to decide.
func (c *serverConn) detect(br *bufio.Reader, wait func(*bufio.Reader) error) (first []byte, frames bool, err error) {
	if err := wait(br); err != nil {
		return nil, false, err
	}
	if c.s.Raw {
		return c.peek(br, 3, 0), false, nil
	}
	first = c.peek(br, 3, detectTimeout)
	return first, startsFrame(first), nil
}

// next waits for the first byte of the next message, within the idle
// timeout, and returns why it did not come. Once the server is shutting
// down it waits no more: a message whose first bytes have already arrived
// (within drainPeek) is in flight and is served; otherwise the connection
// ends with errShutdown.
func (c *serverConn) next(br *bufio.Reader) error {
	idle := orDefault(c.s.IdleTimeout, DefaultIdleTimeout)
	wait, rated := idle, false
	if c.mode == "raw" {
		// Each byte received buys 1/MinRawRate seconds beyond the first
		// IdleTimeout.
		perByte := time.Duration(float64(time.Second) / orDefault(c.s.MinRawRate, DefaultMinRawRate))
		earned := time.Until(c.start.Add(idle + time.Duration(c.tcp.in)*perByte))
		if earned < idle {
			wait, rated = max(earned, 0), true
		}
	}
	if c.setIdle(wait) {
		_, err := br.Peek(1)
		switch {
		case err == nil:
			c.setBusy()
			return nil
		case err == io.EOF:
			return errClosedByPeer
		case errors.Is(err, os.ErrDeadlineExceeded) && c.s.shutting.Load():
			// Woken by drain: see below.
		case errors.Is(err, os.ErrDeadlineExceeded) && rated:
			return fmt.Errorf("%w: %d bytes in %v, under the minimum of %g bytes per second after the first %v",
				errTooSlow, c.tcp.in, time.Since(c.start).Round(time.Second), orDefault(c.s.MinRawRate, DefaultMinRawRate), idle)
		case errors.Is(err, os.ErrDeadlineExceeded):
			return errIdleTimeout
		default:
			return err
		}
	}
	if len(c.peek(br, 1, drainPeek)) == 0 {
		if c.mode == "raw" && c.s.forced.Load() {
			// A raw stream has no message to finish: one still going at
			// the drain deadline is cut off there.
			return errRawCutOff
		}
		return errShutdown
	}
	c.setBusy()
	return nil
}

// peek returns up to n bytes of what br holds, reading for at most d (give
// or take, see setDeadline) when it holds fewer, and leaves the connection
// busy. Its caller then sets the deadline it needs (setBusy).
func (c *serverConn) peek(br *bufio.Reader, n int, d time.Duration) []byte {
	if br.Buffered() < n {
		c.mu.Lock()
		c.idle = false
		c.setDeadline(d)
		c.mu.Unlock()
	}
	b, _ := br.Peek(n)
	return b
}

// setIdle marks the connection as waiting, so that wake may interrupt it,
// and gives it d. It reports false, setting nothing, when the server is
// shutting down.
func (c *serverConn) setIdle(d time.Duration) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.idle = true
	if c.s.shutting.Load() {
		return false
	}
	c.setDeadline(d)
	return true
}

// setBusy marks a message as in flight, which wake leaves alone, and gives
// it MessageTimeout.
func (c *serverConn) setBusy() {
	c.mu.Lock()
	c.idle = false
	c.setDeadline(orDefault(c.s.MessageTimeout, DefaultMessageTimeout))
	c.mu.Unlock()
}

// setDeadline makes the connection's deadline d from now, give or take: a
// deadline already between d and d+d/8 from now is kept. Called with c.mu
// held.
func (c *serverConn) setDeadline(d time.Duration) {
	want := time.Now().Add(d)
	if c.deadline.Before(want) || c.deadline.After(want.Add(d/8)) {
		c.deadline = want.Add(d / 8)
		c.tcp.SetDeadline(c.deadline)
	}
}

// wake interrupts the connection's wait for a message, if it is waiting.
// Called by drain after shutting is set: a connection that becomes idle later
// sees shutting in setIdle.
func (c *serverConn) wake() {
	c.mu.Lock()
	if c.idle {
		c.deadline = time.Now()
		c.tcp.SetDeadline(c.deadline)
	}
	c.mu.Unlock()
}

// echoFrames answers frames until the connection ends.
func (c *serverConn) echoFrames(br *bufio.Reader) error {
	r := NewReader(br, c.s.MaxHeaderLength, c.s.MaxContentLength)
	r.reserve = c.reserve
	for {
		m, err := r.Read()
		if err != nil {
			var pe *ProtocolError
			var busy *busyError
			switch {
			case errors.As(err, &pe):
				c.replyError(pe.Code(), pe.Err.Error()+": "+pe.Detail)
				c.linger()
				return err
			case errors.As(err, &busy):
				c.replyError("busy", "server busy: "+busy.Error()+"; try again later")
				c.linger()
				return err
			}
			if errors.Is(err, io.ErrUnexpectedEOF) {
				return fmt.Errorf("closed by peer in the middle of a message: %w", err)
			}
			return fmt.Errorf("read message: %w", err)
		}
		if m.ContentType == ContentTypeJSON {
			err = c.write(c.answer(m))
		} else {
			err = c.echo(r, m)
		}
		if err != nil {
			return fmt.Errorf("write reply: %w", err)
		}
		c.messages++
		// The connection may now wait long: keep no buffer meanwhile,
		// unless the next message follows at once.
		if c.held > 0 && len(c.peek(br, 1, keepWait)) == 0 {
			r.Release()
			c.out = nil
			c.putBack()
		}
		if err := c.next(br); err != nil {
			return err
		}
	}
}

// reserve makes sure, before the content of a message with header h is
// read, that the connection holds enough of the memory budget for it: its
// content, twice for text/json (whose reply holds it again). It waits for
// room until the message's deadline, or the drain deadline, and returns a
// *busyError when none came.
func (c *serverConn) reserve(h Header) error {
	need := int64(h.ContentLength)
	if h.ContentType == ContentTypeJSON {
		need *= 2
	}
	if need <= c.held {
		return nil
	}
	c.mu.Lock()
	deadline := c.deadline
	c.mu.Unlock()
	mem := c.s.mem
	if !mem.grant(need-c.held, deadline, c.s.stop) {
		return &busyError{need: need, used: mem.inUse(), limit: mem.limit}
	}
	c.held = need
	return nil
}

// putBack returns the memory budget the connection holds, once it has
// given up its buffers.
func (c *serverConn) putBack() {
	c.s.mem.put(c.held)
	c.held = 0
}

// echo sends binary content back, its frame built in place by r. A reply
// header that cannot be encoded (its escapes made it too long) gets an
// error reply instead.
func (c *serverConn) echo(r *Reader, m Message) error {
	frame, err := r.EchoFrame(NewMessage(m.ContentType, m.ContentEncoding, m.Content).Header)
	if err != nil {
		return c.write(errorReply("bad_header", "cannot echo this message: "+err.Error()))
	}
	_, err = c.conn.Write(frame)
	return err
}

// write encodes m and sends it.
func (c *serverConn) write(m Message) error {
	frame, err := AppendFrame(c.out[:0], m)
	if err != nil {
		return err
	}
	c.out = frame
	_, err = c.conn.Write(frame)
	return err
}

// echoRaw writes back whatever it reads until the connection ends.
func (c *serverConn) echoRaw(br *bufio.Reader) error {
	buf := make([]byte, 32<<10)
	for {
		n, _ := br.Read(buf) // next saw a byte: Read returns at once
		if _, err := c.conn.Write(buf[:n]); err != nil {
			return fmt.Errorf("write: %w", err)
		}
		if err := c.next(br); err != nil {
			return err
		}
	}
}

// answer returns the reply to m, a text/json request.
func (c *serverConn) answer(m Message) Message {
	switch strings.ToLower(m.ContentEncoding) {
	case "utf-8", "utf8", "":
	default:
		return errorReply("bad_request", fmt.Sprintf("content-encoding %q: text/json content must be utf-8", m.ContentEncoding))
	}
	var req Request
	if err := json.Unmarshal(m.Content, &req); err != nil {
		return errorReply("bad_request", "content is not a JSON request object: "+err.Error())
	}
	switch req.Action {
	case "echo":
		if req.Value == nil {
			req.Value = json.RawMessage("null")
		}
		return resultReply(Response{Result: req.Value})
	case "info":
		info, _ := json.Marshal(c.peerInfo()) // plain strings and ints: cannot fail
		return resultReply(Response{Result: info})
	default:
		return errorReply("invalid_action", fmt.Sprintf("invalid action '%s'", req.Action))
	}
}

// errorReply is the reply {"result": "Error: msg.", "error": code}.
func errorReply(code, msg string) Message {
	result, _ := json.Marshal("Error: " + msg + ".")
	return resultReply(Response{Result: result, Error: code})
}

func resultReply(r Response) Message {
	m, _ := JSONMessage(r) // valid raw JSON and a string: cannot fail
	return m
}

// replyError sends an error reply, as far as the connection lets it.
func (c *serverConn) replyError(code, msg string) error {
	c.setBusy()
	return c.write(errorReply(code, msg))
}

// refuse completes the handshake of a connection over a limit, tells it
// reason, and closes it; the refusal is counted under kind for the log's
// summary.
func (c *serverConn) refuse(kind, reason string) {
	if err := c.tellBusy(reason); err != nil {
		kind += ", closed untold"
	}
	c.conn.Close()
	s := c.s
	s.mu.Lock()
	delete(s.refusing, c)
	s.mu.Unlock()
	s.refused.add(kind, c.addr)
	s.wg.Done()
}

// tellBusy sends the busy answer in the form the client understands: an
// error reply to a frame client, a line of text to any other (on a raw
// server, to every client), told apart by its first bytes as run does; a
// client that sends nothing within busyWait gets the text. The connection is
// then closed gracefully (linger), since the client's input is left unread.
func (c *serverConn) tellBusy(reason string) error {
	if err := c.handshake(); err != nil {
		return err
	}
	msg := "server busy: " + reason + "; try again later"
	frames := false
	if !c.s.Raw {
		_, frames, _ = c.detect(bufio.NewReaderSize(c.conn, 16), func(br *bufio.Reader) error {
			if len(c.peek(br, 1, busyWait)) == 0 {
				return errIdleTimeout
			}
			return nil
		})
	}
	var err error
	if frames {
		err = c.replyError("busy", msg)
	} else {
		c.setBusy()
		_, err = io.WriteString(c.conn, "netkit echo: "+msg+"\n")
	}
	c.linger()
	return err
}

// linger half-closes the connection and reads what the peer still sends for a
// moment, so the last reply reaches it before the close.
func (c *serverConn) linger() {
	c.tcp.SetDeadline(time.Now().Add(lingerTimeout))
	if tc, ok := c.conn.(*tls.Conn); ok && c.tls != nil {
		tc.CloseWrite()
	}
	if cw, ok := c.tcp.Conn.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
	io.CopyN(io.Discard, c.tcp.Conn, lingerBytes)
}

// peerInfo is the "info" result.
func (c *serverConn) peerInfo() PeerInfo {
	var info PeerInfo
	info.RemoteAddr, info.RemotePort = splitAddr(c.tcp.RemoteAddr())
	info.LocalAddr, info.LocalPort = splitAddr(c.tcp.LocalAddr())
	if cs := c.tls; cs != nil {
		info.TLS = true
		info.TLSVersion = tls.VersionName(cs.Version)
		info.CipherSuite = tls.CipherSuiteName(cs.CipherSuite)
		info.ServerName = cs.ServerName
		info.ALPN = cs.NegotiatedProtocol
		if len(cs.PeerCertificates) > 0 {
			info.ClientCertificate = cs.PeerCertificates[0].Subject.String()
		}
	}
	return info
}

// splitAddr returns the IP (IPv4-mapped addresses as IPv4) and port of a.
func splitAddr(a net.Addr) (string, int) {
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return a.String(), 0
	}
	return ap.Addr().Unmap().String(), int(ap.Port())
}

// countingConn counts the bytes read and written on the wire. Only the
// goroutine serving the connection reads and writes, so the counters need no
// lock.
type countingConn struct {
	net.Conn
	in, out int64
}

func (c *countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.in += int64(n)
	return n, err
}

func (c *countingConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.out += int64(n)
	return n, err
}
