package explain

import (
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/netkit/netkit/diag/ping"
	"github.com/netkit/netkit/diag/sockets"
	"github.com/netkit/netkit/diag/trace"
	"github.com/netkit/netkit/echo"
	"github.com/netkit/netkit/resolve"
)

// Explanation says, in words a person can act on, what an error most likely
// means and what to try next.
type Explanation struct {
	// Code is a short stable name: an errno name such as "ECONNREFUSED", a DNS
	// answer such as "NXDOMAIN", or a TLS/x509 name such as "X509-EXPIRED".
	Code string `json:"code"`
	// Cause is the likely reason, with the address, port or certificate
	// details of this error where they are known.
	Cause string `json:"cause"`
	// Next is the next thing to try.
	Next string `json:"next"`
}

// entry is one row of the explanation table. Its texts may hold {addr},
// {peer}, {host}, {port} and {server} (a DNS server), filled in from the
// error when it names them.
type entry struct {
	code  string
	errno syscall.Errno // 0 for entries that are not an errno
	cause string
	next  string
}

// table is the human version of docs/troubleshooting.md: keep them in step.
var table = []entry{
	{"ECONNREFUSED", syscall.ECONNREFUSED,
		"nothing is listening on {addr}, or a firewall rejected the connection (the host answered with a reset)",
		"start the service or check its port; on the server run 'netkit sockets -l --port {port}' to see what listens, and on which address"},
	{"ETIMEDOUT", syscall.ETIMEDOUT,
		"no answer from {addr}: a firewall is dropping the packets, the host is down, or the address is wrong",
		"check the address with 'netkit resolve {host}', try 'netkit ping {host}' and 'netkit ping --tcp {port} {host}', then look at firewalls on the path"},
	{"ECONNRESET", syscall.ECONNRESET,
		"{peer} closed the connection abruptly (a reset): it crashed or restarted, a middlebox cut the connection, or it rejected what this side sent (another protocol, such as plaintext against TLS)",
		"check the peer's logs for why it reset the connection; 'netkit diagnose {host}:{port}' walks the path step by step"},
	{"EHOSTUNREACH", syscall.EHOSTUNREACH,
		"no route to the host {host}: a router or the host itself reported it unreachable, or a firewall rejects with host-unreachable",
		"check the route ('ip route get {host}') and that the host is up on that network"},
	{"ENETUNREACH", syscall.ENETUNREACH,
		"no route to the network of {host}: this machine has no route there (an IPv6 address without IPv6 connectivity is the usual case)",
		"check 'ip route' (or 'ip -6 route'); try the other address family with -4 or -6"},
	{"EADDRINUSE", syscall.EADDRINUSE,
		"another socket already holds {addr}",
		"run 'netkit sockets who {port}' to see which process holds it; stop it or pick another port"},
	{"EADDRNOTAVAIL", syscall.EADDRNOTAVAIL,
		"{addr} is not an address of any interface of this machine, or the local ports are exhausted",
		"bind to an address this machine has ('ip addr'), or to 0.0.0.0 / [::]; if ports are exhausted, see 'netkit sockets --summary' for TIME_WAIT"},
	{"EACCES", syscall.EACCES,
		"permission denied: ports below 1024 need root or CAP_NET_BIND_SERVICE, and ICMP sockets need root, CAP_NET_RAW or net.ipv4.ping_group_range",
		"use a port of 1024 or more, run as root, or grant the capability ('setcap cap_net_bind_service,cap_net_raw+ep ./netkit')"},
	{"EPERM", syscall.EPERM,
		"operation not permitted: raw sockets need root or CAP_NET_RAW, or a local firewall rule refused the packet",
		"run as root or 'setcap cap_net_raw+ep ./netkit'; check local firewall rules ('nft list ruleset')"},
	{"EWOULDBLOCK", syscall.EAGAIN,
		"the operation would block: a socket buffer is full or no data arrived before the socket's deadline",
		"retry; if it persists the peer is not reading (see Recv-Q/Send-Q in 'netkit sockets')"},
	{"EPIPE", syscall.EPIPE,
		"{peer} closed the connection while data was still being sent",
		"check the peer's logs for why it closed; it may have rejected the request or hit a limit"},
	{"ECONNABORTED", syscall.ECONNABORTED,
		"the connection was aborted on this machine before it was accepted or while in use",
		"retry; if it repeats, check the accept backlog of the server ('netkit sockets -l' shows Recv-Q)"},
	{"EMSGSIZE", syscall.EMSGSIZE,
		"the packet is larger than the MTU of a link on the way to {host} and may not be fragmented (the don't-fragment bit is set)",
		"find the path MTU with 'tracepath {host}' and send smaller packets, or check the MTU of each link on the way ('ip link')"},
	{"EMFILE", syscall.EMFILE,
		"this process has too many open files (each socket is one)",
		"raise the limit ('ulimit -n') or close idle connections"},
	{"TIMEOUT", 0,
		"no answer from {addr} before the deadline: packets are dropped on the way, the host is down, or it is too slow",
		"retry with a longer timeout; 'netkit ping {host}' and 'netkit ping --tcp {port} {host}' tell a dead host from a filtered port"},
	{"NXDOMAIN", 0,
		"the name {host} does not exist: the DNS server answered that there is no such name, and no hosts file line has it",
		"check the spelling and the search domains ('netkit resolve --config'); add it to the hosts file for a local name"},
	{"NODATA", 0,
		"the name {host} exists but has no address record of the kind asked for (A for IPv4, AAAA for IPv6), or none at all: it may hold other records only, or be an alias (CNAME) of a name without addresses",
		"if you asked for one family (-4 or -6), try the other; see which records it has with 'netkit resolve --trace {host}', or ask its server with 'netkit resolve --server SERVER {host}'"},
	{"SERVFAIL", 0,
		"the DNS server failed to answer for {host} (SERVFAIL): its upstream is unreachable or the zone is broken",
		"try another server with 'netkit resolve --server SERVER {host}'; check the server's logs"},
	{"REFUSED", 0,
		"the DNS server refused to answer for {host}: it does not serve this client or this zone",
		"use a resolver that serves you ('netkit resolve --config' shows the configured ones)"},
	{"CNAME-LOOP", 0,
		"the DNS answer for {host} is a chain of aliases (CNAME) that loops back on itself: no address can come of it",
		"see the chain with 'netkit resolve --trace {host}'; the owner of the zone must fix its CNAME records"},
	{"CNAME-TOO-LONG", 0,
		"the DNS answer for {host} is a chain of more than 16 aliases (CNAME), more than netkit and glibc follow",
		"see the chain with 'netkit resolve --trace {host}'; shorten it, or ask for a name further down the chain"},
	{"DNS-BAD-REPLY", 0,
		"the DNS server {server} answered the query for {host} with something that is not a reply to it: bytes that are not a DNS message, a query sent back (no QR flag), or a reply to another question (a broken server or middlebox, a forwarding loop, or another program on port 53)",
		"ask another server with 'netkit resolve --server SERVER {host}'; watch the exchange at {server} with 'tcpdump -n port 53'"},
	{"DNS-TIMEOUT", 0,
		"the DNS server {server} did not answer the query for {host} in time: it is down, overloaded, or a firewall drops DNS on the way",
		"check the nameserver lines of /etc/resolv.conf ('netkit resolve --config' shows them) and that {server} is up and reachable; try another server with 'netkit resolve --server SERVER {host}'"},
	{"DNS-UNREACHABLE", 0,
		"the DNS server {server} could not be asked about {host}: nothing answers DNS at that address, or there is no route to it",
		"check the nameserver lines of /etc/resolv.conf ('netkit resolve --config' shows them) and that a DNS server runs at {server}; try another server with 'netkit resolve --server SERVER {host}'"},
	{"DNS-ERROR", 0,
		"the DNS lookup of {host} failed without an answer that says why (not NXDOMAIN, SERVFAIL or a timeout)",
		"ask the server directly with 'netkit resolve --server SERVER {host}' and check the resolver configuration ('netkit resolve --config')"},
	{"DNS-RCODE", 0,
		"the DNS server {server} answered with a response code the probe does not accept (its valid_rcodes)",
		"ask the server directly with 'netkit resolve --server SERVER NAME'; check the zone, or the module's valid_rcodes"},
	{"DNS-ANSWER", 0,
		"the DNS server {server} answered, but its records failed the probe's checks (validate_answer_rrs and the like)",
		"look at the records with 'netkit resolve --server SERVER NAME' and compare them with the module's regular expressions"},
	{"TLS-NOT-TLS", 0,
		"{peer} does not speak TLS on this port: it answered in plain text",
		"connect without TLS (--plaintext), or use the port where the service speaks TLS"},
	{"TLS-NO-ANSWER", 0,
		"the server at {addr} accepted the TCP connection but did not answer the TLS handshake: it probably does not speak TLS on this port (it waits for the client to speak first, in its own protocol)",
		"connect without TLS (--plaintext), or use the port where the service speaks TLS; if it should speak TLS here, check that the server is not stuck"},
	{"TLS-EOF", 0,
		"{peer} closed or reset the connection during the TLS handshake: it does not speak TLS on this port, or it turned this client away",
		"check that the service speaks TLS on port {port} (--plaintext if it does not; 'netkit diagnose {host}:{port}' tells), and the server's log for why it closed"},
	{"PLAINTEXT-TO-TLS", 0,
		"{peer} closed the connection without answering a plaintext message: a TLS server does this to a client that does not start a handshake (netkit echo serve logs \"first record does not look like a TLS handshake\")",
		"drop --plaintext to speak TLS; 'netkit diagnose {host}:{port}' tells which the port speaks"},
	{"ECHO-BUSY", 0,
		"the netkit echo server at {addr} is at one of its limits and told this client busy: --max-conns, --max-conns-per-addr, or --max-memory for message contents",
		"retry later or send smaller messages; on the server, raise the limit that its 'refused' log line names"},
	{"NO-REPLY", 0,
		"{peer} closed the connection without a reply: it is not a netkit echo server, or it refused the message (too large, or malformed)",
		"check the server's log; 'netkit diagnose {host}:{port}' tells what the port speaks"},
	{"TLS-ALERT", 0,
		"{peer} refused the TLS handshake",
		"check the TLS versions, cipher suites and client certificate the server wants (--cert/--key for mutual TLS)"},
	{"X509-UNKNOWN-AUTHORITY", 0,
		"the certificate of {host} is signed by an authority this machine does not trust (self-signed, or a private CA)",
		"pass the CA with --ca FILE, or pin the certificate with --pin sha256:…; --insecure skips the check (and the protection)"},
	{"X509-HOSTNAME", 0,
		"the certificate is not for {host}",
		"connect with a name the certificate has, or set --servername; otherwise reissue the certificate with this name"},
	{"X509-EXPIRED", 0,
		"the certificate of {host} has expired",
		"renew the certificate on the server; also check this machine's clock ('date')"},
	{"X509-NOT-YET-VALID", 0,
		"the certificate of {host} is not valid yet",
		"check the clocks of this machine and of the server ('date'); the certificate may have been issued with a future start"},
	{"X509-INVALID", 0,
		"the certificate of {host} is invalid for this use",
		"check the certificate's key usage and chain ('netkit echo send' shows them)"},
	{"ICMP-NOT-PERMITTED", 0,
		"this process may open neither a raw ICMP socket (that needs root or CAP_NET_RAW) nor an unprivileged ICMP datagram socket (none of its groups is in net.ipv4.ping_group_range)",
		"allow ICMP datagram sockets to every group: 'sysctl -w net.ipv4.ping_group_range=\"0 2147483647\"' (persist it in /etc/sysctl.d/); or grant the binary raw sockets: 'setcap cap_net_raw+ep ./netkit'; or run as root. 'netkit ping --tcp PORT HOST' needs neither"},
	{"ICMP-ADMIN-PROHIBITED", 0,
		"a firewall on the way to {host} (a router, or the host itself) refused the packet and said so: ICMP destination unreachable, administratively prohibited",
		"find the rule that rejects it: 'netkit ping {host}' and 'traceroute -T -p {port} {host}' show where the path stops; then check that firewall's rules ('nft list ruleset' there)"},
	{"ICMP-NO-REPLY", 0,
		"no ICMP echo reply from {host}: a firewall may drop ICMP, or the host is down",
		"rely on the TCP connect: a host that accepts or refuses a connection is up ('netkit ping --tcp {port} {host}')"},
	{"ICMP-NET-UNREACHABLE", 0,
		"{who} has no route to {host} (ICMP net unreachable): packets go no further than {from}",
		"check the routes of {from} ('ip route get {host}' there) and that {host} is the address you meant; 'netkit trace {host}' shows how far packets get"},
	{"ICMP-HOST-UNREACHABLE", 0,
		"{who} cannot deliver to {host} (ICMP host unreachable): the host is down or not on the network {from} reaches it by (no neighbour answers), or a firewall rejects with host-unreachable",
		"check that {host} is up and on its network ('ip neigh' on {from}); if it is, look for a reject rule in the firewalls of {from} and {host}"},
	{"ICMP-PROHIBITED", 0,
		"{who} rejects {dest} with ICMP administratively prohibited: a firewall rule on {where} refuses this traffic",
		"check the firewall rules of {from} ('nft list ruleset' or 'iptables -L -n' there); the service may be meant to be reached another way"},
	{"ICMP-REJECTED", 0,
		"{who} answers {dest} with ICMP \"{text}\": a host is not unreachable from itself, so a firewall rule on it rejects this traffic that way",
		"check the firewall rules of {host} ('nft list ruleset' or 'iptables -L -n' there) for a reject rule"},
	{"ICMP-PORT-UNREACHABLE", 0,
		"{who} answers port unreachable for {dest}: nothing listens on that port, or a firewall rejects it with port-unreachable",
		"start the service or check its port; look for a reject rule in the firewall of {from}"},
	{"ICMP-PROTOCOL-UNREACHABLE", 0,
		"{who} does not handle the protocol of the packets to {host} (ICMP protocol unreachable), or a firewall rejects them so",
		"check the firewall of {from}; try another kind of probe ('netkit ping --tcp PORT {host}')"},
	{"ICMP-FRAG-NEEDED", 0,
		"{who} cannot forward packets this large to {host} without fragmenting them, which they forbid: the next link's MTU is {mtu} bytes",
		"send smaller packets, or raise the MTU of that link; 'netkit trace --mtu {host}' measures the path MTU"},
	{"ICMP-TTL-EXCEEDED", 0,
		"the packets' TTL (hop limit) ran out at {who} before they reached {host}: the TTL is too small for the path, or the packets loop between routers",
		"raise the TTL (-t), or run 'netkit trace {host}': a routing loop shows as the same routers over and over"},
	{"ICMP-PARAMETER-PROBLEM", 0,
		"{who} found a bad header field in the packets to {host} (ICMP parameter problem)",
		"something on the way (or this machine) builds broken packets: capture them ('tcpdump -n icmp or host {host}') to see which field"},
	{"ICMP-UNREACHABLE", 0,
		"{who} reports {host} unreachable: {text}",
		"'netkit trace {host}' shows how far packets get; check the routes and firewalls of {from}"},
	{"PATH-DROPPED", 0,
		"packets to {dest} are dropped after {where}, and nothing says so: a firewall at the destination or at the next router drops them, or the host is down",
		"check the firewalls of {host} and of the router after {from} for a rule that drops this traffic; 'netkit trace --tcp PORT {host}' shows whether the service's port gets further than ICMP"},
	{"MTU-BLACK-HOLE", 0,
		"packets larger than {mtu} bytes are dropped between here and {host}, and no router says so (its ICMP \"fragmentation needed\" is filtered): an MTU black hole. Small packets pass, so connections open, then stall when full-size packets flow (a TLS handshake, a large reply)",
		"let ICMP \"fragmentation needed\" (type 3 code 4; ICMPv6 \"packet too big\") through the firewalls on the path, or clamp TCP's MSS on the router with the small link ('tcp flags syn tcp option maxseg size set rt mtu' in nftables), or lower the MTU here to {mtu}"},
	{"TRACE-NOT-PERMITTED", 0,
		"this process may not open a raw ICMP socket, which trace needs to hear the routers' answers (root or CAP_NET_RAW)",
		"run as root, or grant the binary raw sockets: 'setcap cap_net_raw+ep ./netkit'"},
	{"TURNED-AWAY", 0,
		"{addr} accepted the TCP connection, then closed or reset it before any data was exchanged: the service turns clients away (a connection limit, an access rule such as tcpwrappers or a proxy's allow list), or fails on every new connection",
		"check the server's log and its connection limits and access rules; 'netkit sockets -l --port {port}' shows which process listens"},
	{"SILENT", 0,
		"{addr} accepted the TCP connection and then sent nothing back: the service waits for a protocol netkit did not speak (many services answer only a request in their own protocol), or it hangs",
		"check which protocol the service on port {port} speaks ('netkit sockets who {port}' names the process); a hung service keeps a growing Recv-Q in 'netkit sockets -l --port {port}'"},
	{"LOCAL-FIREWALL", 0,
		"a process on this machine listens on {addr}, yet the TCP connect got no answer: a firewall on this machine (nftables or iptables) drops the packets",
		"look for a drop rule on port {port}: 'nft list ruleset' or 'iptables -S'; the listener itself is fine"},
	{"NOT-ECHO", 0,
		"{addr} accepted the connection but did not answer as a netkit echo server: another service listens there",
		"check that 'netkit echo serve' runs on port {port} ('netkit sockets -l --port {port}' shows which process listens), and that TLS or plain TCP matches it"},
	{"EXPECT-MISMATCH", 0,
		"{addr} accepted the connection, but closed it before it sent a line that matches the module's expect (query_response): another service listens there, or it answers otherwise than the module expects",
		"probe again with &debug=true: the probe's log shows every line the server sent; fix the module's expect regular expression, or the port"},
	{"NOT-LISTENING", 0,
		"no process on this machine has a listening socket on port {port}",
		"start the service, or check the port it is configured to listen on ('netkit sockets -l' lists what listens)"},
	{"LISTEN-ADDRESS", 0,
		"the server is bound to other addresses than the ones {host} resolves to (the classic: bound to ::1 while localhost resolves to 127.0.0.1 only)",
		"bind the server to the wildcard ([::] or 0.0.0.0) or to every address of the name, or make the name resolve to where it listens ('netkit hosts {host}')"},
	{"LISTEN-ADDRESS-IP", 0,
		"the server is bound to other addresses than {host}, the one connected to (the classic: bound to ::1 while clients use 127.0.0.1)",
		"connect to an address the server listens on ('netkit sockets -l --port {port}' lists them), or bind the server to {host} or to the wildcard ([::] or 0.0.0.0)"},
	{"NETNS-NOT-PERMITTED", 0,
		"this process may not enter that network namespace: entering one needs CAP_SYS_ADMIN in the user namespace that owns it (root on the host; root inside a container is not enough for the host's namespaces)",
		"run as root on the host, or run netkit inside the namespace instead ('ip netns exec NAME netkit …', 'nsenter -t PID -n netkit …')"},
	{"ACCEPT-QUEUE-FULL", 0,
		"the listener's accept queue on port {port} is full: the process does not call accept() fast enough, or is stuck",
		"check the server process (hung? overloaded?); 'netkit sockets -l --port {port}' shows Recv-Q (waiting) against Send-Q (backlog)"},
}

