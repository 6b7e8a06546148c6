package exporter

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/netkit/netkit/internal/dnstest"
	"github.com/netkit/netkit/internal/testcert"
	"github.com/netkit/netkit/internal/testnet"
)

// sideBySideYML is one module configuration both exporters load; %s is
// the directory of ca.pem (blackbox_exporter 0.23 reads a relative
// ca_file from its working directory).
const sideBySideYML = `modules:
  tcp_connect:
    prober: tcp
    timeout: 2s
  tls_connect:
    prober: tcp
    timeout: 2s
    tcp:
      tls: true
      tls_config:
        ca_file: %s/ca.pem
  ping_pong:
    prober: tcp
    timeout: 2s
    tcp:
      query_response:
        - expect: "^PING :([^ ]+)"
          send: "PONG ${1}"
        - expect: "^001 "
  icmp:
    prober: icmp
    timeout: 2s
  dns_a:
    prober: dns
    timeout: 2s
    dns:
      query_name: a.test
      query_type: A
      validate_answer_rrs:
        fail_if_not_matches_regexp: ['127\.0\.0\.5']
  dns_nx:
    prober: dns
    timeout: 2s
    dns:
      query_name: nosuch.test
      query_type: A
`

// TestSideBySide probes the same targets with the same modules through
// Debian's prometheus-blackbox-exporter and netkit: for every metric both
// expose, the names, the label names and the success values must be the
// same, and the values that do not depend on timing too.
func TestSideBySide(t *testing.T) {
	bb := needTool(t, "prometheus-blackbox-exporter")
	dir := t.TempDir()
	ca := testcert.NewCA(t)
	writePEM(t, dir+"/ca.pem", "CERTIFICATE", ca.Cert.Raw)
	cfg := writeFile(t, dir, "blackbox.yml", fmt.Sprintf(sideBySideYML, dir))

	open := testnet.Listen(t, "127.0.0.1:0")
	testnet.ServeConns(t, open, func(c net.Conn) { io.Copy(io.Discard, c) })
	closed := testnet.ClosedPort(t, "tcp4", "127.0.0.1")
	good := testnet.ServeTLS(t, ca.Issue(t, testcert.Leaf{}))
	expired := testnet.ServeTLS(t, ca.Issue(t, testcert.Leaf{NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-time.Hour)}))
	dns := dnstest.StartAnyPort(t, "a.test. 60 IN A 127.0.0.5")
	// A line server that says 001 only to the PONG carrying its token, and
	// one that sends another banner and closes.
	pingPong := testnet.Listen(t, "127.0.0.1:0")
	testnet.ServeConns(t, pingPong, func(c net.Conn) {
		c.SetDeadline(time.Now().Add(5 * time.Second))
		io.WriteString(c, "NOTICE hello\r\nPING :t0k3n\r\n")
		if line, _ := bufio.NewReader(c).ReadString('\n'); line == "PONG t0k3n\n" {
			io.WriteString(c, "001 welcome\r\n")
		}
	})
	banner := testnet.Listen(t, "127.0.0.1:0")
	testnet.ServeConns(t, banner, func(c net.Conn) { io.WriteString(c, "SSH-2.0-OpenSSH_9.6\r\n") })

	bbAddr := freePort(t)
	startTool(t, "http://"+bbAddr+"/metrics", bb, "--config.file="+cfg, "--web.listen-address="+bbAddr)
	srv, err := New(context.Background(), Options{ConfigFile: cfg})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)

	for _, tc := range []struct {
		module, target string
		success        float64
		common         []string // metrics both must expose
	}{
		{"tcp_connect", open.Addr().String(), 1, []string{"probe_ip_protocol", "probe_ip_addr_hash", "probe_dns_lookup_time_seconds", "probe_failed_due_to_regex"}},
		{"tcp_connect", closed.String(), 0, []string{"probe_ip_protocol", "probe_failed_due_to_regex"}},
		{"tls_connect", good, 1, []string{"probe_ssl_earliest_cert_expiry", "probe_ssl_last_chain_info", "probe_tls_version_info", "probe_ssl_last_chain_expiry_timestamp_seconds"}},
		{"tls_connect", expired, 0, []string{"probe_ip_protocol"}},
		{"ping_pong", pingPong.Addr().String(), 1, []string{"probe_failed_due_to_regex"}},
		{"ping_pong", banner.Addr().String(), 0, []string{"probe_failed_due_to_regex"}},
		{"icmp", "127.0.0.1", 1, []string{"probe_icmp_duration_seconds", "probe_icmp_reply_hop_limit", "probe_ip_protocol", "probe_ip_addr_hash"}},
		{"dns_a", dns.Addr.String(), 1, []string{"probe_dns_duration_seconds", "probe_dns_answer_rrs", "probe_dns_authority_rrs", "probe_dns_additional_rrs", "probe_dns_query_succeeded"}},
		{"dns_nx", dns.Addr.String(), 0, []string{"probe_dns_answer_rrs", "probe_dns_query_succeeded"}},
	} {
		query := "/probe?module=" + tc.module + "&target=" + url.QueryEscape(tc.target)
		theirs := fetchMetrics(t, "http://"+bbAddr+query)
		ours := fetchMetrics(t, hs.URL+query)
		name := tc.module + " " + tc.target
		for _, m := range append([]string{"probe_success", "probe_duration_seconds"}, tc.common...) {
			if theirs[m] == nil || ours[m] == nil {
				t.Errorf("%s: %s missing (blackbox %v, netkit %v)", name, m, theirs[m] != nil, ours[m] != nil)
			}
		}
		for m, mf := range theirs {
			if ours[m] == nil || strings.HasPrefix(m, "go_") || strings.HasPrefix(m, "process_") {
				continue
			}
			if a, b := labelNames(mf), labelNames(ours[m]); !slices.Equal(a, b) {
				t.Errorf("%s: %s has labels %v in blackbox_exporter, %v in netkit", name, m, a, b)
			}
			if mf.GetType() != ours[m].GetType() {
				t.Errorf("%s: %s is a %v in blackbox_exporter, a %v in netkit", name, m, mf.GetType(), ours[m].GetType())
			}
		}
		if got, want := single(ours, "probe_success"), single(theirs, "probe_success"); got != want || got != tc.success {
			t.Errorf("%s: probe_success netkit %v, blackbox_exporter %v, want %v", name, got, want, tc.success)
		}
		for _, m := range []string{"probe_ip_protocol", "probe_ip_addr_hash", "probe_failed_due_to_regex", "probe_ssl_earliest_cert_expiry",
			"probe_dns_answer_rrs", "probe_dns_authority_rrs", "probe_dns_additional_rrs", "probe_dns_query_succeeded", "probe_icmp_reply_hop_limit"} {
			if theirs[m] != nil && ours[m] != nil && single(theirs, m) != single(ours, m) {
				t.Errorf("%s: %s netkit %v, blackbox_exporter %v", name, m, single(ours, m), single(theirs, m))
			}
		}
	}
}

// fetchMetrics gets a scrape and parses it.
func fetchMetrics(t *testing.T, u string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("%s: %d %s", u, resp.StatusCode, b)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("%s: %v", u, err)
	}
	return mfs
}

// labelNames lists the label names of a family's series, sorted.
func labelNames(mf *dto.MetricFamily) []string {
	var names []string
	for _, m := range mf.Metric {
		for _, l := range m.Label {
			if !slices.Contains(names, l.GetName()) {
				names = append(names, l.GetName())
			}
		}
	}
	slices.Sort(names)
	return names
}

// single is the value of a family's first series (-1 when absent).
func single(mfs map[string]*dto.MetricFamily, name string) float64 {
	mf := mfs[name]
	if mf == nil || len(mf.Metric) == 0 {
		return -1
	}
	m := mf.Metric[0]
	if m.Gauge != nil {
		return m.Gauge.GetValue()
	}
	return m.GetCounter().GetValue()
}
