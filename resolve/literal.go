package resolve

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// parseLiteral recognises what getaddrinfo takes as a numeric host: an IPv6
// address (with a zone, which scopeID checks), or an IPv4 address in any
// form inet_aton accepts: "127.1", "0x7f.1", "010.0.0.1" (octal 8). note
// explains a surprising reading, such as octal parts.
func parseLiteral(s string) (a netip.Addr, note string, ok bool) {
	if strings.Contains(s, ":") {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Addr{}, "", false
		}
		return a, "", true
	}
	return parseInetAton(s)
}

// IsNumericHost reports whether getaddrinfo takes host as an address rather
// than a name to look up (AI_NUMERICHOST would accept it).
func IsNumericHost(host string) bool {
	a, _, ok := parseLiteral(host)
	if !ok {
		return false
	}
	_, err := scopeID(a)
	return err == nil
}

// parseInetAton parses the 1 to 4 part IPv4 forms of inet_aton, each part
// decimal, octal (leading 0) or hexadecimal (0x), the last part filling the
// remaining bytes.
func parseInetAton(s string) (netip.Addr, string, bool) {
	if s == "" || len(s) > 64 {
		return netip.Addr{}, "", false
	}
	parts := strings.Split(s, ".")
	if len(parts) > 4 {
		return netip.Addr{}, "", false
	}
	vals := make([]uint64, len(parts))
	unusual := false
	for i, p := range parts {
		base, digits := 10, p
		switch {
		case len(p) > 1 && (p[:2] == "0x" || p[:2] == "0X"):
			base, digits = 16, p[2:]
			unusual = true
		case len(p) > 1 && p[0] == '0':
			base, digits = 8, p[1:]
			unusual = true
		}
		if digits == "" || digits[0] == '+' || digits[0] == '-' {
			// "0x" with no digits after it is not a number for glibc's
			// inet_aton ("0x", "0x.1" and "1.0x" are names).
			return netip.Addr{}, "", false
		}
		v, err := strconv.ParseUint(digits, base, 32)
		if err != nil {
			return netip.Addr{}, "", false
		}
		vals[i] = v
	}
	last := len(vals) - 1
	var n uint64
	for i, v := range vals[:last] {
		if v > 0xff {
			return netip.Addr{}, "", false
		}
		n |= v << (24 - 8*uint(i))
	}
	if vals[last] >= 1<<(8*uint(4-last)) {
		return netip.Addr{}, "", false
	}
	n |= vals[last]
	a := netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)})
	note := ""
	if unusual || len(parts) < 4 {
		note = s + " is read as " + a.String() + " (inet_aton: parts with a leading 0 are octal, 0x hexadecimal, and the last part fills the missing bytes)"
	}
	return a, note, true
}

// scopeID returns the scope ID getaddrinfo gives the zone of an IPv6
// literal, by glibc's rules (__inet6_scopeid_pton): an interface name names
// a zone only for a link-local unicast (fe80::/10) or an interface- or
// link-local multicast address (ffx1::, ffx2::); any address takes a
// decimal number up to 2^32-1, which need not name an interface. An address
// without a zone has scope ID 0. The error says why glibc refuses a zone.
func scopeID(a netip.Addr) (uint32, error) {
	zone := a.Zone()
	if zone == "" {
		return 0, nil
	}
	b := a.As16()
	linkScoped := b[0] == 0xfe && b[1]&0xc0 == 0x80 || b[0] == 0xff && (b[1]&0xf == 1 || b[1]&0xf == 2)
	if linkScoped {
		if ifi, err := net.InterfaceByName(zone); err == nil {
			return uint32(ifi.Index), nil
		}
	}
	if zone[0] >= '0' && zone[0] <= '9' {
		n, err := strconv.ParseUint(zone, 10, 32)
		if err != nil {
			return 0, fmt.Errorf("zone %q is not an interface index from 0 to 4294967295", zone)
		}
		return uint32(n), nil
	}
	if linkScoped {
		return 0, fmt.Errorf("zone %q is not an interface of this machine", zone)
	}
	return 0, fmt.Errorf("zone %q: an interface name is a zone only for link-local addresses (fe80::/10, ff01::/16, ff02::/16); glibc takes an interface index here, such as %s", zone, a.WithZone("1"))
}
