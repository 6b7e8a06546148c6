package diag

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/netkit/netkit/diag/explain"
	"github.com/netkit/netkit/diag/ping"
	"github.com/netkit/netkit/diag/sockets"
	"github.com/netkit/netkit/diag/trace"
	"github.com/netkit/netkit/echo"
	"github.com/netkit/netkit/resolve"
	"github.com/netkit/netkit/units"
)

// DefaultTimeout bounds each network operation of Diagnose: a
// connect, a handshake, a reply.
const DefaultTimeout = 3 * time.Second

// greetingWait is how long Diagnose listens after connecting for a server
// that speaks first (a banner) or hangs up at once.
const greetingWait = 300 * time.Millisecond

// diagnosePingInterval paces the ping step's short burst: the interval
// iputils ping long allowed every user, so the burst looks like what a
// person would type.
const diagnosePingInterval = 200 * time.Millisecond

// tlsPorts are the ports on which TLS is expected without --tls: HTTPS, the
// mail and directory protocols over TLS, DNS over TLS, 8443, and the netkit
// echo service.
var tlsPorts = []uint16{443, 465, 636, 853, 993, 995, 8443, echo.DefaultPort}

// TLSMode says whether Diagnose checks TLS.
type TLSMode int

// TLS modes. TLSAuto (the zero value) tries TLS on the well-known TLS ports
// and on any service that waits for the client to speak first, and reports
// a plaintext answer as "not TLS" rather than as a failure.
const (
	TLSAuto TLSMode = iota
	TLSOn
	TLSOff
)

// Options are the inputs of Diagnose. Only Host and Port are
// required.
type Options struct {
	// Host is a host name or IP literal.
	Host string
	// Port is the TCP port of the service.
	Port uint16
	// Family restricts the addresses tried; resolve.AnyFamily (the zero
	// value) tries all, as happy eyeballs would.
	Family resolve.Family
	// Resolver looks Host up; nil means resolve.Default().
	Resolver *resolve.Resolver
	// Allowed, if not nil, says which addresses may be probed. When Host
	// resolves to one it refuses, the resolve step fails with a
	// *NotAllowedError and nothing is sent to any address: the check is
	// on the addresses the later steps use, not on an earlier lookup's.
	Allowed func(netip.Addr) bool
	// TLS says whether to check TLS; see TLSMode.
	TLS TLSMode
	// Client configures the TLS check and the echo round trip: the trusted
	// CAs or pins, the server name (empty means Host), a client
	// certificate, ALPN, and the limit on each connect, handshake and reply
	// (0 means DefaultTimeout). With InsecureSkipVerify the echo
	// check also runs over TLS whose certificate did not verify; the TLS
	// step fails all the same. Plaintext means TLSOff.
	Client echo.ClientOptions
	// PingCount is the number of ICMP echo requests per address; 0 means 3.
	// A ping that cannot run is a warning, never the path's failure.
	PingCount int
	// OnStep, if not nil, is called with each step as it ends, in order,
	// from the goroutine that called Diagnose. Once ctx ends, the steps
	// not yet done are reported as not checked.
	OnStep func(Step)
}

// StepName names a step of Diagnose.
type StepName string

// The steps, in the order Diagnose runs them.
const (
	StepHosts   StepName = "hosts"
	StepResolve StepName = "resolve"
	StepPing    StepName = "ping"
	StepConnect StepName = "connect"
	StepListen  StepName = "listen"
	StepTLS     StepName = "tls"
	StepApp     StepName = "echo"
)

// Status is the outcome of a step.
type Status string

// Statuses: ok, a warning (the path works but something is off), a failure
// (the path breaks here), or skipped (not checked, and why is in Summary).
// "Not checked" is its own state, never a pass or a fail.
const (
	StatusOK   Status = "ok"
	StatusWarn Status = "warn"
	StatusFail Status = "fail"
	StatusSkip Status = "skip"
)

// Step is one line of the checklist.
type Step struct {
	Name   StepName `json:"name"`
	Status Status   `json:"status"`
	// Summary is the finding in one line, with its figures.
	Summary string `json:"summary"`
	// Details are further lines worth reading.
	Details []string `json:"details"`
	// Explanation is the likely cause and next step of a failure or a
	// warning, or of a step not checked for a reason the user can fix.
	Explanation *explain.Explanation `json:"explanation,omitempty"`
	DurationMS  float64              `json:"duration_ms"`

	stopped string // why the context ended before the step did, if it did
}

// ConnectAttempt is the TCP connect to one address.
type ConnectAttempt struct {
	Address netip.AddrPort `json:"address"`
	// State is "open", "closed" (refused) or "error" (no answer, no route,
	// or a reset or close right after the server accepted).
	State string `json:"state"`
	// RTTMs is the connect time, 0 when nothing answered.
	RTTMs float64 `json:"rtt_ms,omitempty"`
	Error string  `json:"error,omitempty"`
	// ICMP is the ICMP error that ended the connect, with its sender, when
	// one did and it could be heard (raw socket rights).
	ICMP *ping.ICMPError `json:"icmp,omitempty"`

	err error
}

// errClosedAtOnce is the error of a connect attempt whose connection the
// server closed right after accepting it.
var errClosedAtOnce = errors.New("the server closed the connection at once")

// Layer is a layer of the path that a step can prove to work.
type Layer string

// The layers, from the bottom.
const (
	LayerTCP  Layer = "tcp"
	LayerTLS  Layer = "tls"
	LayerEcho Layer = "echo"
)

