package probe

import (
	"testing"

	"github.com/netkit/netkit/internal/dnstest"
)

// TestMain keeps every test away from the machine's DNS servers
// (dnstest.Isolate).
func TestMain(m *testing.M) { dnstest.Main(m) }
