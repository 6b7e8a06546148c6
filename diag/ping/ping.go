package ping

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"time"

	"github.com/netkit/netkit/resolve"
	"github.com/netkit/netkit/units"
)

// Defaults and limits of Options. The defaults are those of iputils
// ping, except DefaultTimeout (ping waits 10 s for the last reply).
const (
	// DefaultInterval is the time between two probes to one target.
	DefaultInterval = time.Second
	// DefaultTimeout is how long a probe waits for its reply.
	DefaultTimeout = 2 * time.Second
	// DefaultSize is the ICMP payload size in bytes (84 bytes on the wire
	// with the IPv4 and ICMP headers).
	DefaultSize = 56
	// DefaultTTL is the TTL (IPv6 hop limit) of ICMP probes.
	DefaultTTL = 64

	// MinSize is the smallest payload pro-bing sends: the send time and
	// the tracking UUID it puts in every probe to match replies. Smaller
	// ones, down to none as iputils allows, are sent on the raw Listener:
	// they need raw sockets (root or CAP_NET_RAW).
	MinSize = 24
	// MaxSize is the largest payload that fits an IPv4 packet.
	MaxSize = 65507
	// MinInterval is the shortest interval anyone may ask for.
	MinInterval = time.Millisecond
	// MinUserInterval is the shortest ICMP interval without root or
	// CAP_NET_RAW, whatever the socket: shorter ones are a flood only the
	// administrator may start. iputils ping (20221126) has the same 2 ms
	// limit for users other than root. TCP probes have none.
	MinUserInterval = 2 * time.Millisecond
	// MaxTargets is the most targets one run takes.
	MaxTargets = 10000
	// MaxConcurrentTargets bounds the targets pinged at once; the others
	// wait for their turn. Each holds one pro-bing socket, and the kernel
	// hands every ICMP packet to every raw socket before its filter drops
	// it, about 0.35 µs each: a probe's RTT grows with the sockets open.
	// 1,000 loopback hosts, -c 3 -i 0.2, mean RTT from the kernel's send
	// and receive times: 0.16 ms with 512 open (and outliers of 10-80 ms
	// from the CPU they cost), 0.05 ms with 128 (3.4 s in all), 0.04 with
	// 64 (6.5 s), 0.03 with 48 (8.6 s); fping's 0.011 ms. 48 keep within
	// 3x of fping, and still finish sooner than fping at its default pace
	// (30 s).
	MaxConcurrentTargets = 48
	// maxStartGap is the longest wait between the starts of two targets, as
	// fping waits 10 ms between probes to different targets by default.
	maxStartGap = 10 * time.Millisecond
)

// Method is how the probes to a target were sent.
type Method string

// Methods. Ping picks MethodRaw when the process may open raw ICMP sockets,
// else MethodDatagram; MethodTCP when Options.TCPPort is set.
const (
	// MethodRaw is ICMP echo on a raw socket: root or CAP_NET_RAW.
	MethodRaw Method = "raw"
	// MethodDatagram is ICMP echo on an unprivileged ICMP datagram socket,
	// which the kernel allows to the groups in net.ipv4.ping_group_range.
	MethodDatagram Method = "datagram"
	// MethodTCP is a TCP connection attempt: a SYN answered by SYN-ACK (open)
	// or RST (closed) both mean the host is up.
	MethodTCP Method = "tcp"
)

// State is what a run found out about a target.
type State string

// States of a target after a run.
const (
	// Alive: at least one probe was answered in time.
	Alive State = "alive"
	// Unreachable: the target resolved but no probe was answered in time.
	Unreachable State = "unreachable"
	// Unresolved: the name did not resolve to an address of the family
	// asked for; nothing was sent.
	Unresolved State = "unresolved"
	// Skipped: the run ended (ctx done: Ctrl-C, or a deadline too close
	// for one more probe) before the target's turn came; nothing was sent.
	Skipped State = "skipped"
)

// ProbeKind is what became of one probe, or what one answer was.
type ProbeKind string