// Report is the result of Diagnose: the checklist and the data behind it.
type Report struct {
	Host string `json:"host"`
	Port uint16 `json:"port"`
	// OK reports whether the path works end to end: every step ran and
	// none failed.
	OK bool `json:"ok"`
	// FailedStep is the first step that failed, empty when none did.
	FailedStep StepName `json:"failed_step,omitempty"`
	// Interrupted reports that ctx ended (Ctrl-C) before every step ran:
	// the step running then and the later ones are not checked.
	Interrupted bool `json:"interrupted"`
	// Proven is the highest layer shown to work: "" (none), "tcp" (a
	// connection was accepted), "tls" (a handshake completed, verified or
	// not: see TLS.Verified) or "echo" (a netkit echo server answered).
	// A path with no failed step is proven only up to this layer.
	Proven Layer  `json:"proven"`
	Steps  []Step `json:"steps"`

	// HostsLines, Ping, Connect and Listeners are nil when their step did
	// not run, and not nil (perhaps empty) when it did.
	HostsLines []resolve.HostsEntry `json:"hosts_lines,omitzero"`
	Resolution *resolve.Result      `json:"resolution,omitempty"`
	Ping       []ping.Stats         `json:"ping,omitzero"`
	Connect    []ConnectAttempt     `json:"connect,omitzero"`
	// Greeting is what the server sent unasked right after the connect (a
	// banner), when it did.
	Greeting string `json:"greeting,omitempty"`
	// Trace is the short TCP SYN trace to the port run after a connect
	// timed out: where the packets vanish.
	Trace *trace.Result `json:"trace,omitempty"`
	// PathMTU is the path MTU, measured when the TLS handshake or the echo
	// reply stalled after the connect worked: an MTU black hole?
	PathMTU   *trace.MTUResult `json:"path_mtu,omitempty"`
	Listeners []sockets.Socket `json:"listeners,omitzero"`
	TLS       *echo.TLSInfo    `json:"tls,omitempty"`
	Echo      *EchoResult      `json:"echo,omitempty"`
	ElapsedMS float64          `json:"elapsed_ms"`

	// Retransmitting are the TCP connections of this machine on the port
	// whose retransmit timer has fired without an acknowledgement, when
	// the target is this machine.
	Retransmitting []sockets.Socket `json:"retransmitting,omitempty"`
}

// EchoResult is what the echo step found: what the netkit echo server sees
// of this client, and how long the round trip took.
type EchoResult struct {
	echo.PeerInfo
	// RTTMs is the time from sending the info request to its whole reply.
	RTTMs float64 `json:"rtt_ms"`
}

// diagnosis is the state of one run of Diagnose.
type diagnosis struct {
	o         Options
	resolver  *resolve.Resolver
	rep       *Report
	addrs     []netip.Addr
	open      []netip.AddrPort // addresses that accepted
	local     bool             // an address of the target is on this machine
	noEcho    string           // why the echo step may not run, when an earlier step says
	queueFull bool             // a listener on the port has a full accept queue
	conn      *echo.Conn       // the TLS or plaintext connection for the app step
	unheard   bool             // ICMP errors could not be heard (no raw socket rights)
}

// Limits of the TCP SYN trace run after a connect timeout: it stays within
// a few seconds.
const (
	dropTraceHops    = 16
	dropTraceTimeout = time.Second
	dropTraceLimit   = 3 * time.Second
	// mtuLimit bounds the path MTU measure after a stall.
	mtuLimit = 4 * time.Second
)

// Diagnose walks the path to Host:Port and reports, step by step, where it
// breaks: the hosts file, resolution, ICMP reachability, the TCP connect to
// every address (and, when the target is this machine, what listens on the
// port), TLS, and a netkit echo round trip. A step that cannot run because
// an earlier one failed is skipped with the reason; independent checks (the
// hosts file, ping) run regardless. The error is only for options that
// cannot run; everything the network does is in the Report.
func Diagnose(ctx context.Context, o Options) (*Report, error) {
	if o.Host == "" {
		return nil, &resolve.InputError{What: "host", Value: o.Host, Why: "empty host"}
	}
	if o.Port == 0 {
		return nil, &resolve.InputError{What: "port", Value: "0", Why: "a port is a number from 1 to 65535"}
	}
	o.Client.Timeout = cmp.Or(o.Client.Timeout, DefaultTimeout)
	o.Client.ServerName = cmp.Or(o.Client.ServerName, o.Host)
	if o.PingCount < 0 {
		return nil, &resolve.InputError{What: "ping count", Value: strconv.Itoa(o.PingCount), Why: "must not be negative"}
	}
	o.PingCount = cmp.Or(o.PingCount, 3)
	if o.Client.Plaintext {
		o.TLS = TLSOff
	}
	start := time.Now()
	d := &diagnosis{o: o, resolver: o.Resolver, rep: &Report{Host: o.Host, Port: o.Port}}
	if d.resolver == nil {
		d.resolver = resolve.Default()
	}
	defer func() {
		if d.conn != nil {
			d.conn.Close()
		}
	}()

	d.step(ctx, StepHosts, func(s *Step) { d.checkHosts(ctx, s) })
	d.step(ctx, StepResolve, func(s *Step) { d.resolve(ctx, s) })
	// Ping runs beside the connect, which does not depend on it.
	pingDone := make(chan Step, 1)
	go func() { pingDone <- d.timed(ctx, StepPing, func(s *Step) { d.ping(ctx, s) }) }()
	connect := d.timed(ctx, StepConnect, func(s *Step) { d.connect(ctx, s) })
	d.greet(ctx)
	d.judgeConnect(ctx, &connect)
	connect.stopped = stopReason(ctx)
	// The listen step runs before the connect step is reported: a full
	// accept queue it finds is why the connect failed.
	listen := d.timed(ctx, StepListen, func(s *Step) { d.listeners(ctx, s) })
	if connect.Status == StatusFail && d.queueFull {
		connect.Explanation = explain.Finding("ACCEPT-QUEUE-FULL", d.o.Host, d.o.Port)
	}
	d.emit(<-pingDone)
	d.emit(connect)
	d.emit(listen)
	d.step(ctx, StepTLS, func(s *Step) { d.handshake(ctx, s) })
	d.step(ctx, StepApp, func(s *Step) { d.echo(ctx, s) })

	d.rep.OK = d.rep.FailedStep == "" && !d.rep.Interrupted
	d.rep.ElapsedMS = units.Millis(time.Since(start))
	return d.rep, nil
}

