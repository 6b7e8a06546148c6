package cli

import (
	"github.com/spf13/pflag"

	"github.com/netkit/netkit/resolve"
)

// familyFlags are -4 and -6, shared by every command that looks names up.
type familyFlags struct {
	IPv4, IPv6 bool
}

func (f *familyFlags) addFlags(fs *pflag.FlagSet) {
	fs.BoolVarP(&f.IPv4, "ipv4", "4", false, "IPv4 addresses only")
	fs.BoolVarP(&f.IPv6, "ipv6", "6", false, "IPv6 addresses only")
}

// family checks the flags and returns the family they select.
func (f familyFlags) family() (resolve.Family, error) {
	switch {
	case f.IPv4 && f.IPv6:
		return resolve.AnyFamily, usageErrorf("-4 and -6 cannot be used together")
	case f.IPv4:
		return resolve.IPv4, nil
	case f.IPv6:
		return resolve.IPv6, nil
	}
	return resolve.AnyFamily, nil
}
