// Package trace finds the routers on the path to a host, as traceroute and
// mtr do: it sends probes with growing TTLs (IPv6 hop limits) and listens,
// on a raw ICMP socket (package ping's Listener), for the router that says
// "time exceeded" at each hop, until the destination answers, an
// unreachable stops the way, or the hop limit is reached. Probes are ICMP
// echo requests, UDP datagrams to traceroute's ports, or TCP connection
// attempts to one port. Run measures every hop Count times and returns
// mtr-style statistics per hop.
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

	"github.com/netkit/netkit/diag/ping"
	"github.com/netkit/netkit/resolve"
	"github.com/netkit/netkit/units"
)

// Method is the kind of probe.
type Method string

// Methods of Options.Method.
const (
	// MethodICMP sends ICMP echo requests (traceroute -I, mtr's default).
	MethodICMP Method = "icmp"
	// MethodUDP sends UDP datagrams to ports from Options.Port up, one per
	// probe (traceroute's default); the destination answers "port
	// unreachable".
	MethodUDP Method = "udp"
	// MethodTCP connects to Options.Port with each TTL (traceroute -T);
	// the destination answers with a SYN-ACK (the connection is closed at
	// once) or a reset.
	MethodTCP Method = "tcp"
)

// Defaults and limits of Options.
const (
	DefaultCount    = 3
	DefaultMaxHops  = 30
	DefaultTimeout  = 2 * time.Second
	DefaultInterval = time.Second
	// DefaultUDPPort is traceroute's first UDP port.
	DefaultUDPPort = 33434
	// MaxHopsLimit is the largest TTL.
	MaxHopsLimit = 255
	// MaxCount bounds the probes per hop.
	MaxCount = 1000
	// MinInterval is the shortest time between rounds.
	MinInterval = 10 * time.Millisecond
	// sendGap paces the probes of one round, so that a router's ICMP rate
	// limit does not turn a burst of probes into silence, and so that the
	// first round stops soon after the destination answers.
	sendGap = 5 * time.Millisecond
	// quoteWait is how long a failed TCP connect waits for the listener to
	// hand over the ICMP message that ended it.
	quoteWait = 50 * time.Millisecond
	// payloadSize makes 60-byte IPv4 probes, as traceroute's.
	payloadSize = 32
)

// Options are the inputs of Run. Only Host (or Addr) is required; with
// MethodTCP, Port too.
type Options struct {
	// Host is a host name or IP literal; it names the target when Addr is
	// valid.
	Host string
	// Addr, when valid, is traced as is.
	Addr netip.Addr
	// Resolver looks Host up; nil means resolve.Default().
	Resolver *resolve.Resolver
	// Family restricts the address used.
	Family resolve.Family
	// Method is the kind of probe; "" means MethodICMP.
	Method Method
	// Port is the TCP port of MethodTCP, or the first UDP port of
	// MethodUDP (0 means DefaultUDPPort).
	Port int
	// Count is the number of probes per hop; 0 means DefaultCount.
	Count int
	// MaxHops is the largest TTL tried; 0 means DefaultMaxHops.
	MaxHops int
	// Timeout is how long a probe waits for its answer; 0 means
	// DefaultTimeout.
	Timeout time.Duration
	// Interval is the time between two rounds (one probe to every hop); 0
	// means DefaultInterval.
	Interval time.Duration
	// Names looks up the name of every address that answered, as
	// traceroute and mtr do: through Resolver (the hosts file, then PTR records, as
	// nsswitch.conf orders them), once the trace is over, within
	// resolve.NameTimeout in all.
	Names bool
	// OnProbe, if not nil, is called with every answer and timeout, one
	// call at a time, from the listener's, a timer's or a connect's
	// goroutine. Probes to hops past the end are reported too when they
	// were sent before the end was known; Result leaves them out.
	OnProbe func(Probe)
	// OnUpdate, if not nil, is called after OnProbe with the result so far
	// (a copy), from the same goroutine: what a live table shows. Keep it
	// fast: answers wait while it runs.
	OnUpdate func(*Result)
}

// Answer is what a probe got back.
type Answer string

