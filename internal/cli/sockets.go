package cli

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/netkit/netkit/diag/sockets"
	"github.com/netkit/netkit/internal/output"
	"github.com/netkit/netkit/resolve"
)

// SocketsOptions are the inputs of 'netkit sockets'.
type SocketsOptions struct {
	IO     *output.Streams
	Output output.Options
	// Query is what to list, filled from the flags by RunE.
	Query sockets.Query
	// Summary prints counts per protocol and state instead of sockets.
	Summary bool

	states []string
	port   string
}

// NewCmdSockets returns 'netkit sockets' and its 'who' subcommand. runF
// replaces socketsRun in tests.
func NewCmdSockets(io *output.Streams, runF func(*SocketsOptions) error) *cobra.Command {
	opts := &SocketsOptions{IO: io}
	cmd := &cobra.Command{
		Use:   "sockets",
		Short: "List TCP and UDP sockets with their state, queues and owning process",
		Long: `Sockets lists the TCP and UDP sockets of this machine, as 'netstat -tuanp'
and 'ss -tuanp' do: protocol, receive and send queues, local and foreign
address, state and the process holding each one. Addresses are numeric
unless --resolve is given; a wildcard address or port is "*".

Filters combine: '-t -l --port 8080' lists TCP listeners on port 8080.
States are named as netstat or ss name them, in any case, with or without
dashes: listen, established (estab), syn-sent, syn-recv, fin-wait-1,
fin-wait-2, time-wait, close, close-wait, last-ack, closing, and unconn for
UDP sockets with no peer.

Sockets whose owner cannot be seen are listed with "-" as PID/Program, and
a note says why: other users' processes when not run as root, a process in
another PID namespace (a container), or the kernel. Connections in
TIME_WAIT are held by no process: they show "-" without a note.

'netkit sockets --summary' counts sockets per protocol and state, like
'ss -s'. 'netkit sockets who PORT' answers "Address already in use".`,
		Example: `  netkit sockets -l                  # what is listening?
  netkit sockets -t --port 65432      # TCP sockets on port 65432, either end
  netkit sockets --state time-wait --summary
  netkit sockets --program nginx --json
  netkit sockets who 8080`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageErrorf("unexpected argument %q: '%s' takes only flags (did you mean '%s who %s'?)",
					args[0], cmd.CommandPath(), cmd.CommandPath(), args[0])
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.Output.Resolve(); err != nil {
				return usageError(err)
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
			opts.Query.SkipOwners = opts.Summary
			if runF != nil {
				return runF(opts)
			}
			return socketsRun(cmd, opts)
		},
	}
	fs := cmd.Flags()
	fs.BoolVarP(&opts.Query.TCP, "tcp", "t", false, "TCP sockets (with -u: both; neither: both)")
	fs.BoolVarP(&opts.Query.UDP, "udp", "u", false, "UDP sockets")
	fs.BoolVarP(&opts.Query.IPv4, "ipv4", "4", false, "IPv4 sockets (with -6: both; neither: both)")
	fs.BoolVarP(&opts.Query.IPv6, "ipv6", "6", false, "IPv6 sockets")
	fs.BoolVarP(&opts.Query.Listening, "listen", "l", false, "only sockets waiting for peers: TCP LISTEN and unconnected UDP")
	fs.StringArrayVar(&opts.states, "state", nil, "only sockets in these states, comma-separated (listen,time-wait,...)")
	fs.StringVar(&opts.port, "port", "", "only sockets with this port (number or service name) at either end")
	fs.IntVar(&opts.Query.PID, "pid", 0, "only sockets held by this process")
	fs.StringVar(&opts.Query.Program, "program", "", "only sockets held by a process of this name")
	fs.BoolVarP(&opts.Query.Names, "resolve", "r", false, "show host and service names instead of numbers")
	fs.BoolVarP(&opts.Summary, "summary", "s", false, "count sockets per protocol and state, like 'ss -s'")
	opts.Output.AddFlags(fs, false)
	cmd.AddCommand(NewCmdSocketsWho(io, nil))
	return cmd
}