// timed runs one step, unless ctx is done, and returns it without
// reporting it. It touches no state shared with other steps.
func (d *diagnosis) timed(ctx context.Context, name StepName, run func(*Step)) Step {
	s := Step{Name: name}
	t := time.Now()
	if ctx.Err() == nil {
		run(&s)
	}
	s.DurationMS = units.Millis(time.Since(t))
	s.stopped = stopReason(ctx)
	return s
}

// stopReason says why ctx ended, empty while it has not.
func stopReason(ctx context.Context) string {
	switch err := context.Cause(ctx); {
	case err == nil:
		return ""
	case errors.Is(err, context.Canceled):
		return "interrupted"
	default:
		return "stopped: " + err.Error()
	}
}

// step runs one step and reports it.
func (d *diagnosis) step(ctx context.Context, name StepName, run func(*Step)) {
	d.emit(d.timed(ctx, name, run))
}

// emit reports a step. A step that did not pass while the diagnosis was
// being stopped is not checked: what it found may be the interruption
// rather than the network, and it gets no cause.
func (d *diagnosis) emit(s Step) {
	if s.stopped != "" && s.Status != StatusOK {
		why := s.stopped
		s = Step{Name: s.Name, DurationMS: s.DurationMS}
		d.skipped(&s, why)
		d.rep.Interrupted = true
	}
	if s.Details == nil {
		s.Details = []string{}
	}
	if s.Status == StatusFail && d.rep.FailedStep == "" {
		d.rep.FailedStep = s.Name
	}
	d.rep.Steps = append(d.rep.Steps, s)
	if d.o.OnStep != nil {
		d.o.OnStep(s)
	}
}

func (s *Step) set(st Status, format string, a ...any) {
	s.Status, s.Summary = st, fmt.Sprintf(format, a...)
}

// explain sets the step's explanation from err, when explain.Error knows it,
// about the target unless err names another address.
func (d *diagnosis) explain(s *Step, err error) {
	if ex, ok := explain.ErrorAt(err, d.o.Host, d.o.Port); ok {
		s.Explanation = &ex
	}
}

func (d *diagnosis) skipped(s *Step, why string) {
	s.set(StatusSkip, "not checked: %s", why)
}

// checkHosts reports the hosts file lines for the name, the lines meant for
// it that glibc ignores, and whether a line shadows what DNS says.
func (d *diagnosis) checkHosts(ctx context.Context, s *Step) {
	path := cmp.Or(d.resolver.HostsPath, resolve.DefaultHostsPath)
	if resolve.IsNumericHost(d.o.Host) {
		d.skipped(s, d.o.Host+" is an IP address")
		return
	}
	hf, err := resolve.ReadHostsFileContext(ctx, path)
	if err != nil {
		s.set(StatusWarn, "cannot read %s: %v", path, err)
		d.explain(s, err)
		return
	}
	lines := hf.Mentions(d.o.Host)
	d.rep.HostsLines = append([]resolve.HostsEntry{}, lines...)
	for _, p := range hf.Check(resolve.CheckOptions{}) {
		mentioned := slices.ContainsFunc(lines, func(e resolve.HostsEntry) bool { return e.Line == p.Line })
		if p.MeantFor(d.o.Host) || mentioned && (p.Kind == resolve.KindConflict || p.Kind == resolve.KindDuplicate || p.Kind == resolve.KindLocalhost) {
			s.Details = append(s.Details, fmt.Sprintf("line %d: %s", p.Line, p.Message))
			if p.Severity == resolve.SeverityError {
				s.Status = StatusWarn
			}
		}
	}
	if len(lines) == 0 {
		if s.Status == "" {
			s.set(StatusOK, "no line of %s has %s: DNS decides", path, d.o.Host)
		} else {
			s.Summary = fmt.Sprintf("no usable line of %s has %s, but a line meant for it is broken", path, d.o.Host)
		}
		return
	}
	var where []string
	for _, e := range lines {
		where = append(where, fmt.Sprintf("%s (line %d)", e.Address, e.Line))
	}
	if s.Status == "" {
		s.Status = StatusOK
	}
	s.Summary = fmt.Sprintf("%s maps %s → %s", path, d.o.Host, strings.Join(where, ", "))
	if shadow := d.shadowedDNS(ctx, lines); shadow != "" {
		s.Status = StatusWarn
		s.Details = append(s.Details, shadow)
	}
}

// shadowedDNS asks DNS for the name and says so when its addresses differ
// from the hosts file's: the source nsswitch.conf asks first hides the
// other's. Names of this machine's loopback (localhost) are not asked:
// they are not DNS's to answer.
func (d *diagnosis) shadowedDNS(ctx context.Context, lines []resolve.HostsEntry) string {
	if isLocalhostName(d.o.Host) {
		return ""
	}
	cfg, err := resolve.LoadConfig(d.resolver.Paths)
	if err != nil {
		return ""
	}
	isSource := func(name string) func(resolve.Source) bool {
		return func(s resolve.Source) bool { return s.Name == name }
	}
	files := slices.IndexFunc(cfg.HostsOrder, isSource("files"))
	dns := slices.IndexFunc(cfg.HostsOrder, isSource("dns"))
	if files < 0 || dns < 0 {
		return ""
	}
	ctx, cancel := context.WithTimeout(ctx, d.o.Client.Timeout)
	defer cancel()
	direct := &resolve.Resolver{Paths: d.resolver.Paths, Servers: cfg.Nameservers, Timeout: d.o.Client.Timeout}
	addrs, err := direct.LookupIP(ctx, d.o.Host, resolve.AnyFamily)
	if err != nil || len(addrs) == 0 {
		return ""
	}
	for _, a := range addrs {
		if !slices.ContainsFunc(lines, func(e resolve.HostsEntry) bool { return e.Address == a }) {
			if dns < files {
				return fmt.Sprintf("DNS shadows these lines: %s asks DNS first, and DNS (%s) has %s; the lines count only when DNS has no answer",
					cfg.NSSwitch, resolve.JoinAddrs(cfg.Nameservers), resolve.JoinAddrs(addrs))
			}
			return fmt.Sprintf("the hosts file shadows DNS: DNS (%s) has %s", resolve.JoinAddrs(cfg.Nameservers), resolve.JoinAddrs(addrs))
		}
	}
	return ""
}

