// Package units says how netkit states quantities: a duration as a float
// number of milliseconds (JSON fields ending in _ms), a count with its noun
// in the right number.
package units

import (
	"math"
	"time"
)

// Millis is d in milliseconds, the unit of every duration in netkit's
// results, rounded to the microsecond: 0.122 rather than
// 0.12245249999999999. Every _ms field of netkit's JSON goes through it.
func Millis(d time.Duration) float64 {
	return math.Round(float64(d)/float64(time.Microsecond)) / 1000
}

// RoundMillis rounds a time in milliseconds to the microsecond, as Millis
// does, for figures computed from times (a mean, a deviation).
func RoundMillis(ms float64) float64 {
	return math.Round(ms*1000) / 1000
}
