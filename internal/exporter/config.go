package exporter

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/netip"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/miekg/dns"
	"go.yaml.in/yaml/v3"

	"github.com/netkit/netkit/diag/probe"
	"github.com/netkit/netkit/echo"
	"github.com/netkit/netkit/fileread"
	"github.com/netkit/netkit/resolve"
)

// Config is a loaded configuration: the modules by name, and what the
// exporter may probe.
type Config struct {
	Modules map[string]probe.Module
	// Source is each module's configuration as YAML, for debug=true.
	Source map[string]string
	// AllowNets and AllowHosts are the config's allow list: networks and
	// addresses, and host names whose targets may be probed.
	AllowNets  []netip.Prefix
	AllowHosts []string
}

// ConfigError is a configuration the exporter cannot use, with the line
// of the file that says it.
type ConfigError struct {
	File string
	Line int
	// Path is where in the document, such as "modules.tcp_tls.tcp.tls".
	Path string
	Msg  string
}

func (e *ConfigError) Error() string {
	where := e.File
	if e.Line > 0 {
		where += ":" + strconv.Itoa(e.Line)
	}
	if e.Path != "" {
		return fmt.Sprintf("%s: %s: %s", where, e.Path, e.Msg)
	}
	return fmt.Sprintf("%s: %s", where, e.Msg)
}

// DefaultConfigYAML is the configuration without --config: the modules of
// blackbox_exporter's example configuration that netkit does, under the
// same names, and netkit's own.
const DefaultConfigYAML = `modules:
  tcp_connect:
    prober: tcp
  tls_connect:
    prober: tcp
    tcp:
      tls: true
  icmp:
    prober: icmp
  icmp_ttl5:
    prober: icmp
    timeout: 5s
    icmp:
      ttl: 5
  dns_udp:
    prober: dns
    dns:
      query_name: "."
      query_type: SOA
  dns_tcp:
    prober: dns
    dns:
      query_name: "."
      query_type: SOA
      transport_protocol: tcp
  echo:
    prober: echo
  echo_plaintext:
    prober: echo
    echo:
      plaintext: true
  diagnose:
    prober: diagnose
`

// DefaultConfig returns the configuration without --config.
func DefaultConfig() *Config {
	c, err := ParseConfig(context.Background(), []byte(DefaultConfigYAML), "(built-in)", ".")
	if err != nil {
		panic(err) // the built-in configuration is tested
	}
	return c
}

// maxConfigSize is the largest configuration file LoadConfig reads.
const maxConfigSize = 4 << 20

// LoadConfig reads and checks the configuration file at path (at most 4
// MiB), and the files it names, while ctx lasts.
func LoadConfig(ctx context.Context, path string) (*Config, error) {
	data, err := fileread.ReadAll(ctx, path, maxConfigSize)
	if err != nil {
		return nil, err
	}
	return ParseConfig(ctx, data, path, filepath.Dir(path))
}

// ParseConfig parses a configuration in blackbox.yml's shape. name names
// it in errors; relative file names in it are relative to dir. Whatever
// netkit cannot do (the http and grpc probers, a source address, …) is refused with its line, rather than ignored.
func ParseConfig(ctx context.Context, data []byte, name, dir string) (*Config, error) {
	p := &parser{ctx: ctx, file: name, dir: dir}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		line := yamlErrorLine(err)
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		msg = strings.TrimPrefix(msg, "line "+strconv.Itoa(line)+": ")
		return nil, &ConfigError{File: name, Line: line, Msg: oneLine(msg)}
	}
	c := &Config{Modules: map[string]probe.Module{}, Source: map[string]string{}}
	if len(doc.Content) == 0 {
		return nil, &ConfigError{File: name, Msg: "empty configuration: want a modules: mapping"}
	}
	root := doc.Content[0]
	err := p.mapping(root, "", map[string]func(*yaml.Node, string) error{
		"modules": func(n *yaml.Node, path string) error {
			return p.each(n, path, func(k, v *yaml.Node, path string) error {
				m, err := p.module(v, path)
				if err != nil {
					return err
				}
				src, _ := yaml.Marshal(v)
				c.Modules[k.Value], c.Source[k.Value] = m, string(src)
				return nil
			})
		},
		"allow": func(n *yaml.Node, path string) error {
			return p.list(n, path, func(v *yaml.Node, path string) error {
				pr, err := parsePrefix(v.Value)
				switch {
				case err == nil:
					c.AllowNets = append(c.AllowNets, pr)
					return nil
				case strings.Contains(v.Value, "/") || resolve.IsNumericHost(v.Value):
					return p.errorf(v, path, "invalid network %q: %v", v.Value, err)
				}
				if err := resolve.CheckName(v.Value); err != nil {
					return p.errorf(v, path, "%q is neither a network (CIDR), an address nor a host name", v.Value)
				}
				c.AllowHosts = append(c.AllowHosts, strings.ToLower(strings.TrimSuffix(v.Value, ".")))
				return nil
			})
		},
	})
	if err != nil {
		return nil, err
	}
	if len(c.Modules) == 0 {
		return nil, &ConfigError{File: name, Line: root.Line, Msg: "no module: want a modules: mapping with at least one module"}
	}
	return c, nil
}

