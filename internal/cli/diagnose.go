package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/netkit/netkit/diag"
	"github.com/netkit/netkit/internal/output"
	"github.com/netkit/netkit/resolve"
)

// DiagnoseOptions are the inputs of 'netkit diagnose'.
type DiagnoseOptions struct {
	IO     *output.Streams
	Output output.Options

	Diagnose diag.Options
	Family   familyFlags
	Client   echoClientFlags
	// TLS is --tls: require TLS whatever the port.
	TLS bool
}

// NewCmdDiagnose returns 'netkit diagnose'.
func NewCmdDiagnose(io *output.Streams, runF func(context.Context, *DiagnoseOptions) error) *cobra.Command {
	opts := &DiagnoseOptions{IO: io}
	cmd := &cobra.Command{
		Use:   "diagnose HOST:PORT",
		Short: "Walk the whole path to a service and say where it breaks",
		Long: `Diagnose checks, in order and each step timed:

  hosts    does a hosts file line map the name (which), is a line meant for it
           broken, does it shadow DNS?
  resolve  every address of the name, and where each came from
  ping     ICMP to each address (no reply is a warning: firewalls drop ICMP)
  connect  a TCP connect to every address at once, IPv6 and IPv4, as happy
           eyeballs would; a banner or an immediate reset right after it
  listen   when the target is this machine: what listens on the port, on
           which addresses, and is its accept queue full?
  tls      the handshake (with --tls, on the usual TLS ports, or when the
           service waits for the client): version, cipher, and whether the
           certificate verified, or exactly why not
  echo     with a netkit echo server: an info round trip and what it sees

It stops at the first hard failure, runs the independent checks anyway, and
prints one line per step (✓ ok, ! warning, ✗ failure, - not checked) with the
likely cause and the next thing to try under each failure. It exits 0 when the
path works end to end and 1 when a step fails. Ctrl-C ends the walk: the steps
not run are not checked, and it exits 1 if a step had failed, else 2.`,
		Example: `  netkit diagnose localhost:65432
  netkit diagnose --tls --ca ./ca.pem --cert me.pem --key me-key.pem db.internal:5432
  netkit diagnose 127.0.0.1 8080 --json`,
		Args: rangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.Output.Resolve(); err != nil {
				return usageError(err)
			}
			if err := opts.parse(cmd.Context(), args); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return diagnoseRun(cmd.Context(), opts)
		},
	}
	f := cmd.Flags()
	opts.Family.addFlags(f)
	f.BoolVar(&opts.TLS, "tls", false, "require TLS on this port")
	opts.Client.addFlags(f, diag.DefaultTimeout)
	f.IntVarP(&opts.Diagnose.PingCount, "count", "c", 3, "ICMP echo requests per address")
	opts.Output.AddFlags(f, true)
	return cmd
}

// parse reads HOST:PORT (or HOST PORT) and the flags.
func (opts *DiagnoseOptions) parse(ctx context.Context, args []string) error {
	target := strings.Join(args, " ")
	host, port, _, err := splitHostPort(args[0], 0)
	if len(args) == 2 && err == nil && port == 0 {
		port, err = resolve.ParsePort(args[1], "tcp")
	}
	switch {
	case err != nil:
		return usageErrorf("invalid target %q: %w", target, err)
	case port == 0 || len(args) == 2 && strings.Contains(args[0], "]:"):
		return usageErrorf("invalid target %q: want HOST:PORT ([::1]:443 for IPv6) or HOST PORT", target)
	case host == "":
		return usageErrorf("invalid target %q: the host is empty", target)
	}
	if err := resolve.CheckName(host); err != nil && !resolve.IsNumericHost(host) {
		return usageError(err)
	}
	d := &opts.Diagnose
	d.Host, d.Port = host, port
	if d.Family, err = opts.Family.family(); err != nil {
		return err
	}
	if d.Client, err = opts.Client.options(ctx, opts.IO); err != nil {
		return err
	}
	switch {
	case opts.TLS && opts.Client.Plaintext:
		return usageErrorf("--tls and --plaintext cannot be used together")
	case opts.TLS:
		d.TLS = diag.TLSOn
	}
	if d.PingCount < 1 || d.PingCount > 100 {
		return usageErrorf("invalid --count %d: from 1 to 100", d.PingCount)
	}
	return nil
}

