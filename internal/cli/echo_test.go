package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/netkit/netkit/echo"
)

func TestEchoUsageErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"echo", "serve", "--listen", ":99999"}, `invalid --listen ":99999": port "99999" is not a number from 1 to 65535`},
		{[]string{"echo", "send", "127.0.0.1:70000", "x"}, `port "70000" is not a number from 1 to 65535`},
		{[]string{"echo", "send", ":65432", "x"}, "no host"},
		{[]string{"echo", "send", "a:b:c", "x"}, "want HOST:PORT"},
		{[]string{"echo", "send", "--pin", "sha256:12", "127.0.0.1", "x"}, "--pin: invalid fingerprint"},
		{[]string{"echo", "send", "--pin", "sha256:" + strings.Repeat("ab", 32), "--ca", "x.pem", "127.0.0.1", "x"}, "--ca and --pin cannot be used together"},
		{[]string{"echo", "send", "--plaintext", "--insecure", "127.0.0.1", "x"}, "--plaintext cannot be used with TLS flags"},
		{[]string{"echo", "send", "--cert", "c.pem", "127.0.0.1", "x"}, "--cert and --key go together"},
		{[]string{"echo", "send", "--ca", filepath.Join(dir, "missing.pem"), "127.0.0.1", "x"}, "--ca: read CA file"},
		{[]string{"echo", "send", "--action", "info", "127.0.0.1", "x"}, "--action info takes no MESSAGE"},
		{[]string{"echo", "send", "--content-type", "text/json", "127.0.0.1", "x"}, "use --action"},
		{[]string{"echo", "send", "--max-size", "3", "127.0.0.1", "hello"}, "longer than --max-size 3"},
		{[]string{"echo", "send", "--timeout", "0s", "127.0.0.1", "x"}, "invalid --timeout"},
		{[]string{"echo", "send"}, "echo send takes at least 1 argument, got 0"},
		{[]string{"echo", "sned", "127.0.0.1"}, `unknown command "sned" for "netkit echo"`},
		{[]string{"echo", "bench", "-c", "0", "127.0.0.1"}, "invalid -c 0"},
		{[]string{"echo", "bench", "--size", "2000000", "127.0.0.1"}, "larger than --max-size"},
		{[]string{"echo", "bench", "--size", "0", "127.0.0.1"}, "invalid --size 0: want at least 1 content byte"},
		{[]string{"echo", "bench", "--format", "yaml", "127.0.0.1"}, `invalid --format "yaml"`},
		{[]string{"echo", "bench", "-d", "soon", "127.0.0.1"}, `invalid argument "soon"`},
		{[]string{"echo", "serve", "--listen", "65432"}, "invalid --listen"},
		{[]string{"echo", "serve", "--plaintext", "--client-ca", "ca.pem"}, "--plaintext cannot be used with TLS flags"},
		{[]string{"echo", "serve", "--idle-timeout", "-1s"}, "invalid --idle-timeout"},
		{[]string{"echo", "serve", "--log-format", "xml"}, "invalid --log-format"},
		{[]string{"echo", "serve", "--max-header", "65536"}, "invalid --max-header 65536: want 2 to 65535 bytes"},
		{[]string{"echo", "serve", "--max-header", "1"}, "invalid --max-header 1"},
		{[]string{"echo", "serve", "--cert", filepath.Join(dir, "c.pem"), "--key", filepath.Join(dir, "k.pem"), "--listen", "127.0.0.1:0"}, "--cert/--key: load certificate"},
		{[]string{"echo", "serve", "--client-ca", filepath.Join(dir, "x.pem"), "--cert-dir", dir, "--listen", "127.0.0.1:0"}, "--client-ca: read CA file"},
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			assertOneLineError(t, netkit(t, tt.args...), tt.want)
		})
	}
}

