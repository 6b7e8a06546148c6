package resolve

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
	"github.com/netkit/netkit/units"
)

// Resolver looks names up as glibc's getaddrinfo does. The zero value reads
// /etc/hosts, /etc/resolv.conf and /etc/nsswitch.conf.
type Resolver struct {
	// HostsPath is the hosts file; empty means /etc/hosts.
	HostsPath string
	// Paths are the resolver configuration files; empty fields mean the
	// system's.
	Paths ConfigPaths
	// Servers, when set, are asked directly, like dig @server: the hosts
	// file, nsswitch order and search list are skipped, and the name is
	// asked as given.
	Servers []netip.AddrPort
	// Timeout, when positive, replaces the per-query timeout of
	// resolv.conf.
	Timeout time.Duration
}

// Default returns the resolver netkit's commands use: the system's files,
// or the files named by the environment variables NETKIT_HOSTS_FILE,
// NETKIT_RESOLV_CONF and NETKIT_NSSWITCH_CONF (for trying a configuration
// before installing it, and for tests).
func Default() *Resolver {
	return &Resolver{
		HostsPath: os.Getenv("NETKIT_HOSTS_FILE"),
		Paths: ConfigPaths{
			ResolvConf: os.Getenv("NETKIT_RESOLV_CONF"),
			NSSwitch:   os.Getenv("NETKIT_NSSWITCH_CONF"),
		},
	}
}

// config loads the resolver configuration, with Timeout applied.
func (r *Resolver) config() (*Config, error) {
	cfg, err := LoadConfig(r.Paths)
	if err != nil {
		return nil, err
	}
	if r.Timeout > 0 {
		cfg.TimeoutMS = units.Millis(r.Timeout)
	}
	return cfg, nil
}

func (r *Resolver) hostsPath() string {
	if r.HostsPath != "" {
		return r.HostsPath
	}
	return DefaultHostsPath
}

// Query is what to look up, as getaddrinfo's arguments and hints.
type Query struct {
	// Name is a host name or a numeric address (IPv4 in any inet_aton form,
	// IPv6 with an optional %zone).
	Name string
	// Service is a service name from /etc/services ("https", matched
	// case-sensitively as glibc does) or a port number; empty means port 0.
	// A RAW socket type takes no service.
	Service  string
	Family   Family
	SockType SockType
	Protocol Protocol
	// V4Mapped is getaddrinfo's AI_V4MAPPED: with Family IPv6, a name with
	// no IPv6 address returns its IPv4 addresses as ::ffff:a.b.c.d (getent
	// ahostsv6 sets it).
	V4Mapped bool
}

// Result is the answer to a Query.
type Result struct {
	Name    string `json:"name"`
	Service string `json:"service,omitempty"`
	Port    int    `json:"port"`
	// Canonical is empty when the lookup failed.
	Canonical string `json:"canonical_name,omitempty"`
	// Answers are getaddrinfo's results, in its order.
	Answers []Answer `json:"answers"`
	// Steps are the lookups made, in order, found or not; the A and AAAA
	// questions for one name, asked at once, are listed A first.
	Steps []Step `json:"steps"`
	// Notes explain surprising readings (an octal IPv4 part, a skipped
	// nsswitch source).
	Notes     []string `json:"notes"`
	ElapsedMS float64  `json:"elapsed_ms"`
}

// Answer is one getaddrinfo result and where its address came from.
type Answer struct {
	Family   Family         `json:"family"`
	SockType SockType       `json:"socktype"`
	Protocol Protocol       `json:"protocol"`
	Address  netip.AddrPort `json:"address"`
	Origin   Origin         `json:"origin"`
}

