package exporter

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/netkit/netkit/diag/probe"
	"github.com/netkit/netkit/internal/testcert"
)

// TestParseConfig reads every key netkit shares with blackbox.yml.
func TestParseConfig(t *testing.T) {
	dir := t.TempDir()
	ca := testcert.NewCA(t)
	writePEM(t, dir+"/ca.pem", "CERTIFICATE", ca.Cert.Raw)
	c, err := ParseConfig(context.Background(), []byte(`modules:
  tcp_tls:
    prober: tcp
    timeout: 4s
    tcp:
      preferred_ip_protocol: ip4
      ip_protocol_fallback: false
      tls: true
      tls_config:
        ca_file: ca.pem
        server_name: db.test
        insecure_skip_verify: false
  smtp_starttls:
    prober: tcp
    tcp:
      query_response:
        - expect: "^220 ([^ ]+)"
          send: "EHLO ${1}"
        - expect: "^250 "
        - send: STARTTLS
        - expect: "^220"
        - starttls: true
  ping:
    prober: icmp
    icmp:
      payload_size: 100
      dont_fragment: true
      ttl: 9
  ns:
    prober: dns
    dns:
      query_name: example.test
      query_type: AAAA
      valid_rcodes: [NOERROR, NXDOMAIN]
      transport_protocol: tcp
      validate_answer_rrs:
        fail_if_not_matches_regexp: ['example\.test\.\t']
  e:
    prober: echo
    echo:
      plaintext: true
  d:
    prober: diagnose
    diagnose:
      ping_count: 2
allow:
  - 10.0.0.0/8
  - 192.0.2.7
  - DB.test.
`), "netkit.yml", dir)
	if err != nil {
		t.Fatal(err)
	}
	tcp := c.Modules["tcp_tls"]
	if tcp.Prober != probe.TCP || tcp.Timeout != 4*time.Second || !tcp.PreferIPv4 || !tcp.NoFallback || !tcp.TLS ||
		tcp.Client.RootCAs == nil || tcp.Client.ServerName != "db.test" {
		t.Errorf("tcp_tls: %+v", tcp)
	}
	if qr := c.Modules["smtp_starttls"].QueryResponse; len(qr) != 5 || qr[0].Expect.String() != "^220 ([^ ]+)" || qr[0].Send != "EHLO ${1}" ||
		qr[2].Expect != nil || qr[2].Send != "STARTTLS" || !qr[4].StartTLS || qr[3].StartTLS {
		t.Errorf("smtp_starttls: %+v", qr)
	}
	if p := c.Modules["ping"]; p.ICMP.PayloadSize != 100 || p.ICMP.TTL != 9 || !p.ICMP.DontFragment {
		t.Errorf("ping: %+v", p)
	}
	ns := c.Modules["ns"].DNS
	if ns.QueryName != "example.test" || ns.QueryType != dns.TypeAAAA || !ns.TCP || len(ns.ValidRcodes) != 2 ||
		ns.ValidRcodes[1] != dns.RcodeNameError || len(ns.Answer.FailIfNotMatches) != 1 {
		t.Errorf("ns: %+v", ns)
	}
	if !c.Modules["e"].Plaintext || c.Modules["d"].PingCount != 2 {
		t.Errorf("echo/diagnose: %+v %+v", c.Modules["e"], c.Modules["d"])
	}
	if len(c.AllowNets) != 2 || c.AllowNets[1].String() != "192.0.2.7/32" || len(c.AllowHosts) != 1 || c.AllowHosts[0] != "db.test" {
		t.Errorf("allow: %v %v", c.AllowNets, c.AllowHosts)
	}
	if !strings.Contains(c.Source["ns"], "query_name: example.test") {
		t.Errorf("source of ns: %q", c.Source["ns"])
	}
}

