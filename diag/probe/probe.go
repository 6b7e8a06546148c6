package probe

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/netkit/netkit/diag"
	"github.com/netkit/netkit/diag/explain"
	"github.com/netkit/netkit/echo"
	"github.com/netkit/netkit/resolve"
)

// Prober names a kind of probe, as blackbox_exporter's "prober" key does.
type Prober string

// The probers. ICMP, TCP and DNS are blackbox_exporter's; Echo and
// Diagnose are netkit's own.
const (
	ICMP     Prober = "icmp"
	TCP      Prober = "tcp"
	DNS      Prober = "dns"
	Echo     Prober = "echo"
	Diagnose Prober = "diagnose"
)

// Probers lists the probers Run knows, in the order the docs list them.
var Probers = []Prober{ICMP, TCP, DNS, Echo, Diagnose}

// DefaultTimeout bounds a probe whose module sets no timeout and whose
// context has no deadline.
const DefaultTimeout = 5 * time.Second

// ReasonOther is the reason of a failure that diag/explain does not
// classify. With explain.Codes() it makes the bounded set of reasons.
const ReasonOther = "OTHER"

// Reasons lists every value the reason label of probe_failure_info can
// take: the codes of diag/explain's table and ReasonOther.
func Reasons() []string {
	return append(explain.Codes(), ReasonOther)
}

// Module is what to probe and how, as a module of blackbox.yml says it.
// The zero value of every field but Prober is usable.
type Module struct {
	Prober Prober
	// Timeout bounds the probe; 0 leaves it to the context (or
	// DefaultTimeout when the context has no deadline).
	Timeout time.Duration
	// PreferIPv4 picks the first IPv4 address as the one probe_success,
	// probe_ip_protocol and probe_ip_addr_hash are about; false prefers
	// IPv6, as blackbox_exporter's preferred_ip_protocol "ip6" default.
	PreferIPv4 bool
	// NoFallback probes the preferred family only (blackbox_exporter's
	// ip_protocol_fallback: false); by default every address of the name
	// is probed, and the primary is of the other family when the name has
	// none of the preferred one.
	NoFallback bool
	// TLS makes the tcp prober do a TLS handshake after the connect.
	TLS bool
	// QueryResponse is the tcp prober's dialogue with the server once
	// connected, as blackbox_exporter's query_response.
	QueryResponse []QueryResponse
	// Plaintext makes the echo and diagnose probers speak plain TCP; they
	// use TLS by default.
	Plaintext bool
	// Client holds the TLS settings (RootCAs, Certificates, ServerName,
	// InsecureSkipVerify) of the tcp, echo and diagnose probers. Its
	// ServerName defaults to the target's host; its Timeout is set by Run.
	Client echo.ClientOptions
	ICMP   ICMPOptions
	DNS    DNSOptions
	// PingCount is the number of ICMP echo requests per address of the
	// diagnose prober; 0 means 1.
	PingCount int
}

// QueryResponse is one step of the tcp prober's dialogue, as an item of
// blackbox_exporter's query_response: read lines until one matches Expect
// (when set), then send Send and a newline (when set; ${1} and the like
// are Expect's groups in the line that matched), then do the TLS handshake
// on the connection (StartTLS), which speaks TLS from then on.
type QueryResponse struct {
	Expect   *regexp.Regexp
	Send     string
	StartTLS bool
}

// ICMPOptions are the settings of the icmp prober.
type ICMPOptions struct {
	// PayloadSize is the ICMP payload in bytes; 0 means ping.DefaultSize.
	PayloadSize int
	// TTL is the TTL (hop limit) of the request; 0 means ping.DefaultTTL.
	TTL int
	// DontFragment sets the don't-fragment bit: a request larger than the
	// path MTU fails (EMSGSIZE) rather than arriving in pieces.
	DontFragment bool
}

// DNSOptions are the settings of the dns prober, whose target is the DNS
// server to ask.
type DNSOptions struct {
	// QueryName is the name asked; required.
	QueryName string
	// QueryType is the record type asked (dns.TypeA, …); 0 means
	// dns.TypeANY, as blackbox_exporter's default.
	QueryType uint16
	// ValidRcodes are the response codes that count as success; empty
	// means NOERROR only.
	ValidRcodes []int
	// TCP asks over TCP instead of UDP.
	TCP bool
	// Answer, Authority and Additional check the records of each section.
	Answer, Authority, Additional RRChecks
}

// RRChecks are blackbox_exporter's validate_*_rrs: regular expressions
// matched against each record in its zone-file form.
type RRChecks struct {
	// FailIfMatches fails when any record matches any of them.
	FailIfMatches []*regexp.Regexp
	// FailIfAllMatch fails when every record matches all of them.
	FailIfAllMatch []*regexp.Regexp
	// FailIfNotMatches fails when a record does not match one of them, or
	// when there is no record.
	FailIfNotMatches []*regexp.Regexp
	// FailIfNoneMatches fails when no record matches one of them.
	FailIfNoneMatches []*regexp.Regexp
}

