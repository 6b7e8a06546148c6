package cli

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/netkit/netkit/diag/sockets"
	"github.com/netkit/netkit/internal/output"
	"github.com/netkit/netkit/resolve"
	"github.com/netkit/netkit/units"
)

// SocketsOptions are the inputs of 'netkit sockets'.
type SocketsOptions struct {
	IO     *output.Streams
	Output output.Options
	// Query is what to list, filled from the flags by RunE.
	Query sockets.Query
	// Summary prints counts per protocol and state instead of sockets.
	Summary bool
	// Extended adds the User and Inode columns (-e, as in ss and netstat).
	Extended bool
	// Timers adds the Timer column (-o, as in ss and netstat).
	Timers bool
	// Watch, when not 0, lists again every Watch until Count listings
	// (0: until Ctrl-C), as 'netstat -c' does.
	Watch time.Duration
	Count int

	states  []string
	port    string
	netns   netnsFlags
	ignored bool // -n, -p and -a: what netkit does anyway
}

// NewCmdSockets returns 'netkit sockets' and its 'who' subcommand. runF
// replaces socketsRun in tests.
func NewCmdSockets(io *output.Streams, runF func(context.Context, *SocketsOptions) error) *cobra.Command {
	opts := &SocketsOptions{IO: io}
	cmd := &cobra.Command{
		Use:   "sockets [FILTER]",
		Short: "List TCP, UDP, UNIX and raw sockets with their state, queues, timers and owning process",
		Long: `Sockets lists the TCP and UDP sockets of this machine, as 'netstat -tuanp'
and 'ss -tuanp' do: protocol, receive and send queues, local and foreign
address, state and the process holding each one. Addresses are numeric
unless --resolve is given; a wildcard address or port is "*". -x adds
UNIX domain sockets, -w raw IP sockets (a ping, or a sniffer of one IP
protocol), -0 packet sockets (tcpdump and other sniffers of whole frames,
listed as PROTOCOL:INTERFACE, "*" for all); -t, -u, -x, -w and -0 together
choose any mix. The flags people type
for ss and netstat work: -n, -p and -a are what netkit does anyway, so
'-tulpn' and '-antp' list what they list there.

UNIX sockets show as ss shows them: Proto u_str, u_dgr or u_seq; Local
Address the path ("@name" for an abstract name, "*" unnamed) and the
socket's inode; Foreign Address the peer's path and inode, as the kernel
pairs them, so both ends of a socketpair find each other.

-e adds the socket's user and inode; -o adds the TCP timer that runs on
each socket: retransmit (data sent and not acknowledged, with how many
times it was sent again), keepalive, time-wait or zero-window-probe, with
when it fires. A connection whose retransmit count climbs gets no answer
from its peer: the usual "it hangs".

Filters combine: '-t -l --port 8080' lists TCP listeners on port 8080.
States are named as netstat or ss name them, in any case, with or without
dashes: listen, established (estab), syn-sent, syn-recv, fin-wait-1,
fin-wait-2, time-wait, close, close-wait, last-ack, closing, and unconn for
UDP sockets with no peer.

FILTER is an ss filter (see ss(8)): leading 'state NAME' or 'exclude NAME'
words (NAME a state or one of ss's groups: all, connected, synchronized,
bucket, big), then conditions 'src PREFIX', 'dst PREFIX' (address, prefix
and port: 10.0.0.0/8, [::1]:443, *:22; or a UNIX socket path, with glob
patterns), 'sport OP PORT' and 'dport OP PORT' (OP: = != < > <= >=, or eq
ne lt gt le ge), joined by and, or, not and parentheses; quote it for the
shell.

--netns NAME and --netns-pid PID list the sockets of another network
namespace, as 'ip netns exec NAME ss' and 'nsenter -t PID -n ss' do (a
container's, given the PID of a process in it); the owners are still named.
--watch lists again every second (or INTERVAL), as 'netstat -c' does.

Sockets whose owner cannot be seen are listed with "-" as PID/Program, and
a note says why: other users' processes when not run as root, a process in
another PID namespace (a container), or the kernel. Connections in
TIME_WAIT are held by no process: they show "-" without a note.

'netkit sockets --summary' counts sockets per protocol and state, like
'ss -s'. 'netkit sockets who PORT' answers "Address already in use", and
'netkit sockets who PATH' who listens on (and is connected to) a UNIX
socket.`,
		Example: `  netkit sockets -tlnp                # what is listening on TCP?
  netkit sockets -t --port 65432      # TCP sockets on port 65432, either end
  netkit sockets --state time-wait --summary
  netkit sockets -to state established '( dport = :443 or sport = :443 )'
  netkit sockets -x src /run/*.sock   # UNIX sockets under /run
  netkit sockets --program nginx --json
  netkit sockets who 8080
  netkit sockets who /run/docker.sock`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.Output.Resolve(); err != nil {
				return usageError(err)
			}
			if cmd.Flags().Changed("watch") && len(args) > 0 {
				// '--watch 2': the interval, not a filter word.
				if d, err := parseInterval(args[0]); err == nil {
					opts.Watch, args = d, args[1:]
				}
			}
			switch {
			case opts.Watch != 0 && opts.Watch < minWatch:
				return usageErrorf("--watch: interval %s is too short: want %s or more", opts.Watch, minWatch)
			case opts.Output.Format == output.FormatJSONL && opts.Watch == 0:
				return usageErrorf("--format jsonl needs --watch: a single listing is one JSON document (--json)")
			case opts.Output.Format == output.FormatJSON && opts.Watch != 0:
				return usageErrorf("--watch prints a stream: use --format jsonl, one JSON line per listing")
			case cmd.Flags().Changed("count") && (opts.Watch == 0 || opts.Count < 1):
				return usageErrorf("-c/--count: want a number of listings above 0, with --watch")
			}
			if len(args) > 0 {
				f, err := sockets.ParseFilter(args)
				if err != nil {
					if len(args) == 1 {
						if _, perr := resolve.ParsePort(strings.TrimPrefix(args[0], ":"), ""); perr == nil {
							return usageErrorf("%w (did you mean '%s who %s'?)", err, cmd.CommandPath(), args[0])
						}
					}
					return usageError(err)
				}
				opts.Query.Filter = f
			}
			for _, list := range opts.states {
				for name := range strings.SplitSeq(list, ",") {
					st, err := sockets.ParseState(name)
					if err != nil {
						return usageErrorf("--state: %w", err)
					}
					opts.Query.States = append(opts.Query.States, st)
				}
			}
			if cmd.Flags().Changed("port") {
				p, err := resolve.ParsePort(opts.port, "")
				if err != nil {
					return usageErrorf("invalid --port: %w", err)
				}
				opts.Query.Port = p
			}
			if cmd.Flags().Changed("pid") && opts.Query.PID <= 0 {
				return usageErrorf("--pid: invalid process id %d: want a number above 0", opts.Query.PID)
			}
			if cmd.Flags().Changed("program") && opts.Query.Program == "" {
				return usageErrorf("--program: empty name")
			}
			ns, err := opts.netns.path(cmd.Flags())
			if err != nil {
				return err
			}
			opts.Query.Netns = ns
			opts.Query.SkipOwners = opts.Summary
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			if ns != "" && opts.Query.Names {
				// Names of the namespace's addresses are looked up from
				// inside it, with its configuration: run there whole.
				return runInNetns(cmd, ns, childArgs(cmd, args), opts.netns.env())
			}
			return socketsRun(cmd.Context(), opts)
		},
	}
	fs := cmd.Flags()
	fs.BoolVarP(&opts.Query.TCP, "tcp", "t", false, "TCP sockets (with -u: both; neither: both)")
	fs.BoolVarP(&opts.Query.UDP, "udp", "u", false, "UDP sockets")
	fs.BoolVarP(&opts.Query.Unix, "unix", "x", false, "UNIX domain sockets")
	fs.BoolVarP(&opts.Query.Raw, "raw", "w", false, "raw IP sockets")
	fs.BoolVarP(&opts.Query.Packet, "packet", "0", false, "packet (AF_PACKET) sockets: tcpdump and other sniffers")
	fs.BoolVarP(&opts.Query.IPv4, "ipv4", "4", false, "IPv4 sockets (with -6: both; neither: both)")
	fs.BoolVarP(&opts.Query.IPv6, "ipv6", "6", false, "IPv6 sockets")
	fs.BoolVarP(&opts.Query.Listening, "listen", "l", false, "only sockets waiting for peers: LISTEN, and UNCONN (UDP, raw, UNIX datagram)")
	fs.StringArrayVar(&opts.states, "state", nil, "only sockets in these states, comma-separated (listen,time-wait,...)")
	fs.StringVar(&opts.port, "port", "", "only sockets with this port (number or service name) at either end")
	fs.IntVar(&opts.Query.PID, "pid", 0, "only sockets held by this process")
	fs.StringVar(&opts.Query.Program, "program", "", "only sockets held by a process of this name")
	opts.netns.addFlags(fs, "list the sockets")
	fs.BoolVarP(&opts.Query.Names, "resolve", "r", false, "show host and service names instead of numbers")
	fs.BoolVarP(&opts.Summary, "summary", "s", false, "count sockets per protocol and state, like 'ss -s'")
	fs.BoolVarP(&opts.Extended, "extended", "e", false, "add the User and Inode columns")
	fs.BoolVarP(&opts.Timers, "timers", "o", false, "add the Timer column: retransmit, keepalive, time-wait or zero-window-probe, when it fires and its count")
	fs.VarP((*intervalValue)(&opts.Watch), "watch", "", "list again every INTERVAL (1s without one), redrawn in place on a terminal, with what changed marked")
	fs.Lookup("watch").NoOptDefVal = "1s"
	fs.IntVarP(&opts.Count, "count", "c", 0, "with --watch, stop after this many listings (default: until Ctrl-C)")
	fs.BoolVarP(&opts.ignored, "numeric", "n", false, "numeric addresses and ports (the default; for ss and netstat habits)")
	fs.BoolVarP(&opts.ignored, "processes", "p", false, "show the owning processes (the default)")
	fs.BoolVarP(&opts.ignored, "all", "a", false, "sockets in every state (the default; -l narrows to listeners)")
	opts.Output.AddFlags(fs, true)
	cmd.AddCommand(withNetns(NewCmdSocketsWho(io, nil)))
	return cmd
}

