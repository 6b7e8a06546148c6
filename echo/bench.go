package echo

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/netkit/netkit/units"
)

// Bench is a load generator for an echo server: Conns connections, each
// sending Size-byte binary messages one after the other and checking every
// echo. The zero value runs 1,000 messages of 64 bytes on one connection.
type Bench struct {
	// Conns is the number of connections; zero means 1.
	Conns int
	// Messages is the total number of messages to attempt, over all
	// connections; zero means no count limit. A message that fails,
	// including one whose connection could not be made, counts.
	Messages int
	// Duration ends the run after this long; zero means no time limit.
	// With neither Messages nor Duration, Messages is 1,000.
	Duration time.Duration
	// Size is the content length of each message; zero means 64.
	Size int
	// PerConn, when not zero, closes each connection after this many
	// messages and opens a new one, to measure handshakes.
	PerConn int
	// Client says how to connect: TLS options and the timeout. A round
	// trip that takes longer than the timeout fails; one that takes more
	// than half of it may.
	Client ClientOptions
	// Progress, when not nil, is called every ProgressInterval from a
	// goroutine of Run's own, and must return quickly.
	Progress func(BenchProgress)
	// ProgressInterval is the time between Progress calls; zero means 1 s.
	ProgressInterval time.Duration
}

// BenchProgress is a snapshot of a running bench.
type BenchProgress struct {
	ElapsedMs float64 `json:"elapsed_ms"`
	// Messages is the number of messages echoed so far.
	Messages int64 `json:"messages"`
	// MessagesPerSec is the rate since the previous snapshot.
	MessagesPerSec float64 `json:"messages_per_sec"`
	// Errors is the number of failed messages so far.
	Errors int64 `json:"errors"`
}

// BenchResult is the outcome of a bench. MB/s counts the content once: the
// bytes sent, which came back.
type BenchResult struct {
	Address     string  `json:"address"`
	TLS         bool    `json:"tls"`
	Connections int     `json:"connections"`
	Size        int     `json:"size"`
	ElapsedMs   float64 `json:"elapsed_ms"`
	// Messages is the number of messages echoed correctly.
	Messages       int64   `json:"messages"`
	MessagesPerSec float64 `json:"messages_per_sec"`
	MBPerSec       float64 `json:"mb_per_sec"`
	// Handshakes counts the connections made (TCP connect and TLS
	// handshake); Handshake is the time each took, nil when none was made.
	Handshakes       int64    `json:"handshakes"`
	HandshakesPerSec float64  `json:"handshakes_per_sec"`
	Handshake        *Latency `json:"handshake,omitempty"`
	// Latency is the round trip time of the messages echoed, nil when
	// none was.
	Latency *Latency `json:"latency,omitempty"`
	// Errors counts the failed messages by kind: "refused", "reset",
	// "closed", "timeout", "tls", "certificate", "protocol", "mismatch",
	// "server_<code>" (e.g. "server_busy") or "other".
	Errors     map[string]int64 `json:"errors"`
	ErrorCount int64            `json:"error_count"`
	// FirstError is the message of the first error, empty when none.
	FirstError string `json:"first_error,omitempty"`
}

// Latency summarises durations, in milliseconds. Percentiles are within 1.6%.
type Latency struct {
	P50Ms  float64 `json:"p50_ms"`
	P90Ms  float64 `json:"p90_ms"`
	P99Ms  float64 `json:"p99_ms"`
	MaxMs  float64 `json:"max_ms"`
	MeanMs float64 `json:"mean_ms"`
}

// Run runs the bench against address. The first connection is made before
// anything else, and its error, if any, is returned with a result that
// counts it and has nothing else: a bench of a server that is not there
// fails at once. After that, failures are counted in the result.
// When ctx is done the bench stops, as at the end of Duration, and reports.
func (b *Bench) Run(ctx context.Context, address string) (*BenchResult, error) {
	conns, size, limit := orDefault(b.Conns, 1), orDefault(b.Size, 64), b.Messages
	switch {
	case b.Conns < 0 || b.Size < 0 || b.Messages < 0 || b.Duration < 0 || b.PerConn < 0:
		return nil, errors.New("bench: connections, messages, duration, size and per-connection count must not be negative")
	case size > orDefault(b.Client.MaxContentLength, DefaultMaxContentLength):
		return nil, fmt.Errorf("bench: size %d is over the reply limit %d", size, orDefault(b.Client.MaxContentLength, DefaultMaxContentLength))
	case limit == 0 && b.Duration == 0:
		limit = 1000
	}
	content := make([]byte, size)
	for i := range content {
		content[i] = byte(rand.Uint32())
	}
	frame, err := AppendFrame(nil, NewMessage(ContentTypeBinary, "binary", content))
	if err != nil {
		return nil, err
	}
	start := time.Now()
	first, err := Dial(ctx, address, b.Client)
	if err != nil {
		// What was tried, for a report that says so.
		res := &BenchResult{Address: address, TLS: !b.Client.Plaintext, Connections: conns, Size: size,
			ElapsedMs: units.Millis(time.Since(start)), Errors: map[string]int64{errorKind(err): 1}, ErrorCount: 1, FirstError: err.Error()}
		return res, err
	}
	// Later connections go to the address the first one reached, for the
	// same server name: the name is looked up once.
	client := b.Client
	if client.ServerName == "" {
		client.ServerName, _, _ = net.SplitHostPort(address)
	}
	target, err := netip.ParseAddrPort(first.Session().Address)
	if err != nil {
		first.Close()
		return nil, err
	}
	r := &benchRun{b: b, client: client, target: target, address: address, content: content, frame: frame, limit: int64(limit), stopped: make(chan struct{})}
	r.workers = make([]*benchWorker, conns)
	for i := range r.workers {
		r.workers[i] = &benchWorker{r: r}
	}
	r.workers[0].hs.add(time.Since(start))
	if b.Duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, b.Duration)
		defer cancel()
	}
	start = time.Now()
	defer context.AfterFunc(ctx, r.stop)()
	var wg sync.WaitGroup
	for i, w := range r.workers {
		var c *Conn
		if i == 0 {
			c = first
		}
		wg.Go(func() { w.run(ctx, c) })
	}
	finished := make(chan struct{})
	if b.Progress != nil {
		go r.report(start, finished)
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(finished)
	return r.result(elapsed), nil
}