// isLocalhostName reports whether name is one of the names of this
// machine's loopback: localhost, a name under .localhost (RFC 6761), and
// the aliases distributions put in /etc/hosts.
func isLocalhostName(name string) bool {
	name = strings.ToLower(strings.TrimSuffix(name, "."))
	switch name {
	case "localhost", "localhost.localdomain", "localhost6", "localhost6.localdomain6", "ip6-localhost", "ip6-loopback":
		return true
	}
	return strings.HasSuffix(name, ".localhost")
}

// NotAllowedError is an address that Options.Allowed refuses, here or in
// the exporter's probes (diag/probe): nothing was sent to it. Target is
// what it came from, as given: a name, or a host and port.
type NotAllowedError struct {
	Target  string
	Address netip.Addr
}

func (e *NotAllowedError) Error() string {
	return fmt.Sprintf("target %q (%s) is not in the allowed networks: nothing was sent to it", e.Target, e.Address)
}

func (d *diagnosis) resolve(ctx context.Context, s *Step) {
	res, err := d.resolver.Resolve(ctx, resolve.Query{Name: d.o.Host, Family: d.o.Family, SockType: resolve.Stream})
	d.rep.Resolution = res
	if err != nil {
		s.set(StatusFail, "%v", err)
		d.explain(s, err)
		return
	}
	var where []string
	for _, a := range res.Answers {
		addr := a.Address.Addr()
		if d.o.Allowed != nil && !d.o.Allowed(addr.Unmap()) {
			d.addrs, d.local = nil, false
			s.set(StatusFail, "%v", &NotAllowedError{Target: d.o.Host, Address: addr.Unmap()})
			return
		}
		if slices.Contains(d.addrs, addr) {
			continue
		}
		d.addrs = append(d.addrs, addr)
		where = append(where, fmt.Sprintf("%s (%s)", addr, a.Origin.Source))
		if isLocalAddr(addr) {
			d.local = true
		}
	}
	s.set(StatusOK, "%s: %s", units.Count(len(d.addrs), "address", "addresses"), strings.Join(where, ", "))
}

func (d *diagnosis) ping(ctx context.Context, s *Step) {
	if len(d.addrs) == 0 {
		d.skipped(s, "no address")
		return
	}
	targets := make([]ping.Target, len(d.addrs))
	for i, a := range d.addrs {
		targets[i] = ping.Target{Host: a.String(), Addr: a}
	}
	stats, err := ping.Run(ctx, ping.Options{Targets: targets, Count: d.o.PingCount,
		Interval: diagnosePingInterval, Timeout: min(d.o.Client.Timeout, time.Second)})
	var perm *ping.PermissionError
	switch {
	case errors.As(err, &perm):
		d.skipped(s, "ICMP is not permitted to this process")
		d.explain(s, err)
		return
	case err != nil:
		s.set(StatusWarn, "ping could not run: %v", err)
		d.explain(s, err)
		return
	}
	d.rep.Ping = stats
	var parts []string
	var failure error // the first address whose ping failed
	replied, failed := 0, 0
	for _, st := range stats {
		switch {
		case st.Err != nil:
			failed++
			failure = cmp.Or(failure, st.Err)
			parts = append(parts, fmt.Sprintf("%s failed: %s", st.Addr, shortError(st.Err)))
		case st.Received > 0:
			replied++
			parts = append(parts, fmt.Sprintf("%s %d/%d, avg %.3f ms", st.Addr, st.Received, st.Sent, st.AvgMs))
		case st.ICMPError != nil:
			failed++
			failure = cmp.Or(failure, error(&ping.NoReplyError{Host: st.Host, ICMP: st.ICMPError}))
			parts = append(parts, fmt.Sprintf("%s no reply: %s answered %s (%d of %d probes)", st.Addr, st.ICMPError.Who(), st.ICMPError.Text, st.Errors, st.Sent))
		case st.Errors > 0:
			failed++
			parts = append(parts, fmt.Sprintf("%s no reply: %d of %d probes could not be sent (%s)", st.Addr, st.Errors, st.Sent, st.FirstError))
		default:
			parts = append(parts, fmt.Sprintf("%s no reply (%d sent)", st.Addr, st.Sent))
		}
	}
	switch {
	case replied == len(stats):
		s.set(StatusOK, "%s", strings.Join(parts, "; "))
		return
	case failure != nil:
		d.explain(s, failure)
	case replied == 0 && failed == 0:
		// Every probe left and none came back: ICMP may be filtered.
		s.Explanation = explain.Finding("ICMP-NO-REPLY", d.o.Host, d.o.Port)
	}
	s.set(StatusWarn, "%s", strings.Join(parts, "; "))
}