// socketsHeader is the header of the listing, as netstat and ss name the
// columns.
var socketsHeader = []string{"Proto", "Recv-Q", "Send-Q", "Local Address", "Foreign Address", "State", "PID/Program"}

func socketsRun(ctx context.Context, opts *SocketsOptions) error {
	if opts.Watch != 0 {
		return socketsWatch(ctx, opts)
	}
	list, err := listSockets(ctx, opts)
	if err != nil {
		return err
	}
	printNotes(opts.IO, list.Notes)
	if opts.Summary {
		return printSocketSummary(opts, sockets.Summarize(list.Sockets), list.Notes)
	}
	if opts.Output.Format == output.FormatJSON {
		return output.PrintJSON(opts.IO.Out, list)
	}
	t := socketsTable(opts, list.Sockets)
	return t.Print(opts.IO, opts.Output.NoHeader)
}

// listSockets lists what opts asks for; a process or namespace that does
// not exist is a failed check (exit 1).
func listSockets(ctx context.Context, opts *SocketsOptions) (*sockets.Listing, error) {
	list, err := sockets.List(ctx, opts.Query)
	if errors.Is(err, sockets.ErrNoProcess) || errors.Is(err, sockets.ErrNoNetns) {
		return nil, checkFailed(fmt.Errorf("list sockets: %w", err))
	}
	if err != nil {
		return nil, fmt.Errorf("list sockets: %w", err)
	}
	return list, nil
}

