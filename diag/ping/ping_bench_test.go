package ping

import (
	"context"
	"net/netip"
	"os/exec"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/netkit/netkit/internal/testenv"
)

// BenchmarkPingRTT measures the loopback RTT netkit reports (20 probes 5 ms
// apart per iteration) and, in the same iteration, the RTT iputils ping
// reports for the same probes, so that both see the same load. netkit's
// run from the kernel's send time (see sendTap); iputils' from the time it
// puts in the probe, so they include its send path.
func BenchmarkPingRTT(b *testing.B) {
	if !rawICMPAllowed() {
		b.Skip("needs root or CAP_NET_RAW")
	}
	o := Options{Targets: []Target{{Host: "127.0.0.1"}}, Count: 20, Interval: 5 * time.Millisecond}
	var sum, ref float64
	for b.Loop() {
		stats, err := Run(context.Background(), o)
		if err != nil || stats[0].Received != 20 {
			b.Fatalf("%v, %+v", err, stats)
		}
		sum += stats[0].AvgMs
		ref += runIputils(b, "-q", "-c", "20", "-i", "0.005", "127.0.0.1").avg
	}
	b.ReportMetric(sum/float64(b.N), "rtt-ms")
	b.ReportMetric(ref/float64(b.N), "iputils-rtt-ms")
	b.ReportMetric(sum/ref, "rtt-ratio")
}

// BenchmarkPingHosts measures one run of 3 probes 200 ms apart to 1 and to
// 200 loopback addresses: concurrent targets take about the time of one.
func BenchmarkPingHosts(b *testing.B) {
	if !rawICMPAllowed() {
		b.Skip("needs root or CAP_NET_RAW")
	}
	for _, n := range []int{1, 200} {
		targets := make([]Target, n)
		for i := range targets {
			targets[i].Host = "127.0.0." + strconv.Itoa(i+1)
		}
		b.Run("hosts="+strconv.Itoa(n), func(b *testing.B) {
			for b.Loop() {
				stats, err := Run(context.Background(), Options{Targets: targets, Count: 3, Interval: 200 * time.Millisecond})
				if err != nil {
					b.Fatal(err)
				}
				for _, s := range stats {
					if s.Received != 3 {
						b.Errorf("%s: %d of 3 replies", s.Host, s.Received)
					}
				}
			}
		})
	}
}

// BenchmarkPingRTTHosts compares, in each iteration, the mean per-host RTT
// netkit reports for 200 and 1,000 loopback addresses (3 probes 200 ms
// apart) with fping's for the same addresses and probes, and checks that
// no reply is lost. fping's per-host lines give its averages.
func BenchmarkPingRTTHosts(b *testing.B) {
	if !rawICMPAllowed() {
		b.Skip("needs root or CAP_NET_RAW")
	}
	fping := testenv.NeedTool(b, "fping")
	for _, n := range []int{200, 1000} {
		b.Run("hosts="+strconv.Itoa(n), func(b *testing.B) {
			targets := make([]Target, n)
			for i := range targets {
				targets[i].Addr = netip.AddrFrom4([4]byte{127, 0, byte((i + 1) / 256), byte((i + 1) % 256)})
				targets[i].Host = targets[i].Addr.String()
			}
			var sum, ref float64
			for b.Loop() {
				stats, err := Run(context.Background(), Options{Targets: targets, Count: 3, Interval: 200 * time.Millisecond})
				if err != nil {
					b.Fatal(err)
				}
				for _, s := range stats {
					if s.Received != 3 {
						b.Errorf("%s: %d of 3 replies", s.Host, s.Received)
						continue
					}
					sum += s.AvgMs / float64(n)
				}
				ref += fpingMean(b, fping, targets[0].Host, targets[n-1].Host, n)
			}
			b.ReportMetric(sum/float64(b.N), "rtt-ms")
			b.ReportMetric(ref/float64(b.N), "fping-rtt-ms")
			b.ReportMetric(sum/ref, "rtt-ratio")
		})
	}
}

// fpingAvg reads fping's per-host summary: "127.0.0.1 : xmt/rcv/%loss =
// 3/3/0%, min/avg/max = 0.010/0.020/0.030".
var fpingAvg = regexp.MustCompile(`(?m)^\S+\s+: xmt/rcv/%loss = 3/3/0%, min/avg/max = [\d.]+/([\d.]+)/[\d.]+$`)

// fpingMean runs fping (the path) -c 3 -p 200 over the addresses
// first..last (n of them) and returns the mean of its per-host average RTTs.
// -i 1 sends a probe every millisecond (fping's default 10 ms takes 30 s for
// 1,000 hosts), about as often as netkit does with MaxConcurrentTargets.
func fpingMean(b *testing.B, fping, first, last string, n int) float64 {
	out, err := exec.Command(fping, "-q", "-c", "3", "-p", "200", "-i", "1", "-g", first, last).CombinedOutput()
	if err != nil {
		b.Fatalf("fping: %v\n%s", err, out)
	}
	ms := fpingAvg.FindAllStringSubmatch(string(out), -1)
	if len(ms) != n {
		b.Fatalf("fping: %d hosts answered all 3, want %d", len(ms), n)
	}
	var mean float64
	for _, m := range ms {
		v, _ := strconv.ParseFloat(m[1], 64)
		mean += v / float64(n)
	}
	return mean
}
