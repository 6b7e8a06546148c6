package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/netkit/netkit/diag/explain"
	"github.com/netkit/netkit/diag/ping"
	"github.com/netkit/netkit/internal/output"
	"github.com/netkit/netkit/resolve"
)

// PingOptions are the inputs of 'netkit ping'.
type PingOptions struct {
	IO     *output.Streams
	Output output.Options

	// Hosts are the targets from the arguments and --file, in that order.
	Hosts []string
	// File is the --file host list, "-" for stdin.
	File string
	// Count is -c; 0 means until interrupted (one host) or 3 (several).
	Count int
	// Interval, Timeout and Deadline are -i, -W and -w; a zero Deadline
	// means none.
	Interval, Timeout, Deadline time.Duration
	Size, TTL                   int
	Family                      familyFlags
	// family is what Family selects, set by check.
	family         resolve.Family
	Quiet, Verbose bool
	// Outstanding is -O: print a line for each probe not answered in time.
	Outstanding bool
	// TCPPort is --tcp, read from tcp by check; 0 means ICMP.
	TCPPort int
	tcp     string
	// countSet, sizeSet, ttlSet and tcpSet say whether -c, -s, -t and
	// --tcp were given.
	countSet, sizeSet, ttlSet, tcpSet bool
	// Numeric is -n: accepted, and the default (addresses are not looked
	// up).
	Numeric bool
	// Timestamps is -D: each probe line starts with the time, as iputils.
	Timestamps bool
	// Iface is -I: an interface name or a source address; source or
	// ifaceName is what check made of it.
	Iface     string
	source    netip.Addr
	ifaceName string
}

// defaultManyCount is -c when several hosts are pinged without -c or -w,
// so that the command ends with its table by itself, as fping -c does.
const defaultManyCount = 3

