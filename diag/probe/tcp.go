package probe

import (
	"cmp"
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/netkit/netkit/echo"
)

// tcp is blackbox_exporter's tcp prober without query_response: a connect
// to every address, and the TLS handshake when the module asks for it.
func (r *run) tcp(ctx context.Context) error {
	r.add("probe_failed_due_to_regex", 0)
	ok, err := r.resolve(ctx)
	if !ok {
		return err
	}
	var info *echo.TLSInfo
	err = r.eachAddress(ctx, "connect", func(ctx context.Context, a netip.Addr) (string, error) {
		c, err := r.dial(ctx, a, !r.m.TLS)
		if err != nil {
			return stepOfDial(err), err
		}
		defer c.Close()
		if a == r.res.Primary {
			info = c.Session().TLS
		}
		return "", nil
	})
	if info != nil {
		r.tlsSamples(info)
	}
	r.res.Success = err == nil
	return nil
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
