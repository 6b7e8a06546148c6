// Package netlab builds network namespaces for tests that need a real path:
// a single namespace with its loopback up (Netns), or a lab of four hosts,
// client — router1 — router2 — server, joined by veth links, with
// forwarding, IPv4 and IPv6 addresses, and nftables rules on the server that
// drop, reject and reset (New). Everything it builds is deleted when the
// test ends. The probing process must run inside the client namespace
// (Command, Do): the root namespace never sends to the lab's addresses.
//
// Every function skips the test under 'go test -short', when the test does
// not run as root, or when a tool it needs (ip, nft) is missing.
package netlab

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/netkit/netkit/internal/testenv"
	"golang.org/x/sys/unix"
)

var seq atomic.Int32

// Netns creates a network namespace named nk<prefix><pid>-<n>, with its
// loopback up, and deletes it when the test ends.
func Netns(t testing.TB, prefix string) string {
	t.Helper()
	testenv.NeedRoot(t)
	name := fmt.Sprintf("nk%s%d-%d", prefix, os.Getpid(), seq.Add(1))
	Must(t, "ip", "netns", "add", name)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", name).Run() })
	Must(t, "ip", "-n", name, "link", "set", "lo", "up")
	return name
}

// Must runs a setup command and fails the test if it fails.
func Must(t testing.TB, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// Command returns the command that runs args inside namespace ns, bounded
// by ctx.
func Command(ctx context.Context, ns string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", ns}, args...)...)
}

// Do runs f on an OS thread moved into namespace ns, so that the sockets f
// opens belong to ns; they keep working from any thread. The thread goes
// back to its namespace after f; if it cannot, it stays locked and Go ends
// it with its goroutine, never to run other goroutines in the wrong
// namespace.
func Do(t testing.TB, ns string, f func() error) {
	t.Helper()
	errc := make(chan error, 1)
	go func() {
		// The thread enters ns only for f and then goes back: a thread left
		// in ns could be the main thread, which Go never ends, and every
		// later read of /proc/net by this test binary would see ns.
		runtime.LockOSThread()
		orig, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			errc <- err
			return
		}
		defer unix.Close(orig)
		fd, err := unix.Open("/run/netns/"+ns, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			errc <- err
			return
		}
		defer unix.Close(fd)
		if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("setns %s: %w", ns, err)
			return
		}
		ferr := f()
		if err := unix.Setns(orig, unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("setns back from %s: %w", ns, err)
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

// Listen listens on the TCP address addr inside namespace ns until the test
// ends; it keeps each connection it accepts open until the client closes
// it, reading and dropping what it sends.
func Listen(t testing.TB, ns, addr string) net.Listener {
	t.Helper()
	var ln net.Listener
	Do(t, ns, func() (err error) {
		ln, err = net.Listen("tcp", addr)
		return err
	})
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				io.Copy(io.Discard, c)
				c.Close()
			}()
		}
	}()
	return ln
}

// Addresses of the lab. Traffic to them flows only between the lab's
// namespaces.
const (
	ClientAddr = "10.251.1.2"
	// Router1Addr is router1's address on the client's link; it forwards
	// 10.251.2.0/24 and 10.251.3.0/24 and has no other route: it answers
	// net unreachable for Unroutable.
	Router1Addr = "10.251.1.1"
	// Router2Addr is router2's address on its link to router1.
	Router2Addr = "10.251.2.2"
	// ServerAddr answers pings; port 80 listens (see New for the rest).
	ServerAddr = "10.251.3.2"
	// ServerNoICMP drops ICMP echo requests.
	ServerNoICMP = "10.251.3.3"
	// ServerRejectICMP rejects ICMP echo requests with admin-prohibited.
	ServerRejectICMP = "10.251.3.4"
	// Unroutable is an address router1 has no route to. Its "net
	// unreachable" answers are rate limited per client (the global
	// net.ipv4.route.error_cost, one a second after a burst of five), and
	// every other ICMP error router1 sends the client empties that
	// bucket: probe it before anything else in a lab, or a second later.
	Unroutable = "10.251.9.9"

	Client6Addr  = "fd51:1::2"
	Router16Addr = "fd51:1::1"
	Router26Addr = "fd51:2::2"
	Server6Addr  = "fd51:3::2"
	Unroutable6  = "fd51:9::9"
)

// Ports of the server, on every address.
const (
	PortOpen        = 80 // a listener that accepts and closes
	PortDropped     = 81 // nftables drops the SYN: a connect timeout
	PortProhibited  = 82 // rejected with ICMP admin-prohibited
	PortHostUnreach = 83 // rejected with ICMP host-unreachable
	PortReset       = 84 // rejected with a TCP reset by nftables
	PortClosed      = 85 // nothing listens: the kernel resets
)