// NewCmdPing returns 'netkit ping'. runF replaces pingRun in tests.
func NewCmdPing(io *output.Streams, runF func(context.Context, *PingOptions) error) *cobra.Command {
	opts := &PingOptions{IO: io, Interval: ping.DefaultInterval, Timeout: ping.DefaultTimeout}
	cmd := &cobra.Command{
		Use:   "ping [flags] HOST...",
		Short: "Check that hosts answer and measure loss and round-trip time (ICMP echo or TCP connect)",
		Long: fmt.Sprintf(`Ping sends ICMP echo requests, like ping, and answers "is the host alive, and is
there packet loss?".

With one host it prints a line per reply as it arrives and, when it ends or
on Ctrl-C, ping's statistics block. Replies to a probe already answered are
counted and marked (DUP!); replies after the -W timeout are counted as late,
marked (LATE!), and the probe as lost. -O also prints a line for each probe
not answered within -W. Probes are numbered from 1 (icmp_seq, tcp_seq), as
in iputils ping, in --json too; the ICMP sequence number on the wire is one
less. ICMP errors sent back for a probe (time to live exceeded, destination
unreachable) are printed as iputils ping prints them ("From 10.0.0.1
icmp_seq=1 Destination Net Unreachable"), counted as errors ("+1 errors"),
and explained, naming who sent them; they are heard with raw sockets only.

-w stops after that many seconds: no probe is sent that the deadline would
cut off, so loopback shows no loss.

With several hosts (arguments or --file, one per line, # comments) it pings
them all and prints one table: host, address, sent, received, loss,
errors (ICMP errors heard), min/avg/max RTT and state (alive, unreachable,
unresolved, or skipped: the run ended before its turn). Without -c or -w each host gets %d probes. The
hosts start in turn, spread over one interval as fping does, so that their
probes do not all compete at once; up to %d are pinged at the same time.
On a terminal each answer is also printed as it comes, as fping does
("HOST : 64 bytes from ..."), before the table.

As in iputils ping, -D starts each probe line with the time
([seconds.microseconds]), -I sends from an interface or a source address,
and -n is accepted (addresses are never looked up). -s goes down to 0 as in
iputils; below %d bytes (too few for the send time and tracking ID that
pro-bing puts in each probe) the probes are sent on netkit's own raw socket,
so they need root or CAP_NET_RAW.

It uses a raw ICMP socket when the process may (root or CAP_NET_RAW), else an
unprivileged ICMP datagram socket (groups in net.ipv4.ping_group_range); -v
says which. ICMP intervals below %s need root or CAP_NET_RAW (iputils ping:
root); --tcp has no such limit.

--tcp PORT measures TCP connect time instead, for hosts behind a firewall that
drops ICMP: a SYN answered by SYN-ACK (open) or by RST (closed) both mean the
host is up.

--json prints the statistics and every probe of every host as one document;
--format jsonl streams them as they happen.

Exit codes, as iputils ping for one host: 0 if any reply, 1 if none (or,
with both -c and -w, fewer than -c replies by the deadline), 2 on bad input
or a socket error. For several hosts, as fping: 0 if all are alive, 1 if any
is unreachable or skipped, 2 if any socket fails. A name that does not
exist is 1, as in every netkit command (iputils and fping say 2).`, defaultManyCount, ping.MaxConcurrentTargets, ping.MinSize, ping.MinUserInterval),
		Example: `  netkit ping -c 3 127.0.0.1
  netkit ping -6 -c 3 ::1
  netkit ping -c 3 -i 0.2 --file hosts.txt
  netkit ping --tcp https -c 3 example.com
  netkit ping -c 1 --json 127.0.0.1`,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Hosts = args
			opts.countSet = cmd.Flags().Changed("count")
			opts.sizeSet = cmd.Flags().Changed("size")
			opts.ttlSet = cmd.Flags().Changed("ttl")
			opts.tcpSet = cmd.Flags().Changed("tcp")
			if err := opts.check(); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return pingRun(cmd.Context(), opts)
		},
	}
	fs := cmd.Flags()
	fs.IntVarP(&opts.Count, "count", "c", 0, "stop after this many probes per host (default: until Ctrl-C for one host)")
	fs.VarP(secondsValue{&opts.Interval}, "interval", "i", "seconds between probes to one host")
	fs.VarP(secondsValue{&opts.Timeout}, "timeout", "W", "seconds to wait for each reply; later ones are late")
	fs.VarP(secondsValue{&opts.Deadline}, "deadline", "w", "stop after this many seconds in all (0: no deadline)")
	fs.IntVarP(&opts.Size, "size", "s", ping.DefaultSize, "ICMP payload bytes")
	fs.IntVarP(&opts.TTL, "ttl", "t", 0, fmt.Sprintf("TTL (IPv6 hop limit) of the probes (default %d for ICMP, the system's for TCP)", ping.DefaultTTL))
	opts.Family.addFlags(fs)
	fs.BoolVarP(&opts.Quiet, "quiet", "q", false, "print only the summary")
	fs.BoolVarP(&opts.Verbose, "verbose", "v", false, "say how probes are sent (raw or datagram ICMP socket, TCP)")
	fs.BoolVarP(&opts.Outstanding, "report-outstanding", "O", false, "print a line for each probe not answered within -W")
	fs.StringVar(&opts.tcp, "tcp", "", "measure TCP connect time to this `PORT` (a number or a service name) instead of ICMP echo")
	fs.StringVarP(&opts.File, "file", "f", "", "read hosts from `FILE`, one per line (- for stdin)")
	fs.BoolVarP(&opts.Numeric, "numeric", "n", false, "print addresses, not names: the default, accepted as iputils ping takes it")
	fs.BoolVarP(&opts.Timestamps, "timestamp", "D", false, "start each probe line with the time, [seconds.microseconds] since 1970, as iputils ping")
	fs.StringVarP(&opts.Iface, "interface", "I", "", "send from this interface `IFACE` or source address `ADDR`")
	opts.Output.AddFlags(fs, true)
	return cmd
}

