package sockets

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strconv"

	"github.com/shirou/gopsutil/v3/process"
	"golang.org/x/sys/unix"

	"github.com/netkit/netkit/units"
)

// fdRef is one file descriptor of one process.
type fdRef struct {
	pid, fd int
}

// Finding a socket's owner means finding the /proc/PID/fd/N link that reads
// "socket:[INODE]". gopsutil's net.Connections does that too, but it cannot
// be used here: its ConnectionStat has no inode to join on, it keeps one
// process per socket, it merges distinct sockets with the same addresses and
// state (SO_REUSEPORT listeners), it silently skips processes it may not
// read, and it walks every process even when a filter needs one. So netkit
// makes one pass over /proc/*/fd itself, with readlinkat on an open
// directory, into a map from inode to holders, while the /proc/net tables
// are read: at 40,000 sockets each is about half of the work, all of it in
// the kernel. gopsutil's process package supplies what is shown of each
// owner (name, user, command line). BenchmarkSocketsAtScale in
// internal/cli measures both ways.
//
// ownerWalk is one pass over /proc/*/fd, run on its own goroutine.
type ownerWalk struct {
	cancel context.CancelFunc
	done   chan struct{}

	// Written by the walk's goroutine, read after done is closed.
	holders map[uint64][]fdRef // socket inode -> its holders
	denied  int                // processes whose descriptors were unreadable
	err     error
	procs   processCache
}

// startOwnerWalk starts walking the descriptors of the processes q allows
// (PID and Program, both when both are set) on a new goroutine.
func startOwnerWalk(ctx context.Context, q Query) *ownerWalk {
	ctx, cancel := context.WithCancel(ctx)
	w := &ownerWalk{cancel: cancel, done: make(chan struct{}), holders: map[uint64][]fdRef{}, procs: processCache{}}
	go func() {
		defer close(w.done)
		pids := []int{q.PID}
		if q.PID == 0 {
			all, err := listPIDs()
			if err != nil {
				w.err = err
				return
			}
			pids = all
		}
		if q.Program != "" {
			pids = slices.DeleteFunc(pids, func(pid int) bool {
				return !programMatches(w.procs.get(ctx, pid).name, q.Program)
			})
		}
		w.denied, w.err = walkSocketFDs(ctx, pids, func(pid, fd int, inode uint64) {
			w.holders[inode] = append(w.holders[inode], fdRef{pid, fd})
		})
	}()
	return w
}

// wait waits for the walk to end, first stopping it when stop is true.
func (w *ownerWalk) wait(stop bool) {
	if stop {
		w.cancel()
	}
	<-w.done
	w.cancel()
}

// addOwners waits for the walk (stopping it when no socket of list needs
// an owner), fills in the processes holding list's sockets and, when q
// filters by PID or Program, drops the sockets none of those holds.
func (w *ownerWalk) addOwners(ctx context.Context, list *Listing, q Query) error {
	socks := list.Sockets
	needed := slices.ContainsFunc(socks, func(s Socket) bool { return s.Inode != 0 })
	w.wait(!needed)
	if needed && w.err != nil {
		return w.err
	}
	filtered := q.PID != 0 || q.Program != ""
	procs, denied := w.procs, w.denied
	// unowned sockets have their owner among the processes that could not
	// be read; hidden ones have none, although every process could be.
	unowned, hidden := 0, 0
	kept := socks[:0]
	for _, s := range socks {
		if s.Inode != 0 {
			s.holders = w.holders[s.Inode]
		}
		if len(s.holders) == 0 {
			// Inode 0 is a socket no file holds (TIME_WAIT, an orphan
			// closing, a connection not yet accepted): no owner is normal.
			switch {
			case s.Inode == 0:
			case denied > 0:
				s.OwnerUnreadable = true
				unowned++
			case !filtered:
				hidden++
			}
			if !filtered {
				kept = append(kept, s)
			}
			continue
		}
		slices.SortFunc(s.holders, func(a, b fdRef) int {
			if a.pid != b.pid {
				return a.pid - b.pid
			}
			return a.fd - b.fd
		})
		s.PID = s.holders[0].pid
		s.Program = procs.get(ctx, s.PID).name
		for _, h := range s.holders[1:] {
			if h.pid != s.PID && !slices.Contains(s.OtherPIDs, h.pid) {
				s.OtherPIDs = append(s.OtherPIDs, h.pid)
			}
		}
		if q.Cmdlines {
			s.Cmdline = procs.get(ctx, s.PID).cmdline(ctx)
		}
		kept = append(kept, s)
	}
	list.Sockets = kept
	if unowned > 0 {
		what := units.Count(unowned, "socket shows", "sockets show") + " '-' as PID/Program"
		if filtered {
			what = units.Count(unowned, "socket", "sockets") + " they may hold " + units.Plural(unowned, "is", "are") + " not listed"
		}
		list.Notes = append(list.Notes, fmt.Sprintf(
			"the file descriptors of %s could not be read (permission denied, uid %d): %s; run as root to see every owner",
			units.Count(denied, "process", "processes"), os.Geteuid(), what))
	}
	if hidden > 0 {
		list.Notes = append(list.Notes, fmt.Sprintf(
			"%s open but no process visible here holds %s, so %s owner shows as '-': "+
				"%s to a process in another PID namespace (a container) or to the kernel, "+
				"or %s opened or closed while netkit was listing",
			units.Count(hidden, "socket is", "sockets are"), units.Plural(hidden, "it", "them"), units.Plural(hidden, "its", "their"),
			units.Plural(hidden, "it belongs", "they belong"), units.Plural(hidden, "was", "were")))
	}
	return nil
}

