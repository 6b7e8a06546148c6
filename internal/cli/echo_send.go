package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/netkit/netkit/echo"
	"github.com/netkit/netkit/internal/output"
	"github.com/netkit/netkit/units"
)

// EchoSendOptions are the inputs of 'netkit echo send'.
type EchoSendOptions struct {
	IO     *output.Streams
	Output output.Options
	Client echoClientFlags

	// Address is HOST:PORT.
	Address string
	// Content is the MESSAGE argument, or stdin when there is none.
	Content []byte
	// Action, when set, sends a text/json request {"action", "value"}
	// with the content as value; empty echoes the content as binary.
	Action string
	// ContentType is the content type of a binary echo.
	ContentType string
}

// NewCmdEchoSend returns 'netkit echo send'. runF replaces echoSendRun in
// tests.
func NewCmdEchoSend(io *output.Streams, runF func(context.Context, *EchoSendOptions) error) *cobra.Command {
	opts := &EchoSendOptions{IO: io}
	cmd := &cobra.Command{
		Use:   "send [flags] HOST[:PORT] [MESSAGE]",
		Short: "Send a message to an echo server, check the echo and show the TLS session",
		Long: fmt.Sprintf(`Send connects to an echo server (port %d unless given), sends MESSAGE (or
stdin) and checks that the echo is the same bytes, then prints the round-trip
time and the TLS session: version, cipher, the server certificate's subject,
names, issuer and validity, and whether it verified.

--action sends a text/json request instead: "echo" with MESSAGE as the
value, "info" to see what the server sees of this client (address, TLS
version, SNI, ALPN, client certificate). Other actions get the server's
error reply.

The server's certificate is verified against the system's authorities, or
--ca FILE, or trusted by its fingerprint with --pin sha256:… (as 'echo serve'
prints it). When it does not verify, send says why: unknown authority, a
name the certificate does not have (and the names it has), or expiry (and
when). --insecure goes on regardless, and still says what it found.

Exit codes: 0 the echo came back unchanged (or info answered), 1 no
connection, a certificate or handshake failure, an error reply or a
different echo, 2 bad usage.`, echo.DefaultPort),
		Example: `  netkit echo send localhost hello
  echo hello | netkit echo send --ca ~/.config/netkit/echo/cert.pem 127.0.0.1:65432
  netkit echo send --pin sha256:3f5c… 127.0.0.1 hello
  netkit echo send --action info --cert client.pem --key client.key db.example:65432
  netkit echo send --plaintext --action echo 127.0.0.1:9000 hello`,
		Args: rangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.check(cmd.Context(), args); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return echoSendRun(cmd.Context(), opts)
		},
	}
	fs := cmd.Flags()
	opts.Client.addFlags(fs, echo.DefaultTimeout)
	fs.StringVar(&opts.Action, "action", "", "send a text/json request with this action (echo, info) instead of a binary echo")
	fs.StringVar(&opts.ContentType, "content-type", echo.ContentTypeBinary, "content type of the binary echo")
	opts.Output.AddFlags(fs, false)
	return cmd
}

func (o *EchoSendOptions) check(ctx context.Context, args []string) error {
	addr, err := echoTarget(&o.Output, args[0])
	if err != nil {
		return err
	}
	o.Address = addr
	switch {
	case o.Action != "" && o.ContentType != echo.ContentTypeBinary:
		return usageErrorf("--content-type is for binary echoes; --action sends %s", echo.ContentTypeJSON)
	case o.ContentType == echo.ContentTypeJSON:
		return usageErrorf("--content-type %s: use --action to send a JSON request", echo.ContentTypeJSON)
	case o.ContentType == "":
		return usageErrorf("--content-type is empty")
	case o.Action == "info" && len(args) == 2:
		return usageErrorf("--action info takes no MESSAGE")
	}
	switch {
	case len(args) == 2:
		o.Content = []byte(args[1])
	case o.Action != "info":
		if o.IO.InTTY {
			o.IO.Eprintf("netkit: reading the message from stdin (Ctrl-D to end)\n")
		}
		// Read one byte more than the limit to tell "too long" from "just fits".
		b, err := readAllContext(ctx, o.IO.In, int64(o.Client.MaxSize)+1)
		if ctx.Err() != nil {
			return fmt.Errorf("interrupted while reading the message from stdin: %w", ctx.Err())
		}
		if err != nil {
			return usageErrorf("read stdin: %v", err)
		}
		if len(b) > o.Client.MaxSize {
			return usageErrorf("stdin is longer than --max-size %d bytes", o.Client.MaxSize)
		}
		o.Content = b
	}
	if len(o.Content) > o.Client.MaxSize {
		return usageErrorf("MESSAGE is %d bytes, longer than --max-size %d", len(o.Content), o.Client.MaxSize)
	}
	if o.Action != "" && !utf8.Valid(o.Content) {
		return usageErrorf("the value of --action %s must be UTF-8 text", o.Action)
	}
	return nil
}

// echoSendResult is what 'echo send --json' prints. When the connection or
// the handshake failed, Session has the address asked for and nothing else,
// and Error says why.
type echoSendResult struct {
	Session echo.Session `json:"session"`
	// Action is the --action sent, empty for a binary echo.
	Action string `json:"action,omitempty"`
	// Bytes is the length of the content sent.
	Bytes int `json:"bytes"`
	// RTTMs is left out when no reply came.
	RTTMs float64 `json:"rtt_ms,omitempty"`
	// OK reports whether the echo came back unchanged, or the action was
	// answered without an error.
	OK bool `json:"ok"`
	// Info is the server's answer to --action info.
	Info *echo.PeerInfo `json:"info,omitempty"`
	// Result is the server's result for another action.
	Result json.RawMessage `json:"result,omitempty"`
	Error  string          `json:"error,omitempty"`
}