// check validates the flags that need no look at the network; the ranges
// of the rest are checked by ping.Run.
func (o *PingOptions) check() error {
	if err := o.Output.Resolve(); err != nil {
		return usageError(err)
	}
	var err error
	if o.family, err = o.Family.family(); err != nil {
		return err
	}
	if o.tcpSet {
		port, err := resolve.ParsePort(o.tcp, "tcp")
		if err != nil {
			return usageErrorf("invalid --tcp: %w", err)
		}
		o.TCPPort = int(port)
	}
	if o.Iface != "" {
		if a, err := netip.ParseAddr(o.Iface); err == nil {
			o.source = a.Unmap()
		} else if _, err := net.InterfaceByName(o.Iface); err != nil {
			return usageErrorf("invalid -I %s: neither an address nor an interface of this machine ('ip link' lists them)", o.Iface)
		} else {
			o.ifaceName = o.Iface
		}
	}
	switch {
	case o.countSet && o.Count < 1:
		return usageErrorf("invalid -c %d: want at least 1 probe", o.Count)
	case o.ttlSet && (o.TTL < 1 || o.TTL > 255):
		return usageErrorf("invalid -t %d: must be from 1 to 255", o.TTL)
	case o.TCPPort != 0 && o.sizeSet:
		return usageErrorf("-s does not apply to --tcp: TCP probes carry no payload")
	case o.Interval == 0:
		return usageErrorf("invalid -i 0: want a positive interval")
	case o.Timeout == 0:
		return usageErrorf("invalid -W 0: want a positive timeout")
	}
	if o.File != "" {
		if err := o.readFile(); err != nil {
			return err
		}
	}
	if len(o.Hosts) == 0 {
		return usageErrorf("no host to ping: give HOST arguments or --file (see 'netkit ping --help')")
	}
	return nil
}

// readFile appends the hosts of --file to Hosts.
func (o *PingOptions) readFile() error {
	var r io.Reader = o.IO.In
	if o.File != "-" {
		f, err := os.Open(o.File)
		if err != nil {
			return usageError(fmt.Errorf("--file: %w", err))
		}
		defer f.Close()
		r = f
	}
	hosts, err := ping.ParseHostList(r)
	if err != nil {
		return usageError(fmt.Errorf("--file %s: %w", o.File, err))
	}
	o.Hosts = append(o.Hosts, hosts...)
	return nil
}

// pingFlags names the flag behind each ping.Options field, for errors.
var pingFlags = map[string]string{
	"Targets": "host list", "Count": "-c", "Interval": "-i", "Timeout": "-W",
	"Size": "-s", "TTL": "-t", "TCPPort": "--tcp",
}

func pingRun(ctx context.Context, o *PingOptions) error {
	if o.Deadline > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.Deadline)
		defer cancel()
	}
	many := len(o.Hosts) > 1
	count := o.Count
	if many && !o.countSet && o.Deadline == 0 {
		count = defaultManyCount
	}
	fam := o.family
	targets := make([]ping.Target, len(o.Hosts))
	for i, h := range o.Hosts {
		targets[i].Host = h
	}
	p := newPingPrinter(o, many)
	stats, err := ping.Run(ctx, ping.Options{
		Targets: targets, Family: fam, TCPPort: o.TCPPort, Count: count,
		Interval: o.Interval, Timeout: o.Timeout, Size: o.Size, NoPayload: o.sizeSet && o.Size == 0, TTL: o.TTL,
		Source: o.source, Interface: o.ifaceName,
		OnStart: p.start, OnProbe: p.probe,
	})
	if err != nil {
		var oe *ping.OptionError
		if errors.As(err, &oe) {
			return usageErrorf("invalid %s %s: %s", pingFlags[oe.Option], oe.Value, oe.Why)
		}
		return fmt.Errorf("ping: %w", err)
	}
	if err := p.finish(stats); err != nil {
		return err
	}
	return pingExit(o, stats, many)
}

