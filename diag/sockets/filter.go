package sockets

import (
	"errors"
	"fmt"
	"net/netip"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/netkit/netkit/resolve"
)

// Filter is a filter expression in the language of ss(8), parsed by
// ParseFilter: leading state words, then conditions on addresses and
// ports joined by and, or, not and parentheses.
type Filter struct {
	// states keeps sockets in these states; nil keeps all.
	states []State
	// expr is the condition; nil matches every socket.
	expr filterNode
}

// Match reports whether s passes the filter.
func (f *Filter) Match(s *Socket) bool {
	if f.states != nil && !slices.Contains(f.states, s.State) {
		return false
	}
	return f.expr == nil || f.expr.match(s)
}

// String writes the filter back in ss's language, states as a list of
// "state NAME" words; parsing it again gives the same filter.
func (f *Filter) String() string {
	var parts []string
	if f.states != nil && len(f.states) == 0 {
		parts = append(parts, "exclude all")
	}
	for _, st := range f.states {
		parts = append(parts, "state "+stateFlagName(st))
	}
	if f.expr != nil {
		parts = append(parts, f.expr.String())
	}
	return strings.Join(parts, " ")
}

// stateGroups are ss's names for sets of states, as ss(8) defines them
// (connected: every state but listening and closed). ss's CLOSE is
// netkit's CLOSE and UNCONN both.
var stateGroups = map[string][]State{
	"all": States(),
	"connected": {StateEstablished, StateSynSent, StateSynRecv, StateFinWait1, StateFinWait2, StateTimeWait,
		StateCloseWait, StateLastAck, StateClosing},
	"synchronized": {StateEstablished, StateSynRecv, StateFinWait1, StateFinWait2, StateTimeWait,
		StateCloseWait, StateLastAck, StateClosing},
	"bucket": {StateSynRecv, StateTimeWait},
	"big": {StateEstablished, StateSynSent, StateFinWait1, StateFinWait2, StateClose, StateCloseWait, StateLastAck,
		StateListen, StateClosing, StateUnconn},
}

// parseStateWord reads the state of a "state" or "exclude" word: a state
// as ParseState reads it, or one of ss's groups.
func parseStateWord(word string) ([]State, error) {
	if g, ok := stateGroups[strings.ToLower(word)]; ok {
		return g, nil
	}
	st, err := ParseState(word)
	if err != nil {
		return nil, fmt.Errorf("%w, or all, connected, synchronized, bucket, big", err)
	}
	// ss names one kernel state "closed" or "unconnected"; netkit shows it
	// as CLOSE for TCP and UNCONN for the others.
	switch st {
	case StateClose, StateUnconn:
		return []State{StateClose, StateUnconn}, nil
	}
	return []State{st}, nil
}

// ParseFilter reads an ss filter from the words of a command line, as
// ss(8) documents it:
//
//	[state STATE | exclude STATE]... [EXPRESSION]
//	EXPRESSION: ( EXPRESSION ), not/! EXPRESSION, EXPRESSION and/&& EXPRESSION (or side by side),
//	            EXPRESSION or/|| EXPRESSION,
//	            src PREFIX, dst PREFIX, sport OP PORT, dport OP PORT
//	PREFIX: ADDRESS[/LEN][:PORT] ([IPv6[/LEN]]:PORT; * for any), or a UNIX socket's path, glob patterns allowed
//	OP: = == eq, != ne neq, < lt, > gt, <= le leq, >= ge geq (none: =)
//	PORT: [:]NUMBER or [:]SERVICE
//
// Words may hold several tokens ('( dport = :443 )'); parentheses need
// no blanks around them. An IPv4 prefix also matches IPv4-mapped IPv6
// addresses. "src" is the local end and "dst" the remote one; for a UNIX
// socket, its own path and its peer's. The error names the word that is
// wrong.
func ParseFilter(words []string) (*Filter, error) {
	toks := tokenizeFilter(words)
	f := &Filter{}
	for len(toks) >= 1 && (toks[0] == "state" || toks[0] == "exclude" || toks[0] == "excl") {
		if len(toks) < 2 {
			return nil, fmt.Errorf("filter: %q needs a state name after it", toks[0])
		}
		sts, err := parseStateWord(toks[1])
		if err != nil {
			return nil, fmt.Errorf("filter: %w", err)
		}
		if toks[0] == "state" {
			if f.states == nil {
				f.states = []State{}
			}
			for _, st := range sts {
				if !slices.Contains(f.states, st) {
					f.states = append(f.states, st)
				}
			}
		} else {
			if f.states == nil {
				f.states = States()
			}
			f.states = slices.DeleteFunc(f.states, func(st State) bool { return slices.Contains(sts, st) })
		}
		toks = toks[2:]
	}
	if f.states != nil {
		f.states = slices.DeleteFunc(States(), func(st State) bool { return !slices.Contains(f.states, st) })
	}
	if len(toks) == 0 {
		return f, nil
	}
	p := &filterParser{toks: toks}
	expr, err := p.or()
	if err != nil {
		return nil, fmt.Errorf("filter: %w", err)
	}
	if len(p.toks) > 0 {
		return nil, fmt.Errorf("filter: unexpected %q", p.toks[0])
	}
	f.expr = expr
	return f, nil
}

