// Package probe runs the probes of 'netkit exporter': one module (icmp,
// tcp with optional TLS, dns, echo, diagnose) against one target, with
// every resolved address probed, and returns the result as samples named
// as blackbox_exporter names them (probe_success, probe_ip_protocol,
// probe_icmp_duration_seconds{phase}, probe_ssl_earliest_cert_expiry, …),
// plus netkit's own: probe_failure_info{step, reason}, whose reasons are
// the stable codes of diag/explain, and probe_address_success{address,
// family}.
//
// It composes the packages below it as diagnose does: resolve for names,
// diag/ping for ICMP, echo for TLS and the echo protocol, diag for the
// diagnose module and diag/explain for the reasons. It knows nothing of
// HTTP or of Prometheus' client library: internal/exporter turns a Result
// into a scrape.
package probe
