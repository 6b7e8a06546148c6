package resolve

import (
	"errors"
	"io/fs"
	"os"
	"slices"
	"strconv"
	"strings"
)

// DefaultServicesPath is the services file glibc's getservbyname reads.
const DefaultServicesPath = "/etc/services"

// servicePorts returns the ports the services file at path gives name, by
// protocol ("tcp", "udp"): the first line whose name or alias is exactly
// name, case included, as glibc's files backend matches (Go's
// net.LookupPort ignores case, glibc does not). A missing file gives no
// ports, as in glibc; an unreadable one is a *FileError.
func servicePorts(path, name string) (map[string]int, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, &FileError{What: "services file", Path: path, Err: err}
	}
	defer f.Close()
	ports := map[string]int{}
	err = eachLine(f, func(_ int, b []byte, tooLong bool) {
		line := string(b)
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		fields := strings.FieldsFunc(line, isSpace)
		if tooLong || len(fields) < 2 {
			return
		}
		portStr, proto, ok := strings.Cut(fields[1], "/")
		port, err := strconv.Atoi(portStr)
		if !ok || err != nil || port < 0 || port > 65535 {
			return
		}
		if _, seen := ports[proto]; seen {
			return
		}
		if fields[0] == name || slices.Contains(fields[2:], name) {
			ports[proto] = port
		}
	})
	if err != nil {
		return nil, &FileError{What: "services file", Path: path, Err: err}
	}
	return ports, nil
}
