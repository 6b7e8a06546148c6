package probe

import (
	"context"
	"fmt"
	"net/netip"
	"regexp"
	"time"

	"github.com/miekg/dns"
)

// Reasons of the dns prober's findings that are not Go errors, rows of
// diag/explain's table.
const (
	reasonRcode  = "DNS-RCODE"
	reasonAnswer = "DNS-ANSWER"
)

// dnsExchange is what one query to one server address gave.
type dnsExchange struct {
	resp             *dns.Msg
	connect, request time.Duration
}

// dns is blackbox_exporter's dns prober: the target is the DNS server,
// asked QueryName and QueryType at every address it resolves to; the
// response code and records are checked against the module.
func (r *run) dns(ctx context.Context) error {
	start := time.Now()
	ok, err := r.resolve(ctx)
	phase := func(name string, d time.Duration) {
		r.add("probe_dns_duration_seconds", d.Seconds(), Label{"phase", name})
	}
	phase("resolve", time.Since(start))
	if !ok {
		phase("connect", 0)
		phase("request", 0)
		r.add("probe_dns_query_succeeded", 0)
		return err
	}
	o := r.m.DNS
	qtype := o.QueryType
	if qtype == 0 {
		qtype = dns.TypeANY
	}
	primary := r.res.Primary
	var got dnsExchange
	perr := r.eachAddress(ctx, "query", func(ctx context.Context, a netip.Addr) (string, error) {
		ex, err := r.query(ctx, netip.AddrPortFrom(a, r.port), qtype)
		if a == primary {
			got = ex
		}
		if err != nil {
			return "query", err
		}
		if step, f := checkResponse(ex.resp, o); f != nil {
			return step, f
		}
		return "", nil
	})
	phase("connect", got.connect)
	phase("request", got.request)
	if got.resp != nil {
		r.add("probe_dns_answer_rrs", float64(len(got.resp.Answer)))
		r.add("probe_dns_authority_rrs", float64(len(got.resp.Ns)))
		r.add("probe_dns_additional_rrs", float64(len(got.resp.Extra)))
		r.add("probe_dns_query_succeeded", 1)
		if qtype == dns.TypeSOA {
			for _, rr := range got.resp.Answer {
				if soa, ok := rr.(*dns.SOA); ok {
					r.add("probe_dns_serial", float64(soa.Serial))
				}
			}
		}
	} else {
		r.add("probe_dns_query_succeeded", 0)
	}
	r.res.Success = perr == nil
	return nil
}

// query asks one server address, over UDP (TCP when the answer is
// truncated) or TCP, timing the connect and the request apart.
func (r *run) query(ctx context.Context, srv netip.AddrPort, qtype uint16) (dnsExchange, error) {
	var ex dnsExchange
	q := new(dns.Msg)
	q.SetQuestion(dns.Fqdn(r.m.DNS.QueryName), qtype)
	q.RecursionDesired = true
	netw := "udp"
	if r.m.DNS.TCP {
		netw = "tcp"
	}
	c := &dns.Client{Net: netw, Timeout: remaining(ctx)}
	start := time.Now()
	co, err := c.DialContext(ctx, srv.String())
	if err != nil {
		return ex, err
	}
	defer co.Close()
	stop := context.AfterFunc(ctx, func() { co.Close() })
	defer stop()
	ex.connect = time.Since(start)
	resp, rtt, err := c.ExchangeWithConnContext(ctx, q, co)
	ex.request = rtt
	if err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("no answer from DNS server %s: %w", srv, ctx.Err())
		}
		return ex, err
	}
	r.log.Info("Got response", "server", srv.String(), "rcode", dns.RcodeToString[resp.Rcode], "answers", len(resp.Answer))
	ex.resp = resp
	return ex, nil
}

// checkResponse checks the response code and the records, as
// blackbox_exporter does, and returns the first finding and its step.
func checkResponse(resp *dns.Msg, o DNSOptions) (string, *findingError) {
	valid := o.ValidRcodes
	if len(valid) == 0 {
		valid = []int{dns.RcodeSuccess}
	}
	rcodeOK := false
	for _, rc := range valid {
		rcodeOK = rcodeOK || rc == resp.Rcode
	}
	if !rcodeOK {
		name := dns.RcodeToString[resp.Rcode]
		code := reasonRcode
		switch resp.Rcode {
		case dns.RcodeNameError:
			code = "NXDOMAIN"
		case dns.RcodeServerFailure:
			code = "SERVFAIL"
		case dns.RcodeRefused:
			code = "REFUSED"
		}
		return "rcode", &findingError{code: code, msg: fmt.Sprintf("the server answered %s, not one of the valid response codes", name)}
	}
	for _, s := range []struct {
		step   string
		rrs    []dns.RR
		checks RRChecks
	}{{"answer", resp.Answer, o.Answer}, {"authority", resp.Ns, o.Authority}, {"additional", resp.Extra, o.Additional}} {
		if why := s.checks.check(s.rrs); why != "" {
			return s.step, &findingError{code: reasonAnswer, msg: fmt.Sprintf("the %s section %s", s.step, why)}
		}
	}
	return "", nil
}

// check applies the checks to rrs as blackbox_exporter's validRRs does,
// and says why they fail, empty when they pass.
func (c RRChecks) check(rrs []dns.RR) string {
	if len(rrs) == 0 && (len(c.FailIfNotMatches) > 0 || len(c.FailIfNoneMatches) > 0) {
		return "has no record, and a match is required"
	}
	allMatch, anyMatch := true, false
	for _, rr := range rrs {
		s := rr.String()
		if re := firstMatch(c.FailIfMatches, s, true); re != nil {
			return fmt.Sprintf("has %q, which matches %q", s, re)
		}
		if firstMatch(c.FailIfAllMatch, s, false) != nil {
			allMatch = false
		}
		if re := firstMatch(c.FailIfNotMatches, s, false); re != nil {
			return fmt.Sprintf("has %q, which does not match %q", s, re)
		}
		if len(c.FailIfNoneMatches) > 0 && firstMatch(c.FailIfNoneMatches, s, true) != nil {
			anyMatch = true
		}
	}
	switch {
	case len(c.FailIfAllMatch) > 0 && allMatch && len(rrs) > 0:
		return "has only records that match fail_if_all_match_regexp"
	case len(c.FailIfNoneMatches) > 0 && !anyMatch:
		return "has no record that matches fail_if_none_matches_regexp"
	}
	return ""
}

// firstMatch returns the first of res that matches s (want true) or does
// not match it (want false), nil when none.
func firstMatch(res []*regexp.Regexp, s string, want bool) *regexp.Regexp {
	for _, re := range res {
		if re.MatchString(s) == want {
			return re
		}
	}
	return nil
}