// pingExit decides the exit code and says why when it is not 0. One host,
// as iputils ping: 0 if any reply, 1 if none or, with -c and -w, fewer than
// -c by the deadline; 2 if it did not resolve or its socket failed. Several
// hosts, as fping: 2 if any did not resolve or failed (each said on stderr,
// each kind of error explained once), else 1 if any is unreachable or
// skipped, else 0.
func pingExit(o *PingOptions, stats []ping.Stats, many bool) error {
	if !many {
		s := stats[0]
		switch {
		case s.Err != nil && noSuchName(s.Err):
			return checkFailed(fmt.Errorf("ping: %w", s.Err))
		case s.Err != nil:
			return fmt.Errorf("ping: %w", s.Err)
		case s.State == ping.Skipped:
			return checkFailed(fmt.Errorf("ping: %s: %s", s.Host, s.Error))
		case s.Received == 0 && (s.Errors == 0 || s.ICMPError != nil):
			return checkFailed(fmt.Errorf("ping: %w", noReply(s)))
		case s.Received == 0:
			return checkFailed(nil) // the errors are on their probe lines
		case o.Deadline > 0 && o.countSet && s.Received < o.Count:
			return checkFailed(fmt.Errorf("ping: %d of %d replies by the -w deadline", s.Received, o.Count))
		}
		return nil
	}
	explained := map[string]bool{}
	failed, down, skipped := false, false, 0
	var silent []string
	for _, s := range stats {
		if s.Err != nil {
			failed = failed || !noSuchName(s.Err)
			err := fmt.Errorf("ping: %w", s.Err)
			o.IO.Eprintf("netkit: %s\n", oneLine(err.Error()))
			if ex, ok := explain.Error(err); ok && !explained[ex.Code] {
				explained[ex.Code] = true
				printExplanation(o.IO.Eprintf, "  ", ex)
			}
		}
		switch {
		case s.State == ping.Skipped:
			skipped++
		case s.State == ping.Unreachable && s.Err == nil && s.Errors == 0:
			silent = append(silent, s.Host)
		case s.State == ping.Unreachable && s.ICMPError != nil:
			err := fmt.Errorf("ping: %w", noReply(s))
			o.IO.Eprintf("netkit: %s\n", oneLine(err.Error()))
			if ex, ok := explain.Error(err); ok && !explained[ex.Code] {
				explained[ex.Code] = true
				printExplanation(o.IO.Eprintf, "  ", ex)
			}
		}
		down = down || s.State != ping.Alive
	}
	if len(silent) > 0 {
		o.IO.Eprintf("netkit: ping: %d of %d hosts did not reply\n", len(silent), len(stats))
		ex, _ := explain.Error(&ping.NoReplyError{Host: strings.Join(silent, " "), Port: o.TCPPort, Unheard: unheard(stats)})
		printExplanation(o.IO.Eprintf, "  ", ex)
	}
	if skipped > 0 {
		o.IO.Eprintf("netkit: ping: %d of %d hosts not pinged: the run ended before their turn\n", skipped, len(stats))
	}
	switch {
	case failed:
		return &cliError{code: exitError}
	case down:
		return checkFailed(nil)
	}
	return nil
}

// noReply is the error of a target that answered no probe: what came back
// instead, if anything, and whether ICMP errors could be heard.
func noReply(s ping.Stats) *ping.NoReplyError {
	return &ping.NoReplyError{Host: s.Host, Port: s.Port, ICMP: s.ICMPError, Unheard: s.Method == ping.MethodDatagram}
}

// unheard reports whether any target was pinged without hearing ICMP
// errors (datagram sockets).
func unheard(stats []ping.Stats) bool {
	for _, s := range stats {
		if s.Method == ping.MethodDatagram {
			return true
		}
	}
	return false
}

// pingPrinter turns the events of a run into output. Its hooks may be
// called concurrently for different targets.
type pingPrinter struct {
	o     *PingOptions
	many  bool
	lines *output.Lines // --format jsonl

	mu     sync.Mutex
	probes [][]ping.Probe // --json: each target's events
	said   map[ping.Method]bool
}

