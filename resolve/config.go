package resolve

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"
)

// Default paths of the files glibc's resolver reads.
const (
	DefaultResolvConfPath = "/etc/resolv.conf"
	DefaultNSSwitchPath   = "/etc/nsswitch.conf"
)

// glibc's limits and defaults (resolv.h).
const (
	maxNameservers  = 3 // MAXNS: later nameserver lines are ignored
	defaultNdots    = 1
	maxNdots        = 15
	defaultTimeout  = 5 * time.Second
	maxTimeout      = 30 * time.Second
	defaultAttempts = 2
	maxAttempts     = 5
)

// Config is what the resolver will do: resolv.conf (with the LOCALDOMAIN and
// RES_OPTIONS environment variables applied, as glibc does) and the hosts
// line of nsswitch.conf.
type Config struct {
	ResolvConf string `json:"resolv_conf"`
	// Nameservers are asked in order. With "options rotate" (Rotate) each
	// question starts at the next server, from a random one, as in glibc.
	Nameservers []netip.AddrPort `json:"nameservers"`
	// DefaultNameserver is true when resolv.conf names none, so glibc asks
	// 127.0.0.1:53.
	DefaultNameserver bool `json:"default_nameserver"`
	// Search is the search list appended to names with fewer than Ndots dots.
	Search []string `json:"search"`
	// SearchSource says where Search came from: "search", "domain",
	// "LOCALDOMAIN" or "hostname" (glibc's fallback: the domain of the
	// machine's host name).
	SearchSource string  `json:"search_source,omitempty"`
	Ndots        int     `json:"ndots"`
	TimeoutMS    float64 `json:"timeout_ms"`
	Attempts     int     `json:"attempts"`
	Rotate       bool    `json:"rotate"`
	UseTCP       bool    `json:"use_vc"`
	EDNS0        bool    `json:"edns0"`
	// NoAAAA is "options no-aaaa" (glibc 2.36): DNS is asked no AAAA
	// question; the hosts file's IPv6 lines still count.
	NoAAAA bool `json:"no_aaaa"`
	// Options lists every option in effect, as written.
	Options []string `json:"options"`

	NSSwitch string `json:"nsswitch_conf"`
	// HostsOrder is the hosts line of nsswitch.conf: the sources asked, in
	// order, with their [STATUS=action] criteria.
	HostsOrder []Source `json:"hosts_order"`

	// Notes are things worth knowing: ignored lines, unknown options,
	// missing files and the defaults used instead.
	Notes []string `json:"notes"`
}

// Timeout is the per-query timeout.
func (c *Config) Timeout() time.Duration {
	return time.Duration(c.TimeoutMS * float64(time.Millisecond))
}

// Source is one service on the hosts line of nsswitch.conf.
type Source struct {
	Name string `json:"name"`
	// Criteria are the [STATUS=action] items after it, e.g. "NOTFOUND=return".
	Criteria []string `json:"criteria"`
	// Supported reports whether netkit follows this source; it follows
	// "files" and "dns" and reports the others as skipped.
	Supported bool `json:"supported"`
}

// returnsOn reports whether the source's criteria end the lookup on status
// ("SUCCESS", "NOTFOUND", "UNAVAIL", "TRYAGAIN"). By default glibc returns on
// SUCCESS and continues on the others.
func (s Source) returnsOn(status string) bool {
	ret := status == "SUCCESS"
	for _, c := range s.Criteria {
		neg := strings.HasPrefix(c, "!")
		st, action, ok := strings.Cut(strings.TrimPrefix(c, "!"), "=")
		if !ok {
			continue
		}
		if (strings.EqualFold(st, status)) != neg {
			ret = strings.EqualFold(action, "return")
		}
	}
	return ret
}

// ConfigPaths names the files LoadConfig reads; empty fields take the
// defaults.
type ConfigPaths struct {
	ResolvConf string
	NSSwitch   string
	// Hostname is the machine's host name, for the search list fallback;
	// empty asks os.Hostname.
	Hostname string
	// Env looks up LOCALDOMAIN and RES_OPTIONS; nil uses os.Getenv.
	Env func(string) string
}

