package ping

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"
)

// IP protocol numbers of the packets an ICMP message may quote.
const (
	ProtoICMP   = 1
	ProtoTCP    = 6
	ProtoUDP    = 17
	ProtoICMPv6 = 58
)

// ICMPError is an ICMP or ICMPv6 error message about a packet this process
// sent: a router or the destination saying why the packet went no further.
type ICMPError struct {
	// From is the address the message came from: a router on the way, the
	// destination itself, or this machine.
	From netip.Addr `json:"from"`
	// Type and Code are the message's ICMP (IPv4) or ICMPv6 type and code.
	Type int `json:"type"`
	Code int `json:"code"`
	// Text is what iputils ping prints after "From ADDR icmp_seq=N".
	Text string `json:"text"`
	// Kind classifies the message across both families.
	Kind ICMPKind `json:"kind"`
	// MTU is the next hop's MTU of a "fragmentation needed" or "packet too
	// big" message, else 0.
	MTU int `json:"mtu,omitempty"`
	// Dst is the destination of the packet the message is about, Protocol
	// its protocol ("icmp", "tcp" or "udp") and Port its TCP or UDP
	// destination port (0 for ICMP).
	Dst      netip.Addr `json:"destination"`
	Protocol string     `json:"protocol"`
	Port     int        `json:"port,omitempty"`
	// Local reports that From is an address of this machine: its own
	// kernel found no way on (no neighbour answered, no route).
	Local bool `json:"local,omitempty"`
}

func (e *ICMPError) Error() string {
	return fmt.Sprintf("from %s: %s", e.From, e.Text)
}

// Router reports whether the message came from a router on the way, neither
// the destination nor this machine.
func (e *ICMPError) Router() bool {
	return !e.Local && e.From != e.Dst
}

// Who names the sender for a person: "router 10.251.1.1", "10.251.3.2
// itself" or "this machine (10.251.1.2)".
func (e *ICMPError) Who() string {
	switch {
	case e.Local:
		return fmt.Sprintf("this machine (%s)", e.From)
	case e.From == e.Dst:
		return fmt.Sprintf("%s itself", e.From)
	}
	return "router " + e.From.String()
}

// ICMPKind is what an ICMP error says, the same for IPv4 and IPv6.
type ICMPKind string

// Kinds of ICMP errors.
const (
	KindNetUnreachable      ICMPKind = "net-unreachable"
	KindHostUnreachable     ICMPKind = "host-unreachable"
	KindProtocolUnreachable ICMPKind = "protocol-unreachable"
	KindPortUnreachable     ICMPKind = "port-unreachable"
	KindProhibited          ICMPKind = "admin-prohibited"
	KindFragNeeded          ICMPKind = "frag-needed"
	KindTimeExceeded        ICMPKind = "time-exceeded"
	KindParameterProblem    ICMPKind = "parameter-problem"
	KindOther               ICMPKind = "other"
)

// Message is one ICMP message a Listener heard about a packet this process
// sent: an error (Err not nil), or an echo reply.
type Message struct {
	// Err is the error message, nil for an echo reply.
	Err *ICMPError
	// Proto is the protocol of the packet the message is about (ProtoICMP
	// or ProtoICMPv6 for echo requests and replies).
	Proto int
	// Dst is the destination of that packet (for an echo reply, the
	// address that answered).
	Dst netip.Addr
	// SrcPort and DstPort are its TCP or UDP ports; ID and Seq its ICMP
	// echo identifier and sequence number.
	SrcPort, DstPort uint16
	ID, Seq          uint16
	// Bytes is the size of the ICMP message, TTL the TTL (hop limit) of
	// the packet that carried it.
	Bytes, TTL int
	// Data is the payload of an echo reply, nil for errors.
	Data []byte
	// At is when the kernel received the message (SO_TIMESTAMPNS), or when
	// the listener read it if the kernel gave no time.
	At time.Time
	// Sent, for an echo reply or an error about an echo request, is when
	// the kernel sent that request (see ListenEcho); zero when that was not
	// seen.
	Sent time.Time
}

// key is what a subscriber waits for: messages about packets of proto to
// dst, with ICMP echo identifier (or TCP or UDP source port) id.
type key struct {
	proto int
	dst   netip.Addr
	id    uint16
}

