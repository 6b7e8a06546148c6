package exporter

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/netkit/netkit/internal/dnstest"
	"github.com/netkit/netkit/internal/testnet"
)

// scrape is one HTTP answer: its status, body and, for a 200, its metrics.
type scrape struct {
	status  int
	body    string
	metrics map[string]*dto.MetricFamily
}

// get requests path from the exporter with the headers given as pairs.
func get(t *testing.T, base, path string, header ...string) scrape {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	s := scrape{status: resp.StatusCode, body: string(body)}
	if resp.StatusCode == http.StatusOK && strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain; version=0.0.4") {
		p := expfmt.NewTextParser(model.UTF8Validation)
		if s.metrics, err = p.TextToMetricFamilies(strings.NewReader(s.body)); err != nil {
			t.Fatalf("parse %s: %v\n%s", path, err, body)
		}
	}
	return s
}

// gauge returns the value of the metric name with the labels given as
// pairs, failing the test when there is none.
func (s scrape) gauge(t *testing.T, name string, labels ...string) float64 {
	t.Helper()
	v, ok := s.value(name, labels...)
	if !ok {
		t.Fatalf("no %s%v in\n%s", name, labels, s.body)
	}
	return v
}

func (s scrape) value(name string, labels ...string) (float64, bool) {
	mf, ok := s.metrics[name]
	if !ok {
		return 0, false
	}
	for _, m := range mf.Metric {
		match := true
		for i := 0; i+1 < len(labels); i += 2 {
			found := false
			for _, l := range m.Label {
				found = found || l.GetName() == labels[i] && l.GetValue() == labels[i+1]
			}
			match = match && found
		}
		if !match {
			continue
		}
		switch {
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		}
	}
	return 0, false
}

