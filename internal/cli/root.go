// Package cli builds netkit's command tree. Each command lives in its own
// file as an XOptions struct, a NewCmdX constructor and an xRun function:
// RunE parses and checks flags, xRun calls a domain package (diag, resolve,
// echo) and hands the result to internal/output. Exit codes are decided once,
// in exit.go.
package cli

import (
	"context"
	"errors"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/netkit/netkit/internal/output"
)

// version is set at build time with
// -ldflags "-X github.com/netkit/netkit/internal/cli.version=v1.2.3".
var version = ""

// Version returns netkit's version: the one set at build time, else the
// module version recorded in the binary, else "dev".
func Version() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
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
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageErrorf("%s (see '%s --help')", err, c.CommandPath())
	})
	root.AddCommand(
		NewCmdExplain(io, nil),
		NewCmdHosts(io, nil),
		NewCmdResolve(io, nil),
		NewCmdPing(io, nil),
		NewCmdTrace(io, nil),
		NewCmdSockets(io, nil),
		NewCmdEcho(io),
		NewCmdDiagnose(io, nil),
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
		// An unknown subcommand or a bare group: cobra's own usage errors.
		err = usageErrorf("%s (see '%s --help')", err, cmd.CommandPath())
	}
	return exitCode(err, io.ErrOut)
}

func isCLIError(err error) bool {
	var ce *cliError
	return errors.As(err, &ce)
}

// exactArgs is cobra.ExactArgs with netkit's usage error (exit 2).
func exactArgs(n int) cobra.PositionalArgs {
	return wrapArgs(cobra.ExactArgs(n))
}

// rangeArgs is cobra.RangeArgs with netkit's usage error (exit 2).
func rangeArgs(lo, hi int) cobra.PositionalArgs {
	return wrapArgs(cobra.RangeArgs(lo, hi))
}

// minArgs is cobra.MinimumNArgs with netkit's usage error (exit 2).
func minArgs(n int) cobra.PositionalArgs {
	return wrapArgs(cobra.MinimumNArgs(n))
}

func wrapArgs(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := check(cmd, args); err != nil {
			return usageErrorf("%s (see '%s --help')", err, cmd.CommandPath())
		}
		return nil
	}
}
