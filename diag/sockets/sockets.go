package sockets

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"net/netip"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/netkit/netkit/resolve"
	"github.com/netkit/netkit/units"
)

// Protocol names, as netstat prints them in its Proto column: "tcp6",
// "udp6" and "raw6" are IPv6 sockets, which may carry IPv4-mapped
// addresses; "unix" is a UNIX domain socket, "packet" an AF_PACKET one
// (what tcpdump and other sniffers open).
const (
	ProtoTCP    = "tcp"
	ProtoTCP6   = "tcp6"
	ProtoUDP    = "udp"
	ProtoUDP6   = "udp6"
	ProtoRaw    = "raw"
	ProtoRaw6   = "raw6"
	ProtoUnix   = "unix"
	ProtoPacket = "packet"
)

// Timer is the TCP timer running on a socket, as 'ss -o' and 'netstat -o'
// show it. A timer number netkit does not know, from a newer kernel, is
// "unknown(0xNN)".
type Timer string

// The timers of /proc/net/tcp's tr column.
const (
	// TimerNone: no timer runs (UDP and raw sockets never have one).
	TimerNone Timer = ""
	// TimerRetransmit: data or a SYN was sent and is not acknowledged yet;
	// it fires to send it again (also the tail loss probe). ss says "on".
	TimerRetransmit Timer = "retransmit"
	// TimerKeepalive: the keepalive timer, or a listener's SYN-ACK timer.
	TimerKeepalive Timer = "keepalive"
	// TimerTimeWait: the end of TIME_WAIT.
	TimerTimeWait Timer = "time-wait"
	// TimerZeroWindowProbe: the peer advertised a zero receive window and
	// the kernel probes until it opens. ss says "persist".
	TimerZeroWindowProbe Timer = "zero-window-probe"
)

// State is the state of a socket, named as netstat names it. A UDP
// socket is either StateUnconn (no fixed peer, what ss calls UNCONN) or
// StateEstablished (connected). A state number netkit does not know, from a
// newer kernel, is "UNKNOWN(0xNN)", NN the number in hex.
type State string

// The socket states, in the kernel's order (include/net/tcp_states.h).
// /proc/net/tcp shows half-open connections (the kernel's NEW_SYN_RECV) as
// SYN_RECV.
const (
	StateEstablished State = "ESTABLISHED"
	StateSynSent     State = "SYN_SENT"
	StateSynRecv     State = "SYN_RECV"
	StateFinWait1    State = "FIN_WAIT1"
	StateFinWait2    State = "FIN_WAIT2"
	StateTimeWait    State = "TIME_WAIT"
	StateClose       State = "CLOSE"
	StateCloseWait   State = "CLOSE_WAIT"
	StateLastAck     State = "LAST_ACK"
	StateListen      State = "LISTEN"
	StateClosing     State = "CLOSING"
	StateUnconn      State = "UNCONN"
)

// States lists every state in the kernel's order, UNCONN last.
func States() []State {
	return []State{
		StateEstablished, StateSynSent, StateSynRecv, StateFinWait1, StateFinWait2, StateTimeWait,
		StateClose, StateCloseWait, StateLastAck, StateListen, StateClosing, StateUnconn,
	}
}

// stateAliases are the other names people type, from ss: "estab",
// "closed", "listening", "unconnected". Keys are normalized (see
// normalizeState).
var stateAliases = map[string]State{
	"ESTAB":       StateEstablished,
	"CLOSED":      StateClose,
	"LISTENING":   StateListen,
	"UNCONNECTED": StateUnconn,
}

// normalizeState upper-cases s and drops dashes, underscores and spaces, so
// "time-wait", "TIME_WAIT" and "TimeWait" are the same name.
func normalizeState(s string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case '-', '_', ' ', '\t':
			return -1
		}
		return r
	}, strings.ToUpper(s))
}

// ParseState reads a state name as netstat or ss print it, in any
// case and with or without dashes or underscores: "listen", "time-wait",
// "TIME_WAIT", "estab", "fin-wait-1". Its error names the bad value and lists
// the valid names.
func ParseState(s string) (State, error) {
	n := normalizeState(s)
	for _, st := range States() {
		if normalizeState(string(st)) == n {
			return st, nil
		}
	}
	if st, ok := stateAliases[n]; ok {
		return st, nil
	}
	names := make([]string, 0, len(States()))
	for _, st := range States() {
		names = append(names, stateFlagName(st))
	}
	return "", fmt.Errorf("unknown socket state %q: want one of %s", s, strings.Join(names, ", "))
}

