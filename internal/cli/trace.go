package cli

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/netkit/netkit/diag/trace"
	"github.com/netkit/netkit/internal/output"
	"github.com/netkit/netkit/resolve"
)

// TraceOptions are the inputs of 'netkit trace'.
type TraceOptions struct {
	IO     *output.Streams
	Output output.Options

	// Host is the target; Port the port of HOST:PORT or --tcp (0: none).
	Host string
	Port int
	// Method is icmp, or udp (--udp) or tcp (--tcp PORT, or HOST:PORT).
	Method            trace.Method
	UDP               bool
	tcp               string
	Count, MaxHops    int
	Timeout, Interval time.Duration
	// MTU is --mtu: measure the path MTU too.
	MTU bool
	// Numeric is -n, accepted and the default; Names is -r.
	Numeric, Names bool
	Family         familyFlags
	family         resolve.Family
}

// NewCmdTrace returns 'netkit trace'. runF replaces traceRun in tests.
func NewCmdTrace(io *output.Streams, runF func(context.Context, *TraceOptions) error) *cobra.Command {
	opts := &TraceOptions{IO: io}
	cmd := &cobra.Command{
		Use:   "trace [flags] HOST[:PORT]",
		Short: "Show the routers on the path to a host and the loss and round-trip time at each (like mtr)",
		Long: fmt.Sprintf(`Trace finds the routers on the path to a host, as traceroute and mtr do: it
sends probes with growing TTLs (IPv6 hop limits) and listens for the router
that answers "time exceeded" at each hop, until the destination answers, a
router or the destination says "unreachable", or --max-hops is reached.
Every hop gets -c probes. On a terminal the table is drawn as answers come
and updated in place, as mtr does; piped, it is printed once at the end.
The report shows, per hop, who answered (several
addresses when the path splits: ECMP), loss and round-trip times, as
'mtr --report' does: Loss%%, Snt, Last, Avg, Best, Wrst, StDev. A hop that
never answered is ???; silent hops at the end of a trace that ran out of
hops are one line.

Probes are ICMP echo requests (the default, as traceroute -I and mtr), UDP
datagrams to ports %d and up (--udp, traceroute's default), or TCP
connection attempts to one port (--tcp PORT, or HOST:PORT; what gets through
a firewall that only opens the service port; a destination that accepts
sees a connection opened and closed at once).

Addresses are numeric, as everywhere in netkit (-n is accepted and is the
default); -r names them once the trace is over, through netkit's resolver
(the hosts file, then PTR records, as nsswitch.conf orders them).

It ends by saying what stopped the trace: the destination answered (exit 0);
an unreachable at hop N, with who sent it (exit 1); or no answer within
--max-hops (exit 1), with the last hop that answered. --json prints one
document; --format jsonl one line per probe as it is answered, then the
summary. Listening for routers needs a raw ICMP socket: root or
CAP_NET_RAW.`, trace.DefaultUDPPort),
		Example: `  netkit trace 10.0.0.1
  netkit trace --tcp 443 example.com
  netkit trace example.com:443
  netkit trace -c 10 --json 10.0.0.1`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.check(args[0], cmd.Flags().Changed("tcp")); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return traceRun(cmd.Context(), opts)
		},
	}
	fs := cmd.Flags()
	fs.IntVarP(&opts.Count, "count", "c", trace.DefaultCount, "probes per hop")
	fs.IntVarP(&opts.MaxHops, "max-hops", "m", trace.DefaultMaxHops, "largest TTL (hop limit) to try")
	fs.VarP(secondsValue{&opts.Timeout}, "timeout", "W", "seconds to wait for each answer (default 2)")
	fs.VarP(secondsValue{&opts.Interval}, "interval", "i", "seconds between rounds of probes (one per hop) (default 1)")
	fs.BoolVar(&opts.UDP, "udp", false, fmt.Sprintf("send UDP datagrams to ports %d and up (or from HOST:PORT up) instead of ICMP echo", trace.DefaultUDPPort))
	fs.StringVar(&opts.tcp, "tcp", "", "send TCP connection attempts to this `PORT` (a number or a service name)")
	fs.BoolVar(&opts.MTU, "mtu", false, "measure the path MTU too, as tracepath does, and find MTU black holes")
	fs.BoolVarP(&opts.Numeric, "numeric", "n", false, "print addresses, not names: the default, accepted as traceroute and mtr take it")
	fs.BoolVarP(&opts.Names, "resolve", "r", false, "name the hops' addresses once the trace is over (hosts file, then PTR records)")
	opts.Family.addFlags(fs)
	opts.Output.AddFlags(fs, true)
	return cmd
}

