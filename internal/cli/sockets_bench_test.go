package cli

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/netkit/netkit/diag/sockets"
	gnet "github.com/shirou/gopsutil/v3/net"
)

// socketsBenchAddr is the loopback address the scale benchmark's listener
// and connections use, apart from every other test's.
const socketsBenchAddr = "127.0.0.37"

// socketsBenchConns is how many connections the scale benchmark opens by
// default (NETKIT_BENCH_CONNS overrides it, up to socketsBenchMaxConns).
// Both ends of each are held by helper processes, at most
// socketsHolderConns connections each: the fd hard limit here is 20,000
// and a process without CAP_SYS_RESOURCE cannot raise it.
const (
	socketsBenchConns    = 20000
	socketsBenchMaxConns = 50000
	socketsHolderConns   = 9000
	socketsBenchSetup    = 90 * time.Second
	// socketsHolderLife bounds how long a helper holds its connections
	// if the benchmark never tells it to stop.
	socketsHolderLife = 15 * time.Minute
	// socketsHolderEnv tells the test binary to act as a helper holding
	// that many connections (TestSocketsBenchHolder).
	socketsHolderEnv = "NETKIT_SOCKETS_HOLDER"
)

// openBenchConns opens n loopback connections to a listener of its own on
// socketsBenchAddr, both ends held by this process, within
// socketsBenchSetup. It raises RLIMIT_NOFILE's soft limit as needed, and
// resets every connection when tb ends, so nothing is left in TIME_WAIT.
func openBenchConns(tb testing.TB, n int) {
	tb.Helper()
	need := uint64(2*n + 64)
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		tb.Fatal(err)
	}
	if lim.Cur < need {
		lim.Cur = min(need, lim.Max)
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			tb.Fatalf("raise RLIMIT_NOFILE to %d: %v", lim.Cur, err)
		}
	}
	ln, err := net.Listen("tcp4", socketsBenchAddr+":0")
	if err != nil {
		tb.Fatalf("listen on %s: %v", socketsBenchAddr, err)
	}
	conns := make([]net.Conn, 0, 2*n)
	tb.Cleanup(func() {
		ln.Close()
		for _, c := range conns {
			c.(*net.TCPConn).SetLinger(0)
			c.Close()
		}
	})
	accepted := make(chan net.Conn, 1024)
	go func() {
		defer close(accepted)
		for range n {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	deadline := time.Now().Add(socketsBenchSetup)
	// Bind the clients to the benchmark's address too: the kernel would
	// pick 127.0.0.1 and take its ephemeral ports from other tests.
	local := &net.TCPAddr{IP: net.ParseIP(socketsBenchAddr)}
	d := net.Dialer{Deadline: deadline, LocalAddr: local}
	for i := range n {
		if time.Now().After(deadline) {
			tb.Fatalf("opened %d of %d connections in %s", i, n, socketsBenchSetup)
		}
		c, err := d.Dial("tcp4", ln.Addr().String())
		if err != nil {
			tb.Fatalf("connection %d of %d: %v", i+1, n, err)
		}
		conns = append(conns, c, <-accepted)
	}
}

// TestSocketsBenchHolder is not a test: BenchmarkSocketsAtScale runs the
// test binary with socketsHolderEnv set to have it open and hold that many
// connections. It says "ready" on stdout, then holds them until stdin
// closes or socketsHolderLife passes.
func TestSocketsBenchHolder(t *testing.T) {
	n, err := strconv.Atoi(os.Getenv(socketsHolderEnv))
	if err != nil {
		t.Skip("helper process of BenchmarkSocketsAtScale")
	}
	if n < 1 || n > socketsHolderConns {
		t.Fatalf("%s=%d: want 1 to %d", socketsHolderEnv, n, socketsHolderConns)
	}
	openBenchConns(t, n)
	fmt.Println("ready")
	stdin := make(chan struct{})
	go func() {
		io.Copy(io.Discard, os.Stdin)
		close(stdin)
	}()
	select {
	case <-stdin:
	case <-time.After(socketsHolderLife):
	}
}

// startHolders starts helper processes holding n connections in all, and
// stops them when b ends.
func startHolders(b *testing.B, n int) {
	b.Helper()
	for left := n; left > 0; left -= socketsHolderConns {
		cmd := exec.Command(os.Args[0], "-test.run=^TestSocketsBenchHolder$", "-test.count=1")
		cmd.Env = append(os.Environ(), socketsHolderEnv+"="+strconv.Itoa(min(left, socketsHolderConns)))
		stdin, err := cmd.StdinPipe()
		if err != nil {
			b.Fatal(err)
		}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			b.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() {
			stdin.Close()
			cmd.Wait()
		})
		ready := make(chan bool, 1)
		go func() {
			sc := bufio.NewScanner(stdout)
			ok := false
			for sc.Scan() {
				if sc.Text() == "ready" {
					ok = true
					break
				}
			}
			ready <- ok
			io.Copy(io.Discard, stdout)
		}()
		select {
		case ok := <-ready:
			if !ok {
				b.Fatalf("helper holding connections exited: %v", cmd.Wait())
			}
		case <-time.After(socketsBenchSetup + 30*time.Second):
			cmd.Process.Kill()
			b.Fatal("helper holding connections did not get ready in time")
		}
	}
}

