package output

import (
	"fmt"
	"os"
)

// Printf writes a line or part of one to Out: the human output of a command
// that is not a table (ping's reply lines, diagnose's steps).
func (s *Streams) Printf(format string, a ...any) {
	fmt.Fprintf(s.Out, format, a...)
}

// Println writes a to Out, then a newline.
func (s *Streams) Println(a ...any) {
	fmt.Fprintln(s.Out, a...)
}

// Eprintf writes to ErrOut: what a command says about its run rather than
// its result (errors, what it is waiting for), so pipes get results alone.
func (s *Streams) Eprintf(format string, a ...any) {
	fmt.Fprintf(s.ErrOut, format, a...)
}

// Notef writes "netkit: note: …" on ErrOut: something true about the
// result that a person should know (sockets whose owner cannot be read).
func (s *Streams) Notef(format string, a ...any) {
	s.Eprintf("netkit: note: "+format+"\n", a...)
}

// Warnf writes "netkit: WARNING: …" on ErrOut: something that will make
// the command's job fail for others (a certificate clients will refuse).
func (s *Streams) Warnf(format string, a ...any) {
	s.Eprintf("netkit: "+s.errPaint(Warn, "WARNING")+": "+format+"\n", a...)
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

// Paint returns text in the colour of st when Out is coloured, else text.
func (s *Streams) Paint(st Style, text string) string {
	return paint(s.outColor, st, text)
}

func (s *Streams) errPaint(st Style, text string) string {
	return paint(s.errColor, st, text)
}

func paint(on bool, st Style, text string) string {
	if !on {
		return text
	}
	return styleCodes[st] + text + "\x1b[0m"
}
