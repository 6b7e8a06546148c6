package cli

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/netkit/netkit/internal/output"
	"github.com/netkit/netkit/resolve"
	"github.com/netkit/netkit/units"
)

// HostsOptions are the inputs of 'netkit hosts'.
type HostsOptions struct {
	IO     *output.Streams
	Output output.Options

	// File is the hosts file; empty means NETKIT_HOSTS_FILE or /etc/hosts.
	File string
	// Hostname is this machine's name, which should have a line.
	Hostname string
	// Name, when set, lists the lines that match it instead of checking.
	Name string
}

// NewCmdHosts returns 'netkit hosts'.
func NewCmdHosts(io *output.Streams, runF func(context.Context, *HostsOptions) error) *cobra.Command {
	opts := &HostsOptions{IO: io}
	cmd := &cobra.Command{
		Use:   "hosts [NAME]",
		Short: "Check the hosts file, or show which of its lines match a name",
		Long: `Hosts checks a hosts file the way glibc reads it and reports, per line:
addresses glibc cannot parse (the line is then ignored), names that are not
valid host names (often trailing junk such as a ';' comment), a name mapped to
two addresses of one family, repeated lines, localhost mapped anywhere but
127.0.0.1 or ::1 (an error off loopback, a warning elsewhere in 127.0.0.0/8),
and this machine's host name missing. It exits 1 when it finds problems.

With NAME it lists the lines that map that name, which lookups return each
line, and whose first address it is; lines that name it but that glibc
ignores (a malformed address) are listed as "ignored", with why on stderr. Since glibc 2.26 every line counts:
gethostbyname returns every IPv4 line in file order (getent hosts shows the
IPv6 lines instead when there are any), getaddrinfo (getent ahosts, most
programs) returns every line sorted by RFC 6724, and a program that uses one
address gets the first. Python's socket.gethostbyname is the first address of
getaddrinfo for IPv4 only. It exits 1 when no line has the name.`,
		Example: `  netkit hosts
  netkit hosts --file ./hosts.new
  netkit hosts localhost`,
		Args: rangeArgs(0, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.Output.Resolve(); err != nil {
				return usageError(err)
			}
			if len(args) == 1 {
				opts.Name = args[0]
				if err := resolve.CheckName(opts.Name); err != nil {
					return usageError(err)
				}
			}
			if opts.File == "" {
				opts.File = resolve.Default().HostsPath
			}
			if opts.File == "" {
				opts.File = resolve.DefaultHostsPath
			}
			if !cmd.Flags().Changed("hostname") {
				opts.Hostname, _ = os.Hostname()
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return hostsRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.File, "file", "", "hosts file to check (default /etc/hosts, or $NETKIT_HOSTS_FILE)")
	cmd.Flags().StringVar(&opts.Hostname, "hostname", "", "host name that should have a line (default: this machine's)")
	opts.Output.AddFlags(cmd.Flags(), false)
	return cmd
}

func hostsRun(ctx context.Context, opts *HostsOptions) error {
	hf, err := resolve.ReadHostsFileContext(ctx, opts.File)
	if err != nil {
		return err
	}
	if opts.Name != "" {
		return hostsMatches(opts, hf)
	}
	problems := hf.Check(resolve.CheckOptions{Hostname: opts.Hostname})
	if opts.Output.Format == output.FormatJSON {
		err = output.PrintJSON(opts.IO.Out, struct {
			File     string            `json:"file"`
			Lines    int               `json:"lines"`
			Entries  int               `json:"entries"`
			Problems []resolve.Problem `json:"problems"`
		}{opts.File, hf.Lines, len(hf.Entries), append([]resolve.Problem{}, problems...)})
	} else if len(problems) == 0 {
		opts.IO.Printf("%s: %s, %s, no problems found\n", opts.File, units.Count(hf.Lines, "line", "lines"), units.Count(len(hf.Entries), "entry", "entries"))
	} else {
		t := output.Table{Header: []string{"Line", "Severity", "Kind", "Problem"}}
		for _, p := range problems {
			line := "-"
			if p.Line > 0 {
				line = strconv.Itoa(p.Line)
			}
			t.Append(line, string(p.Severity), p.Kind, p.Message)
		}
		err = t.Print(opts.IO, opts.Output.NoHeader)
	}
	if err != nil {
		return err
	}
	if len(problems) > 0 {
		return checkFailed(nil)
	}
	return nil
}

// hostsMatch is one line that maps the asked name.
type hostsMatch struct {
	Line    int      `json:"line"`
	Address string   `json:"address"`
	Names   []string `json:"names"`
	// UsedBy lists the lookups that return this line's address: glibc
	// (since 2.26) returns every matching line, so "getaddrinfo" is on
	// every line and "gethostbyname" on every line with an IPv4 answer
	// (IPv4, IPv4-mapped, and ::1, which it returns as 127.0.0.1).
	UsedBy []string `json:"used_by"`
	// FirstFor lists the lookups whose first address is this line's, the one
	// a program that uses a single address gets: "gethostbyname" (file
	// order), "getaddrinfo" (any family, RFC 6724 order on this machine) and
	// "getaddrinfo(AF_INET)" (IPv4 only, as Python's socket.gethostbyname
	// asks).
	FirstFor []string `json:"first_for"`
}

func hostsMatches(opts *HostsOptions, hf *resolve.HostsFile) error {
	entries := hf.Mentions(opts.Name)
	byHostname := hf.Lookup(opts.Name, resolve.IPv4)
	// The order each lookup returns the lines in.
	orders := []struct {
		call    string
		matches []resolve.HostsMatch
	}{
		{"gethostbyname", byHostname},
		{"getaddrinfo", hf.LookupSorted(opts.Name, resolve.AnyFamily)},
		{"getaddrinfo(AF_INET)", hf.LookupSorted(opts.Name, resolve.IPv4)},
	}
	matches := make([]hostsMatch, 0, len(entries))
	for _, e := range entries {
		m := hostsMatch{Line: e.Line, Address: e.Address.String(), Names: e.Names, UsedBy: []string{"getaddrinfo"}, FirstFor: []string{}}
		if slices.ContainsFunc(byHostname, func(h resolve.HostsMatch) bool { return h.Line == e.Line }) {
			m.UsedBy = append(m.UsedBy, "gethostbyname")
		}
		for _, o := range orders {
			if len(o.matches) > 0 && o.matches[0].Line == e.Line {
				m.FirstFor = append(m.FirstFor, o.call)
			}
		}
		matches = append(matches, m)
	}
	ignored := hf.IgnoredMentions(opts.Name)
	for _, l := range ignored {
		opts.IO.Notef("line %d names %s, but glibc ignores it: %s", l.Line, opts.Name, l.Reason)
	}
	if opts.Output.Format == output.FormatJSON {
		if err := output.PrintJSON(opts.IO.Out, struct {
			File    string                `json:"file"`
			Name    string                `json:"name"`
			Matches []hostsMatch          `json:"matches"`
			Ignored []resolve.IgnoredLine `json:"ignored"`
		}{opts.File, opts.Name, matches, append([]resolve.IgnoredLine{}, ignored...)}); err != nil {
			return err
		}
	} else if len(matches)+len(ignored) > 0 {
		// The names come last, as in the hosts file, so that every other
		// column is one awk field.
		t := output.Table{Header: []string{"Line", "Address", "Used-by", "First-for", "Names"}}
		rows := map[int][]string{}
		for _, m := range matches {
			rows[m.Line] = []string{strconv.Itoa(m.Line), m.Address, strings.Join(m.UsedBy, ","), strings.Join(m.FirstFor, ","), strings.Join(m.Names, " ")}
		}
		for _, l := range ignored {
			rows[l.Line] = []string{strconv.Itoa(l.Line), l.Address, "ignored", "", strings.Join(l.Names, " ")}
		}
		for _, line := range slices.Sorted(maps.Keys(rows)) {
			t.Append(rows[line]...)
		}
		if err := t.Print(opts.IO, opts.Output.NoHeader); err != nil {
			return err
		}
	}
	if len(matches) == 0 {
		msg := fmt.Sprintf("%s: no line of %s maps this name", opts.Name, opts.File)
		if len(ignored) > 0 {
			msg += fmt.Sprintf(" (line %d names it, but glibc ignores that line)", ignored[0].Line)
		}
		return checkFailed(errors.New(msg))
	}
	return nil
}
