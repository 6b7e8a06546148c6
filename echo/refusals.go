package echo

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"
)

// Kinds of refusal, as the log's summary counts them.
const (
	refusedConns  = "too many connections"
	refusedAddr   = "too many connections from one address"
	refusedMemory = "no memory for a message in time"
)

// maxRefusedAddrs bounds the distinct client addresses a summary counts.
const maxRefusedAddrs = 4096

// refusals counts the clients a server refused (told busy), or dropped
// before they finished the TLS handshake, and logs them as one summary
// line with the message msg, at most once per refusalLogInterval: a first
// one at once, those that follow when the interval is over. Under attack
// the log grows by a line per interval, not a line per client.
type refusals struct {
	log *slog.Logger
	msg string

	mu     sync.Mutex
	counts map[string]int
	addrs  map[netip.Addr]struct{}
	since  time.Time   // the first refusal counted
	last   time.Time   // when the last summary was logged
	timer  *time.Timer // the summary due, if one is
}

// add counts one refusal of kind, of a client at addr.
func (r *refusals) add(kind string, addr netip.Addr) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.counts) == 0 {
		r.counts, r.addrs, r.since = map[string]int{}, map[netip.Addr]struct{}{}, time.Now()
	}
	r.counts[kind]++
	if len(r.addrs) < maxRefusedAddrs {
		r.addrs[addr] = struct{}{}
	}
	if r.timer != nil {
		return
	}
	if wait := time.Until(r.last.Add(refusalLogInterval)); wait > 0 {
		r.timer = time.AfterFunc(wait, r.flush)
		return
	}
	r.logLocked()
}

// flush logs the refusals not logged yet, if any.
func (r *refusals) flush() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.timer != nil {
		r.timer.Stop()
		r.timer = nil
	}
	if len(r.counts) > 0 {
		r.logLocked()
	}
}

// logLocked logs the summary and starts counting anew; r.mu is held.
func (r *refusals) logLocked() {
	total := 0
	reasons := make([]string, 0, len(r.counts))
	for kind, n := range r.counts {
		total += n
		reasons = append(reasons, fmt.Sprintf("%s: %d", kind, n))
	}
	slices.Sort(reasons)
	clients := fmt.Sprint(len(r.addrs))
	if len(r.addrs) == maxRefusedAddrs {
		clients += " or more"
	}
	r.log.LogAttrs(context.Background(), slog.LevelWarn, r.msg,
		slog.Int("clients", total),
		slog.String("addresses", clients),
		slog.Duration("over", time.Since(r.since).Round(time.Millisecond)),
		slog.String("reasons", strings.Join(reasons, "; ")),
	)
	r.counts, r.addrs, r.last = nil, nil, time.Now()
}
