package sockets

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"os/user"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/netkit/netkit/resolve"
)

// Protocol names, as netstat prints them in its Proto column: "tcp6" and
// "udp6" are IPv6 sockets, which may carry IPv4-mapped addresses.
const (
	ProtoTCP  = "tcp"
	ProtoTCP6 = "tcp6"
	ProtoUDP  = "udp"
	ProtoUDP6 = "udp6"
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
	// TCP and UDP select protocols; when both are false, both are listed.
	TCP, UDP bool
	// IPv4 and IPv6 select address families; when both are false, both are
	// listed.
	IPv4, IPv6 bool
	// Listening keeps only sockets waiting for peers: TCP sockets in LISTEN
	// and unconnected UDP sockets, as 'ss -l' and 'netstat -l' do.
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

	// SkipOwners leaves the owning processes out: no walk of /proc/*/fd,
	// which is most of the cost at scale. It is ignored when PID or Program
	// is set, since those filters need the owners.
	SkipOwners bool
	// Cmdlines fills Socket.Cmdline with the owner's command line.
	Cmdlines bool
	// Names fills Socket.LocalName and RemoteName: host names from
	// Resolver (the hosts file and reverse DNS as nsswitch.conf orders
	// them, at most NameTimeout in all) and service names from
	// /etc/services.
	Names bool
	// Resolver names addresses for Names; nil means resolve.Default().
	Resolver *resolve.Resolver
}

// Socket is one TCP or UDP socket, as the kernel lists it in
// /proc/net/{tcp,tcp6,udp,udp6}, with the processes that hold it.
type Socket struct {
	// Proto is ProtoTCP, ProtoTCP6, ProtoUDP or ProtoUDP6.
	Proto string `json:"proto"`
	// Family is "ipv4" or "ipv6".
	Family string `json:"family"`
	// Local and Remote are the socket's addresses; an unspecified address
	// or port 0 is a wildcard (a listener's remote is 0.0.0.0:0 or [::]:0).
	Local  netip.AddrPort `json:"local"`
	Remote netip.AddrPort `json:"remote"`
	State  State          `json:"state"`
	// RecvQ is the number of bytes received and not yet read by the
	// program; for a listener, the connections waiting in its accept queue.
	RecvQ int `json:"recv_q"`
	// SendQ is the number of bytes sent and not yet acknowledged by the
	// peer (TCP) or not yet sent (UDP). It is 0 for listeners, as in
	// netstat (ss shows the listener's backlog there instead).
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

	// LocalName and RemoteName are the addresses as names ("localhost:http",
	// "*:ssh"), when the query asked for names.
	LocalName  string `json:"local_name,omitempty"`
	RemoteName string `json:"remote_name,omitempty"`

	// holders are every (process, descriptor) pair holding the socket,
	// sorted by PID then descriptor.
	holders []fdRef
}

// Listing is the result of List.
type Listing struct {
	// Sockets are in the kernel's order within each protocol: tcp, tcp6,
	// udp, udp6.
	Sockets []Socket `json:"sockets"`
	// Notes say what the listing could not show and why, such as owners
	// that could not be read without root or run in another PID namespace.
	Notes []string `json:"notes"`
}