// Origin says where an address came from.
type Origin struct {
	// Source is "literal", "hosts" or "dns".
	Source string `json:"source"`
	// HostsFile and Line locate a hosts file answer.
	HostsFile string `json:"hosts_file,omitempty"`
	Line      int    `json:"line,omitempty"`
	// Server, RecordType, QueryName and CNAMEs describe a DNS answer: the
	// server that answered, A or AAAA, the name asked (after the search
	// list) and the CNAME chain followed from it.
	Server     string `json:"server,omitempty"`
	RecordType string `json:"record_type,omitempty"`
	QueryName  string `json:"query_name,omitempty"`
	// CNAMEs is nil for an address that did not come from DNS.
	CNAMEs []string `json:"cname_chain,omitzero"`
	// DurationMS is how long the lookup that gave the address took.
	DurationMS float64 `json:"duration_ms"`
}

// Step is one lookup made: a hosts file read or one DNS exchange.
type Step struct {
	// Source is "literal", "hosts", "dns", or the name of an nsswitch
	// source netkit does not follow (Status "skipped").
	Source string `json:"source"`
	// Name is the name looked up in this step: as given for the hosts
	// file, a literal or a skipped source; for DNS, the question asked
	// (fully qualified, after the search list).
	Name string `json:"name"`
	// HostsFile is the hosts file read, for a hosts step.
	HostsFile string `json:"hosts_file,omitempty"`
	// Server is the DNS server asked, for a DNS step.
	Server     string   `json:"server,omitempty"`
	RecordType string   `json:"record_type,omitempty"`
	Status     string   `json:"status"`
	Answers    int      `json:"answers"`
	CNAMEs     []string `json:"cname_chain,omitzero"`
	DurationMS float64  `json:"duration_ms"`
	Error      string   `json:"error,omitempty"`
}

// found is an address with its origin, before socket types are expanded.
type found struct {
	addr   netip.Addr
	origin Origin
}

// Resolve looks q up. On failure the error is a *LookupError wrapping
// ErrNoSuchHost, ErrNoData, ErrServerFailure, ErrRefused or a transport
// error, or an *InputError for a name or service that cannot be looked up;
// the partial Result (its Steps) is returned with a *LookupError too.
func (r *Resolver) Resolve(ctx context.Context, q Query) (*Result, error) {
	start := time.Now()
	res := &Result{Name: q.Name, Service: q.Service, Answers: []Answer{}, Steps: []Step{}, Notes: []string{}}
	types, port, err := serviceTypes(q)
	if err != nil {
		return nil, err
	}
	res.Port = port
	addrs, canon, err := r.lookup(ctx, q, res)
	res.ElapsedMS = units.Millis(time.Since(start))
	if err != nil {
		return res, err
	}
	res.Canonical = canon
	for _, f := range addrs {
		fam := IPv4
		if f.addr.Is6() {
			fam = IPv6
		}
		for _, t := range types {
			res.Answers = append(res.Answers, Answer{Family: fam, SockType: t.sock, Protocol: t.proto,
				Address: netip.AddrPortFrom(f.addr, uint16(port)), Origin: f.origin})
		}
	}
	return res, nil
}

// LookupIP returns the addresses of host for the family in getaddrinfo's
// order: what ping, echo and diagnose connect to.
func (r *Resolver) LookupIP(ctx context.Context, host string, fam Family) ([]netip.Addr, error) {
	res := &Result{Name: host}
	found, _, err := r.lookup(ctx, Query{Name: host, Family: fam}, res)
	if err != nil {
		return nil, err
	}
	out := make([]netip.Addr, len(found))
	for i, f := range found {
		out[i] = f.addr
	}
	return out, nil
}

// lookup finds the addresses of q.Name, recording steps and notes in res.
func (r *Resolver) lookup(ctx context.Context, q Query, res *Result) ([]found, string, error) {
	addrs, canon, err := r.lookupFamily(ctx, q.Name, q.Family, res)
	if q.Family != IPv6 || !q.V4Mapped || len(addrs) > 0 || isInputError(err) && !IsNumericHost(q.Name) {
		return addrs, canon, err
	}
	addrs, canon, err = r.lookupFamily(ctx, q.Name, IPv4, res)
	for i := range addrs {
		addrs[i].addr = netip.AddrFrom16(addrs[i].addr.As16())
	}
	return addrs, canon, err
}