// stateFlagName spells st as ss does and as --state is documented:
// "time-wait", "fin-wait-1".
func stateFlagName(st State) string {
	name := strings.ToLower(strings.ReplaceAll(string(st), "_", "-"))
	if last := name[len(name)-1]; last >= '0' && last <= '9' {
		name = name[:len(name)-1] + "-" + name[len(name)-1:]
	}
	return name
}

// Query selects the sockets List returns. Filters combine: a
// socket is listed when it passes every one that is set. The zero value
// lists every TCP and UDP socket of both families with its owning process.
type Query struct {
	// TCP, UDP, Raw, Unix and Packet select protocols; when all are
	// false, TCP and UDP are listed.
	TCP, UDP, Raw, Unix, Packet bool
	// IPv4 and IPv6 select address families; when both are false, both are
	// listed.
	IPv4, IPv6 bool
	// Listening keeps only sockets waiting for peers: those in LISTEN (TCP
	// and UNIX stream) and unconnected UDP, raw and UNIX datagram sockets,
	// as 'ss -l' and 'netstat -l' do.
	Listening bool
	// States keeps only sockets in one of these states; empty keeps all.
	States []State
	// Port keeps only sockets with this port at either end; 0 keeps all.
	Port uint16
	// PID keeps only sockets held by this process; 0 keeps all.
	PID int
	// Program keeps only sockets held by a process of this name, as shown
	// in the PID/Program column; empty keeps all.
	Program string
	// Filter keeps only sockets its ss-style expression matches; nil keeps
	// all.
	Filter *Filter
	// Netns is the file of the network namespace whose sockets to list
	// (NetnsPath, PIDNetnsPath), as 'ip netns exec NAME ss' lists them;
	// empty lists the calling thread's. The owners are still found among
	// every process visible here. Entering a namespace needs
	// CAP_SYS_ADMIN; one that does not exist is ErrNoNetns.
	Netns string

	// SkipOwners leaves the owning processes out: no walk of /proc/*/fd,
	// which is most of the cost at scale. It is ignored when PID or Program
	// is set, since those filters need the owners.
	SkipOwners bool
	// Cmdlines fills Socket.Cmdline with the owner's command line.
	Cmdlines bool
	// Names fills Socket.LocalName and RemoteName: host names from
	// Resolver (the hosts file and reverse DNS as nsswitch.conf orders
	// them, at most resolve.NameTimeout in all) and service names from
	// /etc/services.
	Names bool
	// Resolver names addresses for Names; nil means resolve.Default().
	Resolver *resolve.Resolver
}