// oneLine folds a multi-line message onto one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// parsePrefix parses a network (10.0.0.0/8) or a single address.
func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		return p.Masked(), err
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// yamlErrorLine finds the line number in a yaml syntax error ("yaml: line
// 3: …"), 0 when it has none.
func yamlErrorLine(err error) int {
	_, rest, ok := strings.Cut(err.Error(), "line ")
	if !ok {
		return 0
	}
	n, _, _ := strings.Cut(rest, ":")
	line, _ := strconv.Atoi(n)
	return line
}

// parser walks the YAML tree, keeping the file and directory for errors
// and relative paths.
type parser struct {
	ctx       context.Context // bounds the reads of the files the config names
	file, dir string
}

func (p *parser) errorf(n *yaml.Node, path, format string, a ...any) error {
	return &ConfigError{File: p.file, Line: n.Line, Path: path, Msg: fmt.Sprintf(format, a...)}
}

// deref follows an alias (*name) to its node.
func deref(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

// each calls fn for every key and value of the mapping n.
func (p *parser) each(n *yaml.Node, path string, fn func(k, v *yaml.Node, path string) error) error {
	n = deref(n)
	if n.Kind != yaml.MappingNode {
		if n.Tag == "!!null" {
			return nil
		}
		return p.errorf(n, path, "want a mapping (key: value lines)")
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], deref(n.Content[i+1])
		sub := k.Value
		if path != "" {
			sub = path + "." + k.Value
		}
		switch {
		case k.Value == "<<":
			return p.errorf(k, sub, "merge keys (<<) are not supported")
		case seen[k.Value]:
			return p.errorf(k, sub, "given twice")
		}
		seen[k.Value] = true
		if err := fn(k, v, sub); err != nil {
			return err
		}
	}
	return nil
}

// mapping reads the mapping n with a handler per known key; any other key
// is refused with its line.
func (p *parser) mapping(n *yaml.Node, path string, keys map[string]func(*yaml.Node, string) error) error {
	return p.each(n, path, func(k, v *yaml.Node, sub string) error {
		h, ok := keys[k.Value]
		if !ok {
			if why, known := unsupported[k.Value]; known {
				return p.errorf(k, sub, "netkit cannot do this: %s", why)
			}
			return p.errorf(k, sub, "unknown key (known here: %s)", strings.Join(sortedKeys(keys), ", "))
		}
		return h(v, sub)
	})
}