// connect tries every address at once, as happy eyeballs would. The
// attempts are judged by judgeConnect, once greet has listened to them.
func (d *diagnosis) connect(ctx context.Context, s *Step) {
	if len(d.addrs) == 0 {
		d.skipped(s, "no address")
		return
	}
	// A raw listener hears the ICMP error that may end a connect, to name
	// it and its sender; without raw socket rights, the errno is all.
	listeners := map[bool]*ping.Listener{}
	for _, a := range d.addrs {
		if _, ok := listeners[a.Is6()]; ok {
			continue
		}
		l, err := ping.Listen(a.Is6(), false)
		if err != nil {
			d.unheard = true
		} else {
			defer l.Close()
		}
		listeners[a.Is6()] = l
	}
	attempts := make([]ConnectAttempt, len(d.addrs))
	done := make(chan struct{}, len(d.addrs))
	for i, a := range d.addrs {
		go func() {
			ap := netip.AddrPortFrom(a, d.o.Port)
			p, err := ping.TCP(ctx, ap, ping.TCPOptions{Timeout: d.o.Client.Timeout, Listener: listeners[a.Is6()]})
			at := ConnectAttempt{Address: ap, State: string(p.State), RTTMs: p.RTTMs, err: cmp.Or(err, p.Refusal)}
			if err != nil {
				at.State = "error"
			}
			var ce *ping.ConnectError
			if errors.As(err, &ce) {
				at.ICMP = ce.ICMP
			}
			if at.err != nil {
				at.Error = at.err.Error()
			}
			attempts[i] = at
			done <- struct{}{}
		}()
	}
	for range d.addrs {
		<-done
	}
	d.rep.Connect = attempts
	for _, at := range attempts {
		if at.State == "error" && explain.IsTimeout(at.err) && listeners[at.Address.Addr().Is6()] != nil {
			d.traceDrop(ctx, at.Address)
			break
		}
	}
}

// traceDrop runs a short TCP SYN trace to ap, whose connect timed out, to
// find the last hop that answers: the packets vanish after it.
func (d *diagnosis) traceDrop(ctx context.Context, ap netip.AddrPort) {
	ctx, cancel := context.WithTimeout(ctx, dropTraceLimit)
	defer cancel()
	res, err := trace.Run(ctx, trace.Options{Host: ap.Addr().String(), Addr: ap.Addr(), Method: trace.MethodTCP, Port: int(ap.Port()),
		Count: 1, MaxHops: dropTraceHops, Timeout: min(d.o.Client.Timeout, dropTraceTimeout), Interval: trace.MinInterval})
	if err == nil {
		d.rep.Trace = res
	}
}

// greet connects once more to every address that accepted, at once, and
// waits greetingWait (not counted in the connect step's time) for the
// server to speak first or hang up: a banner says what the service is; a
// reset or a close says it turns clients away, and the attempt becomes an
// error, as when the reset beats the end of the first connect.
func (d *diagnosis) greet(ctx context.Context) {
	greetings := make([]string, len(d.rep.Connect))
	done := make(chan struct{}, len(d.rep.Connect))
	for i := range d.rep.Connect {
		at := &d.rep.Connect[i]
		if at.State != string(ping.PortOpen) {
			done <- struct{}{}
			continue
		}
		go func() {
			defer func() { done <- struct{}{} }()
			dialer := net.Dialer{Timeout: d.o.Client.Timeout}
			c, err := dialer.DialContext(ctx, "tcp", at.Address.String())
			if err == nil {
				defer c.Close()
				c.SetReadDeadline(time.Now().Add(greetingWait))
				buf := make([]byte, 256)
				var n int
				n, err = c.Read(buf)
				greetings[i] = strings.TrimRight(string(buf[:n]), "\r\n") // escaped where it is printed
			}
			switch {
			case errors.Is(err, syscall.ECONNRESET):
				at.State, at.err, at.Error = "error", err, err.Error()
			case errors.Is(err, io.EOF) && greetings[i] == "":
				at.State, at.err, at.Error = "error", errClosedAtOnce, errClosedAtOnce.Error()
			}
		}()
	}
	for range d.rep.Connect {
		<-done
	}
	for _, g := range greetings {
		if g != "" {
			d.rep.Greeting = g
			break
		}
	}
}

// judgeConnect sums the attempts up in the connect step and keeps the
// addresses that accepted for the later steps.
func (d *diagnosis) judgeConnect(ctx context.Context, s *Step) {
	if len(d.rep.Connect) == 0 { // skipped, or not run
		return
	}
	var parts []string
	var failed *ConnectAttempt // the first attempt that failed
	for i, at := range d.rep.Connect {
		switch {
		case at.State == string(ping.PortOpen):
			d.open = append(d.open, at.Address)
			d.rep.Proven = LayerTCP
			parts = append(parts, fmt.Sprintf("%s open (%.3f ms)", at.Address, at.RTTMs))
		case at.State == string(ping.PortClosed):
			parts = append(parts, fmt.Sprintf("%s refused", at.Address))
		case errors.Is(at.err, errClosedAtOnce):
			parts = append(parts, fmt.Sprintf("%s accepted the connection, then closed it at once", at.Address))
		case errors.Is(at.err, syscall.ECONNRESET):
			parts = append(parts, fmt.Sprintf("%s accepted the connection, then reset it", at.Address))
		case at.ICMP != nil:
			parts = append(parts, fmt.Sprintf("%s %s (%s answered: %s)", at.Address, shortError(at.err), at.ICMP.Who(), at.ICMP.Text))
		case explain.IsTimeout(at.err):
			parts = append(parts, fmt.Sprintf("%s no answer in %s", at.Address, seconds(d.o.Client.Timeout)))
		default:
			parts = append(parts, fmt.Sprintf("%s %s", at.Address, shortError(at.err)))
		}
		if at.State != string(ping.PortOpen) && failed == nil {
			failed = &d.rep.Connect[i]
		}
	}
	summary := strings.Join(parts, "; ")
	switch {
	case len(d.open) == 0:
		s.set(StatusFail, "%s", summary)
		d.explainConnect(ctx, s, failed.Address, failed.err)
		return
	case len(d.open) < len(d.rep.Connect):
		s.set(StatusWarn, "%s", summary)
		s.Details = append(s.Details, "clients that try a failing address first wait or fall back: fix or remove it")
		d.explainConnect(ctx, s, failed.Address, failed.err)
	default:
		s.set(StatusOK, "%s", summary)
	}
	if d.rep.Greeting != "" {
		s.Details = append(s.Details, fmt.Sprintf("the server speaks first: %q", d.rep.Greeting))
	}
}

