package resolve

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestCheckName(t *testing.T) {
	for _, tt := range []struct {
		name, why string // why is "" for a name that passes
	}{
		{"db.example", ""},
		{"bücher.example", ""},
		{"\xc2\x9b31mX.example", "control character or space at byte 0"}, // C1 CSI
		{"a\x1b[2J.example", "control character or space at byte 1"},
		{"a\x7f.example", "control character or space at byte 1"},
		{"ok.\xff.example", "not valid UTF-8 at byte 3"},
		{"ok.\xc2.example", "not valid UTF-8 at byte 3"},
		{"a b", "control character or space at byte 1"},
		{"a..b", "empty label (two dots in a row, or a leading dot)"},
	} {
		err := CheckName(tt.name)
		switch {
		case tt.why == "" && err != nil:
			t.Errorf("CheckName(%q) = %v, want nil", tt.name, err)
		case tt.why != "" && (err == nil || !strings.HasSuffix(err.Error(), tt.why)):
			t.Errorf("CheckName(%q) = %v, want %q", tt.name, err, tt.why)
		case err != nil && strings.ContainsFunc(err.Error(), func(r rune) bool { return r < ' ' || 0x7f <= r && r <= 0x9f }):
			t.Errorf("CheckName(%q): the error %q holds the control character itself", tt.name, err)
		}
	}
}

// FuzzCheckName: a name CheckName accepts is UTF-8 without controls or
// spaces, and its error never holds the raw control characters it found.
func FuzzCheckName(f *testing.F) {
	f.Add("db.example")
	f.Add("\xc2\x9b31mX.example")
	f.Add("ok.\xff.example")
	f.Fuzz(func(t *testing.T, name string) {
		err := CheckName(name)
		if err == nil {
			if !utf8.ValidString(name) || strings.ContainsFunc(name, func(r rune) bool { return r <= ' ' || 0x7f <= r && r <= 0x9f }) {
				t.Fatalf("CheckName accepted %q", name)
			}
			return
		}
		if !utf8.ValidString(err.Error()) || strings.ContainsFunc(err.Error(), func(r rune) bool { return r < ' ' || 0x7f <= r && r <= 0x9f }) {
			t.Fatalf("CheckName(%q): error %q holds a control character", name, err)
		}
	})
}