// Socket is one TCP, UDP, raw or UNIX socket, as the kernel lists it in
// /proc/net/{tcp,tcp6,udp,udp6,raw,raw6} or over sock_diag, with the
// processes that hold it.
type Socket struct {
	// Proto is ProtoTCP, ProtoTCP6, ProtoUDP, ProtoUDP6, ProtoRaw,
	// ProtoRaw6 or ProtoUnix.
	Proto string `json:"proto"`
	// Family is "ipv4", "ipv6", "unix" or "packet".
	Family string `json:"family"`
	// Local and Remote are the addresses of an IP socket; an unspecified
	// address or port 0 is a wildcard (a listener's remote is 0.0.0.0:0 or
	// [::]:0). The port of a raw socket is its IP protocol number (1 ICMP,
	// 58 ICMPv6, 255 any). A UNIX socket has neither.
	Local  netip.AddrPort `json:"local,omitzero"`
	Remote netip.AddrPort `json:"remote,omitzero"`
	// State is the socket's state; a UNIX stream socket that is connected
	// is StateEstablished, one that is not (and every unconnected datagram
	// socket) StateUnconn.
	State State `json:"state"`
	// RecvQ is the number of bytes received and not yet read by the
	// program; for a listener, the connections waiting in its accept queue.
	RecvQ int `json:"recv_q"`
	// SendQ is the number of bytes sent and not yet acknowledged by the
	// peer (TCP) or not yet sent (UDP). It is 0 for TCP listeners, as in
	// netstat (ss shows the listener's backlog there instead); a UNIX
	// listener's is its backlog, as ss shows it.
	SendQ int `json:"send_q"`
	// Inode identifies the socket; it is 0 for sockets no file descriptor
	// holds any more (TIME_WAIT, orphaned FIN_WAIT).
	Inode uint64 `json:"inode"`
	// UID is the user that created the socket, and User its name (empty
	// when the user database has no entry for it).
	UID  uint32 `json:"uid"`
	User string `json:"user,omitempty"`

	// PID and Program are the process holding the socket (the one with the
	// lowest PID when several share it), or 0 and "" when none was found.
	PID     int    `json:"pid,omitempty"`
	Program string `json:"program,omitempty"`
	// OtherPIDs lists the other processes holding the same socket, as after
	// a fork.
	OtherPIDs []int `json:"other_pids"`
	// Cmdline is the command line of the process PID, when the query asked
	// for it.
	Cmdline []string `json:"cmdline,omitempty"`
	// OwnerUnreadable is true when a file descriptor holds the socket but
	// no owner was found while some processes' descriptors could not be
	// read (not running as root): the owner is one of those.
	OwnerUnreadable bool `json:"owner_unreadable"`

	// Type is the kind of a UNIX socket, "stream", "dgram" or
	// "seqpacket", or of a packet socket, "raw" (whole frames) or "dgram"
	// (without the link-layer header).
	Type string `json:"type,omitempty"`
	// Path is the name a UNIX socket is bound to: a file system path, an
	// abstract name written "@name" as ss writes it, or "" when unnamed.
	Path string `json:"path,omitempty"`
	// PeerInode is the inode of the UNIX socket at the other end of a
	// connected one, as the kernel pairs them, and PeerPath that socket's
	// name; 0 and "" when it has no peer.
	PeerInode uint64 `json:"peer_inode,omitempty"`
	PeerPath  string `json:"peer_path,omitempty"`

	// EtherType is the protocol a packet socket receives (0x0003: every
	// one; EtherTypeName names it), and IfIndex and Interface the
	// interface it is bound to (0 and "": every interface).
	EtherType uint16 `json:"ether_type,omitempty"`
	IfIndex   int    `json:"ifindex,omitempty"`
	Interface string `json:"interface,omitempty"`

	// Timer is the TCP timer that runs on the socket, TimerMs when it
	// fires (in 10 ms steps, absent when due now or none runs), and
	// Retransmits how often it fired unanswered: retransmissions for
	// TimerRetransmit, probes for TimerKeepalive and TimerZeroWindowProbe.
	// A connection whose Retransmits grows gets no acknowledgement.
	Timer       Timer   `json:"timer,omitempty"`
	TimerMs     float64 `json:"timer_ms,omitempty"`
	Retransmits int     `json:"retransmits,omitempty"`

	// LocalName and RemoteName are the addresses as names ("localhost:http",
	// "*:ssh"), when the query asked for names.
	LocalName  string `json:"local_name,omitempty"`
	RemoteName string `json:"remote_name,omitempty"`

	// holders are every (process, descriptor) pair holding the socket,
	// sorted by PID then descriptor.
	holders []fdRef
}

// isIP reports whether s is a TCP, UDP or raw IP socket, one with
// addresses.
func (s *Socket) isIP() bool { return s.Family == "ipv4" || s.Family == "ipv6" }

// Listing is the result of List.
type Listing struct {
	// Sockets are in the kernel's order within each protocol, the
	// protocols in the order tcp, tcp6, udp, udp6, raw, raw6, unix,
	// packet.
	Sockets []Socket `json:"sockets"`
	// Notes say what the listing could not show and why, such as owners
	// that could not be read without root or run in another PID namespace.
	Notes []string `json:"notes"`
}

// ErrNoProcess is the error of a query for sockets of a process that
// does not exist (Query.PID).
var ErrNoProcess = errors.New("no such process")