func TestEchoSendOptions(t *testing.T) {
	io, in, _, _ := testStreams()
	in.WriteString("from stdin\x00")
	var got *EchoSendOptions
	cmd := NewCmdEchoSend(io, func(_ context.Context, o *EchoSendOptions) error { got = o; return nil })
	cmd.SetArgs([]string{"[::1]", "--content-type", "x/y"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if got.Address != "[::1]:65432" || string(got.Content) != "from stdin\x00" || got.ContentType != "x/y" || got.Action != "" {
		t.Errorf("options %+v", got)
	}
}

func TestEchoSendStdinPrompt(t *testing.T) {
	// On a terminal, reading the message from stdin is said first; from a
	// pipe nothing is said.
	for _, tty := range []bool{false, true} {
		io, in, _, errOut := testStreams()
		io.InTTY = tty
		in.WriteString("typed")
		cmd := NewCmdEchoSend(io, func(context.Context, *EchoSendOptions) error { return nil })
		cmd.SetArgs([]string{"127.0.0.1"})
		if err := cmd.Execute(); err != nil {
			t.Fatal(err)
		}
		if said := strings.Contains(errOut.String(), "reading the message from stdin"); said != tty {
			t.Errorf("stdin a terminal: %v; stderr %q", tty, errOut.String())
		}
	}
}

func TestEchoServeOptions(t *testing.T) {
	io, _, _, _ := testStreams()
	var got *EchoServeOptions
	cmd := NewCmdEchoServe(io, func(_ context.Context, o *EchoServeOptions) error { got = o; return nil })
	cmd.SetArgs([]string{"--max-header", "65535", "--max-size", "10"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if got.MaxHeader != 65535 || got.MaxSize != 10 {
		t.Errorf("options %+v", got)
	}
}

// echoServer runs 'netkit echo serve' as a process, as a user would, and
// returns what it printed when ready.
type echoServer struct {
	cmd   *exec.Cmd
	ready echoServeReady
	// raw is the ready document as printed.
	raw    json.RawMessage
	stderr *bytes.Buffer
	dir    string
}

func startEchoServer(t *testing.T, args ...string) *echoServer {
	t.Helper()
	dir := t.TempDir()
	s := &echoServer{dir: dir, stderr: &bytes.Buffer{}}
	s.cmd = exec.Command(binary, append([]string{"echo", "serve", "--listen", "127.0.0.1:0", "--json"}, args...)...)
	// The self-signed certificate goes to a temporary config directory,
	// never to the real home.
	s.cmd.Env = append(os.Environ(), "XDG_CONFIG_HOME="+dir, "HOME="+dir)
	s.cmd.Stderr = s.stderr
	stdout, err := s.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.cmd.Process.Kill()
		s.cmd.Wait()
	})
	if err := json.NewDecoder(bufio.NewReader(stdout)).Decode(&s.raw); err != nil {
		t.Fatalf("echo serve printed no ready document: %v; stderr: %s", err, s.stderr)
	}
	if err := json.Unmarshal(s.raw, &s.ready); err != nil {
		t.Fatal(err)
	}
	return s
}

// stop sends SIGTERM and returns the exit code.
func (s *echoServer) stop(t *testing.T) int {
	t.Helper()
	s.cmd.Process.Signal(syscall.SIGTERM)
	err := s.cmd.Wait()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	return s.cmd.ProcessState.ExitCode()
}

func TestEchoServeSendBench(t *testing.T) {
	s := startEchoServer(t)
	r := s.ready
	if !r.TLS || r.Mode != "auto" || !r.SelfSigned || !r.Created || r.Certificate == nil || r.CertFile != filepath.Join(s.dir, "netkit", "echo", "cert.pem") {
		t.Fatalf("ready document %+v", r)
	}
	if st, err := os.Stat(r.KeyFile); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("key file %s: %v, mode %v; want 0600", r.KeyFile, err, st.Mode())
	}
	pin := r.Certificate.SHA256

	t.Run("send with pin", func(t *testing.T) {
		res := netkit(t, "echo", "send", "--pin", pin, r.Listen, "hello netkit")
		if res.code != 0 {
			t.Fatalf("exit %d: %s", res.code, res.stderr)
		}
		for _, want := range []string{"tls          TLS 1.3, TLS_", "server_name  - (IP: no SNI sent)\n", "verified     yes, by the pinned fingerprint", "check        ok: 12 bytes echoed unchanged", "sans         localhost, "} {
			if !strings.Contains(res.stdout, want) {
				t.Errorf("output lacks %q:\n%s", want, res.stdout)
			}
		}
	})
	t.Run("info as JSON", func(t *testing.T) {
		res := netkit(t, "echo", "send", "--ca", r.CertFile, "--servername", "localhost", "--action", "info", "--json", r.Listen)
		var doc struct {
			SchemaVersion int `json:"schema_version"`
			echoSendResult
		}
		if err := json.Unmarshal([]byte(res.stdout), &doc); err != nil || res.code != 0 {
			t.Fatalf("exit %d, %v: %s %s", res.code, err, res.stdout, res.stderr)
		}
		if doc.SchemaVersion != 1 || !doc.OK || doc.Info == nil || doc.Info.ServerName != "localhost" || doc.Info.RemoteAddr != "127.0.0.1" ||
			!doc.Session.TLS.Verified || doc.Session.TLS.VerifiedBy != "ca" || doc.Session.TLS.SNI != "localhost" {
			t.Errorf("document %+v, info %+v", doc, doc.Info)
		}
	})
	t.Run("stdin", func(t *testing.T) {
		res := netkitStdin(t, "line one\nline two\n", "echo", "send", "--ca", r.CertFile, "--no-header", r.Listen)
		if res.code != 0 || !strings.Contains(res.stdout, "check        ok: 18 bytes echoed unchanged") || strings.Contains(res.stdout, "FIELD") {
			t.Errorf("exit %d:\n%s%s", res.code, res.stdout, res.stderr)
		}
	})
	t.Run("unknown authority", func(t *testing.T) {
		res := netkit(t, "echo", "send", r.Listen, "x")
		if res.code != 1 || !strings.Contains(res.stderr, "x509: certificate signed by unknown authority") ||
			!strings.Contains(res.stderr, "cause: the certificate of 127.0.0.1 is signed by an authority this machine does not trust") {
			t.Errorf("exit %d: %s", res.code, res.stderr)
		}
	})
	t.Run("unknown authority as JSON", func(t *testing.T) {
		res := netkit(t, "echo", "send", "--json", r.Listen, "x")
		var doc struct {
			SchemaVersion int `json:"schema_version"`
			echoSendResult
		}
		if err := json.Unmarshal([]byte(res.stdout), &doc); err != nil || res.code != 1 {
			t.Fatalf("exit %d, %v: %q %s", res.code, err, res.stdout, res.stderr)
		}
		if doc.SchemaVersion != 1 || doc.OK || doc.Session.Address != r.Listen || doc.Session.TLS != nil ||
			!strings.Contains(doc.Error, "x509: certificate signed by unknown authority") {
			t.Errorf("document %s", res.stdout)
		}
	})
	t.Run("localhost is sent as SNI", func(t *testing.T) {
		_, port, _ := net.SplitHostPort(r.Listen)
		res := netkit(t, "echo", "send", "--pin", pin, "localhost:"+port, "x")
		if res.code != 0 || !strings.Contains(res.stdout, "server_name  localhost\n") {
			t.Errorf("exit %d:\n%s%s", res.code, res.stdout, res.stderr)
		}
	})
	t.Run("zoned IPv6 name sends no SNI", func(t *testing.T) {
		res := netkit(t, "echo", "send", "--pin", pin, "--servername", "fe80::1%eth0", r.Listen, "x")
		if res.code != 0 || !strings.Contains(res.stdout, "server_name  - (IP: no SNI sent)\n") {
			t.Errorf("exit %d:\n%s%s", res.code, res.stdout, res.stderr)
		}
		res = netkit(t, "echo", "send", "--pin", pin, "--servername", "fe80::1%eth0", "--action", "info", "--json", r.Listen)
		var doc echoSendResult
		if err := json.Unmarshal([]byte(res.stdout), &doc); err != nil || res.code != 0 {
			t.Fatalf("exit %d, %v: %s %s", res.code, err, res.stdout, res.stderr)
		}
		if tl := doc.Session.TLS; tl == nil || tl.ServerName != "fe80::1%eth0" || tl.SNI != "" || doc.Info == nil || doc.Info.ServerName != "" {
			t.Errorf("document %s", res.stdout)
		}
	})
	t.Run("name mismatch", func(t *testing.T) {
		res := netkit(t, "echo", "send", "--ca", r.CertFile, "--servername", "db.example", r.Listen, "x")
		if res.code != 1 || !strings.Contains(res.stderr, "it is for localhost, ") {
			t.Errorf("exit %d: %s", res.code, res.stderr)
		}
	})
	t.Run("insecure warns and reports", func(t *testing.T) {
		res := netkit(t, "echo", "send", "--insecure", r.Listen, "x")
		if res.code != 0 || !strings.Contains(res.stderr, "WARNING: --insecure") ||
			!strings.Contains(res.stdout, "verified     NO: tls: failed to verify certificate: x509: certificate signed by unknown authority") {
			t.Errorf("exit %d:\n%s%s", res.code, res.stdout, res.stderr)
		}
	})
	t.Run("invalid action", func(t *testing.T) {
		res := netkit(t, "echo", "send", "--pin", pin, "--action", "search", r.Listen, "x")
		if res.code != 1 || !strings.Contains(res.stderr, "server replied invalid_action: Error: invalid action 'search'.") {
			t.Errorf("exit %d:\n%s%s", res.code, res.stdout, res.stderr)
		}
	})
	t.Run("bench", func(t *testing.T) {
		res := netkit(t, "echo", "bench", "--pin", pin, "-c", "3", "-n", "300", "--size", "1000", "--json", r.Listen)
		var doc echo.BenchResult
		if err := json.Unmarshal([]byte(res.stdout), &doc); err != nil || res.code != 0 {
			t.Fatalf("exit %d, %v: %s %s", res.code, err, res.stdout, res.stderr)
		}
		if doc.Messages != 300 || doc.Connections != 3 || doc.ErrorCount != 0 || doc.Latency == nil || doc.Latency.P99Ms <= 0 {
			t.Errorf("result %+v", doc)
		}
		lines := netkit(t, "echo", "bench", "--pin", pin, "-d", "1500ms", "--format", "jsonl", r.Listen)
		events := strings.Split(strings.TrimSpace(lines.stdout), "\n")
		if lines.code != 0 || len(events) < 2 || !strings.HasPrefix(events[0], `{"type":"progress","schema_version":1,`) ||
			!strings.HasPrefix(events[len(events)-1], `{"type":"result","schema_version":1,`) {
			t.Errorf("exit %d: %s %s", lines.code, lines.stdout, lines.stderr)
		}
	})
	t.Run("bench nothing there", func(t *testing.T) {
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		ln.Close()
		res := netkit(t, "echo", "bench", ln.Addr().String())
		if res.code != 1 || !strings.Contains(res.stderr, "connection refused") || !strings.Contains(res.stderr, "cause: nothing is listening") {
			t.Errorf("exit %d: %s", res.code, res.stderr)
		}
	})

	// SIGTERM: an idle client is closed, the server logs it and exits 0.
	idle, err := net.Dial("tcp", r.Listen)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	time.Sleep(100 * time.Millisecond)
	if code := s.stop(t); code != 0 {
		t.Errorf("exit %d after SIGTERM; stderr:\n%s", code, s.stderr)
	}
	log := s.stderr.String()
	for _, want := range []string{`reason="server shutting down"`, "msg=stopped", `msg=open peer=127.0.0.1:`, `reason="closed by peer"`} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	if n, err := idle.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("idle connection: read %d, %v; want it closed", n, err)
	}
}

