package ping

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"strings"
	"syscall"
	"time"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"

	"github.com/netkit/netkit/units"
	probing "github.com/prometheus-community/pro-bing"
	"golang.org/x/net/icmp"
)

// PermissionError reports that this process may open neither a raw ICMP
// socket (root or CAP_NET_RAW) nor an unprivileged ICMP datagram socket (a
// group in net.ipv4.ping_group_range, which covers IPv6 too).
type PermissionError struct {
	// IPv6 is the family that was tried.
	IPv6 bool
	// Raw is why the raw socket failed (EPERM without CAP_NET_RAW).
	Raw error
	// Datagram is why the datagram socket failed (EACCES when no group of
	// the process is in the range).
	Datagram error
	// GID is the process's effective group ID.
	GID int
	// GroupRange is net.ipv4.ping_group_range ("1 0", the default, allows
	// no group), or "" when it could not be read.
	GroupRange string
}

func (e *PermissionError) Error() string {
	fam := "IPv4"
	if e.IPv6 {
		fam = "IPv6"
	}
	rng := "net.ipv4.ping_group_range"
	if e.GroupRange != "" {
		rng += fmt.Sprintf(" %q", e.GroupRange)
	}
	return fmt.Sprintf("ICMP (%s) not permitted: raw socket: %v (needs root or CAP_NET_RAW); datagram socket: %v (group %d is not in %s)",
		fam, e.Raw, e.Datagram, e.GID, rng)
}

// Unwrap returns the errors of both attempts.
func (e *PermissionError) Unwrap() []error { return []error{e.Raw, e.Datagram} }

// icmpNetworks are the icmp.ListenPacket networks of each method, keyed by
// Is6.
var icmpNetworks = map[Method]map[bool]string{
	MethodRaw:      {false: "ip4:icmp", true: "ip6:ipv6-icmp"},
	MethodDatagram: {false: "udp4", true: "udp6"},
}

// icmpMethod decides by trying, not by the user ID (CAP_NET_RAW can be
// granted without root), how this process can send ICMP to the family: a raw
// socket if it may, else a datagram socket.
func icmpMethod(v6 bool) (Method, error) {
	rawErr := tryListen(MethodRaw, v6)
	if rawErr == nil {
		return MethodRaw, nil
	}
	dgramErr := tryListen(MethodDatagram, v6)
	if dgramErr == nil {
		return MethodDatagram, nil
	}
	rng, _ := os.ReadFile("/proc/sys/net/ipv4/ping_group_range")
	return "", &PermissionError{
		IPv6: v6, Raw: rawErr, Datagram: dgramErr, GID: os.Getegid(),
		GroupRange: strings.Join(strings.Fields(string(rng)), " "),
	}
}

// rawICMPAllowed reports whether this process may open a raw ICMP socket:
// the privilege iputils asks of intervals below 200 ms.
func rawICMPAllowed() bool {
	return tryListen(MethodRaw, false) == nil
}

// tryListen opens and closes an ICMP socket of the method, returning the
// system call's error number (EPERM, EACCES) when it has one.
func tryListen(m Method, v6 bool) error {
	c, err := icmp.ListenPacket(icmpNetworks[m][v6], "")
	if err != nil {
		var errno syscall.Errno
		if errors.As(err, &errno) {
			return errno
		}
		return err
	}
	return c.Close()
}

