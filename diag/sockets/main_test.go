package sockets

import (
	"testing"

	"github.com/netkit/netkit/internal/dnstest"
)

// TestMain keeps every test away from the machine's DNS servers: a test
// that resolves a name with the default resolver without setting up its
// own DNS server gets no answer instead (dnstest.Isolate).
func TestMain(m *testing.M) { dnstest.Main(m) }