// TestEchoServeReusesCertificate: a second run in the same config directory
// keeps the certificate, so a pin stays valid.
func TestEchoServeReusesCertificate(t *testing.T) {
	dir := t.TempDir()
	first := startEchoServer(t, "--cert-dir", dir)
	first.stop(t)
	second := startEchoServer(t, "--cert-dir", dir)
	defer second.stop(t)
	if !first.ready.Created || second.ready.Created || first.ready.Certificate.SHA256 != second.ready.Certificate.SHA256 {
		t.Errorf("first %+v, second %+v", first.ready, second.ready)
	}
	res := netkit(t, "echo", "send", "--pin", first.ready.Certificate.SHA256, second.ready.Listen, "still me")
	if res.code != 0 {
		t.Errorf("exit %d: %s", res.code, res.stderr)
	}
}

// TestEchoServeExpiredCert: serve warns about an expired --cert, and labels
// it as given, not as a reused self-signed one.
func TestEchoServeExpiredCert(t *testing.T) {
	kp, err := (&echo.SelfSigned{
		Dir:      t.TempDir(),
		Validity: 24 * time.Hour,
		Now:      func() time.Time { return time.Now().AddDate(0, 0, -10) },
	}).LoadOrCreate(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	s := startEchoServer(t, "--cert", kp.CertFile, "--key", kp.KeyFile)
	s.stop(t)
	want := "netkit: WARNING: the certificate " + kp.CertFile + " expired on " + kp.Leaf.NotAfter.UTC().Format(time.RFC3339) +
		": clients that verify it will refuse the connection\n"
	if !strings.HasPrefix(s.stderr.String(), want) {
		t.Errorf("stderr does not start with the warning %q:\n%s", want, s.stderr)
	}
	if s.ready.SelfSigned || s.ready.Created || s.ready.CertFile != kp.CertFile {
		t.Errorf("ready document %+v", s.ready)
	}

	io, _, out, _ := testStreams()
	s.ready.Listen = "127.0.0.1:65432"
	printServeReady(io, s.ready)
	if want := "  certificate  " + kp.CertFile + " (from --cert)\n"; !strings.Contains(out.String(), want) {
		t.Errorf("output lacks %q:\n%s", want, out)
	}
}

func TestEchoServePlaintextHuman(t *testing.T) {
	io, _, out, _ := testStreams()
	printServeReady(io, echoServeReady{Listen: "[::]:65432", Mode: "auto"})
	want := "netkit echo serve: listening on [::]:65432 (plain TCP; frames, and raw echo for clients that start with text)\n" +
		"  try          netkit echo send --plaintext 127.0.0.1:65432 hello\n"
	if out.String() != want {
		t.Errorf("got\n%s\nwant\n%s", out, want)
	}
}

// TestEchoSendToRawServer: a server that echoes bytes sends a request back;
// send says so and fails rather than reporting "check ok".
func TestEchoSendToRawServer(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { (&echo.Server{Raw: true}).Serve(ctx, l) })
	t.Cleanup(func() { cancel(); wg.Wait() })
	for _, action := range []string{"foo", "info", "echo"} {
		args := []string{"echo", "send", "--plaintext", "--action", action, l.Addr().String()}
		if action != "info" {
			args = append(args, "x")
		}
		res := netkit(t, args...)
		if res.code != 1 || !strings.Contains(res.stderr, "the server echoed the request back: it is not a netkit echo server in frame mode, or is in raw mode") {
			t.Errorf("--action %s: exit %d\n%s%s", action, res.code, res.stdout, res.stderr)
		}
	}
}