// benchRun is the state the workers of one Run share.
type benchRun struct {
	b        *Bench
	address  string         // as given, for the result
	target   netip.AddrPort // what the first connection reached
	client   ClientOptions  // b.Client with the server name of address
	content  []byte
	frame    []byte // the request, encoded once
	limit    int64  // messages to attempt, 0 for no limit
	issued   atomic.Int64
	halted   atomic.Bool
	stopOnce sync.Once
	stopped  chan struct{}
	workers  []*benchWorker
}

// claim reserves the next message, and reports false when the run is over.
func (r *benchRun) claim() bool {
	if r.halted.Load() {
		return false
	}
	return r.limit == 0 || r.issued.Add(1) <= r.limit
}

// stop ends the run: no more claims, and blocked round trips are cut short
// by closing their connections.
func (r *benchRun) stop() {
	r.stopOnce.Do(func() {
		r.halted.Store(true)
		close(r.stopped)
		for _, w := range r.workers {
			w.mu.Lock()
			if w.conn != nil {
				w.conn.Close()
			}
			w.mu.Unlock()
		}
	})
}

// report calls Progress until finished is closed.
func (r *benchRun) report(start time.Time, finished <-chan struct{}) {
	t := time.NewTicker(orDefault(r.b.ProgressInterval, time.Second))
	defer t.Stop()
	var last int64
	lastTime := start
	for {
		select {
		case <-finished:
			return
		case now := <-t.C:
			var p BenchProgress
			for _, w := range r.workers {
				p.Messages += w.done.Load()
				p.Errors += w.failed.Load()
			}
			p.ElapsedMs = units.Millis(now.Sub(start))
			p.MessagesPerSec = float64(p.Messages-last) / now.Sub(lastTime).Seconds()
			last, lastTime = p.Messages, now
			r.b.Progress(p)
		}
	}
}

// result adds up the workers' counts.
func (r *benchRun) result(elapsed time.Duration) *BenchResult {
	res := &BenchResult{
		Address:     r.address,
		TLS:         !r.b.Client.Plaintext,
		Connections: len(r.workers),
		Size:        len(r.content),
		ElapsedMs:   units.Millis(elapsed),
		Errors:      map[string]int64{},
	}
	var lat, hs histogram
	for _, w := range r.workers {
		lat.merge(&w.lat)
		hs.merge(&w.hs)
		for k, n := range w.kinds {
			res.Errors[k] += n
			res.ErrorCount += n
		}
		if res.FirstError == "" && w.firstErr != nil {
			res.FirstError = w.firstErr.Error()
		}
	}
	res.Messages, res.Handshakes = int64(lat.n), int64(hs.n)
	sec := elapsed.Seconds()
	res.MessagesPerSec = float64(res.Messages) / sec
	res.MBPerSec = float64(res.Messages) * float64(len(r.content)) / sec / 1e6
	res.HandshakesPerSec = float64(res.Handshakes) / sec
	res.Latency, res.Handshake = lat.summary(), hs.summary()
	return res
}

// benchWorker drives one connection at a time.
type benchWorker struct {
	r        *benchRun
	lat, hs  histogram
	done     atomic.Int64 // messages echoed, read by report
	failed   atomic.Int64 // messages failed, read by report
	kinds    map[string]int64
	firstErr error

	mu   sync.Mutex // guards conn against stop
	conn *Conn
}