// runICMP pings the target with pro-bing. pro-bing calls OnSend, OnRecv,
// OnDuplicateRecv and OnSendError from its run loop; each probe's timeout
// timer runs on its own goroutine; r.mu orders them.
func (r *targetRun) runICMP(ctx context.Context) error {
	o, s := r.o, r.stats
	if o.Size < MinSize {
		return r.runSmall(ctx)
	}
	p := probing.New(s.Addr.String())
	p.SetLogger(probing.NoopLogger{})
	p.SetIPAddr(&net.IPAddr{IP: s.Addr.AsSlice(), Zone: s.Addr.Zone()})
	p.SetPrivileged(s.Method == MethodRaw)
	p.Count = r.count
	if p.Count == 0 {
		p.Count = -1
	}
	p.Interval, p.Size, p.TTL = o.Interval, o.Size, o.TTL
	p.SetDoNotFragment(o.DontFragment)
	p.InterfaceName = o.Interface
	if o.Source.IsValid() {
		p.Source = o.Source.String()
	}
	p.RecordRtts, p.RecordTTLs = false, false
	r.pending = map[int]*time.Timer{}
	complete := make(chan struct{})
	r.stop = func() {
		p.Stop()
		close(complete)
	}
	p.OnSend, p.OnSendError, p.OnRecv, p.OnDuplicateRecv = r.sent, r.sendFailed, r.received, r.duplicate
	if l := o.listeners[s.Addr.Is6()]; l != nil {
		proto := ProtoICMP
		if s.Addr.Is6() {
			proto = ProtoICMPv6
		}
		r.early = map[int]Message{}
		if l.replies {
			r.handled = map[int]bool{}
		}
		defer l.Subscribe(proto, s.Addr, uint16(p.ID()), r.heardMsg)()
	}
	// pro-bing's receive loop notices Stop only when its read deadline
	// expires, a random backoff that grows to about 100 ms while no packet
	// comes, and RunWithContext waits for it. Once every probe is answered
	// or timed out there is nothing left to wait for: return then, and let
	// the loop end and close its socket in the background (hooks it still
	// calls find the run ended).
	done := make(chan error, 1)
	go func() { done <- p.RunWithContext(ctx) }()
	select {
	case err := <-done:
		if err != nil || ctx.Err() != nil {
			return err
		}
		// pro-bing ended on its own count of replies, which may run ahead
		// of this run's: a reply waiting for fallbackWait. Every pending
		// probe ends by its reply or its timeout.
		select {
		case <-complete:
		case <-ctx.Done():
		}
		return nil
	case <-complete:
		return nil
	}
}

// runSmall pings with payloads smaller than pro-bing's (MinSize), as
// iputils allows down to none: echo requests sent on the raw Listener,
// which hears the replies; the send time is kept here, since the payload
// may not hold it. One probe per interval, each with its timeout, as
// pro-bing sends them.
func (r *targetRun) runSmall(ctx context.Context) error {
	o, s := r.o, r.stats
	l := o.listeners[s.Addr.Is6()]
	if l == nil || !l.replies {
		return errors.New("payloads below " + fmt.Sprint(MinSize) + " bytes need the raw ICMP listener, which could not be opened")
	}
	proto, typ := ProtoICMP, icmp.Type(ipv4.ICMPTypeEcho)
	if s.Addr.Is6() {
		proto, typ = ProtoICMPv6, ipv6.ICMPTypeEchoRequest
	}
	id := uint16(rand.N(1 << 16))
	r.pending, r.early, r.handled, r.sentAt = map[int]*time.Timer{}, map[int]Message{}, map[int]bool{}, map[int]time.Time{}
	complete := make(chan struct{})
	r.stop = func() { close(complete) }
	defer l.Subscribe(proto, s.Addr, id, r.heardMsg)()
	tick := time.NewTicker(o.Interval)
	defer tick.Stop()
	for n := 0; r.count == 0 || n < r.count; n++ {
		if n > 0 {
			select {
			case <-ctx.Done():
				return nil
			case <-tick.C:
			}
		}
		seq := n & 0xffff
		b, _ := (&icmp.Message{Type: typ, Body: &icmp.Echo{ID: int(id), Seq: seq, Data: make([]byte, o.Size)}}).Marshal(nil)
		r.mu.Lock()
		r.sentAt[seq] = time.Now()
		r.mu.Unlock()
		if err := l.WriteTo(b, s.Addr, o.TTL); err != nil {
			r.sendFailed(&probing.Packet{Seq: seq}, err)
			continue
		}
		r.sent(&probing.Packet{Seq: seq})
	}
	select {
	case <-complete:
	case <-ctx.Done():
	}
	return nil
}

