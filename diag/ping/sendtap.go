package ping

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"time"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// sendTap hears, on a packet socket (AF_PACKET: root or CAP_NET_RAW), the
// ICMP echo requests this machine sends, with the time the kernel handed
// each to its network device, as tcpdump sees them. A reply's RTT from that
// time to the kernel's receive time is the network's alone: it leaves out
// the time between the send time pro-bing writes into a probe and the
// packet reaching the kernel, which in Go is about 20 µs on loopback, as
// long as the network's own share there (iputils: 6-17 µs).
//
// It is read only when a reply needs its request's time: the request was
// queued on the tap before the reply existed, so it is there to be read.
// Only the Listener's goroutine uses it.
type sendTap struct {
	fd   int
	v6   bool
	sent map[tapKey]time.Time
	buf  []byte
	oob  []byte
}

// tapKey names an echo request: its destination, identifier and sequence.
type tapKey struct {
	dst     netip.Addr
	id, seq uint16
}

// tapSnap is how much of a request the tap keeps: the IP header (at most
// 60 bytes for IPv4, 40 for IPv6) and the ICMP header.
const tapSnap = 68

// maxTapped bounds the send times kept (a request's stays for its
// duplicates, until the sequence comes round again); past it they are
// forgotten, and the replies to those requests fall back to the time in
// the probe.
const maxTapped = 1 << 14

// openSendTap opens the tap for IPv6 or IPv4 echo requests.
func openSendTap(v6 bool) (*sendTap, error) {
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, int(htons(unix.ETH_P_ALL)))
	if err != nil {
		return nil, err
	}
	t := &sendTap{fd: fd, v6: v6, sent: map[tapKey]time.Time{}, buf: make([]byte, tapSnap), oob: make([]byte, 128)}
	if err := t.setup(); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return t, nil
}

// htons is v in network byte order, as AF_PACKET wants its protocol.
func htons(v uint16) uint16 { return v<<8 | v>>8 }

// setup asks for send times and installs the filter: outgoing echo
// requests of the family only, cut to their first bytes.
func (t *sendTap) setup() error {
	if err := unix.SetsockoptInt(t.fd, unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1); err != nil {
		return err
	}
	// Each JumpIf skips to the last instruction, which drops the packet.
	prog := []bpf.Instruction{
		bpf.LoadExtension{Num: bpf.ExtType},
		bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: unix.PACKET_OUTGOING, SkipTrue: 8},
		bpf.LoadExtension{Num: bpf.ExtProto},
		bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: unix.ETH_P_IP, SkipTrue: 6},
		bpf.LoadAbsolute{Off: 9, Size: 1}, // protocol
		bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: ProtoICMP, SkipTrue: 4},
		bpf.LoadMemShift{Off: 0}, // X: the header's length
		bpf.LoadIndirect{Off: 0, Size: 1},
		bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: 8, SkipTrue: 1}, // echo request
		bpf.RetConstant{Val: tapSnap},
		bpf.RetConstant{Val: 0},
	}
	if t.v6 {
		// The ICMPv6 header follows the fixed header: netkit's probes
		// carry no extension headers.
		prog = []bpf.Instruction{
			bpf.LoadExtension{Num: bpf.ExtType},
			bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: unix.PACKET_OUTGOING, SkipTrue: 7},
			bpf.LoadExtension{Num: bpf.ExtProto},
			bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: unix.ETH_P_IPV6, SkipTrue: 5},
			bpf.LoadAbsolute{Off: 6, Size: 1}, // next header
			bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: ProtoICMPv6, SkipTrue: 3},
			bpf.LoadAbsolute{Off: 40, Size: 1},
			bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: 128, SkipTrue: 1}, // echo request
			bpf.RetConstant{Val: tapSnap},
			bpf.RetConstant{Val: 0},
		}
	}
	raw, err := bpf.Assemble(prog)
	if err != nil {
		return err
	}
	filter := make([]unix.SockFilter, len(raw))
	for i, r := range raw {
		filter[i] = unix.SockFilter{Code: r.Op, Jt: r.Jt, Jf: r.Jf, K: r.K}
	}
	return unix.SetsockoptSockFprog(t.fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]})
}

// sentAt returns the time the kernel sent the echo request to dst with
// identifier id and sequence seq, reading what the tap holds first; false
// when the tap did not see it.
func (t *sendTap) sentAt(dst netip.Addr, id, seq uint16) (time.Time, bool) {
	t.drain()
	at, ok := t.sent[tapKey{dst.WithZone(""), id, seq}]
	return at, ok
}

// drain reads every request queued on the tap.
func (t *sendTap) drain() {
	for {
		n, oobn, _, _, err := unix.Recvmsg(t.fd, t.buf, t.oob, unix.MSG_DONTWAIT)
		if err != nil {
			if !errors.Is(err, unix.EINTR) {
				return // EAGAIN: nothing more
			}
			continue
		}
		k, ok := t.parse(t.buf[:n])
		if !ok {
			continue
		}
		if len(t.sent) >= maxTapped {
			clear(t.sent)
		}
		t.sent[k], _ = control(t.oob[:oobn])
	}
}

// parse reads the destination, identifier and sequence of an echo request
// from its IP packet.
func (t *sendTap) parse(b []byte) (tapKey, bool) {
	_, dst, icmp, ok := ipPacket(t.v6, b)
	if !ok {
		return tapKey{}, false
	}
	return tapKey{dst, binary.BigEndian.Uint16(icmp[4:]), binary.BigEndian.Uint16(icmp[6:])}, true
}

func (t *sendTap) close() error {
	return unix.Close(t.fd)
}