// TestEchoSendWrongTransport checks that echo send says what went wrong
// when it speaks the other transport: plaintext to a TLS server (which
// closes without a word) and TLS to a plaintext server.
func TestEchoSendWrongTransport(t *testing.T) {
	tlsServer := startEchoServer(t).ready.Listen
	r := netkit(t, "echo", "send", "--plaintext", tlsServer, "hi")
	if r.code != 1 || !strings.Contains(r.stderr, "cause: the peer at "+tlsServer+" closed the connection without answering a plaintext message") ||
		!strings.Contains(r.stderr, "next:  drop --plaintext") {
		t.Errorf("plaintext to TLS: exit %d\n%s", r.code, r.stderr)
	}
	plainServer := startEchoServer(t, "--plaintext").ready.Listen
	r = netkit(t, "echo", "send", plainServer, "hi")
	if r.code != 1 || !strings.Contains(r.stderr, "cause: ") || !strings.Contains(r.stderr, "--plaintext if it does not") {
		t.Errorf("TLS to plaintext: exit %d\n%s", r.code, r.stderr)
	}
}

// TestEchoSendStdinInterrupt checks that Ctrl-C while echo send waits for
// the message on a terminal ends it at once.
func TestEchoSendStdinInterrupt(t *testing.T) {
	pr, pw := io.Pipe() // a terminal nobody types into
	defer pw.Close()
	ios, _, _, errOut := testStreams()
	ios.In, ios.InTTY = pr, true
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	code := run(ctx, ios, []string{"echo", "send", "--plaintext", "127.0.0.1:7"})
	if took := time.Since(start); code != exitError || took > 5*time.Second ||
		!strings.Contains(errOut.String(), "interrupted while reading the message from stdin") {
		t.Errorf("exit %d after %v: %q", code, took, errOut)
	}
}
