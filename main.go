// Command netkit troubleshoots network connections: ping, sockets, resolve,
// hosts, echo and diagnose in one binary. See README.md.
package main

import (
	"os"

	"github.com/netkit/netkit/internal/cli"
	"github.com/netkit/netkit/internal/output"
)

func main() {
	os.Exit(cli.Execute(output.System(), os.Args[1:]))
}
