package resolve

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/miekg/dns"
	"github.com/netkit/netkit/units"
)

// maxCNAMEHops bounds CNAME chains followed in one answer.
const maxCNAMEHops = 16

// Statuses of one lookup step.
const (
	StatusFound    = "found"
	StatusNotFound = "NOTFOUND" // hosts file has no line for the name
	StatusNXDOMAIN = "NXDOMAIN"
	StatusNoData   = "NODATA"
	StatusServFail = "SERVFAIL"
	StatusRefused  = "REFUSED"
	StatusTimeout  = "timeout"
	StatusError    = "error"
	// StatusBadReply is a reply that cannot be used: malformed, without
	// the QR flag, or to another question (the error says which).
	StatusBadReply = "BAD-REPLY"
	// StatusCNAMELoop and StatusCNAMETooLong are answers whose CNAME chain
	// loops, or goes on past maxCNAMEHops.
	StatusCNAMELoop    = "CNAME-LOOP"
	StatusCNAMETooLong = "CNAME-TOO-LONG"
	StatusSkipped      = "skipped"
)

// dnsReply is the outcome of one question (a name and a record type) after
// trying the servers in turn.
type dnsReply struct {
	status    string
	addrs     []netip.Addr
	names     []string // PTR targets, for a PTR question
	answer    []dns.RR // the answer section, as received
	cnames    []string // CNAME targets followed from the question name, never nil
	canonical string   // owner of the address records
	server    netip.AddrPort
	duration  time.Duration // of the exchange that gave this reply
	err       error         // why, when status is timeout, error, BAD-REPLY or CNAME-*
}

// ask sends one question to the servers as glibc does: for each attempt,
// each server in turn, each with the per-query timeout; UDP first and TCP
// when the answer is truncated (or always with use-vc). A definitive answer
// (addresses, NXDOMAIN, NODATA, a CNAME chain that loops or is too long)
// ends it; SERVFAIL, REFUSED, unusable replies and transport errors move on
// to the next server. Each exchange is reported to step.
func ask(ctx context.Context, cfg *Config, servers []netip.AddrPort, name string, qtype uint16, step func(Step)) dnsReply {
	q := new(dns.Msg)
	q.SetQuestion(dns.Fqdn(name), qtype)
	q.RecursionDesired = true
	if cfg.EDNS0 {
		q.SetEdns0(1232, false)
	}
	last := dnsReply{status: StatusError, cnames: []string{}, err: errors.New("no DNS server to ask")}
	for attempt := 0; attempt < max(cfg.Attempts, 1); attempt++ {
		for _, srv := range servers {
			if ctx.Err() != nil {
				last.status, last.err = StatusTimeout, ctx.Err()
				return last
			}
			start := time.Now()
			rep := exchange(ctx, cfg, q, srv)
			rep.duration = time.Since(start)
			st := Step{Source: "dns", Name: q.Question[0].Name, Server: srv.String(), RecordType: dns.TypeToString[qtype],
				Status: rep.status, Answers: len(rep.addrs), CNAMEs: rep.cnames, DurationMS: units.Millis(rep.duration)}
			if rep.err != nil {
				st.Error = rep.err.Error()
			}
			step(st)
			switch rep.status {
			case StatusFound, StatusNXDOMAIN, StatusNoData, StatusCNAMELoop, StatusCNAMETooLong:
				return rep
			}
			last = rep
		}
	}
	return last
}

// exchangeConn is c.ExchangeContext that also ends as soon as ctx is
// cancelled (Ctrl-C): miekg/dns only turns the context's deadline into
// socket deadlines, so a cancelled query would otherwise wait out its
// timeout. When ctx has ended, the error is a *net.OpError naming the
// server around ctx's error (context.Canceled or DeadlineExceeded),
// whichever of the two ended the read.
func exchangeConn(ctx context.Context, c *dns.Client, q *dns.Msg, addr string) (*dns.Msg, error) {
	co, err := c.DialContext(ctx, addr)
	if err != nil {
		return nil, err
	}
	defer co.Close()
	stop := context.AfterFunc(ctx, func() { co.Close() })
	defer stop()
	r, _, err := c.ExchangeWithConnContext(ctx, q, co)
	if err != nil && ctx.Err() != nil {
		return nil, &net.OpError{Op: "read", Net: c.Net, Addr: co.RemoteAddr(), Err: ctx.Err()}
	}
	return r, err
}

