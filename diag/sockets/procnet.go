package sockets

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"runtime"
	"sync"
	"time"

	"github.com/netkit/netkit/units"
)

// procNetTable is one of the kernel's socket tables in /proc/net.
type procNetTable struct {
	name  string // file name in /proc/net
	proto string // Socket.Proto
	tcp   bool   // false: UDP or raw
	raw   bool   // false: TCP or UDP
	v6    bool   // false: IPv4
}

// procNetTables are the tables List reads, in the order it lists
// them.
var procNetTables = []procNetTable{
	{name: "tcp", proto: ProtoTCP, tcp: true},
	{name: "tcp6", proto: ProtoTCP6, tcp: true, v6: true},
	{name: "udp", proto: ProtoUDP},
	{name: "udp6", proto: ProtoUDP6, v6: true},
	{name: "raw", proto: ProtoRaw, raw: true},
	{name: "raw6", proto: ProtoRaw6, raw: true, v6: true},
}

// tcpStates maps the kernel's state numbers (the st column) to names.
var tcpStates = [...]State{
	1: StateEstablished, 2: StateSynSent, 3: StateSynRecv, 4: StateFinWait1, 5: StateFinWait2,
	6: StateTimeWait, 7: StateClose, 8: StateCloseWait, 9: StateLastAck, 10: StateListen, 11: StateClosing,
	// 12 is NEW_SYN_RECV, which the kernel prints as 3.
}

// kernelState names the kernel's state number st. A number netkit does not
// know (one a newer kernel added) is "UNKNOWN(0xNN)" rather than an error
// that would hide every other socket of the table.
func kernelState(st uint64) State {
	if st == 0 || st >= uint64(len(tcpStates)) {
		return State(fmt.Sprintf("UNKNOWN(0x%02X)", st))
	}
	return tcpStates[st]
}

// netkit reads /proc/net/{tcp,tcp6,udp,udp6} itself rather than through
// gopsutil's net.Connections because gopsutil's ConnectionStat has neither
// the send and receive queues nor the inode and uid of each socket, and
// parses the lines with an allocation per field. readProcNetTable keeps the
// columns netstat shows, filters each line before it becomes a Socket, and
// allocates nothing per line it drops.
//
// readProcNetTable appends to socks the sockets of /proc/net/<t.name> that
// f keeps. A missing tcp6, udp6 or raw6 table means IPv6 is off: no
// sockets.
func readProcNetTable(t procNetTable, f socketFilter, socks []Socket) ([]Socket, error) {
	path := procNetDir() + t.name
	// The table is the one of the opening thread's network namespace.
	runtime.LockOSThread()
	file, err := os.Open(path)
	runtime.UnlockOSThread()
	if errors.Is(err, fs.ErrNotExist) && t.v6 {
		return socks, nil
	}
	if err != nil {
		return socks, fmt.Errorf("read socket table: %w", err)
	}
	defer file.Close()
	socks, err = parseProcNet(file, t, f, socks)
	if err != nil {
		return socks, fmt.Errorf("read %s: %w", path, err)
	}
	return socks, nil
}

// procNetDir is where the socket tables of the calling thread's network
// namespace are. /proc/net is /proc/self/net, the namespace of the
// process's main thread, which a program may have moved into another
// namespace (a locked thread that called setns and exited); the caller's
// sockets are in its own thread's namespace, /proc/thread-self/net (Linux
// 3.17 and later).
var procNetDir = sync.OnceValue(func() string {
	if _, err := os.Stat("/proc/thread-self/net"); err == nil {
		return "/proc/thread-self/net/"
	}
	return "/proc/net/"
})