// tokenizeFilter splits words at blanks and around parentheses, and a
// leading "!" off a word that is not "!=".
func tokenizeFilter(words []string) []string {
	var toks []string
	for _, w := range words {
		for field := range strings.FieldsSeq(w) {
			for field != "" {
				switch {
				case field[0] == '(' || field[0] == ')':
					toks = append(toks, field[:1])
					field = field[1:]
				case field[0] == '!' && len(field) > 1 && field[1] != '=':
					toks = append(toks, "!")
					field = field[1:]
				default:
					i := strings.IndexAny(field, "()")
					if i < 0 {
						i = len(field)
					}
					toks = append(toks, field[:i])
					field = field[i:]
				}
			}
		}
	}
	return toks
}

// filterParser reads an expression from toks by recursive descent; and
// binds tighter than or, as in ss.
type filterParser struct {
	toks []string
}

func (p *filterParser) peek() string {
	if len(p.toks) == 0 {
		return ""
	}
	return p.toks[0]
}

func (p *filterParser) next() string {
	t := p.peek()
	if len(p.toks) > 0 {
		p.toks = p.toks[1:]
	}
	return t
}

func (p *filterParser) or() (filterNode, error) {
	left, err := p.and()
	if err != nil {
		return nil, err
	}
	for isWord(p.peek(), "or", "|", "||") {
		p.next()
		right, err := p.and()
		if err != nil {
			return nil, err
		}
		left = orNode{left, right}
	}
	return left, nil
}

func (p *filterParser) and() (filterNode, error) {
	left, err := p.unary()
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		switch {
		case isWord(t, "and", "&", "&&"):
			p.next()
		case t == "" || t == ")" || isWord(t, "or", "|", "||"):
			return left, nil
		}
		right, err := p.unary()
		if err != nil {
			return nil, err
		}
		left = andNode{left, right}
	}
}

func (p *filterParser) unary() (filterNode, error) {
	t := p.next()
	switch {
	case t == "":
		return nil, errors.New("expression ends too early: want a condition (src, dst, sport, dport)")
	case isWord(t, "not", "!"):
		e, err := p.unary()
		if err != nil {
			return nil, err
		}
		return notNode{e}, nil
	case t == "(":
		e, err := p.or()
		if err != nil {
			return nil, err
		}
		if p.next() != ")" {
			return nil, errors.New("missing )")
		}
		return e, nil
	case isWord(t, "sport", "dport"):
		return p.portCond(strings.ToLower(t) == "sport")
	case isWord(t, "src", "dst"):
		return p.hostCond(strings.ToLower(t) == "src")
	}
	return nil, fmt.Errorf("unexpected %q: want src, dst, sport, dport, not or (", t)
}

// portOps maps each spelling of a comparison to its canonical one.
var portOps = map[string]string{
	"=": "=", "==": "=", "eq": "=",
	"!=": "!=", "ne": "!=", "neq": "!=",
	"<": "<", "lt": "<", ">": ">", "gt": ">",
	"<=": "<=", "le": "<=", "leq": "<=",
	">=": ">=", "ge": ">=", "geq": ">=",
}

func (p *filterParser) portCond(local bool) (filterNode, error) {
	c := portCond{local: local, op: "="}
	if op, ok := portOps[strings.ToLower(p.peek())]; ok {
		p.next()
		c.op = op
	}
	arg := p.next()
	s := strings.TrimPrefix(strings.TrimPrefix(arg, "*"), ":")
	if arg == "" || s == "" {
		return nil, fmt.Errorf("%s needs a port (:443, :https)", c.name())
	}
	port, err := resolve.ParsePort(s, "")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c.name(), err)
	}
	c.port = port
	return c, nil
}

func (p *filterParser) hostCond(local bool) (filterNode, error) {
	c := hostCond{local: local}
	switch op, _ := portOps[strings.ToLower(p.peek())]; op {
	case "=":
		p.next()
	case "!=":
		p.next()
		c.neg = true
	}
	arg := p.next()
	if arg == "" || arg == ")" {
		return nil, fmt.Errorf("%s needs an address (10.0.0.0/8, [::1]:443, *:22) or a UNIX socket path", c.name())
	}
	if arg[0] == '/' || arg[0] == '@' {
		if _, err := path.Match(arg, ""); err != nil {
			return nil, fmt.Errorf("%s: bad pattern %q", c.name(), arg)
		}
		c.path = arg
		return c, nil
	}
	host, port, err := splitHostCond(arg)
	if err != nil {
		return nil, fmt.Errorf("%s %q: %w", c.name(), arg, err)
	}
	if port != "" && port != "*" {
		if c.port, err = resolve.ParsePort(port, ""); err != nil {
			return nil, fmt.Errorf("%s %q: %w", c.name(), arg, err)
		}
	}
	if host != "" && host != "*" {
		if c.prefix, err = parsePrefix(host); err != nil {
			return nil, fmt.Errorf("%s %q: %w", c.name(), arg, err)
		}
	}
	return c, nil
}

