package sockets

import (
	"errors"
	"fmt"
	"io/fs"
	"runtime"

	"golang.org/x/sys/unix"
)

// ErrNoNetns is the error of a query for a network namespace that does
// not exist (Query.Netns).
var ErrNoNetns = errors.New("no such network namespace")

// NetnsError is the error of entering a network namespace: its file does
// not exist (Err is ErrNoNetns), or this process may not enter it (Err is
// the errno, EPERM or EACCES: it needs CAP_SYS_ADMIN in the user namespace
// that owns the namespace).
type NetnsError struct {
	// Path is the namespace's file.
	Path string
	Err  error
}

func (e *NetnsError) Error() string { return "network namespace " + e.Path + ": " + e.Err.Error() }

func (e *NetnsError) Unwrap() error { return e.Err }

// NetnsPath is the file of the network namespace NAME that 'ip netns add'
// made, as 'ip netns exec NAME' opens it.
func NetnsPath(name string) string { return "/run/netns/" + name }

// PIDNetnsPath is the file of the network namespace process pid runs in,
// as 'nsenter -t PID -n' opens it.
func PIDNetnsPath(pid int) string { return fmt.Sprintf("/proc/%d/ns/net", pid) }

// InNetns runs f on a new goroutine locked to an OS thread that has
// entered the network namespace whose file is path, and returns f's error.
// Sockets and /proc/thread-self/net files opened there belong to that
// namespace and keep doing so from any thread, and a process started there
// runs in it. The thread is never unlocked: Go ends it with the goroutine,
// so no other goroutine ever runs in that namespace by mistake. It fails
// with a *NetnsError when the namespace cannot be entered.
func InNetns(path string, f func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if errors.Is(err, fs.ErrNotExist) {
			err = ErrNoNetns
		}
		if err == nil {
			defer unix.Close(fd)
			err = unix.Setns(fd, unix.CLONE_NEWNET)
		}
		if err != nil {
			errc <- &NetnsError{Path: path, Err: err}
			return
		}
		errc <- f()
	}()
	return <-errc
}