// BenchmarkSocketsAtScale times, in one run and taking turns, 'netkit
// sockets -t' (the built binary, output piped to io.Discard) beside
// 'ss -tanp', 'netstat -tanp' and 'lsof -i -nP', and in this process
// sockets.List beside gopsutil's net.ConnectionsWithoutUids and
// net.Connections, with 20,000 loopback TCP connections open (40,000
// sockets, held by helper processes). It reports
// seconds per run of each and netkit's ratio to each tool:
//
//	go test ./internal/cli -run '^$' -bench SocketsAtScale -benchtime 5x
func BenchmarkSocketsAtScale(b *testing.B) {
	n := socketsBenchConns
	if s := os.Getenv("NETKIT_BENCH_CONNS"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 1 || v > socketsBenchMaxConns {
			b.Fatalf("NETKIT_BENCH_CONNS=%q: want 1 to %d", s, socketsBenchMaxConns)
		}
		n = v
	}
	startHolders(b, n)
	ctx := context.Background()
	type contender struct {
		name string
		run  func() error
	}
	command := func(name string, args ...string) func() error {
		return func() error {
			cmd := exec.Command(name, args...)
			cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
			return cmd.Run()
		}
	}
	var contenders []contender
	for _, c := range []contender{
		{"netkit", command(binary, "sockets", "-t")},
		{"ss", command("ss", "-tanp")},
		{"netstat", command("netstat", "-tanp")},
		{"lsof", command("lsof", "-i", "-nP")},
	} {
		if _, err := exec.LookPath(c.name); c.name != "netkit" && err != nil {
			b.Logf("%s is not installed: not compared (.ci/run installs it)", c.name)
			continue
		}
		contenders = append(contenders, c)
	}
	contenders = append(contenders,
		contender{"sockets.List", func() error {
			_, err := sockets.List(ctx, sockets.Query{TCP: true})
			return err
		}},
		contender{"gopsutil.ConnectionsWithoutUids", func() error {
			_, err := gnet.ConnectionsWithoutUidsWithContext(ctx, "tcp")
			return err
		}},
		contender{"gopsutil.Connections", func() error {
			_, err := gnet.ConnectionsWithContext(ctx, "tcp")
			return err
		}},
	)
	// Warm up the page cache and check that netkit sees every socket.
	list, err := sockets.List(ctx, sockets.Query{TCP: true, IPv4: true})
	if err != nil {
		b.Fatal(err)
	}
	if len(list.Sockets) < 2*n+1 {
		b.Fatalf("netkit lists %d TCP sockets, want at least %d", len(list.Sockets), 2*n+1)
	}
	spent := make([]time.Duration, len(contenders))
	b.ResetTimer()
	for b.Loop() {
		for i, c := range contenders {
			start := time.Now()
			if err := c.run(); err != nil {
				b.Fatalf("%s: %v", c.name, err)
			}
			spent[i] += time.Since(start)
		}
	}
	b.StopTimer()
	per := map[string]float64{}
	for i, c := range contenders {
		per[c.name] = spent[i].Seconds() / float64(b.N)
		b.ReportMetric(per[c.name], "s/"+c.name)
	}
	for _, c := range contenders {
		switch c.name {
		case "ss", "netstat", "lsof":
			b.ReportMetric(per["netkit"]/per[c.name], "netkit/"+c.name)
		case "gopsutil.ConnectionsWithoutUids", "gopsutil.Connections":
			b.ReportMetric(per["sockets.List"]/per[c.name], "ListSockets/"+strings.TrimPrefix(c.name, "gopsutil."))
		}
	}
	b.Logf("%d connections, %d IPv4 TCP sockets listed", n, len(list.Sockets))
}
