package output

import (
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/pflag"
)

// Format is how a command renders its result.
type Format string

// The formats commands understand. FormatTable is the default: a table on a
// terminal and plain columns in a pipe. FormatJSONL streams one JSON object
// per event (a ping reply, a bench tick, a diagnose step) and is offered only
// by commands that have events.
const (
	FormatTable Format = "table"
	FormatJSON  Format = "json"
	FormatJSONL Format = "jsonl"
)

// Options are the output flags shared by every command that prints a result.
type Options struct {
	// Format is the rendering chosen by the flags, set by Resolve.
	Format Format
	// NoHeader drops the header row of tables, for awk and cut.
	NoHeader bool

	json    bool
	format  string
	allowed []Format
}

// AddFlags registers --json, --format and --no-header on fs. A command with
// a stream of events passes streaming=true to also offer --format jsonl.
func (o *Options) AddFlags(fs *pflag.FlagSet, streaming bool) {
	o.allowed = []Format{FormatTable, FormatJSON}
	if streaming {
		o.allowed = append(o.allowed, FormatJSONL)
	}
	names := make([]string, len(o.allowed))
	for i, f := range o.allowed {
		names[i] = string(f)
	}
	fs.BoolVar(&o.json, "json", false, "print one JSON document (same as --format json)")
	fs.StringVar(&o.format, "format", string(FormatTable), "output format: "+strings.Join(names, ", "))
	fs.BoolVar(&o.NoHeader, "no-header", false, "omit the header row of tables")
}

// Resolve checks the flags and sets Format. Its error names the bad value,
// for the command to report as a usage error.
func (o *Options) Resolve() error {
	f := Format(strings.ToLower(strings.TrimSpace(o.format)))
	if f == "" {
		f = FormatTable
	}
	allowed := o.allowed
	if allowed == nil {
		allowed = []Format{FormatTable, FormatJSON}
	}
	if !slices.Contains(allowed, f) {
		names := make([]string, len(allowed))
		for i, a := range allowed {
			names[i] = string(a)
		}
		return fmt.Errorf("invalid --format %q: want one of %s", o.format, strings.Join(names, ", "))
	}
	if o.json {
		if f != FormatTable && f != FormatJSON {
			return fmt.Errorf("--json and --format %s cannot be used together", f)
		}
		f = FormatJSON
	}
	o.Format = f
	return nil
}
