// Package resolve answers "what does this name turn into, and why" the way
// glibc's getaddrinfo does on Linux, and says where every answer came from.
//
// It does not call the system resolver. It reads the same files glibc reads
// (the hosts file, resolv.conf, the hosts line of nsswitch.conf), follows the
// same order, asks DNS servers itself with github.com/miekg/dns, and sorts
// the addresses by the destination address selection rules of RFC 6724 with
// glibc's default tables. Doing the work itself is what lets it report, for
// each address, the hosts file line or the DNS server, record type and CNAME
// chain that produced it, and how long each step took: things neither Go's
// pure-Go resolver nor cgo's getaddrinfo expose. Tests compare its answers
// with getent ahosts and Python's socket.getaddrinfo.
//
// The package also parses and checks hosts files (ParseHosts, Check) and
// reports the resolver configuration (LoadConfig).
package resolve