// Listener hears the ICMP (or ICMPv6) messages about packets this process
// sends, on a raw socket (root or CAP_NET_RAW), and hands each to whoever
// subscribed to its quoted destination and identifier. pro-bing's sockets
// filter ICMP errors out; a Listener is how ping hears them. One opened by
// ListenEcho also gives the kernel's send times of echo requests.
type Listener struct {
	c       *net.IPConn
	v6      bool
	replies bool     // echo replies are heard too
	tap     *sendTap // the send times of echo requests; nil unless asked for, or when it cannot be opened
	local   map[netip.Addr]bool
	mu      sync.Mutex
	subs    map[key]func(Message)
	closed  chan struct{}
}

// Listen opens a Listener for IPv6 or IPv4. With replies, echo replies are
// heard too, else only errors (destination unreachable, time exceeded,
// packet too big, parameter problem). It fails with the socket's error
// (EPERM) without raw socket rights.
func Listen(v6, replies bool) (*Listener, error) {
	return listen(v6, replies, false)
}

// ListenEcho opens a Listener that hears echo replies too, as
// Listen(v6, true) does, and that gives every message about an echo request
// this machine sent, reply or error, the kernel's send time of that request
// (Message.Sent, from a sendTap): RTTs from it leave this process's send
// path out.
func ListenEcho(v6 bool) (*Listener, error) {
	return listen(v6, true, true)
}

// listen opens a Listener as Listen does; with tap (and replies) it also
// opens a sendTap (see ListenEcho).
func listen(v6, replies, tap bool) (*Listener, error) {
	network := "ip4:icmp"
	if v6 {
		network = "ip6:ipv6-icmp"
	}
	pc, err := net.ListenPacket(network, "")
	if err != nil {
		return nil, err
	}
	c := pc.(*net.IPConn)
	if err := setupListener(c, v6, replies); err != nil {
		c.Close()
		return nil, err
	}
	l := &Listener{c: c, v6: v6, replies: replies, local: localAddrs(), subs: map[key]func(Message){}, closed: make(chan struct{})}
	if replies && tap {
		// Without the tap, RTTs start at the time in the probe.
		l.tap, _ = openSendTap(v6)
	}
	go l.loop()
	return l, nil
}

// setupListener installs the kernel's ICMP type filter, so that the
// listener does not wake for every echo reply of every ping, and asks for
// receive timestamps.
func setupListener(c *net.IPConn, v6, replies bool) error {
	var err error
	if v6 {
		var f ipv6.ICMPFilter
		f.SetAll(true)
		for _, t := range []ipv6.ICMPType{ipv6.ICMPTypeDestinationUnreachable, ipv6.ICMPTypePacketTooBig, ipv6.ICMPTypeTimeExceeded, ipv6.ICMPTypeParameterProblem} {
			f.Accept(t)
		}
		if replies {
			f.Accept(ipv6.ICMPTypeEchoReply)
		}
		err = ipv6.NewPacketConn(c).SetICMPFilter(&f)
	} else {
		var f ipv4.ICMPFilter
		f.SetAll(true)
		for _, t := range []ipv4.ICMPType{ipv4.ICMPTypeDestinationUnreachable, ipv4.ICMPTypeTimeExceeded, ipv4.ICMPTypeParameterProblem} {
			f.Accept(t)
		}
		if replies {
			f.Accept(ipv4.ICMPTypeEchoReply)
		}
		err = ipv4.NewPacketConn(c).SetICMPFilter(&f)
	}
	if err != nil {
		return fmt.Errorf("ICMP filter: %w", err)
	}
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1)
		if serr == nil && v6 {
			serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IPV6, unix.IPV6_RECVHOPLIMIT, 1)
		}
	}); err != nil {
		return err
	}
	return serr
}

// localAddrs are the addresses of this machine's interfaces (of the network
// namespace), to tell this machine's own errors from a router's.
func localAddrs() map[netip.Addr]bool {
	m := map[netip.Addr]bool{}
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if p, err := netip.ParsePrefix(a.String()); err == nil {
			m[p.Addr().Unmap()] = true
		}
	}
	return m
}

