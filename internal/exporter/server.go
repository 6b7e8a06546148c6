// Package exporter is the HTTP side of 'netkit exporter': /probe in
// blackbox_exporter's interface, /metrics for the exporter itself, and
// /-/reload. The probes themselves are diag/probe's.
package exporter

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"html"
	"log/slog"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/expfmt"

	"github.com/netkit/netkit/diag"
	"github.com/netkit/netkit/diag/probe"
	"github.com/netkit/netkit/resolve"
)

// Defaults of Options.
const (
	// DefaultMaxInFlight is the most probes run at once.
	DefaultMaxInFlight = 256
	// DefaultTimeout bounds a probe when neither its module nor the
	// scrape (X-Prometheus-Scrape-Timeout-Seconds) says less.
	DefaultTimeout = 10 * time.Second
	// MaxTimeout is the longest any probe may run, whatever the module and
	// the scrape say.
	MaxTimeout = 2 * time.Minute
	// TimeoutOffset is taken off the scrape's timeout, as
	// blackbox_exporter's --timeout-offset default, so the answer reaches
	// Prometheus before it gives up.
	TimeoutOffset = 500 * time.Millisecond
)

// Options configure a Server.
type Options struct {
	// ConfigFile is the configuration to load and reload; empty means the
	// built-in modules (DefaultConfig).
	ConfigFile string
	// Allow are the networks probes may go to (--allow), on top of the
	// configuration's allow list; when both are empty every address may
	// be probed.
	Allow []netip.Prefix
	// MaxInFlight bounds the probes running at once; 0 means
	// DefaultMaxInFlight. A probe that finds no room before its timeout
	// is answered 503.
	MaxInFlight int
	// Resolver looks up target names; nil means resolve.Default().
	Resolver *resolve.Resolver
	// Logger logs reloads (not the first load, whose error New returns)
	// and each probe's end at debug level; nil discards.
	Logger *slog.Logger
}

// Server serves the exporter's endpoints. It is safe for concurrent use.
type Server struct {
	o       Options
	cfg     atomic.Pointer[Config]
	slots   chan struct{}
	reload  sync.Mutex
	reg     *prometheus.Registry
	probes  *prometheus.CounterVec
	flying  prometheus.Gauge
	reloads *prometheus.CounterVec
	lastOK  prometheus.Gauge
	lastAt  prometheus.Gauge
}