// explainConnect explains why a connection to ap failed. A reset or a
// close before this side sent anything is the server turning clients
// away, whatever the protocol: not ECONNRESET's other causes.
//
// A timeout to a listener of this machine is a local firewall; any other
// timeout is explained by the trace that followed it, when one ran: where
// the packets vanish, or the router that answered. An errno that stands
// for an ICMP error nobody could hear says so.
func (d *diagnosis) explainConnect(ctx context.Context, s *Step, ap netip.AddrPort, err error) {
	switch {
	case errors.Is(err, errClosedAtOnce) || errors.Is(err, syscall.ECONNRESET):
		s.Explanation = explain.Finding("TURNED-AWAY", ap.Addr().String(), ap.Port())
	case explain.IsTimeout(err) && ctx.Err() == nil && listensHere(ctx, ap):
		s.Explanation = explain.Finding("LOCAL-FIREWALL", ap.Addr().String(), ap.Port())
	default:
		d.explainFailure(s, ap, err)
	}
}

// explainFailure explains a connect that no local listener accounts for:
// by the trace that followed a timeout, or by the error, saying when the
// sender of an ICMP error could not be heard.
func (d *diagnosis) explainFailure(s *Step, ap netip.AddrPort, err error) {
	if tr := d.rep.Trace; tr != nil && tr.Addr == ap.Addr() && explain.IsTimeout(err) {
		s.Details = append(s.Details, traceSummary(tr))
		if tr.Stop.Reason != trace.StopReached {
			d.explain(s, &trace.StopError{Result: tr})
			return
		}
	}
	var ce *ping.ConnectError
	if d.unheard && !errors.As(err, &ce) && (errors.Is(err, syscall.EHOSTUNREACH) || errors.Is(err, syscall.ENETUNREACH)) {
		s.Details = append(s.Details, "who sent the ICMP error behind this could not be seen: hearing it needs raw socket rights (root or CAP_NET_RAW)")
	}
	d.explain(s, err)
}

// listensHere reports whether a socket of this machine listens on ap, so
// that a connect to it which gets no answer is dropped on this machine.
func listensHere(ctx context.Context, ap netip.AddrPort) bool {
	if !isLocalAddr(ap.Addr()) {
		return false
	}
	list, err := sockets.List(ctx, sockets.Query{TCP: true, Listening: true, Port: ap.Port(), SkipOwners: true})
	return err == nil && slices.ContainsFunc(list.Sockets, func(l sockets.Socket) bool { return listenCovers(l.Local.Addr(), ap.Addr()) })
}

// traceSummary is the trace after a connect timeout, in one line.
func traceSummary(tr *trace.Result) string {
	var hops []string
	for _, h := range tr.Hops {
		who := "???"
		if len(h.Addrs) > 0 {
			who = resolve.JoinAddrs(h.Addrs)
		}
		hops = append(hops, fmt.Sprintf("%d %s", h.Hop, who))
	}
	what := "then silence"
	switch tr.Stop.Reason {
	case trace.StopReached:
		what = fmt.Sprintf("reached at hop %d: the connect's packets were lost, or the service is slow to accept", tr.Stop.Hop)
	case trace.StopUnreachable:
		what = fmt.Sprintf("stopped at hop %d: %s", tr.Stop.Hop, tr.Stop.ICMP.Text)
	}
	return fmt.Sprintf("TCP SYN trace to port %d: %s; %s", tr.Port, strings.Join(hops, ", "), what)
}

// listeners looks at the local sockets when the target is this machine:
// what listens on the port, on which addresses, and whether those cover
// the addresses the name resolves to.
func (d *diagnosis) listeners(ctx context.Context, s *Step) {
	if len(d.addrs) == 0 {
		d.skipped(s, "no address to check")
		return
	}
	if !d.local {
		d.skipped(s, "the target is not this machine")
		return
	}
	defer d.retransmits(ctx, s)
	list, err := sockets.List(ctx, sockets.Query{TCP: true, Listening: true, Port: d.o.Port})
	if err != nil {
		s.set(StatusWarn, "cannot list the sockets: %v", err)
		return
	}
	d.rep.Listeners = list.Sockets
	if len(list.Sockets) == 0 {
		s.set(StatusFail, "nothing on this machine listens on TCP port %d", d.o.Port)
		s.Explanation = explain.Finding("NOT-LISTENING", d.o.Host, d.o.Port)
		if len(d.open) > 0 {
			// Something accepted: a listener in another network namespace
			// (a container) or a NAT rule.
			s.set(StatusWarn, "no socket of this namespace listens on port %d, yet the connect succeeded (a container or a NAT rule answers)", d.o.Port)
			s.Explanation = nil
		}
		return
	}
	var where []string
	for _, l := range list.Sockets {
		owner := "-"
		if l.PID != 0 {
			owner = fmt.Sprintf("%d/%s", l.PID, l.Program)
		}
		where = append(where, fmt.Sprintf("%s by %s", l.Local, owner))
	}
	s.set(StatusOK, "listening: %s", strings.Join(where, ", "))
	for _, l := range list.Sockets {
		// Recv-Q of a listener is its accept queue: connections the kernel
		// completed that the process has not accepted yet. (/proc does not
		// show the backlog limit; ss gets it over netlink.)
		if l.RecvQ == 0 {
			continue
		}
		if len(d.open) == 0 {
			s.set(StatusFail, "%s has %s waiting to be accepted and takes no more: its accept queue is full", l.Local, units.Count(l.RecvQ, "connection", "connections"))
			s.Explanation = explain.Finding("ACCEPT-QUEUE-FULL", d.o.Host, d.o.Port)
			d.queueFull = true
		} else {
			s.Status = StatusWarn
			s.Details = append(s.Details, fmt.Sprintf("%s has %s waiting to be accepted: the server is slow to accept", l.Local, units.Count(l.RecvQ, "connection", "connections")))
		}
	}
	var uncovered []netip.Addr
	for _, a := range d.addrs {
		if !slices.ContainsFunc(list.Sockets, func(l sockets.Socket) bool { return listenCovers(l.Local.Addr(), a) }) {
			uncovered = append(uncovered, a)
		}
	}
	if len(uncovered) > 0 {
		if s.Status == StatusOK {
			s.Status = StatusWarn
		}
		if len(uncovered) == len(d.addrs) {
			s.Status = StatusFail
		}
		if resolve.IsNumericHost(d.o.Host) {
			s.Details = append(s.Details, fmt.Sprintf("nothing listens on %s: the server listens on %s only",
				resolve.JoinAddrs(uncovered), joinListenAddrs(list.Sockets)))
			s.Explanation = explain.Finding("LISTEN-ADDRESS-IP", d.o.Host, d.o.Port)
		} else {
			s.Details = append(s.Details, fmt.Sprintf("%s resolves to %s, where nothing listens: the server listens on %s only",
				d.o.Host, resolve.JoinAddrs(uncovered), joinListenAddrs(list.Sockets)))
			s.Explanation = explain.Finding("LISTEN-ADDRESS", d.o.Host, d.o.Port)
		}
	}
	if onlyLoopback(list.Sockets) {
		s.Details = append(s.Details, "every listener is on a loopback address: other hosts cannot reach this service")
	}
}

