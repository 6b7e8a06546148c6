package resolve

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"
)

// Sentinel errors for the answers a lookup can end with; a *LookupError wraps
// one of them (or a transport error) so that errors.Is works through it.
var (
	// ErrNoSuchHost: no hosts file line has the name and DNS answered
	// NXDOMAIN (or there was no DNS to ask).
	ErrNoSuchHost = errors.New("no such host")
	// ErrNoData: the name exists but has no address (of the family asked,
	// if one was). The LookupError of the resolver wraps it with what was
	// asked: "db.test exists but has no AAAA record".
	ErrNoData = errors.New("no address")
	// ErrServerFailure: the DNS server answered SERVFAIL.
	ErrServerFailure = errors.New("DNS server failure (SERVFAIL)")
	// ErrRefused: the DNS server answered REFUSED.
	ErrRefused = errors.New("DNS server refused the query (REFUSED)")
	// ErrCNAMELoop: the answer's CNAME chain comes back to a name it has
	// already passed. A *ReplyError wraps it.
	ErrCNAMELoop = errors.New("CNAME loop")
	// ErrCNAMEChainTooLong: the answer's CNAME chain goes on past the
	// maxCNAMEHops (16) netkit follows. A *ReplyError wraps it.
	ErrCNAMEChainTooLong = errors.New("CNAME chain too long")
	// ErrMalformedReply: the DNS server sent bytes that are not a DNS
	// message. A *ReplyError wraps it.
	ErrMalformedReply = errors.New("malformed DNS reply")
	// ErrNotAReply: the DNS server sent a message without the QR flag,
	// a query rather than a response. A *ReplyError wraps it.
	ErrNotAReply = errors.New("DNS message without the QR (response) flag")
	// ErrWrongQuestion: the DNS server answered a question other than the
	// one asked. A *ReplyError wraps it.
	ErrWrongQuestion = errors.New("DNS reply to another question")
)

// ReplyError is a reply from a DNS server that cannot be used, for one of
// the reasons of the sentinel errors it wraps: ErrCNAMELoop,
// ErrCNAMEChainTooLong, ErrMalformedReply, ErrNotAReply or
// ErrWrongQuestion. The server answered: it is not unreachable.
type ReplyError struct {
	// Server is the DNS server, "ip:port".
	Server string
	// Err is the sentinel.
	Err error
	// Detail says what exactly was wrong, e.g. the chain of a loop.
	Detail string
}

func (e *ReplyError) Error() string {
	return fmt.Sprintf("%s from DNS server %s: %s", e.Err, e.Server, e.Detail)
}

func (e *ReplyError) Unwrap() error { return e.Err }

// LookupError is the error of a name lookup that found no address. It says
// what was asked, so the message reads "db.example: no such host (asked:
// hosts file /etc/hosts, DNS server 127.0.0.53:53)".
type LookupError struct {
	// Name is the name that was looked up.
	Name string
	// Asked lists the sources consulted, in order.
	Asked []string
	// Err is the reason: one of the sentinel errors above, or the error of
	// the last DNS exchange (a timeout, a refused connection).
	Err error
	// Direct reports that the servers asked were given directly
	// (Resolver.Servers, --server), not read from resolv.conf.
	Direct bool
}

func (e *LookupError) Error() string {
	msg := e.Name + ": " + e.Err.Error()
	if len(e.Asked) > 0 {
		msg += " (asked: " + strings.Join(e.Asked, ", ") + ")"
	}
	return msg
}

func (e *LookupError) Unwrap() error { return e.Err }

// Timeout reports whether the lookup failed because no server answered in
// time.
func (e *LookupError) Timeout() bool {
	var t interface{ Timeout() bool }
	return errors.As(e.Err, &t) && t.Timeout()
}

// noDataError is ErrNoData from DNS, saying which name exists without which
// records, and whether it is an alias.
type noDataError struct {
	name   string   // the name asked after the search list; "" when as looked up
	types  []string // the record types asked: "A", "AAAA"
	cnames []string // the CNAME chain followed from name
}

func (e *noDataError) Error() string {
	subject := "the name"
	if e.name != "" {
		subject = strings.TrimSuffix(e.name, ".")
	}
	want := strings.Join(e.types, " or ")
	if len(e.cnames) > 0 {
		return fmt.Sprintf("%s is an alias (CNAME) of %s, which has no %s record", subject, e.cnames[len(e.cnames)-1], want)
	}
	return fmt.Sprintf("%s exists but has no %s record", subject, want)
}

func (e *noDataError) Is(target error) bool { return target == ErrNoData }

// InputError is a name, port or option that cannot be looked up at all: the
// caller's mistake rather than the network's.
type InputError struct {
	What  string // what was wrong: "name", "port", "server"
	Value string
	Why   string
}

func (e *InputError) Error() string {
	return fmt.Sprintf("invalid %s %q: %s", e.What, e.Value, e.Why)
}

// FileError is a file the resolver reads (the hosts file, resolv.conf,
// nsswitch.conf) that could not be read: a directory, no permission, an I/O
// error. A missing file is a FileError only where glibc needs the file
// (ReadHostsFile); LoadConfig and Resolve treat a missing file as glibc
// does. glibc silently skips a file it cannot read, so its answers then
// differ from what the file says: netkit reports it instead.
type FileError struct {
	// What names the file's role: "hosts file", "resolv.conf" or
	// "nsswitch.conf".
	What string
	Path string
	Err  error
}

func (e *FileError) Error() string {
	why := e.Err
	var pe *fs.PathError
	if errors.As(why, &pe) {
		why = pe.Err // the path is already in the message
	}
	return fmt.Sprintf("cannot read %s %s: %v", e.What, e.Path, why)
}

func (e *FileError) Unwrap() error { return e.Err }