// Lookup returns the explanation for an error name such as "ECONNREFUSED",
// "NXDOMAIN" or "X509-EXPIRED" (any case), or for an errno number such as
// "111", as 'netkit explain' prints it, with no address filled in.
func Lookup(name string) (Explanation, bool) {
	name = strings.ToUpper(strings.TrimSpace(name))
	if name == "EAGAIN" {
		name = "EWOULDBLOCK"
	}
	if n, err := strconv.Atoi(name); err == nil {
		for _, e := range table {
			if e.errno != 0 && int(e.errno) == n {
				return e.explain(fill{}), true
			}
		}
		return Explanation{}, false
	}
	for _, e := range table {
		if e.code == name {
			return e.explain(fill{}), true
		}
	}
	return Explanation{}, false
}

// Codes lists the names Lookup knows, in table order.
func Codes() []string {
	codes := make([]string, len(table))
	for i, e := range table {
		codes[i] = e.code
	}
	return codes
}

// Error turns err into a cause and a next step, with the address, port and
// certificate details err carries. It reports false when it has nothing to
// add to the error's own text. It classifies by type (errors.As, errors.Is),
// never by matching message strings.
func Error(err error) (Explanation, bool) {
	return ErrorAt(err, "", 0)
}

// ErrorAt is Error with a default host and port (0 for none) for errors
// that do not carry them (a certificate signed by an unknown authority says
// nothing of the host it was presented for).
func ErrorAt(err error, host string, port uint16) (Explanation, bool) {
	if err == nil {
		return Explanation{}, false
	}
	def := at(host, port)
	f := fillFrom(err)
	f.host = cmp.Or(f.host, def.host)
	f.port = cmp.Or(f.port, def.port)
	if errors.Is(err, context.Canceled) {
		return Explanation{}, false // the caller stopped: nothing to explain
	}
	if ex, ok := explainTLS(err, f); ok {
		return ex, true
	}
	if ex, ok := explainDNS(err, f); ok {
		return ex, true
	}
	var icmpErr *ping.PermissionError
	if errors.As(err, &icmpErr) {
		return byCode("ICMP-NOT-PERMITTED").explain(f), true
	}
	var busy *echo.ServerError
	if errors.As(err, &busy) && busy.Code == "busy" {
		return byCode("ECHO-BUSY").explain(f), true
	}
	var replyErr *echo.ReplyError
	if errors.As(err, &replyErr) && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET)) {
		if replyErr.Plaintext {
			return byCode("PLAINTEXT-TO-TLS").explain(f), true
		}
		return byCode("NO-REPLY").explain(f), true
	}
	var nsErr *sockets.NetnsError
	if errors.As(err, &nsErr) {
		if errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EACCES) {
			return byCode("NETNS-NOT-PERMITTED").explain(f), true
		}
		return Explanation{}, false // no such namespace: the error says so
	}
	var pathErr *fs.PathError
	if errors.As(err, &pathErr) {
		// A file that could not be read (a hosts file, a certificate): the
		// error names it and why; the errno entries are about sockets.
		return Explanation{}, false
	}
	var traceErr *trace.PermissionError
	if errors.As(err, &traceErr) {
		return byCode("TRACE-NOT-PERMITTED").explain(f), true
	}
	var hole *trace.MTUBlackHoleError
	if errors.As(err, &hole) {
		f.host, f.mtu = hole.Result.Addr.String(), strconv.Itoa(hole.Result.PathMTU)
		return byCode("MTU-BLACK-HOLE").explain(f), true
	}
	var stop *trace.StopError
	if errors.As(err, &stop) && stop.Result.Stop.ICMP == nil {
		return explainDropped(stop.Result, f), true
	}
	var icmpMsg *ping.ICMPError
	if errors.As(err, &icmpMsg) {
		return explainICMP(icmpMsg, f), true
	}
	var noReply *ping.NoReplyError
	if errors.As(err, &noReply) {
		f.host = cmp.Or(noReply.Host, f.host)
		if noReply.Port != 0 {
			f.port = strconv.Itoa(noReply.Port)
			return byCode("TIMEOUT").explain(f), true
		}
		ex := byCode("ICMP-NO-REPLY").explain(f)
		if noReply.Unheard {
			ex.Cause += " (ICMP errors from routers cannot be heard without raw socket rights: run as root or with CAP_NET_RAW to hear them)"
		}
		return ex, true
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		for _, e := range table {
			if e.errno == errno {
				return e.explain(f), true
			}
		}
	}
	if IsTimeout(err) {
		return byCode("TIMEOUT").explain(f), true
	}
	return Explanation{}, false
}

