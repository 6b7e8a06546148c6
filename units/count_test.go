package units

import "testing"

func TestCount(t *testing.T) {
	for _, tt := range []struct {
		n    int
		want string
	}{{0, "0 sockets"}, {1, "1 socket"}, {2, "2 sockets"}, {-1, "-1 sockets"}} {
		if got := Count(tt.n, "socket", "sockets"); got != tt.want {
			t.Errorf("Count(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
	if got := Plural(1, "is", "are") + " " + Plural(3, "is", "are"); got != "is are" {
		t.Errorf("Plural: %q", got)
	}
}