// New loads the configuration and returns a Server.
func New(ctx context.Context, o Options) (*Server, error) {
	if o.MaxInFlight == 0 {
		o.MaxInFlight = DefaultMaxInFlight
	}
	if o.Resolver == nil {
		o.Resolver = resolve.Default()
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{o: o, slots: make(chan struct{}, o.MaxInFlight), reg: prometheus.NewRegistry()}
	s.probes = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "netkit_exporter_probes_total",
		Help: "Probes requested, by module and result: success, failure, or refused (not_allowed, busy, bad_request, unknown_module).",
	}, []string{"module", "result"})
	s.flying = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "netkit_exporter_probes_in_flight", Help: "Probes running now.",
	})
	s.reloads = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "netkit_exporter_config_reloads_total", Help: "Configuration reloads, by result (success or failure).",
	}, []string{"result"})
	s.lastOK = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "netkit_exporter_config_last_reload_successful", Help: "Whether the last configuration reload succeeded.",
	})
	s.lastAt = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "netkit_exporter_config_last_reload_success_timestamp_seconds", Help: "When the configuration was last loaded successfully.",
	})
	inFlightMax := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "netkit_exporter_probes_in_flight_max", Help: "The most probes that may run at once (--max-in-flight).",
	})
	inFlightMax.Set(float64(o.MaxInFlight))
	s.reg.MustRegister(s.probes, s.flying, s.reloads, s.lastOK, s.lastAt, inFlightMax,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if err := s.load(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// Reload reads the configuration file again, and logs the outcome. On
// error the configuration in use stays.
func (s *Server) Reload(ctx context.Context) error {
	if err := s.load(ctx); err != nil {
		s.o.Logger.Error("config reload failed", "err", err)
		return err
	}
	s.o.Logger.Info("config reloaded", "file", s.o.ConfigFile, "modules", strings.Join(sortedKeys(s.Config().Modules), ","))
	return nil
}

// load reads the configuration and counts the outcome in /metrics.
func (s *Server) load(ctx context.Context) error {
	s.reload.Lock()
	defer s.reload.Unlock()
	cfg := DefaultConfig()
	var err error
	if s.o.ConfigFile != "" {
		cfg, err = LoadConfig(ctx, s.o.ConfigFile)
	}
	if err != nil {
		s.reloads.WithLabelValues("failure").Inc()
		s.lastOK.Set(0)
		return err
	}
	s.cfg.Store(cfg)
	s.reloads.WithLabelValues("success").Inc()
	s.lastOK.Set(1)
	s.lastAt.Set(float64(time.Now().Unix()))
	return nil
}

// Config returns the configuration in use.
func (s *Server) Config() *Config {
	return s.cfg.Load()
}

// Handler returns the exporter's endpoints: /probe, /metrics, /-/reload
// (POST) and an index page at /.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/probe", s.serveProbe)
	mux.Handle("/metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/-/reload", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost && r.Method != http.MethodPut {
			w.Header().Set("Allow", "POST, PUT")
			http.Error(w, "use POST to reload the configuration", http.StatusMethodNotAllowed)
			return
		}
		if err := s.Reload(r.Context()); err != nil {
			http.Error(w, "failed to reload config: "+err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprintln(w, "configuration reloaded")
	})
	mux.HandleFunc("/{$}", s.serveIndex)
	return mux
}

func (s *Server) serveIndex(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	var b strings.Builder
	b.WriteString("<html><head><title>netkit exporter</title></head><body><h1>netkit exporter</h1>\n")
	b.WriteString(`<p><a href="/metrics">Metrics</a> · probe with /probe?target=HOST:PORT&amp;module=MODULE (&amp;debug=true for the log)</p><ul>` + "\n")
	cfg := s.Config()
	for _, name := range sortedKeys(cfg.Modules) {
		fmt.Fprintf(&b, "<li>%s (%s)</li>\n", html.EscapeString(name), cfg.Modules[name].Prober)
	}
	b.WriteString("</ul></body></html>\n")
	fmt.Fprint(w, b.String())
}

// serveProbe is blackbox_exporter's /probe: module and target from the
// query, the probe bounded by the scrape's timeout header, its metrics
// (or with debug=true its log) as the answer.
func (s *Server) serveProbe(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	name, target := q.Get("module"), q.Get("target")
	cfg := s.Config()
	m, ok := cfg.Modules[name]
	switch {
	case name == "":
		s.refuse(w, "", "bad_request", http.StatusBadRequest, "Module parameter is missing")
		return
	case !ok:
		s.refuse(w, "", "unknown_module", http.StatusBadRequest, fmt.Sprintf("Unknown module %q", name))
		return
	case target == "":
		s.refuse(w, name, "bad_request", http.StatusBadRequest, "Target parameter is missing")
		return
	}
	timeout, err := probeTimeout(r.Header.Get("X-Prometheus-Scrape-Timeout-Seconds"), m.Timeout)
	if err != nil {
		s.refuse(w, name, "bad_request", http.StatusBadRequest, err.Error())
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()
	select {
	case s.slots <- struct{}{}:
	case <-ctx.Done():
		s.refuse(w, name, "busy", http.StatusServiceUnavailable,
			fmt.Sprintf("too many probes in flight (%d): none ended within the probe's timeout of %v", cap(s.slots), timeout))
		return
	}
	s.flying.Inc()
	defer func() {
		s.flying.Dec()
		<-s.slots
	}()

	var logBuf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logBuf, nil)).With("module", name, "target", target)
	m.Timeout = 0 // ctx carries it
	res, err := probe.Run(ctx, target, m, probe.Options{Resolver: s.o.Resolver, Allowed: s.allowed(cfg, target), Logger: log})
	var na *diag.NotAllowedError
	var te *probe.TargetError
	switch {
	case errors.As(err, &na):
		s.refuse(w, name, "not_allowed", http.StatusForbidden, err.Error())
		return
	case errors.As(err, &te):
		s.refuse(w, name, "bad_request", http.StatusBadRequest, err.Error())
		return
	case err != nil:
		s.refuse(w, name, "error", http.StatusInternalServerError, err.Error())
		return
	}
	result := "failure"
	if res.Success {
		result = "success"
	}
	s.probes.WithLabelValues(name, result).Inc()
	s.o.Logger.Debug("probe", "module", name, "target", target, "success", res.Success)
	reg, err := newRegistry(res)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	if q.Get("debug") == "true" {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprint(w, debugOutput(logBuf.String(), reg, cfg.Source[name]))
		return
	}
	promhttp.HandlerFor(reg, promhttp.HandlerOpts{}).ServeHTTP(w, r)
}

// refuse answers a probe that did not run.
func (s *Server) refuse(w http.ResponseWriter, module, result string, code int, msg string) {
	s.probes.WithLabelValues(module, result).Inc()
	http.Error(w, msg, code)
}

// probeTimeout is blackbox_exporter's: the scrape's timeout (header) less
// TimeoutOffset, or the module's timeout when shorter; DefaultTimeout when
// neither is set, and never more than MaxTimeout.
func probeTimeout(header string, module time.Duration) (time.Duration, error) {
	t := DefaultTimeout
	if header != "" {
		secs, err := strconv.ParseFloat(header, 64)
		if err != nil || secs <= 0 {
			return 0, fmt.Errorf("invalid X-Prometheus-Scrape-Timeout-Seconds %q: want a positive number of seconds", header)
		}
		t = max(time.Duration(secs*float64(time.Second))-TimeoutOffset, time.Duration(secs*float64(time.Second))/2)
		if module > 0 && module < t {
			t = module
		}
	} else if module > 0 {
		t = module
	}
	return min(t, MaxTimeout), nil
}

// allowed is the allow check of a probe of target: nil when neither
// --allow nor the configuration restricts; every address of a host the
// configuration lists by name.
func (s *Server) allowed(cfg *Config, target string) func(netip.Addr) bool {
	if len(s.o.Allow) == 0 && len(cfg.AllowNets) == 0 && len(cfg.AllowHosts) == 0 {
		return nil
	}
	host := target
	if h, _, err := splitHostPortLoose(target); err == nil {
		host = h
	}
	if slices.Contains(cfg.AllowHosts, strings.ToLower(strings.TrimSuffix(host, "."))) {
		return func(netip.Addr) bool { return true }
	}
	return func(a netip.Addr) bool {
		in := func(p netip.Prefix) bool { return p.Contains(a) }
		return slices.ContainsFunc(s.o.Allow, in) || slices.ContainsFunc(cfg.AllowNets, in)
	}
}

// splitHostPortLoose splits HOST:PORT, [V6]:PORT or [V6].
func splitHostPortLoose(target string) (string, string, error) {
	if strings.HasPrefix(target, "[") && strings.HasSuffix(target, "]") {
		return target[1 : len(target)-1], "", nil
	}
	i := strings.LastIndex(target, ":")
	if i < 0 || strings.Count(target, ":") > 1 && !strings.HasPrefix(target, "[") {
		return "", "", errors.New("no port")
	}
	return strings.Trim(target[:i], "[]"), target[i+1:], nil
}

// newRegistry turns a probe's result into a registry of gauges, one per
// metric name, for promhttp.
func newRegistry(res *probe.Result) (*prometheus.Registry, error) {
	reg := prometheus.NewRegistry()
	vecs := map[string]*prometheus.GaugeVec{}
	for _, smp := range res.Samples {
		vec, ok := vecs[smp.Name]
		names := make([]string, len(smp.Labels))
		values := make([]string, len(smp.Labels))
		for i, l := range smp.Labels {
			names[i], values[i] = l.Name, l.Value
		}
		if !ok {
			vec = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: smp.Name, Help: probe.Help[smp.Name]}, names)
			if err := reg.Register(vec); err != nil {
				return nil, fmt.Errorf("metric %s: %w", smp.Name, err)
			}
			vecs[smp.Name] = vec
		}
		g, err := vec.GetMetricWithLabelValues(values...)
		if err != nil {
			return nil, fmt.Errorf("metric %s: %w", smp.Name, err)
		}
		g.Set(smp.Value)
	}
	return reg, nil
}

// debugOutput is blackbox_exporter's debug page: the probe's log, the
// metrics it would have returned, and the module's configuration.
func debugOutput(log string, reg *prometheus.Registry, module string) string {
	var b bytes.Buffer
	b.WriteString("Logs for the probe:\n")
	b.WriteString(log)
	b.WriteString("\n\n\nMetrics that would have been returned:\n")
	mfs, err := reg.Gather()
	if err != nil {
		fmt.Fprintf(&b, "Error gathering metrics: %s\n", err)
	}
	for _, mf := range mfs {
		expfmt.MetricFamilyToText(&b, mf)
	}
	b.WriteString("\n\n\nModule configuration:\n")
	b.WriteString(module)
	return b.String()
}
