package exporter

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/netkit/netkit/echo"
	"github.com/netkit/netkit/internal/dnstest"
	"github.com/netkit/netkit/internal/testnet"
	"github.com/netkit/netkit/resolve"
)

// prometheusYML is the scrape configuration of the README: blackbox
// exporter's relabeling recipe (the target becomes the target parameter
// and the instance label; the exporter is the address scraped), with a
// 1 s interval for the test, and the alert rule of the README.
const prometheusYML = `global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files:
  - %s
scrape_configs:
  - job_name: netkit_tcp
    metrics_path: /probe
    params:
      module: [tcp_connect]
    static_configs:
      - targets: [%s]
    relabel_configs:
      - source_labels: [__address__]
        target_label: __param_target
      - source_labels: [__param_target]
        target_label: instance
      - target_label: __address__
        replacement: %s
`

// alertRules is the README's alert: a failing probe, with its reason.
const alertRules = `groups:
  - name: netkit
    rules:
      - alert: ProbeFailed
        expr: probe_failure_info * on (job, instance) group_left () (probe_success == 0)
        labels:
          severity: page
        annotations:
          summary: "{{ $labels.instance }} fails at {{ $labels.step }}: {{ $labels.reason }} (netkit explain {{ $labels.reason }})"
`

// TestPrometheus has a real Prometheus scrape the exporter for an echo
// server, a closed port and a name the test's DNS server says does not
// exist, then asks Prometheus' HTTP API for probe_success, the failure
// reasons and the alert.
func TestPrometheus(t *testing.T) {
	prom := needTool(t, "prometheus")
	dns := dnstest.StartAnyPort(t)
	echoLn := testnet.Listen(t, "127.0.0.1:0")
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- (&echo.Server{}).Serve(ctx, echoLn) }()
	t.Cleanup(func() { cancel(); <-served })
	closed := testnet.ClosedPort(t, "tcp4", "127.0.0.1")

	srv, err := New(context.Background(), Options{Resolver: &resolve.Resolver{Servers: []netip.AddrPort{dns.Addr}},
		Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	exporterAddr := strings.TrimPrefix(hs.URL, "http://")

	echoTarget, closedTarget, nxTarget := echoLn.Addr().String(), closed.String(), "nosuch.test:80"
	dir := t.TempDir()
	rules := writeFile(t, dir, "rules.yml", alertRules)
	cfg := writeFile(t, dir, "prometheus.yml", fmt.Sprintf(prometheusYML, rules,
		strings.Join([]string{echoTarget, closedTarget, nxTarget}, ", "), exporterAddr))
	promAddr := freePort(t)
	startTool(t, "http://"+promAddr+"/-/ready", prom, "--config.file="+cfg, "--storage.tsdb.path="+dir+"/data",
		"--web.listen-address="+promAddr, "--storage.tsdb.retention.time=1h")
	base := "http://" + promAddr

	qctx, qcancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer qcancel()
	success := waitSeries(t, qctx, base, "probe_success", 3)
	want := map[string]string{echoTarget: "1", closedTarget: "0", nxTarget: "0"}
	for _, s := range success {
		if v := s.Value[1].(string); v != want[s.Metric["instance"]] {
			t.Errorf("probe_success{instance=%q} = %s, want %s", s.Metric["instance"], v, want[s.Metric["instance"]])
		}
	}
	reasons := map[string]string{}
	for _, s := range waitSeries(t, qctx, base, "probe_failure_info", 2) {
		reasons[s.Metric["instance"]] = s.Metric["step"] + "/" + s.Metric["reason"]
	}
	if reasons[closedTarget] != "connect/ECONNREFUSED" || reasons[nxTarget] != "resolve/NXDOMAIN" || reasons[echoTarget] != "" {
		t.Errorf("failure reasons %v", reasons)
	}
	summaries := map[string]string{}
	for _, a := range waitAlerts(t, qctx, base, 2) {
		summaries[a.Labels["instance"]] = a.Annotations["summary"]
	}
	if got := summaries[closedTarget]; got != closedTarget+" fails at connect: ECONNREFUSED (netkit explain ECONNREFUSED)" {
		t.Errorf("alert summary for the closed port: %q", got)
	}
	if got := summaries[nxTarget]; !strings.Contains(got, "resolve: NXDOMAIN") {
		t.Errorf("alert summary for the missing name: %q", got)
	}
}

// waitSeries asks Prometheus for query until it has at least n series.
func waitSeries(t *testing.T, ctx context.Context, base, query string, n int) []promSample {
	t.Helper()
	for {
		got, err := promQuery(ctx, base, query)
		if err == nil && len(got) >= n {
			return got
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s: %d series, want %d (%v)", query, len(got), n, err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// promAlert is one alert of /api/v1/alerts.
type promAlert struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	State       string            `json:"state"`
}

// waitAlerts waits until Prometheus has at least n firing alerts.
func waitAlerts(t *testing.T, ctx context.Context, base string, n int) []promAlert {
	t.Helper()
	for {
		var r struct {
			Data struct {
				Alerts []promAlert `json:"alerts"`
			} `json:"data"`
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/v1/alerts", nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			err = json.NewDecoder(resp.Body).Decode(&r)
			resp.Body.Close()
		}
		var firing []promAlert
		for _, a := range r.Data.Alerts {
			if a.State == "firing" {
				firing = append(firing, a)
			}
		}
		if len(firing) >= n {
			return firing
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%d alerts firing, want %d (%v): %+v", len(firing), n, err, r.Data.Alerts)
		case <-time.After(200 * time.Millisecond):
		}
	}
}