// Probe kinds, as Options.OnProbe reports them.
const (
	// ProbeReply: the answer came within the timeout.
	ProbeReply ProbeKind = "reply"
	// ProbeDuplicate: a second answer to a probe already answered (ping's
	// "DUP!"); not counted as received.
	ProbeDuplicate ProbeKind = "duplicate"
	// ProbeLate: an answer that came after the probe's timeout; the probe
	// counts as lost, the answer as late.
	ProbeLate ProbeKind = "late"
	// ProbeTimeout: no answer within the timeout (a late one may follow).
	ProbeTimeout ProbeKind = "timeout"
	// ProbeError: the probe could not be sent, or the network reported an
	// error instead of an answer: an ICMP error about the probe (time
	// exceeded, destination unreachable: Probe.ICMP says which, and who sent
	// it), or, for a TCP probe, the connect's error. ICMP errors about ICMP
	// echo requests are heard with raw sockets only (MethodRaw): with
	// datagram sockets such a probe times out.
	ProbeError ProbeKind = "error"
)

// PortState is what the answer to a TCP probe says about the port.
type PortState string

// Port states of an answered TCP probe.
const (
	// PortOpen: the SYN was answered by a SYN-ACK, a service accepted.
	PortOpen PortState = "open"
	// PortClosed: the SYN was answered by a RST: the host is up but nothing
	// listens on the port.
	PortClosed PortState = "closed"
)

// Target is one host to ping.
type Target struct {
	// Host is a host name or IP literal, resolved with Options.Resolver
	// unless Addr is valid; with a valid Addr it only names the target.
	Host string
	// Addr, when valid, is pinged as is.
	Addr netip.Addr
}

// Options are the inputs of Ping. The zero value of every field but
// Targets is usable.
type Options struct {
	// Targets are pinged concurrently; the results come in the same order.
	Targets []Target
	// Resolver looks up host names; nil means resolve.Default().
	Resolver *resolve.Resolver
	// Family restricts the address used: resolve.AnyFamily (the zero value)
	// takes the first address the resolver orders first.
	Family resolve.Family
	// TCPPort, when not zero, sends TCP connection attempts to this port
	// instead of ICMP echo requests.
	TCPPort int
	// Count is the number of probes per target; 0 sends until ctx is done.
	Count int
	// Interval is the time between probes to one target; 0 means
	// DefaultInterval. For ICMP, below MinUserInterval it needs root or
	// CAP_NET_RAW.
	Interval time.Duration
	// Timeout is how long a probe waits for its answer; 0 means
	// DefaultTimeout. An answer after it is late.
	Timeout time.Duration
	// Size is the ICMP payload size in bytes; 0 means DefaultSize, unless
	// NoPayload. TCP probes carry no payload and ignore it.
	Size int
	// NoPayload sends echo requests without any payload (ping -s 0).
	NoPayload bool
	// TTL is the TTL (IPv6 hop limit) of each probe; 0 means DefaultTTL
	// for ICMP and the system default for TCP.
	TTL int
	// DontFragment sets the don't-fragment bit on ICMP probes (for IPv6:
	// this host does not fragment them either), so that a probe larger
	// than the path MTU fails rather than arrives in pieces. TCP probes
	// ignore it.
	DontFragment bool
	// Source, when valid, is the source address of the probes (ping -I
	// ADDR); Interface, when not empty, the interface they leave by (ping
	// -I IFACE).
	Source    netip.Addr
	Interface string

	// OnStart, if not nil, is called once per target that resolved, before
	// its first probe, from that target's goroutine.
	OnStart func(Start)
	// OnProbe, if not nil, is called for every answer, timeout and send
	// error. Calls for one target come one at a time from its goroutines
	// (pro-bing's receive loop, a probe's timeout timer, a TCP dial), not
	// always in sequence order (a timeout comes after later replies); calls for
	// different targets may run concurrently. Keep it fast: while it runs,
	// the target's next answer waits and its RTT grows.
	OnProbe func(Probe)

	// concurrency bounds the targets pinged at once; 0 means
	// MaxConcurrentTargets. Tests lower it.
	concurrency int
	// listeners hear the ICMP errors about raw probes, keyed by Is6.
	listeners map[bool]*Listener
}

// Start says how a target is about to be pinged.
type Start struct {
	// Target is the index of the target in Options.Targets.
	Target int        `json:"index"`
	Host   string     `json:"host"`
	Addr   netip.Addr `json:"address"`
	Method Method     `json:"method"`
	// Port is the TCP port of MethodTCP, else 0.
	Port int `json:"port,omitempty"`
	// Size is the ICMP payload size in bytes, 0 for MethodTCP.
	Size int `json:"size,omitempty"`
}

