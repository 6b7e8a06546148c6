package cli

import (
	"strings"
	"testing"
)

func TestVersion(t *testing.T) {
	r := netkitBinary(t, "--version")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "netkit version ") {
		t.Errorf("exit %d, %q", r.code, r.stdout)
	}
}

func TestCompletion(t *testing.T) {
	for _, shell := range []string{"bash", "zsh", "fish", "powershell"} {
		r := netkit(t, "completion", shell)
		if r.code != 0 || !strings.Contains(r.stdout, "netkit") {
			t.Errorf("%s completion: exit %d, %d bytes", shell, r.code, len(r.stdout))
		}
	}
	// Cobra's hidden completion entry point completes explain's codes.
	r := netkit(t, "__complete", "explain", "ECONN")
	if !strings.Contains(r.stdout, "ECONNREFUSED") {
		t.Errorf("explain completion: %q", r.stdout)
	}
}

func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"no-such-command"}, `unknown command "no-such-command"`},
		{[]string{"explain", "a", "b"}, "accepts between 0 and 1 arg(s)"},
		{[]string{"explain", "ENOSUCH"}, `no explanation for "ENOSUCH"`},
		{[]string{"--no-such-flag"}, "unknown flag: --no-such-flag"},
	} {
		assertOneLineError(t, netkitBinary(t, tc.args...), tc.want)
	}
}

func TestExplainCommand(t *testing.T) {
	r := netkit(t, "explain", "111")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "ECONNREFUSED\n  cause: nothing is listening") {
		t.Errorf("exit %d: %q", r.code, r.stdout)
	}
	r = netkit(t, "explain", "x509-expired", "--json")
	if r.code != 0 || !strings.Contains(r.stdout, `"code": "X509-EXPIRED"`) {
		t.Errorf("exit %d: %q", r.code, r.stdout)
	}
	r = netkit(t, "explain")
	if got := strings.Count(r.stdout, "  cause: "); got < 20 {
		t.Errorf("listing has %d explanations", got)
	}
}
