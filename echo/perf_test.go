package echo

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// perfOnly skips the performance runs unless NETKIT_BENCH is set: they
// take minutes and need the machine to themselves.
//
//	NETKIT_BENCH=1 go test -run TestPerf -v -timeout 30m ./echo/
//
// TestPerfMatrix compares 'echo serve' driven by 'echo bench' (the Server and
// Bench types) with a bare crypto/tls echo loop, measured in the same run, in
// messages per second and in CPU time per message (the CPU ratio is bare over
// netkit, so for both ratios 100% means as good as the bare loop);
// TestPerfIdleConns holds 10,000 idle TLS connections to a server in a child
// process and reports its RSS per connection, beside the bare loop's.
func perfOnly(t *testing.T) {
	if os.Getenv("NETKIT_BENCH") == "" {
		t.Skip("set NETKIT_BENCH=1 to run the performance tests")
	}
}

// raiseFileLimit lets the process hold n descriptors: it raises the soft
// limit, and the hard one when it must (which needs CAP_SYS_RESOURCE).
func raiseFileLimit(t *testing.T, n uint64) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	if lim.Cur >= n {
		return
	}
	lim.Cur, lim.Max = n, max(lim.Max, n)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatalf("raise RLIMIT_NOFILE to %d: %v (the hard limit is %d; raising it needs CAP_SYS_RESOURCE)", n, err, lim.Max)
	}
}

// bareServe is the reference: the least a crypto/tls echo of framed messages
// does. Each message is a 4-byte big-endian length and that many bytes; the
// server reads it into one buffer and writes that buffer back.
func bareServe(ln net.Listener, maxSize int) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			buf := make([]byte, 4+maxSize)
			for {
				if _, err := io.ReadFull(c, buf[:4]); err != nil {
					return
				}
				n := int(binary.BigEndian.Uint32(buf))
				if n > maxSize {
					return
				}
				if _, err := io.ReadFull(c, buf[4:4+n]); err != nil {
					return
				}
				if _, err := c.Write(buf[:4+n]); err != nil {
					return
				}
			}
		}()
	}
}

// bareBench is the reference client: conns goroutines, each dialling its
// connection and then writing a message and reading the echo back, until d
// has passed since they started (as Bench, the dials are inside the timed
// window). It returns messages per second.
func bareBench(t *testing.T, addr string, cfg *tls.Config, conns, size int, d time.Duration) float64 {
	msg := make([]byte, 4+size)
	binary.BigEndian.PutUint32(msg, uint32(size))
	var stop atomic.Bool
	var total, failed atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range conns {
		wg.Go(func() {
			c, err := tls.Dial("tcp", addr, cfg)
			if err != nil {
				failed.Add(1)
				return
			}
			defer c.Close()
			reply := make([]byte, len(msg))
			var n int64
			for !stop.Load() {
				if _, err := c.Write(msg); err != nil {
					break
				}
				if _, err := io.ReadFull(c, reply); err != nil {
					break
				}
				n++
			}
			total.Add(n)
		})
	}
	time.Sleep(d)
	stop.Store(true)
	wg.Wait()
	if failed.Load() > 0 {
		t.Fatalf("bare loop: %d connections failed", failed.Load())
	}
	return float64(total.Load()) / time.Since(start).Seconds()
}

