package output

import (
	"fmt"
	"io"
	"os"
	"strings"
)

// Printf writes a line or part of one to Out: the human output of a command
// that is not a table (ping's reply lines, diagnose's steps). The text of
// its arguments (strings, errors, Stringers) is escaped (Escape): it may
// come from a peer, a file or an argument. The format is written as it is.
func (s *Streams) Printf(format string, a ...any) {
	fmt.Fprintf(s.Out, format, escapeArgs(a)...)
}

// Println writes a to Out, escaped as Printf escapes, then a newline.
func (s *Streams) Println(a ...any) {
	fmt.Fprintln(s.Out, escapeArgs(a)...)
}

// Eprintf writes to ErrOut, escaped as Printf escapes: what a command says
// about its run rather than its result (errors, what it is waiting for), so
// pipes get results alone.
func (s *Streams) Eprintf(format string, a ...any) {
	fmt.Fprintf(s.ErrOut, format, escapeArgs(a)...)
}

// escapeArgs returns a with the text of every string, error and Stringer
// escaped; Painted text, which carries its own escape codes, passes.
func escapeArgs(a []any) []any {
	out := make([]any, len(a))
	for i, v := range a {
		switch v := v.(type) {
		case Painted:
			out[i] = string(v)
		case string:
			out[i] = Escape(v)
		case error:
			out[i] = Escape(v.Error())
		case fmt.Stringer:
			out[i] = Escape(v.String())
		default:
			out[i] = v
		}
	}
	return out
}

// Notef writes "netkit: note: …" on ErrOut: something true about the
// result that a person should know (sockets whose owner cannot be read).
func (s *Streams) Notef(format string, a ...any) {
	s.Eprintf("netkit: note: "+format+"\n", a...)
}

// Warnf writes "netkit: WARNING: …" on ErrOut: something that will make
// the command's job fail for others (a certificate clients will refuse).
func (s *Streams) Warnf(format string, a ...any) {
	s.Eprintf("netkit: %s: "+format+"\n", append([]any{s.errPaint(Warn, "WARNING")}, a...)...)
}

// ColorMode is the --color setting.
type ColorMode string

// The values of --color. ColorAuto colours a terminal, unless the NO_COLOR
// environment variable is set to anything but "" (no-color.org).
const (
	ColorAuto   ColorMode = "auto"
	ColorAlways ColorMode = "always"
	ColorNever  ColorMode = "never"
)

// SetColor decides, once per run, whether Out and ErrOut are coloured. Its
// error names a mode it does not know.
func (s *Streams) SetColor(mode ColorMode) error {
	switch mode {
	case ColorAuto, "":
		noColor := os.Getenv("NO_COLOR") != ""
		s.outColor, s.errColor = s.OutTTY && !noColor, s.ErrTTY && !noColor
	case ColorAlways:
		s.outColor, s.errColor = true, true
	case ColorNever:
		s.outColor, s.errColor = false, false
	default:
		return fmt.Errorf("invalid --color %q: want auto, always or never", mode)
	}
	return nil
}

// Style is what a coloured piece of text means.
type Style int

// The styles netkit colours: a check that passed, a warning, a failure,
// and text of less weight (a step not checked).
const (
	OK Style = iota
	Warn
	Fail
	Dim
)

var styleCodes = [...]string{OK: "\x1b[32m", Warn: "\x1b[33m", Fail: "\x1b[31m", Dim: "\x1b[2m"}

// Painted is text with its colour codes: Printf writes it unescaped.
type Painted string

// Paint returns text (escaped) in the colour of st when Out is coloured.
func (s *Streams) Paint(st Style, text string) Painted {
	return paint(s.outColor, st, text)
}

func (s *Streams) errPaint(st Style, text string) Painted {
	return paint(s.errColor, st, text)
}

func paint(on bool, st Style, text string) Painted {
	if !on {
		return Painted(Escape(text))
	}
	return Painted(styleCodes[st] + Escape(text) + "\x1b[0m")
}

// ClearScreen clears Out, a terminal, and puts the cursor at its top, for a
// listing redrawn in place ('sockets --watch').
func (s *Streams) ClearScreen() {
	io.WriteString(s.Out, "\x1b[H\x1b[2J")
}

// Redraw writes t, laid out for a terminal, over the last block of n lines
// it wrote: a table updated in place as answers come ('trace'). It returns
// the number of lines written, the n of the next call.
func (s *Streams) Redraw(n int, t *Table, noHeader bool) (int, error) {
	var b strings.Builder
	if err := t.escaped().printTerminal(&b, noHeader); err != nil {
		return n, err
	}
	if n > 0 {
		fmt.Fprintf(s.Out, "\x1b[%dA\x1b[J", n) // up to the block's first line, clear below
	}
	_, err := io.WriteString(s.Out, b.String())
	return strings.Count(b.String(), "\n"), err
}
