package cli

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"

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
