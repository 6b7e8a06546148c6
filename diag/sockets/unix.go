package sockets

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"

	"golang.org/x/sys/unix"
)

// UNIX sockets come from the kernel's sock_diag netlink interface, as ss
// reads them, rather than from /proc/net/unix: only sock_diag tells which
// socket is connected to which (UNIX_DIAG_PEER), and it gives the queues
// and the creator's uid as well. The constants below are those of
// include/uapi/linux/unix_diag.h.
const (
	sockDiagByFamily = 20 // SOCK_DIAG_BY_FAMILY

	udiagShowName  = 0x01
	udiagShowPeer  = 0x04
	udiagShowRQLen = 0x10
	udiagShowUID   = 0x40

	unixDiagName  = 0
	unixDiagPeer  = 2
	unixDiagRQLen = 4
	unixDiagUID   = 7

	// unixDiagMsgLen is the size of struct unix_diag_msg: family, type,
	// state, pad (one byte each), inode (u32) and a two-word cookie.
	unixDiagMsgLen = 16
)

// unixTypes names the socket types of udiag_type.
var unixTypes = map[uint8]string{unix.SOCK_STREAM: "stream", unix.SOCK_DGRAM: "dgram", unix.SOCK_SEQPACKET: "seqpacket"}

// listUnix appends the UNIX sockets of the calling thread's network
// namespace that f keeps. Each connected socket's PeerPath is the name of
// its peer, which the filter may have dropped, so every socket is read
// before any is filtered. Where the kernel has no sock_diag for UNIX
// sockets, they come from /proc/net/unix, without peers or queues, and
// note says so.
func listUnix(f socketFilter, socks []Socket) (_ []Socket, note string, err error) {
	all, err := dumpUnix()
	if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.EPROTONOSUPPORT) {
		note = "UNIX sockets are read from /proc/net/unix: this kernel has no sock_diag for them (module unix_diag), " +
			"so their peers and queues are not shown"
		all, err = readProcNetUnix()
	}
	if err != nil {
		return socks, "", fmt.Errorf("list UNIX sockets: %w", err)
	}
	paths := make(map[uint64]string, len(all))
	for i := range all {
		if all[i].Path != "" {
			paths[all[i].Inode] = all[i].Path
		}
	}
	for i := range all {
		s := &all[i]
		if s.PeerInode != 0 {
			s.PeerPath = paths[s.PeerInode]
		}
		if f.keep(s) {
			socks = append(socks, *s)
		}
	}
	return socks, note, nil
}

// readProcNetUnix reads the UNIX sockets of the calling thread's network
// namespace from /proc/net/unix, leaving out the connections a listener
// has not accepted yet (inode 0), as sock_diag does.
func readProcNetUnix() ([]Socket, error) {
	runtime.LockOSThread()
	b, err := os.ReadFile(procNetDir() + "unix")
	runtime.UnlockOSThread()
	if err != nil {
		return nil, err
	}
	var socks []Socket
	for n, line := range bytes.Split(b, []byte{'\n'}) {
		if n == 0 || len(line) == 0 {
			continue
		}
		s, err := parseProcNetUnixLine(line)
		if err != nil {
			return nil, fmt.Errorf("read /proc/net/unix line %d: %w", n+1, err)
		}
		if s.Inode != 0 {
			socks = append(socks, s)
		}
	}
	return socks, nil
}

// soAcceptCon is the flag of a listening socket in /proc/net/unix's Flags
// column (__SO_ACCEPTCON).
const soAcceptCon = 1 << 16

// parseProcNetUnixLine reads one line of /proc/net/unix (after the
// header), as net/unix/af_unix.c unix_seq_show writes it:
//
//	Num       RefCount Protocol Flags    Type St Inode Path
//	0000000057055358: 00000002 00000000 00010000 0001 01 48164 /tmp/a.sock
//
// St is the socket's SS_ state: 1 unconnected, 2 connecting, 3 connected,
// 4 disconnecting. The path is the rest of the line, "@" for each NUL of
// an abstract name.
func parseProcNetUnixLine(line []byte) (Socket, error) {
	var fields [7][]byte
	rest, ok := splitFields(line, fields[:])
	if !ok {
		return Socket{}, errProcNetLine
	}
	num := fields[0]
	_, ok0 := parseHex(num[:len(num)-1], 64)
	flags, ok1 := parseHex(fields[3], 32)
	typ, ok2 := parseHex(fields[4], 16)
	st, ok3 := parseHex(fields[5], 8)
	inode, ok4 := parseDec(fields[6], 64)
	if num[len(num)-1] != ':' || !ok0 || !ok1 || !ok2 || !ok3 || !ok4 {
		return Socket{}, errProcNetLine
	}
	s := Socket{Proto: ProtoUnix, Family: "unix", Inode: inode, Type: unixTypes[uint8(typ)]}
	if s.Type == "" || typ > 0xff {
		s.Type = fmt.Sprintf("type%d", typ)
	}
	switch {
	case flags&soAcceptCon != 0:
		s.State = StateListen
	case st == 2:
		s.State = StateSynSent
	case st == 3:
		s.State = StateEstablished
	case st == 4:
		s.State = StateClosing
	default:
		s.State = StateUnconn
	}
	if len(rest) > 0 && rest[0] == ' ' {
		s.Path = string(bytes.TrimRight(rest[1:], "\r\n"))
	}
	return s, nil
}

