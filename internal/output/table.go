package output

import (
	"bufio"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"unicode/utf8"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/pkg/twwidth"
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

// Print writes the table to s.Out: aligned by tablewriter on a terminal (a
// long table in the same layout without it, see alignedMinRows), and as
// plain space-aligned columns in a pipe, where an empty cell becomes "-" so
// that awk sees the same number of fields on every line. Column names are
// printed as given (tablewriter's header auto-format would turn "Recv-Q"
// into "RECV - Q"). Control characters in cells are escaped (see Escape),
// whatever the stream: cells carry names and text from peers and files.
func (t *Table) Print(s *Streams, noHeader bool) error {
	t = t.escaped()
	if s.OutTTY {
		return t.printTerminal(s.Out, noHeader)
	}
	return t.printPlain(s.Out, noHeader)
}

// escaped returns t with every cell passed through Escape: t itself when
// no cell changes, else a copy.
func (t *Table) escaped() *Table {
	changed := func(cells []string) bool {
		return slices.ContainsFunc(cells, func(c string) bool { return Escape(c) != c })
	}
	if !changed(t.Header) && !slices.ContainsFunc(t.Rows, changed) {
		return t
	}
	out := &Table{Header: escapeAll(t.Header), Rows: make([][]string, len(t.Rows))}
	for i, r := range t.Rows {
		out.Rows[i] = escapeAll(r)
	}
	return out
}

func escapeAll(cells []string) []string {
	out := make([]string, len(cells))
	for i, c := range cells {
		out[i] = Escape(c)
	}
	return out
}

// alignedMinRows is the number of rows from which a table on a terminal is
// laid out by printAligned rather than by tablewriter, which formats each
// cell through several layers (BenchmarkTable compares them). Below this
// its cost is not seen, and it handles any cell (line breaks, tabs,
// colours).
const alignedMinRows = 1000

func (t *Table) printTerminal(w io.Writer, noHeader bool) error {
	if len(t.Rows) >= alignedMinRows && t.alignable() {
		return t.printAligned(w, noHeader)
	}
	return t.printTablewriter(w, noHeader)
}

// tableSymbols draw the rule under the header on a terminal.
var tableSymbols = tw.NewSymbols(tw.StyleLight)

func (t *Table) printTablewriter(w io.Writer, noHeader bool) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	tbl := tablewriter.NewTable(bw,
		tablewriter.WithRenderer(renderer.NewBlueprint(tw.Rendition{
			Borders:  tw.BorderNone,
			Symbols:  tableSymbols,
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

// alignable reports whether printAligned draws t as tablewriter would:
// every row has a cell per column. (Cells have no control characters,
// which tablewriter would treat otherwise: Print has escaped them.)
func (t *Table) alignable() bool {
	for _, r := range t.Rows {
		if len(r) != len(t.Header) {
			return false
		}
	}
	return true
}

// cellWidth is how many terminal columns s takes.
func cellWidth(s string) int {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return twwidth.Width(s)
		}
	}
	return len(s)
}

// printAligned draws what printTablewriter draws with the settings there:
// each cell left-aligned and padded by one space on either side, no
// borders, and a rule under the header when there are rows.
func (t *Table) printAligned(w io.Writer, noHeader bool) error {
	widths := make([]int, len(t.Header))
	if !noHeader {
		for i, c := range t.Header {
			widths[i] = cellWidth(c)
		}
	}
	for _, r := range t.Rows {
		for i, c := range r {
			widths[i] = max(widths[i], cellWidth(c))
		}
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	maxWidth := 0
	for _, n := range widths {
		maxWidth = max(maxWidth, n)
	}
	spaces := strings.Repeat(" ", maxWidth+1)
	write := func(cells []string) {
		for i, c := range cells {
			bw.WriteByte(' ')
			bw.WriteString(c)
			bw.WriteString(spaces[:widths[i]-cellWidth(c)+1])
		}
		bw.WriteByte('\n')
	}
	if !noHeader {
		write(t.Header)
		if len(t.Rows) > 0 {
			total := 0
			for _, n := range widths {
				total += n + 2
			}
			bw.WriteString(strings.Repeat(tableSymbols.Row(), total))
			bw.WriteByte('\n')
		}
	}
	for _, r := range t.Rows {
		write(r)
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