// IsTimeout reports whether err is a deadline that passed: a socket's, a
// context's, or any net.Error that says it timed out.
func IsTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) ||
		(errors.As(err, &ne) && ne.Timeout())
}

// Finding is the explanation of code for a host and port (0 for none), for
// findings that are not Go errors (nothing listens, no ICMP reply).
func Finding(code, host string, port uint16) *Explanation {
	ex := byCode(code).explain(at(host, port))
	return &ex
}

// at is the fill of a host and a port, 0 for none.
func at(host string, port uint16) fill {
	f := fill{host: host}
	if port != 0 {
		f.port = strconv.Itoa(int(port))
	}
	return f
}

// ErrorHere is Error plus what only this machine can tell: for
// EADDRINUSE, which processes hold the port (as 'netkit sockets who PORT'
// would say). It may read /proc; ctx bounds that.
func ErrorHere(ctx context.Context, err error) (Explanation, bool) {
	ex, ok := Error(err)
	if !ok || ex.Code != "EADDRINUSE" {
		return ex, ok
	}
	f := fillFrom(err)
	port, perr := strconv.ParseUint(f.port, 10, 16)
	if perr != nil || port == 0 {
		return ex, ok
	}
	rep, werr := sockets.WhoHolds(ctx, uint16(port))
	if werr != nil {
		return ex, ok
	}
	want, _ := netip.ParseAddr(f.host)
	var holders []string
	for _, h := range rep.Holders {
		// Only a socket bound to the port, on the address asked for or on
		// a wildcard, is in the way: not one whose peer has the port.
		local := h.Socket.Local
		if local.Port() != uint16(port) || want.IsValid() && !want.IsUnspecified() && !local.Addr().IsUnspecified() && local.Addr().Unmap() != want.Unmap() {
			continue
		}
		var who string
		switch {
		case h.PID != 0:
			who = fmt.Sprintf("%d/%s (%s)", h.PID, h.Program, h.User)
		case h.Socket.OwnerUnreadable:
			who = "a process this user cannot see (run as root to name it)"
		default:
			who = "a process in another PID namespace (a container), or the kernel"
		}
		if !slices.Contains(holders, who) {
			holders = append(holders, who)
		}
	}
	if len(holders) > 0 {
		ex.Cause += ": held by " + strings.Join(holders, ", ")
	}
	return ex, ok
}

