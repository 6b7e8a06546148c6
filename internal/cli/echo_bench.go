package cli

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/netkit/netkit/echo"
	"github.com/netkit/netkit/internal/output"
	"github.com/netkit/netkit/units"
)

// EchoBenchOptions are the inputs of 'netkit echo bench'.
type EchoBenchOptions struct {
	IO     *output.Streams
	Output output.Options
	Client echoClientFlags

	// Address is HOST:PORT.
	Address string
	// Conns, Messages, Duration, Size and PerConn are -c, -n, -d, --size
	// and --per-conn, as in echo.Bench.
	Conns, Messages, Size, PerConn int
	Duration                       time.Duration
}

// NewCmdEchoBench returns 'netkit echo bench'. runF replaces echoBenchRun in
// tests.
func NewCmdEchoBench(io *output.Streams, runF func(context.Context, *EchoBenchOptions) error) *cobra.Command {
	opts := &EchoBenchOptions{IO: io}
	cmd := &cobra.Command{
		Use:   "bench [flags] HOST[:PORT]",
		Short: "Load an echo server: messages/s, MB/s, handshakes/s and latency percentiles",
		Long: fmt.Sprintf(`Bench opens -c connections to an echo server (port %d unless given) and
on each sends messages of --size bytes one after the other, checking every echo,
until -n messages in all or for -d. With --per-conn N each connection is
closed and a new one opened every N messages, to measure handshakes.

While it runs it shows a progress line on a terminal (JSON lines with
--format jsonl); at the end, or on Ctrl-C, it prints messages/s, MB/s (the
content, counted once), handshakes/s with the time each took (TCP connect
and TLS handshake), round-trip latency p50/p90/p99/max, and errors by kind
(refused, reset, closed, timeout, tls, certificate, protocol, mismatch,
server_busy, …). Without -n or -d it sends 1000 messages.

The connection flags are those of 'netkit echo send'. A first connection
that fails ends the bench at once; later failures are counted.

Exit codes: 0 every message was echoed, 1 the first connection failed or
any message failed, 2 bad usage.`, echo.DefaultPort),
		Example: `  netkit echo bench --ca ~/.config/netkit/echo/cert.pem localhost
  netkit echo bench -c 50 -d 10s --size 1024 --pin sha256:3f5c… 127.0.0.1
  netkit echo bench -c 10 -n 10000 --per-conn 100 --insecure db.example:65432
  netkit echo bench --plaintext -c 500 -d 5s --json 127.0.0.1:9000`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.check(args); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return echoBenchRun(cmd.Context(), opts)
		},
	}
	fs := cmd.Flags()
	fs.IntVarP(&opts.Conns, "connections", "c", 1, "connections at once")
	fs.IntVarP(&opts.Messages, "messages", "n", 0, "messages to send in all (default 1000 when -d is not given)")
	fs.DurationVarP(&opts.Duration, "duration", "d", 0, "stop after this long (e.g. 10s)")
	fs.IntVar(&opts.Size, "size", 64, "content bytes per message, at least 1")
	fs.IntVar(&opts.PerConn, "per-conn", 0, "open a new connection every this many messages (0: keep each connection)")
	opts.Client.addFlags(fs, echo.DefaultTimeout)
	opts.Output.AddFlags(fs, true)
	return cmd
}

func (o *EchoBenchOptions) check(args []string) error {
	addr, err := echoTarget(&o.Output, args[0])
	if err != nil {
		return err
	}
	o.Address = addr
	switch {
	case o.Conns < 1:
		return usageErrorf("invalid -c %d: want at least 1 connection", o.Conns)
	case o.Messages < 0:
		return usageErrorf("invalid -n %d: want a positive number of messages", o.Messages)
	case o.Duration < 0:
		return usageErrorf("invalid -d %v: want a positive duration", o.Duration)
	case o.Size < 1:
		return usageErrorf("invalid --size %d: want at least 1 content byte per message", o.Size)
	case o.Size > o.Client.MaxSize:
		return usageErrorf("--size %d is larger than --max-size %d", o.Size, o.Client.MaxSize)
	case o.PerConn < 0:
		return usageErrorf("invalid --per-conn %d: want 0 or more", o.PerConn)
	}
	return nil
}