// socketsTable is the listing of socks as a table, with the columns
// opts asks for: netstat's, then User and Inode (-e), then Timer (-o).
func socketsTable(opts *SocketsOptions, socks []sockets.Socket) output.Table {
	header := socketsHeader
	if opts.Extended {
		header = slices.Insert(slices.Clone(header), len(header)-1, "User", "Inode")
	}
	if opts.Timers {
		header = append(slices.Clone(header), "Timer")
	}
	t := output.Table{Header: header, Rows: make([][]string, 0, len(socks))}
	for i := range socks {
		s := &socks[i]
		proto, local, remote := socketCells(s, opts.Query.Names)
		row := []string{proto, strconv.Itoa(s.RecvQ), strconv.Itoa(s.SendQ), local, remote, string(s.State)}
		if opts.Extended {
			user := s.User
			if user == "" {
				user = strconv.FormatUint(uint64(s.UID), 10)
			}
			row = append(row, user, strconv.FormatUint(s.Inode, 10))
		}
		row = append(row, pidProgram(s.PID, s.Program))
		if opts.Timers {
			row = append(row, timerCell(s))
		}
		t.Append(row...)
	}
	return t
}

// socketCells are the Proto, Local Address and Foreign Address cells of
// s: numeric addresses, or the names List found when names is true.
func socketCells(s *sockets.Socket, names bool) (proto, local, remote string) {
	switch {
	case s.Family == "unix":
		return unixNetid(s.Type), unixAddr(s.Path, s.Inode), unixAddr(s.PeerPath, s.PeerInode)
	case s.Family == "packet":
		return packetNetid(s.Type), sockets.EtherTypeName(s.EtherType) + ":" + cmp.Or(s.Interface, "*"), "*"
	case names:
		return s.Proto, s.LocalName, s.RemoteName
	}
	return s.Proto, formatAddr(s.Local), formatAddr(s.Remote)
}

