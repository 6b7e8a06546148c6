package trace

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"sync"
	"syscall"
	"time"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"

	"github.com/netkit/netkit/diag/ping"
)

// MTU limits and defaults.
const (
	// MinMTU is the smallest path MTU looked for: IPv4's 68 would take
	// longer to search for nothing anyone runs; 576 is the smallest every
	// IPv4 host must take, and IPv6 links have at least 1280.
	MinMTU = 576
	// DefaultMTUTimeout is how long one round of MTU probes waits.
	DefaultMTUTimeout = 500 * time.Millisecond
	// mtuRounds bounds the rounds of probes: each narrows the range between
	// the largest size answered and the smallest lost by 1/(mtuSpread+1).
	mtuRounds = 6
	// mtuSpread is how many sizes one round tries at once.
	mtuSpread = 15
)

// MTUOptions are the inputs of PathMTU.
type MTUOptions struct {
	// Addr is the destination.
	Addr netip.Addr
	// Timeout is how long each round of probes waits for answers; 0 means
	// DefaultMTUTimeout.
	Timeout time.Duration
}

// MTUResult is the path MTU to a destination and how it was found.
type MTUResult struct {
	Addr netip.Addr `json:"address"`
	// LocalMTU is the MTU of the route out of this machine (what it will
	// send), PathMTU the largest packet, IP header included, that got an
	// answer from the destination with "don't fragment" set.
	LocalMTU int `json:"local_mtu"`
	PathMTU  int `json:"path_mtu"`
	// Reported lists the "fragmentation needed" (ICMPv6 "packet too big")
	// messages heard: who said which MTU.
	Reported []MTUReport `json:"reported,omitempty"`
	// BlackHole reports that packets larger than PathMTU vanish and no
	// router said so: an MTU black hole.
	BlackHole bool `json:"black_hole"`
	// NoAnswer reports that not even a MinMTU packet was answered: the
	// destination does not answer ICMP echo, and nothing is known.
	NoAnswer bool `json:"no_answer,omitempty"`
}

// MTUReport is one router's "fragmentation needed".
type MTUReport struct {
	From netip.Addr `json:"from"`
	MTU  int        `json:"mtu"`
}

// MTUBlackHoleError is a path whose large packets vanish without a word:
// explain.Error says what that means.
type MTUBlackHoleError struct {
	Result *MTUResult
}

func (e *MTUBlackHoleError) Error() string {
	return fmt.Sprintf("packets over %d bytes are dropped between here and %s, and no router says so: an MTU black hole", e.Result.PathMTU, e.Result.Addr)
}

// PathMTU finds the path MTU to o.Addr as tracepath would, with ICMP echo
// requests of several sizes at once, "don't fragment" set: the largest
// answered is the path MTU. A "fragmentation needed" from a router gives
// the size to try; sizes that vanish without one are a black hole. It
// needs a raw ICMP socket (*PermissionError without one) and takes a few
// rounds of o.Timeout.
func PathMTU(ctx context.Context, o MTUOptions) (*MTUResult, error) {
	o.Timeout = cmp.Or(o.Timeout, DefaultMTUTimeout)
	dst := o.Addr.Unmap()
	local, err := routeMTU(dst)
	if err != nil {
		return nil, err
	}
	l, err := ping.Listen(dst.Is6(), true)
	if err != nil {
		if errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EACCES) {
			return nil, &PermissionError{Err: err}
		}
		return nil, fmt.Errorf("ICMP listener: %w", err)
	}
	defer l.Close()
	if err := l.SetProbeMTU(); err != nil {
		return nil, fmt.Errorf("ICMP listener: %w", err)
	}
	m := &mtuSearch{l: l, dst: dst, id: uint16(rand.N(1 << 16)), sizes: map[int]int{}, answered: map[int]bool{}}
	l.Subscribe(icmpProto(dst), dst, m.id, m.heard)
	res := &MTUResult{Addr: dst, LocalMTU: local}
	lo, hi := 0, local // the largest size answered, the smallest known not to pass is above hi
	try := append([]int{local}, plateaus(MinMTU, local)...)
	for range mtuRounds {
		if len(try) == 0 || ctx.Err() != nil {
			break
		}
		got, reports := m.round(ctx, try, o.Timeout)
		for _, r := range reports {
			if !slices.Contains(res.Reported, r) {
				res.Reported = append(res.Reported, r)
			}
			hi = min(hi, r.MTU)
		}
		for _, s := range try {
			if got[s] {
				lo = max(lo, s)
			}
		}
		for _, s := range try {
			if !got[s] && s > lo && s <= hi {
				hi = s - 1 // lost: the path takes less
			}
		}
		if lo >= hi {
			break
		}
		try = spread(lo+1, hi)
		if lo == 0 {
			try = plateaus(MinMTU, hi)
		}
	}
	res.PathMTU = lo
	res.NoAnswer = lo == 0
	res.BlackHole = lo > 0 && lo < local && !slices.ContainsFunc(res.Reported, func(r MTUReport) bool { return r.MTU <= lo })
	return res, nil
}