func echoSendRun(ctx context.Context, o *EchoSendOptions) error {
	opts, err := o.Client.options(ctx, o.IO)
	if err != nil {
		return err
	}
	res := echoSendResult{Session: echo.Session{Address: o.Address}, Action: o.Action, Bytes: len(o.Content)}
	conn, err := echo.Dial(ctx, o.Address, opts)
	if err != nil {
		// --json still prints a document: where it tried, and why it failed.
		res.Error = err.Error()
		if o.Output.Format == output.FormatJSON {
			if perr := output.PrintJSON(o.IO.Out, res); perr != nil {
				return perr
			}
		}
		return checkFailed(fmt.Errorf("echo send: %w", err)) // the error names the address
	}
	defer conn.Close()
	res.Session = conn.Session()
	var rtt time.Duration
	switch o.Action {
	case "":
		rtt, err = conn.Echo(ctx, o.ContentType, o.Content)
	case "echo":
		rtt, err = conn.EchoValue(ctx, string(o.Content))
	case "info":
		var info echo.PeerInfo
		if info, rtt, err = conn.Info(ctx); err == nil {
			res.Info = &info
		}
	default:
		res.Result, rtt, err = conn.Action(ctx, o.Action, string(o.Content))
	}
	res.RTTMs, res.OK = units.Millis(rtt), err == nil
	if err != nil {
		res.Error = err.Error()
	}
	var perr error
	if o.Output.Format == output.FormatJSON {
		perr = output.PrintJSON(o.IO.Out, res)
	} else {
		perr = echoSendTable(res).Print(o.IO, o.Output.NoHeader)
	}
	if err != nil {
		return checkFailed(fmt.Errorf("echo send %s: %w", o.Address, err))
	}
	return perr
}

// echoSendTable lays the result out as FIELD VALUE rows.
func echoSendTable(r echoSendResult) *output.Table {
	t := &output.Table{Header: []string{"FIELD", "VALUE"}}
	s := r.Session
	t.Append("address", s.Address)
	t.Append("connect", msText(s.ConnectMs))
	if s.TLS == nil {
		t.Append("tls", "none (plain TCP)")
	} else {
		tl := s.TLS
		t.Append("tls", tl.Version+", "+tl.CipherSuite)
		t.Append("handshake", msText(tl.HandshakeMs))
		if tl.SNI == "" {
			t.Append("server_name", "- (IP: no SNI sent)")
		} else {
			t.Append("server_name", tl.SNI)
		}
		t.Append("alpn", tl.ALPN)
		if len(tl.Chain) > 0 {
			c := tl.Chain[0]
			t.Append("subject", c.Subject)
			t.Append("sans", strings.Join(c.SANs, ", "))
			t.Append("issuer", c.Issuer)
			t.Append("valid", c.NotBefore.Format(time.RFC3339)+" to "+c.NotAfter.Format(time.RFC3339))
			t.Append("sha256", c.SHA256)
			if len(tl.Chain) > 1 {
				t.Append("chain", strconv.Itoa(len(tl.Chain))+" certificates, then issued by "+tl.Chain[len(tl.Chain)-1].Issuer)
			}
		}
		switch {
		case tl.Verified && tl.VerifiedBy == "pin":
			t.Append("verified", "yes, by the pinned fingerprint")
		case tl.Verified:
			t.Append("verified", "yes, by a trusted authority")
		default:
			t.Append("verified", "NO: "+tl.VerifyErrorText)
		}
		if tl.WeakKey != "" {
			t.Append("weak_key", "WARNING: "+tl.WeakKey)
		}
	}
	if info := r.Info; info != nil {
		t.Append("seen_from", net.JoinHostPort(info.RemoteAddr, strconv.Itoa(info.RemotePort)))
		t.Append("seen_at", net.JoinHostPort(info.LocalAddr, strconv.Itoa(info.LocalPort)))
		if info.TLS {
			t.Append("seen_tls", info.TLSVersion+", "+info.CipherSuite)
			t.Append("seen_sni", info.ServerName)
			t.Append("seen_alpn", info.ALPN)
			t.Append("seen_client_cert", info.ClientCertificate)
		}
	}
	if r.Result != nil {
		t.Append("result", string(r.Result))
	}
	switch {
	case r.Error != "":
		t.Append("check", "FAILED: "+r.Error)
	case r.Action == "" || r.Action == "echo":
		t.Append("check", fmt.Sprintf("ok: %s echoed unchanged", units.Count(r.Bytes, "byte", "bytes")))
	default:
		t.Append("check", "ok")
	}
	t.Append("rtt", msText(r.RTTMs))
	return t
}

// readAllContext reads r to its end, at most limit bytes, and returns at
// once when ctx ends (Ctrl-C): a read of a terminal cannot be interrupted,
// so it is left to end with the process.
func readAllContext(ctx context.Context, r io.Reader, limit int64) ([]byte, error) {
	type result struct {
		b   []byte
		err error
	}
	done := make(chan result, 1)
	go func() {
		b, err := io.ReadAll(io.LimitReader(r, limit))
		done <- result{b, err}
	}()
	select {
	case res := <-done:
		return res.b, res.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