// Probe is one event of a run: an answer, a timeout or an error.
type Probe struct {
	// Target is the index of the target in Options.Targets; Host and Addr
	// name it. They identify the target, not the probe: a caller that
	// prints probes apart from their target adds them itself.
	Target int        `json:"-"`
	Host   string     `json:"-"`
	Addr   netip.Addr `json:"-"`
	// Seq numbers the probes of a target from 1, as iputils ping prints
	// icmp_seq: for ICMP it is the sequence number on the wire plus one
	// (pro-bing's sequence starts at 0 and wraps after 65535; a send that
	// failed is retried with the same number), for TCP the attempt.
	Seq  int       `json:"seq"`
	Kind ProbeKind `json:"kind"`
	// Bytes is the size of the ICMP answer (header and payload), as ping
	// prints it; 0 for TCP and for timeouts.
	Bytes int `json:"bytes,omitempty"`
	// From is the address the ICMP answer came from.
	From netip.Addr `json:"from,omitzero"`
	// TTL is the TTL (hop limit) of the ICMP answer, 0 when unknown.
	TTL int `json:"ttl,omitempty"`
	// RTTMs is the round-trip time in milliseconds, 0 for timeouts and
	// errors.
	RTTMs float64 `json:"rtt_ms,omitempty"`
	// Port and PortState describe the answer to a TCP probe.
	Port      int       `json:"port,omitempty"`
	PortState PortState `json:"port_state,omitempty"`
	// Error says why a ProbeError probe failed.
	Error string `json:"error,omitempty"`
	// ICMP is the ICMP error message a ProbeError probe got back, with its
	// type, code and sender (also in From); nil for other failures.
	ICMP *ICMPError `json:"icmp,omitempty"`
}

// Stats are the results of one target. Counts follow iputils ping: Sent
// counts every probe (failed sends too), Received only answers within the
// timeout; the RTT figures are over those answers, in milliseconds, with
// Mdev the population standard deviation ping calls mdev.
type Stats struct {
	Host   string     `json:"host"`
	Addr   netip.Addr `json:"address,omitzero"`
	Method Method     `json:"method,omitempty"`
	// Port is the TCP port of MethodTCP, else 0.
	Port       int   `json:"port,omitempty"`
	State      State `json:"state"`
	Sent       int   `json:"sent"`
	Received   int   `json:"received"`
	Duplicates int   `json:"duplicates"`
	Late       int   `json:"late"`
	Errors     int   `json:"errors"`
	// FirstError is the Error of the first ProbeError probe, as OnProbe
	// reports it; empty when none failed.
	FirstError string `json:"first_error,omitempty"`
	// FirstErr is the error behind FirstError, for errors.As and
	// explain.Error (EMSGSIZE: a probe larger than the path MTU with
	// DontFragment).
	FirstErr error `json:"-"`
	// ICMPError is the first ICMP error message about a probe, nil when
	// none came (or none could be heard: see ProbeError).
	ICMPError *ICMPError `json:"icmp_error,omitempty"`
	// PortCounts counts the answers of a MethodTCP target by port state
	// (both counts, zeros too); nil for other targets.
	*PortCounts
	// Loss is nil when nothing was sent (unresolved, skipped).
	*Loss
	// RTT is nil when nothing was received.
	*RTT
	// TimeMs is how long the target was pinged, from its first probe; 0
	// when it was not (unresolved, skipped).
	TimeMs float64 `json:"time_ms,omitempty"`
	// Error says why the target is unresolved or skipped, or why pinging it
	// stopped early (a socket error, no route).
	Error string `json:"error,omitempty"`
	// Err is the error behind Error, for errors.As and explain.Error.
	Err error `json:"-"`
}

// Loss is the share of the probes sent to a target that got no answer in
// time, in percent.
type Loss struct {
	LossPct float64 `json:"loss_pct"`
}

// RTT are the round-trip times of the answers a target sent in time, in
// milliseconds, with Mdev the population standard deviation ping calls
// mdev.
type RTT struct {
	MinMs  float64 `json:"rtt_min_ms"`
	AvgMs  float64 `json:"rtt_avg_ms"`
	MaxMs  float64 `json:"rtt_max_ms"`
	MdevMs float64 `json:"rtt_mdev_ms"`
}

