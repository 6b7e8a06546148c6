package netlab

import (
	"strings"
	"testing"

	"github.com/netkit/netkit/internal/testenv"
)

// TestLab checks the lab with the system's own tools: iputils ping hears
// each router's answer, and the server's rules drop, reject and reset.
func TestLab(t *testing.T) {
	testenv.NeedTool(t, "ping")
	l := New(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"ping", "-n", "-c", "1", "-W", "1", ServerAddr}, "1 received"},
		{[]string{"ping", "-n", "-c", "1", "-W", "1", Server6Addr}, "1 received"},
		{[]string{"ping", "-n", "-c", "1", "-W", "1", ServerNoICMP}, "100% packet loss"},
		{[]string{"ping", "-n", "-c", "1", "-W", "1", Unroutable}, "From " + Router1Addr + " icmp_seq=1 Destination Net Unreachable"},
		{[]string{"ping", "-n", "-c", "1", "-W", "1", "-t", "2", ServerAddr}, "From " + Router2Addr + " icmp_seq=1 Time to live exceeded"},
	} {
		out, _ := Command(t.Context(), l.Client, tc.args...).CombinedOutput()
		if !strings.Contains(string(out), tc.want) {
			t.Errorf("%v: output lacks %q:\n%s", tc.args, tc.want, out)
		}
	}
}
