package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/netkit/netkit/diag"
	"github.com/netkit/netkit/internal/output"
)

// Exit codes, the same for every command (see 'netkit --help'):
const (
	// exitOK: the command did its job and the check passed.
	exitOK = 0
	// exitFailed: the check ran and found a problem, or nothing answered
	// (no reply, no such host, port not held).
	exitFailed = 1
	// exitError: bad usage or input, or a system error that kept the
	// command from running its check.
	exitError = 2
)

// cliError carries the exit code a command decided on.
type cliError struct {
	code  int
	err   error // nil: the command already said everything it had to
	usage bool
}

func (e *cliError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

func (e *cliError) Unwrap() error { return e.err }

// usageErrorf reports bad flags, arguments or input: exit 2, one line.
func usageErrorf(format string, a ...any) error {
	return &cliError{code: exitError, err: fmt.Errorf(format, a...), usage: true}
}

// usageError marks err, a validation error from a domain package, as bad
// input: exit 2 with no explanation appended.
func usageError(err error) error {
	return &cliError{code: exitError, err: err, usage: true}
}

// checkFailed reports that the check ran and found a problem: exit 1. With a
// nil err the command has already printed what it found.
func checkFailed(err error) error {
	return &cliError{code: exitFailed, err: err}
}

// exitCode maps the error a command returned to the process exit code and
// prints it to w: one line "netkit: <error>", then, for system errors that
// diag.Explain knows, the likely cause and the next thing to try.
func exitCode(err error, w io.Writer) int {
	if err == nil {
		return exitOK
	}
	code, usage := exitError, false
	var ce *cliError
	if errors.As(err, &ce) {
		code, usage = ce.code, ce.usage
		if ce.err == nil {
			return code
		}
	}
	fmt.Fprintf(w, "netkit: %s\n", oneLine(err.Error()))
	if usage {
		return code
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if ex, ok := diag.ExplainHere(ctx, err); ok {
		printExplanation(w, "  ", ex)
	}
	return code
}

// printExplanation writes the two lines that follow an error on stderr, a
// diagnose step or an entry of 'netkit explain': its likely cause and the
// next thing to try, each line starting with indent.
func printExplanation(w io.Writer, indent string, ex diag.Explanation) {
	fmt.Fprintf(w, "%scause: %s\n%snext:  %s\n", indent, ex.Cause, indent, ex.Next)
}

// oneLine folds a multi-line message (some library errors have them) so an
// error is always one line on stderr, with any control character in it
// (from a name, a file or a peer) escaped.
func oneLine(s string) string {
	return output.Escape(strings.Join(strings.Fields(s), " "))
}
