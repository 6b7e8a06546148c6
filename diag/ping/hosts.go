package ping

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strings"

	"github.com/netkit/netkit/resolve"
)

// maxHostLine is the longest line ParseHostList reads: a name is at most
// 253 bytes, the rest is room for a comment.
const maxHostLine = 4096

// HostListError is a line ParseHostList cannot use.
type HostListError struct {
	Line int // from 1
	Why  string
}

func (e *HostListError) Error() string {
	return fmt.Sprintf("line %d: %s", e.Line, e.Why)
}

// ParseHostList reads the targets of 'netkit ping --file', as fping -f
// does: one host name or IP literal per line; blank lines and everything
// after a '#' are ignored. It stops at the first line it cannot use, with a
// *HostListError naming it, and at MaxTargets hosts.
func ParseHostList(r io.Reader) ([]string, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 512), maxHostLine)
	var hosts []string
	n := 0
	for sc.Scan() {
		n++
		line, _, _ := strings.Cut(sc.Text(), "#")
		fields := strings.Fields(line)
		switch len(fields) {
		case 0:
			continue
		case 1:
		default:
			return nil, &HostListError{n, fmt.Sprintf("%d words, want one host per line", len(fields))}
		}
		h := fields[0]
		if _, err := netip.ParseAddr(h); err != nil {
			if err := resolve.CheckName(h); err != nil {
				return nil, &HostListError{n, err.Error()}
			}
		}
		if len(hosts) == MaxTargets {
			return nil, &HostListError{n, fmt.Sprintf("more than %d hosts", MaxTargets)}
		}
		hosts = append(hosts, h)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, &HostListError{n + 1, fmt.Sprintf("longer than %d bytes", maxHostLine)}
		}
		return nil, fmt.Errorf("read host list: %w", err)
	}
	return hosts, nil
}