// LoadConfig reads resolv.conf and nsswitch.conf. A missing file is not an
// error: glibc then uses its defaults, and so does LoadConfig, with a note.
// A file that exists but cannot be read (a directory, no permission) is a
// *FileError: glibc would silently use its defaults there too, and answer
// differently from what the file says.
func LoadConfig(p ConfigPaths) (*Config, error) {
	if p.ResolvConf == "" {
		p.ResolvConf = DefaultResolvConfPath
	}
	if p.NSSwitch == "" {
		p.NSSwitch = DefaultNSSwitchPath
	}
	if p.Env == nil {
		p.Env = os.Getenv
	}
	if p.Hostname == "" {
		p.Hostname, _ = os.Hostname()
	}
	c := &Config{ResolvConf: p.ResolvConf, NSSwitch: p.NSSwitch}
	found, err := readOptional("resolv.conf", p.ResolvConf, c.parseResolvConf)
	if err != nil {
		return nil, err
	}
	if !found {
		c.Notes = append(c.Notes, p.ResolvConf+" does not exist: glibc's defaults apply")
	}
	c.applyDefaults(p)
	if _, err := readOptional("nsswitch.conf", p.NSSwitch, c.parseNSSwitch); err != nil {
		return nil, err
	}
	// Empty lists stay lists in JSON.
	if c.Search == nil {
		c.Search = []string{}
	}
	if c.Options == nil {
		c.Options = []string{}
	}
	if c.HostsOrder == nil {
		c.HostsOrder = defaultHostsOrder()
		c.Notes = append(c.Notes, "no hosts line in "+p.NSSwitch+": glibc's default 'dns [!UNAVAIL=return] files' applies")
	}
	for i := range c.HostsOrder {
		if c.HostsOrder[i].Criteria == nil {
			c.HostsOrder[i].Criteria = []string{}
		}
	}
	if c.Notes == nil {
		c.Notes = []string{}
	}
	return c, nil
}

// readOptional calls parse with the file's content and reports whether the
// file exists; a file that exists but cannot be read is a *FileError naming
// it as what.
func readOptional(what, path string, parse func(io.Reader) error) (bool, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err == nil {
		defer f.Close()
		err = parse(io.LimitReader(f, 1<<20))
	}
	if err != nil {
		return true, &FileError{What: what, Path: path, Err: err}
	}
	return true, nil
}

// ParseResolvConf parses resolv.conf content alone, with no environment,
// defaults or nsswitch.conf: for tests and fuzzing. The error is the
// reader's.
func ParseResolvConf(r io.Reader) (*Config, error) {
	c := &Config{}
	return c, c.parseResolvConf(r)
}

func (c *Config) parseResolvConf(r io.Reader) error {
	c.Ndots, c.TimeoutMS, c.Attempts = defaultNdots, float64(defaultTimeout/time.Millisecond), defaultAttempts
	return eachLine(r, func(n int, b []byte, tooLong bool) {
		if tooLong {
			c.Notes = append(c.Notes, fmt.Sprintf("line %d: longer than %d bytes; netkit skipped it", n, maxHostsLine))
			return
		}
		line := string(b)
		if i := strings.IndexAny(line, "#;"); i >= 0 {
			line = line[:i]
		}
		f := strings.Fields(line)
		if len(f) == 0 {
			return
		}
		switch f[0] {
		case "nameserver":
			c.addNameserver(n, f[1:])
		case "domain":
			if len(f) > 1 {
				c.Search, c.SearchSource = []string{f[1]}, "domain"
			}
		case "search":
			c.Search, c.SearchSource = f[1:], "search"
		case "options":
			c.applyOptions(f[1:], fmt.Sprintf("line %d", n))
		case "sortlist":
			c.Notes = append(c.Notes, fmt.Sprintf("line %d: sortlist is read by glibc for gethostbyname only; netkit ignores it", n))
		default:
			c.Notes = append(c.Notes, fmt.Sprintf("line %d: unknown keyword %q is ignored", n, f[0]))
		}
	})
}

func (c *Config) addNameserver(line int, args []string) {
	if len(args) == 0 {
		c.Notes = append(c.Notes, fmt.Sprintf("line %d: nameserver without an address is ignored", line))
		return
	}
	a, err := netip.ParseAddr(args[0])
	if err != nil {
		c.Notes = append(c.Notes, fmt.Sprintf("line %d: nameserver %q is not an IP address and is ignored", line, args[0]))
		return
	}
	if len(c.Nameservers) >= maxNameservers {
		c.Notes = append(c.Notes, fmt.Sprintf("line %d: nameserver %s is ignored: glibc uses the first %d only", line, a, maxNameservers))
		return
	}
	c.Nameservers = append(c.Nameservers, netip.AddrPortFrom(a, 53))
}