func newPingPrinter(o *PingOptions, many bool) *pingPrinter {
	p := &pingPrinter{o: o, many: many, said: map[ping.Method]bool{}}
	switch o.Output.Format {
	case output.FormatJSONL:
		p.lines = output.NewLines(o.IO.Out)
	case output.FormatJSON:
		p.probes = make([][]ping.Probe, len(o.Hosts))
		for i := range p.probes {
			p.probes[i] = []ping.Probe{}
		}
	}
	return p
}

// human reports whether ping's text lines are wanted: one host, table format.
func (p *pingPrinter) human() bool {
	return !p.many && p.o.Output.Format == output.FormatTable
}

func (p *pingPrinter) start(st ping.Start) {
	if p.o.Verbose {
		p.mu.Lock()
		if !p.said[st.Method] {
			p.said[st.Method] = true
			p.o.IO.Eprintf("netkit: ping: sending with %s\n", methodText(st))
		}
		p.mu.Unlock()
	}
	switch {
	case p.lines != nil:
		p.lines.Emit("start", st)
	case !p.human():
	case st.Method == ping.MethodTCP:
		p.o.IO.Printf("PING %s (%s) port %d over TCP\n", st.Host, st.Addr, st.Port)
	case st.Addr.Is6():
		p.o.IO.Printf("PING %s(%s) %d data bytes\n", st.Host, st.Addr, st.Size)
	default:
		p.o.IO.Printf("PING %s (%s) %d(%d) bytes of data.\n", st.Host, st.Addr, st.Size, st.Size+28)
	}
}

// methodText says how probes are sent, for -v.
func methodText(st ping.Start) string {
	switch st.Method {
	case ping.MethodRaw:
		return "raw ICMP sockets (this process has root or CAP_NET_RAW)"
	case ping.MethodDatagram:
		return "unprivileged ICMP datagram sockets (a group of this process is in net.ipv4.ping_group_range); ICMP errors (unreachable, time exceeded) cannot be heard without raw socket rights"
	}
	return fmt.Sprintf("TCP connections to port %d (SYN-ACK: open, RST: closed; both mean the host is up)", st.Port)
}

func (p *pingPrinter) probe(ev ping.Probe) {
	switch {
	case p.lines != nil:
		p.lines.Emit("probe", pingProbeEvent{ev.Target, ev.Host, ev.Addr, ev})
	case p.probes != nil:
		p.mu.Lock()
		p.probes[ev.Target] = append(p.probes[ev.Target], ev)
		p.mu.Unlock()
	case p.o.Quiet || ev.Kind == ping.ProbeTimeout && !p.o.Outstanding:
	case p.human():
		p.o.IO.Println(p.stamp() + probeLine(ev, p.timed()))
	case p.live():
		// Many hosts on a terminal: each answer as it comes, as fping
		// does, rather than a blank screen until the table.
		p.mu.Lock()
		p.o.IO.Printf("%s%s : %s\n", p.stamp(), ev.Host, probeLine(ev, p.timed()))
		p.mu.Unlock()
	}
}

// live reports whether the answers of many hosts are printed as they come:
// on a terminal, before the table.
func (p *pingPrinter) live() bool {
	return p.many && p.o.IO.OutTTY && p.o.Output.Format == output.FormatTable
}

// stamp is -D's "[seconds.microseconds] " before a probe line, as iputils
// prints it, or nothing.
func (p *pingPrinter) stamp() string {
	if !p.o.Timestamps {
		return ""
	}
	now := time.Now()
	return fmt.Sprintf("[%d.%06d] ", now.Unix(), now.Nanosecond()/1000)
}

// untimedSize is the payload below which iputils ping prints no times: too
// small for its send time (a struct timeval).
const untimedSize = 16