// lookupFamily finds the addresses of name in one family.
func (r *Resolver) lookupFamily(ctx context.Context, name string, fam Family, res *Result) ([]found, string, error) {
	if a, note, ok := parseLiteral(name); ok {
		return literal(name, a, note, fam, res)
	}
	if err := CheckName(name); err != nil {
		return nil, "", err
	}
	cfg, err := r.config()
	if err != nil {
		return nil, "", err
	}
	if len(r.Servers) > 0 {
		addrs, canon, err := r.fromDNS(ctx, cfg, r.Servers, []string{name}, name, fam, res)
		var le *LookupError
		if errors.As(err, &le) {
			le.Direct = true
		}
		return addrs, canon, err
	}
	var asked []string
	var lastErr error = ErrNoSuchHost
	for _, src := range cfg.HostsOrder {
		var (
			addrs  []found
			canon  string
			status string
		)
		switch src.Name {
		case "files":
			asked = append(asked, "hosts file "+r.hostsPath())
			addrs, canon, status, err = r.fromHosts(ctx, name, fam, res)
			if err != nil {
				return nil, "", err
			}
		case "dns":
			asked = append(asked, "DNS server "+JoinAddrs(cfg.Nameservers))
			addrs, canon, err = r.fromDNS(ctx, cfg, cfg.Nameservers, searchNames(name, cfg), name, fam, res)
			status = dnsStatus(err)
			if err != nil {
				lastErr = errors.Unwrap(err)
			}
		default:
			res.Steps = append(res.Steps, Step{Source: src.Name, Name: name, Status: StatusSkipped})
			res.Notes = append(res.Notes, fmt.Sprintf("nsswitch source %q is not followed by netkit; glibc may find answers there", src.Name))
			continue
		}
		if len(addrs) > 0 {
			return addrs, canon, nil
		}
		if src.returnsOn(status) {
			break
		}
	}
	return nil, "", &LookupError{Name: name, Asked: asked, Err: lastErr}
}

// dnsStatus maps a DNS lookup's error to an nsswitch status.
func dnsStatus(err error) string {
	switch {
	case err == nil:
		return "SUCCESS"
	case errors.Is(err, ErrNoSuchHost), errors.Is(err, ErrNoData):
		return "NOTFOUND"
	default:
		return "TRYAGAIN"
	}
}

func isInputError(err error) bool {
	var ie *InputError
	return errors.As(err, &ie)
}

func literal(name string, a netip.Addr, note string, fam Family, res *Result) ([]found, string, error) {
	if _, err := scopeID(a); err != nil {
		return nil, "", &InputError{What: "address", Value: name, Why: err.Error()}
	}
	if fam == IPv4 && a.Is4In6() {
		a = a.Unmap() // as glibc does for AF_INET
	}
	if !fam.Contains(a) {
		return nil, "", &InputError{What: "address", Value: name, Why: fmt.Sprintf("not an address of family %s", fam)}
	}
	if note != "" {
		res.Notes = append(res.Notes, note)
	}
	res.Steps = append(res.Steps, Step{Source: "literal", Name: name, Status: StatusFound, Answers: 1})
	return []found{{addr: a, origin: Origin{Source: "literal"}}}, name, nil
}

