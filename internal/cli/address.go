package cli

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/netkit/netkit/resolve"
)

// splitHostPort reads the forms netkit's address arguments take: HOST,
// HOST:PORT, IPv6 (bare, with an optional %zone), [IPv6] and [IPv6]:PORT.
// The port is a number or a TCP service name; a missing port is defPort. bracketed reports whether the host was in
// brackets. The error says what is wrong without repeating the argument.
func splitHostPort(s string, defPort uint16) (host string, port uint16, bracketed bool, err error) {
	host, port, bracketed = s, defPort, strings.HasPrefix(s, "[")
	portText, hasPort := "", false
	switch {
	case bracketed:
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return "", 0, true, errors.New("no ] after the IPv6 address")
		}
		host = s[1:end]
		if rest := s[end+1:]; rest != "" {
			if portText, hasPort = strings.CutPrefix(rest, ":"); !hasPort {
				return "", 0, true, errors.New("want [IPv6] or [IPv6]:PORT")
			}
		}
	case strings.Count(s, ":") == 1:
		host, portText, hasPort = strings.Cut(s, ":")
	case strings.Contains(s, ":"):
		if _, err := netip.ParseAddr(s); err != nil {
			return "", 0, false, fmt.Errorf("%q is not an IPv6 address; want HOST:PORT, HOST, IPv6 or [IPv6]:PORT", s)
		}
	}
	if hasPort {
		if port, err = resolve.ParsePort(portText, "tcp"); err != nil {
			return "", 0, bracketed, err
		}
	}
	return host, port, bracketed, nil
}
