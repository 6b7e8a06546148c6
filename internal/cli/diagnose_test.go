package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/netkit/netkit/echo"
	"github.com/netkit/netkit/internal/netlab"
	"github.com/netkit/netkit/internal/output"
	"github.com/netkit/netkit/internal/testenv"
	"github.com/netkit/netkit/internal/testnet"
)

func TestDiagnoseCommand(t *testing.T) {
	resolveEnv(t)
	l, err := net.Listen("tcp", "127.0.0.5:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { (&echo.Server{}).Serve(ctx, l) })
	t.Cleanup(func() { cancel(); wg.Wait() })
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)

	r := netkit(t, "diagnose", "web.test:"+port, "-c", "1")
	if r.code != 0 {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if lines[0] != "netkit diagnose web.test:"+port || !strings.HasPrefix(lines[len(lines)-1], "The path works end to end") {
		t.Errorf("output:\n%s", r.stdout)
	}
	for _, want := range []string{"✓ hosts ", "✓ resolve  1 address: 127.0.0.5 (hosts)", "✓ connect  127.0.0.5:" + port + " open", "- tls ", "✓ echo     netkit echo server answered"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}

	r = netkit(t, "diagnose", "web.test", port, "-c", "1", "--format", "jsonl")
	var types []string
	for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		var ev struct {
			Type   string `json:"type"`
			Name   string `json:"name"`
			Status string `json:"status"`
			OK     bool   `json:"ok"`
		}
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("%v: %s", err, line)
		}
		types = append(types, ev.Type+":"+ev.Name)
		if ev.Type == "report" && !ev.OK {
			t.Errorf("report not ok: %s", line)
		}
	}
	if got := strings.Join(types, ","); got != "step:hosts,step:resolve,step:ping,step:connect,step:listen,step:tls,step:echo,report:" {
		t.Errorf("events %s", got)
	}
}