// parseProcNet appends the sockets of one /proc/net table read from r,
// header line first, that f keeps. The kernel writes the table a read at
// a time, resuming each from where the last one ended: while other
// programs open and close sockets, a socket can come twice, one read
// ending and the next starting with it. A socket that a descriptor holds
// (inode not 0) is kept once.
func parseProcNet(r io.Reader, t procNetTable, f socketFilter, socks []Socket) ([]Socket, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	seen := map[uint64]struct{}{}
	for n := 1; ; n++ {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			return socks, fmt.Errorf("line %d: longer than %d bytes", n, br.Size())
		}
		if n > 1 && len(line) > 0 {
			// Parse in place: a Socket of its own would escape to the heap
			// (the filter's expression takes a pointer), one per line.
			socks = append(socks, Socket{})
			s := &socks[len(socks)-1]
			if perr := parseProcNetLine(line, t, s); perr != nil {
				return socks[:len(socks)-1], fmt.Errorf("line %d: %w", n, perr)
			}
			_, dup := seen[s.Inode]
			switch {
			case dup || !f.keep(s):
				socks = socks[:len(socks)-1]
			case s.Inode != 0:
				seen[s.Inode] = struct{}{}
			}
		}
		if err == io.EOF {
			return socks, nil
		}
		if err != nil {
			return socks, err
		}
	}
}

// errProcNetLine is the error of a line that is not a socket table line.
var errProcNetLine = errors.New("not a socket table line")

// parseProcNetLine reads one line of a /proc/net/{tcp,tcp6,udp,udp6,raw,raw6}
// table into s:
//
//	sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode ...
//	 0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000 1000 0 123456 ...
//
// Addresses are hex in the kernel's byte order (32-bit words in host
// order); the port of a raw socket is its IP protocol number. tr is the
// active timer, when the time until it fires in clock ticks (USER_HZ, 100
// a second), retrnsmt the retransmissions it counts and timeout the
// unanswered probes (net/ipv4/tcp_ipv4.c get_tcp4_sock). The columns after
// the inode are ignored.
func parseProcNetLine(line []byte, t procNetTable, s *Socket) error {
	var fields [10][]byte
	if _, ok := splitFields(line, fields[:]); !ok {
		return errProcNetLine
	}
	if fields[0][len(fields[0])-1] != ':' {
		return errProcNetLine
	}
	var err error
	if s.Local, err = parseProcNetAddr(fields[1], t.v6); err != nil {
		return err
	}
	if s.Remote, err = parseProcNetAddr(fields[2], t.v6); err != nil {
		return err
	}
	st, ok := parseHex(fields[3], 8)
	if !ok {
		return errProcNetLine
	}
	s.State = kernelState(st)
	if !t.tcp && s.State == StateClose {
		s.State = StateUnconn
	}
	tx, rx, ok := splitColon(fields[4])
	if !ok {
		return errProcNetLine
	}
	sendQ, ok1 := parseHex(tx, 32)
	recvQ, ok2 := parseHex(rx, 32)
	uid, ok3 := parseDec(fields[7], 32)
	inode, ok4 := parseDec(fields[9], 64)
	if !ok1 || !ok2 || !ok3 || !ok4 {
		return errProcNetLine
	}
	s.SendQ, s.RecvQ, s.UID, s.Inode = int(sendQ), int(recvQ), uint32(uid), inode
	if err := parseTimer(fields[5], fields[6], fields[8], s); err != nil {
		return err
	}
	s.Proto = t.proto
	s.Family = "ipv4"
	if t.v6 {
		s.Family = "ipv6"
	}
	return nil
}

// timerNames maps the kernel's tr column to Socket.Timer.
var timerNames = [...]Timer{0: TimerNone, 1: TimerRetransmit, 2: TimerKeepalive, 3: TimerTimeWait, 4: TimerZeroWindowProbe}

// clockTick is one clock tick of /proc (USER_HZ).
const clockTick = 10 * time.Millisecond