// dumpUnix asks the kernel for every UNIX socket over a sock_diag netlink
// socket opened on the calling thread, so in its network namespace.
func dumpUnix() ([]Socket, error) {
	runtime.LockOSThread()
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.NETLINK_SOCK_DIAG)
	runtime.UnlockOSThread()
	if err != nil {
		return nil, fmt.Errorf("open sock_diag netlink socket: %w", err)
	}
	defer unix.Close(fd)
	// struct nlmsghdr, then struct unix_diag_req: family, protocol, pad,
	// states (every one), inode (any), what to show, cookie.
	req := make([]byte, unix.NLMSG_HDRLEN+24)
	ne := binary.NativeEndian
	ne.PutUint32(req[0:], uint32(len(req)))
	ne.PutUint16(req[4:], sockDiagByFamily)
	ne.PutUint16(req[6:], unix.NLM_F_REQUEST|unix.NLM_F_DUMP)
	ne.PutUint32(req[8:], 1)
	body := req[unix.NLMSG_HDRLEN:]
	body[0] = unix.AF_UNIX
	ne.PutUint32(body[4:], ^uint32(0))
	ne.PutUint32(body[12:], udiagShowName|udiagShowPeer|udiagShowRQLen|udiagShowUID)
	if err := unix.Sendto(fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return nil, fmt.Errorf("send sock_diag request: %w", err)
	}
	var socks []Socket
	buf := make([]byte, 64<<10)
	for {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read sock_diag reply: %w", err)
		}
		var done bool
		socks, done, err = parseUnixDiag(buf[:n], socks)
		if err != nil || done {
			return socks, err
		}
	}
}

// errUnixDiag is the error of a sock_diag reply netkit cannot read.
var errUnixDiag = errors.New("malformed sock_diag reply")

// parseUnixDiag appends the sockets of one read of a sock_diag dump to
// socks. done is true at the dump's end (NLMSG_DONE); an NLMSG_ERROR
// message is returned as the errno it carries.
func parseUnixDiag(b []byte, socks []Socket) (_ []Socket, done bool, err error) {
	ne := binary.NativeEndian
	for len(b) > 0 {
		if len(b) < unix.NLMSG_HDRLEN {
			return socks, false, errUnixDiag
		}
		msgLen := int(ne.Uint32(b[0:]))
		typ := ne.Uint16(b[4:])
		if msgLen < unix.NLMSG_HDRLEN || msgLen > len(b) {
			return socks, false, errUnixDiag
		}
		payload := b[unix.NLMSG_HDRLEN:msgLen]
		b = b[min(nlmAlign(msgLen), len(b)):]
		switch typ {
		case unix.NLMSG_DONE:
			return socks, true, nil
		case unix.NLMSG_ERROR:
			if len(payload) < 4 {
				return socks, false, errUnixDiag
			}
			errno := -int32(ne.Uint32(payload))
			if errno <= 0 {
				return socks, false, errUnixDiag
			}
			return socks, false, unix.Errno(errno)
		case sockDiagByFamily:
			s, err := parseUnixDiagMsg(payload)
			if err != nil {
				return socks, false, err
			}
			socks = append(socks, s)
		}
	}
	return socks, false, nil
}

// nlmAlign rounds n up to netlink's 4-byte alignment.
func nlmAlign(n int) int { return (n + 3) &^ 3 }

// parseUnixDiagMsg reads one struct unix_diag_msg and its attributes.
func parseUnixDiagMsg(b []byte) (Socket, error) {
	ne := binary.NativeEndian
	if len(b) < unixDiagMsgLen || b[0] != unix.AF_UNIX {
		return Socket{}, errUnixDiag
	}
	s := Socket{Proto: ProtoUnix, Family: "unix", Inode: uint64(ne.Uint32(b[4:]))}
	s.Type = unixTypes[b[1]]
	if s.Type == "" {
		s.Type = fmt.Sprintf("type%d", b[1])
	}
	s.State = kernelState(uint64(b[2]))
	if s.State == StateClose {
		s.State = StateUnconn
	}
	attrs := b[unixDiagMsgLen:]
	for len(attrs) >= 4 {
		l, typ := int(ne.Uint16(attrs[0:])), ne.Uint16(attrs[2:])
		if l < 4 || l > len(attrs) {
			return Socket{}, errUnixDiag
		}
		v := attrs[4:l]
		attrs = attrs[min(nlmAlign(l), len(attrs)):]
		switch typ {
		case unixDiagName:
			s.Path = unixName(v)
		case unixDiagPeer:
			if len(v) < 4 {
				return Socket{}, errUnixDiag
			}
			s.PeerInode = uint64(ne.Uint32(v))
		case unixDiagRQLen:
			if len(v) < 8 {
				return Socket{}, errUnixDiag
			}
			s.RecvQ, s.SendQ = int(ne.Uint32(v)), int(ne.Uint32(v[4:]))
		case unixDiagUID:
			if len(v) < 4 {
				return Socket{}, errUnixDiag
			}
			s.UID = ne.Uint32(v)
		}
	}
	return s, nil
}

// unixName writes the sun_path bytes of a bound socket as ss does: a path
// without its terminating NUL; an abstract name (a leading NUL) with "@"
// for each NUL, "@name".
func unixName(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if b[0] != 0 {
		if i := strings.IndexByte(string(b), 0); i >= 0 {
			b = b[:i]
		}
		return string(b)
	}
	return strings.ReplaceAll(string(b), "\x00", "@")
}