// socketsHeader is the header of the listing, as netstat and ss name the
// columns.
var socketsHeader = []string{"Proto", "Recv-Q", "Send-Q", "Local Address", "Foreign Address", "State", "PID/Program"}

func socketsRun(cmd *cobra.Command, opts *SocketsOptions) error {
	list, err := sockets.List(cmd.Context(), opts.Query)
	if err != nil {
		return fmt.Errorf("list sockets: %w", err)
	}
	printNotes(opts.IO, list.Notes)
	if opts.Summary {
		return printSocketSummary(opts, sockets.Summarize(list.Sockets), list.Notes)
	}
	if opts.Output.Format == output.FormatJSON {
		return output.PrintJSON(opts.IO.Out, list)
	}
	t := output.Table{Header: socketsHeader, Rows: make([][]string, 0, len(list.Sockets))}
	for i := range list.Sockets {
		s := &list.Sockets[i]
		local, remote := s.LocalName, s.RemoteName
		if !opts.Query.Names {
			local, remote = formatAddr(s.Local), formatAddr(s.Remote)
		}
		t.Append(s.Proto, strconv.Itoa(s.RecvQ), strconv.Itoa(s.SendQ), local, remote, string(s.State), pidProgram(s.PID, s.Program))
	}
	return t.Print(opts.IO, opts.Output.NoHeader)
}

func printSocketSummary(opts *SocketsOptions, sum sockets.Summary, notes []string) error {
	if opts.Output.Format == output.FormatJSON {
		return output.PrintJSON(opts.IO.Out, struct {
			sockets.Summary
			Notes []string `json:"notes"`
		}{sum, notes})
	}
	t := output.Table{Header: []string{"Proto", "State", "Sockets"}}
	for _, p := range sum.Protocols {
		for _, st := range p.States {
			t.Append(p.Proto, string(st.State), strconv.Itoa(st.Count))
		}
		t.Append(p.Proto, "total", strconv.Itoa(p.Total))
	}
	t.Append("all", "total", strconv.Itoa(sum.Total))
	return t.Print(opts.IO, opts.Output.NoHeader)
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
	Port   uint16
}

// NewCmdSocketsWho returns 'netkit sockets who'. runF replaces
// socketsWhoRun in tests.
func NewCmdSocketsWho(io *output.Streams, runF func(*SocketsWhoOptions) error) *cobra.Command {
	opts := &SocketsWhoOptions{IO: io}
	cmd := &cobra.Command{
		Use:   "who PORT",
		Short: "Show every process holding a TCP or UDP port, like 'lsof -i :PORT'",
		Long: `Who lists every process holding a TCP or UDP socket with PORT at either end,
with its user, descriptor and command line: the answer to "Address already
in use". PORT is a number or a service name from /etc/services.

It exits 1 when nothing holds the port. Connections in TIME_WAIT are held by
no process; a note counts them.`,
		Example: `  netkit sockets who 8080
  netkit sockets who ssh --json`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.Output.Resolve(); err != nil {
				return usageError(err)
			}
			p, err := resolve.ParsePort(args[0], "")
			if err != nil {
				return usageError(err)
			}
			opts.Port = p
			if runF != nil {
				return runF(opts)
			}
			return socketsWhoRun(cmd, opts)
		},
	}
	opts.Output.AddFlags(cmd.Flags(), false)
	return cmd
}

func socketsWhoRun(cmd *cobra.Command, opts *SocketsWhoOptions) error {
	rep, err := sockets.WhoHolds(cmd.Context(), opts.Port)
	if err != nil {
		return fmt.Errorf("find holders of port %d: %w", opts.Port, err)
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
			s := h.Socket
			t.Append(pid, h.User, h.Program, fd, s.Proto, formatAddr(s.Local), formatAddr(s.Remote), string(s.State),
				strings.Join(h.Cmdline, " "))
		}
		err = t.Print(opts.IO, opts.Output.NoHeader)
	}
	if err != nil {
		return err
	}
	if len(rep.Holders) == 0 {
		return checkFailed(fmt.Errorf("nothing holds port %d (no TCP or UDP socket has it at either end)", opts.Port))
	}
	return nil
}
