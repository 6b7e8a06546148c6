package cli

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/netkit/netkit/echo"
	"github.com/netkit/netkit/internal/output"
	"github.com/netkit/netkit/resolve"
)

// EchoServeOptions are the inputs of 'netkit echo serve'.
type EchoServeOptions struct {
	IO   *output.Streams
	JSON bool

	Listen string
	// Cert and Key are the server's own certificate; empty makes a
	// self-signed one in CertDir (empty: echo.DefaultCertDir).
	Cert, Key, CertDir string
	// ClientCA, when set, requires client certificates signed by it.
	ClientCA  string
	Plaintext bool
	Raw       bool
	ALPN      []string

	HandshakeTimeout, IdleTimeout, MessageTimeout, DrainTimeout time.Duration
	MaxHeader, MaxSize, MaxConns, MaxConnsPerAddr               int
	MaxMemory                                                   int64
	MinRawRate                                                  float64
	LogFormat                                                   string
}

// NewCmdEchoServe returns 'netkit echo serve'. runF replaces echoServeRun in
// tests.
func NewCmdEchoServe(io *output.Streams, runF func(context.Context, *EchoServeOptions) error) *cobra.Command {
	opts := &EchoServeOptions{IO: io}
	cmd := &cobra.Command{
		Use:   "serve [flags]",
		Short: "Serve the echo protocol over TLS (or plain TCP) to many clients",
		Long: `Serve echoes messages to many concurrent clients, over TLS unless
--plaintext. Binary content comes back byte for byte; text/json requests
{"action": "echo"|"info", "value": …} are answered {"result": …}; "info"
says what the server sees of the client (address, TLS version, cipher, SNI,
ALPN, client certificate). A client is read as frames when its third byte
is '{' (two bytes of header length, then the JSON header); any other client,
and one that sends fewer than three bytes, is text and is echoed raw, so
'openssl s_client' and 'ncat --ssl' work; --raw echoes every client raw.

Without --cert/--key it makes a self-signed ECDSA certificate for localhost,
127.0.0.1, ::1 and the host name, keeps it in --cert-dir (default
$XDG_CONFIG_HOME/netkit/echo, else ~/.config/netkit/echo; the key is mode
0600), reuses it while it is valid (not if its key has become readable by
other users, as ssh refuses such keys), and prints its SHA-256 fingerprint
for 'netkit echo send --pin'. A --cert that has expired gets a warning.
--client-ca requires client certificates (mutual TLS).

A peer cannot get around the limits: handshake, idle and message timeouts
(each may run over by an eighth), the header and content size limits
(--max-header, --max-size), --max-conns and --max-conns-per-addr (the next
client is told "busy" and closed), and --max-memory, the memory all message
contents may take together: a message is read only into memory granted from
it, one that does not fit waits for room until its --message-timeout and is
then told "busy" (messages of over 64 KiB may take only seven eighths of it,
so small ones are still answered). A raw client must send --min-raw-rate
bytes a second on average once its first --idle-timeout is over. TLS 1.2 is
offered with ECDHE and AEAD ciphers only, and a --cert whose RSA key is under
2048 bits gets a warning. On SIGINT or SIGTERM the server stops accepting,
closes idle connections, and lets messages in flight finish for up to
--drain-timeout; a message cut off then is logged as a warning.

It prints where it listens and its certificate on stdout (one JSON document
with --json), and logs one line per connection opened and closed on stderr:
peer, TLS version, messages, bytes, duration and why it closed. Clients it
refused are summed up in one "refused" line at most every 10 seconds, with
their number, addresses and reasons, and clients that never finished the
TLS handshake (timed out or left) in one "dropped" line.`,
		Example: fmt.Sprintf(`  netkit echo serve
  netkit echo serve --listen [::]:%d
  netkit echo serve --plaintext --listen 127.0.0.1:9000
  netkit echo serve --cert server.pem --key server.key --client-ca clients.pem`, echo.DefaultPort),
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.check(); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return echoServeRun(cmd.Context(), opts)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&opts.Listen, "listen", net.JoinHostPort("127.0.0.1", strconv.Itoa(echo.DefaultPort)), "`ADDRESS` to listen on; [::]:PORT is every interface, IPv6 and IPv4")
	fs.StringVar(&opts.Cert, "cert", "", "certificate `FILE` (PEM, chain allowed) instead of the self-signed one")
	fs.StringVar(&opts.Key, "key", "", "private key `FILE` (PEM) of --cert")
	fs.StringVar(&opts.CertDir, "cert-dir", "", "`DIR` for the self-signed certificate (default $XDG_CONFIG_HOME/netkit/echo)")
	fs.StringVar(&opts.ClientCA, "client-ca", "", "require client certificates signed by a CA in this PEM `FILE` (mutual TLS)")
	fs.BoolVar(&opts.Plaintext, "plaintext", false, "serve plain TCP, no TLS")
	fs.BoolVar(&opts.Raw, "raw", false, "echo the bytes of every connection as they come, without frames")
	fs.StringSliceVar(&opts.ALPN, "alpn", nil, "ALPN protocols to accept, comma-separated (a client offering others is refused)")
	fs.DurationVar(&opts.HandshakeTimeout, "handshake-timeout", echo.DefaultHandshakeTimeout, "drop clients that have not finished the TLS handshake after this long")
	fs.DurationVar(&opts.IdleTimeout, "idle-timeout", echo.DefaultIdleTimeout, "drop clients that send nothing for this long")
	fs.DurationVar(&opts.MessageTimeout, "message-timeout", echo.DefaultMessageTimeout, "time a client has to send the rest of a started message and read the reply")
	fs.DurationVar(&opts.DrainTimeout, "drain-timeout", echo.DefaultDrainTimeout, "on SIGINT/SIGTERM, time messages in flight have to finish")
	fs.IntVar(&opts.MaxHeader, "max-header", echo.DefaultMaxHeaderLength, fmt.Sprintf("longest JSON header accepted (and echoed back), in bytes, up to %d", echo.MaxHeaderLimit))
	fs.IntVar(&opts.MaxSize, "max-size", echo.DefaultMaxContentLength, "largest content accepted, in bytes")
	fs.IntVar(&opts.MaxConns, "max-conns", echo.DefaultMaxConns, "most connections served at once")
	fs.IntVar(&opts.MaxConnsPerAddr, "max-conns-per-addr", 0, "most connections served at once from one client address (default a quarter of --max-conns)")
	fs.Int64Var(&opts.MaxMemory, "max-memory", echo.DefaultMaxMemory, "most memory, in bytes, all message contents may take at once (a text/json message counts twice)")
	fs.Float64Var(&opts.MinRawRate, "min-raw-rate", echo.DefaultMinRawRate, "least a raw client must send, in bytes per second on average, after its first --idle-timeout")
	fs.StringVar(&opts.LogFormat, "log-format", "text", "log format on stderr: text or json")
	fs.BoolVar(&opts.JSON, "json", false, "print the listening address and certificate as one JSON document")
	return cmd
}