// check validates the flags and the target.
func (o *TraceOptions) check(target string, tcpSet bool) error {
	if err := o.Output.Resolve(); err != nil {
		return usageError(err)
	}
	var err error
	if o.family, err = o.Family.family(); err != nil {
		return err
	}
	host, port, _, err := splitHostPort(target, 0)
	if err != nil {
		return usageErrorf("invalid target %q: %w", target, err)
	}
	if host == "" {
		return usageErrorf("invalid target %q: the host is empty", target)
	}
	o.Host, o.Port, o.Method = host, int(port), trace.MethodICMP
	if tcpSet {
		p, err := resolve.ParsePort(o.tcp, "tcp")
		if err != nil {
			return usageErrorf("invalid --tcp: %w", err)
		}
		if o.Port != 0 && o.Port != int(p) {
			return usageErrorf("--tcp %s and the port of %s differ: give one", o.tcp, target)
		}
		o.Port = int(p)
	}
	switch {
	case o.UDP && tcpSet:
		return usageErrorf("--udp and --tcp cannot be used together")
	case o.UDP:
		o.Method = trace.MethodUDP
	case o.Port != 0:
		o.Method = trace.MethodTCP
	}
	switch {
	case o.Count < 1:
		return usageErrorf("invalid -c %d: want at least 1 probe per hop", o.Count)
	case o.Interval < 0 || o.Timeout < 0:
		return usageErrorf("invalid -i or -W: want a positive number of seconds")
	}
	return nil
}

// traceFlags names the flag behind each trace.Options field, for errors.
var traceFlags = map[string]string{
	"Host": "host", "Method": "method", "Port": "port", "Count": "-c", "MaxHops": "--max-hops",
	"Timeout": "-W", "Interval": "-i",
}

func traceRun(ctx context.Context, o *TraceOptions) error {
	p := newTracePrinter(o)
	topts := trace.Options{
		Host: o.Host, Family: o.family, Method: o.Method, Port: o.Port, Count: o.Count, MaxHops: o.MaxHops,
		Timeout: o.Timeout, Interval: o.Interval, OnProbe: p.probe, Names: o.Names,
	}
	if p.live() {
		topts.OnUpdate = p.update
	}
	res, err := trace.Run(ctx, topts)
	if err != nil {
		var oe *trace.OptionError
		if errors.As(err, &oe) {
			return usageErrorf("invalid %s %s: %s", traceFlags[oe.Option], oe.Value, oe.Why)
		}
		return fmt.Errorf("trace: %w", err)
	}
	if o.MTU {
		if res.MTU, err = trace.PathMTU(ctx, trace.MTUOptions{Addr: res.Addr, Timeout: o.Timeout}); err != nil {
			return fmt.Errorf("trace: path MTU: %w", err)
		}
	}
	if err := p.finish(res); err != nil {
		return err
	}
	switch {
	case res.Stop.Reason == trace.StopUnreachable || res.Stop.Reason == trace.StopMaxHops:
		return checkFailed(fmt.Errorf("trace: %w", &trace.StopError{Result: res}))
	case res.MTU != nil && res.MTU.BlackHole:
		return checkFailed(fmt.Errorf("trace: %w", &trace.MTUBlackHoleError{Result: res.MTU}))
	}
	return nil
}

// mtuLine says what the path MTU is and who said so, as tracepath's
// "Resume: pmtu" line does.
func mtuLine(m *trace.MTUResult) string {
	switch {
	case m.NoAnswer:
		return fmt.Sprintf("path MTU: unknown: %s answered no echo request, even of %d bytes", m.Addr, trace.MinMTU)
	case m.BlackHole:
		return fmt.Sprintf("path MTU: %d: %s", m.PathMTU, (&trace.MTUBlackHoleError{Result: m}).Error())
	}
	var said []string
	for _, r := range m.Reported {
		said = append(said, fmt.Sprintf("%s says %d", r.From, r.MTU))
	}
	if len(said) == 0 {
		return fmt.Sprintf("path MTU: %d (this machine's link: %d)", m.PathMTU, m.LocalMTU)
	}
	return fmt.Sprintf("path MTU: %d (%s)", m.PathMTU, strings.Join(said, ", "))
}

