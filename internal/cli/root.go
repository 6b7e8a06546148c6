// Package cli builds netkit's command tree. Each command lives in its own
// file as an XOptions struct, a NewCmdX constructor and an xRun function:
// RunE parses and checks flags, xRun calls a domain package (diag, resolve,
// echo) and hands the result to internal/output. Exit codes are decided once,
// in exit.go.
package cli

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/netkit/netkit/internal/output"
	"github.com/netkit/netkit/units"
)

// version is set at build time with
// -ldflags "-X github.com/netkit/netkit/internal/cli.version=v1.2.3".
var version = ""

// Version returns netkit's version: the one set at build time, else the
// module version recorded in the binary ("devel" for a build from a work
// tree), then the VCS revision it was built from when the build recorded it
// (go build -buildvcs=true, the default in a git checkout unless GOFLAGS
// says otherwise) and the Go version.
func Version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return cmp.Or(version, "devel")
	}
	v := version
	if v == "" && bi.Main.Version != "(devel)" {
		v = bi.Main.Version
	}
	v = cmp.Or(v, "devel")
	var rev, modified string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value[:min(12, len(s.Value))]
		case "vcs.modified":
			if s.Value == "true" {
				modified = ", modified"
			}
		}
	}
	if rev != "" {
		return fmt.Sprintf("%s (rev %s%s; %s)", v, rev, modified, bi.GoVersion)
	}
	return fmt.Sprintf("%s (%s)", v, bi.GoVersion)
}

const rootLong = `netkit troubleshoots network connections: the one binary to reach for when
"it doesn't connect". It does in one place, with one output style, what ping,
ss/netstat, lsof, getent/dig, a look at /etc/hosts and openssl s_client do.

Every command prints a table for people (plain columns when piped) and one
JSON document with --json.

Exit codes:
  0  the command did its job and the check passed
  1  the check found a problem or got no answer (no reply, no such host,
     nothing holds the port, a hosts file with problems)
  2  bad usage or input, or a system error that kept the check from running`

// NewRootCmd returns the netkit command with all its subcommands.
func NewRootCmd(io *output.Streams) *cobra.Command {
	root := &cobra.Command{
		Use:           "netkit",
		Short:         "Troubleshoot network connections: resolve, ping, sockets, TLS echo, diagnose",
		Long:          rootLong,
		Version:       Version(),
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	root.SetIn(io.In)
	root.SetOut(io.Out)
	root.SetErr(io.ErrOut)
	root.SetVersionTemplate("netkit version {{.Version}}\n")
	root.InitDefaultVersionFlag() // now, so that docs/commands list --version
	color := string(output.ColorAuto)
	root.PersistentFlags().StringVar(&color, "color", color, "when to colour the output: auto (a terminal, unless NO_COLOR is set), always, never")
	root.PersistentPreRunE = func(*cobra.Command, []string) error {
		if err := io.SetColor(output.ColorMode(color)); err != nil {
			return usageError(err)
		}
		return nil
	}
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageErrorf("%s (see '%s --help')", err, c.CommandPath())
	})
	root.AddCommand(
		NewCmdExplain(io, nil),
		NewCmdHosts(io, nil),
		withNetns(NewCmdResolve(io, nil)),
		withNetns(NewCmdPing(io, nil)),
		withNetns(NewCmdTrace(io, nil)),
		NewCmdSockets(io, nil),
		NewCmdEcho(io),
		withNetns(NewCmdDiagnose(io, nil)),
		NewCmdExporter(io, nil),
	)
	return root
}

// Execute runs the command line args (without the program name) and returns
// the exit code. SIGINT and SIGTERM cancel the command's context: ping and
// bench then print their summary and end normally. Only the first signal is
// caught: a second one, while a server drains, ends the process at once.
func Execute(io *output.Streams, args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	context.AfterFunc(ctx, stop)
	return run(ctx, io, args)
}

func run(ctx context.Context, io *output.Streams, args []string) int {
	root := NewRootCmd(io)
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	if err != nil && !isCLIError(err) && cmd != nil && !cmd.Runnable() {
		// An unknown subcommand or a bare group: cobra's own usage errors,
		// with its suggestion of a command on a line of its own.
		msg, suggestion, _ := strings.Cut(err.Error(), "\n\nDid you mean this?\n")
		ce := &cliError{code: exitError, usage: true, err: fmt.Errorf("%s (see '%s --help')", msg, cmd.CommandPath())}
		if s := strings.Fields(suggestion); len(s) > 0 {
			ce.hint = "did you mean: " + strings.Join(s, ", ")
		}
		err = ce
	}
	return exitCode(err, io)
}

func isCLIError(err error) bool {
	var ce *cliError
	return errors.As(err, &ce)
}

// exactArgs accepts exactly n arguments; its error, a usage error (exit 2),
// says how many the command takes and shows its usage line.
func exactArgs(n int) cobra.PositionalArgs {
	return rangeArgs(n, n)
}

// rangeArgs accepts lo to hi arguments, as exactArgs.
func rangeArgs(lo, hi int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) >= lo && len(args) <= hi {
			return nil
		}
		var want string
		switch {
		case lo == hi && lo == 0:
			want = "no arguments"
		case lo == hi:
			want = units.Count(lo, "argument", "arguments")
		case len(args) < lo:
			want = "at least " + units.Count(lo, "argument", "arguments")
		default:
			want = "at most " + units.Count(hi, "argument", "arguments")
		}
		name := strings.TrimPrefix(cmd.CommandPath(), cmd.Root().Name()+" ")
		return usageErrorf("%s takes %s, got %d (usage: %s)", name, want, len(args), cmd.UseLine())
	}
}