func TestPerfMatrix(t *testing.T) {
	perfOnly(t)
	raiseFileLimit(t, 4000) // 500 connections, both ends
	pki := newTestPKI(t)
	const maxSize = 64 << 10

	bare, err := tls.Listen("tcp", "127.0.0.1:0", ServerTLSConfig(pki.server.Certificate, nil, nil))
	if err != nil {
		t.Fatal(err)
	}
	defer bare.Close()
	go bareServe(bare, maxSize)

	nk := serve(t, &Server{
		TLSConfig: ServerTLSConfig(pki.server.Certificate, nil, nil),
		Logger:    slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	clientCfg := &tls.Config{RootCAs: pki.serverPool, ServerName: "localhost"}
	opts := ClientOptions{RootCAs: pki.serverPool, ServerName: "localhost"}

	d := 2 * time.Second
	if s := os.Getenv("NETKIT_BENCH_SECONDS"); s != "" {
		n, _ := strconv.ParseFloat(s, 64)
		d = time.Duration(n * float64(time.Second))
	}
	t.Logf("GOMAXPROCS=%d, %v per run, order bare netkit netkit bare; rates are the mean of two runs;", runtime.GOMAXPROCS(0), d)
	t.Logf("cpu/msg is this process's CPU time (client and server) per message, less disturbed by other load")
	t.Logf("%-5s %-6s %12s %12s %10s %11s %7s %9s %9s %7s", "conns", "size", "bare msg/s", "netkit msg/s", "bare MB/s", "netkit MB/s", "ratio",
		"bare cpu", "nk cpu", "ratio")
	for _, conns := range []int{1, 50, 500} {
		for _, size := range []int{64, 1 << 10, 64 << 10} {
			// Each run returns messages per second and CPU time per message.
			runBare := func() (float64, time.Duration) {
				c0 := cpuTime()
				rate := bareBench(t, bare.Addr().String(), clientCfg, conns, size, d)
				return rate, (cpuTime() - c0) / time.Duration(rate*d.Seconds())
			}
			runNetkit := func() (float64, time.Duration) {
				c0 := cpuTime()
				res, err := (&Bench{Conns: conns, Size: size, Duration: d, Client: opts}).Run(context.Background(), nk.addr)
				if err != nil {
					t.Fatal(err)
				}
				if res.ErrorCount > 0 {
					t.Fatalf("netkit bench errors: %v (%s)", res.Errors, res.FirstError)
				}
				return res.MessagesPerSec, (cpuTime() - c0) / time.Duration(res.Messages)
			}
			b1, bc1 := runBare()
			n1, nc1 := runNetkit()
			n2, nc2 := runNetkit()
			b2, bc2 := runBare()
			b, n, bc, nc := (b1+b2)/2, (n1+n2)/2, (bc1+bc2)/2, (nc1+nc2)/2
			t.Logf("%-5d %-6s %12.0f %12.0f %10.1f %11.1f %6.0f%% %7.1fµs %7.1fµs %6.0f%%", conns, sizeName(size), b, n,
				b*float64(size)/1e6, n*float64(size)/1e6, 100*n/b, us(bc), us(nc), 100*float64(bc)/float64(nc))
		}
	}
}

// cpuTime is the CPU time this process has used, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

func sizeName(n int) string {
	if n >= 1<<10 {
		return fmt.Sprintf("%dKiB", n>>10)
	}
	return fmt.Sprintf("%dB", n)
}

// TestPerfIdleConns opens 10,000 TLS connections to a server in a child
// process, lets them sit idle, and reports the child's RSS growth per
// connection, for netkit's Server and for the bare loop.
func TestPerfIdleConns(t *testing.T) {
	perfOnly(t)
	const n = 10000
	raiseFileLimit(t, n+1000) // the client ends; the server's are in the child
	pki := newTestPKI(t)
	for _, kind := range []string{"bare", "netkit"} {
		server, addr := startPerfServer(t, pki, kind, 0, os.Stderr)
		before := rssKiB(t, server.cmd.Process.Pid)
		start := time.Now()
		conns := make([]*tls.Conn, n)
		var wg sync.WaitGroup
		var failed atomic.Int64
		for w := range 50 {
			wg.Go(func() {
				for i := w; i < n; i += 50 {
					// Spread the clients over 127.0.0.1-10 so ports never run short.
					d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(1+i%10))}}
					c, err := tls.DialWithDialer(d, "tcp", addr, &tls.Config{RootCAs: pki.serverPool, ServerName: "localhost"})
					if err != nil {
						failed.Add(1)
						continue
					}
					conns[i] = c
				}
			})
		}
		wg.Wait()
		if f := failed.Load(); f > 0 {
			t.Fatalf("%s: %d of %d connections failed", kind, f, n)
		}
		setup := time.Since(start)
		time.Sleep(3 * time.Second) // the server finishes its side of the handshakes
		after := rssKiB(t, server.cmd.Process.Pid)
		t.Logf("%-6s %d idle TLS connections: set up in %v, server RSS %d MiB -> %d MiB, %.1f KiB per connection",
			kind, n, setup.Round(time.Millisecond), before>>10, after>>10, float64(after-before)/n)
		for _, c := range conns {
			c.Close()
		}
		server.stop()
	}
}

