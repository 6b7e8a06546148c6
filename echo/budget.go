package echo

import (
	"slices"
	"sync"
	"time"
)

// DefaultMaxMemory is the memory a Server holds for message contents at
// most, across all its connections, when Server.MaxMemory is zero: 256 MiB.
const DefaultMaxMemory = 256 << 20

// reserveFraction is the part of the budget kept for messages of up to
// keepContent bytes: a flood of large messages, sent or only announced, can
// take at most the rest, so small messages are still answered.
const reserveFraction = 8

// freeAfter is how much budget must have been in use, since memory was
// last handed back to the system, for a return to near idle (freeBelow) to
// call for handing it back again (see Server.reclaim).
const (
	freeAfter = 16 << 20
	freeBelow = freeAfter / 4
)

// budget bounds the bytes held for message contents across the connections
// of one Server. A connection reserves a message's bytes before it reads
// the content (grant) and returns them when it gives its buffers up (put).
// A reservation that does not fit waits for room until its deadline; one
// that fits is granted at once, whoever waited before it, so a large
// message waiting for room never holds up small ones. Room that comes back
// goes to the waiting reservations newest first: they have the same
// timeout, so the newest has the most time left to read its content, and
// the oldest, near its deadline, would only start reading what its client
// sent before being cut off. Under a flood of large messages that all time
// out together (TestPerfAttackMix), first-come room went to reservations a
// moment from their deadline, one after another, which read and decrypted
// up to 1 MiB each for nothing: the oldest are now told busy instead, and
// a good client's p99 fell from a median of 3.1 ms to 1.6 ms (six runs
// each), and the server's peak RSS from 164–182 MiB to 130–137 MiB.
type budget struct {
	limit int64

	mu      sync.Mutex
	used    int64
	peak    int64 // the most used since calm last reported true
	freed   int64 // put back since garbage last reported true
	waiters []*waiter
}

// waiter is a reservation waiting for room; put grants it by closing
// granted.
type waiter struct {
	n       int64
	granted chan struct{}
}

func newBudget(limit int64) *budget {
	return &budget{limit: limit}
}

// MinMaxMemory returns the least Server.MaxMemory with which a text/json
// message of maxContent bytes can be read: such a message takes twice its
// size, and one of over 64 KiB may take only seven eighths of MaxMemory.
func MinMaxMemory(maxContent int) int64 {
	need := 2 * int64(maxContent)
	if need <= keepContent {
		return need
	}
	// Start a little below need·8/7 and step up to the least that leaves
	// need under the ceiling.
	least := max(need+need/(reserveFraction-1)-reserveFraction, need)
	for least-least/reserveFraction < need {
		least++
	}
	return least
}

// ceiling returns the most a reservation of n bytes may bring the use to:
// messages of over keepContent bytes may not take the last reserveFraction
// of the budget.
func (b *budget) ceiling(n int64) int64 {
	if n > keepContent {
		return b.limit - b.limit/reserveFraction
	}
	return b.limit
}

// take reserves n bytes if they fit, with b.mu held.
func (b *budget) take(n int64) bool {
	if b.used+n > b.ceiling(n) {
		return false
	}
	b.used += n
	b.peak = max(b.peak, b.used)
	return true
}

// grant reserves n bytes, waiting for room until deadline or until stop is
// closed. It reports whether they were reserved; a reservation that could
// never fit is refused at once.
func (b *budget) grant(n int64, deadline time.Time, stop <-chan struct{}) bool {
	if n <= 0 {
		return true
	}
	b.mu.Lock()
	if n > b.ceiling(n) {
		b.mu.Unlock()
		return false
	}
	if b.take(n) {
		b.mu.Unlock()
		return true
	}
	w := &waiter{n: n, granted: make(chan struct{})}
	b.waiters = append(b.waiters, w)
	b.mu.Unlock()
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	select {
	case <-w.granted:
		return true
	case <-timer.C:
	case <-stop:
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if i := slices.Index(b.waiters, w); i >= 0 {
		b.waiters = slices.Delete(b.waiters, i, i+1)
		return false
	}
	return true // granted meanwhile
}

// put returns n bytes, and grants the waiting reservations that now fit,
// newest first. The buffers the bytes were are garbage once put back.
func (b *budget) put(n int64) {
	if n <= 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.used -= n
	b.freed += n
	for i := len(b.waiters) - 1; i >= 0; i-- {
		if w := b.waiters[i]; b.take(w.n) {
			close(w.granted)
			b.waiters = slices.Delete(b.waiters, i, i+1)
		}
	}
}

// garbage reports whether a quarter of the limit or more has been put back
// since it last reported true: the buffers those bytes were are garbage
// now, and collecting it keeps the heap near what the budget grants (see
// Server.reclaim).
func (b *budget) garbage() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.freed < b.limit/4 {
		return false
	}
	b.freed = 0
	return true
}

// calm reports whether less than freeBelow is in use after a peak of at
// least freeAfter since it last reported true: a load has passed.
func (b *budget) calm() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.used < freeBelow && b.peak >= freeAfter {
		b.peak = b.used
		return true
	}
	return false
}

// inUse returns the bytes reserved now.
func (b *budget) inUse() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}