// TestConfigRefusals checks that what netkit cannot do, and what is
// wrong, is refused with the line that says it.
func TestConfigRefusals(t *testing.T) {
	for _, tc := range []struct {
		yaml string
		want string
	}{
		{"modules:\n  http_2xx:\n    prober: http\n", "netkit.yml:3: modules.http_2xx.prober: netkit cannot do this: netkit has no http prober"},
		{"modules:\n  a:\n    prober: tcp\n    tcp:\n      query_response:\n        - expect: '('\n", "netkit.yml:6: modules.a.tcp.query_response[0].expect: error parsing regexp"},
		{"modules:\n  a:\n    prober: tcp\n    tcp:\n      query_response:\n        - expect: x\n          labels: []\n", "netkit.yml:7: modules.a.tcp.query_response[0].labels: netkit cannot do this"},
		{"modules:\n  a:\n    prober: tcp\n    tcp:\n      query_response:\n        - {}\n", "netkit.yml:6: modules.a.tcp.query_response[0]: an empty step"},
		{"modules:\n  a:\n    prober: tcp\n    tcp:\n      query_response: STARTTLS\n", "netkit.yml:5: modules.a.tcp.query_response: want a list"},
		{"modules:\n  a:\n    prober: tcp\n    tcp:\n      tls: true\n      query_response:\n        - starttls: true\n", "modules.a.tcp.query_response: starttls upgrades a plaintext connection"},
		{"modules:\n  a:\n    prober: tcp\n    http:\n      method: GET\n", "netkit.yml:4: modules.a.http: netkit cannot do this"},
		{"modules:\n  a:\n    prober: icmp\n    icmp:\n      dont_fragment: yes please\n", "netkit.yml:5: modules.a.icmp.dont_fragment: want true or false"},
		{"modules:\n  a:\n    prober: icmp\n    icmp:\n      ttl: 300\n", "netkit.yml:5: modules.a.icmp.ttl: want a whole number from 1 to 255"},
		{"modules:\n  a:\n    prober: tcp\n    timeout: fast\n", "netkit.yml:4: modules.a.timeout: want a positive duration"},
		{"modules:\n  a:\n    prober: tcp\n    tcp:\n      tls: maybe\n", "netkit.yml:5: modules.a.tcp.tls: want true or false"},
		{"modules:\n  a:\n    prober: tcp\n    tcp:\n      preferred_ip_protocol: ip5\n", "netkit.yml:5: modules.a.tcp.preferred_ip_protocol: want ip4 or ip6"},
		{"modules:\n  a:\n    prober: tcp\n    icmp:\n      ttl: 3\n", "netkit.yml:5: modules.a.icmp: a icmp section in a module whose prober is tcp"},
		{"modules:\n  a:\n    prober: dns\n", "modules.a.dns.query_name: the dns prober needs a query_name"},
		{"modules:\n  a:\n    prober: dns\n    dns:\n      query_name: x\n      query_type: BOGUS\n", "netkit.yml:6: modules.a.dns.query_type: unknown record type"},
		{"modules:\n  a:\n    prober: dns\n    dns:\n      query_name: x\n      valid_rcodes: [NOPE]\n", "netkit.yml:6: modules.a.dns.valid_rcodes[0]: unknown response code"},
		{"modules:\n  a:\n    prober: dns\n    dns:\n      query_name: x\n      validate_answer_rrs:\n        fail_if_matches_regexp: ['(']\n", "netkit.yml:7: modules.a.dns.validate_answer_rrs.fail_if_matches_regexp[0]: error parsing regexp"},
		{"modules:\n  a:\n    prober: tcp\n    tcp:\n      tls_config:\n        ca_file: /nonexistent/ca.pem\n", "netkit.yml:6: modules.a.tcp.tls_config.ca_file"},
		{"modules:\n  a:\n    prober: tcp\n    tcp:\n      tls_config:\n        cert_file: c.pem\n", "netkit.yml:6: modules.a.tcp.tls_config: cert_file and key_file go together"},
		{"modules:\n  a:\n    prober: tcp\n    tiemout: 5s\n", "netkit.yml:4: modules.a.tiemout: unknown key"},
		{"modules:\n  a:\n    timeout: 5s\n", "netkit.yml:3: modules.a: no prober"},
		{"modules:\n  a:\n    prober: tcp\n  a:\n    prober: icmp\n", "netkit.yml:4: modules.a: given twice"},
		{"modules: {}\n", "no module"},
		{"", "empty configuration"},
		{"modules:\n  a: [\n", "netkit.yml:2: did not find expected node content"},
		{"allow:\n  - 10.0.0.0/33\n", "netkit.yml:2: allow[0]"},
		{"scrape_configs: []\n", "netkit.yml:1: scrape_configs: unknown key"},
	} {
		_, err := ParseConfig(context.Background(), []byte(tc.yaml), "netkit.yml", t.TempDir())
		var ce *ConfigError
		if !errors.As(err, &ce) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err %v, want a *ConfigError with %q", tc.yaml, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "\n") {
			t.Errorf("%q: the error is not one line: %q", tc.yaml, err)
		}
	}
}

// TestBlackboxExample points netkit at the blackbox.yml Debian's
// prometheus-blackbox-exporter installs: its http_2xx module is refused
// with its line, as the issue asks, rather than ignored.
func TestBlackboxExample(t *testing.T) {
	data, err := os.ReadFile("/etc/prometheus/blackbox.yml")
	if err != nil {
		t.Skipf("no blackbox.yml: %v", err)
	}
	_, err = ParseConfig(context.Background(), data, "blackbox.yml", "/etc/prometheus")
	if err == nil || !strings.Contains(err.Error(), "blackbox.yml:3: modules.http_2xx.prober: netkit cannot do this") {
		t.Errorf("err %v", err)
	}
}

func TestDefaultConfig(t *testing.T) {
	c := DefaultConfig()
	for name, p := range map[string]probe.Prober{"tcp_connect": probe.TCP, "icmp": probe.ICMP, "dns_udp": probe.DNS,
		"echo": probe.Echo, "diagnose": probe.Diagnose} {
		if c.Modules[name].Prober != p {
			t.Errorf("built-in module %s: %+v", name, c.Modules[name])
		}
	}
	if !c.Modules["tls_connect"].TLS || c.Modules["icmp_ttl5"].ICMP.TTL != 5 || !c.Modules["dns_tcp"].DNS.TCP {
		t.Errorf("built-in modules: %+v", c.Modules)
	}
}

// FuzzParseConfig checks that no input makes the parser panic, and that
// every refusal is a one-line *ConfigError.
func FuzzParseConfig(f *testing.F) {
	f.Add([]byte(DefaultConfigYAML))
	f.Add([]byte("modules:\n  a:\n    prober: dns\n    dns:\n      query_name: x\n      valid_rcodes: [NOERROR]\n"))
	f.Add([]byte("modules:\n  a: &x\n    prober: tcp\n  b: *x\n"))
	f.Add([]byte("modules:\n  a:\n    <<: {prober: tcp}\n"))
	f.Add([]byte("allow: [127.0.0.1, ::1/128, host.test]\nmodules: {a: {prober: icmp}}\n"))
	f.Add([]byte("modules:\n  a:\n    prober: tcp\n    tcp:\n      query_response:\n        - expect: '^220 ([^ ]+)'\n          send: 'EHLO ${1}'\n        - starttls: true\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseConfig(context.Background(), data, "fuzz.yml", t.TempDir())
		if err != nil {
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("err %T %v is not a *ConfigError", err, err)
			}
			return
		}
		if len(c.Modules) == 0 {
			t.Fatal("a configuration without modules was accepted")
		}
	})
}