// unixNetid is ss's Netid for a UNIX socket of this type: u_str, u_dgr,
// u_seq.
func unixNetid(typ string) string {
	switch typ {
	case "stream":
		return "u_str"
	case "dgram":
		return "u_dgr"
	case "seqpacket":
		return "u_seq"
	}
	return "unix"
}

// packetNetid is ss's Netid for a packet socket of this type: p_raw,
// p_dgr.
func packetNetid(typ string) string {
	switch typ {
	case "raw":
		return "p_raw"
	case "dgram":
		return "p_dgr"
	}
	return "packet"
}

// unixAddr writes a UNIX socket's end as ss does, its path ("*" when
// unnamed) and inode: "/run/foo.sock 4321", "* 4322". An end with no
// socket (the peer of a listener) is "*".
func unixAddr(path string, inode uint64) string {
	if inode == 0 && path == "" {
		return "*"
	}
	if path == "" {
		path = "*"
	}
	return path + " " + strconv.FormatUint(inode, 10)
}

// timerCell writes the Timer column: "retransmit(200ms,3)",
// "time-wait(59.2s,0)", or "-" when no timer runs.
func timerCell(s *sockets.Socket) string {
	if s.Timer == sockets.TimerNone {
		return "-"
	}
	d := time.Duration(s.TimerMs * float64(time.Millisecond))
	when := strconv.FormatInt(d.Milliseconds(), 10) + "ms"
	if d >= time.Second {
		when = strconv.FormatFloat(d.Seconds(), 'f', 1, 64) + "s"
	}
	return string(s.Timer) + "(" + when + "," + strconv.Itoa(s.Retransmits) + ")"
}

func printSocketSummary(opts *SocketsOptions, sum sockets.Summary, notes []string) error {
	if opts.Output.Format == output.FormatJSON {
		return output.PrintJSON(opts.IO.Out, summaryDoc{sum, notes})
	}
	t := summaryTable(sum)
	return t.Print(opts.IO, opts.Output.NoHeader)
}

// summaryDoc is the JSON of --summary.
type summaryDoc struct {
	sockets.Summary
	Notes []string `json:"notes"`
}