// routeMTU is the MTU of the route to dst: IP_MTU of a UDP socket connected
// there (nothing is sent).
func routeMTU(dst netip.Addr) (int, error) {
	c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(dst, 9)))
	if err != nil {
		return 0, err
	}
	defer c.Close()
	rc, err := c.SyscallConn()
	if err != nil {
		return 0, err
	}
	var mtu int
	var serr error
	err = rc.Control(func(fd uintptr) {
		if dst.Is6() {
			mtu, serr = unix.GetsockoptInt(int(fd), unix.IPPROTO_IPV6, unix.IPV6_MTU)
		} else {
			mtu, serr = unix.GetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_MTU)
		}
	})
	return mtu, cmp.Or(err, serr)
}

// plateaus are the common MTUs of RFC 1191 (and IPv6's 1280) from lo to hi.
func plateaus(lo, hi int) []int {
	var out []int
	for _, p := range []int{9000, 4352, 2002, 1500, 1492, 1480, 1460, 1400, 1300, 1280, 1006, 576} {
		if p >= lo && p <= hi {
			out = append(out, p)
		}
	}
	return out
}

// spread is up to mtuSpread sizes evenly from lo to hi, both included.
func spread(lo, hi int) []int {
	if hi-lo+1 <= mtuSpread {
		out := make([]int, 0, hi-lo+1)
		for s := lo; s <= hi; s++ {
			out = append(out, s)
		}
		return out
	}
	out := make([]int, mtuSpread)
	for i := range out {
		out[i] = lo + (hi-lo)*i/(mtuSpread-1)
	}
	return out
}

// mtuSearch is the state of PathMTU's probes.
type mtuSearch struct {
	l   *ping.Listener
	dst netip.Addr
	id  uint16

	mu       sync.Mutex
	seq      int
	sizes    map[int]int // sequence -> packet size
	answered map[int]bool
	reports  []MTUReport
}

// round sends a probe of each size and waits timeout (or until all are
// answered) for the answers: which sizes were answered, and the MTUs
// routers reported.
func (m *mtuSearch) round(ctx context.Context, sizes []int, timeout time.Duration) (map[int]bool, []MTUReport) {
	m.mu.Lock()
	m.answered, m.reports = map[int]bool{}, nil
	m.mu.Unlock()
	for _, size := range sizes {
		m.mu.Lock()
		m.seq++
		seq := m.seq & 0xffff
		m.sizes[seq] = size
		m.mu.Unlock()
		m.send(seq, size)
	}
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		m.mu.Lock()
		n := len(m.answered)
		m.mu.Unlock()
		if n == len(sizes) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.answered, m.reports
}

// send sends an echo request of size bytes in all, IP header included.
func (m *mtuSearch) send(seq, size int) {
	hdr, typ := 20+8, icmp.Type(ipv4.ICMPTypeEcho)
	if m.dst.Is6() {
		hdr, typ = 40+8, ipv6.ICMPTypeEchoRequest
	}
	b, _ := (&icmp.Message{Type: typ, Body: &icmp.Echo{ID: int(m.id), Seq: seq, Data: make([]byte, max(size-hdr, 0))}}).Marshal(nil)
	m.l.WriteTo(b, m.dst, 64) // a size the route refuses is an answer not had
}

// heard is the listener's hook: an echo reply or a "fragmentation needed"
// about a probe.
func (m *mtuSearch) heard(msg ping.Message) {
	m.mu.Lock()
	defer m.mu.Unlock()
	size, ok := m.sizes[int(msg.Seq)]
	if !ok {
		return
	}
	switch {
	case msg.Err == nil:
		m.answered[size] = true
	case msg.Err.Kind == ping.KindFragNeeded && msg.Err.MTU > 0:
		m.reports = append(m.reports, MTUReport{From: msg.Err.From, MTU: msg.Err.MTU})
	}
}
