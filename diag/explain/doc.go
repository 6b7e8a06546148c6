// Package explain is netkit's one table of causes and next steps: it turns
// an error of any netkit package (a syscall errno, a DNS answer, a TLS alert
// or an x509 verification failure, a ping without reply) into words a person
// can act on (Error), and names findings that are not errors (Finding). Each
// row has a stable code (ECONNREFUSED, NXDOMAIN, X509-EXPIRED, …) that
// 'netkit explain CODE' and docs/troubleshooting.md show.
package explain
