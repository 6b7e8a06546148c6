package echo

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/netkit/netkit/fileread"
)

// Fingerprint is the SHA-256 digest of a certificate's DER encoding, the
// value 'netkit echo serve' prints and 'netkit echo send --pin' trusts.
type Fingerprint [sha256.Size]byte

// FingerprintOf returns the fingerprint of c.
func FingerprintOf(c *x509.Certificate) Fingerprint {
	return sha256.Sum256(c.Raw)
}

// String returns the fingerprint as "sha256:" and 64 lower-case hex digits.
func (f Fingerprint) String() string {
	return "sha256:" + hex.EncodeToString(f[:])
}

// ParseFingerprint parses "sha256:<64 hex digits>". The prefix may be in any
// case and the digits may be separated by colons, as openssl prints them
// ("sha256:AB:CD:…"), so 'openssl x509 -noout -fingerprint -sha256' output
// after its "=" works too.
func ParseFingerprint(s string) (Fingerprint, error) {
	var f Fingerprint
	prefix, digits, ok := strings.Cut(strings.TrimSpace(s), ":")
	if !ok || !strings.EqualFold(prefix, "sha256") {
		return f, fmt.Errorf("invalid fingerprint %q: want sha256:<64 hex digits>", s)
	}
	digits = strings.ReplaceAll(digits, ":", "")
	if len(digits) != hex.EncodedLen(len(f)) {
		return f, fmt.Errorf("invalid fingerprint %q: want 64 hex digits after sha256:, got %d characters", s, len(digits))
	}
	if _, err := hex.Decode(f[:], []byte(digits)); err != nil {
		return f, fmt.Errorf("invalid fingerprint %q: %w", s, err)
	}
	return f, nil
}

// Certificate is what a person checks about a certificate.
type Certificate struct {
	// Subject is the distinguished name, e.g. "CN=localhost".
	Subject string `json:"subject"`
	// SANs are the DNS names and IP addresses the certificate is for.
	SANs []string `json:"sans"`
	// Issuer is the distinguished name of the signer.
	Issuer    string    `json:"issuer"`
	NotBefore time.Time `json:"not_before"`
	NotAfter  time.Time `json:"not_after"`
	// SHA256 is the fingerprint, "sha256:…".
	SHA256 string `json:"sha256"`
	// IsCA reports whether the certificate may sign others.
	IsCA bool `json:"is_ca"`
}

// SANs lists the names c is valid for: its DNS and IP subject alternative
// names, never nil.
func SANs(c *x509.Certificate) []string {
	sans := append([]string{}, c.DNSNames...)
	for _, ip := range c.IPAddresses {
		sans = append(sans, ip.String())
	}
	return sans
}

// Summarize returns the summary of c.
func Summarize(c *x509.Certificate) Certificate {
	return Certificate{
		Subject:   c.Subject.String(),
		SANs:      SANs(c),
		Issuer:    c.Issuer.String(),
		NotBefore: c.NotBefore.UTC(),
		NotAfter:  c.NotAfter.UTC(),
		SHA256:    FingerprintOf(c).String(),
		IsCA:      c.IsCA,
	}
}

// Names of the files in a SelfSigned directory.
const (
	CertFileName = "cert.pem"
	KeyFileName  = "key.pem"
)

// DefaultCertDir returns where 'netkit echo serve' keeps its self-signed
// certificate: $XDG_CONFIG_HOME/netkit/echo, else ~/.config/netkit/echo.
func DefaultCertDir() (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("find the configuration directory: %w", err)
	}
	return filepath.Join(dir, "netkit", "echo"), nil
}