// Options are the inputs of Run that do not come from the module.
type Options struct {
	// Resolver looks up target names; nil means resolve.Default().
	Resolver *resolve.Resolver
	// Allowed, if not nil, says which addresses may be probed: a target
	// with an address it refuses is not probed at all (*diag.NotAllowedError).
	Allowed func(netip.Addr) bool
	// Logger receives the probe's log (what blackbox_exporter shows with
	// debug=true); nil discards it.
	Logger *slog.Logger
}

// Sample is one value of a scrape: a metric name, its labels and value.
type Sample struct {
	Name   string  `json:"name"`
	Labels []Label `json:"labels,omitempty"`
	Value  float64 `json:"value"`
}

// Label is one label of a sample.
type Label struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Failure is why a probe failed: the step that broke and the stable code
// of the cause.
type Failure struct {
	Step   string `json:"step"`
	Reason string `json:"reason"`
	// Error is the error's text, for the log.
	Error string `json:"error"`
}

// Address is the outcome for one resolved address.
type Address struct {
	Address netip.Addr `json:"address"`
	Success bool       `json:"success"`
}

// Result is what a probe found.
type Result struct {
	Success bool `json:"success"`
	// Primary is the address probe_success is about: the first of the
	// preferred family, else the first; invalid when nothing resolved.
	Primary   netip.Addr `json:"primary,omitzero"`
	Addresses []Address  `json:"addresses"`
	Failures  []Failure  `json:"failures,omitempty"`
	// Samples are the metrics of the scrape, probe_success and
	// probe_duration_seconds first, in a stable order.
	Samples []Sample `json:"samples"`
}

// TargetError is a target the module cannot take: the caller's mistake.
type TargetError struct {
	Target string
	Why    string
}

func (e *TargetError) Error() string {
	return fmt.Sprintf("invalid target %q: %s", e.Target, e.Why)
}

// Help is the help text of every metric a probe may return, by name.
var Help = map[string]string{
	"probe_success":                                 "Displays whether or not the probe was a success",
	"probe_duration_seconds":                        "Returns how long the probe took to complete in seconds",
	"probe_dns_lookup_time_seconds":                 "Returns the time taken for probe dns lookup in seconds",
	"probe_ip_protocol":                             "Specifies whether probe ip protocol is IP4 or IP6",
	"probe_ip_addr_hash":                            "Specifies the hash of IP address. It's useful to detect if the IP address changes.",
	"probe_failure_info":                            "Why the probe failed: the step that broke and the stable code of the cause (see 'netkit explain CODE')",
	"probe_address_success":                         "Whether the probe of each resolved address succeeded",
	"probe_icmp_duration_seconds":                   "Duration of icmp request by phase",
	"probe_icmp_reply_hop_limit":                    "Replied packet hop limit (TTL for ipv4)",
	"probe_failed_due_to_regex":                     "Indicates if probe failed due to regex",
	"probe_ssl_earliest_cert_expiry":                "Returns last SSL chain expiry in unixtime",
	"probe_ssl_last_chain_expiry_timestamp_seconds": "Returns last SSL chain expiry in timestamp",
	"probe_ssl_last_chain_info":                     "Contains SSL leaf certificate information",
	"probe_tls_version_info":                        "Returns the TLS version used or NaN when unknown",
	"probe_dns_duration_seconds":                    "Duration of DNS request by phase",
	"probe_dns_answer_rrs":                          "Returns number of entries in the answer resource record list",
	"probe_dns_authority_rrs":                       "Returns number of entries in the authority resource record list",
	"probe_dns_additional_rrs":                      "Returns number of entries in the additional resource record list",
	"probe_dns_query_succeeded":                     "Displays whether or not the query was executed successfully",
	"probe_dns_serial":                              "Returns the serial number of the zone",
	"probe_echo_round_trip_seconds":                 "Time of the netkit echo info round trip to the primary address",
	"probe_step_success":                            "Whether each step of netkit diagnose passed (a warning passes; steps not checked are absent)",
	"probe_step_duration_seconds":                   "Duration of each step of netkit diagnose",
}

// run is the state of one probe.
type run struct {
	target string
	host   string
	port   uint16
	m      Module
	o      Options
	log    *slog.Logger
	res    *Result
	// addrs are the resolved addresses, primary among them.
	addrs []netip.Addr
}