// unsupported are blackbox_exporter settings netkit knows but cannot do,
// with why.
var unsupported = map[string]string{
	"http":               "netkit has no http prober",
	"grpc":               "netkit has no grpc prober",
	"labels":             "netkit's query_response has no probe_expect_info",
	"source_ip_address":  "probes leave from the address the route picks",
	"dns_over_tls":       "the dns prober asks over UDP or TCP only",
	"query_class":        "the dns prober asks class IN only",
	"recursion_desired":  "the dns prober always sets RD",
	"ca":                 "give the CA as ca_file",
	"cert":               "give the certificate as cert_file",
	"key":                "give the key as key_file",
	"min_version":        "TLS 1.2 is the least netkit offers",
	"max_version":        "netkit offers every TLS version from 1.2 on",
	"hop_limit":          "use ttl",
	"payload_size_bytes": "use payload_size",
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// list calls fn for every item of the sequence n.
func (p *parser) list(n *yaml.Node, path string, fn func(*yaml.Node, string) error) error {
	if n.Kind != yaml.SequenceNode {
		return p.errorf(n, path, "want a list")
	}
	for i, v := range n.Content {
		v = deref(v)
		if v.Kind != yaml.ScalarNode {
			return p.errorf(v, fmt.Sprintf("%s[%d]", path, i), "want a single value")
		}
		if err := fn(v, fmt.Sprintf("%s[%d]", path, i)); err != nil {
			return err
		}
	}
	return nil
}

func (p *parser) str(n *yaml.Node, path string, dst *string) error {
	if n.Kind != yaml.ScalarNode {
		return p.errorf(n, path, "want a single value")
	}
	*dst = n.Value
	return nil
}

func (p *parser) boolean(n *yaml.Node, path string, dst *bool) error {
	if n.Kind != yaml.ScalarNode || n.Decode(dst) != nil {
		return p.errorf(n, path, "want true or false, not %q", n.Value)
	}
	return nil
}

func (p *parser) integer(n *yaml.Node, path string, lo, hi int, dst *int) error {
	v, err := strconv.Atoi(n.Value)
	if n.Kind != yaml.ScalarNode || err != nil || v < lo || v > hi {
		return p.errorf(n, path, "want a whole number from %d to %d, not %q", lo, hi, n.Value)
	}
	*dst = v
	return nil
}

// module reads one module.
func (p *parser) module(n *yaml.Node, path string) (probe.Module, error) {
	var m probe.Module
	var prober string
	sections := map[string]*yaml.Node{}
	section := func(name string) func(*yaml.Node, string) error {
		return func(v *yaml.Node, _ string) error {
			sections[name] = v
			return nil
		}
	}
	err := p.mapping(n, path, map[string]func(*yaml.Node, string) error{
		"prober": func(v *yaml.Node, sub string) error {
			if err := p.str(v, sub, &prober); err != nil {
				return err
			}
			if !slices.Contains(probe.Probers, probe.Prober(prober)) {
				names := make([]string, len(probe.Probers))
				for i, pr := range probe.Probers {
					names[i] = string(pr)
				}
				if why, ok := unsupported[prober]; ok {
					return p.errorf(v, sub, "netkit cannot do this: %s (it has %s)", why, strings.Join(names, ", "))
				}
				return p.errorf(v, sub, "unknown prober %q (netkit has %s)", prober, strings.Join(names, ", "))
			}
			m.Prober = probe.Prober(prober)
			return nil
		},
		"timeout": func(v *yaml.Node, sub string) error {
			d, err := time.ParseDuration(v.Value)
			if err != nil || d <= 0 {
				return p.errorf(v, sub, "want a positive duration such as 5s, not %q", v.Value)
			}
			m.Timeout = d
			return nil
		},
		"tcp": section("tcp"), "icmp": section("icmp"), "dns": section("dns"),
		"echo": section("echo"), "diagnose": section("diagnose"),
	})
	if err != nil {
		return m, err
	}
	if m.Prober == "" {
		return m, p.errorf(n, path, "no prober: want prober: one of icmp, tcp, dns, echo, diagnose")
	}
	for name, v := range sections {
		if name != prober {
			return m, p.errorf(v, path+"."+name, "a %s section in a module whose prober is %s", name, prober)
		}
	}
	v := sections[prober]
	if v == nil {
		v = &yaml.Node{Kind: yaml.MappingNode, Line: n.Line}
	}
	sub := path + "." + prober
	keys := p.ipKeys(&m)
	switch m.Prober {
	case probe.TCP:
		keys["tls"] = func(v *yaml.Node, s string) error { return p.boolean(v, s, &m.TLS) }
		keys["tls_config"] = p.tlsConfig(&m.Client)
		keys["query_response"] = func(v *yaml.Node, s string) error { return p.queryResponse(v, s, &m.QueryResponse) }
	case probe.ICMP:
		keys["payload_size"] = func(v *yaml.Node, s string) error {
			return p.integer(v, s, 24, 65507, &m.ICMP.PayloadSize)
		}
		keys["ttl"] = func(v *yaml.Node, s string) error { return p.integer(v, s, 1, 255, &m.ICMP.TTL) }
		keys["dont_fragment"] = func(v *yaml.Node, s string) error { return p.boolean(v, s, &m.ICMP.DontFragment) }
	case probe.DNS:
		p.dnsKeys(keys, &m.DNS)
	case probe.Echo, probe.Diagnose:
		keys["plaintext"] = func(v *yaml.Node, s string) error { return p.boolean(v, s, &m.Plaintext) }
		keys["tls_config"] = p.tlsConfig(&m.Client)
		if m.Prober == probe.Diagnose {
			keys["ping_count"] = func(v *yaml.Node, s string) error { return p.integer(v, s, 1, 10, &m.PingCount) }
		}
	}
	if err := p.mapping(v, sub, keys); err != nil {
		return m, err
	}
	if m.Prober == probe.DNS && m.DNS.QueryName == "" {
		return m, p.errorf(v, sub+".query_name", "the dns prober needs a query_name")
	}
	if m.TLS && slices.ContainsFunc(m.QueryResponse, func(qr probe.QueryResponse) bool { return qr.StartTLS }) {
		return m, p.errorf(v, sub+".query_response", "starttls upgrades a plaintext connection, but tls: true speaks TLS from the connect")
	}
	return m, nil
}

// queryResponse reads a tcp section's query_response list into dst.
func (p *parser) queryResponse(n *yaml.Node, path string, dst *[]probe.QueryResponse) error {
	if n.Kind != yaml.SequenceNode {
		return p.errorf(n, path, "want a list of steps (expect, send, starttls)")
	}
	for i, item := range n.Content {
		item, sub := deref(item), fmt.Sprintf("%s[%d]", path, i)
		var qr probe.QueryResponse
		err := p.mapping(item, sub, map[string]func(*yaml.Node, string) error{
			"expect": func(v *yaml.Node, s string) error {
				var expr string
				if err := p.str(v, s, &expr); err != nil {
					return err
				}
				re, err := regexp.Compile(expr)
				if err != nil {
					return p.errorf(v, s, "%v", err)
				}
				qr.Expect = re
				return nil
			},
			"send":     func(v *yaml.Node, s string) error { return p.str(v, s, &qr.Send) },
			"starttls": func(v *yaml.Node, s string) error { return p.boolean(v, s, &qr.StartTLS) },
		})
		if err != nil {
			return err
		}
		if qr == (probe.QueryResponse{}) {
			return p.errorf(item, sub, "an empty step: want expect, send or starttls")
		}
		*dst = append(*dst, qr)
	}
	return nil
}

// ipKeys are the keys every prober section has: the address family.
func (p *parser) ipKeys(m *probe.Module) map[string]func(*yaml.Node, string) error {
	return map[string]func(*yaml.Node, string) error{
		"preferred_ip_protocol": func(v *yaml.Node, s string) error {
			switch strings.ToLower(v.Value) {
			case "ip4", "ipv4":
				m.PreferIPv4 = true
			case "ip6", "ipv6", "":
				m.PreferIPv4 = false
			default:
				return p.errorf(v, s, "want ip4 or ip6, not %q", v.Value)
			}
			return nil
		},
		"ip_protocol_fallback": func(v *yaml.Node, s string) error {
			fallback := true
			if err := p.boolean(v, s, &fallback); err != nil {
				return err
			}
			m.NoFallback = !fallback
			return nil
		},
	}
}

// tlsConfig reads a tls_config section, loading its files.
func (p *parser) tlsConfig(c *echo.ClientOptions) func(*yaml.Node, string) error {
	return func(n *yaml.Node, path string) error {
		var ca, cert, key string
		var certNode *yaml.Node
		err := p.mapping(n, path, map[string]func(*yaml.Node, string) error{
			"ca_file": func(v *yaml.Node, s string) error { return p.str(v, s, &ca) },
			"cert_file": func(v *yaml.Node, s string) error {
				certNode = v
				return p.str(v, s, &cert)
			},
			"key_file":             func(v *yaml.Node, s string) error { return p.str(v, s, &key) },
			"server_name":          func(v *yaml.Node, s string) error { return p.str(v, s, &c.ServerName) },
			"insecure_skip_verify": func(v *yaml.Node, s string) error { return p.boolean(v, s, &c.InsecureSkipVerify) },
		})
		if err != nil {
			return err
		}
		if ca != "" {
			pool, err := echo.LoadCertPool(p.ctx, p.abs(ca))
			if err != nil {
				return p.errorf(n, path+".ca_file", "%v", err)
			}
			c.RootCAs = pool
		}
		switch {
		case cert != "" && key != "":
			kp, err := echo.LoadKeyPair(p.ctx, p.abs(cert), p.abs(key))
			if err != nil {
				return p.errorf(certNode, path+".cert_file", "%v", err)
			}
			c.Certificates = []tls.Certificate{kp.Certificate}
		case cert != "" || key != "":
			return p.errorf(n, path, "cert_file and key_file go together")
		}
		return nil
	}
}

// abs makes a file name relative to the configuration's directory.
func (p *parser) abs(name string) string {
	if filepath.IsAbs(name) {
		return name
	}
	return filepath.Join(p.dir, name)
}

// dnsKeys adds the keys of a dns section.
func (p *parser) dnsKeys(keys map[string]func(*yaml.Node, string) error, o *probe.DNSOptions) {
	keys["query_name"] = func(v *yaml.Node, s string) error { return p.str(v, s, &o.QueryName) }
	keys["query_type"] = func(v *yaml.Node, s string) error {
		t, ok := dns.StringToType[strings.ToUpper(v.Value)]
		if !ok {
			return p.errorf(v, s, "unknown record type %q", v.Value)
		}
		o.QueryType = t
		return nil
	}
	keys["transport_protocol"] = func(v *yaml.Node, s string) error {
		switch strings.ToLower(v.Value) {
		case "udp", "":
			o.TCP = false
		case "tcp":
			o.TCP = true
		default:
			return p.errorf(v, s, "want udp or tcp, not %q", v.Value)
		}
		return nil
	}
	keys["valid_rcodes"] = func(n *yaml.Node, s string) error {
		return p.list(n, s, func(v *yaml.Node, s string) error {
			rc, ok := dns.StringToRcode[strings.ToUpper(v.Value)]
			if !ok {
				return p.errorf(v, s, "unknown response code %q (NOERROR, NXDOMAIN, SERVFAIL, REFUSED, …)", v.Value)
			}
			o.ValidRcodes = append(o.ValidRcodes, rc)
			return nil
		})
	}
	for key, dst := range map[string]*probe.RRChecks{
		"validate_answer_rrs": &o.Answer, "validate_authority_rrs": &o.Authority, "validate_additional_rrs": &o.Additional,
	} {
		keys[key] = func(n *yaml.Node, s string) error {
			re := func(dst *[]*regexp.Regexp) func(*yaml.Node, string) error {
				return func(n *yaml.Node, s string) error {
					return p.list(n, s, func(v *yaml.Node, s string) error {
						r, err := regexp.Compile(v.Value)
						if err != nil {
							return p.errorf(v, s, "%v", err)
						}
						*dst = append(*dst, r)
						return nil
					})
				}
			}
			return p.mapping(n, s, map[string]func(*yaml.Node, string) error{
				"fail_if_matches_regexp":      re(&dst.FailIfMatches),
				"fail_if_all_match_regexp":    re(&dst.FailIfAllMatch),
				"fail_if_not_matches_regexp":  re(&dst.FailIfNotMatches),
				"fail_if_none_matches_regexp": re(&dst.FailIfNoneMatches),
			})
		}
	}
}
