package units

import (
	"encoding/json"
	"testing"
	"time"
)

func TestMillis(t *testing.T) {
	for d, want := range map[time.Duration]string{
		1500 * time.Microsecond: "1.5",
		122452499:               "122.452", // 122.452499 ms
		122452500:               "122.453", // halves round away from zero
		122452:                  "0.122",
		499:                     "0",
		-2500:                   "-0.003",
		3*time.Hour + 1:         "10800000",
	} {
		// JSON writes a float64 in its shortest form: the rounding must
		// leave no 0.12245249999999999 behind.
		got, err := json.Marshal(Millis(d))
		if err != nil || string(got) != want {
			t.Errorf("Millis(%d ns) = %s, want %s", int64(d), got, want)
		}
	}
}