func (o *EchoServeOptions) check() error {
	host, port, err := net.SplitHostPort(o.Listen)
	if err != nil {
		return usageErrorf("invalid --listen %q: want HOST:PORT, e.g. 127.0.0.1:%d or [::]:%d", o.Listen, echo.DefaultPort, echo.DefaultPort)
	}
	if port != "0" { // 0: any free port
		p, err := resolve.ParsePort(port, "tcp")
		if err != nil {
			return usageErrorf("invalid --listen %q: %w", o.Listen, err)
		}
		o.Listen = net.JoinHostPort(host, strconv.Itoa(int(p)))
	}
	for name, d := range map[string]time.Duration{
		"--handshake-timeout": o.HandshakeTimeout, "--idle-timeout": o.IdleTimeout,
		"--message-timeout": o.MessageTimeout, "--drain-timeout": o.DrainTimeout,
	} {
		if d <= 0 {
			return usageErrorf("invalid %s %v: want a positive duration", name, d)
		}
	}
	switch {
	case o.MaxHeader < 2 || o.MaxHeader > echo.MaxHeaderLimit:
		return usageErrorf("invalid --max-header %d: want 2 to %d bytes (the most a 2-byte length can say)", o.MaxHeader, echo.MaxHeaderLimit)
	case o.MaxSize < 1:
		return usageErrorf("invalid --max-size %d: want at least 1 byte", o.MaxSize)
	case o.MaxConns < 1:
		return usageErrorf("invalid --max-conns %d: want at least 1", o.MaxConns)
	case o.MaxConnsPerAddr < 0:
		return usageErrorf("invalid --max-conns-per-addr %d: want at least 1 (or 0 for a quarter of --max-conns)", o.MaxConnsPerAddr)
	case o.MaxMemory < echo.MinMaxMemory(o.MaxSize):
		return usageErrorf("invalid --max-memory %d: a text/json message of --max-size (%d bytes) could never be read; want at least %d", o.MaxMemory, o.MaxSize, echo.MinMaxMemory(o.MaxSize))
	case !(o.MinRawRate > 0):
		return usageErrorf("invalid --min-raw-rate %v: want a positive number of bytes per second", o.MinRawRate)
	case o.LogFormat != "text" && o.LogFormat != "json":
		return usageErrorf("invalid --log-format %q: want text or json", o.LogFormat)
	case (o.Cert == "") != (o.Key == ""):
		return usageErrorf("--cert and --key go together")
	case o.Plaintext && (o.Cert != "" || o.CertDir != "" || o.ClientCA != "" || len(o.ALPN) > 0):
		return usageErrorf("--plaintext cannot be used with TLS flags (--cert, --key, --cert-dir, --client-ca, --alpn)")
	case o.Cert != "" && o.CertDir != "":
		return usageErrorf("--cert and --cert-dir cannot be used together: --cert-dir is for the self-signed certificate")
	}
	return nil
}

