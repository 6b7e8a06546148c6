package sockets

import (
	"encoding/binary"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// formatProcNetLine writes s as the kernel writes a line of /proc/net/tcp
// or tcp6 (net/ipv4/tcp_ipv4.c get_tcp4_sock, net/ipv6/tcp_ipv6.c
// get_tcp6_sock); UDP lines have the same first ten columns.
func formatProcNetLine(s Socket, t procNetTable) string {
	addr := func(ap ...[]byte) string {
		var b strings.Builder
		for _, ip := range ap {
			for i := 0; i < len(ip); i += 4 {
				fmt.Fprintf(&b, "%08X", binary.NativeEndian.Uint32(ip[i:]))
			}
		}
		return b.String()
	}
	la, ra := s.Local.Addr().AsSlice(), s.Remote.Addr().AsSlice()
	st := slices.Index(tcpStates[:], s.State)
	if s.State == StateUnconn {
		st = 7
	}
	if st < 0 {
		fmt.Sscanf(string(s.State), "UNKNOWN(0x%X)", &st)
	}
	tr := slices.Index(timerNames[:], s.Timer)
	if tr < 0 {
		fmt.Sscanf(string(s.Timer), "unknown(0x%X)", &tr)
	}
	retrans, probes := 0, 0
	switch s.Timer {
	case TimerRetransmit:
		retrans = s.Retransmits
	case TimerKeepalive, TimerZeroWindowProbe:
		probes = s.Retransmits
	}
	ticks := int64(s.TimerMs) / clockTick.Milliseconds()
	return fmt.Sprintf("%4d: %s:%04X %s:%04X %02X %08X:%08X %02X:%08X %08X %5d %8d %d 1 0000000000000000 100 0 0 10 0\n",
		0, addr(la), s.Local.Port(), addr(ra), s.Remote.Port(), st, s.SendQ, s.RecvQ, tr, ticks, retrans, s.UID, probes, s.Inode)
}

// unknownState is how a state number netkit has no name for reads.
var unknownState = regexp.MustCompile(`^UNKNOWN\(0x[0-9A-F]{2}\)$`)

// FuzzParseProcNetLine checks that no line makes the parser panic, and
// that what it reads from a line it accepts is what it reads again after
// the kernel's formatting.
func FuzzParseProcNetLine(f *testing.F) {
	// Seeds are real lines (testdata/fuzz/FuzzParseProcNetLine) plus these.
	f.Add("   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 123456 1 0000000000000000 100 0 0 10 0", false, true)
	f.Add("   1: 00000000000000000000000001000000:01BB 00000000000000000000000001000000:D431 01 00000010:00000020 00:00000000 00000000     0        0 77 1", true, true)
	f.Add("  12: 0100007F:0035 00000000:0000 07 00000000:00000000 00:00000000 00000000   101        0 4242 2 0000000000000000 0", false, false)
	f.Add("   3: 0100007F:8AE6 0100007F:1F90 01 00000000:00000000 01:0000002A 00000003     0        0 515 2 0000000000000000 20 4 30 10 -1", false, true)
	f.Add("   4: 0100007F:8AE6 0100007F:1F90 01 00000000:00000000 02:000005DC 00000000     0        2 515 2 0000000000000000 20 4 30 10 -1", false, true)
	f.Add("   5: 0100007F:8AE6 0100007F:1F90 06 00000000:00000000 03:00001770 00000000     0        0 0 3 0000000000000000", false, true)
	f.Add("   6: 00000000:0001 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 99 2 0000000000000000 0", false, false)
	f.Fuzz(func(t *testing.T, line string, v6, tcp bool) {
		tab := procNetTable{name: "fuzz", proto: "p", tcp: tcp, v6: v6}
		var s Socket
		if err := parseProcNetLine([]byte(line), tab, &s); err != nil {
			return
		}
		if s.Local.Addr().Is4() == v6 || s.Remote.Addr().Is4() == v6 {
			t.Fatalf("%q: family v6=%v but addresses %s %s", line, v6, s.Local, s.Remote)
		}
		known := slices.Contains(States(), s.State)
		if s.State == StateUnconn && tcp || s.State == StateClose && !tcp || !known && !unknownState.MatchString(string(s.State)) {
			t.Fatalf("%q: state %q for tcp=%v", line, s.State, tcp)
		}
		readsBack(t, line, formatProcNetLine(s, tab), s, func(b []byte) (Socket, error) {
			var s2 Socket
			err := parseProcNetLine(b, tab, &s2)
			return s2, err
		})
	})
}

// readsBack checks that again, the kernel's form of what line read as
// (s), reads as s too.
func readsBack(t *testing.T, line, again string, s Socket, parse func([]byte) (Socket, error)) {
	t.Helper()
	s2, err := parse([]byte(again))
	if err != nil {
		t.Fatalf("%q parsed, but its kernel form %q does not: %v", line, again, err)
	}
	if fmt.Sprint(s) != fmt.Sprint(s2) {
		t.Fatalf("%q read as %+v, its kernel form %q as %+v", line, s, again, s2)
	}
}

// typeNumber is the kernel's number of a socket type name: its key in
// types, or N of "typeN".
func typeNumber[K uint8 | uint64](name string, types map[K]string) int {
	for k, v := range types {
		if v == name {
			return int(k)
		}
	}
	n := 0
	fmt.Sscanf(name, "type%d", &n)
	return n
}

// FuzzParseSocketState checks that every accepted name reads back as the
// state it named, and that the error names the value.
func FuzzParseSocketState(f *testing.F) {
	f.Add("time-wait")
	f.Add("ESTAB")
	f.Add("Fin_Wait-1")
	f.Add("bogus")
	f.Fuzz(func(t *testing.T, in string) {
		st, err := ParseState(in)
		if err != nil {
			if !strings.Contains(err.Error(), strconv.Quote(in)) {
				t.Fatalf("error %q does not name %q", err, in)
			}
			return
		}
		if !slices.Contains(States(), st) {
			t.Fatalf("%q read as %q, not a state", in, st)
		}
		if back, err := ParseState(string(st)); err != nil || back != st {
			t.Fatalf("%q read as %q, which reads as %q, %v", in, st, back, err)
		}
	})
}

// FuzzParseFilter checks that no expression makes the parser panic, that
// an error names the filter, and that an accepted filter, written back by
// String, parses to the same filter.
func FuzzParseFilter(f *testing.F) {
	f.Add("state established ( dport = :443 or sport = :443 )")
	f.Add("exclude listening exclude time-wait src 127.0.0.0/8:* and !dst [::1]:22")
	f.Add("state connected sport >= :1024 && dport != :https || not ( src /run/*.sock )")
	f.Add("dst = ::ffff:10.0.0.0/104 or src != @abstract")
	f.Add("(dport eq :22)")
	f.Fuzz(func(t *testing.T, expr string) {
		flt, err := ParseFilter([]string{expr})
		if err != nil {
			if !strings.HasPrefix(err.Error(), "filter: ") {
				t.Fatalf("%q: error %q does not start with \"filter: \"", expr, err)
			}
			return
		}
		again, err := ParseFilter([]string{flt.String()})
		if err != nil {
			t.Fatalf("%q read as %q, which does not parse: %v", expr, flt, err)
		}
		if again.String() != flt.String() {
			t.Fatalf("%q read as %q, which reads as %q", expr, flt, again)
		}
	})
}

// FuzzParseUnixDiag checks that no netlink reply makes the sock_diag
// parser panic or read a socket that is not a UNIX one.
func FuzzParseUnixDiag(f *testing.F) {
	// One SOCK_DIAG_BY_FAMILY message for a listener on "/run/a.sock"
	// (name, peer, queue lengths, uid), then NLMSG_DONE.
	ne := binary.NativeEndian
	// padded appends v to a header and pads the whole to 4 bytes.
	padded := func(header, v []byte) []byte {
		b := append(header, v...)
		for len(b)%4 != 0 {
			b = append(b, 0)
		}
		return b
	}
	msg := func(typ uint16, payload []byte) []byte {
		b := make([]byte, 16)
		ne.PutUint32(b, uint32(16+len(payload)))
		ne.PutUint16(b[4:], typ)
		return padded(b, payload)
	}
	attr := func(typ uint16, v []byte) []byte {
		b := make([]byte, 4)
		ne.PutUint16(b, uint16(4+len(v)))
		ne.PutUint16(b[2:], typ)
		return padded(b, v)
	}
	u32 := func(vs ...uint32) []byte {
		b := make([]byte, 4*len(vs))
		for i, v := range vs {
			ne.PutUint32(b[4*i:], v)
		}
		return b
	}
	diag := []byte{1, 1, 10, 0, 0x39, 0x30, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	diag = append(diag, attr(unixDiagName, []byte("/run/a.sock\x00"))...)
	diag = append(diag, attr(unixDiagPeer, u32(0))...)
	diag = append(diag, attr(unixDiagRQLen, u32(1, 128))...)
	diag = append(diag, attr(unixDiagUID, u32(1000))...)
	f.Add(append(msg(sockDiagByFamily, diag), msg(3, u32(0))...))
	f.Add(msg(2, u32(uint32(0x100000000-22))))
	f.Fuzz(func(t *testing.T, b []byte) {
		socks, _, err := parseUnixDiag(b, nil)
		if err != nil {
			return
		}
		for _, s := range socks {
			if s.Proto != ProtoUnix || s.Family != "unix" || s.Local.IsValid() || !slices.Contains(States(), s.State) && !unknownState.MatchString(string(s.State)) {
				t.Fatalf("%x: socket %+v", b, s)
			}
		}
	})
}

// FuzzParsePacketLine checks that no line of /proc/net/packet makes its
// parser panic, and that what it reads from a line it accepts is what it
// reads again after the kernel's formatting (net/packet/af_packet.c
// packet_seq_show).
func FuzzParsePacketLine(f *testing.F) {
	f.Add("0000000061264356 3      3    0003   0     1 23342  0      564662")
	f.Add("000000001b827c78 3      2    0800   1     1 0      1000   564663")
	f.Add("ffff8880071d5000 2      3    86dd   12    0 0      0      99")
	f.Fuzz(func(t *testing.T, line string) {
		s, err := parsePacketLine([]byte(line))
		if err != nil {
			return
		}
		if s.Proto != ProtoPacket || s.State != StateUnconn || s.Local.IsValid() || s.Type == "" {
			t.Fatalf("%q read as %+v", line, s)
		}
		again := fmt.Sprintf("%016x %-6d %-4d %04x   %-5d %1d %-6d %-6d %-6d\n",
			0, 3, typeNumber(s.Type, packetTypes), s.EtherType, s.IfIndex, 1, s.RecvQ, s.UID, s.Inode)
		readsBack(t, line, again, s, parsePacketLine)
	})
}

// FuzzParseProcNetUnixLine checks that no line of /proc/net/unix makes its
// parser panic, and that what it reads from a line it accepts is what it
// reads again after the kernel's formatting (net/unix/af_unix.c
// unix_seq_show).
func FuzzParseProcNetUnixLine(f *testing.F) {
	f.Add("0000000057055358: 00000002 00000000 00010000 0001 01 48164 /tmp/nkt.sock")
	f.Add("00000000e9fc4e02: 00000003 00000000 00000000 0001 03  1143")
	f.Add("0000000037d3a84c: 00000002 00000000 00000000 0002 01 48167 @nktabs@x")
	f.Add("000000005536d384: 00000003 00000000 00000000 0005 02 48168")
	f.Fuzz(func(t *testing.T, line string) {
		s, err := parseProcNetUnixLine([]byte(line))
		if err != nil {
			return
		}
		if s.Proto != ProtoUnix || s.Family != "unix" || s.Type == "" || !slices.Contains(States(), s.State) {
			t.Fatalf("%q read as %+v", line, s)
		}
		typ := typeNumber(s.Type, unixTypes)
		flags, st := 0, map[State]int{StateSynSent: 2, StateEstablished: 3, StateClosing: 4}[s.State]
		switch s.State {
		case StateListen:
			flags, st = soAcceptCon, 1
		case StateUnconn:
			st = 1
		}
		again := fmt.Sprintf("%016x: %08X %08X %08X %04X %02X %5d", 0, 2, 0, flags, typ, st, s.Inode)
		if s.Path != "" {
			again += " " + s.Path
		}
		readsBack(t, line, again+"\n", s, parseProcNetUnixLine)
	})
}