// Run probes target with module m. Network failures are in the Result,
// with probe_success 0 and their reasons; the error is for a target the
// module cannot take (*TargetError) or that Options.Allowed refuses
// (*diag.NotAllowedError), when nothing was probed. Run returns within the
// module's timeout or ctx's deadline, whichever is sooner.
func Run(ctx context.Context, target string, m Module, o Options) (*Result, error) {
	start := time.Now()
	timeout := m.Timeout
	if _, ok := ctx.Deadline(); !ok {
		timeout = cmp.Or(timeout, DefaultTimeout)
	}
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	r := &run{target: target, m: m, o: o, log: o.Logger, res: &Result{}}
	if r.log == nil {
		r.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if r.o.Resolver == nil {
		r.o.Resolver = resolve.Default()
	}
	if !slices.Contains(Probers, m.Prober) {
		return nil, &TargetError{Target: target, Why: fmt.Sprintf("unknown prober %q", m.Prober)}
	}
	if err := r.parseTarget(); err != nil {
		return nil, err
	}
	r.log.Info("Beginning probe", "probe", string(m.Prober), "timeout_seconds", remaining(ctx).Seconds())
	var err error
	switch m.Prober {
	case ICMP:
		err = r.icmp(ctx)
	case TCP:
		err = r.tcp(ctx)
	case DNS:
		err = r.dns(ctx)
	case Echo:
		err = r.echo(ctx)
	case Diagnose:
		err = r.diagnose(ctx)
	}
	if err != nil {
		return nil, err
	}
	d := time.Since(start)
	res := r.res
	head := []Sample{{Name: "probe_success", Value: boolValue(res.Success)}, {Name: "probe_duration_seconds", Value: d.Seconds()}}
	for _, f := range res.Failures {
		r.log.Error("Probe step failed", "step", f.Step, "reason", f.Reason, "err", f.Error)
		res.Samples = append(res.Samples, Sample{Name: "probe_failure_info", Labels: []Label{{"step", f.Step}, {"reason", f.Reason}}, Value: 1})
	}
	res.Samples = append(head, res.Samples...)
	if res.Success {
		r.log.Info("Probe succeeded", "duration_seconds", d.Seconds())
	} else {
		r.log.Error("Probe failed", "duration_seconds", d.Seconds())
	}
	return res, nil
}

// parseTarget splits the target into host and port as the prober wants
// it: HOST:PORT for tcp, echo and diagnose; HOST for icmp; HOST or
// HOST:PORT (53) for dns.
func (r *run) parseTarget() error {
	t := r.target
	bad := func(why string) error { return &TargetError{Target: t, Why: why} }
	if t == "" {
		return bad("empty")
	}
	switch r.m.Prober {
	case ICMP:
		r.host = strings.TrimSuffix(strings.TrimPrefix(t, "["), "]")
	case DNS:
		host, port, err := net.SplitHostPort(t)
		if err != nil {
			host, port = strings.TrimSuffix(strings.TrimPrefix(t, "["), "]"), "53"
		}
		p, perr := resolve.ParsePort(port, "udp")
		if perr != nil {
			return bad(perr.Error())
		}
		r.host, r.port = host, p
	default:
		host, port, err := net.SplitHostPort(t)
		if err != nil {
			return bad("want HOST:PORT ([::1]:443 for IPv6)")
		}
		p, perr := resolve.ParsePort(port, "tcp")
		if perr != nil {
			return bad(perr.Error())
		}
		r.host, r.port = host, p
	}
	if r.host == "" {
		return bad("the host is empty")
	}
	if err := resolve.CheckName(r.host); err != nil && !resolve.IsNumericHost(r.host) {
		return bad(err.Error())
	}
	return nil
}

// fail records a failure of step, classified by diag/explain.
func (r *run) fail(step string, err error) {
	r.res.Failures = append(r.res.Failures, Failure{Step: step, Reason: Reason(err, r.host, r.port), Error: err.Error()})
}

// failCode records a failure of step that is a finding, not a Go error.
func (r *run) failCode(step, code, msg string) {
	r.res.Failures = append(r.res.Failures, Failure{Step: step, Reason: code, Error: msg})
}

// findingError is a failure that is a finding of the probe rather than
// an error of the network (a DNS answer the module does not accept), with
// its code in diag/explain's table.
type findingError struct {
	code, msg string
}

func (f *findingError) Error() string { return f.msg }

// Reason is the stable code of err's cause (diag/explain's), or
// ReasonOther.
func Reason(err error, host string, port uint16) string {
	var f *findingError
	if errors.As(err, &f) {
		return f.code
	}
	var ie *icmpError
	if errors.As(err, &ie) && ie.adminProhibited() {
		return reasonAdminProhibited
	}
	if ex, ok := explain.ErrorAt(err, host, port); ok {
		return ex.Code
	}
	return ReasonOther
}

// resolve looks the host up, picks the primary address and records
// blackbox_exporter's resolution metrics. It reports false when nothing
// resolved (the failure is recorded); the error is a *diag.NotAllowedError.
func (r *run) resolve(ctx context.Context) (bool, error) {
	fam := resolve.AnyFamily
	if r.m.NoFallback {
		fam = resolve.IPv6
		if r.m.PreferIPv4 {
			fam = resolve.IPv4
		}
	}
	r.log.Info("Resolving target address", "target", r.host, "ip_protocol", familyName(r.m.PreferIPv4))
	start := time.Now()
	addrs, err := r.o.Resolver.LookupIP(ctx, r.host, fam)
	lookup := time.Since(start)
	r.add("probe_dns_lookup_time_seconds", lookup.Seconds())
	if err == nil && len(addrs) == 0 {
		err = &resolve.LookupError{Name: r.host, Err: resolve.ErrNoData}
	}
	if err != nil {
		r.add("probe_ip_protocol", 0)
		r.add("probe_ip_addr_hash", 0)
		r.log.Error("Resolution with IP protocol failed", "target", r.host, "err", err)
		r.fail("resolve", err)
		return false, nil
	}
	for _, a := range addrs {
		a = a.Unmap()
		if r.o.Allowed != nil && !r.o.Allowed(a) {
			return false, &diag.NotAllowedError{Target: r.target, Address: a}
		}
		if !slices.Contains(r.addrs, a) {
			r.addrs = append(r.addrs, a)
		}
	}
	i := slices.IndexFunc(r.addrs, func(a netip.Addr) bool { return a.Is4() == r.m.PreferIPv4 })
	r.res.Primary = r.addrs[max(i, 0)]
	r.add("probe_ip_protocol", float64(ipVersion(r.res.Primary)))
	r.add("probe_ip_addr_hash", addrHash(r.res.Primary))
	r.log.Info("Resolved target address", "target", r.host, "ip", r.res.Primary.String(), "addresses", resolve.JoinAddrs(r.addrs))
	return true, nil
}

// eachAddress runs probe on every resolved address at once, records
// probe_address_success, and returns the primary's error. The failures of
// the other addresses are recorded too: a broken AAAA behind a working A
// shows in probe_failure_info.
func (r *run) eachAddress(ctx context.Context, step string, probe func(context.Context, netip.Addr) (string, error)) error {
	type outcome struct {
		step string
		err  error
	}
	out := make([]outcome, len(r.addrs))
	var wg sync.WaitGroup
	for i, a := range r.addrs {
		wg.Go(func() {
			s, err := probe(ctx, a)
			out[i] = outcome{cmp.Or(s, step), err}
		})
	}
	wg.Wait()
	var primary error
	for i, a := range r.addrs {
		ok := out[i].err == nil
		r.res.Addresses = append(r.res.Addresses, Address{Address: a, Success: ok})
		r.res.Samples = append(r.res.Samples, Sample{Name: "probe_address_success",
			Labels: []Label{{"address", a.String()}, {"family", familyName(a.Is4())}}, Value: boolValue(ok)})
		if ok {
			r.log.Info("Address probed", "address", a.String(), "step", out[i].step)
			continue
		}
		r.log.Error("Address failed", "address", a.String(), "step", out[i].step, "err", out[i].err)
		if !slices.ContainsFunc(r.res.Failures, func(f Failure) bool {
			return f.Step == out[i].step && f.Reason == Reason(out[i].err, r.host, r.port)
		}) {
			r.fail(out[i].step, out[i].err)
		}
		if a == r.res.Primary {
			primary = out[i].err
		}
	}
	return primary
}

// add appends a sample without labels.
func (r *run) add(name string, v float64, labels ...Label) {
	r.res.Samples = append(r.res.Samples, Sample{Name: name, Labels: labels, Value: v})
}

// remaining is the time left before ctx's deadline, at least a millisecond.
func remaining(ctx context.Context) time.Duration {
	dl, ok := ctx.Deadline()
	if !ok {
		return DefaultTimeout
	}
	return max(time.Until(dl), time.Millisecond)
}

// addrHash is blackbox_exporter's probe_ip_addr_hash: FNV-32a of the
// address bytes (4 for IPv4, 16 for IPv6).
func addrHash(a netip.Addr) float64 {
	h := fnv.New32a()
	h.Write(a.AsSlice())
	return float64(h.Sum32())
}

func ipVersion(a netip.Addr) int {
	if a.Is4() {
		return 4
	}
	return 6
}

// familyName is blackbox_exporter's name of an address family.
func familyName(v4 bool) string {
	if v4 {
		return "ip4"
	}
	return "ip6"
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