func (r *Resolver) fromHosts(ctx context.Context, name string, fam Family, res *Result) ([]found, string, string, error) {
	start := time.Now()
	path := r.hostsPath()
	matches, err := LookupHostsFile(ctx, path, name, fam) // in file order
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			res.Steps = append(res.Steps, Step{Source: "hosts", Name: name, HostsFile: path, Status: StatusError, Error: err.Error()})
			return nil, "", "UNAVAIL", nil
		}
		return nil, "", "", err
	}
	took := units.Millis(time.Since(start))
	st := Step{Source: "hosts", Name: name, HostsFile: path, Status: StatusNotFound, Answers: len(matches), DurationMS: took}
	if len(matches) == 0 {
		res.Steps = append(res.Steps, st)
		return nil, "", "NOTFOUND", nil
	}
	st.Status = StatusFound
	res.Steps = append(res.Steps, st)
	// The canonical name is the first name of the first line in file order;
	// the addresses are in getaddrinfo's order, as LookupSorted has them.
	canonical := matches[0].Canonical
	sortByAddress(matches, func(m HostsMatch) netip.Addr { return m.Address })
	out := make([]found, len(matches))
	for i, m := range matches {
		out[i] = found{addr: m.Address, origin: Origin{Source: "hosts", HostsFile: path, Line: m.Line, DurationMS: took}}
	}
	return out, canonical, "SUCCESS", nil
}

// fromDNS asks the servers for each candidate name in turn, A and AAAA in
// parallel, and stops at the first candidate with addresses.
func (r *Resolver) fromDNS(ctx context.Context, cfg *Config, servers []netip.AddrPort, candidates []string, name string, fam Family, res *Result) ([]found, string, error) {
	var qtypes []uint16
	if fam != IPv6 {
		qtypes = append(qtypes, dns.TypeA)
	}
	if fam != IPv4 {
		if cfg.NoAAAA {
			res.Notes = append(res.Notes, "resolv.conf has options no-aaaa: DNS was asked no AAAA question")
		} else {
			qtypes = append(qtypes, dns.TypeAAAA)
		}
	}
	asked := []string{"DNS server " + JoinAddrs(servers)}
	worst := ErrNoSuchHost
	var transport error
	if len(qtypes) == 0 {
		return nil, "", &LookupError{Name: name, Asked: asked, Err: fmt.Errorf("%w: resolv.conf has options no-aaaa, so DNS was asked no AAAA question", ErrNoData)}
	}
	var noData *noDataError // of the first name that exists without addresses
	var unusable error      // the first answer that loops, or is too long a chain
	for _, cand := range candidates {
		replies := make([]dnsReply, len(qtypes))
		steps := make([][]Step, len(qtypes))
		// Both questions go to the same first server, as glibc sends them
		// together.
		order := rotate(servers, cfg.Rotate)
		var wg sync.WaitGroup
		for i, qt := range qtypes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				replies[i] = ask(ctx, cfg, order, cand, qt, func(s Step) { steps[i] = append(steps[i], s) })
			}()
		}
		wg.Wait()
		// The steps of A before those of AAAA, whichever ended first.
		for _, s := range steps {
			res.Steps = append(res.Steps, s...)
		}
		var out []found
		canon := ""
		for i, rep := range replies {
			switch rep.status {
			case StatusFound:
				for _, a := range rep.addrs {
					out = append(out, found{addr: a, origin: Origin{Source: "dns", Server: rep.server.String(),
						RecordType: dns.TypeToString[qtypes[i]], QueryName: dns.Fqdn(cand), CNAMEs: rep.cnames, DurationMS: units.Millis(rep.duration)}})
				}
				if canon == "" {
					canon = rep.canonical
				}
			case StatusNoData:
				if worst == ErrNoSuchHost {
					worst = ErrNoData
				}
				if noData == nil {
					noData = &noDataError{name: cand, cnames: rep.cnames}
				}
				if noData.name == cand {
					noData.types = append(noData.types, dns.TypeToString[qtypes[i]])
				}
			case StatusServFail:
				worst = ErrServerFailure
			case StatusRefused:
				if worst != ErrServerFailure {
					worst = ErrRefused
				}
			case StatusCNAMELoop, StatusCNAMETooLong:
				if unusable == nil {
					unusable = rep.err
				}
			case StatusTimeout, StatusError, StatusBadReply:
				transport = rep.err
			}
		}
		if len(out) > 0 {
			sortByAddress(out, func(f found) netip.Addr { return f.addr })
			return out, canon, nil
		}
	}
	var err error = worst
	switch {
	case unusable != nil:
		err = unusable
	case worst == ErrNoData:
		if strings.EqualFold(strings.TrimSuffix(noData.name, "."), strings.TrimSuffix(name, ".")) {
			noData.name = "" // the LookupError names it
		}
		err = noData
	case transport != nil && worst == ErrNoSuchHost:
		err = transport
	}
	return nil, "", &LookupError{Name: name, Asked: asked, Err: err}
}

