// Package testnet holds what tests of several packages build: a loopback
// listener closed when the test ends, an accept loop, a TLS server, a
// resolver that answers from a hosts file alone, and ports nothing uses.
package testnet

import (
	"crypto/tls"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/netkit/netkit/resolve"
)

// Listen listens on the TCP address addr (such as "127.0.0.1:0") and
// closes the listener when the test ends.
func Listen(t testing.TB, addr string) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// ServeConns runs handle on each connection l accepts until the test ends,
// then closes l and waits for the handlers to return. Each connection is
// closed when its handler returns.
func ServeConns(t testing.TB, l net.Listener, handle func(net.Conn)) {
	t.Helper()
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				handle(c)
			})
		}
	})
	t.Cleanup(func() { l.Close(); wg.Wait() })
}

// HostsResolver returns a resolver that answers from a temporary hosts file
// holding lines and nothing else: its nsswitch.conf says "hosts: files", so
// no DNS server is asked.
func HostsResolver(t testing.TB, lines string) *resolve.Resolver {
	t.Helper()
	dir := t.TempDir()
	hosts := filepath.Join(dir, "hosts")
	if err := os.WriteFile(hosts, []byte(lines), 0o644); err != nil {
		t.Fatal(err)
	}
	nss := filepath.Join(dir, "nsswitch.conf")
	if err := os.WriteFile(nss, []byte("hosts: files\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return &resolve.Resolver{HostsPath: hosts, Paths: resolve.ConfigPaths{NSSwitch: nss, ResolvConf: filepath.Join(dir, "none")}}
}

// ClosedPort returns an address and port of host that nothing listens on
// for network ("tcp", "tcp6", "udp", …): one the kernel just handed out and
// that was closed again. It skips the test when the network is missing
// (no IPv6 loopback).
func ClosedPort(t testing.TB, network, host string) netip.AddrPort {
	t.Helper()
	var (
		c   io.Closer
		ap  netip.AddrPort
		err error
	)
	if strings.HasPrefix(network, "udp") {
		var pc net.PacketConn
		if pc, err = net.ListenPacket(network, net.JoinHostPort(host, "0")); err == nil {
			c, ap = pc, pc.LocalAddr().(*net.UDPAddr).AddrPort()
		}
	} else {
		var l net.Listener
		if l, err = net.Listen(network, net.JoinHostPort(host, "0")); err == nil {
			c, ap = l, l.Addr().(*net.TCPAddr).AddrPort()
		}
	}
	if err != nil {
		t.Skipf("no %s on %s: %v", network, host, err)
	}
	c.Close()
	return ap
}

// ServeTLS serves TLS with cert on a port of 127.0.0.1 until the test
// ends and returns its address: each client gets the handshake (within 2 s)
// and is then read until it closes.
func ServeTLS(t testing.TB, cert tls.Certificate) string {
	t.Helper()
	l := Listen(t, "127.0.0.1:0")
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}}
	ServeConns(t, l, func(c net.Conn) {
		tc := tls.Server(c, cfg)
		tc.SetDeadline(time.Now().Add(2 * time.Second))
		tc.Handshake()
		io.Copy(io.Discard, tc)
	})
	return l.Addr().String()
}

// UnusedPort returns a port that no TCP or UDP socket of this network
// namespace has as its local port, on any address, not even one closing in
// TIME_WAIT; on loopback, then, no socket has it at either end. It is
// below the kernel's ephemeral range (32768 and up by default), whose
// ports the connections of other programs may take at any moment, as a
// port the kernel hands out and takes back (ClosedPort) may be.
func UnusedPort(t testing.TB) uint16 {
	t.Helper()
	free := func(family, typ, port int) bool {
		fd, err := syscall.Socket(family, typ|syscall.SOCK_CLOEXEC, 0)
		if err != nil {
			return family == syscall.AF_INET6 // no IPv6: nothing to hold it
		}
		defer syscall.Close(fd)
		// No SO_REUSEADDR: a socket in TIME_WAIT on the port makes bind fail.
		if family == syscall.AF_INET {
			return syscall.Bind(fd, &syscall.SockaddrInet4{Port: port}) == nil
		}
		syscall.SetsockoptInt(fd, syscall.IPPROTO_IPV6, syscall.IPV6_V6ONLY, 1)
		return syscall.Bind(fd, &syscall.SockaddrInet6{Port: port}) == nil
	}
	for p := 20000 + os.Getpid()%5000; p < 32000; p += 7 {
		if free(syscall.AF_INET, syscall.SOCK_STREAM, p) && free(syscall.AF_INET6, syscall.SOCK_STREAM, p) &&
			free(syscall.AF_INET, syscall.SOCK_DGRAM, p) && free(syscall.AF_INET6, syscall.SOCK_DGRAM, p) {
			return uint16(p)
		}
	}
	t.Fatal("no unused port from 20000 to 32000")
	return 0
}