func byCode(code string) entry {
	i := slices.IndexFunc(table, func(e entry) bool { return e.code == code })
	return table[i]
}

// fill is what an error says about where it happened. For a DNS error,
// host is the name looked up and server the DNS server asked. For an ICMP
// error, from is its sender, who names the sender for a person, where says
// where the sender is, dest what was refused, mtu the next hop's MTU and
// text the message as ping prints it.
type fill struct {
	host, port, server                string
	from, who, where, dest, mtu, text string
}

func (f fill) replacer() *strings.Replacer {
	host, port, addr := f.host, f.port, ""
	switch {
	case host != "" && port != "":
		addr = net.JoinHostPort(host, port)
	case host != "":
		addr = host
	}
	if host == "" {
		host = "HOST"
	}
	if port == "" {
		port = "PORT"
	}
	server := cmp.Or(f.server, "SERVER")
	peer := "the peer"
	if addr == "" {
		addr = "that address"
	} else {
		peer += " at " + addr
	}
	return strings.NewReplacer("{addr}", addr, "{peer}", peer, "{host}", host, "{port}", port, "{server}", server,
		"{from}", cmp.Or(f.from, "ROUTER"), "{who}", cmp.Or(f.who, "a router or the host"), "{where}", cmp.Or(f.where, "that router or host"),
		"{dest}", cmp.Or(f.dest, "these packets"), "{mtu}", cmp.Or(f.mtu, "MTU"), "{text}", cmp.Or(f.text, "the ICMP message"))
}

