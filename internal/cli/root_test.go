package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/netkit/netkit/internal/testnet"
)

// TestVersion checks that --version names the revision the binary was
// built from (TestMain builds it with -buildvcs=true in this checkout) and
// the Go version, and never the bare "dev" of a build without them.
func TestVersion(t *testing.T) {
	r := netkitBinary(t, "--version")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "netkit version ") || !strings.Contains(r.stdout, runtime.Version()) {
		t.Errorf("exit %d, %q", r.code, r.stdout)
	}
	head, err := exec.Command("git", "rev-parse", "HEAD").Output()
	if err != nil {
		t.Skipf("not a git checkout: %v", err)
	}
	// cmd/go stamps the revision only where .git is a directory, not in a
	// linked worktree (where .git is a file).
	if st, err := os.Stat(filepath.Join("..", "..", ".git")); err == nil && !st.IsDir() {
		t.Skip("a git worktree: go build records no revision")
	}
	if want := "rev " + string(head[:12]); !strings.Contains(r.stdout, want) {
		t.Errorf("%q does not name %s", r.stdout, want)
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
		{[]string{"echo", "serve", "x"}, "echo serve takes no arguments, got 1"},
		{[]string{"explain", "a", "b"}, "explain takes at most 1 argument, got 2 (usage: netkit explain [ERRNAME|NUMBER] [flags])"},
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

// TestColorFlag checks that --color decides colour once for every command:
// always colours diagnose's marks even in a pipe, never and the default in
// a pipe write no escape codes, and a bad value is a usage error.
func TestColorFlag(t *testing.T) {
	port := strconv.Itoa(int(testnet.ClosedPort(t, "tcp", "127.0.0.1").Port()))
	r := netkit(t, "--color", "always", "diagnose", "-c", "1", "127.0.0.1:"+port)
	if !strings.Contains(r.stdout, "\x1b[31m✗\x1b[0m connect") {
		t.Errorf("--color always: exit %d\n%q", r.code, r.stdout)
	}
	for _, args := range [][]string{{"--color", "never"}, nil} {
		r := netkit(t, append(args, "diagnose", "-c", "1", "127.0.0.1:"+port)...)
		if !strings.Contains(r.stdout, "✗ connect") || strings.Contains(r.stdout+r.stderr, "\x1b") {
			t.Errorf("%v: exit %d\n%q", args, r.code, r.stdout)
		}
	}
	assertOneLineError(t, netkit(t, "--color", "sometimes", "explain"), `invalid --color "sometimes"`)
}

// TestSuggestion checks that a mistyped command gets cobra's suggestion on
// a line of its own, after the one-line error.
func TestSuggestion(t *testing.T) {
	r := netkitBinary(t, "pnig")
	want := "netkit: unknown command \"pnig\" for \"netkit\" (see 'netkit --help')\n  did you mean: ping\n"
	if r.code != 2 || r.stderr != want {
		t.Errorf("exit %d, stderr %q, want %q", r.code, r.stderr, want)
	}
}

// TestNoSuchNameExitCode checks that a name that does not exist is exit 1
// in every command that looks names up, as 'netkit --help' says.
func TestNoSuchNameExitCode(t *testing.T) {
	resolveEnv(t)
	for _, args := range [][]string{
		{"resolve", "nosuch.test"},
		{"ping", "-c", "1", "nosuch.test"},
		{"ping", "--tcp", "80", "-c", "1", "nosuch.test"},
		{"diagnose", "-c", "1", "nosuch.test:80"},
		{"echo", "send", "--plaintext", "nosuch.test:7", "hi"},
	} {
		if r := netkit(t, args...); r.code != exitFailed || !strings.Contains(r.stderr+r.stdout, "nosuch.test: no such host") {
			t.Errorf("%v: exit %d, want 1\n%s%s", args, r.code, r.stdout, r.stderr)
		}
	}
}
