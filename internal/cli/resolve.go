package cli

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/netkit/netkit/internal/output"
	"github.com/netkit/netkit/resolve"
)

// ResolveOptions are the inputs of 'netkit resolve'.
type ResolveOptions struct {
	IO       *output.Streams
	Output   output.Options
	Resolver *resolve.Resolver

	Query   resolve.Query
	Family  familyFlags
	Type    string
	Proto   string
	Canon   bool
	Server  string
	Timeout time.Duration
	Trace   bool
	Config  bool
	// QType is -t: a DNS record type to ask for, as dig; Reverse is -x:
	// the address whose PTR records to ask for. Short prints only the
	// records' data, as dig +short.
	QType   string
	Reverse string
	Short   bool

	// serverSet is whether --server was given, so that an empty one is an
	// error rather than no --server.
	serverSet bool
}

// NewCmdResolve returns 'netkit resolve'.
func NewCmdResolve(io *output.Streams, runF func(context.Context, *ResolveOptions) error) *cobra.Command {
	opts := &ResolveOptions{IO: io, Resolver: resolve.Default()}
	cmd := &cobra.Command{
		Use:   "resolve [@SERVER] NAME [SERVICE|PORT]",
		Short: "Resolve a name as getaddrinfo does, and say where each address came from",
		Long: `Resolve looks NAME up the way glibc's getaddrinfo does (what getent ahosts and
Python's socket.getaddrinfo show): the hosts file and DNS in the order of
nsswitch.conf, the search list and ndots of resolv.conf, and the address order
of RFC 6724. Each row is one result: family, socket type, protocol, socket
address, and where the address came from (the hosts file line, or the DNS
server, record type and CNAME chain) with how long that lookup took.

IP literals pass through as getaddrinfo passes them, including the inet_aton
forms (127.1, 0x7f.1) and IPv6 zones (fe80::1%eth0; an interface name only
for link-local addresses, an index for any). A service is a name from
/etc/services (https; case-sensitive, as in glibc) or a port number. As in
getaddrinfo, --type or --proto picks one socket type, and raw takes any
--proto but no service.

--server SERVER (or an @SERVER argument, as dig) asks one DNS server directly:
the hosts file and the search list are skipped. --config shows the
configuration instead.

As dig: -t TYPE asks DNS for records of one type (A, AAAA, CNAME, MX, TXT, NS,
SOA, PTR, SRV, CAA) and prints the answer section, or only the records' data
with --short (or a +short argument); -x ADDR asks for the PTR records of an
address. These ask the name as given, of --server or of the nameservers of
resolv.conf, without the hosts file or the search list. (--type stays the
socket type of getaddrinfo.)

The environment variables NETKIT_HOSTS_FILE, NETKIT_RESOLV_CONF and
NETKIT_NSSWITCH_CONF point netkit at other files, to try a configuration
before installing it.

Exit status: 0 with addresses; 1 when there is none: the name does not exist
or has no address, a DNS server answered SERVFAIL or REFUSED, or no
configured DNS server answered in time; 2 for bad input, a file that exists
but cannot be read, or a --server that does not answer.`,
		Example: `  netkit resolve localhost
  netkit resolve -4 example.test https
  netkit resolve --server 127.0.0.53 --trace db.internal
  netkit resolve @127.0.0.53 -t MX example.test
  netkit resolve -x 127.0.0.1 --short
  netkit resolve --config`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.Output.Resolve(); err != nil {
				return usageError(err)
			}
			opts.serverSet = cmd.Flags().Changed("server")
			args, err := opts.digArgs(args)
			if err != nil {
				return err
			}
			if err := rangeArgs(0, 2)(cmd, args); err != nil {
				return err
			}
			if err := opts.parse(args); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return resolveRun(cmd.Context(), opts)
		},
	}
	f := cmd.Flags()
	opts.Family.addFlags(f)
	f.StringVar(&opts.Type, "type", "", "socket type: stream, dgram or raw (default: all the service has)")
	f.StringVar(&opts.Proto, "proto", "", "protocol: tcp or udp")
	f.BoolVar(&opts.Canon, "canon", false, "show the canonical name (AI_CANONNAME)")
	f.StringVar(&opts.Server, "server", "", "ask this DNS server directly (like dig @server): IP, [IPv6]:PORT, IPv4:PORT or NAME[:PORT]")
	f.DurationVar(&opts.Timeout, "timeout", 0, "per-query DNS timeout (default: resolv.conf's, 5s)")
	f.BoolVar(&opts.Trace, "trace", false, "also list every lookup step: hosts file, each DNS question and answer")
	f.BoolVar(&opts.Config, "config", false, "show the resolver configuration: nameservers, search, options, nsswitch order")
	f.StringVarP(&opts.QType, "qtype", "t", "", "ask DNS for records of this `TYPE`, as dig -t: "+strings.Join(resolve.RecordTypes, ", "))
	f.StringVarP(&opts.Reverse, "reverse", "x", "", "ask DNS for the PTR records of this `ADDRESS`, as dig -x")
	f.BoolVar(&opts.Short, "short", false, "with -t or -x, print only the records' data, as dig +short")
	opts.Output.AddFlags(f, false)
	return cmd
}