// Lab is the four namespaces of New.
type Lab struct {
	Client, Router1, Router2, Server string
	t                                testing.TB
}

// New builds the lab:
//
//	client 10.251.1.2 — 10.251.1.1 router1 10.251.2.1 — 10.251.2.2 router2 10.251.3.1 — server 10.251.3.2 .3 .4
//	       fd51:1::2   — fd51:1::1          fd51:2::1   — fd51:2::2          fd51:3::1   — fd51:3::2
//
// The link names are c0 (client), r1c and r1n (router1, toward the client
// and the next router), r2p and r2s (router2), s0 (server). The server's
// nftables rules are those of the Port and Server constants.
func New(t testing.TB) *Lab {
	t.Helper()
	testenv.NeedRoot(t)
	testenv.NeedTool(t, "nft")
	l := &Lab{Client: Netns(t, "lab"), Router1: Netns(t, "lab"), Router2: Netns(t, "lab"), Server: Netns(t, "lab"), t: t}
	// No duplicate address detection: it holds IPv6 back for a second
	// after a link comes up, and the first probes would be lost.
	for _, ns := range []string{l.Client, l.Router1, l.Router2, l.Server} {
		Must(t, "ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.all.accept_dad=0", "net.ipv6.conf.default.accept_dad=0")
	}
	for _, c := range [][]string{
		{"-n", l.Client, "link", "add", "c0", "type", "veth", "peer", "name", "r1c", "netns", l.Router1},
		{"-n", l.Router1, "link", "add", "r1n", "type", "veth", "peer", "name", "r2p", "netns", l.Router2},
		{"-n", l.Router2, "link", "add", "r2s", "type", "veth", "peer", "name", "s0", "netns", l.Server},
	} {
		Must(t, "ip", c...)
	}
	for _, a := range []struct{ ns, dev, v4, v6 string }{
		{l.Client, "c0", "10.251.1.2/24", "fd51:1::2/64"},
		{l.Router1, "r1c", "10.251.1.1/24", "fd51:1::1/64"},
		{l.Router1, "r1n", "10.251.2.1/24", "fd51:2::1/64"},
		{l.Router2, "r2p", "10.251.2.2/24", "fd51:2::2/64"},
		{l.Router2, "r2s", "10.251.3.1/24", "fd51:3::1/64"},
		{l.Server, "s0", "10.251.3.2/24", "fd51:3::2/64"},
	} {
		Must(t, "ip", "-n", a.ns, "addr", "add", a.v4, "dev", a.dev)
		Must(t, "ip", "-n", a.ns, "-6", "addr", "add", a.v6, "dev", a.dev, "nodad")
		Must(t, "ip", "-n", a.ns, "link", "set", a.dev, "up")
	}
	for _, c := range [][]string{
		{"-n", l.Server, "addr", "add", "10.251.3.3/24", "dev", "s0"},
		{"-n", l.Server, "addr", "add", "10.251.3.4/24", "dev", "s0"},
		{"-n", l.Client, "route", "add", "default", "via", "10.251.1.1"},
		{"-n", l.Client, "-6", "route", "add", "default", "via", "fd51:1::1"},
		{"-n", l.Router1, "route", "add", "10.251.3.0/24", "via", "10.251.2.2"},
		{"-n", l.Router1, "-6", "route", "add", "fd51:3::/64", "via", "fd51:2::2"},
		{"-n", l.Router2, "route", "add", "default", "via", "10.251.2.1"},
		{"-n", l.Router2, "-6", "route", "add", "default", "via", "fd51:2::1"},
		{"-n", l.Server, "route", "add", "default", "via", "10.251.3.1"},
		{"-n", l.Server, "-6", "route", "add", "default", "via", "fd51:3::1"},
	} {
		Must(t, "ip", c...)
	}
	for _, r := range []string{l.Router1, l.Router2} {
		Must(t, "ip", "netns", "exec", r, "sysctl", "-qw", "net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1")
	}
	// Routers answer as often as probes come: the kernel's default rate
	// limit (one ICMP error per second per peer, bursts of 50) would turn
	// fast probes into false silence.
	for _, ns := range []string{l.Router1, l.Router2, l.Server} {
		Must(t, "ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv4.icmp_ratelimit=0", "net.ipv6.icmp.ratelimit=0")
	}
	l.waitUp()
	l.Nft(l.Server, fmt.Sprintf(`table inet netlab {
	chain input {
		type filter hook input priority 0; policy accept;
		ip daddr %s icmp type echo-request drop
		ip daddr %s icmp type echo-request reject with icmp type admin-prohibited
		tcp dport %d drop
		meta nfproto ipv4 tcp dport %d reject with icmp type admin-prohibited
		meta nfproto ipv6 tcp dport %d reject with icmpv6 type admin-prohibited
		meta nfproto ipv4 tcp dport %d reject with icmp type host-unreachable
		meta nfproto ipv6 tcp dport %d reject with icmpv6 type addr-unreachable
		tcp dport %d reject with tcp reset
	}
}
`, ServerNoICMP, ServerRejectICMP, PortDropped, PortProhibited, PortProhibited, PortHostUnreach, PortHostUnreach, PortReset))
	Listen(t, l.Server, fmt.Sprintf(":%d", PortOpen))
	return l
}

