package sockets

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"runtime"
	"strconv"
)

// etherTypes names the EtherTypes people know by name, as ss does.
var etherTypes = map[uint16]string{0x0003: "*", 0x0800: "ip", 0x86DD: "ipv6", 0x0806: "arp", 0x8100: "vlan", 0x88CC: "lldp"}

// EtherTypeName is the name of an EtherType ("ip", "ipv6", "arp", "*" for
// every protocol), or "0xNNNN".
func EtherTypeName(t uint16) string {
	if name, ok := etherTypes[t]; ok {
		return name
	}
	return fmt.Sprintf("0x%04x", t)
}

// Packet sockets (AF_PACKET) see whole frames on an interface: tcpdump,
// DHCP clients and other sniffers open them. 'ss -0' lists them from
// sock_diag; netkit reads /proc/net/packet, which has all ss shows:
//
//	sk               RefCnt Type Proto  Iface R Rmem   User   Inode
//	0000000061264356 3      3    0003   0     1 23342  0      564662
//
// Type is SOCK_RAW (3, whole frames) or SOCK_DGRAM (2, without the link
// header), Proto the EtherType in hex (0003 is every protocol), Iface the
// interface index (0: every interface), Rmem the bytes waiting to be read.
//
// listPacket appends the packet sockets of the calling thread's network
// namespace that f keeps, each with its interface's name (looked up in
// that namespace).
func listPacket(f socketFilter, socks []Socket) ([]Socket, error) {
	runtime.LockOSThread()
	file, err := os.Open(procNetDir() + "packet")
	runtime.UnlockOSThread()
	if errors.Is(err, fs.ErrNotExist) {
		return socks, nil // no AF_PACKET in this kernel
	}
	if err != nil {
		return socks, fmt.Errorf("read packet socket table: %w", err)
	}
	defer file.Close()
	b, err := io.ReadAll(file)
	if err != nil {
		return socks, fmt.Errorf("read packet socket table: %w", err)
	}
	names := map[int]string{}
	for n, line := 1, b; len(line) > 0; n++ {
		var l []byte
		if i := bytes.IndexByte(line, '\n'); i >= 0 {
			l, line = line[:i], line[i+1:]
		} else {
			l, line = line, nil
		}
		if n == 1 {
			continue // the header
		}
		s, err := parsePacketLine(l)
		if err != nil {
			return socks, fmt.Errorf("read /proc/net/packet line %d: %w", n, err)
		}
		if s.IfIndex != 0 {
			name, ok := names[s.IfIndex]
			if !ok {
				if ifc, err := net.InterfaceByIndex(s.IfIndex); err == nil {
					name = ifc.Name
				}
				names[s.IfIndex] = name
			}
			s.Interface = name
		}
		if f.keep(&s) {
			socks = append(socks, s)
		}
	}
	return socks, nil
}

// packetTypes names the socket types of /proc/net/packet's Type column.
var packetTypes = map[uint64]string{3: "raw", 2: "dgram"}

// parsePacketLine reads one line of /proc/net/packet (after the header).
func parsePacketLine(line []byte) (Socket, error) {
	var fields [9][]byte
	if _, ok := splitFields(line, fields[:]); !ok {
		return Socket{}, errProcNetLine
	}
	typ, ok1 := parseDec(fields[2], 8)
	proto, ok2 := parseHex(fields[3], 16)
	ifindex, ok3 := parseDec(fields[4], 31)
	rmem, ok4 := parseDec(fields[6], 31)
	uid, ok5 := parseDec(fields[7], 32)
	inode, ok6 := parseDec(fields[8], 64)
	if _, ok := parseHex(fields[0], 64); !ok || !ok1 || !ok2 || !ok3 || !ok4 || !ok5 || !ok6 {
		return Socket{}, errProcNetLine
	}
	s := Socket{Proto: ProtoPacket, Family: "packet", State: StateUnconn, RecvQ: int(rmem), UID: uint32(uid), Inode: inode,
		EtherType: uint16(proto), IfIndex: int(ifindex)}
	s.Type = packetTypes[typ]
	if s.Type == "" {
		s.Type = "type" + strconv.FormatUint(typ, 10)
	}
	return s, nil
}
