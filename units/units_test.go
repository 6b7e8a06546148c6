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

// TestSpread checks the running figures against ones computed from the
// whole series: min, max, mean and population deviation, rounded to the
// microsecond.
func TestSpread(t *testing.T) {
	var s Spread
	if s.Mean() != 0 || s.Stdev() != 0 {
		t.Errorf("empty spread: mean %v, stdev %v", s.Mean(), s.Stdev())
	}
	for _, ms := range []float64{0.2, 0.1, 0.4, 0.3} {
		s.Add(ms)
	}
	// mean 0.25; deviations 0.05² + 0.15² + 0.15² + 0.05² = 0.05; /4 = 0.0125.
	if s.N != 4 || s.Min() != 0.1 || s.Max() != 0.4 || s.Mean() != 0.25 || s.Stdev() != 0.112 {
		t.Errorf("spread: n %d, min %v, max %v, mean %v, stdev %v", s.N, s.Min(), s.Max(), s.Mean(), s.Stdev())
	}
}