// List lists the sockets of the calling thread's network namespace (or
// q.Netns) that q selects, as 'ss -tuanp' and 'netstat -tuanp' do. It
// reads /proc/net once per protocol (UNIX sockets come over sock_diag
// netlink, as ss reads them, since /proc/net/unix has no peers) and
// filters there while, on
// another goroutine, it walks /proc/*/fd once (only the processes q
// allows); the walk is cut short when no socket left needs an owner. A
// socket whose owner cannot be read, or is not visible from this PID
// namespace, is still listed without one (see Socket.OwnerUnreadable),
// and a note says why. A query for a process that does not exist fails
// with ErrNoProcess.
func List(ctx context.Context, q Query) (*Listing, error) {
	if q.PID != 0 {
		if _, err := os.Stat("/proc/" + strconv.Itoa(q.PID)); errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("process %d: %w", q.PID, ErrNoProcess)
		}
	}
	var walk *ownerWalk
	if !q.SkipOwners || q.PID != 0 || q.Program != "" {
		walk = startOwnerWalk(ctx, q)
		defer walk.wait(true)
	}
	f := newSocketFilter(q)
	socks, notes := []Socket{}, []string{}
	read := func() error {
		for _, t := range procNetTables {
			if !f.wantTable(t) {
				continue
			}
			var err error
			if socks, err = readProcNetTable(t, f, socks); err != nil {
				return err
			}
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		var err error
		if f.unix {
			var note string
			if socks, note, err = listUnix(f, socks); err != nil {
				return err
			}
			if note != "" {
				notes = append(notes, note)
			}
		}
		if f.packet {
			socks, err = listPacket(f, socks)
		}
		return err
	}
	var err error
	if q.Netns != "" {
		err = InNetns(q.Netns, read)
	} else {
		err = read()
	}
	if err != nil {
		return nil, err
	}
	list := &Listing{Sockets: socks, Notes: notes}
	if walk != nil {
		if err := walk.addOwners(ctx, list, q); err != nil {
			return nil, err
		}
	}
	users := map[uint32]string{}
	for i := range list.Sockets {
		s := &list.Sockets[i]
		if s.OtherPIDs == nil {
			s.OtherPIDs = []int{}
		}
		name, ok := users[s.UID]
		if !ok {
			if u, err := user.LookupId(strconv.FormatUint(uint64(s.UID), 10)); err == nil {
				name = u.Username
			}
			users[s.UID] = name
		}
		s.User = name
	}
	if q.Names {
		addNames(ctx, cmp.Or(q.Resolver, resolve.Default()), list.Sockets)
	}
	return list, nil
}

// socketFilter is a Query's filters, checked on each /proc/net line
// before the line becomes a Socket.
type socketFilter struct {
	tcp, udp, raw, unix, packet, v4, v6 bool
	listening                           bool
	states                              []State
	port                                uint16
	expr                                *Filter
}

func newSocketFilter(q Query) socketFilter {
	f := socketFilter{tcp: q.TCP, udp: q.UDP, raw: q.Raw, unix: q.Unix, packet: q.Packet, v4: q.IPv4, v6: q.IPv6,
		listening: q.Listening, states: q.States, port: q.Port, expr: q.Filter}
	if !f.tcp && !f.udp && !f.raw && !f.unix && !f.packet {
		f.tcp, f.udp = true, true
	}
	if !f.v4 && !f.v6 {
		f.v4, f.v6 = true, true
	}
	return f
}

func (f socketFilter) wantTable(t procNetTable) bool {
	switch {
	case t.tcp && !f.tcp, t.raw && !f.raw, !t.tcp && !t.raw && !f.udp:
		return false
	}
	return t.v6 && f.v6 || !t.v6 && f.v4
}

func (f socketFilter) keep(s *Socket) bool {
	if f.port != 0 && (!s.isIP() || s.Local.Port() != f.port && s.Remote.Port() != f.port) {
		return false
	}
	if f.listening && s.State != StateListen && s.State != StateUnconn {
		return false
	}
	if len(f.states) != 0 && !slices.Contains(f.states, s.State) {
		return false
	}
	return f.expr == nil || f.expr.Match(s)
}

// StateCount is the number of sockets in one state.
type StateCount struct {
	State State `json:"state"`
	Count int   `json:"count"`
}

// ProtoSummary counts the sockets of one protocol, per state.
type ProtoSummary struct {
	Proto string `json:"proto"`
	Total int    `json:"total"`
	// States has one entry per state that has sockets, in the kernel's
	// order, then the unknown states by name.
	States []StateCount `json:"states"`
}

// Summary counts sockets per protocol and per state, as 'ss -s' does.
type Summary struct {
	Total int `json:"total"`
	// Protocols has one entry per protocol that has sockets, in the order
	// tcp, tcp6, udp, udp6, raw, raw6, unix, packet.
	Protocols []ProtoSummary `json:"protocols"`
}

