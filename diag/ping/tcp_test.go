package ping

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/netkit/netkit/internal/testnet"
)

// openPort returns the address of a listener that accepts and closes
// connections until the test ends.
func openTCPPort(t *testing.T, network, host string) netip.AddrPort {
	t.Helper()
	ln, err := net.Listen(network, net.JoinHostPort(host, "0"))
	if err != nil {
		t.Skipf("no %s loopback: %v", network, err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln.Addr().(*net.TCPAddr).AddrPort()
}

// TestTCPPing checks one probe against a listener (open) and a closed port
// (closed: the host answered with a RST), over IPv4 and IPv6.
func TestTCPPing(t *testing.T) {
	for _, fam := range []struct{ network, host string }{{"tcp4", "127.0.0.1"}, {"tcp6", "::1"}} {
		t.Run(fam.host, func(t *testing.T) {
			for _, tc := range []struct {
				addr netip.AddrPort
				want PortState
			}{
				{openTCPPort(t, fam.network, fam.host), PortOpen},
				{testnet.ClosedPort(t, fam.network, fam.host), PortClosed},
			} {
				res, err := TCP(context.Background(), tc.addr, TCPOptions{Timeout: time.Second})
				if err != nil {
					t.Fatalf("%s: %v", tc.addr, err)
				}
				if res.State != tc.want || res.RTTMs <= 0 || res.RTTMs >= 1000 {
					t.Errorf("%s: %+v, want %s with 0 < RTT < 1 s", tc.addr, res, tc.want)
				}
			}
		})
	}
}

// TestPingTCP runs Ping with TCPPort against an open and a closed port:
// both hosts are alive, the counts say which answer came.
func TestPingTCP(t *testing.T) {
	open := openTCPPort(t, "tcp4", "127.0.0.1")
	closed := testnet.ClosedPort(t, "tcp6", "::1")
	for _, tc := range []struct {
		addr         netip.AddrPort
		open, closed int
		state        PortState
	}{
		{open, 3, 0, PortOpen},
		{closed, 0, 3, PortClosed},
	} {
		var rec recorder
		o := Options{Targets: []Target{{Host: tc.addr.Addr().String()}}, TCPPort: int(tc.addr.Port()),
			Count: 3, Interval: 200 * time.Millisecond, Timeout: time.Second}
		rec.hook(&o)
		stats, err := Run(context.Background(), o)
		if err != nil {
			t.Fatal(err)
		}
		s := stats[0]
		if s.Method != MethodTCP || s.State != Alive || s.Sent != 3 || s.Received != 3 || s.Open != tc.open || s.Closed != tc.closed || s.LossPct != 0 {
			t.Errorf("%s: %+v", tc.addr, s)
		}
		// Both counts are in the JSON, a zero too.
		doc, err := json.Marshal(s)
		if want := fmt.Sprintf(`"open":%d,"closed":%d`, tc.open, tc.closed); err != nil || !strings.Contains(string(doc), want) {
			t.Errorf("%s: JSON %s lacks %s (%v)", tc.addr, doc, want, err)
		}
		if !(0 < s.MinMs && s.MinMs <= s.AvgMs && s.AvgMs <= s.MaxMs && s.MaxMs < 1000) {
			t.Errorf("%s: rtt %v/%v/%v ms", tc.addr, s.MinMs, s.AvgMs, s.MaxMs)
		}
		for i, p := range rec.probes {
			if p.Kind != ProbeReply || p.PortState != tc.state || p.Port != int(tc.addr.Port()) || p.Seq != i+1 {
				t.Errorf("%s: probe %d %+v", tc.addr, i, p)
			}
		}
	}
}

// TestTCPPingTTL checks on the wire, with a raw TCP socket that sees the
// SYNs to its address, that the TTL option reaches the SYN.
func TestTCPPingTTL(t *testing.T) {
	needRawICMP(t)
	const host = "127.4.4.7"
	rc := rawConn(t, "ip4:tcp", host)
	addr := testnet.ClosedPort(t, "tcp4", host)
	if _, err := TCP(context.Background(), addr, TCPOptions{TTL: 7}); err != nil {
		t.Fatal(err)
	}
	rc.SetReadDeadline(time.Now().Add(2 * time.Second))
	buf := make([]byte, 1500)
	for {
		h, p, _, err := rc.ReadFrom(buf)
		if err != nil {
			t.Fatalf("no SYN to %s seen: %v", addr, err)
		}
		// The TCP header: destination port at 2, flags at 13 (SYN = 0x02).
		if len(p) >= 14 && int(p[2])<<8|int(p[3]) == int(addr.Port()) && p[13]&0x02 != 0 {
			if h.TTL != 7 {
				t.Errorf("SYN sent with TTL %d, want 7", h.TTL)
			}
			return
		}
	}
}

// TestTCPPingCancelled checks that a probe cut short by its context is an
// error, not an answer.
func TestTCPPingCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := TCP(ctx, openTCPPort(t, "tcp4", "127.0.0.1"), TCPOptions{})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error %v, want context.Canceled", err)
	}
}
