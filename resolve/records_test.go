package resolve

import (
	"context"
	"errors"
	"net/netip"
	"os/exec"
	"strings"
	"testing"

	"github.com/netkit/netkit/internal/testenv"
)

// recordZone has a record of every type LookupRecords asks for.
var recordZone = []string{
	"rec.test. 60 IN A 127.0.0.30",
	"rec.test. 60 IN AAAA ::1",
	"rec.test. 60 IN MX 10 mx.rec.test.",
	"rec.test. 60 IN MX 20 mx2.rec.test.",
	`rec.test. 60 IN TXT "v=spf1 -all" "second string"`,
	"rec.test. 60 IN NS ns.rec.test.",
	"rec.test. 60 IN SOA ns.rec.test. admin.rec.test. 2026120301 3600 600 86400 60",
	"rec.test. 60 IN CAA 0 issue \"ca.test\"",
	"_sip._tcp.rec.test. 60 IN SRV 10 5 5060 sip.rec.test.",
	"alias.rec.test. 60 IN CNAME rec.test.",
	"30.0.0.127.in-addr.arpa. 60 IN PTR rec.test.",
}

// TestLookupRecordsAgreesWithDig asks the test's DNS server for each record
// type with LookupRecords and with dig +short, and compares the data.
func TestLookupRecordsAgreesWithDig(t *testing.T) {
	dig := testenv.NeedTool(t, "dig")
	r, srv := setup(t, recordZone)
	r.Servers = []netip.AddrPort{srv.Addr}
	for _, tc := range []struct{ name, qtype string }{
		{"rec.test", "A"}, {"rec.test", "AAAA"}, {"rec.test", "MX"}, {"rec.test", "TXT"}, {"rec.test", "NS"},
		{"rec.test", "SOA"}, {"rec.test", "CAA"}, {"_sip._tcp.rec.test", "SRV"}, {"alias.rec.test", "CNAME"},
		{"alias.rec.test", "A"}, {"30.0.0.127.in-addr.arpa", "PTR"},
	} {
		res, err := r.LookupRecords(context.Background(), tc.name, tc.qtype)
		if err != nil {
			t.Errorf("%s %s: %v", tc.name, tc.qtype, err)
			continue
		}
		var got []string
		for _, rec := range res.Records {
			got = append(got, rec.Data)
		}
		out, err := exec.Command(dig, "@"+srv.Addr.Addr().String(), "-p", "53", "+short", "+time=1", "+tries=1", tc.name, tc.qtype).Output()
		if err != nil {
			t.Fatalf("dig: %v", err)
		}
		if want := strings.TrimSpace(string(out)); strings.Join(got, "\n") != want {
			t.Errorf("%s %s: netkit\n%s\ndig +short\n%s", tc.name, tc.qtype, strings.Join(got, "\n"), want)
		}
	}
}

// TestLookupRecordsErrors checks the answers that are not records: a name
// that does not exist, a name without records of the type, a bad type.
func TestLookupRecordsErrors(t *testing.T) {
	r, srv := setup(t, recordZone)
	r.Servers = []netip.AddrPort{srv.Addr}
	if _, err := r.LookupRecords(context.Background(), "nosuch.test", "MX"); !errors.Is(err, ErrNoSuchHost) {
		t.Errorf("nosuch.test: %v, want ErrNoSuchHost", err)
	}
	if _, err := r.LookupRecords(context.Background(), "mx.rec.test", "MX"); !errors.Is(err, ErrNoSuchHost) {
		t.Errorf("mx.rec.test: %v, want ErrNoSuchHost (not in the zone)", err)
	}
	res, err := r.LookupRecords(context.Background(), "_sip._tcp.rec.test", "MX")
	if !errors.Is(err, ErrNoData) || res == nil || len(res.Records) != 0 {
		t.Errorf("no MX: %+v, %v; want ErrNoData", res, err)
	}
	var ie *InputError
	if _, err := r.LookupRecords(context.Background(), "rec.test", "HINFO"); !errors.As(err, &ie) || !strings.Contains(err.Error(), "CAA") {
		t.Errorf("HINFO: %v, want an *InputError listing the types", err)
	}
}
