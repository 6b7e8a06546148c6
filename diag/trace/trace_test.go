package trace

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"testing"
)

// TestOptionErrors checks that Run refuses options it cannot run with,
// naming the option, before it opens any socket.
func TestOptionErrors(t *testing.T) {
	for _, tc := range []struct {
		o      Options
		option string
	}{
		{Options{}, "Host"},
		{Options{Host: "127.0.0.1", Method: "sctp"}, "Method"},
		{Options{Host: "127.0.0.1", Method: MethodTCP}, "Port"},
		{Options{Host: "127.0.0.1", Method: MethodUDP, Port: 65500}, "Port"},
		{Options{Host: "127.0.0.1", Count: -1}, "Count"},
		{Options{Host: "127.0.0.1", MaxHops: 256}, "MaxHops"},
		{Options{Host: "127.0.0.1", Interval: MinInterval / 2}, "Interval"},
	} {
		_, err := Run(context.Background(), tc.o)
		var oe *OptionError
		if !errors.As(err, &oe) || oe.Option != tc.option {
			t.Errorf("%+v: error %v, want an *OptionError for %s", tc.o, err, tc.option)
		}
	}
}

// TestSpread checks the sizes one round of PathMTU tries: every size when
// few are left, else evenly spread from lo to hi, both ends included.
func TestSpread(t *testing.T) {
	for _, tc := range []struct {
		lo, hi int
		want   string
	}{
		{1300, 1304, "[1300 1301 1302 1303 1304]"},
		{1301, 1499, "[1301 1315 1329 1343 1357 1371 1385 1400 1414 1428 1442 1456 1470 1484 1499]"},
	} {
		if got := fmt.Sprint(spread(tc.lo, tc.hi)); got != tc.want {
			t.Errorf("spread(%d, %d) = %s, want %s", tc.lo, tc.hi, got, tc.want)
		}
	}
	if got := fmt.Sprint(plateaus(MinMTU, 1500)); got != "[1500 1492 1480 1460 1400 1300 1280 1006 576]" {
		t.Errorf("plateaus(576, 1500) = %s", got)
	}
}

// TestResultCollapsesSilentHops checks that the hops of a trace that ran
// out of hops end with one line for all the silent ones, and that the last
// hop that answered is found.
func TestResultCollapsesSilentHops(t *testing.T) {
	o := &Options{Method: MethodTCP, Port: 81, Count: 1, MaxHops: 5}
	tr := &tracer{o: o, dst: netip.MustParseAddr("10.0.0.9"), hops: make([]Hop, 5), end: 6}
	for i := range tr.hops {
		tr.hops[i] = Hop{Hop: i + 1, Sent: 1}
	}
	tr.hops[0].record(netip.MustParseAddr("10.0.0.1"), 0.5)
	tr.hops[1].record(netip.MustParseAddr("10.0.0.2"), 0.7)
	res := tr.result()
	if len(res.Hops) != 3 || res.Hops[2].Silent != 3 || res.Hops[2].LossPct != 100 || res.Stop.Reason != StopMaxHops {
		t.Fatalf("hops %+v, stop %+v", res.Hops, res.Stop)
	}
	if last := res.LastAnswered(); last == nil || last.Hop != 2 {
		t.Errorf("last answered %+v, want hop 2", last)
	}
	want := "no answer from 10.0.0.9:81 within 5 hops; the last hop that answered is 2 (10.0.0.2)"
	if got := (&StopError{Result: res}).Error(); got != want {
		t.Errorf("StopError %q, want %q", got, want)
	}
}