// digArgs takes dig's argument forms out of args: @SERVER (as --server)
// and +short (as --short).
func (opts *ResolveOptions) digArgs(args []string) ([]string, error) {
	var rest []string
	for _, a := range args {
		switch {
		case strings.HasPrefix(a, "@"):
			if opts.serverSet {
				return nil, usageErrorf("%s and --server %s: give one server", a, opts.Server)
			}
			opts.Server, opts.serverSet = a[1:], true
		case a == "+short":
			opts.Short = true
		default:
			rest = append(rest, a)
		}
	}
	return rest, nil
}

// records reports whether the command asks DNS for records (-t, -x)
// rather than resolving as getaddrinfo.
func (opts *ResolveOptions) records() bool {
	return opts.QType != "" || opts.Reverse != ""
}

// parse checks flags and arguments and fills opts.Query.
func (opts *ResolveOptions) parse(args []string) error {
	if opts.records() {
		return opts.parseRecords(args)
	}
	if opts.Short {
		return usageErrorf("--short goes with -t or -x")
	}
	if opts.Config {
		if len(args) > 0 {
			return usageErrorf("--config takes no NAME")
		}
		return nil
	}
	if len(args) == 0 {
		return usageErrorf("resolve needs a NAME (see 'netkit resolve --help')")
	}
	q := &opts.Query
	q.Name = args[0]
	if len(args) == 2 {
		q.Service = args[1]
	}
	var err error
	if q.Family, err = opts.Family.family(); err != nil {
		return err
	}
	if q.SockType, err = resolve.ParseSockType(opts.Type); err != nil {
		return usageError(err)
	}
	if q.Protocol, err = resolve.ParseProtocol(opts.Proto); err != nil {
		return usageError(err)
	}
	if opts.serverSet && opts.Server == "" {
		return usageErrorf("invalid --server \"\": want an IP address or host name, with an optional :PORT")
	}
	if opts.Timeout < 0 {
		return usageErrorf("invalid --timeout %v: must be positive", opts.Timeout)
	}
	opts.Resolver.Timeout = opts.Timeout
	return nil
}

func resolveRun(ctx context.Context, opts *ResolveOptions) error {
	if opts.Config {
		return printResolverConfig(opts)
	}
	if opts.Server != "" {
		srv, err := dnsServerAddr(ctx, opts.Server)
		if err != nil {
			return err
		}
		opts.Resolver.Servers = []netip.AddrPort{srv}
	}
	if opts.records() {
		return recordsRun(ctx, opts)
	}
	res, err := opts.Resolver.Resolve(ctx, opts.Query)
	if err != nil {
		var ie *resolve.InputError
		switch {
		case res == nil || errors.As(err, &ie): // bad input: nothing was looked up
		case opts.Output.Format == output.FormatJSON:
			// The steps say how far the lookup went, error why it stopped.
			if perr := output.PrintJSON(opts.IO.Out, resolveJSON{res, err.Error()}); perr != nil {
				return perr
			}
		case opts.Trace:
			printSteps(opts.IO, res, opts.Output.NoHeader)
		}
		return resolveError(err, opts.Server != "")
	}
	for _, n := range res.Notes {
		opts.IO.Notef("%s", n)
	}
	if opts.Output.Format == output.FormatJSON {
		return output.PrintJSON(opts.IO.Out, resolveJSON{Result: res})
	}
	t := output.Table{Header: []string{"Family", "Type", "Proto", "Address"}}
	if opts.Canon {
		t.Header = append(t.Header, "Canonical")
	}
	t.Header = append(t.Header, "Source", "Time(ms)", "From")
	for i, a := range res.Answers {
		row := []string{a.Family.String(), a.SockType.String(), a.Protocol.String(), a.Address.String()}
		if opts.Canon {
			canon := ""
			if i == 0 {
				canon = res.Canonical
			}
			row = append(row, canon)
		}
		row = append(row, a.Origin.Source, msNumber(a.Origin.DurationMS), originDetail(a.Origin))
		t.Append(row...)
	}
	if err := t.Print(opts.IO, opts.Output.NoHeader); err != nil {
		return err
	}
	if opts.Trace {
		opts.IO.Println()
		return printSteps(opts.IO, res, opts.Output.NoHeader)
	}
	return nil
}