// icmpCodes are the table's codes of each kind of ICMP error.
var icmpCodes = map[ping.ICMPKind]string{
	ping.KindNetUnreachable:      "ICMP-NET-UNREACHABLE",
	ping.KindHostUnreachable:     "ICMP-HOST-UNREACHABLE",
	ping.KindProhibited:          "ICMP-PROHIBITED",
	ping.KindPortUnreachable:     "ICMP-PORT-UNREACHABLE",
	ping.KindProtocolUnreachable: "ICMP-PROTOCOL-UNREACHABLE",
	ping.KindFragNeeded:          "ICMP-FRAG-NEEDED",
	ping.KindTimeExceeded:        "ICMP-TTL-EXCEEDED",
	ping.KindParameterProblem:    "ICMP-PARAMETER-PROBLEM",
}

// explainDropped says where packets to a trace's destination vanish: after
// the last hop that answered.
func explainDropped(r *trace.Result, f fill) Explanation {
	f.host = r.Addr.String()
	f.dest = f.host
	if r.Method == trace.MethodTCP {
		f.port = strconv.Itoa(r.Port)
		f.dest = fmt.Sprintf("TCP port %d of %s", r.Port, f.host)
	}
	f.where = "this machine (no router answered)"
	f.from = "the first router"
	if last := r.LastAnswered(); last != nil {
		f.from = last.Addrs[0].String()
		f.where = fmt.Sprintf("%s (hop %d)", f.from, last.Hop)
	}
	return byCode("PATH-DROPPED").explain(f)
}