// Answers of a probe.
const (
	// AnswerTimeExceeded: a router on the way, the hop of the probe's TTL.
	AnswerTimeExceeded Answer = "time-exceeded"
	// AnswerEchoReply, AnswerOpen, AnswerClosed and AnswerPortUnreachable
	// (from the destination): the destination answered.
	AnswerEchoReply       Answer = "echo-reply"
	AnswerOpen            Answer = "open"
	AnswerClosed          Answer = "closed"
	AnswerPortUnreachable Answer = "port-unreachable"
	// AnswerUnreachable: an ICMP error other than the above, from a router
	// or the destination: the way ends there.
	AnswerUnreachable Answer = "unreachable"
	// AnswerNone: no answer within the timeout.
	AnswerNone Answer = "none"
)

// Probe is one probe and what became of it.
type Probe struct {
	Hop   int `json:"hop"`
	Round int `json:"round"`
	// Answer is what came back, AnswerNone for a timeout.
	Answer Answer `json:"answer"`
	// From is who answered.
	From  netip.Addr `json:"from,omitzero"`
	RTTMs float64    `json:"rtt_ms,omitempty"`
	// ICMP is the ICMP error that answered, nil for other answers.
	ICMP *ping.ICMPError `json:"icmp,omitempty"`
}

// Hop is the statistics of one TTL, as mtr --report shows them.
type Hop struct {
	Hop int `json:"hop"`
	// Addrs are the addresses that answered, in the order they first did:
	// more than one when the path splits (ECMP) or changes.
	Addrs    []netip.Addr `json:"addresses"`
	Sent     int          `json:"sent"`
	Received int          `json:"received"`
	LossPct  float64      `json:"loss_pct"`
	// RTT is nil (its fields left out) for a hop that never answered.
	*RTT
	// Silent counts the hops this line stands for: 1, or, for the last
	// line of a trace that ran out of hops, every hop from this one on that
	// never answered.
	Silent int `json:"silent_hops,omitempty"`
	// Names are the names of Addrs, in their order (the address itself
	// where none was found), with Options.Names.
	Names []string `json:"names,omitempty"`

	rtts units.Spread
	last float64 // the last answer's RTT
}

// RTT is the round-trip times of a hop's answers, in milliseconds;
// StdevMs is the population standard deviation.
type RTT struct {
	LastMs  float64 `json:"rtt_last_ms"`
	AvgMs   float64 `json:"rtt_avg_ms"`
	BestMs  float64 `json:"rtt_best_ms"`
	WorstMs float64 `json:"rtt_worst_ms"`
	StdevMs float64 `json:"rtt_stdev_ms"`
}

// StopReason says why a trace ended.
type StopReason string

// Stop reasons.
const (
	// StopReached: the destination answered.
	StopReached StopReason = "reached"
	// StopUnreachable: an ICMP unreachable (Stop.ICMP) ended the way.
	StopUnreachable StopReason = "unreachable"
	// StopMaxHops: nothing answered from the destination within MaxHops.
	StopMaxHops StopReason = "max-hops"
	// StopInterrupted: ctx ended first.
	StopInterrupted StopReason = "interrupted"
)

// Stop is what ended a trace.
type Stop struct {
	Reason StopReason `json:"reason"`
	// Hop is the hop where it ended (MaxHops for StopMaxHops).
	Hop int `json:"hop"`
	// ICMP is the unreachable of StopUnreachable.
	ICMP *ping.ICMPError `json:"icmp,omitempty"`
}

// Result is a finished trace.
type Result struct {
	Host    string     `json:"host"`
	Addr    netip.Addr `json:"address"`
	Method  Method     `json:"method"`
	Port    int        `json:"port,omitempty"`
	Count   int        `json:"count"`
	MaxHops int        `json:"max_hops"`
	Hops    []Hop      `json:"hops"`
	Stop    Stop       `json:"stop"`
	TimeMs  float64    `json:"time_ms"`
	// MTU is the path MTU, when PathMTU measured it (trace --mtu).
	MTU *MTUResult `json:"mtu,omitempty"`
}

// LastAnswered is the last hop that answered, nil when none did.
func (r *Result) LastAnswered() *Hop {
	for i := len(r.Hops) - 1; i >= 0; i-- {
		if r.Hops[i].Received > 0 {
			return &r.Hops[i]
		}
	}
	return nil
}

// PermissionError reports that this process may not open the raw ICMP
// socket a trace listens on.
type PermissionError struct {
	Err error
}

func (e *PermissionError) Error() string {
	return fmt.Sprintf("trace needs a raw ICMP socket to hear routers (root or CAP_NET_RAW): %v", e.Err)
}

func (e *PermissionError) Unwrap() error { return e.Err }