// echoServeReady is what 'echo serve' prints once it listens.
type echoServeReady struct {
	Listen string `json:"listen"`
	TLS    bool   `json:"tls"`
	// Mode is "auto" (frames, or raw for clients starting with text) or
	// "raw".
	Mode        string            `json:"mode"`
	ClientAuth  bool              `json:"client_auth"`
	Certificate *echo.Certificate `json:"certificate,omitempty"`
	CertFile    string            `json:"cert_file,omitempty"`
	KeyFile     string            `json:"key_file,omitempty"`
	// SelfSigned reports whether the certificate is netkit's self-signed
	// one rather than --cert.
	SelfSigned bool `json:"self_signed"`
	// Created reports whether the self-signed certificate was made by this
	// run rather than reused.
	Created bool `json:"created"`
}

func echoServeRun(ctx context.Context, o *EchoServeOptions) error {
	ready := echoServeReady{TLS: !o.Plaintext, Mode: "auto", ClientAuth: o.ClientCA != ""}
	if o.Raw {
		ready.Mode = "raw"
	}
	var tlsConfig *tls.Config
	if !o.Plaintext {
		kp, err := o.keyPair(ctx)
		if err != nil {
			return err
		}
		var clientCAs *x509.CertPool
		if o.ClientCA != "" {
			if clientCAs, err = echo.LoadCertPool(ctx, o.ClientCA); err != nil {
				return usageErrorf("--client-ca: %v", err)
			}
		}
		tlsConfig = echo.ServerTLSConfig(kp.Certificate, clientCAs, o.ALPN)
		cert := echo.Summarize(kp.Leaf)
		ready.Certificate, ready.CertFile, ready.KeyFile, ready.Created = &cert, kp.CertFile, kp.KeyFile, kp.Created
		ready.SelfSigned = o.Cert == ""
		warnCertValidity(o.IO, kp.CertFile, kp.Leaf, time.Now())
	}
	ln, err := net.Listen("tcp", o.Listen)
	if err != nil {
		return err
	}
	ready.Listen = ln.Addr().String()
	if !o.JSON {
		printServeReady(o.IO, ready)
	} else if err := output.PrintJSON(o.IO.Out, ready); err != nil {
		ln.Close()
		return err
	}
	var handler slog.Handler = slog.NewTextHandler(o.IO.ErrOut, nil)
	if o.LogFormat == "json" {
		handler = slog.NewJSONHandler(o.IO.ErrOut, nil)
	}
	log := slog.New(handler)
	srv := &echo.Server{
		TLSConfig:        tlsConfig,
		Raw:              o.Raw,
		HandshakeTimeout: o.HandshakeTimeout,
		IdleTimeout:      o.IdleTimeout,
		MessageTimeout:   o.MessageTimeout,
		DrainTimeout:     o.DrainTimeout,
		MaxHeaderLength:  o.MaxHeader,
		MaxContentLength: o.MaxSize,
		MaxConns:         o.MaxConns,
		MaxConnsPerAddr:  o.MaxConnsPerAddr,
		MaxMemory:        o.MaxMemory,
		MinRawRate:       o.MinRawRate,
		Logger:           log,
	}
	err = srv.Serve(ctx, ln)
	log.Info("stopped", "listen", ready.Listen)
	return err
}

