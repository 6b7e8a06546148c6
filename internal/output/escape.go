package output

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Escape returns s safe to print on a terminal. Every control character,
// C0 (U+0000 to U+001F, and DEL) and C1 (U+0080 to U+009F, among them the
// one-byte CSI), every bidirectional control (which can make text read in
// another order than it is stored) and every byte that is not UTF-8 is
// written as an escape: \t, \n, \r, \x1b, \u009b, \u202e, \xff. Text from a
// peer, a file or an argument then cannot move the cursor, change colours
// or send the terminal commands. Anything else, letters of every script
// included, is unchanged, and so is s when it has nothing to escape.
func Escape(s string) string {
	i := strings.IndexFunc(s, mustEscape)
	if i < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	b.WriteString(s[:i])
	for i < len(s) {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		case mustEscape(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// mustEscape reports whether Escape writes r as an escape; invalid UTF-8
// decodes as utf8.RuneError, which it escapes byte by byte.
func mustEscape(r rune) bool {
	return r < 0x20 || 0x7f <= r && r <= 0x9f || r == utf8.RuneError || unicode.Is(unicode.Bidi_Control, r)
}

// escapeJSON escapes, in encoded JSON b, the characters Escape escapes that
// encoding/json leaves as they are (DEL, C1 controls, bidirectional
// controls), as \uXXXX: the document means the same, and cannot drive the
// terminal it is printed on. JSON's own escapes already cover C0, and
// encoding/json has replaced invalid UTF-8.
func escapeJSON(b []byte) []byte {
	var out []byte
	last := 0
	for i := 0; i < len(b); {
		if b[i] < 0x7f {
			i++
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		if r != utf8.RuneError && mustEscape(r) {
			out = append(out, b[last:i]...)
			out = fmt.Appendf(out, `\u%04x`, r)
			last = i + size
		}
		i += size
	}
	if out == nil {
		return b
	}
	return append(out, b[last:]...)
}
