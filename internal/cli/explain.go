package cli

import (
	"context"
	"strings"

	"github.com/spf13/cobra"

	"github.com/netkit/netkit/diag/explain"
	"github.com/netkit/netkit/internal/output"
)

// ExplainOptions are the inputs of 'netkit explain'.
type ExplainOptions struct {
	IO   *output.Streams
	JSON bool
	// Name is an error name or errno number; empty lists every explanation.
	Name string
}

// NewCmdExplain returns 'netkit explain'. runF replaces explainRun in tests.
func NewCmdExplain(io *output.Streams, runF func(context.Context, *ExplainOptions) error) *cobra.Command {
	opts := &ExplainOptions{IO: io}
	cmd := &cobra.Command{
		Use:   "explain [ERRNAME|NUMBER]",
		Short: "Explain an error: its likely cause and what to try next",
		Long: `Explain prints what netkit says when a command fails with this error: the
likely cause and the next thing to try. It knows errno names and numbers
(ECONNREFUSED, 111), DNS answers (NXDOMAIN, SERVFAIL) and TLS and certificate
failures (X509-EXPIRED). With no argument it lists them all.`,
		Example: `  netkit explain ECONNREFUSED
  netkit explain 113
  netkit explain x509-hostname`,
		Args: rangeArgs(0, 1),
		ValidArgsFunction: func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
			return explain.Codes(), cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				opts.Name = args[0]
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return explainRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print one JSON document")
	return cmd
}

func explainRun(_ context.Context, opts *ExplainOptions) error {
	var list []explain.Explanation
	if opts.Name == "" {
		for _, code := range explain.Codes() {
			ex, _ := explain.Lookup(code)
			list = append(list, ex)
		}
	} else {
		ex, ok := explain.Lookup(opts.Name)
		if !ok {
			return usageErrorf("no explanation for %q; known: %s", opts.Name, strings.Join(explain.Codes(), ", "))
		}
		list = append(list, ex)
	}
	if opts.JSON {
		return output.PrintJSON(opts.IO.Out, struct {
			Explanations []explain.Explanation `json:"explanations"`
		}{list})
	}
	for i, ex := range list {
		if i > 0 {
			opts.IO.Println()
		}
		opts.IO.Println(ex.Code)
		printExplanation(opts.IO.Printf, "  ", ex)
	}
	return nil
}