// summaryTable is sum as rows of protocol, state and count.
func summaryTable(sum sockets.Summary) output.Table {
	t := output.Table{Header: []string{"Proto", "State", "Sockets"}}
	for _, p := range sum.Protocols {
		for _, st := range p.States {
			t.Append(p.Proto, string(st.State), strconv.Itoa(st.Count))
		}
		t.Append(p.Proto, "total", strconv.Itoa(p.Total))
	}
	t.Append("all", "total", strconv.Itoa(sum.Total))
	return t
}

// minWatch is the shortest --watch interval.
const minWatch = 100 * time.Millisecond

// intervalValue is the --watch flag: seconds ("2", "0.5") or a Go
// duration ("500ms", "2s").
type intervalValue time.Duration

func (v *intervalValue) String() string { return time.Duration(*v).String() }
func (v *intervalValue) Type() string   { return "interval" }

func (v *intervalValue) Set(s string) error {
	d, err := parseInterval(s)
	if err != nil {
		return err
	}
	*v = intervalValue(d)
	return nil
}

// parseInterval reads seconds ("2", "0.5") or a Go duration ("500ms"); 0
// is no watching.
func parseInterval(s string) (time.Duration, error) {
	if f, err := strconv.ParseFloat(s, 64); err == nil && f >= 0 && f < 1e6 {
		return time.Duration(f * float64(time.Second)), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("invalid interval %q: want seconds (2, 0.5) or a duration (500ms)", s)
	}
	return d, nil
}