// waitUp waits, up to two seconds, until every link of the lab is up and
// its IPv6 addresses are ready (not tentative), so that the first probes
// of a test are not lost to a link still coming up.
func (l *Lab) waitUp() {
	l.t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for _, ns := range []string{l.Client, l.Router1, l.Router2, l.Server} {
		for {
			links, _ := exec.Command("ip", "-n", ns, "-br", "link").Output()
			addrs, _ := exec.Command("ip", "-n", ns, "-6", "addr").Output()
			if !strings.Contains(string(links), "LOWERLAYERDOWN") && !strings.Contains(string(links), " DOWN") &&
				!strings.Contains(string(addrs), "tentative") {
				break
			}
			if time.Now().After(deadline) {
				l.t.Fatalf("lab links not up after 2s in %s:\n%s%s", ns, links, addrs)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// Nft loads nftables rules into namespace ns.
func (l *Lab) Nft(ns, rules string) {
	l.t.Helper()
	path := filepath.Join(l.t.TempDir(), "rules.nft")
	if err := os.WriteFile(path, []byte(rules), 0o644); err != nil {
		l.t.Fatal(err)
	}
	Must(l.t, "ip", "netns", "exec", ns, "nft", "-f", path)
}

// BlackHole makes an MTU black hole between the server and the client:
// router1's link toward the client gets an MTU of mtu (on router1's side
// only, so that TCP's MSS does not hide it), and router1 drops the
// "fragmentation needed" (IPv6: "packet too big") messages it would send
// about it. Small packets pass both ways; larger ones vanish.
func (l *Lab) BlackHole(mtu int) {
	l.t.Helper()
	Must(l.t, "ip", "-n", l.Router1, "link", "set", "r1c", "mtu", fmt.Sprint(mtu))
	l.Nft(l.Router1, `table inet netlab_blackhole {
	chain output {
		type filter hook output priority 0; policy accept;
		icmp type destination-unreachable icmp code frag-needed drop
		icmpv6 type packet-too-big drop
	}
}
`)
}

// ECMP adds a second link between the routers (router1 10.251.4.1, r1e —
// router2 10.251.4.2, r2e) and splits router1's route to the server's
// network over both, hashed on ports (fib_multipath_hash_policy 1), as an
// ECMP router does. Router2 answers "time exceeded" from the address of
// the link a probe came in by, so a trace sees both at hop 2.
func (l *Lab) ECMP() {
	l.t.Helper()
	for _, c := range [][]string{
		{"-n", l.Router1, "link", "add", "r1e", "type", "veth", "peer", "name", "r2e", "netns", l.Router2},
		{"-n", l.Router1, "addr", "add", "10.251.4.1/24", "dev", "r1e"},
		{"-n", l.Router2, "addr", "add", "10.251.4.2/24", "dev", "r2e"},
		{"-n", l.Router1, "link", "set", "r1e", "up"},
		{"-n", l.Router2, "link", "set", "r2e", "up"},
		{"-n", l.Router1, "route", "replace", "10.251.3.0/24", "nexthop", "via", "10.251.2.2", "nexthop", "via", "10.251.4.2"},
	} {
		Must(l.t, "ip", c...)
	}
	Must(l.t, "ip", "netns", "exec", l.Router1, "sysctl", "-qw", "net.ipv4.fib_multipath_hash_policy=1")
	Must(l.t, "ip", "netns", "exec", l.Router2, "sysctl", "-qw", "net.ipv4.icmp_errors_use_inbound_ifaddr=1")
	l.waitUp()
}

// Router2ECMPAddr is router2's address on the second link of ECMP.
const Router2ECMPAddr = "10.251.4.2"

// LowMTU sets the MTU of the link between the routers, on both sides, to
// mtu: router1 says so ("fragmentation needed") to senders of larger
// packets with DF set, as tracepath expects.
func (l *Lab) LowMTU(mtu int) {
	l.t.Helper()
	Must(l.t, "ip", "-n", l.Router1, "link", "set", "r1n", "mtu", fmt.Sprint(mtu))
	Must(l.t, "ip", "-n", l.Router2, "link", "set", "r2p", "mtu", fmt.Sprint(mtu))
}
