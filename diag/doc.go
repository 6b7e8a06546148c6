// Package diag walks a network path to HOST:PORT step by step and says
// where it breaks: the hosts file, name resolution, ICMP reachability, the
// TCP connect to every address (and what listens, when the target is this
// machine), the TLS handshake and a netkit echo round trip (Diagnose).
//
// It composes the packages below it by calling them as Go functions:
// resolve for names, diag/ping for ICMP and TCP probes, diag/sockets for the
// listeners of this machine, echo for TLS and the echo protocol, and
// diag/explain to turn each failure into a cause and a next step.
package diag
