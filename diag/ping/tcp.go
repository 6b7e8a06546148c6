package ping

import (
	"cmp"
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/netkit/netkit/units"
)

// TCPOptions are the options of TCP; the zero value is usable.
type TCPOptions struct {
	// Timeout bounds the connection attempt; 0 means DefaultTimeout.
	Timeout time.Duration
	// TTL, when not 0, is the TTL (IPv6 hop limit) of the SYN; 0 keeps the
	// system default.
	TTL int
}

// TCPProbe is the answer to one TCP connection attempt.
type TCPProbe struct {
	State PortState `json:"state"`
	// RTTMs is the connect time in milliseconds: until the SYN-ACK or RST.
	RTTMs float64 `json:"rtt_ms"`
	// Refusal is the dial's error for PortClosed (ECONNREFUSED, with the
	// address), for explain.Error; nil for PortOpen.
	Refusal error `json:"-"`
}

// TCP makes one TCP connection attempt to addr and says what answered:
// a SYN-ACK (PortOpen; the connection is closed at once) or a RST
// (PortClosed): either way the host is up. Anything else, a timeout (a
// firewall dropping the SYN), no route or an ICMP error, is returned as the
// dial's *net.OpError, which explain.Error knows.
func TCP(ctx context.Context, addr netip.AddrPort, o TCPOptions) (TCPProbe, error) {
	d := net.Dialer{Timeout: cmp.Or(o.Timeout, DefaultTimeout)}
	if o.TTL != 0 {
		d.Control = TTLControl(o.TTL)
	}
	start := time.Now()
	c, err := d.DialContext(ctx, "tcp", addr.String())
	rtt := units.Millis(time.Since(start))
	switch {
	case err == nil:
		c.Close()
		return TCPProbe{State: PortOpen, RTTMs: rtt}, nil
	case errors.Is(err, syscall.ECONNREFUSED):
		return TCPProbe{State: PortClosed, RTTMs: rtt, Refusal: err}, nil
	}
	return TCPProbe{}, err
}

// TTLControl returns a net.Dialer Control function that sets the TTL (hop
// limit) of the socket before it connects.
func TTLControl(ttl int) func(network, address string, c syscall.RawConn) error {
	return func(network, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			if network == "tcp6" {
				serr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_IPV6, syscall.IPV6_UNICAST_HOPS, ttl)
			} else {
				serr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_IP, syscall.IP_TTL, ttl)
			}
		})
		if serr != nil {
			return os.NewSyscallError("setsockopt", serr)
		}
		return err
	}
}

// runTCP sends one TCP per interval, each on its own goroutine so that a
// slow answer does not hold back the next probe, and waits for all of them.
func (r *targetRun) runTCP(ctx context.Context) error {
	o, s := r.o, r.stats
	addr := netip.AddrPortFrom(s.Addr, uint16(o.TCPPort))
	topts := TCPOptions{Timeout: o.Timeout, TTL: o.TTL}
	tick := time.NewTicker(o.Interval)
	defer tick.Stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	for seq := 1; r.count == 0 || seq <= r.count; seq++ {
		if seq > 1 {
			select {
			case <-ctx.Done():
				return nil
			case <-tick.C:
			}
		}
		r.mu.Lock()
		r.tally.sent++
		r.mu.Unlock()
		wg.Go(func() {
			res, err := TCP(ctx, addr, topts)
			if err != nil && ctx.Err() != nil {
				return // the run ended (Ctrl-C, deadline): not an answer
			}
			r.mu.Lock()
			defer r.mu.Unlock()
			r.tcpAnswer(seq, res, err)
		})
	}
	return nil
}

// tcpAnswer records what became of TCP probe seq. The caller holds r.mu.
func (r *targetRun) tcpAnswer(seq int, res TCPProbe, err error) {
	ev := Probe{Seq: seq, Port: r.o.TCPPort}
	var ne net.Error
	switch {
	case err == nil:
		r.tally.reply(res.RTTMs)
		if res.State == PortOpen {
			r.tally.open++
		} else {
			r.tally.closed++
		}
		ev.Kind, ev.RTTMs, ev.PortState = ProbeReply, res.RTTMs, res.State
	case errors.As(err, &ne) && ne.Timeout():
		ev.Kind = ProbeTimeout
	default:
		r.tally.errors++
		ev.Kind, ev.Error = ProbeError, err.Error()
	}
	r.emit(ev)
}
