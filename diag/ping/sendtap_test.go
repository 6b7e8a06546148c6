package ping

import (
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// TestSendTap sends echo requests to 127.0.0.1 and ::1 on a Listener, each
// carrying the time just before it was sent, and checks that the replies
// come with the kernel's send time of their request (Message.Sent), after
// that time and before the kernel received the reply: the RTT ping reports
// leaves the send path in this process out. The first may come without,
// if the kernel's timestamps were off until the Listener asked.
func TestSendTap(t *testing.T) {
	needRawICMP(t)
	for _, dst := range []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("::1")} {
		t.Run(dst.String(), func(t *testing.T) {
			l, err := listen(dst.Is6(), true, true)
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			if l.tap == nil {
				t.Fatal("no send tap: the packet socket did not open")
			}
			const id, probes = 0x4e4b, 5
			proto, typ := ProtoICMP, icmp.Type(ipv4.ICMPTypeEcho)
			if dst.Is6() {
				proto, typ = ProtoICMPv6, ipv6.ICMPTypeEchoRequest
			}
			replies := make(chan Message, probes)
			defer l.Subscribe(proto, dst, id, func(m Message) { replies <- m })()
			for seq := range probes {
				data := binary.BigEndian.AppendUint64(nil, uint64(time.Now().UnixNano()))
				b, _ := (&icmp.Message{Type: typ, Body: &icmp.Echo{ID: id, Seq: seq, Data: data}}).Marshal(nil)
				if err := l.WriteTo(b, dst, 64); err != nil {
					t.Fatal(err)
				}
			}
			tapped := 0
			for range probes {
				select {
				case m := <-replies:
					before := time.Unix(0, int64(binary.BigEndian.Uint64(m.Data)))
					if m.Sent.IsZero() {
						continue // the kernel's timestamps were not on yet (see Listener.loop)
					}
					tapped++
					if m.Sent.Before(before) || m.At.Before(m.Sent) {
						t.Errorf("seq %d: payload time %v, kernel send time %v, receive time %v: want them in this order",
							m.Seq, before.Format(time.StampNano), m.Sent.Format(time.StampNano), m.At.Format(time.StampNano))
					}
				case <-time.After(2 * time.Second):
					t.Fatal("a reply did not come within 2 s")
				}
			}
			if tapped < probes-1 {
				t.Errorf("%d of %d replies came with the kernel's send time, want all but the first at most", tapped, probes)
			}
		})
	}
}

// FuzzSendTapParse checks that no packet makes the tap's parser panic, and
// that what it reads from a well-formed request is its destination,
// identifier and sequence.
func FuzzSendTapParse(f *testing.F) {
	f.Add(false, []byte{0x45, 0, 0, 84, 0, 0, 0x40, 0, 64, 1, 0, 0, 127, 0, 0, 1, 127, 0, 0, 1, 8, 0, 0, 0, 0x12, 0x34, 0, 1})
	f.Add(true, append(append([]byte{0x60, 0, 0, 0, 0, 8, 58, 64}, netip.IPv6Loopback().AsSlice()...),
		append(netip.IPv6Loopback().AsSlice(), 128, 0, 0, 0, 0x12, 0x34, 0, 1)...))
	f.Add(false, []byte{0x4f, 0, 0, 84})
	f.Fuzz(func(t *testing.T, v6 bool, b []byte) {
		k, ok := (&sendTap{v6: v6}).parse(b)
		if !ok {
			return
		}
		if !k.dst.IsValid() || k.dst.Is6() != v6 {
			t.Errorf("%x: destination %v", b, k.dst)
		}
	})
}
