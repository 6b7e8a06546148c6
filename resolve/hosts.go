package resolve

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strings"

	"github.com/netkit/netkit/fileread"
)

// DefaultHostsPath is the hosts file glibc reads.
const DefaultHostsPath = "/etc/hosts"

// maxHostsLine is the longest hosts file line read; longer lines are
// reported and skipped rather than read into memory whole.
const maxHostsLine = 64 << 10

// MaxHostsFile is the largest hosts file read: 64 MiB, a million lines of
// 64 bytes, several times the largest published block lists. A lookup
// reads the file as a stream (LookupHostsFile), so its size costs time, not
// memory; ReadHostsFile keeps every entry.
const MaxHostsFile = 64 << 20

// HostsEntry is one usable line of a hosts file: an address and the names
// that map to it, the first being the canonical (official) name.
type HostsEntry struct {
	Line    int        `json:"line"`
	Address netip.Addr `json:"address"`
	Names   []string   `json:"names"`
}

// HostsFile is a parsed hosts file. Lines glibc ignores (a malformed
// address, an address with no names) are not entries; Check reports them.
type HostsFile struct {
	Path    string       `json:"path"`
	Entries []HostsEntry `json:"entries"`
	// Lines is the number of lines read.
	Lines int `json:"lines"`

	syntax []Problem
	// byName is the index into Entries of the first line of each name
	// (lower-cased); more has the indexes of the further lines of the
	// names on several lines, which are few: most names have one line, and
	// none of them costs a slice.
	byName map[string]int
	more   map[string][]int
}

// lines returns the indexes into Entries of the lines of name (lower-cased),
// in file order.
func (hf *HostsFile) lines(name string) []int {
	first, ok := hf.byName[name]
	if !ok {
		return nil
	}
	return append([]int{first}, hf.more[name]...)
}

// IgnoredLine is a line with names that glibc skips because its first field
// is not an address it can use: a KindMalformedAddress Problem, as
// IgnoredMentions reads it.
type IgnoredLine struct {
	Line int `json:"line"`
	// Address is the first field as written.
	Address string   `json:"address"`
	Names   []string `json:"names"`
	// Reason says why glibc ignores the line.
	Reason string `json:"reason"`
}

// ReadHostsFile is ReadHostsFileContext without a context: the read cannot
// be interrupted.
//
// Deprecated: use ReadHostsFileContext, so that Ctrl-C ends the read.
func ReadHostsFile(path string) (*HostsFile, error) {
	return ReadHostsFileContext(context.Background(), path)
}

