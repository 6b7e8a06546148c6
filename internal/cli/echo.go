package cli

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/netkit/netkit/echo"
	"github.com/netkit/netkit/internal/output"
)

// NewCmdEcho returns 'netkit echo' and its subcommands serve, send and bench.
func NewCmdEcho(io *output.Streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "echo",
		Short: "Run a TLS echo service, send it a message, or load it",
		Long: fmt.Sprintf(`Echo tests a network path end to end with a service of its own: run
'netkit echo serve' on one side and 'netkit echo send' or 'netkit echo bench'
on the other. TLS by default, on port %d.

The protocol is the one of the Python sockets tutorial (a 2-byte length, a
JSON header, the content), so the tutorial's client works against
'serve --plaintext'; raw clients such as 'openssl s_client' and 'ncat --ssl'
are echoed byte for byte. docs/protocol.md describes it.`, echo.DefaultPort),
		// Runnable, so that cobra checks its arguments: an unknown
		// subcommand is a usage error, not a help page with exit 0.
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	cmd.AddCommand(
		NewCmdEchoServe(io, nil),
		NewCmdEchoSend(io, nil),
		NewCmdEchoBench(io, nil),
	)
	return cmd
}

// echoAddress checks a HOST:PORT argument; a HOST alone gets the echo port.
func echoAddress(arg string) (string, error) {
	host, port, _, err := splitHostPort(arg, echo.DefaultPort)
	if err != nil {
		return "", usageErrorf("invalid address %q: %v", arg, err)
	}
	if host == "" {
		return "", usageErrorf("invalid address %q: no host", arg)
	}
	return net.JoinHostPort(host, strconv.Itoa(int(port))), nil
}

// echoTarget checks the output flags and the HOST[:PORT] argument of 'echo
// send' and 'echo bench', and returns the address.
func echoTarget(out *output.Options, arg string) (string, error) {
	if err := out.Resolve(); err != nil {
		return "", usageError(err)
	}
	return echoAddress(arg)
}

// echoClientFlags are the connection flags of 'echo send', 'echo bench' and
// 'diagnose'.
type echoClientFlags struct {
	CA         string
	Pins       []string
	ServerName string
	Cert, Key  string
	Insecure   bool
	Plaintext  bool
	ALPN       []string
	Timeout    time.Duration
	MaxSize    int
}

// addFlags registers the flags; timeout is the default of --timeout.
func (f *echoClientFlags) addFlags(fs *pflag.FlagSet, timeout time.Duration) {
	fs.StringVar(&f.CA, "ca", "", "trust the authorities in this PEM `FILE` instead of the system's (e.g. the server's cert.pem)")
	fs.StringArrayVar(&f.Pins, "pin", nil, "trust exactly the certificate with this fingerprint (`sha256:HEX`, as 'echo serve' prints it); repeatable")
	fs.StringVar(&f.ServerName, "servername", "", "name to send as SNI and check the certificate against (default: the host of the address)")
	fs.StringVar(&f.Cert, "cert", "", "client certificate `FILE` (PEM) for mutual TLS")
	fs.StringVar(&f.Key, "key", "", "private key `FILE` (PEM) of --cert")
	fs.BoolVar(&f.Insecure, "insecure", false, "go on when the server's certificate does not verify (it is still checked and reported)")
	fs.BoolVar(&f.Plaintext, "plaintext", false, "speak plain TCP, no TLS")
	fs.StringSliceVar(&f.ALPN, "alpn", nil, "ALPN protocols to offer, comma-separated")
	fs.DurationVar(&f.Timeout, "timeout", timeout, "give up on the connection, and on each reply, after this long")
	fs.IntVar(&f.MaxSize, "max-size", echo.DefaultMaxContentLength, "longest reply content accepted, in bytes")
}

// options checks the flags and loads the files they name, while ctx lasts.
// With --insecure it writes a warning on io's ErrOut.
func (f *echoClientFlags) options(ctx context.Context, io *output.Streams) (echo.ClientOptions, error) {
	opts := echo.ClientOptions{
		Timeout:            f.Timeout,
		Plaintext:          f.Plaintext,
		ServerName:         f.ServerName,
		InsecureSkipVerify: f.Insecure,
		NextProtos:         f.ALPN,
		MaxContentLength:   f.MaxSize,
	}
	switch {
	case f.Timeout <= 0:
		return opts, usageErrorf("invalid --timeout %v: want a positive duration", f.Timeout)
	case f.MaxSize < 1:
		return opts, usageErrorf("invalid --max-size %d: want at least 1 byte", f.MaxSize)
	case f.Plaintext && (f.CA != "" || len(f.Pins) > 0 || f.ServerName != "" || f.Cert != "" || f.Insecure || len(f.ALPN) > 0):
		return opts, usageErrorf("--plaintext cannot be used with TLS flags (--ca, --pin, --servername, --cert, --insecure, --alpn)")
	case f.CA != "" && len(f.Pins) > 0:
		return opts, usageErrorf("--ca and --pin cannot be used together: a pin replaces the authorities")
	case (f.Cert == "") != (f.Key == ""):
		return opts, usageErrorf("--cert and --key go together")
	}
	for _, p := range f.Pins {
		fp, err := echo.ParseFingerprint(p)
		if err != nil {
			return opts, usageErrorf("--pin: %v", err)
		}
		opts.Pins = append(opts.Pins, fp)
	}
	if f.CA != "" {
		pool, err := echo.LoadCertPool(ctx, f.CA)
		if err != nil {
			return opts, usageErrorf("--ca: %v", err)
		}
		opts.RootCAs = pool
	}
	if f.Cert != "" {
		kp, err := echo.LoadKeyPair(ctx, f.Cert, f.Key)
		if err != nil {
			return opts, usageErrorf("--cert/--key: %v", err)
		}
		opts.Certificates = []tls.Certificate{kp.Certificate}
	}
	if f.Insecure {
		io.Warnf("%s", insecureWarning)
	}
	return opts, nil
}

// insecureWarning is printed to stderr whenever --insecure is used.
const insecureWarning = "--insecure: the connection goes on even if the server's certificate does not verify; anyone on the path could read and change it"
