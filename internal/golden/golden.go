// Package golden compares test output with golden files in testdata, or
// rewrites them. It registers no flag: each test package that uses it has
// its own -update (internal/cli's also rewrites docs/commands), and passes
// the flag's value in.
package golden

import (
	"os"
	"testing"
)

// Check compares got with the file at path or, with update, writes got
// there instead.
func Check(t testing.TB, path string, got []byte, update bool) {
	t.Helper()
	if update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (create it with -update)", err)
	}
	if string(got) != string(want) {
		t.Errorf("%s differs from the golden file (rerun with -update if the change is intended):\n got %s\nwant %s", path, got, want)
	}
}
