package echo

import (
	"runtime/debug"
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
// hand it back again.
const (
	freeAfter = 16 << 20
	freeBelow = freeAfter / 4
)

// budget bounds the bytes held for message contents across the connections
// of one Server. A connection reserves a message's bytes before it reads
// the content (grant) and returns them when it gives its buffers up (put).
// A reservation that does not fit waits for room until its deadline; one
// that fits is granted at once, whoever waited before it, so a large
// message waiting for room never holds up small ones.
type budget struct {
	limit int64

	mu      sync.Mutex
	used    int64
	peak    int64           // the most used since memory was last handed back
	waiters []chan struct{} // signalled, all of them, when bytes are put back
	freeing bool            // a return of memory to the system is under way
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

// grant reserves n bytes, waiting for room until deadline or until stop is
// closed. It reports whether they were reserved; a reservation that could
// never fit is refused at once.
func (b *budget) grant(n int64, deadline time.Time, stop <-chan struct{}) bool {
	if n <= 0 {
		return true
	}
	if n > b.ceiling(n) {
		return false
	}
	var timer *time.Timer
	for {
		b.mu.Lock()
		if b.used+n <= b.ceiling(n) {
			b.used += n
			b.peak = max(b.peak, b.used)
			b.mu.Unlock()
			if timer != nil {
				timer.Stop()
			}
			return true
		}
		wake := make(chan struct{})
		b.waiters = append(b.waiters, wake)
		b.mu.Unlock()
		if timer == nil {
			wait := time.Until(deadline)
			if wait <= 0 {
				b.forget(wake)
				return false
			}
			timer = time.NewTimer(wait)
		}
		select {
		case <-wake:
		case <-timer.C:
			b.forget(wake)
			return false
		case <-stop:
			timer.Stop()
			b.forget(wake)
			return false
		}
	}
}

// forget removes a waiter that gave up.
func (b *budget) forget(wake chan struct{}) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for i, w := range b.waiters {
		if w == wake {
			b.waiters = append(b.waiters[:i], b.waiters[i+1:]...)
			return
		}
	}
}

// put returns n bytes and wakes the waiters, which try again. When less
// than freeBelow is in use any more after a peak of at least freeAfter, the memory the
// contents took is handed back to the system (debug.FreeOSMemory), so that
// the process's RSS falls back once a load has passed rather than staying
// at its peak: Go otherwise keeps freed heap for minutes.
func (b *budget) put(n int64) {
	if n <= 0 {
		return
	}
	b.mu.Lock()
	b.used -= n
	for _, w := range b.waiters {
		close(w)
	}
	b.waiters = b.waiters[:0]
	free := b.used < freeBelow && b.peak >= freeAfter && !b.freeing
	if free {
		b.peak, b.freeing = b.used, true
	}
	b.mu.Unlock()
	if free {
		go func() {
			debug.FreeOSMemory()
			b.mu.Lock()
			b.freeing = false
			b.mu.Unlock()
		}()
	}
}

// inUse returns the bytes reserved now.
func (b *budget) inUse() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}
