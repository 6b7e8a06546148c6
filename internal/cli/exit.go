package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/netkit/netkit/diag/explain"
	"github.com/netkit/netkit/internal/output"
	"github.com/netkit/netkit/resolve"
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
	hint  string // a line of its own after the error ("did you mean: ping")
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
// explain.Error knows, the likely cause and the next thing to try.
func exitCode(err error, io *output.Streams) int {
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
	io.Eprintf("netkit: %s\n", oneLine(err.Error()))
	if usage {
		if ce.hint != "" {
			io.Eprintf("  %s\n", ce.hint)
		}
		return code
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if ex, ok := explain.ErrorHere(ctx, err); ok {
		printExplanation(io.Eprintf, "  ", ex)
	}
	return code
}

// printExplanation writes, with printf (a Streams' Printf or Eprintf), the
// two lines that follow an error on stderr, a diagnose step or an entry of
// 'netkit explain': its likely cause and the next thing to try, each line
// starting with indent.
func printExplanation(printf func(string, ...any), indent string, ex explain.Explanation) {
	printf("%scause: %s\n%snext:  %s\n", indent, ex.Cause, indent, ex.Next)
}

// noSuchName reports whether err says a name does not exist (NXDOMAIN, or
// no address of the family asked for): exit 1 in every command, since the
// lookup ran and found nothing, like a ping without reply.
func noSuchName(err error) bool {
	return errors.Is(err, resolve.ErrNoSuchHost) || errors.Is(err, resolve.ErrNoData)
}

// oneLine folds a multi-line message (some library errors have them) so an
// error is always one line on stderr; the Streams that prints it escapes
// any control character in it (from a name, a file or a peer).
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