// Summarize counts socks per protocol and state. List with
// SkipOwners gives it what it needs at a fraction of the cost.
func Summarize(socks []Socket) Summary {
	states := States()
	sum := Summary{Total: len(socks), Protocols: []ProtoSummary{}}
	protos := make([]string, 0, len(procNetTables)+1)
	for _, t := range procNetTables {
		protos = append(protos, t.proto)
	}
	for _, proto := range append(protos, ProtoUnix, ProtoPacket) {
		counts := make([]int, len(states))
		unknown := map[State]int{}
		total := 0
		for i := range socks {
			if socks[i].Proto != proto {
				continue
			}
			if j := slices.Index(states, socks[i].State); j >= 0 {
				counts[j]++
			} else {
				unknown[socks[i].State]++
			}
			total++
		}
		if total == 0 {
			continue
		}
		ps := ProtoSummary{Proto: proto, Total: total, States: []StateCount{}}
		for i, n := range counts {
			if n > 0 {
				ps.States = append(ps.States, StateCount{State: states[i], Count: n})
			}
		}
		for _, st := range slices.Sorted(maps.Keys(unknown)) {
			ps.States = append(ps.States, StateCount{State: st, Count: unknown[st]})
		}
		sum.Protocols = append(sum.Protocols, ps)
	}
	return sum
}

// PortHolder is one process holding a socket on a port (or a UNIX
// socket path), with the descriptor it holds it by, as one line of
// 'lsof -i :PORT'.
type PortHolder struct {
	// PID is 0 when a descriptor holds the socket but its process could not
	// be read (see Socket.OwnerUnreadable) or is not visible from here (it
	// runs in another PID namespace).
	PID     int    `json:"pid,omitempty"`
	Program string `json:"program,omitempty"`
	// User is the name of the process's real user.
	User string `json:"user,omitempty"`
	// Cmdline is nil when PID is 0.
	Cmdline []string `json:"cmdline,omitzero"`
	FD      int      `json:"fd,omitempty"`
	Socket  Socket   `json:"socket"`
}

// PortReport answers "who holds this port?" (WhoHolds) or "who listens on
// this UNIX socket?" (WhoHoldsPath).
type PortReport struct {
	// Port is the port asked about, or 0 when Path was.
	Port uint16 `json:"port,omitempty"`
	// Path is the UNIX socket path (or "@name") asked about.
	Path string `json:"path,omitempty"`
	// Holders has one entry per process and descriptor holding a TCP or UDP
	// socket with Port at either end, as 'lsof -i :PORT' lists them, or a
	// UNIX socket bound to Path or connected to it, sorted by PID.
	Holders []PortHolder `json:"holders"`
	// Notes say what could not be seen, such as owners unreadable without
	// root or in another PID namespace, or connections in TIME_WAIT that no
	// process holds any more.
	Notes []string `json:"notes"`
}

// WhoHolds finds every process holding a TCP or UDP socket on port, at
// either end, with its command line and user: the answer to "Address
// already in use". An empty Holders means no descriptor holds the port
// (connections closing in TIME_WAIT may still use it; a note counts them,
// and the connections waiting in a listener's accept queue).
func WhoHolds(ctx context.Context, port uint16) (*PortReport, error) {
	if port == 0 {
		return nil, errors.New("invalid port 0: want a number from 1 to 65535")
	}
	list, err := List(ctx, Query{Port: port})
	if err != nil {
		return nil, err
	}
	rep := &PortReport{Port: port}
	queued, closing := rep.addHolders(ctx, list)
	if queued > 0 {
		rep.Notes = append(rep.Notes, fmt.Sprintf(
			"%s to port %d %s in a listener's accept queue: the program has not accepted %s yet "+
				"(the listener's Recv-Q counts %[4]s)", units.Count(queued, "connection", "connections"), port,
			units.Plural(queued, "waits", "wait"), units.Plural(queued, "it", "them")))
	}
	if closing > 0 {
		rep.Notes = append(rep.Notes, fmt.Sprintf(
			"%s on port %d %s closing (TIME_WAIT, FIN_WAIT2): no process holds %s; %s by %s "+
				"within 60 s, and a server that sets SO_REUSEADDR can bind the port meanwhile",
			units.Count(closing, "connection", "connections"), port, units.Plural(closing, "is", "are"), units.Plural(closing, "it", "them"),
			units.Plural(closing, "it ends", "they end"), units.Plural(closing, "itself", "themselves")))
	}
	return rep, nil
}