// resolveJSON is the --json document: the result, and why the lookup
// failed when it did.
type resolveJSON struct {
	*resolve.Result
	Error string `json:"error,omitempty"`
}

// resolveError maps a lookup error to an exit code, by the table of
// 'netkit --help': a lookup that found no address is exit 1, whether the
// answer said so (no such host, no address, SERVFAIL, REFUSED) or no
// configured DNS server answered at all (a timeout, a refused connection):
// the check ran and got no answer. Bad input and a file that cannot be read
// are exit 2 with one line; so is a --server that does not answer, since the
// server the user named could not be asked. Other errors are exit 2.
func resolveError(err error, direct bool) error {
	var ie *resolve.InputError
	var le *resolve.LookupError
	switch {
	case errors.As(err, &ie):
		return usageError(err)
	case errors.As(err, &le) && direct && !isDNSAnswer(err):
		return fmt.Errorf("DNS server unreachable: %w", err)
	case errors.As(err, &le):
		return checkFailed(err)
	}
	return err
}

// isDNSAnswer reports whether a lookup ended with a DNS answer (no such
// name, no address, SERVFAIL, REFUSED) rather than with no answer.
func isDNSAnswer(err error) bool {
	return errors.Is(err, resolve.ErrNoSuchHost) || errors.Is(err, resolve.ErrNoData) ||
		errors.Is(err, resolve.ErrServerFailure) || errors.Is(err, resolve.ErrRefused)
}

// originDetail says where an address came from in one word, so that every
// cell of a piped table is one awk field: "/etc/hosts:3", or the DNS server,
// record type, name asked and CNAME chain, as
// "127.0.0.53:53/A/www.example.→cdn.example".
func originDetail(o resolve.Origin) string {
	switch o.Source {
	case "hosts":
		return fmt.Sprintf("%s:%d", o.HostsFile, o.Line)
	case "dns":
		return strings.Join(append([]string{o.Server + "/" + o.RecordType + "/" + o.QueryName}, o.CNAMEs...), "→")
	}
	return ""
}

// printSteps lists the lookup steps: where each asked (the DNS server or
// the hosts file), and the error text (free words) last.
func printSteps(io *output.Streams, res *resolve.Result, noHeader bool) error {
	t := output.Table{Header: []string{"Step", "Source", "Name", "Type", "Where", "Status", "Answers", "Time(ms)", "Error"}}
	for i, s := range res.Steps {
		t.Append(strconv.Itoa(i+1), s.Source, s.Name, s.RecordType, s.Server+s.HostsFile, s.Status, strconv.Itoa(s.Answers), msNumber(s.DurationMS), s.Error)
	}
	return t.Print(io, noHeader)
}

// msNumber formats milliseconds for a table column whose header names the
// unit.
func msNumber(ms float64) string {
	return strconv.FormatFloat(ms, 'f', 3, 64)
}

// msText formats milliseconds for prose, as "12.345 ms".
func msText(ms float64) string {
	return msNumber(ms) + " ms"
}

// dnsServerAddr reads --server: an IPv4 address, an IPv6 address (bare, or
// in brackets to take a port), or a host name, with an optional :PORT (53
// by default). Only a host name is looked up, never a malformed address.
func dnsServerAddr(ctx context.Context, s string) (netip.AddrPort, error) {
	bad := func(format string, a ...any) error {
		return usageErrorf("invalid --server %q: %s", s, fmt.Sprintf(format, a...))
	}
	host, port, bracketed, err := splitHostPort(s, 53)
	if err != nil {
		return netip.AddrPort{}, bad("%v", err)
	}
	if a, err := netip.ParseAddr(host); err == nil && (a.Is6() || !bracketed) {
		return netip.AddrPortFrom(a, port), nil
	}
	if bracketed || strings.Contains(host, ":") {
		return netip.AddrPort{}, bad("%q is not an IPv6 address", host)
	}
	if why := resolve.HostNameProblem(host); why != "" {
		return netip.AddrPort{}, bad("not an IP address, and not a host name: %s", why)
	}
	addrs, err := resolve.Default().LookupIP(ctx, host, resolve.AnyFamily)
	if err != nil {
		return netip.AddrPort{}, bad("%v", err)
	}
	return netip.AddrPortFrom(addrs[0], port), nil
}