// Subscribe calls f, from the listener's goroutine, with every message
// about a packet of protocol proto to dst whose ICMP echo identifier (or
// TCP or UDP source port) is id, until the returned cancel is called. One
// subscriber per key: a later one replaces the earlier.
func (l *Listener) Subscribe(proto int, dst netip.Addr, id uint16, f func(Message)) (cancel func()) {
	k := key{proto, dst.WithZone(""), id}
	l.mu.Lock()
	l.subs[k] = f
	l.mu.Unlock()
	return func() {
		l.mu.Lock()
		delete(l.subs, k)
		l.mu.Unlock()
	}
}

// WriteTo sends b, an ICMP message, to dst with the TTL (hop limit) ttl.
// Calls must not run concurrently: the TTL is the socket's.
func (l *Listener) WriteTo(b []byte, dst netip.Addr, ttl int) error {
	var err error
	if l.v6 {
		err = ipv6.NewPacketConn(l.c).SetHopLimit(ttl)
	} else {
		err = ipv4.NewPacketConn(l.c).SetTTL(ttl)
	}
	if err != nil {
		return err
	}
	_, err = l.c.WriteToIP(b, &net.IPAddr{IP: dst.AsSlice(), Zone: dst.Zone()})
	return err
}

// SetProbeMTU makes the packets WriteTo sends carry "don't fragment"
// (IPv4 DF; IPv6 never fragments on the way) whatever the path MTU this
// machine has cached, as tracepath's probes do: a packet too large for a
// link is then dropped there, with or without a "fragmentation needed".
func (l *Listener) SetProbeMTU() error {
	rc, err := l.c.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	err = rc.Control(func(fd uintptr) {
		if l.v6 {
			serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IPV6, unix.IPV6_MTU_DISCOVER, unix.IPV6_PMTUDISC_PROBE)
		} else {
			serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_MTU_DISCOVER, unix.IP_PMTUDISC_PROBE)
		}
	})
	return cmp.Or(err, serr)
}

// Close stops the listener.
func (l *Listener) Close() error {
	return l.c.Close()
}

// closeTap closes the tap, once the loop that reads it has ended.
func (l *Listener) closeTap() {
	if l.tap != nil {
		l.tap.close()
	}
}

// loop reads messages until the socket closes.
func (l *Listener) loop() {
	buf := make([]byte, 1<<16)
	oob := make([]byte, 128)
	defer l.closeTap()
	for {
		n, oobn, _, from, err := l.c.ReadMsgIP(buf, oob)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		at, ttl := control(oob[:oobn])
		src, _ := netip.AddrFromSlice(from.IP)
		b := buf[:n]
		if !l.v6 && n >= 20 && b[0]>>4 == 4 && n >= int(b[0]&0x0f)*4 {
			ttl = int(b[8])
			b = b[int(b[0]&0x0f)*4:] // ReadMsgIP keeps the IPv4 header
		}
		m, ok := ParseMessage(l.v6, src.Unmap(), b)
		if !ok {
			continue
		}
		m.At, m.TTL = at, ttl
		if m.Err != nil {
			m.Err.Local = l.local[m.Err.From]
		}
		if l.tap != nil && (m.Proto == ProtoICMP || m.Proto == ProtoICMPv6) {
			// A packet the kernel did not stamp when it left (its
			// timestamps are switched on a moment after the first
			// socket asks) is stamped when read: after the answer.
			if sent, ok := l.tap.sentAt(m.Dst, m.ID, m.Seq); ok && !sent.After(at) {
				m.Sent = sent
			}
		}
		id := m.ID
		if m.Proto == ProtoTCP || m.Proto == ProtoUDP {
			id = m.SrcPort
		}
		l.mu.Lock()
		f := l.subs[key{m.Proto, m.Dst, id}]
		l.mu.Unlock()
		if f != nil {
			f(m)
		}
	}
}