func TestDiagnoseCommandFailure(t *testing.T) {
	resolveEnv(t)
	l, err := net.Listen("tcp", "127.0.0.5:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	l.Close()
	r := netkit(t, "diagnose", "web.test:"+port, "-c", "1", "--json")
	var rep struct {
		OK         bool   `json:"ok"`
		FailedStep string `json:"failed_step"`
		Steps      []struct {
			Name        string `json:"name"`
			Status      string `json:"status"`
			Explanation struct {
				Code string `json:"code"`
			} `json:"explanation"`
		} `json:"steps"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("%v\n%s", err, r.stdout)
	}
	if r.code != exitFailed || rep.OK || rep.FailedStep != "connect" || rep.Steps[3].Explanation.Code != "ECONNREFUSED" {
		t.Errorf("exit %d, report %+v", r.code, rep)
	}
	if want := fmt.Sprintf("{\n  \"schema_version\": %d,\n  \"host\": \"web.test\",", output.SchemaVersion); !strings.HasPrefix(r.stdout, want) {
		t.Errorf("the document does not start with %q:\n%s", want, r.stdout)
	}
	r = netkit(t, "diagnose", "web.test:"+port, "-c", "1")
	if !strings.Contains(r.stdout, "✗ connect") || !strings.Contains(r.stdout, "cause: nothing is listening on 127.0.0.5:"+port) ||
		!strings.Contains(r.stdout, "The path breaks at the connect step.") {
		t.Errorf("output:\n%s", r.stdout)
	}
}

// TestDiagnoseCommandInterrupted cancels the command's context, as Ctrl-C
// does, while the TLS handshake waits on a server that never answers.
func TestDiagnoseCommandInterrupted(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.5:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close() // silent until the test ends
		}
	}()
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	time.AfterFunc(1500*time.Millisecond, cancel)
	io, _, out, errOut := testStreams()
	code := run(ctx, io, []string{"diagnose", "--tls", "--timeout", "30s", "-c", "1", "127.0.0.5:" + port})
	stdout := out.String()
	if code != exitError || strings.Contains(stdout, "✗") || errOut.Len() != 0 ||
		!strings.Contains(stdout, "- tls      not checked: interrupted") || !strings.HasSuffix(stdout, "Interrupted: the path was not checked to the end.\n") {
		t.Errorf("exit %d\n%s%s", code, stdout, errOut)
	}

	// The same as JSON: the document of an interrupted walk.
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	time.AfterFunc(1500*time.Millisecond, cancel)
	io, _, out, errOut = testStreams()
	code = run(ctx, io, []string{"diagnose", "--tls", "--timeout", "30s", "-c", "1", "127.0.0.5:" + port, "--json"})
	checkDocument(t, result{out.String(), errOut.String(), code}, exitError, "diagnose.json")
	if !strings.Contains(out.String(), `"interrupted": true`) {
		t.Errorf("not interrupted:\n%s", out)
	}
}

// TestDiagnosePingProblems runs diagnose where ping cannot work: as a user
// who may open no ICMP socket (the step is not checked, and says how to
// allow it), and in a namespace whose loopback is down (the probes cannot
// be sent: not a firewall dropping ICMP).
func TestDiagnosePingProblems(t *testing.T) {
	pingNeedRoot(t)
	bin := pingPublicBinary(t)
	ln := testnet.Listen(t, "127.0.0.1:0")
	testnet.ServeConns(t, ln, func(net.Conn) {})
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	rng, _ := os.ReadFile("/proc/sys/net/ipv4/ping_group_range")
	if f := strings.Fields(string(rng)); len(f) == 2 && f[0] <= "65534" && f[0] != "1" {
		t.Logf("ping_group_range here is %q: nobody may ping, the unprivileged case is not testable", rng)
	} else {
		_, r := pingTimed(t, nobody[0], append(nobody[1:], bin, "diagnose", "-c", "1", "127.0.0.1:"+port)...)
		if !strings.Contains(r.stdout, "- ping     not checked: ICMP is not permitted to this process") ||
			!strings.Contains(r.stdout, "cause: this process may open neither a raw ICMP socket") ||
			!strings.Contains(r.stdout, `next:  allow ICMP datagram sockets to every group: 'sysctl -w net.ipv4.ping_group_range="0 2147483647"'`) {
			t.Errorf("nobody: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
	}

	ns := fmt.Sprintf("nkdiag%d-lodown", os.Getpid()) // its loopback never up
	netlab.Must(t, "ip", "netns", "add", ns)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	r := pingIn(t, ns, bin, "diagnose", "-c", "1", "127.0.0.1:"+port)
	if !strings.Contains(r.stdout, "! ping     127.0.0.1 no reply: 1 of 1 probes could not be sent (") ||
		!strings.Contains(r.stdout, "network is unreachable") || strings.Contains(r.stdout, "a firewall may drop ICMP") {
		t.Errorf("loopback down: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

func TestDiagnoseBadInput(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"diagnose", "localhost"}, "want HOST:PORT"},
		{[]string{"diagnose", "localhost:0"}, `invalid target "localhost:0": port "0" is not a number from 1 to 65535`},
		{[]string{"diagnose", "localhost:nosuchservice"}, `port "nosuchservice" is neither a number from 1 to 65535 nor a TCP service name`},
		{[]string{"diagnose", "localhost", "0"}, `invalid target "localhost 0": port "0"`},
		{[]string{"diagnose", "[::1]:443", "443"}, "want HOST:PORT"},
		{[]string{"diagnose", ":443"}, "the host is empty"},
		{[]string{"diagnose", "a..b:443"}, "empty label"},
		{[]string{"diagnose", "--tls", "--plaintext", "localhost:443"}, "cannot be used together"},
		{[]string{"diagnose", "--cert", "x.pem", "localhost:443"}, "--cert and --key go together"},
		{[]string{"diagnose", "--pin", "md5:00", "localhost:443"}, "md5:00"},
		{[]string{"diagnose", "--ca", "/nonexistent.pem", "localhost:443"}, "/nonexistent.pem"},
		{[]string{"diagnose", "--count", "0", "localhost:443"}, "invalid --count 0"},
	} {
		assertOneLineError(t, netkit(t, tc.args...), tc.want)
	}
}

// TestDiagnoseVerdicts checks that the verdict says what was proven: with
// --insecure against a self-signed netkit echo server the path passes
// (exit 0) and says the certificate was not verified, as curl -k does; a
// service that accepts and says nothing proves TCP alone.
func TestDiagnoseVerdicts(t *testing.T) {
	resolveEnv(t)
	kp, err := (&echo.SelfSigned{Dir: t.TempDir()}).LoadOrCreate(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	l := testnet.Listen(t, "127.0.0.5:0")
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { (&echo.Server{TLSConfig: echo.ServerTLSConfig(kp.Certificate, nil, nil)}).Serve(ctx, l) })
	t.Cleanup(func() { cancel(); wg.Wait() })
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)

	r := netkit(t, "diagnose", "-c", "1", "--tls", "--insecure", "web.test:"+port)
	last := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if r.code != 0 || !strings.Contains(r.stdout, "! tls      TLS 1.3") || !strings.Contains(r.stdout, "not verified (--insecure)") ||
		!strings.HasPrefix(last[len(last)-1], "The path works end to end (") || !strings.HasSuffix(last[len(last)-1], "over TLS whose certificate was not verified (--insecure).") {
		t.Errorf("--insecure: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = netkit(t, "diagnose", "-c", "1", "--tls", "--insecure", "--json", "web.test:"+port)
	var rep struct {
		OK     bool   `json:"ok"`
		Proven string `json:"proven"`
		TLS    struct {
			Verified bool `json:"verified"`
		} `json:"tls"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || !rep.OK || rep.Proven != "echo" || rep.TLS.Verified {
		t.Errorf("--insecure --json: %+v, %v\n%s", rep, err, r.stdout)
	}

	silent := testnet.Listen(t, "127.0.0.5:0")
	testnet.ServeConns(t, silent, func(c net.Conn) { io.Copy(io.Discard, c) })
	r = netkit(t, "diagnose", "-c", "1", "--timeout", "0.3s", "web.test:"+strconv.Itoa(silent.Addr().(*net.TCPAddr).Port))
	if r.code != 0 || !strings.Contains(r.stdout, "TCP works (") || !strings.Contains(r.stdout, "nothing above it was proven") ||
		strings.Contains(r.stdout, "works end to end") || strings.Contains(r.stdout, "deadline exceeded") {
		t.Errorf("silent service: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// TestDiagnoseLocalFirewall diagnoses a listener on this machine behind a
// local nftables rule that drops its port, in a network namespace of the
// test: the connect step blames a firewall on this machine, not a down host.
func TestDiagnoseLocalFirewall(t *testing.T) {
	testenv.NeedTool(t, "nft")
	ns := netlab.Netns(t, "fw")
	ln := netlab.Listen(t, ns, "127.0.0.1:0")
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	netlab.Must(t, "ip", "netns", "exec", ns, "nft", "add table inet fw; add chain inet fw in { type filter hook input priority 0; }; add rule inet fw in tcp dport "+port+" drop")
	r := pingIn(t, ns, binary, "diagnose", "-c", "1", "--timeout", "1s", "127.0.0.1:"+port)
	if r.code != 1 || !strings.Contains(r.stdout, "✗ connect  127.0.0.1:"+port+" no answer in 1 s") ||
		!strings.Contains(r.stdout, "a firewall on this machine (nftables or iptables) drops the packets") || strings.Contains(r.stdout, "host is down") {
		t.Errorf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}
