package cli

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"

	"github.com/netkit/netkit/diag/explain"
	"github.com/netkit/netkit/internal/output"
)

// GenDocs writes one Markdown page per command, generated from the command
// tree, into dir. docs/commands is made this way; a test fails when it is
// stale. Regenerate with: go test ./internal/cli -run TestDocs -update
func GenDocs(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("generate docs: %w", err)
	}
	io, _, _, _ := output.Test()
	root := NewRootCmd(io)
	root.Version = "" // so the pages do not change with every build
	root.InitDefaultCompletionCmd()
	disableAutoGenTag(root)
	if err := doc.GenMarkdownTree(root, dir); err != nil {
		return fmt.Errorf("generate docs: %w", err)
	}
	return nil
}

func disableAutoGenTag(c *cobra.Command) {
	c.DisableAutoGenTag = true
	for _, sub := range c.Commands() {
		disableAutoGenTag(sub)
	}
}

const troubleshootingIntro = `# Troubleshooting: what netkit's errors mean

When a command fails, netkit prints the error on one line, then the likely
cause and the next thing to try. This page is the same table for people:
generated from diag/explain/explain.go (go test ./internal/cli -run TestDocs -update),
so it never disagrees with what the commands print. 'netkit explain NAME'
prints one entry; NAME is the code below or an errno number.

Where the commands know the address, port or host name, they fill it in
for HOST, PORT, SERVER (a DNS server) and "that address" below; a
literal SERVER in a command to try stands for a server of your choice.

`

// GenTroubleshooting writes the explanation table of diag as Markdown.
func GenTroubleshooting(w io.Writer) error {
	var b strings.Builder
	b.WriteString(troubleshootingIntro)
	for _, code := range explain.Codes() {
		ex, _ := explain.Lookup(code)
		fmt.Fprintf(&b, "## %s\n\n- **Cause:** %s\n- **Next:** %s\n\n", ex.Code, ex.Cause, ex.Next)
	}
	_, err := io.WriteString(w, strings.TrimRight(b.String(), "\n")+"\n")
	return err
}