// control reads the receive time (SCM_TIMESTAMPNS; now when the kernel
// gave none) and the IPv6 hop limit (0 when absent) from the control
// messages in oob.
func control(oob []byte) (at time.Time, hopLimit int) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err == nil {
		for _, m := range msgs {
			switch {
			case m.Header.Level == unix.SOL_SOCKET && m.Header.Type == unix.SCM_TIMESTAMPNS && len(m.Data) >= int(unsafe.Sizeof(unix.Timespec{})):
				ts := (*unix.Timespec)(unsafe.Pointer(&m.Data[0]))
				at = time.Unix(ts.Unix())
			case m.Header.Level == unix.IPPROTO_IPV6 && m.Header.Type == unix.IPV6_HOPLIMIT && len(m.Data) >= 4:
				hopLimit = int(*(*int32)(unsafe.Pointer(&m.Data[0])))
			}
		}
	}
	if at.IsZero() {
		at = time.Now()
	}
	return at, hopLimit
}

// ParseMessage reads an ICMP (v6 false) or ICMPv6 message b that from sent,
// as a raw socket returns it (without the IP header): an echo reply or an
// error quoting an ICMP echo request, a TCP segment or a UDP datagram. It
// reports false for anything else and for truncated messages.
func ParseMessage(v6 bool, from netip.Addr, b []byte) (Message, bool) {
	if len(b) < 8 {
		return Message{}, false
	}
	typ, code := int(b[0]), int(b[1])
	echoReply, echoRequest, icmpProto := 0, 8, ProtoICMP
	if v6 {
		echoReply, echoRequest, icmpProto = 129, 128, ProtoICMPv6
	}
	if typ == echoReply {
		return Message{Proto: icmpProto, Dst: from, ID: binary.BigEndian.Uint16(b[4:]), Seq: binary.BigEndian.Uint16(b[6:]), Bytes: len(b),
			Data: slices.Clone(b[8:])}, true
	}
	kind, text, ok := describe(v6, typ, code, b[4:8])
	if !ok {
		return Message{}, false
	}
	m := Message{Bytes: len(b)}
	var payload []byte
	m.Proto, m.Dst, payload, ok = ipPacket(v6, b[8:])
	if !ok {
		return Message{}, false
	}
	switch m.Proto {
	case icmpProto:
		if int(payload[0]) != echoRequest {
			return Message{}, false
		}
		m.ID, m.Seq = binary.BigEndian.Uint16(payload[4:]), binary.BigEndian.Uint16(payload[6:])
	case ProtoTCP, ProtoUDP:
		m.SrcPort, m.DstPort = binary.BigEndian.Uint16(payload), binary.BigEndian.Uint16(payload[2:])
	default:
		return Message{}, false
	}
	m.Err = &ICMPError{From: from, Type: typ, Code: code, Text: text, Kind: kind, Dst: m.Dst, Protocol: "icmp"}
	switch m.Proto {
	case ProtoTCP:
		m.Err.Protocol, m.Err.Port = "tcp", int(m.DstPort)
	case ProtoUDP:
		m.Err.Protocol, m.Err.Port = "udp", int(m.DstPort)
	}
	if kind == KindFragNeeded {
		m.Err.MTU = mtuOf(v6, b[4:8])
	}
	return m, true
}

// ipPacket reads the protocol and destination of an IPv6 (v6) or IPv4
// packet b, and returns what follows its header, of at least 8 bytes (an
// ICMP header, or a TCP or UDP segment's ports). IPv6 extension headers are
// not followed. It reports false for anything shorter or of the other
// version.
func ipPacket(v6 bool, b []byte) (proto int, dst netip.Addr, payload []byte, ok bool) {
	if v6 {
		if len(b) < 40 || b[0]>>4 != 6 {
			return 0, netip.Addr{}, nil, false
		}
		proto, payload = int(b[6]), b[40:]
		dst, _ = netip.AddrFromSlice(b[24:40])
	} else {
		if len(b) < 20 || b[0]>>4 != 4 {
			return 0, netip.Addr{}, nil, false
		}
		ihl := int(b[0]&0x0f) * 4
		if ihl < 20 || len(b) < ihl {
			return 0, netip.Addr{}, nil, false
		}
		proto, payload = int(b[9]), b[ihl:]
		dst, _ = netip.AddrFromSlice(b[16:20])
	}
	return proto, dst, payload, len(payload) >= 8
}

// mtuOf is the next hop's MTU in the second word of the ICMP header: its
// low 16 bits for IPv4 (RFC 1191), all 32 for ICMPv6.
func mtuOf(v6 bool, rest []byte) int {
	if v6 {
		return int(binary.BigEndian.Uint32(rest))
	}
	return int(binary.BigEndian.Uint16(rest[2:]))
}