// StopError is a trace that did not reach its destination: an unreachable
// ended it, or nothing answered from the destination within MaxHops.
// explain.Error says what that means; Unwrap gives the ICMP error of an
// unreachable.
type StopError struct {
	Result *Result
}

func (e *StopError) Error() string {
	r, s := e.Result, e.Result.Stop
	if s.Reason == StopUnreachable && s.ICMP != nil {
		return fmt.Sprintf("%s: stopped at hop %d: %s answered: %s", r.Host, s.Hop, s.ICMP.From, s.ICMP.Text)
	}
	dest := r.Addr.String()
	if r.Method == MethodTCP {
		dest = netip.AddrPortFrom(r.Addr, uint16(r.Port)).String()
	}
	msg := fmt.Sprintf("no answer from %s within %d hops", dest, r.MaxHops)
	if last := r.LastAnswered(); last != nil {
		return msg + fmt.Sprintf("; the last hop that answered is %d (%s)", last.Hop, last.Addrs[0])
	}
	return msg + "; no hop answered"
}

// Unwrap returns the ICMP error that ended the trace, nil for others.
func (e *StopError) Unwrap() error {
	if e.Result.Stop.ICMP == nil {
		return nil
	}
	return e.Result.Stop.ICMP
}

// OptionError is an option Run cannot run with.
type OptionError struct {
	Option, Value, Why string
}

func (e *OptionError) Error() string {
	return fmt.Sprintf("invalid %s %s: %s", e.Option, e.Value, e.Why)
}

// normalize fills in the defaults and checks the ranges of o.
func (o *Options) normalize() error {
	o.Method = cmp.Or(o.Method, MethodICMP)
	o.Count = cmp.Or(o.Count, DefaultCount)
	o.MaxHops = cmp.Or(o.MaxHops, DefaultMaxHops)
	o.Timeout = cmp.Or(o.Timeout, DefaultTimeout)
	o.Interval = cmp.Or(o.Interval, DefaultInterval)
	if o.Method == MethodUDP {
		o.Port = cmp.Or(o.Port, DefaultUDPPort)
	}
	switch {
	case o.Host == "" && !o.Addr.IsValid():
		return &OptionError{"Host", `""`, "nothing to trace"}
	case o.Method != MethodICMP && o.Method != MethodUDP && o.Method != MethodTCP:
		return &OptionError{"Method", string(o.Method), "want icmp, udp or tcp"}
	case o.Method == MethodTCP && (o.Port < 1 || o.Port > 65535):
		return &OptionError{"Port", fmt.Sprint(o.Port), "TCP needs a port from 1 to 65535"}
	case o.Method == MethodUDP && (o.Port < 1 || o.Port+o.Count*o.MaxHops > 65535):
		return &OptionError{"Port", fmt.Sprint(o.Port), "the UDP ports of every probe must fit below 65536"}
	case o.Count < 1 || o.Count > MaxCount:
		return &OptionError{"Count", fmt.Sprint(o.Count), fmt.Sprintf("must be from 1 to %d", MaxCount)}
	case o.MaxHops < 1 || o.MaxHops > MaxHopsLimit:
		return &OptionError{"MaxHops", fmt.Sprint(o.MaxHops), fmt.Sprintf("must be from 1 to %d", MaxHopsLimit)}
	case o.Timeout < 0:
		return &OptionError{"Timeout", o.Timeout.String(), "must be positive"}
	case o.Interval < MinInterval:
		return &OptionError{"Interval", o.Interval.String(), "must be at least " + MinInterval.String()}
	}
	return nil
}