// start serves an exporter with o until the test ends.
func start(t *testing.T, o Options) (*Server, string) {
	t.Helper()
	srv, err := New(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	return srv, hs.URL
}

func TestProbeTCP(t *testing.T) {
	_, base := start(t, Options{})
	l := testnet.Listen(t, "127.0.0.1:0")
	testnet.ServeConns(t, l, func(c net.Conn) {})
	s := get(t, base, "/probe?module=tcp_connect&target="+l.Addr().String())
	if s.status != http.StatusOK || s.gauge(t, "probe_success") != 1 {
		t.Fatalf("open port: %d\n%s", s.status, s.body)
	}
	for _, name := range []string{"probe_duration_seconds", "probe_dns_lookup_time_seconds", "probe_ip_protocol", "probe_ip_addr_hash", "probe_failed_due_to_regex"} {
		s.gauge(t, name)
	}
	closed := testnet.ClosedPort(t, "tcp4", "127.0.0.1")
	s = get(t, base, "/probe?module=tcp_connect&target="+closed.String())
	if s.gauge(t, "probe_success") != 0 || s.gauge(t, "probe_failure_info", "step", "connect", "reason", "ECONNREFUSED") != 1 {
		t.Errorf("closed port:\n%s", s.body)
	}
	m := get(t, base, "/metrics")
	if m.gauge(t, "netkit_exporter_probes_total", "module", "tcp_connect", "result", "success") != 1 ||
		m.gauge(t, "netkit_exporter_probes_total", "module", "tcp_connect", "result", "failure") != 1 {
		t.Errorf("/metrics:\n%s", m.body)
	}
	m.gauge(t, "go_goroutines")
	if idx := get(t, base, "/"); idx.status != 200 || !strings.Contains(idx.body, "<li>tcp_connect (tcp)</li>") {
		t.Errorf("index page: %d %s", idx.status, idx.body)
	}
	m.gauge(t, "netkit_exporter_probes_in_flight")
	m.gauge(t, "netkit_exporter_config_last_reload_successful")
}

func TestProbeBadRequests(t *testing.T) {
	_, base := start(t, Options{})
	for _, tc := range []struct {
		path   string
		status int
		want   string
	}{
		{"/probe?target=127.0.0.1:1", 400, "Module parameter is missing"},
		{"/probe?module=http_2xx&target=127.0.0.1:1", 400, `Unknown module "http_2xx"`},
		{"/probe?module=tcp_connect", 400, "Target parameter is missing"},
		{"/probe?module=tcp_connect&target=127.0.0.1", 400, "HOST:PORT"},
	} {
		s := get(t, base, tc.path)
		if s.status != tc.status || !strings.Contains(s.body, tc.want) {
			t.Errorf("%s: %d %q, want %d %q", tc.path, s.status, s.body, tc.status, tc.want)
		}
	}
	s := get(t, base, "/probe?module=tcp_connect&target=127.0.0.1:1", "X-Prometheus-Scrape-Timeout-Seconds", "soon")
	if s.status != 400 || !strings.Contains(s.body, "X-Prometheus-Scrape-Timeout-Seconds") {
		t.Errorf("bad timeout header: %d %q", s.status, s.body)
	}
}

// TestAllow checks that --allow keeps the exporter from probing other
// addresses: refused with 403, and not one connection made.
func TestAllow(t *testing.T) {
	l := testnet.Listen(t, "127.0.0.1:0")
	var accepted atomic.Int32
	testnet.ServeConns(t, l, func(net.Conn) { accepted.Add(1) })
	_, base := start(t, Options{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")}})
	s := get(t, base, "/probe?module=tcp_connect&target="+l.Addr().String())
	if s.status != http.StatusForbidden || !strings.Contains(s.body, "not in the allowed networks") {
		t.Errorf("%d %q, want 403", s.status, s.body)
	}
	time.Sleep(50 * time.Millisecond)
	if n := accepted.Load(); n != 0 {
		t.Errorf("%d connections to a target outside --allow", n)
	}
	_, base = start(t, Options{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	if s := get(t, base, "/probe?module=tcp_connect&target="+l.Addr().String()); s.status != 200 || s.gauge(t, "probe_success") != 1 {
		t.Errorf("allowed target: %d %q", s.status, s.body)
	}
}

// TestAllowHost checks the configuration's allow list by host name: a
// target with that host is probed at whatever address, the same address
// under another name or as a literal is not.
func TestAllowHost(t *testing.T) {
	l := testnet.Listen(t, "127.0.0.1:0")
	testnet.ServeConns(t, l, func(net.Conn) {})
	_, port, _ := net.SplitHostPort(l.Addr().String())
	cfg := writeConfig(t, "modules:\n  conn:\n    prober: tcp\nallow:\n  - DB.test\n")
	_, base := start(t, Options{ConfigFile: cfg, Resolver: testnet.HostsResolver(t, "127.0.0.1 db.test other.test\n")})
	if s := get(t, base, "/probe?module=conn&target=db.test:"+port); s.status != 200 || s.gauge(t, "probe_success") != 1 {
		t.Errorf("db.test: %d %s", s.status, s.body)
	}
	for _, target := range []string{"other.test:" + port, l.Addr().String()} {
		if s := get(t, base, "/probe?module=conn&target="+target); s.status != http.StatusForbidden {
			t.Errorf("%s: %d %s, want 403", target, s.status, s.body)
		}
	}
}

// TestTimeoutAndInFlight checks that the scrape's timeout header bounds a
// probe, and that a probe that finds every slot taken gets a 503.
func TestTimeoutAndInFlight(t *testing.T) {
	dns := dnstest.StartAnyPort(t)
	dns.Silence("slow.test")
	cfg := writeConfig(t, `modules:
  slow:
    prober: dns
    timeout: 30s
    dns:
      query_name: slow.test
`)
	_, base := start(t, Options{ConfigFile: cfg, MaxInFlight: 1})
	target := "/probe?module=slow&target=" + dns.Addr.String()
	begin := time.Now()
	first := make(chan scrape)
	go func() { first <- get(t, base, target, "X-Prometheus-Scrape-Timeout-Seconds", "1.5") }()
	time.Sleep(200 * time.Millisecond)
	busy := get(t, base, target, "X-Prometheus-Scrape-Timeout-Seconds", "0.8")
	if busy.status != http.StatusServiceUnavailable || !strings.Contains(busy.body, "too many probes in flight") {
		t.Errorf("second probe with the only slot taken: %d %q, want 503", busy.status, busy.body)
	}
	s := <-first
	took := time.Since(begin)
	// The module allows 30 s and the server never answers: only the
	// header (1.5 s less 0.5 s) ends the probe after about 1 s. The
	// upper bound leaves room for a loaded machine.
	if took > 3*time.Second || took < 900*time.Millisecond {
		t.Errorf("a probe with a 1.5 s scrape timeout took %v, want about 1 s (1.5 s less 0.5 s)", took)
	}
	if s.gauge(t, "probe_success") != 0 || s.gauge(t, "probe_failure_info", "step", "query", "reason", "TIMEOUT") != 1 {
		t.Errorf("silent server:\n%s", s.body)
	}
	if d := s.gauge(t, "probe_duration_seconds"); d < 0.9 || d > 3 {
		t.Errorf("probe_duration_seconds %v, want about 1 s", d)
	}
	m := get(t, base, "/metrics")
	if m.gauge(t, "netkit_exporter_probes_total", "module", "slow", "result", "busy") != 1 {
		t.Errorf("/metrics:\n%s", m.body)
	}
}

func TestDebug(t *testing.T) {
	_, base := start(t, Options{})
	closed := testnet.ClosedPort(t, "tcp4", "127.0.0.1")
	s := get(t, base, "/probe?debug=true&module=tcp_connect&target="+closed.String())
	for _, want := range []string{"Logs for the probe:", `msg="Beginning probe"`, "ECONNREFUSED", `msg="Probe failed"`,
		"Metrics that would have been returned:", `probe_failure_info{reason="ECONNREFUSED",step="connect"} 1`,
		"Module configuration:", "prober: tcp"} {
		if !strings.Contains(s.body, want) {
			t.Errorf("debug output lacks %q:\n%s", want, s.body)
		}
	}
}

// TestReload checks /-/reload: a new module appears; a broken file is
// refused, the old configuration stays, and /metrics counts both.
func TestReload(t *testing.T) {
	cfg := writeConfig(t, "modules:\n  one:\n    prober: tcp\n")
	srv, base := start(t, Options{ConfigFile: cfg})
	if _, ok := srv.Config().Modules["one"]; !ok {
		t.Fatal("module one not loaded")
	}
	os.WriteFile(cfg, []byte("modules:\n  two:\n    prober: icmp\n"), 0o644)
	resp, err := http.Post(base+"/-/reload", "", nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("reload: %v %v", resp, err)
	}
	if _, ok := srv.Config().Modules["two"]; !ok {
		t.Error("module two not loaded after /-/reload")
	}
	os.WriteFile(cfg, []byte("modules:\n  three:\n    prober: http\n"), 0o644)
	resp, _ = http.Post(base+"/-/reload", "", nil)
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 500 || !strings.Contains(string(body), "netkit.yml:3: modules.three.prober") {
		t.Errorf("broken reload: %d %q", resp.StatusCode, body)
	}
	if _, ok := srv.Config().Modules["two"]; !ok {
		t.Error("a failed reload dropped the configuration in use")
	}
	m := get(t, base, "/metrics")
	if m.gauge(t, "netkit_exporter_config_reloads_total", "result", "success") != 2 ||
		m.gauge(t, "netkit_exporter_config_reloads_total", "result", "failure") != 1 ||
		m.gauge(t, "netkit_exporter_config_last_reload_successful") != 0 {
		t.Errorf("/metrics:\n%s", m.body)
	}
	if s := get(t, base, "/-/reload"); s.status != http.StatusMethodNotAllowed {
		t.Errorf("GET /-/reload: %d", s.status)
	}
}

// writeConfig writes a configuration file named netkit.yml.
func writeConfig(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "netkit.yml")
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}
