package probe

import (
	"fmt"
	"net/netip"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// reasonAdminProhibited is the reason of a connect that a router or the
// host refused with ICMP "administratively prohibited": a firewall's
// reject rule, which the errno (EHOSTUNREACH, ENETUNREACH) does not tell
// from a host that is down.
const reasonAdminProhibited = "ICMP-ADMIN-PROHIBITED"

// icmpError is the ICMP message that ended a connect, as the kernel
// queued it on the socket (IP_RECVERR): its type and code, and who sent
// it, around the dial's error.
type icmpError struct {
	v6        bool
	typ, code uint8
	from      netip.Addr
	err       error
}

func (e *icmpError) Error() string {
	what := fmt.Sprintf("ICMP type %d code %d", e.typ, e.code)
	if e.adminProhibited() {
		what = "ICMP administratively prohibited"
	}
	if e.from.IsValid() {
		what += " from " + e.from.String()
	}
	return fmt.Sprintf("%v (%s)", e.err, what)
}

func (e *icmpError) Unwrap() error { return e.err }

// adminProhibited reports whether the message says a filter refused the
// packet: ICMP destination unreachable with code 9, 10 or 13 (RFC 1812),
// or ICMPv6 destination unreachable with code 1 (RFC 4443).
func (e *icmpError) adminProhibited() bool {
	if e.v6 {
		return e.typ == 1 && e.code == 1
	}
	return e.typ == 3 && (e.code == 9 || e.code == 10 || e.code == 13)
}

// icmpWatch asks the kernel to queue the ICMP errors of a dial's sockets
// and reads them once the dial failed. Its control method is a
// net.Dialer Control function: it sets IP_RECVERR (IPV6_RECVERR) and
// keeps a duplicate of the socket, so that the queue can still be read
// after the dialer closed its own descriptor.
type icmpWatch struct {
	mu  sync.Mutex
	fds []int
	v6  []bool
}

func (w *icmpWatch) control(network, _ string, c syscall.RawConn) error {
	// Best effort: a socket that takes neither the option nor the
	// duplicate still connects, only without the ICMP detail.
	return c.Control(func(fd uintptr) {
		v6 := network == "tcp6"
		level, opt := unix.IPPROTO_IP, unix.IP_RECVERR
		if v6 {
			level, opt = unix.IPPROTO_IPV6, unix.IPV6_RECVERR
		}
		if unix.SetsockoptInt(int(fd), level, opt, 1) != nil {
			return
		}
		dup, err := unix.FcntlInt(fd, unix.F_DUPFD_CLOEXEC, 0)
		if err != nil {
			return
		}
		w.mu.Lock()
		w.fds, w.v6 = append(w.fds, dup), append(w.v6, v6)
		w.mu.Unlock()
	})
}

// explain returns err with the ICMP error the kernel queued for the dial,
// when there is one, and closes the duplicates. Call it once the dial
// returned, whatever it returned.
func (w *icmpWatch) explain(err error) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	for i, fd := range w.fds {
		if err != nil {
			if ie := readICMPError(fd, w.v6[i]); ie != nil {
				ie.err = err
				err = ie
			}
		}
		unix.Close(fd)
	}
	w.fds, w.v6 = nil, nil
	return err
}

// readICMPError reads the first ICMP error queued on fd, nil when there
// is none.
func readICMPError(fd int, v6 bool) *icmpError {
	buf := make([]byte, 512)
	oob := make([]byte, 512)
	_, oobn, _, _, err := unix.Recvmsg(fd, buf, oob, unix.MSG_ERRQUEUE|unix.MSG_DONTWAIT)
	if err != nil {
		return nil
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil {
		return nil
	}
	for _, m := range msgs {
		v4msg := m.Header.Level == unix.IPPROTO_IP && m.Header.Type == unix.IP_RECVERR
		v6msg := m.Header.Level == unix.IPPROTO_IPV6 && m.Header.Type == unix.IPV6_RECVERR
		if !v4msg && !v6msg || len(m.Data) < sizeofSockExtendedErr {
			continue
		}
		// struct sock_extended_err: errno (4 bytes), origin, type, code,
		// pad, info (4), data (4); then the sender's sockaddr.
		origin := m.Data[4]
		if origin != unix.SO_EE_ORIGIN_ICMP && origin != unix.SO_EE_ORIGIN_ICMP6 {
			continue
		}
		ie := &icmpError{v6: origin == unix.SO_EE_ORIGIN_ICMP6, typ: m.Data[5], code: m.Data[6]}
		ie.from = offender(m.Data[sizeofSockExtendedErr:])
		return ie
	}
	return nil
}

// sizeofSockExtendedErr is the size of struct sock_extended_err.
const sizeofSockExtendedErr = 16

// offender reads the address of a sockaddr_in or sockaddr_in6, invalid
// when sa is neither.
func offender(sa []byte) netip.Addr {
	if len(sa) < 2 {
		return netip.Addr{}
	}
	switch family := uint16(sa[0]) | uint16(sa[1])<<8; {
	case family == unix.AF_INET && len(sa) >= 8:
		return netip.AddrFrom4([4]byte(sa[4:8]))
	case family == unix.AF_INET6 && len(sa) >= 24:
		return netip.AddrFrom16([16]byte(sa[8:24]))
	}
	return netip.Addr{}
}