// Run traces the path to the target. A cancelled ctx ends it early with the
// hops measured so far (Stop.Reason StopInterrupted). It fails when the
// options are wrong (*OptionError), the name does not resolve, or the raw
// socket cannot be opened (*PermissionError).
func Run(ctx context.Context, o Options) (*Result, error) {
	if err := o.normalize(); err != nil {
		return nil, err
	}
	addr, err := target(ctx, &o)
	if err != nil {
		return nil, err
	}
	var l *ping.Listener
	if o.Method == MethodICMP {
		// Echo requests: their answers come with the kernel's send time.
		l, err = ping.ListenEcho(addr.Is6())
	} else {
		l, err = ping.Listen(addr.Is6(), false)
	}
	if err != nil {
		if errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EACCES) {
			return nil, &PermissionError{Err: err}
		}
		return nil, fmt.Errorf("ICMP listener: %w", err)
	}
	defer l.Close()
	t := &tracer{o: &o, dst: addr, l: l, hops: make([]Hop, o.MaxHops), end: o.MaxHops + 1, inflight: map[int]*probe{}}
	for i := range t.hops {
		t.hops[i].Hop = i + 1
	}
	start := time.Now()
	if err := t.open(); err != nil {
		return nil, err
	}
	defer t.close()
	t.run(ctx)
	res := t.result()
	res.Host = cmp.Or(o.Host, addr.String())
	if o.Names {
		addNames(ctx, cmp.Or(o.Resolver, resolve.Default()), res.Hops)
	}
	res.TimeMs = units.Millis(time.Since(start))
	if ctx.Err() != nil && res.Stop.Reason == StopMaxHops {
		res.Stop.Reason = StopInterrupted
	}
	return res, nil
}

// addNames fills each hop's Names.
func addNames(ctx context.Context, r *resolve.Resolver, hops []Hop) {
	var addrs []netip.Addr
	for _, h := range hops {
		addrs = append(addrs, h.Addrs...)
	}
	names := r.NameAddrs(ctx, addrs)
	for i := range hops {
		for _, a := range hops[i].Addrs {
			hops[i].Names = append(hops[i].Names, names[a])
		}
	}
}

// target is the address to trace: o.Addr, the literal o.Host, or the first
// address the resolver gives for the family.
func target(ctx context.Context, o *Options) (netip.Addr, error) {
	a := o.Addr
	if !a.IsValid() {
		if lit, err := netip.ParseAddr(o.Host); err == nil {
			a = lit
		}
	}
	if a.IsValid() {
		a = a.Unmap()
		if !o.Family.Contains(a) {
			return netip.Addr{}, &ping.FamilyError{Host: o.Host, Want: o.Family, Have: []netip.Addr{a}, Literal: true}
		}
		return a, nil
	}
	r := cmp.Or(o.Resolver, resolve.Default())
	addrs, err := r.LookupIP(ctx, o.Host, o.Family)
	if err != nil {
		return netip.Addr{}, err
	}
	return addrs[0].Unmap(), nil
}

// probe is one probe in flight.
type probe struct {
	hop, round int
	sent       time.Time
	timer      *time.Timer
}

// tracer is the state of one Run. mu guards everything below it.
type tracer struct {
	o   *Options
	dst netip.Addr
	l   *ping.Listener
	id  uint16       // ICMP echo identifier, or the UDP source port
	udp *net.UDPConn // MethodUDP's socket
	wg  sync.WaitGroup

	mu       sync.Mutex
	next     int            // the next probe's number
	inflight map[int]*probe // by probe number
	hops     []Hop
	end      int // the lowest hop known to end the trace; MaxHops+1 while none is
	stop     Stop
}

// open prepares the sending side: the ICMP identifier and subscription, or
// the UDP socket and its subscription. TCP probes subscribe one by one.
func (t *tracer) open() error {
	switch t.o.Method {
	case MethodICMP:
		t.id = uint16(rand.N(1 << 16))
		t.l.Subscribe(icmpProto(t.dst), t.dst, t.id, t.heard)
	case MethodUDP:
		network, laddr := "udp4", &net.UDPAddr{IP: net.IPv4zero}
		if t.dst.Is6() {
			network, laddr = "udp6", &net.UDPAddr{IP: net.IPv6unspecified}
		}
		c, err := net.ListenUDP(network, laddr)
		if err != nil {
			return err
		}
		t.udp = c
		t.id = uint16(c.LocalAddr().(*net.UDPAddr).Port)
		t.l.Subscribe(ping.ProtoUDP, t.dst, t.id, t.heard)
	}
	return nil
}

func (t *tracer) close() {
	if t.udp != nil {
		t.udp.Close()
	}
}

func icmpProto(a netip.Addr) int {
	if a.Is6() {
		return ping.ProtoICMPv6
	}
	return ping.ProtoICMP
}

