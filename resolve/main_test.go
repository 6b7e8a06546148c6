package resolve

import (
	"fmt"
	"os"
	"testing"

	"github.com/netkit/netkit/internal/dnstest"
)

// TestMain keeps every test away from the machine's DNS servers: a test
// that resolves a name with the default resolver without setting up its
// own DNS server gets no answer instead (dnstest.Isolate).
func TestMain(m *testing.M) {
	cleanup, err := dnstest.Isolate()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	code := m.Run()
	cleanup()
	os.Exit(code)
}