// warnCertValidity warns when the certificate in file is not valid at now
// (clients that verify it will refuse every connection), or its key is too
// weak to trust.
func warnCertValidity(io *output.Streams, file string, c *x509.Certificate, now time.Time) {
	if weak := echo.WeakKey(c); weak != "" {
		io.Warnf("the certificate %s is weak: %s; make a new key (e.g. ECDSA P-256, or RSA 2048 bits or more)", file, weak)
	}
	switch {
	case now.After(c.NotAfter):
		io.Warnf("the certificate %s expired on %s: clients that verify it will refuse the connection", file, c.NotAfter.UTC().Format(time.RFC3339))
	case now.Before(c.NotBefore):
		io.Warnf("the certificate %s is not valid before %s: clients that verify it will refuse the connection", file, c.NotBefore.UTC().Format(time.RFC3339))
	}
}

// keyPair loads --cert/--key, or the self-signed certificate.
func (o *EchoServeOptions) keyPair(ctx context.Context) (*echo.KeyPair, error) {
	if o.Cert != "" {
		kp, err := echo.LoadKeyPair(ctx, o.Cert, o.Key)
		if err != nil {
			return nil, usageErrorf("--cert/--key: %v", err)
		}
		return kp, nil
	}
	dir := o.CertDir
	if dir == "" {
		var err error
		if dir, err = echo.DefaultCertDir(); err != nil {
			return nil, err
		}
	}
	return (&echo.SelfSigned{Dir: dir}).LoadOrCreate(ctx)
}

func printServeReady(io *output.Streams, r echoServeReady) {
	transport := "plain TCP"
	if r.TLS {
		transport = "TLS"
		if r.ClientAuth {
			transport += ", client certificates required"
		}
	}
	mode := "frames, and raw echo for clients that start with text"
	if r.Mode == "raw" {
		mode = "raw echo"
	}
	io.Printf("netkit echo serve: listening on %s (%s; %s)\n", r.Listen, transport, mode)
	target := r.Listen
	if host, port, err := net.SplitHostPort(r.Listen); err == nil {
		if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
			target = net.JoinHostPort("127.0.0.1", port)
		}
	}
	if c := r.Certificate; c != nil {
		state := "from --cert"
		switch {
		case r.SelfSigned && r.Created:
			state = "created"
		case r.SelfSigned:
			state = "reused"
		}
		if r.CertFile != "" && r.KeyFile != "" {
			io.Printf("  certificate  %s (%s)\n  key          %s\n", r.CertFile, state, r.KeyFile)
		}
		io.Printf("  names        %s\n  expires      %s\n  fingerprint  %s\n",
			strings.Join(c.SANs, ", "), c.NotAfter.Format(time.RFC3339), c.SHA256)
		io.Printf("  try          netkit echo send --pin %s %s hello\n", c.SHA256, target)
	} else {
		io.Printf("  try          netkit echo send --plaintext %s hello\n", target)
	}
}
