package diag

import "github.com/netkit/netkit/resolve"

// servicesFile is where service names come from, as for getservbyname(3).
const servicesFile = resolve.DefaultServicesPath

// lookupService returns the port of the service name for proto ("tcp",
// "udp"). A file that cannot be read names no service, and port 0 is no
// port to use.
func lookupService(proto, name string) (uint16, bool) {
	s, _ := resolve.SystemServices()
	port, ok := s.Ports(name)[proto]
	return port, ok && port != 0
}

// lookupServiceName returns the name of port for proto ("tcp", "udp").
func lookupServiceName(proto string, port uint16) (string, bool) {
	s, _ := resolve.SystemServices()
	return s.Name(proto, port)
}