// socketsWatch lists every opts.Watch until opts.Count listings or
// Ctrl-C, which is a normal end.
func socketsWatch(ctx context.Context, opts *SocketsOptions) error {
	w := &socketsWatcher{opts: opts}
	if opts.Output.Format == output.FormatJSONL {
		w.lines = output.NewLines(opts.IO.Out)
	}
	tick := time.NewTicker(opts.Watch)
	defer tick.Stop()
	for n := 1; ; n++ {
		list, err := listSockets(ctx, opts)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return err
		}
		if err := w.frame(time.Now(), list); err != nil {
			return err
		}
		if opts.Count > 0 && n >= opts.Count {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// socketsWatcher prints the listings of --watch: on a terminal each one
// replaces the last, with a first column marking the sockets that are new
// (+), changed state or queues (~), or gone since (-), and the summary
// with each count's change; in a pipe each one after a "# TIME" line; as
// JSON lines one "listing" event each.
type socketsWatcher struct {
	opts  *SocketsOptions
	lines *output.Lines
	// prev is the last listing's sockets by socketKey; nil before the
	// first.
	prev map[string]sockets.Socket
	// prevCounts is the last summary's counts by "proto state".
	prevCounts map[string]int
	notesShown bool
}

// watchEvent is the JSON line of one listing.
type watchEvent struct {
	Time time.Time `json:"time"`
	// Sockets is the listing, [] when empty; nil (left out) with --summary.
	Sockets []sockets.Socket `json:"sockets,omitzero"`
	Summary *sockets.Summary `json:"summary,omitempty"`
	Notes   []string         `json:"notes"`
}

func (w *socketsWatcher) frame(now time.Time, list *sockets.Listing) error {
	opts := w.opts
	if w.lines != nil {
		ev := watchEvent{Time: now.UTC(), Sockets: list.Sockets, Notes: list.Notes}
		if opts.Summary {
			sum := sockets.Summarize(list.Sockets)
			ev.Sockets, ev.Summary = nil, &sum
		}
		return w.lines.Emit("listing", ev)
	}
	var t output.Table
	if opts.Summary {
		t = summaryTable(sockets.Summarize(list.Sockets))
	} else {
		t = socketsTable(opts, list.Sockets)
	}
	if !opts.IO.OutTTY {
		if !w.notesShown {
			printNotes(opts.IO, list.Notes)
			w.notesShown = true
		}
		opts.IO.Printf("# %s\n", now.Format(time.RFC3339))
		return t.Print(opts.IO, opts.Output.NoHeader)
	}
	var changes string
	if opts.Summary {
		changes = w.markCounts(&t)
	} else {
		changes = w.markSockets(&t, list.Sockets)
	}
	// Home, clear the screen, then the frame: the listing redrawn in place.
	opts.IO.ClearScreen()
	opts.IO.Printf("Every %s: netkit sockets, %s%s\n\n", opts.Watch, now.Format(time.TimeOnly), changes)
	if err := t.Print(opts.IO, opts.Output.NoHeader); err != nil {
		return err
	}
	for _, n := range list.Notes {
		opts.IO.Printf("note: %s\n", n)
	}
	return nil
}

// socketKey identifies a socket from one listing to the next.
func socketKey(s *sockets.Socket) string {
	return fmt.Sprintf("%s %s %s %d", s.Proto, s.Local, s.Remote, s.Inode)
}

// markSockets puts the +/- column first in t (whose rows are socks, in
// order), adds the rows of the sockets gone since the last listing, and
// says how many changed, for the frame's title: ", 3 sockets: 2 new, 0
// changed, 0 gone".
func (w *socketsWatcher) markSockets(t *output.Table, socks []sockets.Socket) string {
	cur := make(map[string]sockets.Socket, len(socks))
	added, changed := 0, 0
	t.Header = append([]string{"+/-"}, t.Header...)
	for i := range socks {
		s := &socks[i]
		k := socketKey(s)
		cur[k] = *s
		mark := ""
		if w.prev != nil {
			p, ok := w.prev[k]
			switch {
			case !ok:
				mark = "+"
				added++
			case p.State != s.State || p.RecvQ != s.RecvQ || p.SendQ != s.SendQ:
				mark = "~"
				changed++
			}
		}
		t.Rows[i] = append([]string{mark}, t.Rows[i]...)
	}
	var gone []sockets.Socket
	for k, p := range w.prev {
		if _, ok := cur[k]; !ok {
			gone = append(gone, p)
		}
	}
	slices.SortFunc(gone, func(a, b sockets.Socket) int { return strings.Compare(socketKey(&a), socketKey(&b)) })
	goneRows := socketsTable(w.opts, gone)
	for _, r := range goneRows.Rows {
		t.Append(append([]string{"-"}, r...)...)
	}
	first := w.prev == nil
	w.prev = cur
	if first {
		return ", " + units.Count(len(socks), "socket", "sockets")
	}
	return fmt.Sprintf(", %s: %d new, %d changed, %d gone", units.Count(len(socks), "socket", "sockets"), added, changed, len(gone))
}

// markCounts adds to a summary table the change of each count since the
// last listing.
func (w *socketsWatcher) markCounts(t *output.Table) string {
	cur := make(map[string]int, len(t.Rows))
	t.Header = append(t.Header, "Change")
	for i, r := range t.Rows {
		k := r[0] + " " + r[1]
		n, _ := strconv.Atoi(r[2])
		cur[k] = n
		change := ""
		if d := n - w.prevCounts[k]; w.prevCounts != nil && d != 0 {
			change = fmt.Sprintf("%+d", d)
		}
		t.Rows[i] = append(r, change)
	}
	for k, n := range w.prevCounts {
		if _, ok := cur[k]; !ok && n != 0 {
			proto, state, _ := strings.Cut(k, " ")
			t.Append(proto, state, "0", fmt.Sprintf("%+d", -n))
		}
	}
	w.prevCounts = cur
	return ""
}

// printNotes writes each note once on stderr, as netstat does when it
// cannot see every owner; JSON documents also carry them.
func printNotes(io *output.Streams, notes []string) {
	for _, n := range notes {
		io.Notef("%s", n)
	}
}

// formatAddr writes an address as netstat and lsof do, with "*" for an
// unspecified address or port: "127.0.0.1:65432", "[::1]:443", "*:22",
// "*:*".
func formatAddr(ap netip.AddrPort) string {
	host, port := "*", "*"
	if a := ap.Addr(); !a.IsUnspecified() {
		host = a.String()
		if a.Is6() {
			host = "[" + host + "]"
		}
	}
	if ap.Port() != 0 {
		port = strconv.Itoa(int(ap.Port()))
	}
	return host + ":" + port
}

// pidProgram is the PID/Program cell: "1234/nginx", or "-" when no
// process was found.
func pidProgram(pid int, program string) string {
	if pid == 0 {
		return "-"
	}
	return strconv.Itoa(pid) + "/" + program
}

// SocketsWhoOptions are the inputs of 'netkit sockets who'.
type SocketsWhoOptions struct {
	IO     *output.Streams
	Output output.Options
	// Port is the port asked about, or 0 when Path is.
	Port uint16
	// Path is the UNIX socket path (or "@name") asked about.
	Path string
}

// NewCmdSocketsWho returns 'netkit sockets who'. runF replaces
// socketsWhoRun in tests.
func NewCmdSocketsWho(io *output.Streams, runF func(context.Context, *SocketsWhoOptions) error) *cobra.Command {
	opts := &SocketsWhoOptions{IO: io}
	cmd := &cobra.Command{
		Use:   "who PORT|PATH",
		Short: "Show every process holding a TCP or UDP port or a UNIX socket, like 'lsof -i :PORT'",
		Long: `Who lists every process holding a TCP or UDP socket with PORT at either end,
with its user, descriptor and command line: the answer to "Address already
in use". PORT is a number or a service name from /etc/services, with or
without a leading colon (:53, as lsof and ss write it).

Given a UNIX socket PATH (starting with / or .) or abstract name (@name),
it lists the processes whose socket is bound to it (the listener and the
connections it accepted) and those connected to it: "who is listening on
/run/foo.sock?". A socket file with nothing bound to it is a leftover.

It exits 1 when nothing holds the port or path. Connections in TIME_WAIT
are held by no process; a note counts them.`,
		Example: `  netkit sockets who 8080
  netkit sockets who :53
  netkit sockets who ssh --json
  netkit sockets who /run/systemd/journal/stdout`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.Output.Resolve(); err != nil {
				return usageError(err)
			}
			if a := args[0]; strings.HasPrefix(a, "/") || strings.HasPrefix(a, ".") || strings.HasPrefix(a, "@") {
				opts.Path = a
			} else {
				p, err := resolve.ParsePort(strings.TrimPrefix(a, ":"), "")
				if err != nil {
					return usageError(err)
				}
				opts.Port = p
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return socketsWhoRun(cmd.Context(), opts)
		},
	}
	opts.Output.AddFlags(cmd.Flags(), false)
	return cmd
}

func socketsWhoRun(ctx context.Context, opts *SocketsWhoOptions) error {
	what := fmt.Sprintf("port %d", opts.Port)
	var rep *sockets.PortReport
	var err error
	if opts.Path != "" {
		what = "UNIX socket " + opts.Path
		rep, err = sockets.WhoHoldsPath(ctx, opts.Path)
	} else {
		rep, err = sockets.WhoHolds(ctx, opts.Port)
	}
	if err != nil {
		return fmt.Errorf("find holders of %s: %w", what, err)
	}
	printNotes(opts.IO, rep.Notes)
	if opts.Output.Format == output.FormatJSON {
		err = output.PrintJSON(opts.IO.Out, rep)
	} else if len(rep.Holders) > 0 {
		t := output.Table{Header: []string{"PID", "User", "Program", "FD", "Proto", "Local Address", "Foreign Address", "State", "Command"}}
		for _, h := range rep.Holders {
			pid, fd := "-", "-"
			if h.PID != 0 {
				pid, fd = strconv.Itoa(h.PID), strconv.Itoa(h.FD)
			}
			proto, local, remote := socketCells(&h.Socket, false)
			t.Append(pid, h.User, h.Program, fd, proto, local, remote, string(h.Socket.State),
				strings.Join(h.Cmdline, " "))
		}
		err = t.Print(opts.IO, opts.Output.NoHeader)
	}
	if err != nil {
		return err
	}
	if len(rep.Holders) == 0 {
		if opts.Path != "" {
			return checkFailed(fmt.Errorf("nothing holds %s (no UNIX socket is bound or connected to it)", what))
		}
		return checkFailed(fmt.Errorf("nothing holds %s (no TCP or UDP socket has it at either end)", what))
	}
	return nil
}
