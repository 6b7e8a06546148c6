package echo

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/netkit/netkit/internal/testcert"
)

// testPKI is a server certificate made by SelfSigned, and a client CA with one
// client certificate it signed, for mutual TLS, and one from another CA.
type testPKI struct {
	server     *KeyPair
	serverPool *x509.CertPool // trusts the server certificate
	clientCA   *x509.CertPool
	client     tls.Certificate // CN=test client, signed by the client CA
	stranger   tls.Certificate // CN=stranger, self-signed
}

func newTestPKI(t *testing.T) *testPKI {
	t.Helper()
	kp, err := (&SelfSigned{Dir: t.TempDir()}).LoadOrCreate(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	p := &testPKI{server: kp, serverPool: x509.NewCertPool()}
	p.serverPool.AddCert(kp.Leaf)
	ca := testcert.NewCA(t)
	p.clientCA = ca.Pool()
	p.client = ca.Issue(t, testcert.Leaf{Names: []string{"test client"}, Client: true})
	p.stranger = testcert.NewCA(t).Issue(t, testcert.Leaf{Names: []string{"stranger"}, Client: true})
	return p
}

// syncBuffer is a log destination safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitFor polls the log until it holds every one of want, or fails after 5 s.
func (s *syncBuffer) waitFor(t *testing.T, want ...string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		log := s.String()
		missing := ""
		for _, w := range want {
			if !strings.Contains(log, w) {
				missing = w
				break
			}
		}
		if missing == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("log never said %q; log:\n%s", missing, log)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitCount polls the log until s occurs n times in it, or fails after 5 s.
func (s *syncBuffer) waitCount(t *testing.T, sub string, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for strings.Count(s.String(), sub) < n {
		if time.Now().After(deadline) {
			t.Fatalf("log has %q %d times, want %d; log:\n%s", sub, strings.Count(s.String(), sub), n, s)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// running is a server started by serve.
type running struct {
	addr string
	log  *syncBuffer
	stop func() error // cancels Serve's context and returns what Serve returned
}

// serve starts s on a loopback port with a log of its own and stops it at the
// end of the test.
func serve(t *testing.T, s *Server) *running {
	t.Helper()
	return serveOn(t, s, "127.0.0.1:0")
}

func serveOn(t *testing.T, s *Server, address string) *running {
	t.Helper()
	ln, err := net.Listen("tcp", address)
	if err != nil {
		t.Fatal(err)
	}
	log := &syncBuffer{}
	if s.Logger == nil {
		s.Logger = slog.New(slog.NewTextHandler(log, nil))
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	var once sync.Once
	var err2 error
	stop := func() error {
		once.Do(func() {
			cancel()
			err2 = <-done
		})
		return err2
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return &running{addr: ln.Addr().String(), log: log, stop: stop}
}

// mustDial connects to addr with opts, failing the test on error.
func mustDial(t *testing.T, addr string, opts ClientOptions) *Conn {
	t.Helper()
	c, err := Dial(context.Background(), addr, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}
