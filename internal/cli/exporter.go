package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/netkit/netkit/internal/exporter"
	"github.com/netkit/netkit/internal/output"
)

// ExporterOptions are the inputs of 'netkit exporter'.
type ExporterOptions struct {
	IO *output.Streams

	Listen      string
	Config      string
	AllowFlag   []string
	Allow       []netip.Prefix
	MaxInFlight int

	loopbackOnly bool // --listen reaches this machine only
}

// NewCmdExporter returns 'netkit exporter'. runF replaces exporterRun in
// tests.
func NewCmdExporter(io *output.Streams, runF func(context.Context, *ExporterOptions) error) *cobra.Command {
	opts := &ExporterOptions{IO: io}
	cmd := &cobra.Command{
		Use:   "exporter [flags]",
		Short: "Serve netkit's probes to Prometheus, in blackbox_exporter's interface",
		Long: `Exporter serves netkit's probes over HTTP for Prometheus, in
blackbox_exporter's interface: /probe?target=…&module=… runs one probe and
answers its metrics, under blackbox_exporter's names and labels
(probe_success, probe_duration_seconds, probe_ip_protocol,
probe_icmp_duration_seconds{phase}, probe_ssl_earliest_cert_expiry, …), so
existing dashboards and alerts keep working. &debug=true answers the
probe's log instead. The probe ends before the scrape does: its time is
bounded by the X-Prometheus-Scrape-Timeout-Seconds header (less 0.5 s) and
the module's timeout.

Beyond blackbox_exporter, every probe says why it failed,
probe_failure_info{step, reason}, with the stable codes of 'netkit explain'
(ECONNREFUSED, TIMEOUT, NXDOMAIN, X509-EXPIRED, …), and probes every
address a name resolves to: probe_address_success{address, family} shows a
broken AAAA behind a working A.

Modules: icmp, tcp (with tls), dns (the target is the server), and netkit's
own echo (a netkit echo round trip) and diagnose (every step of 'netkit
diagnose' as probe_step_success{step}). --config reads a file in
blackbox.yml's shape; what netkit cannot do is refused with its line.
Without it the built-in modules are tcp_connect, tls_connect, icmp,
icmp_ttl5, dns_udp, dns_tcp, echo, echo_plaintext and diagnose.

/metrics has the exporter's own metrics, /-/reload (POST) and SIGHUP reload
the configuration (a bad one is refused and the old one stays).

Safety: an exporter probes whatever a URL names. --allow (and the
configuration's allow: list) limits the addresses it probes; a target with
an address outside is refused (403) before anything is sent. Listening on
an address other than loopback needs an allow list. At most --max-in-flight
probes run at once; a probe that finds no room in its time is answered 503.`,
		Example: `  netkit exporter
  curl 'http://127.0.0.1:9115/probe?module=tcp_connect&target=localhost:22'
  netkit exporter --config netkit-exporter.yml --listen [::]:9115 --allow 10.0.0.0/8,192.0.2.7`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.check(); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return exporterRun(cmd.Context(), opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Listen, "listen", "127.0.0.1:9115", "`ADDRESS` to serve HTTP on")
	f.StringVar(&opts.Config, "config", "", "module configuration `FILE` in blackbox.yml's shape (default: the built-in modules)")
	f.StringSliceVar(&opts.AllowFlag, "allow", nil, "networks (CIDR) and addresses probes may go to, comma-separated (default: any, on a loopback --listen)")
	f.IntVar(&opts.MaxInFlight, "max-in-flight", exporter.DefaultMaxInFlight, "most probes running at once")
	return cmd
}

func (o *ExporterOptions) check() error {
	host, _, err := net.SplitHostPort(o.Listen)
	if err != nil {
		return usageErrorf("invalid --listen %q: want HOST:PORT, e.g. 127.0.0.1:9115 or [::]:9115", o.Listen)
	}
	for _, s := range o.AllowFlag {
		s = strings.TrimSpace(s)
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil {
				return usageErrorf("invalid --allow %q: want a network such as 10.0.0.0/8 or an address", s)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		o.Allow = append(o.Allow, p.Masked())
	}
	if o.MaxInFlight < 1 {
		return usageErrorf("invalid --max-in-flight %d: want at least 1", o.MaxInFlight)
	}
	o.loopbackOnly = isLoopbackHost(host)
	return nil
}

// isLoopbackHost reports whether a --listen host only reaches this
// machine: localhost or a loopback address.
func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}

func exporterRun(ctx context.Context, o *ExporterOptions) error {
	log := slog.New(slog.NewTextHandler(o.IO.ErrOut, nil))
	srv, err := exporter.New(ctx, exporter.Options{ConfigFile: o.Config, Allow: o.Allow, MaxInFlight: o.MaxInFlight, Logger: log})
	var ce *exporter.ConfigError
	switch {
	case errors.As(err, &ce):
		return usageError(err)
	case err != nil:
		return usageErrorf("--config: %v", err)
	}
	cfg := srv.Config()
	if !o.loopbackOnly && len(o.Allow) == 0 && len(cfg.AllowNets) == 0 && len(cfg.AllowHosts) == 0 {
		return usageErrorf("--listen %s is reachable from other hosts: give --allow (or an allow: list in --config) so that the exporter does not probe whatever a URL names", o.Listen)
	}
	ln, err := net.Listen("tcp", o.Listen)
	if err != nil {
		return err
	}
	exporterPrinter{io: o.IO}.ready(ln.Addr().String(), o, cfg)
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for range hup {
			srv.Reload(ctx) // logged, and counted in /metrics
		}
	}()
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second}
	done := make(chan error, 1)
	go func() { done <- hs.Serve(ln) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	hs.Shutdown(sctx)
	log.Info("stopped", "listen", ln.Addr().String())
	return nil
}

// exporterPrinter writes the human lines of 'netkit exporter'.
type exporterPrinter struct {
	io *output.Streams
}

// ready says where the exporter listens, what it may probe and how to try it.
func (p exporterPrinter) ready(addr string, o *ExporterOptions, cfg *exporter.Config) {
	p.io.Printf("netkit exporter: listening on http://%s\n", addr)
	src := "built-in"
	if o.Config != "" {
		src = o.Config
	}
	var mods []string
	for name, m := range cfg.Modules {
		mods = append(mods, fmt.Sprintf("%s (%s)", name, m.Prober))
	}
	slices.Sort(mods)
	p.io.Printf("  modules      %s, from %s\n", strings.Join(mods, ", "), src)
	allow := "any address"
	var parts []string
	for _, a := range o.Allow {
		parts = append(parts, a.String())
	}
	for _, a := range cfg.AllowNets {
		parts = append(parts, a.String())
	}
	parts = append(parts, cfg.AllowHosts...)
	if len(parts) > 0 {
		allow = strings.Join(parts, ", ")
	}
	p.io.Printf("  allowed      %s\n  in flight    at most %d probes\n", allow, o.MaxInFlight)
	p.io.Printf("  try          curl 'http://%s/probe?module=tcp_connect&target=localhost:22'\n", addr)
}
