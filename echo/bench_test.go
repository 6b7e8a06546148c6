package echo

import (
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"regexp"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

func TestBenchMessages(t *testing.T) {
	pki := newTestPKI(t)
	r := serve(t, &Server{TLSConfig: ServerTLSConfig(pki.server.Certificate, nil, nil)})
	b := &Bench{Conns: 4, Messages: 200, Size: 1000, Client: ClientOptions{RootCAs: pki.serverPool}}
	res, err := b.Run(context.Background(), r.addr)
	if err != nil {
		t.Fatal(err)
	}
	if res.Messages != 200 || res.ErrorCount != 0 || res.Handshakes != 4 || !res.TLS || res.Connections != 4 || res.Size != 1000 {
		t.Fatalf("result %+v", res)
	}
	l := res.Latency
	if !(0 < l.P50Ms && l.P50Ms <= l.P90Ms && l.P90Ms <= l.P99Ms && l.P99Ms <= l.MaxMs && l.MeanMs <= l.MaxMs) {
		t.Errorf("latency %+v is not ordered", l)
	}
	wantMB := float64(res.Messages) * 1000 / (res.ElapsedMs / 1000) / 1e6
	if res.MessagesPerSec <= 0 || res.MBPerSec < wantMB*0.999 || res.MBPerSec > wantMB*1.001 {
		t.Errorf("%.0f msg/s, %.3f MB/s, want %.3f MB/s", res.MessagesPerSec, res.MBPerSec, wantMB)
	}
	// The server saw the same: 4 connections, 200 messages.
	r.stop()
	conns, served := 0, 0
	for _, m := range regexp.MustCompile(`msg=close .* messages=(\d+) `).FindAllStringSubmatch(r.log.String(), -1) {
		n, _ := strconv.Atoi(m[1])
		conns, served = conns+1, served+n
	}
	if conns != 4 || served != 200 {
		t.Errorf("server log: %d connections, %d messages; want 4 and 200", conns, served)
	}
}

func TestBenchReconnects(t *testing.T) {
	r := serve(t, &Server{})
	b := &Bench{Conns: 1, Messages: 50, PerConn: 10, Client: ClientOptions{Plaintext: true}}
	res, err := b.Run(context.Background(), r.addr)
	if err != nil {
		t.Fatal(err)
	}
	if res.Messages != 50 || res.Handshakes != 5 || res.HandshakesPerSec <= 0 || res.Handshake == nil || res.Handshake.MaxMs <= 0 {
		t.Errorf("result %+v, want 50 messages over 5 connections", res)
	}
}

func TestBenchDurationAndProgress(t *testing.T) {
	r := serve(t, &Server{})
	var mu sync.Mutex
	var progress []BenchProgress
	b := &Bench{
		Conns: 3, Duration: 500 * time.Millisecond, Client: ClientOptions{Plaintext: true},
		ProgressInterval: 100 * time.Millisecond,
		Progress: func(p BenchProgress) {
			mu.Lock()
			progress = append(progress, p)
			mu.Unlock()
		},
	}
	start := time.Now()
	res, err := b.Run(context.Background(), r.addr)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 500*time.Millisecond || d > 2*time.Second {
		t.Errorf("ran for %v, want 500ms", d)
	}
	if res.Messages == 0 || res.ErrorCount != 0 {
		t.Errorf("result %+v: the stop at the deadline must not count as errors", res)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(progress) < 3 || !slices.IsSortedFunc(progress, func(a, b BenchProgress) int { return int(a.Messages - b.Messages) }) ||
		progress[len(progress)-1].Messages > res.Messages || progress[0].MessagesPerSec <= 0 {
		t.Errorf("progress %+v, result %d messages", progress, res.Messages)
	}
}

// TestBenchErrorKinds runs more connections than the server allows: the extra
// ones are told busy, counted by kind, and the run still ends.
func TestBenchErrorKinds(t *testing.T) {
	r := serve(t, &Server{MaxConns: 1, MaxConnsPerAddr: 1})
	b := &Bench{Conns: 3, Duration: 300 * time.Millisecond, Client: ClientOptions{Plaintext: true}}
	res, err := b.Run(context.Background(), r.addr)
	if err != nil {
		t.Fatal(err)
	}
	if res.Errors["server_busy"] == 0 || res.ErrorCount != res.Errors["server_busy"] || res.Messages == 0 || res.FirstError == "" {
		t.Errorf("result %+v, want messages on one connection and busy errors on the others", res)
	}
}

func TestBenchNothingThere(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	_, err = (&Bench{}).Run(context.Background(), ln.Addr().String())
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("got %v, want connection refused", err)
	}
	if _, err := (&Bench{Size: 2 << 20}).Run(context.Background(), ln.Addr().String()); err == nil {
		t.Error("a size over the reply limit was accepted")
	}
}

func TestHistogramQuantiles(t *testing.T) {
	var h histogram
	var all []time.Duration
	for range 100000 {
		d := time.Duration(rand.ExpFloat64() * float64(200*time.Microsecond))
		h.add(d)
		all = append(all, d)
	}
	slices.Sort(all)
	for _, q := range []float64{0.5, 0.9, 0.99, 1} {
		exact := all[int(q*float64(len(all)))-1]
		got := h.quantile(q)
		if diff := float64(got-exact) / float64(exact); diff > 0.016 || diff < -0.016 {
			t.Errorf("q%.2f: %v, exact %v (%.2f%% off)", q, got, exact, 100*diff)
		}
	}
	if h.max != all[len(all)-1] {
		t.Errorf("max %v, want %v", h.max, all[len(all)-1])
	}
	for _, v := range []uint64{0, 63, 64, 127, 128, 1 << 20, 1<<36 + 12345} {
		mid := histValue(histBucket(v))
		if d := float64(mid) - float64(v); d > float64(v)/64+1 || -d > float64(v)/64+1 {
			t.Errorf("%d lands in a bucket whose middle is %d", v, mid)
		}
	}
}