// explainICMP says who sent an ICMP error and what it means.
func explainICMP(e *ping.ICMPError, f fill) Explanation {
	f.host = e.Dst.String()
	f.from, f.who, f.text = e.From.String(), e.Who(), e.Text
	switch {
	case e.Local:
		f.where = "this machine"
	case e.From == e.Dst:
		f.where = "that host"
	default:
		f.where = "that router"
	}
	what := "packets to " + f.host
	if e.From == e.Dst {
		what = strings.ToUpper(e.Protocol) + " packets"
	}
	if e.Port != 0 {
		what = fmt.Sprintf("%s port %d of %s", strings.ToUpper(e.Protocol), e.Port, f.host)
		f.port = strconv.Itoa(e.Port)
		if e.From == e.Dst {
			what = fmt.Sprintf("%s port %d", strings.ToUpper(e.Protocol), e.Port)
		}
	}
	f.dest = what
	if e.MTU != 0 {
		f.mtu = strconv.Itoa(e.MTU)
	}
	code, ok := icmpCodes[e.Kind]
	switch {
	case !ok:
		code = "ICMP-UNREACHABLE"
	case e.From == e.Dst && (e.Kind == ping.KindHostUnreachable || e.Kind == ping.KindNetUnreachable):
		code = "ICMP-REJECTED"
	}
	return byCode(code).explain(f)
}