// SelfSigned makes and keeps a self-signed ECDSA P-256 server certificate.
// The zero value is not usable: Dir is required.
type SelfSigned struct {
	// Dir holds cert.pem (mode 0644) and key.pem (mode 0600); it is created
	// with mode 0700 when missing.
	Dir string
	// Hosts are the DNS names and IP addresses the certificate is for. Nil
	// means localhost, 127.0.0.1, ::1 and this machine's host name.
	Hosts []string
	// Validity is how long a new certificate is valid; zero means one year.
	Validity time.Duration
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// KeyPair is a certificate ready to serve, and where it came from.
type KeyPair struct {
	Certificate tls.Certificate
	// Leaf is the parsed server certificate.
	Leaf *x509.Certificate
	// CertFile and KeyFile are the PEM files, empty for pairs built in
	// memory.
	CertFile, KeyFile string
	// Created reports whether LoadOrCreate made a new certificate rather
	// than reusing the one in Dir.
	Created bool
}

// renewBefore is how long before expiry LoadOrCreate replaces a certificate.
const renewBefore = 24 * time.Hour

// LoadOrCreate returns the certificate in Dir when it is valid for another
// day and covers every host of Hosts, and otherwise makes a new one and
// writes it there, replacing the files atomically. Like ssh, it refuses to
// reuse a key.pem that other users may read (mode not 0600 or stricter).
func (s *SelfSigned) LoadOrCreate(ctx context.Context) (*KeyPair, error) {
	if s.Dir == "" {
		return nil, errors.New("self-signed certificate: no directory given")
	}
	now := time.Now()
	if s.Now != nil {
		now = s.Now()
	}
	hosts := s.Hosts
	if hosts == nil {
		hosts = []string{"localhost", "127.0.0.1", "::1"}
		if h, err := os.Hostname(); err == nil && h != "" && h != "localhost" {
			hosts = append(hosts, h)
		}
	}
	certFile, keyFile := filepath.Join(s.Dir, CertFileName), filepath.Join(s.Dir, KeyFileName)
	if kp, err := LoadKeyPair(ctx, certFile, keyFile); err == nil && covers(kp.Leaf, hosts, now) {
		st, err := os.Stat(keyFile)
		if err != nil {
			return nil, fmt.Errorf("self-signed certificate: %w", err)
		}
		if perm := st.Mode().Perm(); perm&0o077 != 0 {
			return nil, fmt.Errorf("self-signed certificate: %s is mode %04o, so other users may read the private key: run 'chmod 600 %s', or delete it to make a new certificate", keyFile, perm, keyFile)
		}
		return kp, nil
	}
	validity := s.Validity
	if validity == 0 {
		validity = 365 * 24 * time.Hour
	}
	certPEM, keyPEM, err := newSelfSigned(hosts, now, validity)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("self-signed certificate: %w", err)
	}
	if err := writeFileAtomic(keyFile, keyPEM, 0o600); err != nil {
		return nil, fmt.Errorf("self-signed certificate: %w", err)
	}
	if err := writeFileAtomic(certFile, certPEM, 0o644); err != nil {
		return nil, fmt.Errorf("self-signed certificate: %w", err)
	}
	kp, err := LoadKeyPair(ctx, certFile, keyFile)
	if err != nil {
		return nil, err
	}
	kp.Created = true
	return kp, nil
}

// covers reports whether c is valid at now and for another renewBefore, and
// names every host.
func covers(c *x509.Certificate, hosts []string, now time.Time) bool {
	if now.Before(c.NotBefore) || now.Add(renewBefore).After(c.NotAfter) {
		return false
	}
	for _, h := range hosts {
		if c.VerifyHostname(h) != nil {
			return false
		}
	}
	return true
}

// newSelfSigned returns the PEM of a new self-signed certificate for hosts
// and of its private key.
func newSelfSigned(hosts []string, now time.Time, validity time.Duration) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generate key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, nil, fmt.Errorf("generate serial number: %w", err)
	}
	cn := "netkit echo"
	if len(hosts) > 0 {
		cn += " " + hosts[len(hosts)-1]
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"netkit"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(validity),
		KeyUsage:              x509.KeyUsageDigitalSignature, // not CertSign: it is no CA (RFC 5280 4.2.1.3)
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("create certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("encode key: %w", err)
	}
	certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	return certPEM, keyPEM, nil
}

// writeFileAtomic writes data to a new file beside name with mode perm and
// renames it over name, so a reader never sees half a file and a key is
// never readable by others, not even for a moment.
func writeFileAtomic(name string, data []byte, perm os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(name), "."+filepath.Base(name)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name()) // fails harmlessly after the rename
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), name)
}

// MaxPEMFile is the largest certificate, key or CA file read: 4 MiB, room
// for a bundle of a few thousand certificates.
const MaxPEMFile = 4 << 20

// LoadKeyPair reads a PEM certificate (chain) and its private key, each file
// of at most MaxPEMFile bytes, while ctx lasts.
func LoadKeyPair(ctx context.Context, certFile, keyFile string) (*KeyPair, error) {
	certPEM, err := fileread.ReadAll(ctx, certFile, MaxPEMFile)
	if err != nil {
		return nil, fmt.Errorf("load certificate: %w", err)
	}
	keyPEM, err := fileread.ReadAll(ctx, keyFile, MaxPEMFile)
	if err != nil {
		return nil, fmt.Errorf("load key: %w", err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("load certificate %s and key %s: %w", certFile, keyFile, err)
	}
	return &KeyPair{Certificate: cert, Leaf: cert.Leaf, CertFile: certFile, KeyFile: keyFile}, nil
}

// minRSABits is the smallest RSA key WeakKey accepts (NIST SP 800-131A).
const minRSABits = 2048

// WeakKey says why the public key of c is too weak to trust, or returns ""
// when it is not: an RSA key under 2048 bits, which can be factored with
// the means of a well-funded attacker.
func WeakKey(c *x509.Certificate) string {
	if k, ok := c.PublicKey.(*rsa.PublicKey); ok && k.N.BitLen() < minRSABits {
		return fmt.Sprintf("its RSA key has %d bits, under the %d considered safe", k.N.BitLen(), minRSABits)
	}
	return ""
}

// LoadCertPool reads the PEM certificates of file, of at most MaxPEMFile
// bytes, into a pool while ctx lasts, for ClientOptions.RootCAs or Server's
// client CA. A file with no certificate is an error.
func LoadCertPool(ctx context.Context, file string) (*x509.CertPool, error) {
	data, err := fileread.ReadAll(ctx, file, MaxPEMFile)
	if err != nil {
		return nil, fmt.Errorf("read CA file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("read CA file %s: no PEM certificate in it", file)
	}
	return pool, nil
}