// ReadHostsFileContext opens and parses the hosts file at path, of at most
// MaxHostsFile bytes, while ctx lasts. The error is a *FileError.
func ReadHostsFileContext(ctx context.Context, path string) (*HostsFile, error) {
	f, err := openHosts(ctx, path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ParseHosts(f, path)
}

// openHosts opens the hosts file at path for reading within MaxHostsFile
// bytes while ctx lasts.
func openHosts(ctx context.Context, path string) (*fileread.File, error) {
	f, err := fileread.Open(ctx, path, MaxHostsFile)
	if err != nil {
		return nil, &FileError{What: "hosts file", Path: path, Err: err}
	}
	return f, nil
}

// LookupHostsFile returns what HostsFile.Lookup returns for name and fam,
// reading the hosts file at path (at most MaxHostsFile bytes, while ctx
// lasts) as a stream: only the lines that match are kept. The error is a
// *FileError.
func LookupHostsFile(ctx context.Context, path, name string, fam Family) ([]HostsMatch, error) {
	f, err := openHosts(ctx, path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out, err := lookupHosts(f, name, fam)
	if err != nil {
		return nil, &FileError{What: "hosts file", Path: path, Err: err}
	}
	return out, nil
}

// lookupHosts is LookupHostsFile on the content r; the error is r's.
func lookupHosts(r io.Reader, name string, fam Family) ([]HostsMatch, error) {
	var out []HostsMatch
	err := eachLine(r, func(n int, line []byte, tooLong bool) {
		if tooLong || !containsFold(line, name) {
			return
		}
		fields := hostsFields(line)
		if len(fields) < 2 || !slices.ContainsFunc(fields[1:], func(f string) bool { return strings.EqualFold(f, name) }) {
			return
		}
		if addr, problem := parseHostsAddr(fields[0]); problem == "" {
			if m, ok := matchFamily(HostsEntry{Line: n, Address: addr, Names: fields[1:]}, fam); ok {
				out = append(out, m)
			}
		}
	})
	return out, err
}

// containsFold reports whether b contains s, ignoring ASCII case: a quick
// test that skips most lines of a large hosts file without splitting them.
func containsFold(b []byte, s string) bool {
	for i := 0; i+len(s) <= len(b); i++ {
		j := 0
		for j < len(s) && asciiLower(b[i+j]) == asciiLower(s[j]) {
			j++
		}
		if j == len(s) {
			return true
		}
	}
	return false
}

func asciiLower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// hostsFields splits a hosts file line into its fields, without its comment.
func hostsFields(line []byte) []string {
	if i := bytes.IndexByte(line, '#'); i >= 0 {
		line = line[:i]
	}
	return strings.FieldsFunc(string(line), isSpace)
}

// ParseHosts parses a hosts file the way glibc's files backend does: a '#'
// starts a comment, fields are separated by white space, the first field is
// an IPv4 or IPv6 address and the rest are names. Lines glibc would ignore
// are kept as problems for Check. The error, a *FileError, is only for a
// failed read.
func ParseHosts(r io.Reader, path string) (*HostsFile, error) {
	hf := &HostsFile{Path: path, byName: map[string]int{}, more: map[string][]int{}}
	err := eachLine(r, func(n int, line []byte, tooLong bool) {
		hf.Lines = n
		if tooLong {
			hf.syntax = append(hf.syntax, Problem{Line: n, Severity: SeverityError, Kind: KindTooLong,
				Message: fmt.Sprintf("line is longer than %d bytes and was skipped", maxHostsLine)})
			return
		}
		hf.parseLine(n, line)
	})
	if err != nil {
		return nil, &FileError{What: "hosts file", Path: path, Err: err}
	}
	return hf, nil
}

// eachLine calls fn with each line of r, numbered from 1, without its line
// end; the line is valid only until fn returns. A line longer than maxHostsLine is passed as tooLong, with no
// content. The error is the reader's.
func eachLine(r io.Reader, fn func(n int, line []byte, tooLong bool)) error {
	br := bufio.NewReaderSize(r, 64<<10)
	for n := 1; ; n++ {
		line, tooLong, err := readLine(br)
		if len(line) > 0 || tooLong || err == nil {
			fn(n, line, tooLong)
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// readLine returns the next line without its newline, valid until the next
// read from br; tooLong reports a line over maxHostsLine, whose rest is
// discarded.
func readLine(br *bufio.Reader) (line []byte, tooLong bool, err error) {
	chunk, isPrefix, err := br.ReadLine()
	if !isPrefix {
		return chunk, false, err // the common case, without a copy
	}
	buf := slices.Clone(chunk)
	for {
		chunk, isPrefix, err := br.ReadLine()
		if len(buf)+len(chunk) > maxHostsLine {
			tooLong = true
		} else {
			buf = append(buf, chunk...)
		}
		if err != nil || !isPrefix {
			return buf, tooLong, err
		}
	}
}

func (hf *HostsFile) parseLine(n int, line []byte) {
	fields := hostsFields(line)
	if len(fields) == 0 {
		return
	}
	addr, problem := parseHostsAddr(fields[0])
	if problem != "" {
		hf.syntax = append(hf.syntax, Problem{Line: n, Severity: SeverityError, Kind: KindMalformedAddress,
			Message: problem + glibcIgnores, Names: fields[1:], address: fields[0]})
		return
	}
	if len(fields) == 1 {
		hf.syntax = append(hf.syntax, Problem{Line: n, Severity: SeverityWarning, Kind: KindNoNames,
			Message: fmt.Sprintf("address %s has no names; the line does nothing", addr)})
		return
	}
	hf.Entries = append(hf.Entries, HostsEntry{Line: n, Address: addr, Names: fields[1:]})
	for _, name := range fields[1:] {
		// A line that names a host twice maps it once, as in glibc.
		key, i := strings.ToLower(name), len(hf.Entries)-1
		first, seen := hf.byName[key]
		switch at := hf.more[key]; {
		case !seen:
			hf.byName[key] = i
		case first != i && (len(at) == 0 || at[len(at)-1] != i):
			hf.more[key] = append(at, i)
		}
	}
}

// parseHostsAddr parses the address field as glibc does (inet_pton: no
// zones, no shorthand IPv4 forms) and says what is wrong when it cannot.
func parseHostsAddr(s string) (netip.Addr, string) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, fmt.Sprintf("%q is not an IPv4 or IPv6 address", s)
	}
	if a.Zone() != "" {
		return netip.Addr{}, fmt.Sprintf("%q has a zone (%%%s), which the hosts file cannot carry", s, a.Zone())
	}
	return a, ""
}

// HostsMatch is one address a hosts file gives for a name.
type HostsMatch struct {
	// Line is the hosts file line.
	Line int `json:"line"`
	// Address is the address as returned for the asked family: glibc turns
	// "::1" into 127.0.0.1 and an IPv4-mapped address into IPv4 for IPv4
	// lookups.
	Address netip.Addr `json:"address"`
	// Canonical is the first name of the line.
	Canonical string `json:"canonical"`
}

// Lookup returns the addresses the hosts file gives name for the family, in
// file order: what glibc's gethostbyname returns (with IPv4), and what its
// getaddrinfo returns before sorting. Every matching line counts: glibc reads
// the hosts file as with "multi on", the default since glibc 2.26. Names
// match case-insensitively and exactly otherwise: "localhost." does not
// match "localhost", as in glibc.
func (hf *HostsFile) Lookup(name string, fam Family) []HostsMatch {
	var out []HostsMatch
	for _, i := range hf.lines(strings.ToLower(name)) {
		if m, ok := matchFamily(hf.Entries[i], fam); ok {
			out = append(out, m)
		}
	}
	return out
}

// matchFamily returns the match an entry for the name looked up gives for
// the family, if it gives one.
func matchFamily(e HostsEntry, fam Family) (HostsMatch, bool) {
	a, ok := addrForFamily(e.Address, fam)
	return HostsMatch{Line: e.Line, Address: a, Canonical: e.Names[0]}, ok
}

// LookupSorted returns Lookup's matches in the order getaddrinfo returns
// them on this machine: sorted by the destination address selection rules
// of RFC 6724 (file order where no rule prefers one).
func (hf *HostsFile) LookupSorted(name string, fam Family) []HostsMatch {
	matches := hf.Lookup(name, fam)
	sortByAddress(matches, func(m HostsMatch) netip.Addr { return m.Address })
	return matches
}

// addrForFamily applies glibc's family rules for hosts file addresses: for
// IPv4, an IPv4-mapped address is its IPv4 address and ::1 is 127.0.0.1.
func addrForFamily(a netip.Addr, fam Family) (netip.Addr, bool) {
	if fam == IPv4 {
		switch {
		case a.Is4In6():
			a = a.Unmap()
		case a == netip.IPv6Loopback():
			a = netip.AddrFrom4([4]byte{127, 0, 0, 1})
		}
	}
	return a, fam.Contains(a)
}

// Mentions returns every entry that has name, in file order, whatever its
// family: what 'netkit hosts NAME' shows.
func (hf *HostsFile) Mentions(name string) []HostsEntry {
	var out []HostsEntry
	for _, i := range hf.lines(strings.ToLower(name)) {
		out = append(out, hf.Entries[i])
	}
	return out
}

// IgnoredMentions returns the lines glibc ignores that have name (in any
// case), in file order: lines meant to map the name that do not, the
// problems of Check for which MeantFor(name) is true.
func (hf *HostsFile) IgnoredMentions(name string) []IgnoredLine {
	var out []IgnoredLine
	for _, p := range hf.syntax {
		if p.MeantFor(name) {
			out = append(out, IgnoredLine{Line: p.Line, Address: p.address, Names: p.Names,
				Reason: strings.TrimSuffix(p.Message, glibcIgnores)})
		}
	}
	return out
}

// isSpace is C's isspace in the C locale, which glibc uses to split fields.
func isSpace(r rune) bool {
	return r == ' ' || r == '\t' || r == '\n' || r == '\v' || r == '\f' || r == '\r'
}
