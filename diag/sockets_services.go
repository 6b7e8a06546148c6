package diag

import (
	"bufio"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
)

// servicesFile is where service names come from, as for getservbyname(3).
const servicesFile = "/etc/services"

// serviceKey is a port of a protocol ("tcp" or "udp").
type serviceKey struct {
	proto string
	port  uint16
}

// services is the service name table in both directions. Go's net package
// reads /etc/services only from name to port, and netkit also needs the
// other way, for --resolve.
type services struct {
	// ports maps "tcp/http" (names and aliases) to a port.
	ports map[string]uint16
	// names maps a port to the first name listed for it.
	names map[serviceKey]string
}

// parseServices reads a services(5) file: lines of "name port/proto
// [aliases...] [# comment]". Lines it cannot read are skipped, as libc does.
func parseServices(r io.Reader) services {
	s := services{ports: map[string]uint16{}, names: map[serviceKey]string{}}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		num, proto, ok := strings.Cut(f[1], "/")
		port, err := strconv.ParseUint(num, 10, 16)
		if !ok || err != nil || port == 0 || proto == "" {
			continue
		}
		proto = strings.ToLower(proto)
		key := serviceKey{proto, uint16(port)}
		if _, dup := s.names[key]; !dup {
			s.names[key] = f[0]
		}
		for _, name := range append(f[:1:1], f[2:]...) {
			if _, dup := s.ports[proto+"/"+name]; !dup {
				s.ports[proto+"/"+name] = uint16(port)
			}
		}
	}
	return s
}

// systemServices is servicesFile, read once; an unreadable file is an
// empty table.
var systemServices = sync.OnceValue(func() services {
	f, err := os.Open(servicesFile)
	if err != nil {
		return parseServices(strings.NewReader(""))
	}
	defer f.Close()
	return parseServices(io.LimitReader(f, 4<<20))
})

// lookupService returns the port of the service name for proto.
func lookupService(proto, name string) (uint16, bool) {
	port, ok := systemServices().ports[proto+"/"+name]
	return port, ok
}

// lookupServiceName returns the name of port for proto.
func lookupServiceName(proto string, port uint16) (string, bool) {
	name, ok := systemServices().names[serviceKey{proto, port}]
	return name, ok
}