// parseTimer reads the columns "tr:tm->when", "retrnsmt" and "timeout"
// into s.Timer, TimerMs and Retransmits. The count is retrnsmt for the
// retransmit timer and timeout (the probes sent and not answered) for the
// keepalive and zero-window probe timers, as 'ss -o' shows them.
func parseTimer(trWhen, retrnsmt, timeout []byte, s *Socket) error {
	tr, when, ok := splitColon(trWhen)
	code, ok1 := parseHex(tr, 8)
	ticks, ok2 := parseHex(when, 64)
	retrans, ok3 := parseHex(retrnsmt, 32)
	probes, ok4 := parseDec(timeout, 32)
	if !ok || !ok1 || !ok2 || !ok3 || !ok4 || ticks > maxTimerTicks {
		return errProcNetLine
	}
	if code >= uint64(len(timerNames)) {
		s.Timer = Timer(fmt.Sprintf("unknown(0x%02X)", code))
	} else {
		s.Timer = timerNames[code]
	}
	s.TimerMs = units.Millis(time.Duration(ticks) * clockTick)
	switch s.Timer {
	case TimerRetransmit:
		s.Retransmits = int(retrans)
	case TimerKeepalive, TimerZeroWindowProbe:
		s.Retransmits = int(probes)
	}
	return nil
}

// maxTimerTicks bounds the "when" column so that it fits a time.Duration:
// the kernel never sets a timer years ahead.
const maxTimerTicks = uint64(1<<63-1) / uint64(clockTick)

// splitFields puts the first len(fields) blank-separated fields of line in
// fields and returns the rest of the line; ok is false when it has fewer.
func splitFields(line []byte, fields [][]byte) (rest []byte, ok bool) {
	rest = line
	for i := range fields {
		fields[i], rest = nextField(rest)
		if len(fields[i]) == 0 {
			return nil, false
		}
	}
	return rest, true
}

// nextField splits off the first run of non-blank bytes of b.
func nextField(b []byte) (field, rest []byte) {
	i := 0
	for i < len(b) && isBlank(b[i]) {
		i++
	}
	j := i
	for j < len(b) && !isBlank(b[j]) {
		j++
	}
	return b[i:j], b[j:]
}

func isBlank(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r'
}

// splitColon splits "a:b" at its only colon.
func splitColon(b []byte) (a, c []byte, ok bool) {
	for i, x := range b {
		if x == ':' {
			return b[:i], b[i+1:], i > 0 && i+1 < len(b)
		}
	}
	return nil, nil, false
}

// parseProcNetAddr reads "0100007F:1F90" (IPv4) or 32 hex digits and a
// port (IPv6).
func parseProcNetAddr(b []byte, v6 bool) (netip.AddrPort, error) {
	hexAddr, hexPort, ok := splitColon(b)
	port, okPort := parseHex(hexPort, 16)
	if !ok || !okPort {
		return netip.AddrPort{}, errProcNetLine
	}
	words := 1
	if v6 {
		words = 4
	}
	if len(hexAddr) != 8*words {
		return netip.AddrPort{}, errProcNetLine
	}
	var ip [16]byte
	for i := range words {
		w, ok := parseHex(hexAddr[8*i:8*i+8], 32)
		if !ok {
			return netip.AddrPort{}, errProcNetLine
		}
		binary.NativeEndian.PutUint32(ip[4*i:], uint32(w))
	}
	if !v6 {
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte(ip[:4])), uint16(port)), nil
	}
	return netip.AddrPortFrom(netip.AddrFrom16(ip), uint16(port)), nil
}

// parseHex reads 1 to bits/4 hex digits.
func parseHex(b []byte, bits int) (uint64, bool) {
	if len(b) == 0 || len(b) > bits/4 {
		return 0, false
	}
	var v uint64
	for _, c := range b {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		default:
			return 0, false
		}
		v = v<<4 | uint64(c)
	}
	return v, true
}

// parseDec reads a decimal number that fits in bits.
func parseDec(b []byte, bits int) (uint64, bool) {
	if len(b) == 0 || len(b) > 20 {
		return 0, false
	}
	limit := ^uint64(0) >> (64 - bits)
	var v uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		if v > (limit-d)/10 {
			return 0, false
		}
		v = v*10 + d
	}
	return v, true
}
