package ping

import (
	"cmp"
	"context"
	"errors"
	"fmt"
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
	// Listener, when not nil, hears the ICMP error that may end the
	// connect (a *ConnectError then says which, and who sent it). It must
	// be of the address's family.
	Listener *Listener
	// Source, when valid, is the local address to connect from; Interface,
	// when not empty, the interface to connect by (SO_BINDTODEVICE).
	Source    netip.Addr
	Interface string
}

// quoteWait is how long a failed connect waits for the Listener to hand
// over the ICMP message that ended it: the raw socket gets its copy before
// TCP does, but the listener's goroutine may not have read it yet. A
// refusal waits for it too (an ICMP port unreachable is a refusal), which
// slows a probe's end, not its RTT.
const quoteWait = 50 * time.Millisecond

// ConnectError is a TCP connect that an ICMP error ended: Linux turns
// several kinds of ICMP errors into the same errno (EHOSTUNREACH for a
// router's "host unreachable", a firewall's "administratively prohibited"
// and an expired TTL alike); ICMP says which it was and who sent it.
type ConnectError struct {
	// Err is the dial's error.
	Err error
	// ICMP is the message that ended the connect.
	ICMP *ICMPError
}

func (e *ConnectError) Error() string {
	return fmt.Sprintf("%v (%s answered: %s)", e.Err, e.ICMP.Who(), e.ICMP.Text)
}

// Unwrap returns the ICMP error, then the dial's, for errors.As and
// errors.Is.
func (e *ConnectError) Unwrap() []error { return []error{e.ICMP, e.Err} }

// WatchControl returns a net.Dialer Control function that sets the TTL
// (when ttl is not 0), binds the socket to an ephemeral port of src (when
// valid, else of any address) before it connects, and subscribes f on l to
// the ICMP errors that quote segments from that port to dst. The
// subscription's cancel is stored in *cancel; the caller calls it when the
// connect is over. The Dialer must have no LocalAddr.
func WatchControl(l *Listener, src, dst netip.Addr, ttl int, f func(Message), cancel *func()) func(network, address string, c syscall.RawConn) error {
	return func(network, address string, c syscall.RawConn) error {
		if ttl != 0 {
			if err := TTLControl(ttl)(network, address, c); err != nil {
				return err
			}
		}
		var port int
		var serr error
		err := c.Control(func(fd uintptr) {
			var sa syscall.Sockaddr
			if network == "tcp6" {
				a := &syscall.SockaddrInet6{}
				if src.IsValid() {
					a.Addr = src.As16()
				}
				sa = a
			} else {
				a := &syscall.SockaddrInet4{}
				if src.IsValid() {
					a.Addr = src.Unmap().As4()
				}
				sa = a
			}
			if serr = syscall.Bind(int(fd), sa); serr != nil {
				return
			}
			var got syscall.Sockaddr
			if got, serr = syscall.Getsockname(int(fd)); serr == nil {
				switch a := got.(type) {
				case *syscall.SockaddrInet4:
					port = a.Port
				case *syscall.SockaddrInet6:
					port = a.Port
				}
			}
		})
		if err != nil {
			return err
		}
		if serr != nil {
			return os.NewSyscallError("bind", serr)
		}
		*cancel = l.Subscribe(ProtoTCP, dst, uint16(port), f)
		return nil
	}
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
//
// With o.Listener, an ICMP error that ends the connect (an ICMP port
// unreachable too, which Linux reports as a refusal) is returned as a
// *ConnectError naming it and its sender; a reset remains PortClosed.
func TCP(ctx context.Context, addr netip.AddrPort, o TCPOptions) (TCPProbe, error) {
	d := net.Dialer{Timeout: cmp.Or(o.Timeout, DefaultTimeout)}
	heard := make(chan Message, 1)
	cancel := func() {}
	switch {
	case o.Listener != nil:
		d.Control = WatchControl(o.Listener, o.Source, addr.Addr(), o.TTL, func(m Message) {
			select {
			case heard <- m:
			default:
			}
		}, &cancel)
	case o.TTL != 0:
		d.Control = TTLControl(o.TTL)
	}
	if o.Source.IsValid() && o.Listener == nil {
		d.LocalAddr = net.TCPAddrFromAddrPort(netip.AddrPortFrom(o.Source, 0))
	}
	if o.Interface != "" {
		inner := d.Control
		d.Control = func(network, address string, c syscall.RawConn) error {
			var serr error
			if err := c.Control(func(fd uintptr) { serr = syscall.BindToDevice(int(fd), o.Interface) }); err != nil {
				return err
			}
			if serr != nil {
				return os.NewSyscallError("setsockopt SO_BINDTODEVICE", serr)
			}
			if inner != nil {
				return inner(network, address, c)
			}
			return nil
		}
	}
	defer func() { cancel() }()
	start := time.Now()
	c, err := d.DialContext(ctx, "tcp", addr.String())
	rtt := units.Millis(time.Since(start))
	if err == nil {
		c.Close()
		return TCPProbe{State: PortOpen, RTTMs: rtt}, nil
	}
	if o.Listener != nil && !errors.Is(err, os.ErrDeadlineExceeded) && ctx.Err() == nil {
		select {
		case m := <-heard:
			if m.Err != nil {
				return TCPProbe{}, &ConnectError{Err: err, ICMP: m.Err}
			}
		case <-time.After(quoteWait):
		}
	}
	if errors.Is(err, syscall.ECONNREFUSED) {
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
	topts := TCPOptions{Timeout: o.Timeout, TTL: o.TTL, Listener: o.listeners[s.Addr.Is6()], Source: o.Source, Interface: o.Interface}
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
	var ce *ConnectError
	switch {
	case errors.As(err, &ce):
		r.tally.errors++
		if r.tally.icmp == nil {
			r.tally.icmp = ce.ICMP
		}
		ev.Kind, ev.Error, ev.From, ev.ICMP = ProbeError, err.Error(), ce.ICMP.From, ce.ICMP
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
		r.tally.firstErr = cmp.Or(r.tally.firstErr, err)
		ev.Kind, ev.Error = ProbeError, err.Error()
	}
	r.emit(ev)
}