// describe classifies an ICMP error and words it as iputils ping (20240117)
// does; rest is the second word of the header. It reports false for types
// that are not errors about a packet sent.
func describe(v6 bool, typ, code int, rest []byte) (ICMPKind, string, bool) {
	if v6 {
		return describe6(typ, code, rest)
	}
	switch typ {
	case 3: // destination unreachable
		k, text := unreach4(code)
		if k == KindFragNeeded {
			text = fmt.Sprintf("Frag needed and DF set (mtu = %d)", mtuOf(false, rest))
		}
		return k, text, true
	case 11:
		switch code {
		case 0:
			return KindTimeExceeded, "Time to live exceeded", true
		case 1:
			return KindTimeExceeded, "Frag reassembly time exceeded", true
		}
		return KindTimeExceeded, fmt.Sprintf("Time exceeded, Bad Code: %d", code), true
	case 12:
		return KindParameterProblem, fmt.Sprintf("Parameter problem: pointer = %d", rest[0]), true
	}
	return "", "", false
}

// unreach4 classifies and words the codes of an IPv4 destination
// unreachable, as iputils ping.
func unreach4(code int) (ICMPKind, string) {
	switch code {
	case 0:
		return KindNetUnreachable, "Destination Net Unreachable"
	case 1:
		return KindHostUnreachable, "Destination Host Unreachable"
	case 2:
		return KindProtocolUnreachable, "Destination Protocol Unreachable"
	case 3:
		return KindPortUnreachable, "Destination Port Unreachable"
	case 4:
		return KindFragNeeded, ""
	case 5:
		return KindOther, "Source Route Failed"
	case 6:
		return KindNetUnreachable, "Destination Net Unknown"
	case 7:
		return KindHostUnreachable, "Destination Host Unknown"
	case 8:
		return KindOther, "Source Host Isolated"
	case 9:
		return KindProhibited, "Destination Net Prohibited"
	case 10:
		return KindProhibited, "Destination Host Prohibited"
	case 11:
		return KindNetUnreachable, "Destination Net Unreachable for Type of Service"
	case 12:
		return KindHostUnreachable, "Destination Host Unreachable for Type of Service"
	case 13:
		return KindProhibited, "Packet filtered"
	case 14:
		return KindProhibited, "Precedence Violation"
	case 15:
		return KindProhibited, "Precedence Cutoff"
	}
	return KindOther, fmt.Sprintf("Dest Unreachable, Bad Code: %d", code)
}

// describe6 is describe for ICMPv6.
func describe6(typ, code int, rest []byte) (ICMPKind, string, bool) {
	switch typ {
	case 1: // destination unreachable
		kinds := []struct {
			k    ICMPKind
			text string
		}{
			{KindNetUnreachable, "No route"},
			{KindProhibited, "Administratively prohibited"},
			{KindOther, "Beyond scope of source address"},
			{KindHostUnreachable, "Address unreachable"},
			{KindPortUnreachable, "Port unreachable"},
			{KindProhibited, "Source address failed ingress/egress policy"},
			{KindProhibited, "Reject route to destination"},
		}
		if code < len(kinds) {
			return kinds[code].k, "Destination unreachable: " + kinds[code].text, true
		}
		return KindOther, fmt.Sprintf("Destination unreachable: Unknown code %d", code), true
	case 2:
		return KindFragNeeded, fmt.Sprintf("Packet too big: mtu=%d", mtuOf(true, rest)), true
	case 3:
		switch code {
		case 0:
			return KindTimeExceeded, "Time exceeded: Hop limit", true
		case 1:
			return KindTimeExceeded, "Time exceeded: Defragmentation failure", true
		}
		return KindTimeExceeded, fmt.Sprintf("Time exceeded: code %d", code), true
	case 4:
		what := []string{"Wrong header field ", "Unknown header ", "Unknown option "}
		w := fmt.Sprintf("code %d ", code)
		if code < len(what) {
			w = what[code]
		}
		return KindParameterProblem, fmt.Sprintf("Parameter problem: %sat %d", w, binary.BigEndian.Uint32(rest)), true
	}
	return "", "", false
}