// WhoHoldsPath finds every process holding a UNIX socket bound to path
// (a file system path, as the program bound it or made absolute, or an
// abstract name written "@name"): the listener and the connections it accepted, and the
// sockets of the clients connected to them, the answer to "who is
// listening on /run/foo.sock?". An empty Holders means no socket has that
// name, even when a file of that name is left over.
func WhoHoldsPath(ctx context.Context, path string) (*PortReport, error) {
	if path == "" {
		return nil, errors.New("empty UNIX socket path")
	}
	// The kernel keeps the name as the program bound it: relative, or not.
	names := []string{path}
	if abs, err := filepath.Abs(path); err == nil && path[0] != '@' && abs != path {
		names = append(names, abs)
	}
	var expr filterNode
	for _, name := range names {
		for _, local := range []bool{true, false} {
			c := hostCond{local: local, path: globEscape(name)}
			if expr == nil {
				expr = c
			} else {
				expr = orNode{expr, c}
			}
		}
	}
	list, err := List(ctx, Query{Unix: true, Filter: &Filter{expr: expr}})
	if err != nil {
		return nil, err
	}
	rep := &PortReport{Path: path}
	rep.addHolders(ctx, list)
	return rep, nil
}

// globEscape quotes the pattern characters of path.Match in s.
func globEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// addHolders fills rep.Holders, sorted by PID, and rep.Notes from list,
// and counts the sockets no process holds: connections not yet accepted
// and connections closing.
func (rep *PortReport) addHolders(ctx context.Context, list *Listing) (queued, closing int) {
	rep.Holders, rep.Notes = []PortHolder{}, list.Notes
	procs := processCache{}
	for _, s := range list.Sockets {
		switch {
		case len(s.holders) > 0:
		case s.Inode == 0 && (s.State == StateEstablished || s.State == StateSynRecv):
			queued++ // not accepted yet: no descriptor, the listener holds it
		case s.Inode == 0:
			closing++
		default:
			// A descriptor holds it, in a process this walk could not
			// read or cannot see (list.Notes says which): the port is
			// held all the same.
			rep.Holders = append(rep.Holders, PortHolder{Socket: s})
		}
		for _, h := range s.holders {
			p := procs.get(ctx, h.pid)
			rep.Holders = append(rep.Holders, PortHolder{
				PID: h.pid, Program: p.name, User: p.userName(ctx), Cmdline: append([]string{}, p.cmdline(ctx)...), FD: h.fd, Socket: s,
			})
		}
	}
	slices.SortStableFunc(rep.Holders, func(a, b PortHolder) int { return a.PID - b.PID })
	return queued, closing
}

// serviceName is the name of port in /etc/services for proto ("tcp6"
// counts as "tcp"), or the number.
func serviceName(proto string, port uint16) string {
	table, _ := resolve.SystemServices()
	if name, ok := table.Name(strings.TrimSuffix(proto, "6"), port); ok {
		return name
	}
	return strconv.Itoa(int(port))
}

// addNames fills LocalName and RemoteName, looking each distinct address
// up once, several at a time.
func addNames(ctx context.Context, r *resolve.Resolver, socks []Socket) {
	var addrs []netip.Addr
	for i := range socks {
		if !socks[i].isIP() {
			continue
		}
		for _, a := range []netip.Addr{socks[i].Local.Addr(), socks[i].Remote.Addr()} {
			if !a.IsUnspecified() {
				addrs = append(addrs, a)
			}
		}
	}
	hosts := r.NameAddrs(ctx, addrs)
	name := func(proto string, ap netip.AddrPort) string {
		host, port := "*", "*"
		if a := ap.Addr(); !a.IsUnspecified() {
			host = hosts[a]
			if strings.Contains(host, ":") {
				host = "[" + host + "]"
			}
		}
		if ap.Port() != 0 {
			port = serviceName(proto, ap.Port())
		}
		return host + ":" + port
	}
	for i := range socks {
		s := &socks[i]
		if !s.isIP() {
			continue
		}
		s.LocalName = name(s.Proto, s.Local)
		s.RemoteName = name(s.Proto, s.Remote)
	}
}