// rotation counts the questions asked with "options rotate", from a random
// start: process-wide, as glibc's (nameserver_offset in res_send.c).
var (
	rotationStart = rand.Uint32()
	rotation      atomic.Uint32
)

// rotate returns servers in the order one question tries them: as listed,
// or with rotation on, starting at the next server in turn.
func rotate(servers []netip.AddrPort, on bool) []netip.AddrPort {
	if !on || len(servers) < 2 {
		return servers
	}
	i := int((rotationStart + rotation.Add(1)) % uint32(len(servers)))
	return append(slices.Clone(servers[i:]), servers[:i]...)
}

// sockProto is one socket type a service exists for.
type sockProto struct {
	sock  SockType
	proto Protocol
}

// serviceTypes returns the socket types and port a query's service gives,
// as glibc's getaddrinfo does. Its table is STREAM/tcp, DGRAM/udp, then RAW
// with whatever protocol is asked. With no socket type or protocol asked,
// every type the service exists for: all three for a port number or no
// service, STREAM and DGRAM as the services file lists a name. With one
// asked, only the first type that matches. RAW sockets have no ports, so
// RAW with any service is refused (EAI_SERVICE).
func serviceTypes(q Query) ([]sockProto, int, error) {
	if q.SockType == Raw && q.Service != "" {
		return nil, 0, &InputError{What: "service", Value: q.Service, Why: "RAW sockets have no ports; getaddrinfo refuses a service with SOCK_RAW"}
	}
	var types []sockProto
	for _, t := range []sockProto{{Stream, TCP}, {Dgram, UDP}, {Raw, q.Protocol}} {
		if (q.SockType == AnySockType || q.SockType == t.sock) && (q.Protocol == AnyProtocol || q.Protocol == t.proto) {
			types = append(types, t)
		}
	}
	if len(types) == 0 {
		return nil, 0, &InputError{What: "socket type", Value: q.SockType.String(), Why: "does not go with protocol " + q.Protocol.String()}
	}
	if q.SockType != AnySockType || q.Protocol != AnyProtocol {
		types = types[:1]
	}
	if q.Service == "" {
		return types, 0, nil
	}
	if n, err := strconv.Atoi(q.Service); err == nil {
		if n < 0 || n > 65535 {
			return nil, 0, &InputError{What: "port", Value: q.Service, Why: "a port is a number from 0 to 65535"}
		}
		return types, n, nil
	}
	services, err := SystemServices()
	if err != nil {
		return nil, 0, err
	}
	ports := services.Ports(q.Service)
	var out []sockProto
	port := 0
	for _, t := range types {
		if p, ok := ports[t.proto.String()]; ok && t.sock != Raw {
			out, port = append(out, t), int(p)
		}
	}
	if len(out) == 0 {
		why := "not in " + DefaultServicesPath + " for the requested socket type (use a port number)"
		if lower := strings.ToLower(q.Service); lower != q.Service && len(services.Ports(lower)) > 0 {
			why = "service names are case-sensitive; " + DefaultServicesPath + " has " + lower
		}
		return nil, 0, &InputError{What: "service", Value: q.Service, Why: why}
	}
	return out, port, nil
}