// PortCounts are the answers to the TCP probes of a target, by port state.
type PortCounts struct {
	Open   int `json:"open"`
	Closed int `json:"closed"`
}

// NoReplyError says that a host answered none of its probes: ICMP echo
// requests, or TCP connects to Port when Port is not 0. explain.Error turns it
// into what that means and what to try next.
type NoReplyError struct {
	Host string
	Port int
	// ICMP is the first ICMP error that came back instead of a reply, nil
	// when none did.
	ICMP *ICMPError
	// Unheard reports that ICMP errors could not be heard (MethodDatagram:
	// no raw socket rights), so that silence may hide a router's answer.
	Unheard bool
}

func (e *NoReplyError) Error() string {
	msg := "no reply from " + e.Host
	if e.Port != 0 {
		msg += fmt.Sprintf(" on port %d", e.Port)
	}
	if e.ICMP != nil {
		msg += fmt.Sprintf("; %s answered: %s", e.ICMP.From, e.ICMP.Text)
	}
	return msg
}

// Unwrap returns the ICMP error, for errors.As and explain.Error.
func (e *NoReplyError) Unwrap() error {
	if e.ICMP == nil {
		return nil
	}
	return e.ICMP
}

// OptionError is an option Ping cannot run with: the caller's mistake,
// not the network's.
type OptionError struct {
	Option string // the Options field
	Value  string
	Why    string
}

func (e *OptionError) Error() string {
	return fmt.Sprintf("invalid %s %s: %s", e.Option, e.Value, e.Why)
}

// Run sends probes to every target concurrently and returns one Stats
// per target, in the order of Targets. It ends when every target has sent
// Count probes and each is answered or timed out, or when ctx is done:
// cancelling ctx (Ctrl-C) or its deadline (ping -w) is a normal end, and the
// statistics cover what was sent until then. As iputils ping -w does, no
// probe is sent so close to ctx's deadline that its answer would be cut off.
//
// The targets start in turn, spread over one interval (at most
// maxStartGap apart), as fping sends to its targets in turn: probes to
// hundreds of targets do not all leave, and their answers do not all come
// back, at the same instant, which would show as RTT. At most
// MaxConcurrentTargets are pinged at once, each sending the probes that fit
// before ctx's deadline, so that the others still get their turn; a target
// whose turn comes when ctx is done, or too close to its deadline for one
// probe, is Skipped.
//
// A target that does not resolve or whose socket fails has its error in
// Stats.Err; Ping itself fails only when nothing can run: a
// *OptionError, or an *PermissionError when the process may open
// neither kind of ICMP socket.
func Run(ctx context.Context, o Options) ([]Stats, error) {
	if err := o.normalize(); err != nil {
		return nil, err
	}
	o.listeners = map[bool]*Listener{}
	addrs := resolveTargets(ctx, &o)
	methods, err := pickMethods(&o, addrs)
	if err != nil {
		return nil, err
	}
	stats := make([]Stats, len(o.Targets))
	var todo []int
	for i, t := range o.Targets {
		stats[i] = Stats{Host: t.Host, Addr: addrs[i].addr, Port: o.TCPPort}
		if addrs[i].err != nil {
			stats[i].State, stats[i].Err, stats[i].Error = Unresolved, addrs[i].err, addrs[i].err.Error()
			continue
		}
		stats[i].Method = methods[addrs[i].addr.Is6()]
		if stats[i].Method == MethodTCP {
			stats[i].PortCounts = &PortCounts{}
		}
		todo = append(todo, i)
	}
	for v6, m := range methods {
		if m == MethodDatagram {
			continue
		}
		// Without a listener, errors go unheard and their probes time out:
		// that is what happens without raw rights too.
		if l, err := listen(v6, m == MethodRaw, true); err == nil {
			defer l.Close()
			o.listeners[v6] = l
		}
	}
	o.launch(ctx, todo, stats)
	return stats, nil
}