// tracePrinter turns the events of a trace into output.
type tracePrinter struct {
	o     *TraceOptions
	lines *output.Lines // --format jsonl

	mu    sync.Mutex
	drawn int       // lines of the live table on the terminal
	last  time.Time // when it was last drawn
}

// liveEvery paces the redraws of the live table.
const liveEvery = 100 * time.Millisecond

func newTracePrinter(o *TraceOptions) *tracePrinter {
	p := &tracePrinter{o: o}
	if o.Output.Format == output.FormatJSONL {
		p.lines = output.NewLines(o.IO.Out)
	}
	return p
}

// probe reports one probe as a JSON line (--format jsonl).
func (p *tracePrinter) probe(pr trace.Probe) {
	if p.lines != nil {
		p.lines.Emit("probe", pr)
	}
}

// live reports whether the table is drawn and updated in place, as mtr
// does: on a terminal, in table format.
func (p *tracePrinter) live() bool {
	return p.o.IO.OutTTY && p.o.Output.Format == output.FormatTable
}

// update redraws the live table with the result so far, at most every
// liveEvery.
func (p *tracePrinter) update(res *trace.Result) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if time.Since(p.last) < liveEvery {
		return
	}
	p.last = time.Now()
	p.draw(res)
}

// draw writes the table over the one drawn before. The caller holds p.mu.
func (p *tracePrinter) draw(res *trace.Result) (err error) {
	p.drawn, err = p.o.IO.Redraw(p.drawn, traceTable(res), p.o.Output.NoHeader)
	return err
}

func (p *tracePrinter) finish(res *trace.Result) error {
	switch p.o.Output.Format {
	case output.FormatJSONL:
		return p.lines.Emit("summary", res)
	case output.FormatJSON:
		return output.PrintJSON(p.o.IO.Out, res)
	}
	if p.live() {
		p.mu.Lock()
		err := p.draw(res)
		p.mu.Unlock()
		if err != nil {
			return err
		}
	} else if err := traceTable(res).Print(p.o.IO, p.o.Output.NoHeader); err != nil {
		return err
	}
	if p.o.IO.OutTTY {
		p.o.IO.Println(stopLine(res))
	}
	if res.MTU != nil {
		p.o.IO.Println(mtuLine(res.MTU))
	}
	return nil
}

// traceTable is the report: one hop a line, as mtr --report.
func traceTable(res *trace.Result) *output.Table {
	t := &output.Table{Header: []string{"HOP", "HOST", "LOSS%", "SNT", "LAST", "AVG", "BEST", "WRST", "STDEV"}}
	ms := func(v float64) string { return strconv.FormatFloat(v, 'f', 3, 64) }
	for _, h := range res.Hops {
		row := []string{strconv.Itoa(h.Hop), "???", pct(h.LossPct), strconv.Itoa(h.Sent), "", "", "", "", ""}
		if len(h.Addrs) > 0 {
			row[1] = joinAddrs(h.Addrs)
			if len(h.Names) > 0 {
				row[1] = strings.Join(h.Names, ",")
			}
		}
		if h.RTT != nil {
			row[4], row[5], row[6], row[7], row[8] = ms(h.LastMs), ms(h.AvgMs), ms(h.BestMs), ms(h.WorstMs), ms(h.StdevMs)
		}
		t.Append(row...)
	}
	return t
}

// joinAddrs lists a hop's addresses, comma-separated (no spaces: one
// column for awk).
func joinAddrs(as []netip.Addr) string {
	s := make([]string, len(as))
	for i, a := range as {
		s[i] = a.String()
	}
	return strings.Join(s, ",")
}

// stopLine says what ended the trace.
func stopLine(res *trace.Result) string {
	switch res.Stop.Reason {
	case trace.StopReached:
		return fmt.Sprintf("%s answered at hop %d", res.Addr, res.Stop.Hop)
	case trace.StopInterrupted:
		return "interrupted"
	}
	return (&trace.StopError{Result: res}).Error()
}
