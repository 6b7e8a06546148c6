package exporter

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/netkit/netkit/internal/testnet"
)

// Load of BenchmarkExporters: the 1,000 targets scraped every
// 15 s, for two rounds, then as many probes as benchMaxWorkers clients
// can get through in benchMaxFor.
const (
	benchTargets    = 1000
	benchInterval   = 15 * time.Second
	benchRounds     = 2
	benchMaxWorkers = 64
	benchMaxFor     = 10 * time.Second
)

// benchYML is the module file both exporters load.
const benchYML = `modules:
  tcp_connect:
    prober: tcp
    timeout: 5s
  icmp:
    prober: icmp
    timeout: 5s
`

// benchFigures are what one exporter did under one load.
type benchFigures struct {
	probes, ok    int
	wall          time.Duration
	cpu           time.Duration // user + system time of the exporter process
	rssKB         int           // resident set at the end
	hwmKB         int           // peak resident set
	p50, p99, max time.Duration
}

func (f benchFigures) rate() float64 { return float64(f.probes) / f.wall.Seconds() }

// String is the figures on one line.
func (f benchFigures) String() string {
	return fmt.Sprintf("%.1f probes/s (%d/%d ok), %.0f µs CPU/probe, RSS %d KiB (peak %d), latency p50 %v p99 %v max %v",
		f.rate(), f.ok, f.probes, cpuPerProbe(f), f.rssKB, f.hwmKB, f.p50.Round(time.Microsecond), f.p99.Round(time.Microsecond), f.max.Round(time.Microsecond))
}

// BenchmarkExporters runs netkit's exporter and Debian's
// prometheus-blackbox-exporter, each as its own process with the same
// module file, under the same loads, taking turns: for the tcp and icmp
// modules, 1,000 loopback targets (TCP: 1,000 listening ports of
// 127.0.0.1; ICMP: 127.0.0.1 to 127.0.3.232) each scraped every 15 s for
// two rounds (66.7 probes/s), then 64 clients probing back to back for
// 10 s (the most probes/s it sustains). It reports probes/s, the
// exporter's CPU time per probe and its resident memory, and netkit's
// ratio to blackbox_exporter. Run it alone:
//
//	go test ./internal/exporter -run XXX -bench Exporters -benchtime 1x -timeout 20m
func BenchmarkExporters(b *testing.B) {
	bb, err := exec.LookPath("prometheus-blackbox-exporter")
	if err != nil {
		b.Skip("prometheus-blackbox-exporter is not installed")
	}
	dir := b.TempDir()
	netkit := filepath.Join(dir, "netkit")
	_, file, _, _ := runtime.Caller(0)
	build := exec.Command("go", "build", "-o", netkit, ".")
	build.Dir = filepath.Join(filepath.Dir(file), "..", "..")
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("build netkit: %v\n%s", err, out)
	}
	cfg := filepath.Join(dir, "bench.yml")
	os.WriteFile(cfg, []byte(benchYML), 0o644)

	tcpTargets := make([]string, benchTargets)
	for i := range tcpTargets {
		l := testnet.Listen(b, "127.0.0.1:0")
		testnet.ServeConns(b, l, func(net.Conn) {})
		tcpTargets[i] = l.Addr().String()
	}
	icmpTargets := make([]string, benchTargets)
	for i := range icmpTargets {
		icmpTargets[i] = fmt.Sprintf("127.0.%d.%d", i/250, i%250+1)
	}
	for i := 0; i < b.N; i++ {
		for _, mod := range []struct {
			name    string
			targets []string
		}{{"tcp_connect", tcpTargets}, {"icmp", icmpTargets}} {
			for _, load := range []string{"schedule", "max"} {
				figs := map[string]benchFigures{}
				for _, ex := range []string{"netkit", "blackbox"} {
					addr := freePort(b)
					var cmd *exec.Cmd
					if ex == "netkit" {
						cmd = exec.Command(netkit, "exporter", "--listen", addr, "--config", cfg, "--max-in-flight", "1024")
					} else {
						cmd = exec.Command(bb, "--config.file="+cfg, "--web.listen-address="+addr, "--log.level=error")
					}
					figs[ex] = runLoad(b, cmd, addr, mod.name, mod.targets, load)
				}
				n, k := figs["netkit"], figs["blackbox"]
				b.Logf("%s %s | netkit %s | blackbox %s | netkit/blackbox: probes/s %.2f, CPU per probe %.2f, peak RSS %.2f",
					mod.name, load, n, k, n.rate()/k.rate(), cpuPerProbe(n)/cpuPerProbe(k), float64(n.hwmKB)/float64(k.hwmKB))
				prefix := mod.name + "_" + load + "_"
				b.ReportMetric(n.rate(), prefix+"netkit_probes/s")
				b.ReportMetric(k.rate(), prefix+"blackbox_probes/s")
				b.ReportMetric(cpuPerProbe(n)/cpuPerProbe(k), prefix+"cpu_ratio")
				b.ReportMetric(float64(n.hwmKB)/float64(k.hwmKB), prefix+"rss_ratio")
			}
		}
	}
}