func (e entry) explain(f fill) Explanation {
	r := f.replacer()
	return Explanation{Code: e.code, Cause: r.Replace(e.cause), Next: r.Replace(e.next)}
}

// fillFrom finds the address an error is about: a *net.OpError's remote (or
// local, for bind errors) address, a DNS error's name and server (the
// address of the *net.OpError inside it is the server's), or a certificate
// error's host name.
func fillFrom(err error) fill {
	var f fill
	var op *net.OpError
	var opAddr string
	if errors.As(err, &op) {
		a := op.Addr
		if a == nil {
			a = op.Source
		}
		if a != nil {
			opAddr = a.String()
		}
	}
	var dnsErr *net.DNSError
	var lookErr *resolve.LookupError
	var replyErr *echo.ReplyError
	switch {
	case errors.As(err, &replyErr):
		f.host, f.port, _ = net.SplitHostPort(replyErr.Addr)
	case errors.As(err, &lookErr):
		f.host, f.server = lookErr.Name, opAddr
	case errors.As(err, &dnsErr):
		f.host, f.server = dnsErr.Name, cmp.Or(dnsErr.Server, opAddr)
	default:
		if h, p, e := net.SplitHostPort(opAddr); e == nil {
			f.host, f.port = h, p
		}
	}
	var hostErr x509.HostnameError
	if errors.As(err, &hostErr) {
		f.host = hostErr.Host
	}
	var dnsReply *resolve.ReplyError
	if errors.As(err, &dnsReply) {
		f.server = dnsReply.Server
	}
	return f
}

// explainDNS classifies resolution failures, from netkit's resolver and
// from Go's: the DNS answers (NXDOMAIN, NODATA, SERVFAIL, REFUSED), a
// server that did not answer in time, one that could not be reached, and
// any other failure, which is not labelled as an answer it was not.
func explainDNS(err error, f fill) (Explanation, bool) {
	var lookErr *resolve.LookupError
	switch {
	case errors.Is(err, resolve.ErrNoSuchHost):
		ex := byCode("NXDOMAIN").explain(f)
		if errors.As(err, &lookErr) && !slices.ContainsFunc(lookErr.Asked, func(a string) bool { return strings.HasPrefix(a, "DNS") }) {
			// Only the hosts file was asked: no DNS server said anything.
			ex.Cause = fmt.Sprintf("the name %s is not in %s, and no DNS server was asked (the hosts line of nsswitch.conf names no dns source)",
				lookErr.Name, strings.Join(lookErr.Asked, ", "))
		}
		return ex, true
	case errors.Is(err, resolve.ErrNoData):
		return byCode("NODATA").explain(f), true
	case errors.Is(err, resolve.ErrServerFailure):
		return byCode("SERVFAIL").explain(f), true
	case errors.Is(err, resolve.ErrRefused):
		return byCode("REFUSED").explain(f), true
	case errors.Is(err, resolve.ErrCNAMELoop):
		return byCode("CNAME-LOOP").explain(f), true
	case errors.Is(err, resolve.ErrCNAMEChainTooLong):
		return byCode("CNAME-TOO-LONG").explain(f), true
	case errors.Is(err, resolve.ErrMalformedReply), errors.Is(err, resolve.ErrNotAReply), errors.Is(err, resolve.ErrWrongQuestion):
		return byCode("DNS-BAD-REPLY").explain(f), true
	}
	var dnsErr *net.DNSError
	var why string
	switch {
	case errors.As(err, &lookErr):
		var errno syscall.Errno
		var ex Explanation
		switch {
		case lookErr.Timeout():
			ex = byCode("DNS-TIMEOUT").explain(f)
		case errors.As(lookErr.Err, &errno):
			ex = byCode("DNS-UNREACHABLE").explain(f)
			ex.Cause += fmt.Sprintf(" (%v)", errno)
		default:
			why = lookErr.Err.Error()
		}
		if ex.Code != "" {
			if lookErr.Direct {
				// The server came from --server, not from resolv.conf.
				ex.Next = fmt.Sprintf("check that a DNS server runs at %s and answers there ('dig @ADDRESS -p PORT %s'), or leave out --server to ask the configured servers", f.server, f.host)
			}
			return ex, true
		}
	case errors.As(err, &dnsErr):
		// Go's resolver keeps only the text of its own errors: a SERVFAIL
		// and a refused connection are both just "temporary".
		switch {
		case dnsErr.IsNotFound:
			return byCode("NXDOMAIN").explain(f), true
		case dnsErr.IsTimeout:
			return byCode("DNS-TIMEOUT").explain(f), true
		}
		why = dnsErr.Err
	default:
		return Explanation{}, false
	}
	ex := byCode("DNS-ERROR").explain(f)
	ex.Cause += ": " + why
	return ex, true
}

