package cli

import (
	"os/exec"
	"strings"
	"testing"
)

// TestLayers checks the rule of DESIGN.md: the domain packages (diag,
// resolve, echo) never depend on the command line or the renderer.
func TestLayers(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "../../diag/...", "../../resolve/...", "../../echo/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		switch {
		case strings.HasPrefix(dep, "github.com/spf13/cobra"),
			strings.HasPrefix(dep, "github.com/olekukonko/tablewriter"),
			strings.HasPrefix(dep, "github.com/netkit/netkit/internal/"):
			t.Errorf("a domain package depends on %s", dep)
		}
	}
}
