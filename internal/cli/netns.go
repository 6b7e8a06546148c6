package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/netkit/netkit/diag/sockets"
)

// netnsFlags are --netns NAME and --netns-pid PID, shared by every command
// that can run in another network namespace.
type netnsFlags struct {
	name string
	pid  int
}

func (n *netnsFlags) addFlags(fs *pflag.FlagSet, what string) {
	fs.StringVar(&n.name, "netns", "", what+" in this network namespace, as 'ip netns exec NAME' does")
	fs.IntVar(&n.pid, "netns-pid", 0, what+" in the network namespace of this process (a container's), as 'nsenter -t PID -n' does")
}

// path checks the flags and returns the namespace's file, or "" when
// neither flag was given.
func (n *netnsFlags) path(fs *pflag.FlagSet) (string, error) {
	byName, byPID := fs.Changed("netns"), fs.Changed("netns-pid")
	switch {
	case byName && byPID:
		return "", usageErrorf("--netns and --netns-pid cannot be used together")
	case byName:
		if n.name == "" || n.name == "." || n.name == ".." || strings.Contains(n.name, "/") {
			return "", usageErrorf("--netns: invalid namespace name %q: want a name from 'ip netns list'", n.name)
		}
		return sockets.NetnsPath(n.name), nil
	case byPID:
		if n.pid <= 0 {
			return "", usageErrorf("--netns-pid: invalid process id %d: want a number above 0", n.pid)
		}
		return sockets.PIDNetnsPath(n.pid), nil
	}
	return "", nil
}

// env is what a command run in the namespace by name has in its
// environment: /etc/netns/NAME/resolv.conf and /etc/netns/NAME/hosts,
// when they exist, as NETKIT_RESOLV_CONF and NETKIT_HOSTS_FILE, as 'ip
// netns exec' mounts them over /etc.
func (n *netnsFlags) env() []string {
	if n.name == "" {
		return nil
	}
	var env []string
	for _, f := range []struct{ file, env string }{{"resolv.conf", "NETKIT_RESOLV_CONF"}, {"hosts", "NETKIT_HOSTS_FILE"}} {
		if path := "/etc/netns/" + n.name + "/" + f.file; fileExists(path) {
			env = append(env, f.env+"="+path)
		}
	}
	return env
}

// withNetns gives cmd --netns and --netns-pid: given one, the command runs
// as a child netkit started from an OS thread that has entered the
// namespace, so that the child and every thread it starts are in it, as
// with 'ip netns exec NAME netkit ...': no socket of the command is ever
// opened in this namespace, and its configuration is the namespace's
// (env).
func withNetns(cmd *cobra.Command) *cobra.Command {
	var n netnsFlags
	n.addFlags(cmd.Flags(), "run")
	run := cmd.RunE
	cmd.RunE = func(c *cobra.Command, args []string) error {
		path, err := n.path(c.Flags())
		if err != nil || path == "" {
			if err != nil {
				return err
			}
			return run(c, args)
		}
		return runInNetns(c, path, childArgs(c, args), n.env())
	}
	return cmd
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// childArgs rebuilds the command line of c without --netns and
// --netns-pid: the command's path, every flag given (a list flag once per
// value), then "--" and the arguments.
func childArgs(c *cobra.Command, args []string) []string {
	out := strings.Fields(c.CommandPath())[1:]
	c.Flags().Visit(func(f *pflag.Flag) {
		if f.Name == "netns" || f.Name == "netns-pid" {
			return
		}
		if sv, ok := f.Value.(pflag.SliceValue); ok {
			for _, v := range sv.GetSlice() {
				out = append(out, "--"+f.Name+"="+v)
			}
			return
		}
		out = append(out, "--"+f.Name+"="+f.Value.String())
	})
	return append(append(out, "--"), args...)
}

// runInNetns runs this netkit with args, and env added to its
// environment, in the network namespace whose file is path, on the
// command's streams, and exits as it exits. The child has a process group
// of its own, so that a signal reaches it once: when Ctrl-C or SIGTERM
// ends this command's context, the child gets SIGINT and ends as it would
// alone (ping prints its summary).
func runInNetns(c *cobra.Command, path string, args, env []string) error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find netkit's executable: %w", err)
	}
	child := exec.Command(exe, args...)
	child.Stdin, child.Stdout, child.Stderr = c.InOrStdin(), c.OutOrStdout(), c.ErrOrStderr()
	child.Env = append(os.Environ(), env...)
	child.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// The child is forked from a thread in the namespace: it starts there.
	if err := sockets.InNetns(path, child.Start); err != nil {
		if errors.Is(err, sockets.ErrNoNetns) {
			return checkFailed(err)
		}
		return err
	}
	stop := context.AfterFunc(c.Context(), func() { child.Process.Signal(os.Interrupt) })
	defer stop()
	err = child.Wait()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		// It said what it had to; a child killed by a signal is an error.
		if code := ee.ExitCode(); code > 0 {
			return &cliError{code: code}
		}
		return &cliError{code: exitError}
	}
	return err
}
