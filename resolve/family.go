package resolve

import (
	"fmt"
	"net/netip"
	"strings"
)

// Family is an address family to look up, as getaddrinfo's ai_family.
type Family int

// Families. AnyFamily (the zero value) is AF_UNSPEC: both.
const (
	AnyFamily Family = iota
	IPv4
	IPv6
)

func (f Family) String() string {
	switch f {
	case IPv4:
		return "AF_INET"
	case IPv6:
		return "AF_INET6"
	default:
		return "AF_UNSPEC"
	}
}

// Contains reports whether a is an address of family f: IPv4 has the IPv4
// addresses, IPv6 the IPv6 ones (IPv4-mapped ones too), AnyFamily every
// address.
func (f Family) Contains(a netip.Addr) bool {
	switch f {
	case IPv4:
		return a.Is4()
	case IPv6:
		return a.Is6()
	default:
		return true
	}
}

// SockType is getaddrinfo's ai_socktype.
type SockType int

// Socket types. AnySockType (the zero value) returns one result per type
// the service exists for, as getaddrinfo does with no hint.
const (
	AnySockType SockType = iota
	Stream
	Dgram
	Raw
)

func (t SockType) String() string {
	switch t {
	case Stream:
		return "STREAM"
	case Dgram:
		return "DGRAM"
	case Raw:
		return "RAW"
	default:
		return "ANY"
	}
}

// ParseSockType reads "stream", "dgram" or "raw" (any case, with or without
// a SOCK_ prefix).
func ParseSockType(s string) (SockType, error) {
	switch strings.TrimPrefix(strings.ToLower(s), "sock_") {
	case "stream":
		return Stream, nil
	case "dgram":
		return Dgram, nil
	case "raw":
		return Raw, nil
	case "", "any":
		return AnySockType, nil
	}
	return 0, &InputError{What: "socket type", Value: s, Why: "want stream, dgram or raw"}
}

// Protocol is getaddrinfo's ai_protocol.
type Protocol int

// Protocols. AnyProtocol (the zero value) follows the socket type.
const (
	AnyProtocol Protocol = iota
	TCP
	UDP
)

func (p Protocol) String() string {
	switch p {
	case TCP:
		return "tcp"
	case UDP:
		return "udp"
	default:
		return "ip"
	}
}

// ParseProtocol reads "tcp" or "udp".
func ParseProtocol(s string) (Protocol, error) {
	switch strings.ToLower(s) {
	case "tcp":
		return TCP, nil
	case "udp":
		return UDP, nil
	case "", "any":
		return AnyProtocol, nil
	}
	return 0, &InputError{What: "protocol", Value: s, Why: "want tcp or udp"}
}

// MarshalText encodes the family as every netkit JSON document names it:
// "ipv4", "ipv6", or "any" for AnyFamily. String keeps getaddrinfo's names
// (AF_INET) for tables.
func (f Family) MarshalText() ([]byte, error) {
	switch f {
	case IPv4:
		return []byte("ipv4"), nil
	case IPv6:
		return []byte("ipv6"), nil
	}
	return []byte("any"), nil
}

// MarshalText encodes the socket type as "STREAM", "DGRAM" or "RAW".
func (t SockType) MarshalText() ([]byte, error) { return []byte(t.String()), nil }

// MarshalText encodes the protocol as "tcp", "udp" or "ip".
func (p Protocol) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// JoinAddrs lists addresses (netip.Addr or netip.AddrPort) as "a, b, c",
// the way netkit's messages name several of them.
func JoinAddrs[T fmt.Stringer](as []T) string {
	s := make([]string, len(as))
	for i, a := range as {
		s[i] = a.String()
	}
	return strings.Join(s, ", ")
}