// run sends messages until the run is over, on c if not nil and then on
// connections of its own.
func (w *benchWorker) run(ctx context.Context, c *Conn) {
	r := w.r
	w.setConn(c)
	defer func() { w.setConn(nil) }()
	sent := 0
	var backoff time.Duration
	var deadline time.Time // of the current connection
	for r.claim() {
		if w.conn == nil {
			start := time.Now()
			c, err := DialAddrPort(ctx, r.target, r.client)
			if err != nil {
				if !w.fail(ctx, err, &backoff) {
					return
				}
				continue
			}
			w.hs.add(time.Since(start))
			w.setConn(c)
			sent, deadline = 0, time.Time{}
		}
		// The deadline is moved only when less than half the timeout is
		// left: a round trip gets at least half of it, and most round trips
		// cost no timer update.
		if now := time.Now(); deadline.Sub(now) < w.conn.timeout/2 {
			deadline = now.Add(w.conn.timeout)
			w.conn.conn.SetDeadline(deadline)
		}
		reply, rtt, err := w.conn.exchange(r.frame)
		if err == nil {
			err = checkEchoReply(ContentTypeBinary, r.content, reply)
		}
		if err != nil {
			w.setConn(nil)
			if !w.fail(ctx, err, &backoff) {
				return
			}
			continue
		}
		backoff = 0
		w.lat.add(rtt)
		w.done.Add(1)
		if sent++; r.b.PerConn > 0 && sent == r.b.PerConn {
			w.setConn(nil)
		}
	}
}

// setConn closes the worker's connection, if any, and makes c the current
// one; a stop that has already happened closes c at once.
func (w *benchWorker) setConn(c *Conn) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.conn != nil {
		w.conn.Close()
	}
	if c != nil && w.r.halted.Load() {
		c.Close()
	}
	w.conn = c
}

// fail counts err, unless the run is over (its end cut the message short),
// and waits before the worker tries again: 10 ms after the first failure in
// a row, twice as long after each further one, at most 1 s, so a server
// that refuses is not hammered. It reports whether to go on.
func (w *benchWorker) fail(ctx context.Context, err error, backoff *time.Duration) bool {
	if w.r.halted.Load() || ctx.Err() != nil {
		return false
	}
	// A dial's own timer can fire at the context's deadline just before
	// the context says it is done.
	if end, ok := ctx.Deadline(); ok && !time.Now().Before(end) {
		return false
	}
	if w.kinds == nil {
		w.kinds = map[string]int64{}
		w.firstErr = err
	}
	w.kinds[errorKind(err)]++
	w.failed.Add(1)
	*backoff = min(max(2**backoff, 10*time.Millisecond), time.Second)
	t := time.NewTimer(*backoff)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-w.r.stopped:
		return false
	}
}

// errorKind classifies a failed message for BenchResult.Errors.
func errorKind(err error) string {
	var (
		se    *ServerError
		me    *MismatchError
		pe    *ProtocolError
		cve   *tls.CertificateVerificationError
		rh    tls.RecordHeaderError
		alert tls.AlertError
	)
	switch {
	case errors.As(err, &se):
		return "server_" + se.Code
	case errors.As(err, &me):
		return "mismatch"
	case errors.As(err, &pe):
		return "protocol"
	case errors.As(err, &cve):
		return "certificate"
	case errors.As(err, &rh), errors.As(err, &alert):
		return "tls"
	case errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return "reset"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "closed"
	}
	return "other"
}

// histogram counts durations in buckets: exact below 64 ns, then 64 buckets
// per power of two, so a bucket's middle is within 1/128 (0.8%) of any value
// in it. Durations over about 137 s share the last bucket; max is exact.
type histogram struct {
	counts   [histBuckets]uint64
	n        uint64
	sum, max time.Duration
}

const (
	histSubBits = 6
	histSub     = 1 << histSubBits
	histBuckets = 32 * histSub
)

func histBucket(v uint64) int {
	if v < histSub {
		return int(v)
	}
	e := bits.Len64(v) - histSubBits - 1 // v>>e is in [histSub, 2*histSub)
	return min((e+1)*histSub+int(v>>e)-histSub, histBuckets-1)
}

// histValue is the middle of bucket i.
func histValue(i int) time.Duration {
	if i < histSub {
		return time.Duration(i)
	}
	e := i/histSub - 1
	lo := uint64(i%histSub+histSub) << e
	return time.Duration(lo + (uint64(1)<<e)/2)
}

func (h *histogram) add(d time.Duration) {
	h.counts[histBucket(uint64(max(d, 0)))]++
	h.n++
	h.sum += d
	h.max = max(h.max, d)
}

func (h *histogram) merge(o *histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.sum += o.sum
	h.max = max(h.max, o.max)
}

// quantile returns the value below or at which a fraction q of the durations
// lie, never more than the maximum.
func (h *histogram) quantile(q float64) time.Duration {
	rank := uint64(q*float64(h.n) + 0.5)
	rank = min(max(rank, 1), h.n)
	var seen uint64
	for i, c := range h.counts {
		if seen += c; seen >= rank {
			return min(histValue(i), h.max)
		}
	}
	return h.max
}

func (h *histogram) summary() *Latency {
	if h.n == 0 {
		return nil
	}
	return &Latency{
		P50Ms:  units.Millis(h.quantile(0.50)),
		P90Ms:  units.Millis(h.quantile(0.90)),
		P99Ms:  units.Millis(h.quantile(0.99)),
		MaxMs:  units.Millis(h.max),
		MeanMs: units.Millis(h.sum / time.Duration(h.n)),
	}
}
