package ping

import (
	"net/netip"
	"testing"
)

// fragNeeded is an IPv4 "fragmentation needed" from 10.251.1.1 with an MTU
// of 1300, quoting a TCP segment from port 40000 to 10.251.3.2:443.
var fragNeeded = []byte{
	3, 4, 0, 0, 0, 0, 0x05, 0x14, // type, code, checksum, unused, MTU 1300
	0x45, 0, 0x05, 0xdc, 0, 0, 0x40, 0, 64, 6, 0, 0, 10, 251, 1, 2, 10, 251, 3, 2, // IPv4 header, TCP
	0x9c, 0x40, 0x01, 0xbb, 0, 0, 0, 0, // ports 40000 -> 443, sequence number
}

// TestParseMessage checks what ParseMessage reads from an error quoting a
// TCP segment: the sender, the kind and words of the error, the MTU, the
// quoted destination and ports.
func TestParseMessage(t *testing.T) {
	from := netip.MustParseAddr("10.251.1.1")
	m, ok := ParseMessage(false, from, fragNeeded)
	if !ok || m.Err == nil {
		t.Fatalf("not parsed: %+v", m)
	}
	e := m.Err
	if m.Proto != ProtoTCP || m.SrcPort != 40000 || m.DstPort != 443 || m.Dst != netip.MustParseAddr("10.251.3.2") ||
		e.Kind != KindFragNeeded || e.MTU != 1300 || e.Text != "Frag needed and DF set (mtu = 1300)" || e.Port != 443 ||
		e.Protocol != "tcp" || e.From != from || !e.Router() || e.Who() != "router 10.251.1.1" {
		t.Errorf("parsed %+v, error %+v", m, e)
	}
	for n := range len(fragNeeded) - 1 {
		if _, ok := ParseMessage(false, from, fragNeeded[:n]); ok {
			t.Errorf("truncated to %d bytes: parsed", n)
		}
	}
}

// FuzzParseMessage checks that no input makes ParseMessage panic, and that
// every error it reports has words and a destination.
func FuzzParseMessage(f *testing.F) {
	f.Add(false, fragNeeded)
	f.Add(true, []byte{3, 0, 0, 0, 0, 0, 0, 0, 0x60, 0, 0, 0, 0, 8, 58, 1, 0xfd, 0x51, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2,
		0xfd, 0x51, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 128, 0, 0, 0, 0x12, 0x34, 0, 1})
	f.Add(false, []byte{0, 0, 0, 0, 0x12, 0x34, 0, 1})
	f.Fuzz(func(t *testing.T, v6 bool, b []byte) {
		m, ok := ParseMessage(v6, netip.MustParseAddr("10.0.0.1"), b)
		if ok && m.Err != nil && (m.Err.Text == "" || !m.Err.Dst.IsValid() || m.Err.Kind == "") {
			t.Errorf("%x: %+v", b, m.Err)
		}
	})
}
