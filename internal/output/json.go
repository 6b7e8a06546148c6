package output

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sync"
)

// SchemaVersion is the version of every JSON document and JSON line netkit
// prints. It changes only when a field is removed or changes meaning; new
// fields may appear in any version. docs/json.md describes the fields and
// the convention they follow; docs/schema has a JSON Schema for each
// document and event type, which internal/cli's tests validate every
// command's output against.
const SchemaVersion = 1

// PrintJSON writes v, which must encode as a JSON object, as one indented
// document whose first field is "schema_version". Control characters in
// its strings are escaped, C1 ones too (see Escape).
func PrintJSON(w io.Writer, v any) error {
	b, err := withFields(v, "schema_version", SchemaVersion)
	if err != nil {
		return err
	}
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		return fmt.Errorf("encode json: %w", err)
	}
	out.WriteByte('\n')
	_, err = w.Write(escapeJSON(out.Bytes()))
	return err
}

// Lines writes a stream of events as JSON lines, one object per line, each
// starting with "type" and "schema_version". It is safe for concurrent use,
// so hooks called from several goroutines may share one.
type Lines struct {
	mu sync.Mutex
	w  io.Writer
}

// NewLines returns a JSON lines writer on w.
func NewLines(w io.Writer) *Lines {
	return &Lines{w: w}
}

// Emit writes one event of the given type; v must encode as a JSON object.
func (l *Lines) Emit(typ string, v any) error {
	b, err := withFields(v, "type", typ, "schema_version", SchemaVersion)
	if err != nil {
		return err
	}
	b = append(escapeJSON(b), '\n')
	l.mu.Lock()
	defer l.mu.Unlock()
	_, err = l.w.Write(b)
	return err
}

// withFields encodes v and puts the given key/value pairs first in it.
func withFields(v any, kv ...any) ([]byte, error) {
	body, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode json: %w", err)
	}
	body = bytes.TrimSpace(body)
	if len(body) < 2 || body[0] != '{' {
		return nil, fmt.Errorf("encode json: %T is not a JSON object", v)
	}
	var b bytes.Buffer
	b.WriteByte('{')
	for i := 0; i+1 < len(kv); i += 2 {
		k, _ := json.Marshal(kv[i])
		val, err := json.Marshal(kv[i+1])
		if err != nil {
			return nil, fmt.Errorf("encode json: %w", err)
		}
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(val)
	}
	if rest := body[1:]; !bytes.Equal(rest, []byte("}")) {
		b.WriteByte(',')
		b.Write(rest)
	} else {
		b.WriteByte('}')
	}
	return b.Bytes(), nil
}
