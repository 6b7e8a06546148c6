package output

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/renderer"
	"github.com/olekukonko/tablewriter/tw"
)

// Table is a header and rows of cells, rendered by Print.
type Table struct {
	Header []string
	Rows   [][]string
}

// Append adds one row.
func (t *Table) Append(cells ...string) {
	t.Rows = append(t.Rows, cells)
}

// Print writes the table to s.Out: aligned by tablewriter on a terminal, and
// as plain space-aligned columns in a pipe, where an empty cell becomes "-" so
// that awk sees the same number of fields on every line. Column names are
// printed as given (tablewriter's header auto-format would turn "Recv-Q" into
// "RECV - Q").
func (t *Table) Print(s *Streams, noHeader bool) error {
	if s.OutTTY {
		return t.printTerminal(s.Out, noHeader)
	}
	return t.printPlain(s.Out, noHeader)
}

func (t *Table) printTerminal(w io.Writer, noHeader bool) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	tbl := tablewriter.NewTable(bw,
		tablewriter.WithRenderer(renderer.NewBlueprint(tw.Rendition{
			Borders:  tw.BorderNone,
			Symbols:  tw.NewSymbols(tw.StyleLight),
			Settings: tw.Settings{Separators: tw.SeparatorsNone, Lines: tw.Lines{ShowHeaderLine: tw.On}},
		})),
		tablewriter.WithHeaderAutoFormat(tw.Off),
		tablewriter.WithHeaderAlignment(tw.AlignLeft),
		tablewriter.WithRowAlignment(tw.AlignLeft),
		tablewriter.WithRowAutoWrap(tw.WrapNone),
		tablewriter.WithTrimSpace(tw.Off),
	)
	if !noHeader {
		tbl.Header(t.Header)
	}
	if err := tbl.Bulk(t.Rows); err != nil {
		return fmt.Errorf("render table: %w", err)
	}
	if err := tbl.Render(); err != nil {
		return fmt.Errorf("render table: %w", err)
	}
	return bw.Flush()
}

func (t *Table) printPlain(w io.Writer, noHeader bool) error {
	// tabwriter writes each cell and each run of padding separately: to an
	// unbuffered pipe that is two write(2) calls per cell, the bulk of the
	// time of a 40,000-row 'netkit sockets | grep ...'.
	bw := bufio.NewWriterSize(w, 64<<10)
	tw := tabwriter.NewWriter(bw, 0, 8, 2, ' ', 0)
	var line strings.Builder
	write := func(cells []string) {
		line.Reset()
		for i, c := range cells {
			if i > 0 {
				line.WriteByte('\t')
			}
			if c == "" {
				c = "-"
			}
			line.WriteString(c)
		}
		line.WriteByte('\n')
		io.WriteString(tw, line.String())
	}
	if !noHeader {
		write(t.Header)
	}
	for _, r := range t.Rows {
		write(r)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	return bw.Flush()
}