// timed reports whether the lines show times, as iputils does: with a
// payload of at least untimedSize, or over TCP. (--json has them always.)
func (p *pingPrinter) timed() bool {
	return p.o.TCPPort != 0 || !p.o.sizeSet || p.o.Size >= untimedSize
}

// probeLine is ping's line for one event; timed says whether it shows the
// time.
func probeLine(ev ping.Probe, timed bool) string {
	seq := fmt.Sprintf("icmp_seq=%d", ev.Seq)
	if ev.Port != 0 {
		seq = fmt.Sprintf("tcp_seq=%d", ev.Seq)
	}
	var b strings.Builder
	switch ev.Kind {
	case ping.ProbeTimeout:
		return "no answer yet for " + seq
	case ping.ProbeError:
		if ev.ICMP != nil {
			return fmt.Sprintf("From %s %s %s", ev.ICMP.From, seq, ev.ICMP.Text)
		}
		return fmt.Sprintf("error for %s: %s", seq, ev.Error)
	}
	if ev.Port != 0 {
		fmt.Fprintf(&b, "from %s: %s %s", netipPort(ev), seq, ev.PortState)
	} else {
		from := ev.From
		if !from.IsValid() {
			from = ev.Addr
		}
		fmt.Fprintf(&b, "%d bytes from %s: %s", ev.Bytes, from, seq)
		if ev.TTL > 0 {
			fmt.Fprintf(&b, " ttl=%d", ev.TTL)
		}
	}
	if timed {
		fmt.Fprintf(&b, " time=%.3f ms", ev.RTTMs)
	}
	switch ev.Kind {
	case ping.ProbeDuplicate:
		b.WriteString(" (DUP!)")
	case ping.ProbeLate:
		b.WriteString(" (LATE!)")
	}
	return b.String()
}

func netipPort(ev ping.Probe) string {
	return net.JoinHostPort(ev.Addr.String(), strconv.Itoa(ev.Port))
}

// pingProbeEvent is a probe event of --format jsonl: the probe and the
// target it went to.
type pingProbeEvent struct {
	Index int        `json:"index"`
	Host  string     `json:"host"`
	Addr  netip.Addr `json:"address"`
	ping.Probe
}

// pingSummaryEvent is the summary event of --format jsonl: the statistics
// of one target, with its index as in its start and probe events.
type pingSummaryEvent struct {
	Index int `json:"index"`
	ping.Stats
}

// pingTargetJSON is one target in the --json document.
type pingTargetJSON struct {
	ping.Stats
	Probes []ping.Probe `json:"probes"`
}

func (p *pingPrinter) finish(stats []ping.Stats) error {
	switch {
	case p.lines != nil:
		for i, s := range stats {
			if err := p.lines.Emit("summary", pingSummaryEvent{i, s}); err != nil {
				return err
			}
		}
		return nil
	case p.probes != nil:
		doc := struct {
			Targets []pingTargetJSON `json:"targets"`
		}{make([]pingTargetJSON, len(stats))}
		for i, s := range stats {
			doc.Targets[i] = pingTargetJSON{s, p.probes[i]}
		}
		return output.PrintJSON(p.o.IO.Out, doc)
	case p.many:
		if p.live() {
			p.o.IO.Println()
		}
		return pingTable(stats, p.o.TCPPort != 0).Print(p.o.IO, p.o.Output.NoHeader)
	}
	if s := stats[0]; s.State != ping.Unresolved {
		pingSummary(p.o.IO, s, p.timed())
	}
	return nil
}

