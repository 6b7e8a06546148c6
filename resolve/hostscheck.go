package resolve

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// Severity grades a hosts file problem.
type Severity string

// Severities: an error breaks lookups (glibc ignores the line, or a name goes
// somewhere it should not); a warning is legal but likely a mistake.
const (
	SeverityError   Severity = "error"
	SeverityWarning Severity = "warning"
)

// Kinds of hosts file problems.
const (
	KindMalformedAddress = "malformed-address"
	KindNoNames          = "no-names"
	KindInvalidName      = "invalid-name"
	KindConflict         = "conflict"
	KindDuplicate        = "duplicate"
	KindLocalhost        = "localhost"
	KindHostnameMissing  = "hostname-missing"
	KindTooLong          = "line-too-long"
)

// Problem is one finding of Check.
type Problem struct {
	// Line is the hosts file line, 0 for findings about the whole file.
	Line     int      `json:"line"`
	Severity Severity `json:"severity"`
	Kind     string   `json:"kind"`
	Message  string   `json:"message"`
	// Names are the names on the line, for lines glibc ignores: the names
	// they were meant to map.
	Names []string `json:"names,omitempty"`

	// address is the first field of a line glibc ignores, as written.
	address string
}

// glibcIgnores ends the message of a KindMalformedAddress problem, after
// what is wrong with the address.
const glibcIgnores = "; glibc ignores this line"

// MeantFor reports whether p is about a line glibc ignores that has name (in
// any case): a line meant to map the name that does not.
func (p Problem) MeantFor(name string) bool {
	return p.Kind == KindMalformedAddress && slices.ContainsFunc(p.Names, func(n string) bool { return strings.EqualFold(n, name) })
}

// CheckOptions tunes Check.
type CheckOptions struct {
	// Hostname is this machine's host name, which should have a line (sudo
	// and many daemons look it up); empty skips that check.
	Hostname string
}

// Check reports the problems of a hosts file, sorted by line: lines glibc
// ignores, names that are not valid host names (often trailing junk such as a
// ';' comment), a name mapped to two addresses of one family (glibc returns
// both, so a program that uses one address may get either), repeated lines,
// localhost mapped elsewhere than 127.0.0.1 or ::1, and this machine's host
// name missing. It runs in time linear in the file's size.
func (hf *HostsFile) Check(opts CheckOptions) []Problem {
	problems := slices.Clone(hf.syntax)
	for _, e := range hf.Entries {
		for _, name := range e.Names {
			if why := HostNameProblem(name); why != "" {
				problems = append(problems, Problem{Line: e.Line, Severity: SeverityWarning, Kind: KindInvalidName,
					Message: fmt.Sprintf("%q is not a valid host name: %s", name, why)})
			}
			if strings.EqualFold(name, "localhost") {
				if p, ok := localhostProblem(e); ok {
					problems = append(problems, p)
				}
			}
		}
	}
	for name := range hf.more {
		var first [2]*HostsEntry // the first line of each family: IPv6, IPv4
		for _, i := range hf.lines(name) {
			e := &hf.Entries[i]
			fam := 0
			if e.Address.Unmap().Is4() {
				fam = 1
			}
			prev := first[fam]
			switch {
			case prev == nil:
				first[fam] = e
			case prev.Address == e.Address:
				problems = append(problems, Problem{Line: e.Line, Severity: SeverityWarning, Kind: KindDuplicate,
					Message: fmt.Sprintf("%s → %s repeats line %d", name, e.Address, prev.Line)})
			default:
				problems = append(problems, Problem{Line: e.Line, Severity: SeverityWarning, Kind: KindConflict,
					Message: fmt.Sprintf("%s maps to %s here and to %s on line %d; glibc returns both: gethostbyname in file order (line %d first), "+
						"getaddrinfo sorted by RFC 6724 (either may come first; 'netkit hosts %s' shows which)",
						name, e.Address, prev.Address, prev.Line, prev.Line, name)})
			}
		}
	}
	if _, ok := hf.byName["localhost"]; !ok {
		problems = append(problems, Problem{Severity: SeverityWarning, Kind: KindLocalhost,
			Message: "no line maps localhost; add '127.0.0.1 localhost' and '::1 localhost'"})
	}
	if _, ok := hf.byName[strings.ToLower(opts.Hostname)]; opts.Hostname != "" && !ok {
		problems = append(problems, Problem{Severity: SeverityWarning, Kind: KindHostnameMissing,
			Message: fmt.Sprintf("this machine's host name %q has no line; tools like sudo then wait on DNS for it (add '127.0.1.1 %s')", opts.Hostname, opts.Hostname)})
	}
	slices.SortFunc(problems, func(a, b Problem) int {
		return cmp.Or(a.Line-b.Line, strings.Compare(a.Kind, b.Kind), strings.Compare(a.Message, b.Message))
	})
	return problems
}

// localhostProblem says what is wrong with a line that maps localhost to
// something else than 127.0.0.1 or ::1: an error off loopback (local
// services become unreachable), a warning for another loopback address
// (only what listens there, or on every address, is reached).
func localhostProblem(e HostsEntry) (Problem, bool) {
	a := e.Address
	switch {
	case a == netip.AddrFrom4([4]byte{127, 0, 0, 1}) || a == netip.IPv6Loopback():
		return Problem{}, false
	case !a.IsLoopback():
		return Problem{Line: e.Line, Severity: SeverityError, Kind: KindLocalhost,
			Message: fmt.Sprintf("localhost maps to %s; it must map to 127.0.0.1 or ::1, or local services become unreachable", a)}, true
	}
	return Problem{Line: e.Line, Severity: SeverityWarning, Kind: KindLocalhost,
		Message: fmt.Sprintf("localhost maps to %s, not 127.0.0.1 or ::1; a program that connects to localhost reaches only services listening on %s or on every address", a, a)}, true
}