// run sends Count rounds, one Interval apart, each a probe per hop up to
// the end known so far, and waits for the last probes' answers.
func (t *tracer) run(ctx context.Context) {
	defer t.wg.Wait()
	tick := time.NewTicker(t.o.Interval)
	defer tick.Stop()
	for round := range t.o.Count {
		if round > 0 {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
		for hop := 1; hop <= t.o.MaxHops; hop++ {
			t.mu.Lock()
			past := hop >= t.end+1
			t.mu.Unlock()
			if past || ctx.Err() != nil {
				break
			}
			t.send(ctx, hop, round)
			if round == 0 && hop < t.o.MaxHops {
				select {
				case <-ctx.Done():
				case <-time.After(sendGap):
				}
			}
		}
	}
	t.wait(ctx)
}

// wait returns when no probe is in flight or ctx is done.
func (t *tracer) wait(ctx context.Context) {
	for {
		t.mu.Lock()
		n := len(t.inflight)
		t.mu.Unlock()
		if n == 0 || ctx.Err() != nil {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// send sends probe number n to hop with its timeout running.
func (t *tracer) send(ctx context.Context, hop, round int) {
	t.mu.Lock()
	n := t.next
	t.next++
	p := &probe{hop: hop, round: round, sent: time.Now()}
	t.inflight[n] = p
	t.hops[hop-1].Sent++
	p.timer = time.AfterFunc(t.o.Timeout, func() { t.answer(n, AnswerNone, netip.Addr{}, time.Time{}, nil) })
	t.mu.Unlock()
	var err error
	switch t.o.Method {
	case MethodICMP:
		typ := icmp.Type(ipv4.ICMPTypeEcho)
		if t.dst.Is6() {
			typ = ipv6.ICMPTypeEchoRequest
		}
		b, _ := (&icmp.Message{Type: typ, Body: &icmp.Echo{ID: int(t.id), Seq: n & 0xffff, Data: make([]byte, payloadSize)}}).Marshal(nil)
		t.mu.Lock()
		p.sent = time.Now()
		t.mu.Unlock()
		err = t.l.WriteTo(b, t.dst, hop)
	case MethodUDP:
		err = t.sendUDP(n, hop, p)
	case MethodTCP:
		t.wg.Go(func() { t.connect(ctx, n, hop, p) })
	}
	if err != nil {
		t.answer(n, AnswerNone, netip.Addr{}, time.Time{}, nil)
	}
}

// sendUDP sends UDP probe n to port Port+n with TTL hop.
func (t *tracer) sendUDP(n, hop int, p *probe) error {
	var err error
	if t.dst.Is6() {
		err = ipv6.NewPacketConn(t.udp).SetHopLimit(hop)
	} else {
		err = ipv4.NewPacketConn(t.udp).SetTTL(hop)
	}
	if err != nil {
		return err
	}
	t.mu.Lock()
	p.sent = time.Now()
	t.mu.Unlock()
	_, err = t.udp.WriteToUDPAddrPort(make([]byte, payloadSize), netip.AddrPortFrom(t.dst, uint16(t.o.Port+n)))
	return err
}

// connect is TCP probe n: a connect with TTL hop from a port bound first,
// so that the listener can match the ICMP error that quotes its SYN.
func (t *tracer) connect(ctx context.Context, n, hop int, p *probe) {
	heard := make(chan ping.Message, 1)
	var cancel func()
	d := net.Dialer{Timeout: t.o.Timeout, Control: ping.WatchControl(t.l, netip.Addr{}, t.dst, hop, func(m ping.Message) {
		select {
		case heard <- m:
		default:
		}
	}, &cancel)}
	t.mu.Lock()
	p.sent = time.Now()
	t.mu.Unlock()
	c, err := d.DialContext(ctx, "tcp", netip.AddrPortFrom(t.dst, uint16(t.o.Port)).String())
	now := time.Now()
	if cancel != nil {
		defer cancel()
	}
	switch {
	case err == nil:
		c.Close()
		t.answer(n, AnswerOpen, t.dst, now, nil)
		return
	case ctx.Err() != nil:
		return
	}
	select {
	case m := <-heard:
		t.classify(n, m)
		return
	case <-time.After(quoteWait):
	}
	if errors.Is(err, syscall.ECONNREFUSED) {
		t.answer(n, AnswerClosed, t.dst, now, nil)
	}
	// Anything else (a timeout, an error without an ICMP message heard) is
	// left to the probe's timer.
}

// heard is the listener's hook for ICMP and UDP probes: an answer to one
// of this trace's probes, found by its sequence number or UDP port.
func (t *tracer) heard(m ping.Message) {
	n := int(m.DstPort) - t.o.Port
	if t.o.Method == MethodICMP {
		n = t.probeNumber(int(m.Seq))
	}
	t.classify(n, m)
}

// classify records the answer m to probe n.
func (t *tracer) classify(n int, m ping.Message) {
	if !m.Sent.IsZero() {
		t.kernelSent(n, m.Sent)
	}
	switch {
	case m.Err == nil:
		t.answer(n, AnswerEchoReply, m.Dst, m.At, nil)
	case m.Err.Kind == ping.KindTimeExceeded:
		t.answer(n, AnswerTimeExceeded, m.Err.From, m.At, m.Err)
	case m.Err.Kind == ping.KindPortUnreachable && m.Err.From == t.dst && t.o.Method == MethodUDP:
		t.answer(n, AnswerPortUnreachable, m.Err.From, m.At, m.Err)
	default:
		t.answer(n, AnswerUnreachable, m.Err.From, m.At, m.Err)
	}
}

// kernelSent makes at, the kernel's send time of probe n, the start of its
// RTT, in place of the time taken before it was written.
func (t *tracer) kernelSent(n int, at time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if p, ok := t.inflight[n]; ok {
		p.sent = at
	}
}

// probeNumber maps a 16-bit ICMP sequence number back to the probe number
// in flight it belongs to.
func (t *tracer) probeNumber(seq int) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	for k := range t.inflight {
		if k&0xffff == seq {
			return k
		}
	}
	return -1
}

// answer records what became of probe n, unless it already ended. at is
// when the answer came (the kernel's receive time when known).
func (t *tracer) answer(n int, a Answer, from netip.Addr, at time.Time, e *ping.ICMPError) {
	t.mu.Lock()
	defer t.mu.Unlock()
	p, ok := t.inflight[n]
	if !ok {
		return
	}
	delete(t.inflight, n)
	p.timer.Stop()
	ev := Probe{Hop: p.hop, Round: p.round, Answer: a, From: from, ICMP: e}
	if a != AnswerNone {
		rtt := units.Millis(max(at.Sub(p.sent), 0))
		ev.RTTMs = rtt
		t.hops[p.hop-1].record(from, rtt)
		if a != AnswerTimeExceeded && p.hop <= t.end {
			t.end = p.hop
			t.stop = Stop{Reason: StopReached, Hop: p.hop}
			if a == AnswerUnreachable {
				t.stop = Stop{Reason: StopUnreachable, Hop: p.hop, ICMP: e}
			}
		}
	}
	if t.o.OnProbe != nil {
		t.o.OnProbe(ev)
	}
	if t.o.OnUpdate != nil {
		t.o.OnUpdate(t.resultLocked())
	}
}

// record adds an answer from a within rtt ms.
func (h *Hop) record(a netip.Addr, rtt float64) {
	if !slices.Contains(h.Addrs, a) {
		h.Addrs = append(h.Addrs, a)
	}
	h.Received++
	h.rtts.Add(rtt)
	h.last = rtt
}

// result is the trace's hops up to its end; trailing hops that never
// answered are one line.
func (t *tracer) result() *Result {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.resultLocked()
}

// resultLocked is result for a caller that holds t.mu.
func (t *tracer) resultLocked() *Result {
	res := &Result{Addr: t.dst, Method: t.o.Method, Port: t.o.Port, Count: t.o.Count, MaxHops: t.o.MaxHops, Stop: t.stop}
	last := min(t.end, t.o.MaxHops)
	if t.stop.Reason == "" {
		res.Stop = Stop{Reason: StopMaxHops, Hop: t.o.MaxHops}
	}
	hops := t.hops[:last]
	for i := range hops {
		h := hops[i]
		if h.Sent > 0 {
			h.LossPct = float64(h.Sent-h.Received) / float64(h.Sent) * 100
		}
		if h.Received > 0 {
			h.RTT = &RTT{LastMs: units.RoundMillis(h.last), AvgMs: h.rtts.Mean(), BestMs: h.rtts.Min(), WorstMs: h.rtts.Max(), StdevMs: h.rtts.Stdev()}
		}
		h.Addrs = append([]netip.Addr{}, h.Addrs...)
		res.Hops = append(res.Hops, h)
	}
	if res.Stop.Reason == StopMaxHops {
		answered := 0
		for i, h := range res.Hops {
			if h.Received > 0 {
				answered = i + 1
			}
		}
		if answered < len(res.Hops) {
			res.Hops[answered].Silent = len(res.Hops) - answered
			res.Hops = res.Hops[:answered+1]
		}
	}
	return res
}