// applyOptions applies "options" items; where names the origin for notes.
func (c *Config) applyOptions(opts []string, where string) {
	for _, o := range opts {
		name, val, hasVal := strings.Cut(o, ":")
		num := func(lo, hi int) (int, bool) {
			n, err := strconv.Atoi(val)
			if !hasVal || err != nil || n < lo {
				c.Notes = append(c.Notes, fmt.Sprintf("%s: option %q needs a number; ignored", where, o))
				return 0, false
			}
			return min(n, hi), true
		}
		switch name {
		case "ndots":
			if n, ok := num(0, maxNdots); ok {
				c.Ndots = n
			}
		case "timeout":
			if n, ok := num(1, int(maxTimeout/time.Second)); ok {
				c.TimeoutMS = float64(n * 1000)
			}
		case "attempts":
			if n, ok := num(1, maxAttempts); ok {
				c.Attempts = n
			}
		case "rotate":
			c.Rotate = true
		case "use-vc":
			c.UseTCP = true
		case "edns0":
			c.EDNS0 = true
		case "no-aaaa":
			c.NoAAAA = true
		case "debug", "inet6", "single-request", "single-request-reopen", "no-check-names",
			"no-tld-query", "no-reload", "trust-ad", "ip6-bytestring", "ip6-dotint", "no-ip6-dotint":
		default:
			c.Notes = append(c.Notes, fmt.Sprintf("%s: unknown option %q is ignored", where, o))
			continue
		}
		c.Options = append(c.Options, o)
	}
}

func (c *Config) applyDefaults(p ConfigPaths) {
	if c.Ndots == 0 && c.TimeoutMS == 0 {
		c.Ndots, c.TimeoutMS, c.Attempts = defaultNdots, float64(defaultTimeout/time.Millisecond), defaultAttempts
	}
	if ld := p.Env("LOCALDOMAIN"); ld != "" {
		c.Search, c.SearchSource = strings.Fields(ld), "LOCALDOMAIN"
	}
	if ro := p.Env("RES_OPTIONS"); ro != "" {
		c.applyOptions(strings.Fields(ro), "RES_OPTIONS")
	}
	if len(c.Nameservers) == 0 {
		c.Nameservers = []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:53")}
		c.DefaultNameserver = true
		c.Notes = append(c.Notes, "no nameserver configured: glibc asks 127.0.0.1")
	}
	if c.SearchSource == "" {
		if _, domain, ok := strings.Cut(p.Hostname, "."); ok && domain != "" {
			c.Search, c.SearchSource = []string{domain}, "hostname"
		}
	}
}

func (c *Config) parseNSSwitch(r io.Reader) error {
	return eachLine(r, func(n int, b []byte, tooLong bool) {
		if tooLong {
			c.Notes = append(c.Notes, fmt.Sprintf("%s line %d: longer than %d bytes; netkit skipped it", c.NSSwitch, n, maxHostsLine))
			return
		}
		line := string(b)
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		db, rest, ok := strings.Cut(line, ":")
		if !ok || strings.TrimSpace(db) != "hosts" {
			return
		}
		c.HostsOrder = ParseNSSwitchSources(rest)
	})
}

// ParseNSSwitchSources parses the sources of one nsswitch.conf line, such
// as "files mdns4_minimal [NOTFOUND=return] dns".
func ParseNSSwitchSources(s string) []Source {
	order := []Source{}
	for len(s) > 0 {
		s = strings.TrimLeft(s, " \t")
		if s == "" {
			break
		}
		if s[0] == '[' {
			items, rest, _ := strings.Cut(s[1:], "]")
			if len(order) > 0 {
				last := &order[len(order)-1]
				for _, item := range strings.Fields(items) {
					status, action, _ := strings.Cut(item, "=")
					last.Criteria = append(last.Criteria, strings.ToUpper(status)+"="+strings.ToLower(action))
				}
			}
			s = rest
			continue
		}
		end := strings.IndexAny(s, " \t[")
		if end < 0 {
			end = len(s)
		}
		name := s[:end]
		order = append(order, Source{Name: name, Supported: name == "files" || name == "dns"})
		s = s[end:]
	}
	return order
}

func defaultHostsOrder() []Source {
	return []Source{{Name: "dns", Criteria: []string{"!UNAVAIL=return"}, Supported: true}, {Name: "files", Supported: true}}
}