// List lists the TCP and UDP sockets of the calling thread's network
// namespace that q selects, as 'ss -tuanp' and 'netstat -tuanp' do. It reads
// /proc/net once per protocol and filters there while, on another
// goroutine, it walks /proc/*/fd once (only the processes q allows); the
// walk is cut short when no socket left needs an owner. A socket whose
// owner cannot be read, or is not visible from this PID namespace, is
// still listed without one (see Socket.OwnerUnreadable), and a note says
// why.
func List(ctx context.Context, q Query) (*Listing, error) {
	var walk *ownerWalk
	if !q.SkipOwners || q.PID != 0 || q.Program != "" {
		walk = startOwnerWalk(ctx, q)
		defer walk.wait(true)
	}
	f := newSocketFilter(q)
	socks := []Socket{}
	for _, t := range procNetTables {
		if !f.wantTable(t) {
			continue
		}
		var err error
		if socks, err = readProcNetTable(t, f, socks); err != nil {
			return nil, err
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
	list := &Listing{Sockets: socks, Notes: []string{}}
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
	tcp, udp, v4, v6 bool
	listening        bool
	states           []State
	port             uint16
}

func newSocketFilter(q Query) socketFilter {
	f := socketFilter{tcp: q.TCP, udp: q.UDP, v4: q.IPv4, v6: q.IPv6,
		listening: q.Listening, states: q.States, port: q.Port}
	if !f.tcp && !f.udp {
		f.tcp, f.udp = true, true
	}
	if !f.v4 && !f.v6 {
		f.v4, f.v6 = true, true
	}
	return f
}

func (f socketFilter) wantTable(t procNetTable) bool {
	if t.tcp && !f.tcp || !t.tcp && !f.udp {
		return false
	}
	return t.v6 && f.v6 || !t.v6 && f.v4
}

func (f socketFilter) keep(s *Socket) bool {
	if f.port != 0 && s.Local.Port() != f.port && s.Remote.Port() != f.port {
		return false
	}
	if f.listening && s.State != StateListen && s.State != StateUnconn {
		return false
	}
	return len(f.states) == 0 || slices.Contains(f.states, s.State)
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
	// tcp, tcp6, udp, udp6.
	Protocols []ProtoSummary `json:"protocols"`
}

// Summarize counts socks per protocol and state. List with
// SkipOwners gives it what it needs at a fraction of the cost.
func Summarize(socks []Socket) Summary {
	states := States()
	sum := Summary{Total: len(socks), Protocols: []ProtoSummary{}}
	for _, t := range procNetTables {
		counts := make([]int, len(states))
		unknown := map[State]int{}
		total := 0
		for i := range socks {
			if socks[i].Proto != t.proto {
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
		ps := ProtoSummary{Proto: t.proto, Total: total, States: []StateCount{}}
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

// PortHolder is one process holding a socket on a port, with the
// descriptor it holds it by, as one line of 'lsof -i :PORT'.
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

// PortReport answers "who holds this port?".
type PortReport struct {
	Port uint16 `json:"port"`
	// Holders has one entry per process and descriptor holding a TCP or UDP
	// socket with Port at either end, as 'lsof -i :PORT' lists them,
	// sorted by PID.
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
	rep := &PortReport{Port: port, Holders: []PortHolder{}, Notes: list.Notes}
	procs := processCache{}
	closing, queued := 0, 0
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
	if queued > 0 {
		rep.Notes = append(rep.Notes, fmt.Sprintf(
			"%d connections to port %d wait in a listener's accept queue: the program has not accepted them yet "+
				"(the listener's Recv-Q counts them)", queued, port))
	}
	if closing > 0 {
		rep.Notes = append(rep.Notes, fmt.Sprintf(
			"%d connections on port %d are closing (TIME_WAIT, FIN_WAIT2): no process holds them; they end by themselves "+
				"within 60 s, and a server that sets SO_REUSEADDR can bind the port meanwhile", closing, port))
	}
	return rep, nil
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

// NameTimeout bounds all the host name lookups of one List call with
// Query.Names; addresses still unnamed by then stay numeric.
const NameTimeout = 3 * time.Second

// addNames fills LocalName and RemoteName, looking each distinct address
// up once, several at a time.
func addNames(ctx context.Context, r *resolve.Resolver, socks []Socket) {
	ctx, cancel := context.WithTimeout(ctx, NameTimeout)
	defer cancel()
	hosts := map[netip.Addr]string{}
	for i := range socks {
		for _, a := range []netip.Addr{socks[i].Local.Addr(), socks[i].Remote.Addr()} {
			if !a.IsUnspecified() {
				hosts[a] = ""
			}
		}
	}
	lookupHosts(ctx, r, hosts)
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
		s.LocalName = name(s.Proto, s.Local)
		s.RemoteName = name(s.Proto, s.Remote)
	}
}

// nameWorkers is how many reverse lookups addNames runs at once.
const nameWorkers = 8

// lookupHosts sets each key's value to its first name from r, or to the
// address itself when it has none or ctx ends first.
func lookupHosts(ctx context.Context, r *resolve.Resolver, hosts map[netip.Addr]string) {
	addrs := make([]netip.Addr, 0, len(hosts))
	for a := range hosts {
		addrs = append(addrs, a)
	}
	names := make([]string, len(addrs))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(nameWorkers, len(addrs)) {
		wg.Go(func() {
			for i := range next {
				names[i] = addrs[i].String()
				if n, err := r.LookupAddr(ctx, addrs[i]); err == nil {
					names[i] = n[0]
				}
			}
		})
	}
	for i := range addrs {
		next <- i
	}
	close(next)
	wg.Wait()
	for i, a := range addrs {
		hosts[a] = names[i]
	}
}
