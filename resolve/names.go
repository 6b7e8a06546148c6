package resolve

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Limits of a DNS name (RFC 1035 section 2.3.4).
const (
	maxNameLen  = 253
	maxLabelLen = 63
)

// CheckName reports why name cannot be looked up at all: empty, longer than
// 253 bytes, a label longer than 63 bytes or empty (two dots in a row), or a
// byte that no resolver accepts (space, control characters, C0 and C1, or
// bytes that are not UTF-8). It does not
// enforce the stricter host name rules of RFC 1123; HostNameProblem does.
func CheckName(name string) error {
	n := strings.TrimSuffix(name, ".")
	switch {
	case name == "":
		return &InputError{What: "name", Value: name, Why: "empty name"}
	case len(n) > maxNameLen:
		return &InputError{What: "name", Value: abbreviate(name), Why: fmt.Sprintf("%d bytes long, the limit is %d", len(n), maxNameLen)}
	case n == "":
		return &InputError{What: "name", Value: name, Why: "the root name has no addresses"}
	}
	for _, label := range strings.Split(n, ".") {
		if label == "" {
			return &InputError{What: "name", Value: name, Why: "empty label (two dots in a row, or a leading dot)"}
		}
		if len(label) > maxLabelLen {
			return &InputError{What: "name", Value: abbreviate(name), Why: fmt.Sprintf("label %q is %d bytes long, the limit is %d", abbreviate(label), len(label), maxLabelLen)}
		}
	}
	for i, r := range name {
		switch {
		case r == utf8.RuneError && !strings.HasPrefix(name[i:], "\uFFFD"):
			return &InputError{What: "name", Value: name, Why: fmt.Sprintf("not valid UTF-8 at byte %d", i)}
		case r <= ' ' || 0x7f <= r && r <= 0x9f:
			return &InputError{What: "name", Value: name, Why: fmt.Sprintf("control character or space at byte %d", i)}
		}
	}
	return nil
}

// HostNameProblem says why name is not a valid host name under RFC 1123
// (letters, digits and hyphens in labels of 1 to 63 bytes that do not start
// or end with a hyphen, 253 bytes in all), or returns "" when it is.
func HostNameProblem(name string) string {
	if err := CheckName(name); err != nil {
		var ie *InputError
		if errors.As(err, &ie) {
			return ie.Why
		}
		return err.Error()
	}
	for _, label := range strings.Split(strings.TrimSuffix(name, "."), ".") {
		if label[0] == '-' || label[len(label)-1] == '-' {
			return fmt.Sprintf("label %q starts or ends with a hyphen", label)
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return fmt.Sprintf("%q is not allowed in a host name (letters, digits and hyphens only)", c)
			}
		}
	}
	return ""
}

// abbreviate shortens long names in error messages.
func abbreviate(s string) string {
	if len(s) <= 40 {
		return s
	}
	return s[:20] + "…" + s[len(s)-12:]
}