// sent is pro-bing's OnSend: a probe left, its timeout starts.
func (r *targetRun) sent(pkt *probing.Packet) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.tally.sent++
	seq := pkt.Seq
	r.pending[seq] = time.AfterFunc(r.o.Timeout, func() { r.expire(seq) })
	// Sequence numbers wrap at 65536: forget the reply recorded for this
	// one the last time round (its send time is new: runSmall), and all of
	// one too old to be answered still.
	old := (seq + 65536 - keptAnswers) & 0xffff
	delete(r.handled, seq)
	delete(r.handled, old)
	delete(r.sentAt, old)
	if m, ok := r.early[seq]; ok {
		delete(r.early, seq)
		r.dispatch(m)
	}
}

// heardMsg is the Listener's hook: an echo reply to a probe of this target
// or an ICMP error about one. It may come before pro-bing's OnSend for that
// probe; it waits for it then.
func (r *targetRun) heardMsg(m Message) {
	r.mu.Lock()
	defer r.mu.Unlock()
	seq := int(m.Seq)
	if _, ok := r.pending[seq]; !ok && seq >= r.tally.sent {
		r.early[seq] = m
		return
	}
	r.dispatch(m)
}

// dispatch hands a message of the Listener to its handler. The caller
// holds r.mu.
func (r *targetRun) dispatch(m Message) {
	if m.Err != nil {
		r.heard(m)
	} else {
		r.kernelReply(m)
	}
}

// fallbackWait is how long pro-bing's report of a reply waits for the
// Listener's, which has the kernel's receive time, before it is used as
// is (the Listener's copy was lost, or is that late).
const fallbackWait = 20 * time.Millisecond

// kernelReply records an echo reply the Listener heard, with its RTT from
// the kernel's receive time (SO_TIMESTAMPNS) and the kernel's send time of
// the request (Message.Sent), or, when the tap did not see it, the send
// time pro-bing put in the payload: no goroutine hand-off is in it. A
// reply to a probe already answered is left to pro-bing's OnDuplicateRecv.
// The caller holds r.mu.
func (r *targetRun) kernelReply(m Message) {
	seq := int(m.Seq)
	if at, ok := r.sentAt[seq]; ok {
		// A probe too small to carry its send time (runSmall).
		m.Data = binary.BigEndian.AppendUint64(nil, uint64(at.UnixNano()))
	}
	if r.handled[seq] {
		// A later copy: a duplicate, which pro-bing's OnDuplicateRecv
		// counts, or this run when it sends without pro-bing (runSmall).
		if r.sentAt != nil {
			r.tally.dups++
			r.emit(Probe{Seq: seq + 1, Kind: ProbeDuplicate, Bytes: m.Bytes, From: m.Dst, TTL: m.TTL,
				RTTMs: units.Millis(max(m.At.Sub(r.sentAt[seq]), 0))})
		}
		return
	}
	sent := m.Sent
	if sent.IsZero() {
		if len(m.Data) < 8 {
			return
		}
		sent = time.Unix(0, int64(binary.BigEndian.Uint64(m.Data)))
	}
	r.handled[seq] = true
	rtt := m.At.Sub(sent)
	ev := Probe{Seq: seq + 1, Kind: ProbeReply, Bytes: m.Bytes, From: m.Dst, TTL: m.TTL, RTTMs: units.Millis(max(rtt, 0))}
	r.answer(seq, rtt, ev)
}

// answer records the first answer to probe seq, in time or late. The
// caller holds r.mu.
func (r *targetRun) answer(seq int, rtt time.Duration, ev Probe) {
	t, inTime := r.pending[seq]
	if inTime {
		t.Stop()
		delete(r.pending, seq)
	}
	if inTime && rtt <= r.o.Timeout {
		r.tally.reply(ev.RTTMs)
	} else {
		ev.Kind = ProbeLate
		r.tally.late++
	}
	r.emit(ev)
	for _, dup := range r.heldDups[seq] {
		r.tally.dups++
		r.emit(dup)
	}
	delete(r.heldDups, seq)
}

