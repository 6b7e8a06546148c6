package ping

import (
	"context"
	"strconv"
	"testing"
	"time"
)

// BenchmarkPingRTT measures the loopback RTT netkit reports (20 probes 5 ms
// apart per iteration) and, in the same run, the RTT iputils ping reports
// for the same probes: the difference is what pro-bing's receive loop adds
// (a channel hop and a goroutine switch per reply).
func BenchmarkPingRTT(b *testing.B) {
	if !rawICMPAllowed() {
		b.Skip("needs root or CAP_NET_RAW")
	}
	o := Options{Targets: []Target{{Host: "127.0.0.1"}}, Count: 20, Interval: 5 * time.Millisecond}
	var sum float64
	for b.Loop() {
		stats, err := Run(context.Background(), o)
		if err != nil || stats[0].Received != 20 {
			b.Fatalf("%v, %+v", err, stats)
		}
		sum += stats[0].AvgMs
	}
	avg := sum / float64(b.N)
	ref := runIputils(b, "-q", "-c", "20", "-i", "0.005", "127.0.0.1")
	b.ReportMetric(avg, "rtt-ms")
	b.ReportMetric(ref.avg, "iputils-rtt-ms")
	b.ReportMetric(avg/ref.avg, "rtt-ratio")
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
