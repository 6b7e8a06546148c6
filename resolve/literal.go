package resolve

import (
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// parseLiteral recognises what getaddrinfo takes as a numeric host: an IPv6
// address (with a zone naming an interface or its index), or an IPv4 address
// in any form inet_aton accepts: "127.1", "0x7f.1", "010.0.0.1" (octal 8).
// note explains a surprising reading, such as octal parts.
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
	_, _, ok := parseLiteral(host)
	return ok
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
		if digits == "" {
			if base != 16 {
				return netip.Addr{}, "", false
			}
			digits = "0" // "0x" alone is 0 for inet_aton
		}
		if digits[0] == '+' || digits[0] == '-' {
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

// zoneIndex returns the interface index of an IPv6 zone, which may be an
// interface name or a number, and whether it names an interface.
func zoneIndex(zone string) (int, bool) {
	if n, err := strconv.Atoi(zone); err == nil {
		return n, n > 0
	}
	ifi, err := net.InterfaceByName(zone)
	if err != nil {
		return 0, false
	}
	return ifi.Index, true
}