// heard records an ICMP error about probe m.Seq, as iputils does: it
// counts as an error and is reported, and the probe waits no longer. The
// caller holds r.mu.
func (r *targetRun) heard(m Message) {
	seq := int(m.Seq)
	if t, ok := r.pending[seq]; ok {
		t.Stop()
		delete(r.pending, seq)
	}
	r.tally.errors++
	if r.tally.icmp == nil {
		r.tally.icmp = m.Err
	}
	r.emit(Probe{Seq: seq + 1, Kind: ProbeError, From: m.Err.From, Error: m.Err.Error(), ICMP: m.Err})
}

// sendFailed is pro-bing's OnSendError: a probe could not be sent. It
// counts as sent (iputils counts failed sends) and as an error; pro-bing
// sends the next probe, with the same sequence number, one interval later.
// But when the error is a *net.OpError whose Err is syscall.ENOBUFS itself
// (a full queue), pro-bing calls OnSendError and retries the same probe at
// once, as often as it takes, then calls OnSend: that attempt is not a
// probe of its own. (x/net wraps the errno in an *os.SyscallError, so with
// its sockets pro-bing never retries: then ENOBUFS is an error like any.)
func (r *targetRun) sendFailed(pkt *probing.Packet, err error) {
	if op, ok := err.(*net.OpError); ok && op.Err == syscall.ENOBUFS {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.tally.sent++
	r.tally.errors++
	r.tally.firstErr = cmp.Or(r.tally.firstErr, err)
	r.emit(Probe{Seq: pkt.Seq + 1, Kind: ProbeError, Error: err.Error()})
}

// received is pro-bing's OnRecv: the first answer to a probe, in time or
// late.
//
// With a Listener, the Listener's copy of the reply is the one recorded,
// for its kernel timestamp; this one is used only if that copy has not
// come fallbackWait later.
func (r *targetRun) received(pkt *probing.Packet) {
	r.mu.Lock()
	defer r.mu.Unlock()
	seq := pkt.Seq
	switch {
	case r.handled == nil:
		r.answer(seq, pkt.Rtt, icmpEvent(pkt))
	case !r.handled[seq]:
		time.AfterFunc(fallbackWait, func() {
			r.mu.Lock()
			defer r.mu.Unlock()
			if !r.handled[seq] {
				r.handled[seq] = true
				r.answer(seq, pkt.Rtt, icmpEvent(pkt))
			}
		})
	}
}

// keptAnswers is how many probes back a reply is still told from a
// duplicate (see sent).
const keptAnswers = 4096

// duplicate is pro-bing's OnDuplicateRecv: another answer to a probe
// already answered.
func (r *targetRun) duplicate(pkt *probing.Packet) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ev := icmpEvent(pkt)
	ev.Kind = ProbeDuplicate
	if r.handled != nil && !r.handled[pkt.Seq] {
		// The first answer waits for the Listener's kernel time: this
		// copy comes after it.
		if r.heldDups == nil {
			r.heldDups = map[int][]Probe{}
		}
		r.heldDups[pkt.Seq] = append(r.heldDups[pkt.Seq], ev)
		return
	}
	r.tally.dups++
	r.emit(ev)
}

// expire reports a probe that got no answer within the timeout.
func (r *targetRun) expire(seq int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.pending[seq]; !ok {
		return
	}
	delete(r.pending, seq)
	r.emit(Probe{Seq: seq + 1, Kind: ProbeTimeout})
}

// icmpEvent turns a pro-bing packet into a reply event.
func icmpEvent(pkt *probing.Packet) Probe {
	ev := Probe{Seq: pkt.Seq + 1, Kind: ProbeReply, Bytes: pkt.Nbytes, RTTMs: units.Millis(pkt.Rtt)}
	if pkt.TTL > 0 {
		ev.TTL = pkt.TTL
	}
	if pkt.IPAddr != nil {
		if a, ok := netip.AddrFromSlice(pkt.IPAddr.IP); ok {
			ev.From = a.Unmap().WithZone(pkt.IPAddr.Zone)
		}
	}
	return ev
}