// exchange asks one server once.
func exchange(ctx context.Context, cfg *Config, q *dns.Msg, srv netip.AddrPort) dnsReply {
	c := &dns.Client{Net: "udp", Timeout: cfg.Timeout(), UDPSize: 1232}
	if cfg.UseTCP {
		c.Net = "tcp"
	}
	qctx, cancel := context.WithTimeout(ctx, cfg.Timeout())
	defer cancel()
	r, err := exchangeConn(qctx, c, q, srv.String())
	if err == nil && r.Truncated && c.Net == "udp" {
		c.Net = "tcp"
		r, err = exchangeConn(qctx, c, q, srv.String())
	}
	rep := dnsReply{server: srv, cnames: []string{}}
	var ne net.Error
	switch {
	case err == nil:
	case errors.As(err, &ne) && ne.Timeout() || errors.Is(err, context.DeadlineExceeded):
		rep.status, rep.err = StatusTimeout, fmt.Errorf("no answer from DNS server %s within %v: %w", srv, cfg.Timeout(), err)
		return rep
	case ne != nil || errors.Is(err, context.Canceled):
		rep.status, rep.err = StatusError, err
		return rep
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		rep.status, rep.err = StatusError, fmt.Errorf("DNS server %s closed the connection without an answer: %w", srv, err)
		return rep
	default:
		// Not a network error: the server answered, with bytes that do
		// not unpack as a DNS message.
		rep.status, rep.err = StatusBadReply, &ReplyError{Server: srv.String(), Err: ErrMalformedReply, Detail: err.Error()}
		return rep
	}
	if err := checkReply(q, r); err != nil {
		rep.status, rep.err = StatusBadReply, &ReplyError{Server: srv.String(), Err: err, Detail: replyDetail(err, r)}
		return rep
	}
	switch r.Rcode {
	case dns.RcodeSuccess:
	case dns.RcodeNameError:
		rep.status = StatusNXDOMAIN
		return rep
	case dns.RcodeServerFailure:
		rep.status = StatusServFail
		return rep
	case dns.RcodeRefused:
		rep.status = StatusRefused
		return rep
	default:
		rep.status, rep.err = StatusError, fmt.Errorf("DNS server %s answered %s", srv, dns.RcodeToString[r.Rcode])
		return rep
	}
	rep.answer = r.Answer
	qname := q.Question[0].Name
	cur := qname
	seen := map[string]bool{strings.ToLower(qname): true}
	for hop := 0; ; hop++ {
		next := cnameOf(r, cur)
		if next == "" {
			break
		}
		if seen[strings.ToLower(next)] {
			chain := strings.Join(append([]string{strings.TrimSuffix(qname, ".")}, append(rep.cnames, strings.TrimSuffix(next, "."))...), " → ")
			rep.status, rep.err = StatusCNAMELoop, &ReplyError{Server: srv.String(), Err: ErrCNAMELoop, Detail: chain}
			return rep
		}
		if hop == maxCNAMEHops {
			rep.status, rep.err = StatusCNAMETooLong, &ReplyError{Server: srv.String(), Err: ErrCNAMEChainTooLong,
				Detail: fmt.Sprintf("%s → … → %s goes on to %s; netkit follows at most %d aliases", strings.TrimSuffix(qname, "."), rep.cnames[len(rep.cnames)-1], strings.TrimSuffix(next, "."), maxCNAMEHops)}
			return rep
		}
		seen[strings.ToLower(next)] = true
		rep.cnames = append(rep.cnames, strings.TrimSuffix(next, "."))
		cur = next
	}
	rep.canonical = strings.TrimSuffix(cur, ".")
	for _, rr := range r.Answer {
		if !strings.EqualFold(rr.Header().Name, cur) {
			continue
		}
		switch rr := rr.(type) {
		case *dns.A:
			if a, ok := netip.AddrFromSlice(rr.A.To4()); ok && q.Question[0].Qtype == dns.TypeA {
				rep.addrs = append(rep.addrs, a)
			}
		case *dns.AAAA:
			if a, ok := netip.AddrFromSlice(rr.AAAA.To16()); ok && q.Question[0].Qtype == dns.TypeAAAA {
				rep.addrs = append(rep.addrs, a)
			}
		case *dns.PTR:
			if q.Question[0].Qtype == dns.TypePTR {
				rep.names = append(rep.names, strings.TrimSuffix(rr.Ptr, "."))
			}
		}
	}
	rep.status = StatusFound
	if len(rep.addrs) == 0 && len(rep.names) == 0 {
		rep.status = StatusNoData
	}
	return rep
}

// cnameOf returns the target of the CNAME record of name in r's answer, or
// "" when there is none.
func cnameOf(r *dns.Msg, name string) string {
	for _, rr := range r.Answer {
		if c, ok := rr.(*dns.CNAME); ok && strings.EqualFold(c.Hdr.Name, name) {
			return c.Target
		}
	}
	return ""
}

// checkReply returns why r cannot be the reply to q: ErrNotAReply or
// ErrWrongQuestion; nil when it can.
func checkReply(q, r *dns.Msg) error {
	if !r.Response {
		return ErrNotAReply
	}
	// An error reply may leave the question out (FORMERR often does).
	if len(r.Question) == 0 && r.Rcode != dns.RcodeSuccess {
		return nil
	}
	want := q.Question[0]
	if len(r.Question) != 1 || !strings.EqualFold(r.Question[0].Name, want.Name) || r.Question[0].Qtype != want.Qtype || r.Question[0].Qclass != want.Qclass {
		return ErrWrongQuestion
	}
	return nil
}

// replyDetail says what of r made checkReply refuse it with err.
func replyDetail(err error, r *dns.Msg) string {
	if err == ErrNotAReply {
		return "it sent a query (QR=0), not an answer"
	}
	if len(r.Question) == 0 {
		return "the reply has no question section"
	}
	asked := make([]string, len(r.Question))
	for i, q := range r.Question {
		asked[i] = strings.TrimSuffix(q.Name, ".") + " " + dns.TypeToString[q.Qtype]
	}
	return "it answered " + strings.Join(asked, ", ")
}

// searchNames lists the names to ask for name, in glibc's order: a name
// ending in a dot as is; a name with at least ndots dots as is, then with
// each search domain; a shorter one with each search domain, then as is.
func searchNames(name string, cfg *Config) []string {
	if strings.HasSuffix(name, ".") {
		return []string{name}
	}
	var withSearch []string
	for _, d := range cfg.Search {
		withSearch = append(withSearch, name+"."+strings.TrimSuffix(d, "."))
	}
	if strings.Count(name, ".") >= cfg.Ndots {
		return append([]string{name}, withSearch...)
	}
	return append(withSearch, name)
}
