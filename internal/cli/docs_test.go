package cli

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

var update = flag.Bool("update", false, "rewrite docs/commands and golden files instead of comparing")

const docsDir = "../../docs/commands"

// TestDocs fails when docs/commands does not match the command tree.
func TestDocs(t *testing.T) {
	if *update {
		if err := os.RemoveAll(docsDir); err != nil {
			t.Fatal(err)
		}
		if err := GenDocs(docsDir); err != nil {
			t.Fatal(err)
		}
		return
	}
	tmp := t.TempDir()
	if err := GenDocs(tmp); err != nil {
		t.Fatal(err)
	}
	want := readDir(t, tmp)
	got := readDir(t, docsDir)
	for name, w := range want {
		g, ok := got[name]
		if !ok {
			t.Errorf("docs/commands/%s is missing: run go test ./internal/cli -run TestDocs -update", name)
			continue
		}
		if g != w {
			t.Errorf("docs/commands/%s is stale: run go test ./internal/cli -run TestDocs -update", name)
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("docs/commands/%s documents no command: run go test ./internal/cli -run TestDocs -update", name)
		}
	}
}

// TestDocsTroubleshooting fails when docs/troubleshooting.md does not match
// the explanation table of diag.
func TestDocsTroubleshooting(t *testing.T) {
	const path = "../../docs/troubleshooting.md"
	var b strings.Builder
	if err := GenTroubleshooting(&b); err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	got, err := os.ReadFile(path)
	if err != nil || string(got) != b.String() {
		t.Errorf("docs/troubleshooting.md is stale: run go test ./internal/cli -run TestDocs -update")
	}
}

func readDir(t *testing.T, dir string) map[string]string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	files := map[string]string{}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		files[e.Name()] = string(b)
	}
	return files
}

// TestHelpTexts walks the command tree and checks that every command says
// what it does, and that every flag has a usage line.
func TestHelpTexts(t *testing.T) {
	io, _, _, _ := testStreams()
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Hidden {
			return
		}
		if c.Short == "" {
			t.Errorf("%s: no Short description", c.CommandPath())
		}
		if strings.HasSuffix(strings.TrimSpace(c.Short), ".") {
			t.Errorf("%s: Short ends with a full stop", c.CommandPath())
		}
		c.LocalFlags().VisitAll(func(f *pflagFlag) {
			if strings.TrimSpace(f.Usage) == "" {
				t.Errorf("%s --%s: no usage text", c.CommandPath(), f.Name)
			}
		})
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(NewRootCmd(io))
}
