package probe

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"regexp"
	"strings"
	"time"

	"github.com/netkit/netkit/echo"
)

// reasonExpect is the reason of a server that closed the connection
// before a line matched the expect of a query_response step.
const reasonExpect = "EXPECT-MISMATCH"

// tcp is blackbox_exporter's tcp prober: a connect to every address, the
// TLS handshake when the module asks for it, and the module's
// query_response dialogue.
func (r *run) tcp(ctx context.Context) error {
	ok, err := r.resolve(ctx)
	if !ok {
		r.add("probe_failed_due_to_regex", 0)
		return err
	}
	var info *echo.TLSInfo
	var primaryErr error
	err = r.eachAddress(ctx, "connect", func(ctx context.Context, a netip.Addr) (string, error) {
		c, err := r.dial(ctx, a, !r.m.TLS)
		if err != nil {
			return stepOfDial(err), err
		}
		defer c.Close()
		step, err := r.converse(ctx, c)
		if a == r.res.Primary {
			info, primaryErr = c.Session().TLS, err
		}
		return step, err
	})
	var f *findingError
	r.add("probe_failed_due_to_regex", boolValue(errors.As(primaryErr, &f) && f.code == reasonExpect))
	if info != nil {
		r.tlsSamples(info)
	}
	r.res.Success = err == nil
	return nil
}

// converse has the module's query_response dialogue with the server on c,
// as blackbox_exporter does, within ctx: for each step, it reads lines
// until one matches Expect (at most bufio.MaxScanTokenSize bytes each),
// sends Send with Expect's groups expanded, and upgrades the connection to
// TLS when StartTLS. It returns the step that failed (expect, send or
// tls) and why.
func (r *run) converse(ctx context.Context, c *echo.Conn) (string, error) {
	if len(r.m.QueryResponse) == 0 {
		return "", nil
	}
	if dl, ok := ctx.Deadline(); ok {
		c.NetConn().SetDeadline(dl)
	}
	lines := bufio.NewScanner(c.NetConn())
	for _, qr := range r.m.QueryResponse {
		send := qr.Send
		if qr.Expect != nil {
			line, match, err := expectLine(lines, qr.Expect, r.log)
			if err != nil {
				return "expect", err
			}
			send = string(qr.Expect.Expand(nil, []byte(send), line, match))
		}
		if send != "" {
			r.log.Debug("Sending line", "line", send)
			if _, err := io.WriteString(c.NetConn(), send+"\n"); err != nil {
				return "send", err
			}
		}
		if qr.StartTLS {
			o := r.client(ctx, false)
			if err := c.StartTLS(ctx, o.ServerName, o); err != nil {
				return "tls", err
			}
			lines = bufio.NewScanner(c.NetConn())
		}
	}
	return "", nil
}

// expectLine reads lines until one matches re, and returns it and the
// match's submatch indexes.
func expectLine(lines *bufio.Scanner, re *regexp.Regexp, log *slog.Logger) ([]byte, []int, error) {
	for lines.Scan() {
		log.Debug("Read line", "line", lines.Text())
		if match := re.FindSubmatchIndex(lines.Bytes()); match != nil {
			log.Info("Regexp matched", "regexp", re.String(), "line", lines.Text())
			return lines.Bytes(), match, nil
		}
	}
	if err := lines.Err(); err != nil {
		return nil, nil, fmt.Errorf("waiting for a line that matches %q: %w", re, err)
	}
	return nil, nil, &findingError{code: reasonExpect, msg: fmt.Sprintf("the server closed the connection before it sent a line that matches %q", re)}
}

// dial connects to a (and does the TLS handshake unless plaintext). A
// connect that an ICMP error ended comes back with that error's type and
// code (icmpError), which tell a firewall's reject from a host that is
// down.
func (r *run) dial(ctx context.Context, a netip.Addr, plaintext bool) (*echo.Conn, error) {
	var w icmpWatch
	o := r.client(ctx, plaintext)
	o.Control = w.control
	c, err := echo.DialAddrPort(ctx, netip.AddrPortFrom(a, r.port), o)
	return c, w.explain(err)
}

// client is the module's echo client options for this target: plaintext
// or TLS, with the target's host as the server name unless the module
// names one, bounded by what is left of ctx.
func (r *run) client(ctx context.Context, plaintext bool) echo.ClientOptions {
	c := r.m.Client
	c.Plaintext = plaintext
	c.ServerName = cmp.Or(c.ServerName, r.host)
	c.Timeout = remaining(ctx)
	return c
}

// stepOfDial says which step an echo.Dial error broke: the TLS handshake
// (its *net.OpError has Op "TLS handshake") or the connect.
func stepOfDial(err error) string {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "TLS handshake" {
		return "tls"
	}
	return "connect"
}

// tlsSamples records blackbox_exporter's TLS metrics of a handshake.
func (r *run) tlsSamples(info *echo.TLSInfo) {
	if len(info.Chain) == 0 {
		return
	}
	var earliest time.Time
	for _, c := range info.Chain {
		if earliest.IsZero() || c.NotAfter.Before(earliest) {
			earliest = c.NotAfter
		}
	}
	r.add("probe_ssl_earliest_cert_expiry", float64(earliest.Unix()))
	if info.Verified {
		r.add("probe_ssl_last_chain_expiry_timestamp_seconds", float64(earliest.Unix()))
	}
	leaf := info.Chain[0]
	var dnsNames []string
	for _, n := range leaf.SANs {
		if _, err := netip.ParseAddr(n); err != nil {
			dnsNames = append(dnsNames, n)
		}
	}
	r.add("probe_ssl_last_chain_info", 1,
		Label{"fingerprint_sha256", strings.TrimPrefix(leaf.SHA256, "sha256:")},
		Label{"subject", leaf.Subject}, Label{"issuer", leaf.Issuer},
		Label{"subjectalternative", strings.Join(dnsNames, ",")})
	r.add("probe_tls_version_info", 1, Label{"version", info.Version})
}