// helper is one of this package's helper tests running in a child
// process: it reads commands on in, writes its answers on out, and ends
// when in closes.
type helper struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Reader
}

// startHelper runs the helper test named test in a child process, with env
// added to this one's environment and its stderr going to stderr, under
// nice -n niceness unless niceness is 0. It stops at the end of the test,
// or before with stop.
func startHelper(t *testing.T, niceness int, test string, stderr io.Writer, env ...string) *helper {
	args := []string{os.Args[0], "-test.run=^" + test + "$"}
	if niceness != 0 {
		args = append([]string{"nice", "-n", strconv.Itoa(niceness)}, args...)
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = stderr
	in, _ := cmd.StdinPipe()
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	h := &helper{cmd: cmd, in: in, out: bufio.NewReader(out)}
	t.Cleanup(h.stop)
	return h
}

// stop closes the helper's stdin and waits for it to end, unless it has
// been waited for already.
func (h *helper) stop() {
	if h.cmd.ProcessState == nil {
		h.in.Close()
		h.cmd.Wait()
	}
}

// startPerfServer starts TestPerfHelperServer of kind (bare, netkit or
// attack) as startHelper does, its log going to log, and returns it and
// the address it listens on.
func startPerfServer(t *testing.T, pki *testPKI, kind string, niceness int, log io.Writer) (*helper, string) {
	h := startHelper(t, niceness, "TestPerfHelperServer", log, "NETKIT_PERF_HELPER="+kind,
		"NETKIT_PERF_CERT="+pki.server.CertFile, "NETKIT_PERF_KEY="+pki.server.KeyFile)
	line, err := h.out.ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	return h, strings.TrimSpace(line)
}

// TestPerfHelperServer is the child process of TestPerfIdleConns and
// TestPerfAttackMix: it serves until its stdin closes.
func TestPerfHelperServer(t *testing.T) {
	kind := os.Getenv("NETKIT_PERF_HELPER")
	if kind == "" {
		t.Skip("the child process of TestPerfIdleConns and TestPerfAttackMix")
	}
	kp, err := LoadKeyPair(context.Background(), os.Getenv("NETKIT_PERF_CERT"), os.Getenv("NETKIT_PERF_KEY"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := ServerTLSConfig(kp.Certificate, nil, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		io.Copy(io.Discard, os.Stdin)
		cancel()
		ln.Close()
	}()
	fmt.Println(ln.Addr())
	if kind == "bare" {
		// The bare loop reads the first message, which completes the
		// handshake, as the netkit server's first read does.
		bareServe(tls.NewListener(ln, cfg), 64<<10)
		return
	}
	raiseFileLimit(t, 10000+1000)
	s := &Server{TLSConfig: cfg, IdleTimeout: time.Hour, MaxConns: 20000, MaxConnsPerAddr: 20000, DrainTimeout: time.Second}
	if kind == "attack" {
		// The defaults, but for a smaller budget and shorter timeouts, so
		// that the attack's effects show within the test.
		s = &Server{TLSConfig: cfg, MaxMemory: attackBudget, HandshakeTimeout: 5 * time.Second, MessageTimeout: 5 * time.Second,
			DrainTimeout: time.Second, Logger: slog.New(slog.NewTextHandler(os.Stderr, nil))}
	}
	s.Serve(ctx, ln)
}

// rssKiB reads a process's resident set size.
func rssKiB(t *testing.T, pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(rest)
			n, _ := strconv.ParseInt(f[0], 10, 64)
			return n
		}
	}
	t.Fatal("no VmRSS")
	return 0
}