func echoBenchRun(ctx context.Context, o *EchoBenchOptions) error {
	opts, err := o.Client.options(ctx, o.IO)
	if err != nil {
		return err
	}
	b := &echo.Bench{
		Conns: o.Conns, Messages: o.Messages, Duration: o.Duration, Size: o.Size, PerConn: o.PerConn,
		Client: opts,
	}
	var lines *output.Lines
	switch {
	case o.Output.Format == output.FormatJSONL:
		lines = output.NewLines(o.IO.Out)
		b.Progress = func(p echo.BenchProgress) { lines.Emit("progress", p) }
	case o.IO.ErrTTY:
		b.Progress = func(p echo.BenchProgress) {
			o.IO.Status(fmt.Sprintf("%6.1fs  %s  %.0f msg/s  %s",
				p.ElapsedMs/1000, units.Count(int(p.Messages), "message", "messages"), p.MessagesPerSec, units.Count(int(p.Errors), "error", "errors")))
		}
	}
	res, err := b.Run(ctx, o.Address)
	o.IO.Status("")
	if err != nil {
		// The first connection failed: the documents say so too.
		if perr := printBenchJSON(o, lines, res); perr != nil {
			return perr
		}
		return checkFailed(fmt.Errorf("echo bench: %w", err)) // the error names the address
	}
	if o.Output.Format == output.FormatTable {
		err = echoBenchTable(res).Print(o.IO, o.Output.NoHeader)
	} else {
		err = printBenchJSON(o, lines, res)
	}
	if err != nil {
		return err
	}
	if res.ErrorCount > 0 {
		return checkFailed(fmt.Errorf("echo bench %s: %d of %d messages failed; the first: %s",
			o.Address, res.ErrorCount, res.ErrorCount+res.Messages, res.FirstError))
	}
	return nil
}

// printBenchJSON prints the result as the --json document or the jsonl
// result event, and nothing in the table format or without a result.
func printBenchJSON(o *EchoBenchOptions, lines *output.Lines, res *echo.BenchResult) error {
	switch {
	case res == nil:
	case o.Output.Format == output.FormatJSONL:
		return lines.Emit("result", res)
	case o.Output.Format == output.FormatJSON:
		return output.PrintJSON(o.IO.Out, res)
	}
	return nil
}

// echoBenchTable lays the result out as FIELD VALUE rows.
func echoBenchTable(r *echo.BenchResult) *output.Table {
	t := &output.Table{Header: []string{"FIELD", "VALUE"}}
	transport := "TLS"
	if !r.TLS {
		transport = "plain TCP"
	}
	t.Append("address", r.Address+" ("+transport+")")
	t.Append("connections", strconv.Itoa(r.Connections))
	t.Append("size", strconv.Itoa(r.Size)+" B")
	t.Append("elapsed", strconv.FormatFloat(r.ElapsedMs/1000, 'f', 2, 64)+" s")
	t.Append("messages", strconv.FormatInt(r.Messages, 10))
	t.Append("messages/s", strconv.FormatFloat(r.MessagesPerSec, 'f', 0, 64))
	t.Append("MB/s", strconv.FormatFloat(r.MBPerSec, 'f', 2, 64))
	t.Append("handshakes", fmt.Sprintf("%d (%.1f/s)", r.Handshakes, r.HandshakesPerSec))
	t.Append("handshake", latencyText(r.Handshake))
	t.Append("latency", latencyText(r.Latency))
	errs := "none"
	if r.ErrorCount > 0 {
		kinds := make([]string, 0, len(r.Errors))
		for k := range r.Errors {
			kinds = append(kinds, k)
		}
		slices.Sort(kinds)
		for i, k := range kinds {
			kinds[i] = fmt.Sprintf("%s %d", k, r.Errors[k])
		}
		errs = strings.Join(kinds, ", ")
	}
	t.Append("errors", errs)
	return t
}

func latencyText(l *echo.Latency) string {
	if l == nil {
		return "-"
	}
	return fmt.Sprintf("p50 %s  p90 %s  p99 %s  max %s", msText(l.P50Ms), msText(l.P90Ms), msText(l.P99Ms), msText(l.MaxMs))
}