func cpuPerProbe(f benchFigures) float64 {
	return float64(f.cpu.Microseconds()) / float64(max(f.probes, 1))
}

// runLoad starts the exporter cmd, waits for it, puts one load on it and
// stops it. "schedule" scrapes every target once per benchInterval,
// spread evenly, for benchRounds; "max" has benchMaxWorkers clients probe
// the targets in turn, back to back, for benchMaxFor.
func runLoad(b *testing.B, cmd *exec.Cmd, addr, module string, targets []string, load string) benchFigures {
	b.Helper()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: benchMaxWorkers * 2}, Timeout: 30 * time.Second}
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := client.Get("http://" + addr + "/metrics")
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("%s not up: %v", cmd.Path, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	var (
		mu        sync.Mutex
		latencies []time.Duration
		ok        atomic.Int64
	)
	probe := func(target string) {
		req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/probe?module="+module+"&target="+url.QueryEscape(target), nil)
		req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", "10")
		start := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			return
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		d := time.Since(start)
		if strings.Contains(string(body), "\nprobe_success 1\n") {
			ok.Add(1)
		}
		mu.Lock()
		latencies = append(latencies, d)
		mu.Unlock()
	}
	cpu0 := procCPU(b, cmd.Process.Pid)
	start := time.Now()
	var wg sync.WaitGroup
	switch load {
	case "schedule":
		gap := benchInterval / time.Duration(len(targets))
		for i := 0; i < benchRounds*len(targets); i++ {
			time.Sleep(time.Until(start.Add(time.Duration(i) * gap)))
			wg.Go(func() { probe(targets[i%len(targets)]) })
		}
	case "max":
		var next atomic.Int64
		stop := start.Add(benchMaxFor)
		for range benchMaxWorkers {
			wg.Go(func() {
				for time.Now().Before(stop) {
					probe(targets[int(next.Add(1))%len(targets)])
				}
			})
		}
	}
	wg.Wait()
	f := benchFigures{wall: time.Since(start), cpu: procCPU(b, cmd.Process.Pid) - cpu0, ok: int(ok.Load())}
	f.rssKB, f.hwmKB = procMem(b, cmd.Process.Pid)
	slices.Sort(latencies)
	f.probes = len(latencies)
	if n := len(latencies); n > 0 {
		f.p50, f.p99, f.max = latencies[n/2], latencies[n*99/100], latencies[n-1]
	}
	return f
}

// procCPU is the user and system time of a process so far.
func procCPU(b *testing.B, pid int) time.Duration {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	// The fields after the command name (in parentheses); utime and stime
	// are the 14th and 15th fields of the line, in clock ticks (100/s).
	fields := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+2:]))
	ut, _ := strconv.Atoi(fields[11])
	st, _ := strconv.Atoi(fields[12])
	return time.Duration(ut+st) * 10 * time.Millisecond
}

// procMem is a process's resident set now and at its peak, in KiB.
func procMem(b *testing.B, pid int) (rss, hwm int) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		k, v, _ := strings.Cut(line, ":")
		n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
		switch k {
		case "VmRSS":
			rss = n
		case "VmHWM":
			hwm = n
		}
	}
	return rss, hwm
}