// retransmits adds to the listen step the connections on the port that
// are retransmitting: data sent and never acknowledged, the "it hangs" a
// listing shows.
func (d *diagnosis) retransmits(ctx context.Context, s *Step) {
	list, err := sockets.List(ctx, sockets.Query{TCP: true, Port: d.o.Port})
	if err != nil {
		return
	}
	most := 0
	for _, c := range list.Sockets {
		if c.Timer == sockets.TimerRetransmit && c.Retransmits > 0 {
			d.rep.Retransmitting = append(d.rep.Retransmitting, c)
			most = max(most, c.Retransmits)
		}
	}
	if n := len(d.rep.Retransmitting); n > 0 {
		if s.Status == StatusOK {
			s.Status = StatusWarn
		}
		s.Details = append(s.Details, fmt.Sprintf("%s on port %d %s retransmitting (up to %d times): the peer does not acknowledge what was sent, "+
			"so packets are dropped on the way (a firewall) or the peer is stuck; 'netkit sockets -o --port %d' shows them",
			units.Count(n, "connection", "connections"), d.o.Port, units.Plural(n, "is", "are"), most, d.o.Port))
	}
}

// listenCovers reports whether a listener on l accepts connections to a.
func listenCovers(l, a netip.Addr) bool {
	if l.IsUnspecified() {
		// [::] also takes IPv4 unless IPV6_V6ONLY; 0.0.0.0 takes IPv4 only.
		return l.Is6() || a.Unmap().Is4()
	}
	return l.Unmap() == a.Unmap()
}

func onlyLoopback(socks []sockets.Socket) bool {
	for _, l := range socks {
		if !l.Local.Addr().IsLoopback() {
			return false
		}
	}
	return true
}

// handshake checks TLS on the first open address and keeps the connection
// for the application check.
func (d *diagnosis) handshake(ctx context.Context, s *Step) {
	if len(d.open) == 0 {
		d.skipped(s, "no open connection")
		return
	}
	wanted := d.o.TLS == TLSOn || d.o.TLS == TLSAuto && slices.Contains(tlsPorts, d.o.Port)
	switch {
	case d.o.TLS == TLSOff:
		d.skipped(s, "TLS not asked for (--plaintext)")
		return
	case !wanted && d.rep.Greeting != "":
		d.skipped(s, "the server speaks first, so it does not speak TLS (--tls to check anyway)")
		return
	}
	// Verification is observed, not enforced, so that the step can say
	// exactly why a certificate fails; Client.InsecureSkipVerify decides
	// whether the echo check may use the connection anyway.
	cfg := d.o.Client
	cfg.InsecureSkipVerify = true
	c, err := echo.DialAddrPort(ctx, d.open[0], cfg)
	if err != nil {
		if wanted && d.blackHole(ctx, s, err, "the TLS handshake") {
			return
		}
		var rec tls.RecordHeaderError
		notTLS := errors.As(err, &rec) || errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET)
		switch {
		case explain.IsTimeout(err) && ctx.Err() == nil && !wanted:
			d.silent(s, "a TLS ClientHello", cfg.Timeout)
			return
		case explain.IsTimeout(err) && ctx.Err() == nil:
			s.set(StatusFail, "no answer to the TLS handshake in %s: the service accepted the connection and sent nothing", seconds(cfg.Timeout))
			d.explain(s, err)
			d.noEcho = "the TLS handshake failed"
			return
		case !wanted && notTLS:
			d.skipped(s, "the service does not answer TLS (--tls to require it)")
			return
		}
		s.set(StatusFail, "%v", err)
		d.explain(s, err)
		d.noEcho = "the TLS handshake failed"
		return
	}
	info := c.Session().TLS
	d.rep.TLS = info
	leaf := ""
	if len(info.Chain) > 0 {
		leaf = fmt.Sprintf(", certificate for %s, expires %s", strings.Join(info.Chain[0].SANs, ", "), info.Chain[0].NotAfter.Format("2006-01-02"))
	}
	switch {
	case info.Verified:
		s.set(StatusOK, "%s %s in %.3f ms%s, verified (%s)", info.Version, info.CipherSuite, info.HandshakeMs, leaf, info.VerifiedBy)
	case d.o.Client.InsecureSkipVerify:
		// As curl -k and openssl s_client: the handshake worked, and the
		// certificate's failure is a warning that says why.
		s.set(StatusWarn, "%s %s in %.3f ms%s: not verified (--insecure): %v", info.Version, info.CipherSuite, info.HandshakeMs, leaf, info.VerifyError)
		d.explain(s, info.VerifyError)
		if s.Explanation != nil {
			s.Explanation.Next = "the connection is encrypted but nobody vouches for the server: to check it, pass its CA with --ca FILE or pin its certificate with --pin sha256:…"
		}
	default:
		s.set(StatusFail, "%s %s in %.3f ms%s: NOT verified: %v", info.Version, info.CipherSuite, info.HandshakeMs, leaf, info.VerifyError)
		d.explain(s, info.VerifyError)
		c.Close()
		d.noEcho = "not tried over a TLS connection whose certificate did not verify (--insecure to try)"
		return
	}
	d.rep.Proven = LayerTLS
	d.conn = c
}