// launch pings the targets todo (indexes of o.Targets) and waits for them:
// it starts them one after the other, evenly over one interval, with at
// most o.concurrency running at once, and marks those whose turn came too
// late (see probeCount) as skipped.
func (o *Options) launch(ctx context.Context, todo []int, stats []Stats) {
	limit := cmp.Or(o.concurrency, MaxConcurrentTargets)
	gap := min(o.Interval/time.Duration(max(1, min(len(todo), limit))), maxStartGap)
	sem := make(chan struct{}, limit)
	var wg sync.WaitGroup
	defer wg.Wait()
	begin := time.Now()
	for k, i := range todo {
		count, ok := 0, waitTurn(ctx, sem, begin.Add(time.Duration(k)*gap))
		if ok {
			count, ok = o.probeCount(ctx, time.Now())
		}
		if !ok {
			why := "not pinged: the run ended before its turn"
			if len(todo) > limit {
				why += fmt.Sprintf(" (at most %d hosts are pinged at once)", limit)
			}
			for _, j := range todo[k:] {
				stats[j].State = Skipped
				stats[j].Error = why
			}
			return
		}
		wg.Go(func() {
			defer func() { <-sem }()
			r := &targetRun{o: o, index: i, count: count, stats: &stats[i]}
			r.run(ctx)
		})
	}
}

// waitTurn takes a place in sem and waits until at; it reports false if ctx
// is done first.
func waitTurn(ctx context.Context, sem chan struct{}, at time.Time) bool {
	select {
	case sem <- struct{}{}:
	case <-ctx.Done():
		return false
	}
	if d := time.Until(at); d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return false
		}
	}
	return true
}

// deadlineMargin is how close to ctx's deadline a probe is still sent: one
// due later would be cut off before its answer, even on loopback.
const deadlineMargin = 5 * time.Millisecond

// probeCount is the number of probes of a target that starts at now: Count
// (0: until ctx is done), but no more than are due, one per interval, before
// ctx's deadline (less deadlineMargin), as iputils ping -w sends none at the
// deadline. It reports false when not one is.
func (o *Options) probeCount(ctx context.Context, now time.Time) (int, bool) {
	if ctx.Err() != nil {
		return 0, false
	}
	dl, ok := ctx.Deadline()
	if !ok {
		return o.Count, true
	}
	left := dl.Sub(now) - deadlineMargin
	if left <= 0 {
		return 0, false
	}
	due := int((left + o.Interval - 1) / o.Interval) // probes at 0, Interval, 2·Interval, … before left
	if o.Count == 0 || due < o.Count {
		return due, true
	}
	return o.Count, true
}

// normalize fills in the defaults and checks the ranges of o.
func (o *Options) normalize() error {
	switch {
	case len(o.Targets) == 0:
		return &OptionError{"Targets", "[]", "nothing to ping"}
	case len(o.Targets) > MaxTargets:
		return &OptionError{"Targets", fmt.Sprintf("(%d hosts)", len(o.Targets)), fmt.Sprintf("at most %d hosts per run", MaxTargets)}
	}
	if o.Interval == 0 {
		o.Interval = DefaultInterval
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Size == 0 && !o.NoPayload {
		o.Size = DefaultSize
	}
	if o.TTL == 0 && o.TCPPort == 0 {
		o.TTL = DefaultTTL
	}
	switch {
	case o.Count < 0:
		return &OptionError{"Count", fmt.Sprint(o.Count), "must not be negative"}
	case o.Interval < MinInterval:
		return &OptionError{"Interval", o.Interval.String(), "must be at least " + MinInterval.String()}
	case o.Timeout < 0:
		return &OptionError{"Timeout", o.Timeout.String(), "must be positive"}
	case o.Size < 0 || o.Size > MaxSize:
		return &OptionError{"Size", fmt.Sprint(o.Size), fmt.Sprintf("must be from 0 to %d bytes", MaxSize)}
	case o.TCPPort == 0 && o.Size < MinSize && (o.Source.IsValid() || o.Interface != ""):
		return &OptionError{"Size", fmt.Sprint(o.Size), fmt.Sprintf("below %d bytes cannot be sent from a given interface or address", MinSize)}
	case o.TTL < 0 || o.TTL > 255:
		return &OptionError{"TTL", fmt.Sprint(o.TTL), "must be from 1 to 255"}
	case o.TCPPort < 0 || o.TCPPort > 65535:
		return &OptionError{"TCPPort", fmt.Sprint(o.TCPPort), "must be from 1 to 65535"}
	}
	if o.TCPPort == 0 && o.Size < MinSize && !rawICMPAllowed() {
		return &OptionError{"Size", fmt.Sprint(o.Size), fmt.Sprintf("below %d bytes needs a raw socket: root or CAP_NET_RAW", MinSize)}
	}
	if o.TCPPort == 0 && o.Interval < MinUserInterval && !rawICMPAllowed() {
		return &OptionError{"Interval", o.Interval.String(),
			"below " + MinUserInterval.String() + " is a flood: it needs root or CAP_NET_RAW (iputils ping: root)"}
	}
	return nil
}

// resolved is the address a target resolved to, or why it did not.
type resolved struct {
	addr netip.Addr
	err  error
}

// resolveTargets looks up every target concurrently.
func resolveTargets(ctx context.Context, o *Options) []resolved {
	out := make([]resolved, len(o.Targets))
	sem := make(chan struct{}, MaxConcurrentTargets)
	var wg sync.WaitGroup
	for i, t := range o.Targets {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			out[i].addr, out[i].err = resolveTarget(ctx, o, t)
		})
	}
	wg.Wait()
	return out
}

