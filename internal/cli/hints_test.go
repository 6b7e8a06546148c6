package cli

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

var (
	// commandHint is a netkit command line quoted in a message:
	// 'netkit sockets -l --port {port}'.
	commandHint = regexp.MustCompile(`'netkit( [^']*)?'`)
	// flagHint is a long flag named anywhere in a message: "(--tls to
	// require it)".
	flagHint = regexp.MustCompile(`(?:^|[\s(])(--[a-z][a-z0-9-]*)`)
	// quoted is a command line in quotes, netkit's or another program's
	// ('ncat --ssl'), whose flags flagHint leaves alone.
	quoted = regexp.MustCompile(`'[a-z][^'\n]*'`)
)

// TestHintsMatchCommandTree reads every string in netkit's Go sources and
// checks that each netkit command line it quotes ('netkit sockets -l --port
// {port}') names a real command and flags that command has, and that every
// long flag it names (--insecure, --plaintext) exists on some command, so a
// hint can never drift from the flags.
func TestHintsMatchCommandTree(t *testing.T) {
	io, _, _, _ := testStreams()
	root := NewRootCmd(io)
	allFlags := map[string]bool{"help": true, "version": true}
	var walk func(*cobra.Command)
	walk = func(c *cobra.Command) {
		c.Flags().VisitAll(func(f *pflag.Flag) { allFlags[f.Name] = true })
		c.PersistentFlags().VisitAll(func(f *pflag.Flag) { allFlags[f.Name] = true })
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)

	checked := 0
	for file, lits := range sourceStrings(t, "../..") {
		for _, s := range lits {
			for _, m := range commandHint.FindAllStringSubmatch(s, -1) {
				checked++
				if err := checkCommandHint(root, m[1]); err != "" {
					t.Errorf("%s: %s: %s", file, m[0], err)
				}
			}
			for _, m := range flagHint.FindAllStringSubmatch(quoted.ReplaceAllString(s, ""), -1) {
				if name := strings.TrimPrefix(m[1], "--"); !allFlags[name] {
					t.Errorf("%s: %q names %s, which no netkit command has", file, s, m[1])
				}
			}
		}
	}
	if checked < 20 {
		t.Errorf("only %d command hints found: the scan is broken", checked)
	}
}

// checkCommandHint says what is wrong with the command line args (after
// "netkit"), or "" when its command and flags exist.
func checkCommandHint(root *cobra.Command, args string) string {
	words := strings.Fields(args)
	cmd := root
	for len(words) > 0 {
		sub, _, err := cmd.Find(words[:1])
		if err != nil || sub == cmd {
			break
		}
		cmd, words = sub, words[1:]
	}
	for _, w := range words {
		switch {
		case w == "|":
			return "" // what follows is another program
		case strings.HasPrefix(w, "--"):
			name, _, _ := strings.Cut(strings.TrimPrefix(w, "--"), "=")
			if cmd.Flags().Lookup(name) == nil && cmd.InheritedFlags().Lookup(name) == nil && name != "help" {
				return "'" + cmd.CommandPath() + "' has no flag --" + name
			}
		case strings.HasPrefix(w, "-") && len(w) > 1 && w[1] >= 'a' && w[1] <= 'z':
			for _, c := range w[1:] {
				if cmd.Flags().ShorthandLookup(string(c)) == nil && cmd.InheritedFlags().ShorthandLookup(string(c)) == nil {
					return "'" + cmd.CommandPath() + "' has no flag -" + string(c)
				}
			}
		}
	}
	return ""
}

// sourceStrings returns the string literals of every non-test Go file under
// dir, by file.
func sourceStrings(t *testing.T, dir string) map[string][]string {
	t.Helper()
	found := map[string][]string{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) && path != dir {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING {
				if s, err := strconv.Unquote(lit.Value); err == nil {
					found[path] = append(found[path], s)
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}
