package units

import "math"

// Spread keeps the minimum, maximum, mean and standard deviation of a
// series of times in milliseconds as they come (Welford's method), without
// keeping the series: ping's per-host and trace's per-hop statistics.
type Spread struct {
	// N is how many times were added.
	N        int
	min, max float64
	mean, m2 float64
}

// Add adds a time in milliseconds.
func (s *Spread) Add(ms float64) {
	s.N++
	if s.N == 1 || ms < s.min {
		s.min = ms
	}
	s.max = max(s.max, ms)
	d := ms - s.mean
	s.mean += d / float64(s.N)
	s.m2 += d * (ms - s.mean)
}

// Min, Max, Mean and Stdev (the population's, as ping's mdev) are the
// figures so far, rounded to the microsecond; 0 before the first Add.
func (s *Spread) Min() float64  { return RoundMillis(s.min) }
func (s *Spread) Max() float64  { return RoundMillis(s.max) }
func (s *Spread) Mean() float64 { return RoundMillis(s.mean) }

// Stdev is the population standard deviation, rounded to the microsecond.
func (s *Spread) Stdev() float64 {
	if s.N == 0 {
		return 0
	}
	return RoundMillis(math.Sqrt(s.m2 / float64(s.N)))
}