// resolveTarget returns the address to ping for t: its Addr, the IP literal
// it names, or the first address the resolver returns for its name. An
// address of the other family than o.Family asks for, or a name that only
// has such addresses, is a *FamilyError.
func resolveTarget(ctx context.Context, o *Options, t Target) (netip.Addr, error) {
	a := t.Addr
	if !a.IsValid() {
		if lit, err := netip.ParseAddr(t.Host); err == nil {
			a = lit
		}
	}
	if a.IsValid() {
		a = a.Unmap()
		if !o.Family.Contains(a) {
			return netip.Addr{}, &FamilyError{Host: t.Host, Want: o.Family, Have: []netip.Addr{a}, Literal: true}
		}
		return a, nil
	}
	r := o.Resolver
	if r == nil {
		r = resolve.Default()
	}
	addrs, err := r.LookupIP(ctx, t.Host, o.Family)
	if err != nil {
		if o.Family != resolve.AnyFamily && (errors.Is(err, resolve.ErrNoSuchHost) || errors.Is(err, resolve.ErrNoData)) {
			// The family may be the only thing missing: "localhost" is
			// 127.0.0.1 alone in many hosts files. Only the other family
			// is left to ask.
			otherFamily := resolve.IPv4
			if o.Family == resolve.IPv4 {
				otherFamily = resolve.IPv6
			}
			found, _ := r.LookupIP(ctx, t.Host, otherFamily) // nil on error
			var other []netip.Addr
			for _, a := range found {
				if a = a.Unmap(); !o.Family.Contains(a) {
					other = append(other, a)
				}
			}
			if len(other) > 0 {
				return netip.Addr{}, &FamilyError{Host: t.Host, Want: o.Family, Have: other}
			}
		}
		return netip.Addr{}, err // a *resolve.LookupError names the host
	}
	return addrs[0].Unmap(), nil
}

// FamilyError is a target that has addresses, but none of the family asked
// for (-4 or -6): an IP literal of the other family, or a name that only
// resolves to the other family.
type FamilyError struct {
	Host string
	// Want is the family asked for, resolve.IPv4 or resolve.IPv6.
	Want resolve.Family
	// Have are the addresses Host has: the address itself for a literal.
	Have []netip.Addr
	// Literal is true when Host is an IP address, not a name.
	Literal bool
}

func (e *FamilyError) Error() string {
	if e.Literal {
		return fmt.Sprintf("%s is an %s address, and %s was asked for", e.Host, familyName(e.Have[0].Is6()), familyName(e.Want == resolve.IPv6))
	}
	return fmt.Sprintf("%s has only %s addresses (%s), and %s was asked for", e.Host, familyName(e.Have[0].Is6()), resolve.JoinAddrs(e.Have), familyName(e.Want == resolve.IPv6))
}

// Unwrap says what the lookup of a name found, for errors.Is and explain.Error: a
// *resolve.LookupError with resolve.ErrNoData, the name exists without an
// address of the family. A literal was looked up nowhere: nil.
func (e *FamilyError) Unwrap() error {
	if e.Literal {
		return nil
	}
	return &resolve.LookupError{Name: e.Host, Err: resolve.ErrNoData}
}

// familyName is "IPv6" or "IPv4".
func familyName(v6 bool) string {
	if v6 {
		return "IPv6"
	}
	return "IPv4"
}

