package cli

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/netkit/netkit/internal/netlab"
	"github.com/netkit/netkit/internal/testnet"
)

// netnsSleeper starts a process in namespace ns for --netns-pid, killed
// when t ends, and returns its PID.
func netnsSleeper(t *testing.T, ns string) string {
	t.Helper()
	sleep := exec.Command("ip", "netns", "exec", ns, "sleep", "60")
	if err := sleep.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sleep.Process.Kill(); sleep.Wait() })
	// ip enters the namespace, then execs sleep under the same PID.
	deadline := time.Now().Add(5 * time.Second)
	for {
		if exe, _ := os.Readlink("/proc/" + strconv.Itoa(sleep.Process.Pid) + "/exe"); strings.HasSuffix(exe, "/sleep") {
			return strconv.Itoa(sleep.Process.Pid)
		}
		if time.Now().After(deadline) {
			t.Fatal("ip netns exec did not exec sleep in 5 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestPingNetns pings 127.0.0.1 with --netns and --netns-pid in a
// namespace whose kernel ignores echo requests: no reply there, as
// iputils ping sees it with 'ip netns exec', while here 127.0.0.1 answers.
// Every flag reaches the child: -c 3 -i 0.2 sends three probes.
func TestPingNetns(t *testing.T) {
	if testing.Short() {
		t.Skip("network namespaces: not under -short")
	}
	ns := netlab.Netns(t, "cli")
	netlab.Must(t, "ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv4.icmp_echo_ignore_all=1")
	if _, err := exec.LookPath("ping"); err == nil {
		if r := pingIn(t, ns, "ping", "-c", "1", "-W", "1", "127.0.0.1"); r.code != 1 {
			t.Fatalf("iputils ping in %s: exit %d, want 1 (no reply)", ns, r.code)
		}
	}
	pid := netnsSleeper(t, ns)
	for _, flag := range [][]string{{"--netns", ns}, {"--netns-pid", pid}} {
		r := netkitBinary(t, append([]string{"ping", "-c", "3", "-i", "0.2"}, append(flag, "127.0.0.1")...)...)
		if r.code != exitFailed || !strings.Contains(r.stdout, "3 packets transmitted, 0 received") {
			t.Errorf("%s: exit %d\n%s%s", flag, r.code, r.stdout, r.stderr)
		}
	}
	r := netkitBinary(t, "ping", "-c", "1", "127.0.0.1")
	if r.code != 0 {
		t.Errorf("here: exit %d\n%s", r.code, r.stdout)
	}
	for _, tt := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--netns", ns + "-none"}, exitFailed, "netkit: network namespace /run/netns/" + ns + "-none: no such network namespace"},
		{[]string{"--netns", "a/b"}, exitError, `netkit: --netns: invalid namespace name "a/b"`},
		{[]string{"--netns", ns, "--netns-pid", pid}, exitError, "netkit: --netns and --netns-pid cannot be used together"},
		{[]string{"--netns", ns, "-c", "0"}, exitError, "netkit: "},
	} {
		r := netkitBinary(t, append(append([]string{"ping"}, tt.args...), "127.0.0.1")...)
		if r.code != tt.code || !strings.HasPrefix(r.stderr, tt.want) || strings.Count(r.stderr, "\n") > 3 {
			t.Errorf("%q: exit %d, stderr %q; want %d, %q", tt.args, r.code, r.stderr, tt.code, tt.want)
		}
	}
}

// TestResolveNetns resolves with --netns NAME: /etc/netns/NAME/hosts and
// resolv.conf are the configuration, as 'ip netns exec' makes them.
func TestResolveNetns(t *testing.T) {
	if testing.Short() {
		t.Skip("network namespaces: not under -short")
	}
	ns := netlab.Netns(t, "cli")
	dir := filepath.Join("/etc/netns", ns)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	name := "nkthing" + strconv.Itoa(os.Getpid())
	for file, text := range map[string]string{"hosts": "127.0.0.9 " + name + "\n", "resolv.conf": "nameserver 127.0.0.77\n"} {
		if err := os.WriteFile(filepath.Join(dir, file), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r := netkitBinary(t, "resolve", "--netns", ns, "-4", name)
	if r.code != 0 || !strings.Contains(r.stdout, "127.0.0.9") || !strings.Contains(r.stdout, filepath.Join(dir, "hosts")+":1") {
		t.Errorf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// getent, run there by ip netns exec, agrees.
	if out, err := exec.Command("ip", "netns", "exec", ns, "getent", "hosts", name).Output(); err != nil || !strings.HasPrefix(string(out), "127.0.0.9") {
		t.Errorf("getent in %s: %v %q", ns, err, out)
	}
	r = netkitBinary(t, "resolve", "--netns", ns, "--config")
	if r.code != 0 || !regexp.MustCompile(`nameservers\s+127\.0\.0\.77:53`).MatchString(r.stdout) {
		t.Errorf("--config: exit %d\n%s", r.code, r.stdout)
	}
}

// TestDiagnoseNetns diagnoses a listener that exists only in a namespace:
// with --netns the connect and listen steps find it.
func TestDiagnoseNetns(t *testing.T) {
	if testing.Short() {
		t.Skip("network namespaces: not under -short")
	}
	ns := netlab.Netns(t, "cli")
	ln := netlab.Listen(t, ns, "127.0.0.1:0")
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	r := netkitBinary(t, "diagnose", "--netns", ns, "-c", "1", "--timeout", "1s", "127.0.0.1:"+port)
	listening := regexp.MustCompile(`listening: 127\.0\.0\.1:` + port + ` by ` + strconv.Itoa(os.Getpid()) + `/`)
	if !listening.MatchString(r.stdout) {
		t.Errorf("exit %d: no listener found\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// TestPingNetnsInterrupt: SIGTERM to netkit ends a ping running in a
// namespace as it ends one here: the summary, exit 0.
func TestPingNetnsInterrupt(t *testing.T) {
	if testing.Short() {
		t.Skip("network namespaces: not under -short")
	}
	ns := netlab.Netns(t, "cli")
	cmd := exec.Command(binary, "ping", "--netns", ns, "-i", "0.2", "127.0.0.1")
	var out strings.Builder
	cmd.Stdout = &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil || !regexp.MustCompile(`\d+ packets transmitted, \d+ received, 0% packet loss`).MatchString(out.String()) {
			t.Errorf("after SIGTERM: %v\n%s", err, out.String())
		}
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		t.Fatal("ping --netns did not end on SIGTERM")
	}
}

// TestSocketsWhoNetns asks who holds a port in a namespace: the listener
// there, this process; here nothing holds it.
func TestSocketsWhoNetns(t *testing.T) {
	if testing.Short() {
		t.Skip("network namespaces: not under -short")
	}
	ns := netlab.Netns(t, "cli")
	// A port free here, so that only the namespace has it.
	port := strconv.Itoa(int(testnet.UnusedPort(t)))
	netlab.Do(t, ns, func() error {
		ln, err := net.Listen("tcp4", "127.0.0.1:"+port)
		if err == nil {
			t.Cleanup(func() { ln.Close() })
		}
		return err
	})
	r := netkitBinary(t, "sockets", "who", "--netns", ns, ":"+port)
	rows := socketsCells(r.stdout)
	if r.code != 0 || len(rows) != 2 || rows[1][0] != strconv.Itoa(os.Getpid()) || rows[1][7] != "LISTEN" {
		t.Errorf("in %s: exit %d, %q %s", ns, r.code, r.stdout, r.stderr)
	}
	if r := netkitBinary(t, "sockets", "who", port); r.code != exitFailed {
		t.Errorf("here: exit %d, %q", r.code, r.stdout)
	}
}

// TestSocketsNetnsNames lists a namespace's sockets with --resolve: the
// names are looked up from inside the namespace (netkit runs there whole),
// here from the hosts file: 127.0.0.1 is localhost.
func TestSocketsNetnsNames(t *testing.T) {
	if testing.Short() {
		t.Skip("network namespaces: not under -short")
	}
	ns := netlab.Netns(t, "cli")
	port := strconv.Itoa(netnsListen(t, ns, func(net.Listener) error { return nil }))
	r := netkitBinary(t, "sockets", "--netns", ns, "-tl", "-r", "--no-header", "--port", port)
	rows := socketsCells(r.stdout)
	if r.code != 0 || len(rows) != 1 || !strings.HasPrefix(rows[0][3], "localhost:") || !strings.HasPrefix(rows[0][6], strconv.Itoa(os.Getpid())+"/") {
		t.Errorf("exit %d, %q %s", r.code, r.stdout, r.stderr)
	}
}

// TestNetnsChildArgs checks that every flag of the commands --netns runs
// in a child reads back what it writes (childArgs passes each given flag
// as --name=VALUE), and the command line childArgs builds.
func TestNetnsChildArgs(t *testing.T) {
	io, _, _, _ := testStreams()
	root := NewRootCmd(io)
	for _, c := range root.Commands() {
		for _, c := range append([]*cobra.Command{c}, c.Commands()...) {
			if c.Flags().Lookup("netns") == nil {
				continue
			}
			c.Flags().VisitAll(func(f *pflag.Flag) {
				if _, ok := f.Value.(pflag.SliceValue); ok {
					return
				}
				s := f.Value.String()
				if err := f.Value.Set(s); err != nil || f.Value.String() != s {
					t.Errorf("%s --%s: %q does not read back: %v, %q", c.CommandPath(), f.Name, s, err, f.Value.String())
				}
			})
		}
	}
	var got []string
	cmd := withNetns(NewCmdPing(io, nil))
	cmd.RunE = func(c *cobra.Command, args []string) error { got = childArgs(c, args); return nil }
	cmd.SetArgs([]string{"-c", "3", "--netns", "x", "-i", "0.2", "--", "-h"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	want := []string{"--count=3", "--interval=0.2", "--", "-h"}
	if !slices.Equal(got, want) {
		t.Errorf("child args %q, want %q", got, want)
	}
}

// TestTraceNetns traces from the client of the namespace lab with --netns,
// run from this namespace: the hops are the lab's routers, as from inside.
func TestTraceNetns(t *testing.T) {
	lab := netlab.New(t)
	r := netkitBinary(t, "trace", "--netns", lab.Client, "-c", "1", netlab.ServerAddr)
	var hops []string
	for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n")[1:] {
		hops = append(hops, strings.Fields(line)[1])
	}
	if want := []string{netlab.Router1Addr, netlab.Router2Addr, netlab.ServerAddr}; r.code != 0 || !slices.Equal(hops, want) {
		t.Errorf("exit %d, hops %v, want %v\n%s%s", r.code, hops, want, r.stdout, r.stderr)
	}
}
