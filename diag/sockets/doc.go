// Package sockets lists the sockets of this machine as ss, netstat and
// lsof do: TCP, UDP and raw sockets from /proc/net, UNIX domain sockets
// (with the peer each is connected to) over sock_diag netlink, each with
// its queues, its TCP timer and retransmissions, and the owning processes
// found by one walk of /proc/*/fd (List); counted per state (Summarize);
// the processes that hold a port or a UNIX socket path (WhoHolds,
// WhoHoldsPath). A listing may be narrowed by an ss filter expression
// (ParseFilter) and taken in another network namespace (Query.Netns,
// InNetns). Names of addresses, when asked for, come from package resolve.
package sockets