// pickMethods decides, once per address family the targets need, how to
// send: keyed by Is6.
func pickMethods(o *Options, addrs []resolved) (map[bool]Method, error) {
	methods := map[bool]Method{}
	for _, r := range addrs {
		if r.err != nil {
			continue
		}
		v6 := r.addr.Is6()
		if _, done := methods[v6]; done {
			continue
		}
		if o.TCPPort != 0 {
			methods[v6] = MethodTCP
			continue
		}
		m, err := icmpMethod(v6)
		if err != nil {
			return nil, err
		}
		methods[v6] = m
	}
	return methods, nil
}

// targetRun is the state of pinging one target. mu serialises the hooks of
// pro-bing's loop, the timeout timers and the TCP dials.
type targetRun struct {
	o     *Options
	index int // in o.Targets
	count int // probes to send, 0: until ctx is done (see probeCount)
	stats *Stats

	mu      sync.Mutex
	tally   tally
	pending map[int]*time.Timer // ICMP sequence -> its timeout
	early   map[int]Message     // Listener messages that came before pro-bing's OnSend
	handled map[int]bool        // replies recorded, from the Listener or pro-bing's fallback
	// heldDups are duplicates pro-bing reported before the first answer
	// to their probe was recorded: they follow it, as they came.
	heldDups map[int][]Probe
	sentAt   map[int]time.Time // send times of probes too small to carry them (runSmall)
	ended    bool              // no more events are reported
	stop     func()            // ends an ICMP run: every probe answered or timed out
}

// run pings the target and fills in its statistics.
func (r *targetRun) run(ctx context.Context) {
	s := r.stats
	if r.o.OnStart != nil {
		st := Start{Target: r.index, Host: s.Host, Addr: s.Addr, Method: s.Method, Port: s.Port}
		if s.Method != MethodTCP {
			st.Size = r.o.Size
		}
		r.o.OnStart(st)
	}
	start := time.Now()
	var err error
	if s.Method == MethodTCP {
		err = r.runTCP(ctx)
	} else {
		err = r.runICMP(ctx)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ended = true
	for _, t := range r.pending {
		t.Stop()
	}
	r.tally.fill(s)
	s.TimeMs = units.Millis(time.Since(start))
	if err != nil && ctx.Err() == nil {
		s.Err, s.Error = err, err.Error()
	}
}

// emit reports a probe event and checks whether the run is complete. The
// caller holds r.mu.
func (r *targetRun) emit(p Probe) {
	if r.ended {
		return
	}
	p.Target, p.Host, p.Addr = r.index, r.stats.Host, r.stats.Addr
	if p.Kind == ProbeError && r.tally.firstError == "" {
		r.tally.firstError = p.Error
	}
	if r.o.OnProbe != nil {
		r.o.OnProbe(p)
	}
	if r.count > 0 && r.tally.sent >= r.count && len(r.pending) == 0 && r.stop != nil {
		r.stop()
		r.stop = nil
	}
}

// tally accumulates a target's counts and RTTs (Welford's online mean and
// variance, so a long run keeps no list).
type tally struct {
	sent, received, dups, late, errors, open, closed int
	// firstError is the Error of the first ProbeError event, firstErr
	// the error behind it, icmp the first ICMP error.
	firstError string
	firstErr   error
	icmp       *ICMPError

	rtts units.Spread
}

// reply records an answer within the timeout.
func (t *tally) reply(rttMs float64) {
	t.received++
	t.rtts.Add(rttMs)
}

// fill writes the statistics into s.
func (t *tally) fill(s *Stats) {
	s.Sent, s.Received, s.Duplicates, s.Late, s.Errors = t.sent, t.received, t.dups, t.late, t.errors
	s.FirstError, s.FirstErr, s.ICMPError = t.firstError, t.firstErr, t.icmp
	if s.PortCounts != nil {
		s.Open, s.Closed = t.open, t.closed
	}
	if t.sent > 0 {
		s.Loss = &Loss{LossPct: float64(t.sent-t.received) / float64(t.sent) * 100}
	}
	if t.received > 0 {
		s.RTT = &RTT{MinMs: t.rtts.Min(), AvgMs: t.rtts.Mean(), MaxMs: t.rtts.Max(), MdevMs: t.rtts.Stdev()}
	}
	s.State = Unreachable
	if t.received > 0 {
		s.State = Alive
	}
}
