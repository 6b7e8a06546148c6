// Package units holds the one unit rule of netkit's results: a duration is
// reported as a float number of milliseconds (JSON fields ending in _ms);
// and the one way a count is written in words, "1 socket", "2 sockets".
package units

import "time"

// Millis is d in milliseconds, the unit of every duration in netkit's
// results.
func Millis(d time.Duration) float64 {
	return float64(d) / float64(time.Millisecond)
}
