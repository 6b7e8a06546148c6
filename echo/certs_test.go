package echo

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/netkit/netkit/fileread"
)

func TestParseFingerprint(t *testing.T) {
	const hexDigits = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
	for _, s := range []string{
		"sha256:" + hexDigits,
		"SHA256:" + strings.ToUpper(hexDigits),
		" sha256:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF\n",
	} {
		f, err := ParseFingerprint(s)
		if err != nil {
			t.Errorf("ParseFingerprint(%q): %v", s, err)
			continue
		}
		if f.String() != "sha256:"+hexDigits {
			t.Errorf("ParseFingerprint(%q) = %s", s, f)
		}
	}
	for _, s := range []string{"", hexDigits, "sha1:" + hexDigits, "sha256:" + hexDigits[2:], "sha256:" + hexDigits + "00", "sha256:" + strings.Replace(hexDigits, "0", "g", 1)} {
		if _, err := ParseFingerprint(s); err == nil || !strings.HasPrefix(err.Error(), "invalid fingerprint") {
			t.Errorf("ParseFingerprint(%q): %v, want an invalid fingerprint error", s, err)
		}
	}
}

// FuzzParseFingerprint: no panic, and what parses prints in the canonical
// form, which parses to the same fingerprint.
func FuzzParseFingerprint(f *testing.F) {
	f.Add("sha256:00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff")
	f.Add("SHA256:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF")
	f.Fuzz(func(t *testing.T, s string) {
		fp, err := ParseFingerprint(s)
		if err != nil {
			return
		}
		again, err := ParseFingerprint(fp.String())
		if err != nil || again != fp {
			t.Fatalf("%q parses to %s, which parses to %s, %v", s, fp, again, err)
		}
	})
}

// TestLoadBounded: certificate, key and CA files that never end (/dev/zero)
// are refused at MaxPEMFile bytes rather than read until memory runs out.
func TestLoadBounded(t *testing.T) {
	ctx := context.Background()
	kp, err := (&SelfSigned{Dir: t.TempDir()}).LoadOrCreate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for name, load := range map[string]func() error{
		"CA":   func() error { _, err := LoadCertPool(ctx, "/dev/zero"); return err },
		"cert": func() error { _, err := LoadKeyPair(ctx, "/dev/zero", kp.KeyFile); return err },
		"key":  func() error { _, err := LoadKeyPair(ctx, kp.CertFile, "/dev/zero"); return err },
	} {
		if err := load(); !errors.Is(err, fileread.ErrTooLarge) || !strings.Contains(err.Error(), "read /dev/zero: file too large: more than 4 MiB, the limit") {
			t.Errorf("%s file /dev/zero: %v, want ErrTooLarge", name, err)
		}
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := LoadCertPool(cancelled, kp.CertFile); !errors.Is(err, context.Canceled) {
		t.Errorf("with the context done: %v, want context.Canceled", err)
	}
}
