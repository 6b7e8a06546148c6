package probe

import (
	"errors"
	"testing"
)

// FuzzParseTarget checks that no target makes the parser panic, that a
// refusal is a *TargetError, and that an accepted target has a host and,
// for the probers that need one, a port.
func FuzzParseTarget(f *testing.F) {
	for _, s := range []string{"localhost:80", "[::1]:443", "::1", "[fe80::1%eth0]:22", "127.0.0.1", "db.test:https",
		"host:0", ":80", "a..b:1", "[::1]", "x:65536", "ns.test"} {
		for _, p := range Probers {
			f.Add(string(p), s)
		}
	}
	f.Fuzz(func(t *testing.T, prober, target string) {
		r := &run{target: target, m: Module{Prober: Prober(prober)}}
		err := r.parseTarget()
		if err != nil {
			var te *TargetError
			if !errors.As(err, &te) {
				t.Fatalf("%q: err %T %v", target, err, err)
			}
			return
		}
		if r.host == "" {
			t.Fatalf("%q: accepted with an empty host", target)
		}
		if Prober(prober) != ICMP && r.port == 0 {
			t.Fatalf("%q: accepted for %s with port 0", target, prober)
		}
	})
}