// programMatches reports whether a process named name (its comm, at most
// 15 bytes) is the program want, which may be given in full.
func programMatches(name, want string) bool {
	const commLen = 15
	return name == want || len(name) == commLen && len(want) > commLen && want[:commLen] == name
}

// listPIDs lists the processes in /proc.
func listPIDs() ([]int, error) {
	d, err := os.Open("/proc")
	if err != nil {
		return nil, fmt.Errorf("list processes: %w", err)
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return nil, fmt.Errorf("list processes: %w", err)
	}
	pids := make([]int, 0, len(names))
	for _, n := range names {
		if pid, err := strconv.Atoi(n); err == nil && pid > 0 {
			pids = append(pids, pid)
		}
	}
	slices.Sort(pids)
	return pids, nil
}

// socketLinkPrefix starts the target of a /proc/PID/fd link to a socket,
// "socket:[INODE]".
var socketLinkPrefix = []byte("socket:[")

// walkSocketFDs calls found, on the calling goroutine, for every file
// descriptor of pids that is a socket. It returns how many of the
// processes' descriptors it was not allowed to read; processes that exit
// meanwhile are skipped.
func walkSocketFDs(ctx context.Context, pids []int, found func(pid, fd int, inode uint64)) (denied int, err error) {
	var link [64]byte
	for _, pid := range pids {
		if err := ctx.Err(); err != nil {
			return denied, err
		}
		dir := "/proc/" + strconv.Itoa(pid) + "/fd"
		d, err := os.Open(dir)
		if errors.Is(err, fs.ErrPermission) {
			denied++
			continue
		}
		if err != nil {
			continue // exited, or a kernel thread
		}
		names, err := d.Readdirnames(-1)
		dfd := int(d.Fd())
		if err != nil {
			d.Close()
			continue
		}
		for _, name := range names {
			n, err := unix.Readlinkat(dfd, name, link[:])
			if err != nil || n < len(socketLinkPrefix)+2 || !bytes.HasPrefix(link[:n], socketLinkPrefix) || link[n-1] != ']' {
				continue
			}
			inode, err := strconv.ParseUint(string(link[len(socketLinkPrefix):n-1]), 10, 64)
			if err != nil {
				continue
			}
			fd, err := strconv.Atoi(name)
			if err != nil {
				continue
			}
			found(pid, fd, inode)
		}
		d.Close()
	}
	return denied, nil
}

// processInfo is what netkit shows of one process, read with gopsutil.
type processInfo struct {
	p *process.Process
	// name is the process's name as ps and ss show it (its comm), or ""
	// when it exited.
	name string
}

// processCache reads each process's details once per call.
type processCache map[int]*processInfo

func (c processCache) get(ctx context.Context, pid int) *processInfo {
	if pi, ok := c[pid]; ok {
		return pi
	}
	// process.NewProcess would stat /proc/PID and read its start time;
	// the walk has just seen the process, so its PID is enough.
	pi := &processInfo{p: &process.Process{Pid: int32(pid)}}
	pi.name, _ = pi.p.NameWithContext(ctx)
	c[pid] = pi
	return pi
}

// cmdline is the process's command line, or nil when it is gone or
// unreadable.
func (pi *processInfo) cmdline(ctx context.Context) []string {
	args, _ := pi.p.CmdlineSliceWithContext(ctx)
	return args
}

// userName is the name of the process's real user, its number when the
// user database has no name for it, or "" when the process is gone.
func (pi *processInfo) userName(ctx context.Context) string {
	if name, err := pi.p.UsernameWithContext(ctx); err == nil {
		return name
	}
	if uids, err := pi.p.UidsWithContext(ctx); err == nil && len(uids) > 0 {
		return strconv.Itoa(int(uids[0]))
	}
	return ""
}
