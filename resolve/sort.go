package resolve

import (
	"math/bits"
	"net"
	"net/netip"
	"slices"
)

// sortOrder returns the order in which glibc's getaddrinfo lists the
// destination addresses, as indexes into addrs. It applies the
// destination address selection rules of RFC 6724 with glibc's default
// policy tables (those of RFC 3484, which /etc/gai.conf can change; netkit
// does not read gai.conf). The source address for each destination is the
// one the kernel picks for a connected UDP socket, which sends no packet.
func sortOrder(addrs []netip.Addr) []int {
	if len(addrs) < 2 {
		return make([]int, len(addrs))
	}
	type dest struct {
		dst, src  netip.Addr
		srcPrefix int // prefix length of src's interface address
		hasSrc    bool
		index     int
	}
	ifPrefixes := interfacePrefixes()
	ds := make([]dest, len(addrs))
	for i, a := range addrs {
		d := dest{dst: a, index: i}
		if src, ok := sourceFor(a); ok {
			d.src, d.hasSrc = src, true
			d.srcPrefix = ifPrefixes[src.WithZone("")]
		}
		ds[i] = d
	}
	slices.SortStableFunc(ds, func(a, b dest) int {
		// Rule 1: avoid unusable destinations.
		if a.hasSrc != b.hasSrc {
			return boolOrder(a.hasSrc)
		}
		if a.hasSrc {
			// Rule 2: prefer matching scope.
			am, bm := scope(a.dst) == scope(a.src), scope(b.dst) == scope(b.src)
			if am != bm {
				return boolOrder(am)
			}
			// Rule 5: prefer matching label.
			am, bm = policyOf(a.dst).label == policyOf(a.src).label, policyOf(b.dst).label == policyOf(b.src).label
			if am != bm {
				return boolOrder(am)
			}
		}
		// Rule 6: prefer higher precedence.
		if pa, pb := policyOf(a.dst).precedence, policyOf(b.dst).precedence; pa != pb {
			return pb - pa
		}
		// Rule 8: prefer smaller scope.
		if sa, sb := scope(a.dst), scope(b.dst); sa != sb {
			return sa - sb
		}
		// Rule 9: use longest matching prefix, as glibc computes it.
		if a.hasSrc && b.hasSrc && a.dst.Is4() == b.dst.Is4() {
			if ba, bb := prefixBit(a.dst, a.src, a.srcPrefix), prefixBit(b.dst, b.src, b.srcPrefix); ba != bb {
				return ba - bb
			}
		}
		// Rule 10: otherwise keep the order.
		return a.index - b.index
	})
	order := make([]int, len(ds))
	for i, d := range ds {
		order[i] = d.index
	}
	return order
}

// sortByAddress sorts items in getaddrinfo's order of their addresses.
func sortByAddress[T any](items []T, addr func(T) netip.Addr) {
	addrs := make([]netip.Addr, len(items))
	for i, it := range items {
		addrs[i] = addr(it)
	}
	sorted := make([]T, len(items))
	for i, j := range sortOrder(addrs) {
		sorted[i] = items[j]
	}
	copy(items, sorted)
}

func boolOrder(first bool) int {
	if first {
		return -1
	}
	return 1
}

// sourceFor returns the source address the kernel would use to reach dst.
func sourceFor(dst netip.Addr) (netip.Addr, bool) {
	c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(dst, 9)))
	if err != nil {
		return netip.Addr{}, false
	}
	defer c.Close()
	src := c.LocalAddr().(*net.UDPAddr).AddrPort().Addr()
	return src.Unmap(), true
}

// interfacePrefixes maps each address of this machine to the prefix length
// of its interface network.
func interfacePrefixes() map[netip.Addr]int {
	m := map[netip.Addr]int{}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return m
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			if ip, ok := netip.AddrFromSlice(n.IP); ok {
				ones, _ := n.Mask.Size()
				m[ip.Unmap()] = ones
			}
		}
	}
	return m
}

// prefixBit is glibc's rule 9 measure: the position of the highest bit in
// which dst and src differ (smaller is a longer match). For IPv4 it counts
// only when both are in the source's subnet, and is 0 otherwise; for IPv6 it
// looks at the first 32-bit word in which they differ.
func prefixBit(dst, src netip.Addr, srcPrefix int) int {
	if dst.Is4() {
		d, s := dst.As4(), src.As4()
		dn := uint32(d[0])<<24 | uint32(d[1])<<16 | uint32(d[2])<<8 | uint32(d[3])
		sn := uint32(s[0])<<24 | uint32(s[1])<<16 | uint32(s[2])<<8 | uint32(s[3])
		mask := ^uint32(0) << (32 - uint(srcPrefix))
		if srcPrefix == 0 {
			mask = 0
		}
		if dn&mask != sn&mask {
			return 0
		}
		return bits.Len32(dn ^ sn)
	}
	d, s := dst.As16(), src.As16()
	for i := 0; i < 16; i += 4 {
		dw := uint32(d[i])<<24 | uint32(d[i+1])<<16 | uint32(d[i+2])<<8 | uint32(d[i+3])
		sw := uint32(s[i])<<24 | uint32(s[i+1])<<16 | uint32(s[i+2])<<8 | uint32(s[i+3])
		if dw != sw {
			return bits.Len32(dw ^ sw)
		}
	}
	return 0
}

// Scopes of RFC 6724 section 3.1.
const (
	scopeLinkLocal = 0x2
	scopeSiteLocal = 0x5
	scopeGlobal    = 0xe
)

func scope(a netip.Addr) int {
	a = a.Unmap()
	switch {
	case a.Is4():
		b := a.As4()
		if b[0] == 127 || b[0] == 169 && b[1] == 254 {
			return scopeLinkLocal
		}
		return scopeGlobal
	case a.IsMulticast():
		return int(a.As16()[1] & 0xf)
	case a.IsLoopback(), a.IsLinkLocalUnicast():
		return scopeLinkLocal
	case a.As16()[0] == 0xfe && a.As16()[1]&0xc0 == 0xc0:
		return scopeSiteLocal
	}
	return scopeGlobal
}

type policy struct {
	prefix            netip.Prefix
	precedence, label int
}

// glibcPolicy is glibc's default policy table (RFC 3484 with the labels
// glibc adds), longest prefix first.
var glibcPolicy = []policy{
	{netip.MustParsePrefix("::1/128"), 50, 0},
	{netip.MustParsePrefix("::ffff:0:0/96"), 10, 4},
	{netip.MustParsePrefix("::/96"), 20, 3},
	{netip.MustParsePrefix("2001::/32"), 40, 7},
	{netip.MustParsePrefix("2002::/16"), 30, 2},
	{netip.MustParsePrefix("fec0::/10"), 40, 5},
	{netip.MustParsePrefix("fc00::/7"), 40, 6},
	{netip.MustParsePrefix("::/0"), 40, 1},
}

func policyOf(a netip.Addr) policy {
	if a.Is4() {
		a = netip.AddrFrom16(a.As16())
	}
	a = a.WithZone("")
	for _, p := range glibcPolicy {
		if p.prefix.Contains(a) {
			return p
		}
	}
	return glibcPolicy[len(glibcPolicy)-1]
}