func printResolverConfig(opts *ResolveOptions) error {
	cfg, err := resolve.LoadConfig(opts.Resolver.Paths)
	if err != nil {
		return err
	}
	hosts := opts.Resolver.HostsPath
	if hosts == "" {
		hosts = resolve.DefaultHostsPath
	}
	if opts.Output.Format == output.FormatJSON {
		return output.PrintJSON(opts.IO.Out, struct {
			HostsFile string `json:"hosts_file"`
			*resolve.Config
		}{hosts, cfg})
	}
	servers := make([]string, len(cfg.Nameservers))
	for i, ns := range cfg.Nameservers {
		servers[i] = ns.String()
	}
	search := strings.Join(cfg.Search, " ")
	if cfg.SearchSource != "" {
		search += " (from " + cfg.SearchSource + ")"
	}
	var order []string
	for _, s := range cfg.HostsOrder {
		item := s.Name
		if len(s.Criteria) > 0 {
			item += " [" + strings.Join(s.Criteria, " ") + "]"
		}
		if !s.Supported {
			item += " (not followed by netkit)"
		}
		order = append(order, item)
	}
	t := output.Table{Header: []string{"Setting", "Value"}}
	t.Append("resolv.conf", cfg.ResolvConf)
	t.Append("nameservers", strings.Join(servers, ","))
	t.Append("search", search)
	t.Append("ndots", strconv.Itoa(cfg.Ndots))
	t.Append("timeout", cfg.Timeout().String())
	t.Append("attempts", strconv.Itoa(cfg.Attempts))
	t.Append("options", strings.Join(cfg.Options, " "))
	t.Append("nsswitch.conf", cfg.NSSwitch)
	t.Append("hosts-order", strings.Join(order, " → "))
	t.Append("hosts-file", hosts)
	for _, n := range cfg.Notes {
		t.Append("note", n)
	}
	return t.Print(opts.IO, opts.Output.NoHeader)
}

// parseRecords checks the arguments of -t and -x: a NAME for -t, none for
// -x (whose address is the name), and no getaddrinfo flags.
func (opts *ResolveOptions) parseRecords(args []string) error {
	switch {
	case opts.Config:
		return usageErrorf("--config does not go with -t or -x")
	case opts.Reverse != "" && len(args) > 0:
		return usageErrorf("-x takes the address; no NAME goes with it")
	case opts.Reverse == "" && len(args) != 1:
		return usageErrorf("-t takes one NAME")
	case opts.Type != "" || opts.Proto != "" || opts.Canon || opts.Trace:
		return usageErrorf("--type, --proto, --canon and --trace are getaddrinfo's; they do not go with -t or -x")
	}
	if opts.Reverse != "" {
		a, err := netip.ParseAddr(opts.Reverse)
		if err != nil {
			return usageErrorf("invalid -x %q: not an IP address", opts.Reverse)
		}
		if opts.Query.Name, err = resolve.ReverseName(a); err != nil {
			return usageError(err)
		}
		opts.QType = cmp.Or(opts.QType, "PTR")
	} else {
		opts.Query.Name = args[0]
	}
	if opts.serverSet && opts.Server == "" {
		return usageErrorf("invalid --server \"\": want an IP address or host name, with an optional :PORT")
	}
	opts.Resolver.Timeout = opts.Timeout
	return nil
}

// recordsRun asks DNS for records, as dig, and prints the answer section:
// a table of name, TTL, type and data, only the data with --short, or the
// RecordsResult with --json.
func recordsRun(ctx context.Context, opts *ResolveOptions) error {
	res, err := opts.Resolver.LookupRecords(ctx, opts.Query.Name, opts.QType)
	if res != nil {
		switch {
		case opts.Output.Format == output.FormatJSON:
			if jerr := output.PrintJSON(opts.IO.Out, res); jerr != nil {
				return jerr
			}
		case opts.Short:
			for _, r := range res.Records {
				opts.IO.Println(r.Data)
			}
		case len(res.Records) > 0:
			t := output.Table{Header: []string{"Name", "TTL", "Type", "Data"}}
			for _, r := range res.Records {
				t.Append(r.Name, strconv.FormatUint(uint64(r.TTL), 10), r.Type, r.Data)
			}
			if perr := t.Print(opts.IO, opts.Output.NoHeader); perr != nil {
				return perr
			}
		}
	}
	if err != nil {
		return resolveError(err, opts.Server != "")
	}
	return nil
}