// splitHostCond splits "ADDR[/LEN][:PORT]", "[ADDR][/LEN][:PORT]" and a
// bare IPv6 prefix (more than one colon, no port).
func splitHostCond(s string) (host, port string, err error) {
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return "", "", errors.New("missing ]")
		}
		host, rest := s[1:end], s[end+1:]
		if strings.HasPrefix(rest, "/") {
			i := strings.IndexByte(rest, ':')
			if i < 0 {
				i = len(rest)
			}
			host, rest = host+rest[:i], rest[i:]
		}
		if rest != "" && rest[0] != ':' {
			return "", "", fmt.Errorf("unexpected %q after ]", rest)
		}
		return host, strings.TrimPrefix(rest, ":"), nil
	}
	if strings.Count(s, ":") > 1 {
		return s, "", nil
	}
	host, port, _ = strings.Cut(s, ":")
	return host, port, nil
}

// parsePrefix reads an address or a prefix, in the canonical form that
// matching uses (the address masked, IPv4-mapped IPv6 as IPv4).
func parsePrefix(s string) (netip.Prefix, error) {
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" {
			return netip.Prefix{}, errors.New("want an IP address or prefix (names are not looked up)")
		}
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	pfx, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, errors.New("want an IP address or prefix such as 10.0.0.0/8")
	}
	if pfx.Addr().Is4In6() && pfx.Bits() >= 96 {
		pfx = netip.PrefixFrom(pfx.Addr().Unmap(), pfx.Bits()-96)
	}
	return pfx.Masked(), nil
}

// isWord reports whether t is one of words, in any case.
func isWord(t string, words ...string) bool {
	return slices.ContainsFunc(words, func(w string) bool { return strings.EqualFold(t, w) })
}

// filterNode is one node of a parsed expression.
type filterNode interface {
	match(s *Socket) bool
	String() string
}

type orNode struct{ a, b filterNode }

func (n orNode) match(s *Socket) bool { return n.a.match(s) || n.b.match(s) }
func (n orNode) String() string       { return "( " + n.a.String() + " or " + n.b.String() + " )" }

type andNode struct{ a, b filterNode }

func (n andNode) match(s *Socket) bool { return n.a.match(s) && n.b.match(s) }
func (n andNode) String() string       { return "( " + n.a.String() + " and " + n.b.String() + " )" }

type notNode struct{ e filterNode }

func (n notNode) match(s *Socket) bool { return !n.e.match(s) }
func (n notNode) String() string       { return "not " + n.e.String() }

// portCond is "sport OP PORT" (local) or "dport OP PORT". A UNIX or
// packet socket has no port and matches none.
type portCond struct {
	local bool
	op    string
	port  uint16
}

func (c portCond) name() string {
	if c.local {
		return "sport"
	}
	return "dport"
}

func (c portCond) match(s *Socket) bool {
	if !s.isIP() {
		return false
	}
	p := s.Remote.Port()
	if c.local {
		p = s.Local.Port()
	}
	switch c.op {
	case "!=":
		return p != c.port
	case "<":
		return p < c.port
	case ">":
		return p > c.port
	case "<=":
		return p <= c.port
	case ">=":
		return p >= c.port
	}
	return p == c.port
}

func (c portCond) String() string { return c.name() + " " + c.op + " :" + strconv.Itoa(int(c.port)) }

// hostCond is "src PREFIX" (local) or "dst PREFIX", PREFIX an address
// prefix (invalid: any address) and a port (0: any), or a UNIX socket path
// pattern; neg is "!=".
type hostCond struct {
	local  bool
	neg    bool
	prefix netip.Prefix
	port   uint16
	path   string
}

func (c hostCond) name() string {
	if c.local {
		return "src"
	}
	return "dst"
}

func (c hostCond) match(s *Socket) bool {
	return c.matchSocket(s) != c.neg
}

func (c hostCond) matchSocket(s *Socket) bool {
	if c.path != "" || !s.isIP() {
		p := s.PeerPath
		if c.local {
			p = s.Path
		}
		ok, _ := path.Match(c.path, p)
		return c.path != "" && s.Family == "unix" && ok
	}
	ap := s.Remote
	if c.local {
		ap = s.Local
	}
	if c.port != 0 && ap.Port() != c.port {
		return false
	}
	return !c.prefix.IsValid() || c.prefix.Contains(ap.Addr().Unmap())
}

func (c hostCond) String() string {
	op := ""
	if c.neg {
		op = "!= "
	}
	if c.path != "" {
		return c.name() + " " + op + c.path
	}
	host, port := "*", "*"
	if c.prefix.IsValid() {
		host = c.prefix.String()
		if c.prefix.Addr().Is6() {
			host = "[" + host + "]"
		}
	}
	if c.port != 0 {
		port = strconv.Itoa(int(c.port))
	}
	return c.name() + " " + op + host + ":" + port
}
