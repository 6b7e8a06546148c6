package resolve

import (
	"fmt"
	"io"
	"maps"
	"strconv"
	"strings"
	"sync"
)

// DefaultServicesPath is the services file glibc's getservbyname reads.
const DefaultServicesPath = "/etc/services"

// Services is a services(5) table, looked up both ways: from a name to its
// ports (getservbyname, which Go's net package also does) and from a port to
// its name (getservbyport, which Go's net package does not). Names and
// protocols match exactly, case included, as glibc's files backend matches
// them (Go's net.LookupPort ignores case, glibc does not). The zero value is
// an empty table.
type Services struct {
	// ports maps a name or alias to its port by protocol ("tcp", "udp"):
	// the first line that lists it for the protocol.
	ports map[string]map[string]uint16
	// names maps a port of a protocol to the first name listed for it.
	// Port 0 is not recorded: it is no service's port.
	names map[servicePort]string
}

// servicePort is a port of a protocol.
type servicePort struct {
	proto string
	port  uint16
}

// Ports returns the ports the table gives name (or an alias), by protocol;
// nil when it has none. The map is the caller's.
func (s *Services) Ports(name string) map[string]uint16 {
	return maps.Clone(s.ports[name])
}

// Name returns the first name the table lists for port of proto.
func (s *Services) Name(proto string, port uint16) (string, bool) {
	name, ok := s.names[servicePort{proto, port}]
	return name, ok
}

// ParseServices reads a services(5) file: lines of "name port/proto
// [aliases...] [# comment]", fields separated as glibc separates them. Lines
// it cannot read (too long, no port, a port out of range) are skipped, as
// glibc skips them. The error is the reader's.
func ParseServices(r io.Reader) (*Services, error) {
	s := &Services{ports: map[string]map[string]uint16{}, names: map[servicePort]string{}}
	err := eachLine(r, func(_ int, b []byte, tooLong bool) {
		line := string(b)
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		fields := strings.FieldsFunc(line, isSpace)
		if tooLong || len(fields) < 2 {
			return
		}
		num, proto, ok := strings.Cut(fields[1], "/")
		port, err := strconv.Atoi(num) // "+80" too, as glibc's strtoul reads it
		if !ok || err != nil || port < 0 || port > 65535 || proto == "" {
			return
		}
		if key := (servicePort{proto, uint16(port)}); port != 0 {
			if _, seen := s.names[key]; !seen {
				s.names[key] = fields[0]
			}
		}
		for _, name := range append(fields[:1:1], fields[2:]...) {
			byProto := s.ports[name]
			if byProto == nil {
				byProto = map[string]uint16{}
				s.ports[name] = byProto
			}
			if _, seen := byProto[proto]; !seen {
				byProto[proto] = uint16(port)
			}
		}
	})
	return s, err
}

// SystemServices returns the table of DefaultServicesPath, read once, on
// first use. A missing file is an empty table, as in glibc; a file that
// cannot be read is an empty table and a *FileError.
func SystemServices() (*Services, error) {
	return systemServices()
}

var systemServices = sync.OnceValues(func() (*Services, error) {
	return readServices(DefaultServicesPath)
})

// readServices reads the services file at path; see SystemServices.
func readServices(path string) (*Services, error) {
	s := &Services{}
	_, err := readOptional("services file", path, func(r io.Reader) error {
		var err error
		s, err = ParseServices(r)
		return err
	})
	if err != nil {
		return &Services{}, err
	}
	return s, nil
}

// ParsePort reads a port argument: a number from 1 to 65535, or a service
// name of proto ("tcp" or "udp"; "" takes either, TCP first) in the
// services file ("https", "domain"), matched exactly as getservbyname(3)
// does. Surrounding blanks are ignored. The error names the bad value.
func ParsePort(s, proto string) (uint16, error) {
	s = strings.TrimSpace(s)
	if s == "" || s[0] >= '0' && s[0] <= '9' || s[0] == '+' || s[0] == '-' {
		n, err := strconv.ParseUint(s, 10, 16)
		if err != nil || n == 0 {
			return 0, fmt.Errorf("port %q is not a number from 1 to 65535", s)
		}
		return uint16(n), nil
	}
	table, _ := SystemServices()
	ports := table.Ports(s)
	for _, p := range []string{"tcp", "udp"} {
		if n := ports[p]; n != 0 && (proto == "" || proto == p) {
			return n, nil
		}
	}
	kind := "service"
	if proto != "" {
		kind = strings.ToUpper(proto) + " service"
	}
	return 0, fmt.Errorf("port %q is neither a number from 1 to 65535 nor a %s name in %s", s, kind, DefaultServicesPath)
}