// pingSummary writes ping's statistics block, with the RTT line when timed.
func pingSummary(io *output.Streams, s ping.Stats, timed bool) {
	what, noun := "ping", "packets"
	if s.Method == ping.MethodTCP {
		what, noun = "tcp ping", "probes"
	}
	io.Printf("\n--- %s %s statistics ---\n", s.Host, what)
	io.Printf("%d %s transmitted, %d received", s.Sent, noun, s.Received)
	for _, extra := range []struct {
		n    int
		name string
	}{{s.Duplicates, "duplicates"}, {s.Late, "late"}, {s.Errors, "errors"}} {
		if extra.n > 0 {
			io.Printf(", +%d %s", extra.n, extra.name)
		}
	}
	if s.Loss != nil {
		io.Printf(", %s%% %s loss", pct(s.LossPct), strings.TrimSuffix(noun, "s"))
	}
	io.Printf(", time %.0fms\n", s.TimeMs)
	switch {
	case s.RTT != nil && timed:
		io.Printf("rtt min/avg/max/mdev = %.3f/%.3f/%.3f/%.3f ms\n", s.MinMs, s.AvgMs, s.MaxMs, s.MdevMs)
	case s.Method != ping.MethodTCP:
		io.Println() // iputils ends the block with an empty line where the rtt line would be
	}
	if s.PortCounts != nil {
		io.Printf("port %d: %d open, %d closed\n", s.Port, s.Open, s.Closed)
	}
}

// pct formats a loss percentage as ping does (C's %g: 0, 33.3333, 100).
func pct(v float64) string {
	return strconv.FormatFloat(v, 'g', 6, 64)
}

// pingTable is the table of several targets.
func pingTable(stats []ping.Stats, tcp bool) *output.Table {
	t := &output.Table{Header: []string{"HOST", "ADDRESS", "SENT", "RECV", "LOSS%", "ERRORS", "MIN", "AVG", "MAX", "STATE"}}
	if tcp {
		t.Header = append(t.Header, "PORT")
	}
	for _, s := range stats {
		addr, loss, minMs, avgMs, maxMs := "", "", "", "", ""
		if s.Addr.IsValid() {
			addr = s.Addr.String()
		}
		if s.Loss != nil {
			loss = pct(s.LossPct)
		}
		if s.RTT != nil {
			minMs, avgMs, maxMs = fmt.Sprintf("%.3f", s.MinMs), fmt.Sprintf("%.3f", s.AvgMs), fmt.Sprintf("%.3f", s.MaxMs)
		}
		row := []string{s.Host, addr, strconv.Itoa(s.Sent), strconv.Itoa(s.Received), loss, strconv.Itoa(s.Errors), minMs, avgMs, maxMs, string(s.State)}
		if tcp {
			row = append(row, portStates(s))
		}
		t.Append(row...)
	}
	return t
}

// portStates says what the TCP answers of a target were: open, closed,
// both, or nothing.
func portStates(s ping.Stats) string {
	if s.PortCounts == nil {
		return ""
	}
	var st []string
	if s.Open > 0 {
		st = append(st, string(ping.PortOpen))
	}
	if s.Closed > 0 {
		st = append(st, string(ping.PortClosed))
	}
	return strings.Join(st, ",")
}

// secondsValue is a pflag.Value for a duration given in seconds, as ping
// takes it ("0.2"), or as a Go duration ("200ms").
type secondsValue struct{ d *time.Duration }

func (v secondsValue) String() string {
	if v.d == nil {
		return "0"
	}
	return strconv.FormatFloat(v.d.Seconds(), 'g', -1, 64)
}

func (v secondsValue) Set(s string) error {
	d, err := parseSeconds(s)
	if err != nil {
		return err
	}
	*v.d = d
	return nil
}

func (v secondsValue) Type() string { return "seconds" }

// maxSeconds bounds -i, -W and -w: one year.
const maxSeconds = 365 * 24 * 3600

// parseSeconds reads "0.2", "1", "1e-3" or "200ms" as a duration from 0 to
// maxSeconds.
func parseSeconds(s string) (time.Duration, error) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		d, derr := time.ParseDuration(s)
		if derr != nil {
			return 0, errors.New("want seconds, such as 0.2 or 200ms")
		}
		f = d.Seconds()
	}
	if math.IsNaN(f) || f < 0 || f > maxSeconds {
		return 0, fmt.Errorf("want seconds from 0 to %d", maxSeconds)
	}
	return time.Duration(math.Round(f * float64(time.Second))), nil
}
