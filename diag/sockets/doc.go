// Package sockets lists the TCP and UDP sockets of this machine as ss,
// netstat and lsof do: from /proc/net, with the owning processes found by
// one walk of /proc/*/fd (List), counted per state (Summarize), and the
// processes that hold a port (WhoHolds). Names of addresses, when asked
// for, come from package resolve.
package sockets
