package cli

import (
	"os/exec"
	"strings"
	"testing"
)

// TestLayers checks the layers of shared/DESIGN.md:
//
//	internal/cli/      one file per command: flags -> domain call -> rows -> internal/output
//	internal/output/   the one place that writes
//	diag/probe/        the exporter's probes, built on the packages below
//	diag/              diagnose: composes the packages below it, as Go calls
//	diag/explain/      the one table of causes and next steps
//	diag/ping/         ICMP echo and TCP ping, many hosts
//	diag/sockets/      socket listing, owners, who
//	resolve/, echo/    names and the echo service
//	units/, fileread/  how quantities are stated; files read within a size and a context
//
// The domain packages never depend on the command line, the renderer or
// anything under internal/, and each depends only on the layers below it.
func TestLayers(t *testing.T) {
	const mod = "github.com/netkit/netkit/"
	below := map[string][]string{ // a package -> the netkit packages it must not import
		"diag/ping":    {"diag", "diag/probe", "diag/explain", "diag/sockets", "echo"},
		"diag/sockets": {"diag", "diag/probe", "diag/explain", "diag/ping", "echo"},
		"diag/explain": {"diag", "diag/probe"},
		"diag":         {"diag/probe"},
		"diag/probe":   nil,
		"resolve":      {"diag", "echo"},
		"echo":         {"diag"},
		"units":        {"diag", "echo", "resolve"},
		"fileread":     {"diag", "echo", "resolve"},
	}
	for pkg, forbidden := range below {
		out, err := exec.Command("go", "list", "-deps", "../../"+pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list %s: %v\n%s", pkg, err, out)
		}
		for _, dep := range strings.Fields(string(out)) {
			switch {
			case strings.HasPrefix(dep, "github.com/spf13/cobra"),
				strings.HasPrefix(dep, "github.com/olekukonko/tablewriter"),
				strings.HasPrefix(dep, mod+"internal/"):
				t.Errorf("%s depends on %s", pkg, dep)
			}
			for _, f := range forbidden {
				if dep == mod+f {
					t.Errorf("%s depends on %s, a layer above it", pkg, dep)
				}
			}
		}
	}
}
