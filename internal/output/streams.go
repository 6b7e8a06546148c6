// Package output is the one place netkit writes to the terminal: tables for
// people, plain columns for pipes, one JSON document for scripts and JSON
// lines for streams of events. Commands build rows and documents; this
// package decides how they look on the stream they are going to.
package output

import (
	"bytes"
	"io"
	"os"

	"golang.org/x/term"
)

// Streams holds the standard streams of one run and whether each is a
// terminal. Commands receive a *Streams rather than touching os.Stdout, so
// tests can run them against buffers.
type Streams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer

	// InTTY reports whether In is a terminal: a command reading its input
	// from it says so first, so it never waits silently.
	InTTY bool
	// OutTTY reports whether Out is a terminal: tables are aligned and
	// coloured for people only then.
	OutTTY bool
	// ErrTTY reports whether ErrOut is a terminal: live progress lines are
	// written only then.
	ErrTTY bool

	// outColor and errColor say whether Out and ErrOut are coloured; see
	// SetColor.
	outColor, errColor bool
}

// System returns the process's standard streams with their terminal flags.
func System() *Streams {
	s := &Streams{
		In:     os.Stdin,
		Out:    os.Stdout,
		ErrOut: os.Stderr,
		InTTY:  isTerminal(os.Stdin),
		OutTTY: isTerminal(os.Stdout),
		ErrTTY: isTerminal(os.Stderr),
	}
	s.SetColor(ColorAuto)
	return s
}

// Test returns streams backed by buffers, none of them a terminal nor
// coloured, and the buffers behind In, Out and ErrOut.
func Test() (s *Streams, in, out, errOut *bytes.Buffer) {
	in, out, errOut = &bytes.Buffer{}, &bytes.Buffer{}, &bytes.Buffer{}
	return &Streams{In: in, Out: out, ErrOut: errOut}, in, out, errOut
}

func isTerminal(f *os.File) bool {
	return term.IsTerminal(int(f.Fd()))
}

// Status shows a one-line progress message on ErrOut, replacing the previous
// one, when ErrOut is a terminal; elsewhere it writes nothing, so progress
// never mixes into piped output or logs. An empty line clears the status.
func (s *Streams) Status(line string) {
	if !s.ErrTTY {
		return
	}
	if line == "" {
		io.WriteString(s.ErrOut, "\r\x1b[K")
		return
	}
	io.WriteString(s.ErrOut, "\r\x1b[K"+line)
}
