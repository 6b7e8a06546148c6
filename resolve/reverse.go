package resolve

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// LookupAddr returns the names of addr, as glibc's getnameinfo finds them:
// the sources of the hosts line of nsswitch.conf in order, the hosts file
// (the first name of the first line with the address) and DNS (the PTR
// records of its in-addr.arpa or ip6.arpa name, asked of the configured
// servers). An address no source names is a *LookupError wrapping
// ErrNoSuchHost.
func (r *Resolver) LookupAddr(ctx context.Context, addr netip.Addr) ([]string, error) {
	addr = addr.Unmap().WithZone("")
	cfg, err := r.config()
	if err != nil {
		return nil, err
	}
	arpa, err := ReverseName(addr)
	if err != nil {
		return nil, err
	}
	sources := cfg.HostsOrder
	if len(r.Servers) > 0 {
		sources = []Source{{Name: "dns"}}
	}
	servers := cfg.Nameservers
	if len(r.Servers) > 0 {
		servers = r.Servers
	}
	var asked []string
	var lastErr error = ErrNoSuchHost
	for _, src := range sources {
		status := "NOTFOUND"
		switch src.Name {
		case "files":
			asked = append(asked, "hosts file "+r.hostsPath())
			hf, err := ReadHostsFileContext(ctx, r.hostsPath())
			switch {
			case errors.Is(err, os.ErrNotExist):
				status = "UNAVAIL"
			case err != nil:
				return nil, err
			default:
				for _, e := range hf.Entries {
					if e.Address.Unmap() == addr {
						return []string{e.Names[0]}, nil
					}
				}
			}
		case "dns":
			asked = append(asked, "DNS server "+JoinAddrs(servers))
			rep := ask(ctx, cfg, rotate(servers, cfg.Rotate), arpa, dns.TypePTR, func(Step) {})
			switch rep.status {
			case StatusFound:
				return rep.names, nil
			case StatusServFail:
				status, lastErr = "TRYAGAIN", ErrServerFailure
			case StatusRefused:
				status, lastErr = "TRYAGAIN", ErrRefused
			case StatusTimeout, StatusError:
				status, lastErr = "TRYAGAIN", rep.err
			}
		default:
			continue
		}
		if src.returnsOn(status) {
			break
		}
	}
	return nil, &LookupError{Name: addr.String(), Asked: asked, Err: lastErr}
}

// NameTimeout bounds all the lookups of one NameAddrs call: addresses still
// unnamed by then stay numeric, so that a listing never waits long on a
// slow DNS server.
const NameTimeout = 3 * time.Second

// nameWorkers is how many reverse lookups NameAddrs runs at once.
const nameWorkers = 8

// NameAddrs names each address for a listing (sockets -r, trace -r): its
// first name from LookupAddr, looked up once and several at a time, within
// NameTimeout in all. An address without a name, or not answered in time,
// maps to its own text.
func (r *Resolver) NameAddrs(ctx context.Context, addrs []netip.Addr) map[netip.Addr]string {
	ctx, cancel := context.WithTimeout(ctx, NameTimeout)
	defer cancel()
	names := make(map[netip.Addr]string, len(addrs))
	var todo []netip.Addr
	for _, a := range addrs {
		if _, ok := names[a]; !ok {
			names[a] = a.String()
			todo = append(todo, a)
		}
	}
	found := make([]string, len(todo))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(nameWorkers, len(todo)) {
		wg.Go(func() {
			for i := range next {
				if n, err := r.LookupAddr(ctx, todo[i]); err == nil {
					found[i] = n[0]
				}
			}
		})
	}
	for i := range todo {
		next <- i
	}
	close(next)
	wg.Wait()
	for i, a := range todo {
		if found[i] != "" {
			names[a] = found[i]
		}
	}
	return names
}
