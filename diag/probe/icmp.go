package probe

import (
	"context"
	"net/netip"
	"sync"
	"time"

	"github.com/netkit/netkit/diag/ping"
)

// icmp is blackbox_exporter's icmp prober: one echo request to every
// address at once, through diag/ping.
func (r *run) icmp(ctx context.Context) error {
	start := time.Now()
	ok, err := r.resolve(ctx)
	r.add("probe_icmp_duration_seconds", time.Since(start).Seconds(), Label{"phase", "resolve"})
	if !ok {
		r.add("probe_icmp_duration_seconds", 0, Label{"phase", "setup"})
		r.add("probe_icmp_duration_seconds", 0, Label{"phase", "rtt"})
		return err
	}
	targets := make([]ping.Target, len(r.addrs))
	for i, a := range r.addrs {
		targets[i] = ping.Target{Host: a.String(), Addr: a}
	}
	var mu sync.Mutex
	setupStart := time.Now()
	var setup time.Duration
	var reply *ping.Probe
	primary := r.res.Primary
	stats, err := ping.Run(ctx, ping.Options{
		Targets: targets, Count: 1, Timeout: remaining(ctx),
		Size: r.m.ICMP.PayloadSize, TTL: r.m.ICMP.TTL, DontFragment: r.m.ICMP.DontFragment,
		OnStart: func(s ping.Start) {
			if s.Addr == primary {
				mu.Lock()
				setup = time.Since(setupStart)
				mu.Unlock()
			}
		},
		OnProbe: func(p ping.Probe) {
			if p.Addr == primary && p.Kind == ping.ProbeReply {
				mu.Lock()
				reply = &p
				mu.Unlock()
			}
		},
	})
	mu.Lock()
	defer mu.Unlock()
	r.add("probe_icmp_duration_seconds", setup.Seconds(), Label{"phase", "setup"})
	rtt := 0.0
	if reply != nil {
		rtt = reply.RTTMs / 1000
	}
	r.add("probe_icmp_duration_seconds", rtt, Label{"phase", "rtt"})
	if reply != nil && reply.TTL > 0 {
		r.add("probe_icmp_reply_hop_limit", float64(reply.TTL))
	}
	if err != nil { // no ICMP socket at all, or options ping refuses
		r.fail("icmp", err)
		return nil
	}
	byAddr := map[netip.Addr]ping.Stats{}
	for _, s := range stats {
		byAddr[s.Addr] = s
	}
	perr := r.eachAddress(ctx, "icmp", func(_ context.Context, a netip.Addr) (string, error) {
		s := byAddr[a]
		switch {
		case s.Received > 0:
			return "", nil
		case s.Err != nil:
			return "", s.Err
		case s.FirstErr != nil: // the request could not be sent
			return "", s.FirstErr
		default:
			return "", &ping.NoReplyError{Host: a.String()}
		}
	})
	r.res.Success = perr == nil
	return nil
}
