package units

import "strconv"

// Count writes n with the noun that goes with it, one for 1 and many
// otherwise: Count(1, "socket", "sockets") is "1 socket".
func Count(n int, one, many string) string {
	return strconv.Itoa(n) + " " + Plural(n, one, many)
}

// Plural is one when n is 1, else many: the verb or pronoun that agrees
// with a count.
func Plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