// silent warns of a service that accepted the connection and answered
// nothing to what (a TLS ClientHello, an echo request) within wait.
func (d *diagnosis) silent(s *Step, what string, wait time.Duration) {
	s.set(StatusWarn, "the service accepted the connection and answered nothing to %s in %s", what, seconds(wait))
	s.Explanation = explain.Finding("SILENT", d.open[0].Addr().String(), d.open[0].Port())
}

// seconds is a wait as people say it: "3 s", "0.5 s".
func seconds(d time.Duration) string {
	return strconv.FormatFloat(d.Round(time.Millisecond).Seconds(), 'f', -1, 64) + " s"
}

// echo tries an info round trip: does a netkit echo server answer, and what
// does it see of this client? It runs over the TLS connection of the TLS
// step, or over plain TCP when TLS was not tried or the service does not
// speak it; never over plain TCP after a failed TLS handshake.
func (d *diagnosis) echo(ctx context.Context, s *Step) {
	switch {
	case len(d.open) == 0:
		d.skipped(s, "no open connection")
		return
	case d.noEcho != "":
		d.skipped(s, d.noEcho)
		return
	case d.rep.Greeting != "":
		d.skipped(s, "the server speaks first: not a netkit echo server")
		return
	case d.conn == nil:
		cfg := d.o.Client
		cfg.Plaintext = true
		c, err := echo.DialAddrPort(ctx, d.open[0], cfg)
		if err != nil {
			s.set(StatusFail, "%v", err)
			d.explainConnect(ctx, s, d.open[0], err)
			return
		}
		d.conn = c
	}
	wait := min(d.o.Client.Timeout, time.Second)
	rctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	info, rtt, err := d.conn.Info(rctx)
	if alert, ok := explain.PeerAlert(err); ok {
		// TLS 1.3: the server checks the client's certificate after the
		// client's side of the handshake ended, and refuses on first use.
		s.set(StatusFail, "the server refused this client after the TLS handshake, with the alert %q", alert)
		d.explain(s, err)
		return
	}
	switch {
	case err != nil && d.rep.TLS != nil && d.blackHole(ctx, s, err, "the echo reply"):
		// A reply that stalls after a TLS handshake went through comes
		// from a server that talks: large packets may be what vanishes.
		return
	case err != nil && explain.IsTimeout(err) && ctx.Err() == nil:
		d.silent(s, "a netkit echo request", wait)
		return
	case err != nil:
		d.skipped(s, fmt.Sprintf("no netkit echo reply (%s): another kind of service", shortError(err)))
		return
	}
	d.rep.Proven = LayerEcho
	d.rep.Echo = &EchoResult{PeerInfo: info, RTTMs: units.Millis(rtt)}
	seen := fmt.Sprintf("%s:%d", info.RemoteAddr, info.RemotePort)
	if info.TLS {
		seen += " over " + info.TLSVersion
	}
	s.set(StatusOK, "netkit echo server answered info in %.3f ms; it sees this client as %s", units.Millis(rtt), seen)
}

// blackHole checks, when what (a TLS handshake that was wanted, an echo
// reply after a TLS handshake) timed out over a connection that opened, whether large packets vanish on the way: the
// path MTU with DF probes. It fails the step and reports true for an MTU
// black hole. It needs raw socket rights, and takes at most mtuLimit.
func (d *diagnosis) blackHole(ctx context.Context, s *Step, err error, what string) bool {
	if !explain.IsTimeout(err) || d.rep.PathMTU != nil {
		return false
	}
	ctx, cancel := context.WithTimeout(ctx, mtuLimit)
	defer cancel()
	res, merr := trace.PathMTU(ctx, trace.MTUOptions{Addr: d.open[0].Addr()})
	if merr != nil {
		return false
	}
	d.rep.PathMTU = res
	if !res.BlackHole {
		return false
	}
	hole := &trace.MTUBlackHoleError{Result: res}
	s.set(StatusFail, "%s stalled: %s", what, hole)
	d.explain(s, hole)
	d.noEcho = what + " stalled: an MTU black hole"
	return true
}

// isLocalAddr reports whether a is an address of this machine.
func isLocalAddr(a netip.Addr) bool {
	if a.IsLoopback() {
		return true
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return false
	}
	for _, ia := range addrs {
		if n, ok := ia.(*net.IPNet); ok {
			if ip, ok := netip.AddrFromSlice(n.IP); ok && ip.Unmap() == a.Unmap().WithZone("") {
				return true
			}
		}
	}
	return false
}

// shortError is the innermost, most specific text of err: "connection
// refused" rather than the whole dial chain.
func shortError(err error) string {
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		var sys *os.SyscallError
		if errors.As(op.Err, &sys) {
			return sys.Err.Error()
		}
		return op.Err.Error()
	}
	if err == nil {
		return ""
	}
	return err.Error()
}

func joinListenAddrs(socks []sockets.Socket) string {
	s := make([]string, len(socks))
	for i, l := range socks {
		s[i] = l.Local.Addr().String()
	}
	return strings.Join(s, ", ")
}