func diagnoseRun(ctx context.Context, opts *DiagnoseOptions) error {
	out := opts.IO.Out
	target := net.JoinHostPort(opts.Diagnose.Host, strconv.Itoa(int(opts.Diagnose.Port)))
	switch opts.Output.Format {
	case output.FormatJSONL:
		lines := output.NewLines(out)
		opts.Diagnose.OnStep = func(s diag.Step) { lines.Emit("step", s) }
	case output.FormatTable:
		opts.IO.Printf("netkit diagnose %s\n", target)
		opts.Diagnose.OnStep = func(s diag.Step) { printStep(opts.IO, s) }
	}
	rep, err := diag.Diagnose(ctx, opts.Diagnose)
	if err != nil {
		var ie *resolve.InputError
		if errors.As(err, &ie) {
			return usageError(err)
		}
		return err
	}
	switch opts.Output.Format {
	case output.FormatJSON:
		if err := output.PrintJSON(out, rep); err != nil {
			return err
		}
	case output.FormatJSONL:
		if err := output.NewLines(out).Emit("report", struct {
			Host        string        `json:"host"`
			Port        uint16        `json:"port"`
			OK          bool          `json:"ok"`
			FailedStep  diag.StepName `json:"failed_step,omitempty"`
			Interrupted bool          `json:"interrupted"`
			Proven      diag.Layer    `json:"proven"`
			ElapsedMS   float64       `json:"elapsed_ms"`
		}{rep.Host, rep.Port, rep.OK, rep.FailedStep, rep.Interrupted, rep.Proven, rep.ElapsedMS}); err != nil {
			return err
		}
	default:
		opts.IO.Println(verdict(rep))
	}
	switch {
	case rep.FailedStep != "":
		return checkFailed(nil)
	case rep.Interrupted:
		// Stopped before any step failed: nothing was found, nothing proven.
		return &cliError{code: exitError}
	}
	return nil
}

// marks are the checklist symbols and their colours.
var marks = map[diag.Status]struct {
	sym   string
	style output.Style
}{
	diag.StatusOK:   {"✓", output.OK},
	diag.StatusWarn: {"!", output.Warn},
	diag.StatusFail: {"✗", output.Fail},
	diag.StatusSkip: {"-", output.Dim},
}

// printStep writes one checklist line, its details, and the cause and next
// step when the step has them: a failure, a warning, or a step not checked
// for a reason the user can fix (ICMP not permitted).
func printStep(io *output.Streams, s diag.Step) {
	m := marks[s.Status]
	io.Printf("%s %-8s %s  (%s)\n", io.Paint(m.style, m.sym), s.Name, s.Summary, formatDuration(s.DurationMS))
	const indent = "           "
	for _, d := range s.Details {
		io.Printf("%s%s\n", indent, d)
	}
	if ex := s.Explanation; ex != nil {
		printExplanation(io.Printf, indent, *ex)
	}
}

func verdict(rep *diag.Report) string {
	switch {
	case rep.FailedStep != "" && rep.Interrupted:
		return fmt.Sprintf("The path breaks at the %s step (interrupted before the later steps ran).", rep.FailedStep)
	case rep.FailedStep != "":
		return fmt.Sprintf("The path breaks at the %s step.", rep.FailedStep)
	case rep.Interrupted:
		return "Interrupted: the path was not checked to the end."
	}
	took := formatDuration(rep.ElapsedMS)
	unverified := ""
	if rep.TLS != nil && !rep.TLS.Verified {
		unverified = ", over TLS whose certificate was not verified (--insecure)"
	}
	switch rep.Proven {
	case diag.LayerEcho:
		return fmt.Sprintf("The path works end to end (%s)%s.", took, unverified)
	case diag.LayerTLS:
		return fmt.Sprintf("TCP and TLS work (%s)%s; the service is not a netkit echo server, so nothing above TLS was checked.", took, unverified)
	case diag.LayerTCP:
		return fmt.Sprintf("TCP works (%s); nothing above it was proven: see the steps marked ! or -.", took)
	}
	return fmt.Sprintf("Nothing was proven to work (%s).", took)
}

func formatDuration(ms float64) string {
	if ms >= 1000 {
		return fmt.Sprintf("%.2f s", ms/1000)
	}
	return msText(ms)
}
