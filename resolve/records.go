package resolve

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/netkit/netkit/units"
)

// RecordTypes are the record types LookupRecords asks for, as dig names
// them.
var RecordTypes = []string{"A", "AAAA", "CNAME", "MX", "TXT", "NS", "SOA", "PTR", "SRV", "CAA"}

// Record is one resource record of a DNS answer, as dig prints it.
type Record struct {
	// Name is the owner, fully qualified ("www.example.test.").
	Name string `json:"name"`
	TTL  uint32 `json:"ttl"`
	// Type is the record type: "A", "MX", "CNAME", …
	Type string `json:"type"`
	// Data is the record's data as dig +short prints it: "10 mx.example.",
	// "\"v=spf1 -all\"".
	Data string `json:"data"`
}

// RecordsResult is what LookupRecords asked and the answer it got.
type RecordsResult struct {
	// Name is the question, fully qualified; Type its record type.
	Name string `json:"name"`
	Type string `json:"type"`
	// Server is the DNS server that answered, "ip:port"; empty when none
	// did.
	Server string `json:"server,omitempty"`
	// Records is the answer section: the records of Type, and the CNAMEs
	// that lead to them. Empty when the name has none.
	Records    []Record `json:"records"`
	DurationMS float64  `json:"duration_ms"`
	// Error says why there is no record of Type, when there is none.
	Error string `json:"error,omitempty"`
}

// LookupRecords asks DNS for the records of name of type qtype (one of
// RecordTypes, any case), as dig does: the name as given (no search list,
// no hosts file), of Resolver.Servers or else the servers of resolv.conf, in
// turn. A name that does not exist is a *LookupError wrapping
// ErrNoSuchHost; a name without records of the type wraps ErrNoData; no
// answer wraps the transport's error.
func (r *Resolver) LookupRecords(ctx context.Context, name, qtype string) (*RecordsResult, error) {
	qtype = strings.ToUpper(qtype)
	if !slices.Contains(RecordTypes, qtype) {
		return nil, &InputError{What: "record type", Value: qtype, Why: "want one of " + strings.Join(RecordTypes, ", ")}
	}
	if name != "." {
		if err := CheckName(strings.TrimSuffix(name, ".")); err != nil {
			return nil, err
		}
	}
	cfg, err := r.config()
	if err != nil {
		return nil, err
	}
	servers := cfg.Nameservers
	if len(r.Servers) > 0 {
		servers = r.Servers
	}
	start := time.Now()
	rep := ask(ctx, cfg, rotate(servers, cfg.Rotate), dns.Fqdn(name), dns.StringToType[qtype], func(Step) {})
	res := &RecordsResult{Name: dns.Fqdn(name), Type: qtype, Records: []Record{}, DurationMS: units.Millis(time.Since(start))}
	if rep.server.IsValid() && rep.err == nil {
		res.Server = rep.server.String()
	}
	for _, rr := range rep.answer {
		h := rr.Header()
		res.Records = append(res.Records, Record{Name: h.Name, TTL: h.Ttl, Type: dns.TypeToString[h.Rrtype],
			Data: strings.TrimPrefix(rr.String(), h.String())})
	}
	lookErr := &LookupError{Name: name, Asked: []string{"DNS server " + JoinAddrs(servers)}, Direct: len(r.Servers) > 0}
	switch rep.status {
	case StatusNXDOMAIN:
		lookErr.Err = ErrNoSuchHost
	case StatusServFail:
		lookErr.Err = ErrServerFailure
	case StatusRefused:
		lookErr.Err = ErrRefused
	case StatusTimeout, StatusError, StatusBadReply, StatusCNAMELoop, StatusCNAMETooLong:
		lookErr.Err = rep.err
	default:
		if slices.ContainsFunc(res.Records, func(rec Record) bool { return rec.Type == qtype }) {
			return res, nil
		}
		lookErr.Err = &noDataError{types: []string{qtype}}
	}
	res.Error = lookErr.Error()
	return res, lookErr
}

// ReverseName is the name of addr's PTR records: "4.3.2.1.in-addr.arpa."
// for 1.2.3.4, the nibbles under ip6.arpa for IPv6.
func ReverseName(addr netip.Addr) (string, error) {
	name, err := dns.ReverseAddr(addr.Unmap().WithZone("").String())
	if err != nil {
		return "", fmt.Errorf("reverse name of %s: %w", addr, err)
	}
	return name, nil
}