// explainTLS classifies handshake and certificate failures, adding the
// certificate's names and validity dates to the cause.
func explainTLS(err error, f fill) (Explanation, bool) {
	var rec tls.RecordHeaderError
	if errors.As(err, &rec) {
		return byCode("TLS-NOT-TLS").explain(f), true
	}
	if alert, ok := PeerAlert(err); ok {
		ex := byCode("TLS-ALERT").explain(f)
		ex.Cause += fmt.Sprintf(" (alert: %s)", alert)
		return ex, true
	}
	// echo.Dial wraps a failed handshake in a *net.OpError with Op "TLS
	// handshake": the TCP connect worked, so silence is a server waiting
	// for another protocol rather than packets lost on the way, and a
	// close or reset is a server that does not speak TLS or turned the
	// client away.
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "TLS handshake" {
		switch {
		case IsTimeout(op.Err):
			return byCode("TLS-NO-ANSWER").explain(f), true
		case errors.Is(op.Err, io.EOF) || errors.Is(op.Err, syscall.ECONNRESET):
			return byCode("TLS-EOF").explain(f), true
		}
	}
	var unknown x509.UnknownAuthorityError
	if errors.As(err, &unknown) {
		ex := byCode("X509-UNKNOWN-AUTHORITY").explain(f)
		if c := unknown.Cert; c != nil {
			ex.Cause += fmt.Sprintf(" (issuer: %s)", c.Issuer)
		}
		return ex, true
	}
	var hostErr x509.HostnameError
	if errors.As(err, &hostErr) {
		ex := byCode("X509-HOSTNAME").explain(f)
		if names := certificateNames(hostErr.Certificate); len(names) > 0 {
			ex.Cause += ": it is for " + strings.Join(names, ", ")
		}
		return ex, true
	}
	var invalid x509.CertificateInvalidError
	if errors.As(err, &invalid) {
		c := invalid.Cert
		switch {
		case invalid.Reason == x509.Expired && c != nil && time.Now().Before(c.NotBefore):
			ex := byCode("X509-NOT-YET-VALID").explain(f)
			ex.Cause += fmt.Sprintf(": valid from %s", c.NotBefore.UTC().Format(time.RFC3339))
			return ex, true
		case invalid.Reason == x509.Expired:
			ex := byCode("X509-EXPIRED").explain(f)
			if c != nil {
				ex.Cause += fmt.Sprintf(": it expired on %s", c.NotAfter.UTC().Format(time.RFC3339))
			}
			return ex, true
		default:
			ex := byCode("X509-INVALID").explain(f)
			ex.Cause += ": " + invalid.Error()
			return ex, true
		}
	}
	return Explanation{}, false
}

// PeerAlert returns the text of the TLS alert err carries, when it is one: a
// tls.AlertError, or, over TCP, the *net.OpError with Op "remote error" that
// crypto/tls makes of an alert from the peer (around an unexported type).
// With TLS 1.3 a server's refusal of the client's certificate arrives this
// way on the first read, after a handshake that looked complete.
func PeerAlert(err error) (string, bool) {
	var alert tls.AlertError
	if errors.As(err, &alert) {
		return alert.Error(), true
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "remote error" && op.Err != nil {
		return op.Err.Error(), true
	}
	return "", false
}

// certificateNames lists the names c is valid for: its subject alternative
// names, or its common name when it has none.
func certificateNames(c *x509.Certificate) []string {
	if c == nil {
		return nil
	}
	names := echo.SANs(c)
	if len(names) == 0 && c.Subject.CommonName != "" {
		names = append(names, c.Subject.CommonName)
	}
	return names
}
