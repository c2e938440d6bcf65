// Package observe reads the host observables that cfenvd measured without
// any rule: the users logged in (utmp), the processes of root and of other
// users, the load average, how full a filesystem is, the TCP connections of
// each service in and out, and the sockets that listen, with the programs
// that hold them. Everything is read from /proc, utmp and statfs(2)
// directly; no command is run.
//
// A Sampler takes one Reading per observable each time it is asked, reading
// each source once for all the observables that need it (one scan of the
// process table for rootprocs and otherprocs, one read of /proc/net/tcp for
// every service). Each reading has a value and, where cfenvd's ShowState
// had one, a key per item — the remote address of a connection, the user of
// a login or a process, the port and program of a listening socket — so
// that entropy and top sources work as they do for log measurements.
package observe

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Kind is what an observable reads.
type Kind string

// Kinds of observable.
const (
	// Users is the number of login sessions in utmp, as who(1) lists them;
	// key: the user name.
	Users Kind = "users"
	// RootProcs is the number of processes whose effective user is root,
	// as ps -e counts them (kernel threads included); key: the program.
	RootProcs Kind = "rootprocs"
	// OtherProcs is the number of processes of every other user; key: the
	// user name.
	OtherProcs Kind = "otherprocs"
	// LoadAvg is the one-minute load average, as cf-monitord reads it.
	LoadAvg Kind = "loadavg"
	// DiskFree is the percentage of a filesystem free for ordinary users,
	// as cf-monitord's diskfree: available / (used + available) × 100.
	DiskFree Kind = "diskfree"
	// DiskUsed is the percentage used, df(1)'s Use% before df rounds it
	// up: used / (used + available) × 100 = 100 − DiskFree.
	DiskUsed Kind = "diskused"
	// TCPIn is the number of TCP connections whose local port is one of
	// the ports; key: the remote address.
	TCPIn Kind = "tcp_in"
	// TCPOut is the number of TCP connections whose remote port is one of
	// the ports; key: the remote address.
	TCPOut Kind = "tcp_out"
	// ListeningTCP is the set of TCP sockets that listen, as "PORT
	// PROGRAM" keys ("22 sshd"); the value is the number of keys.
	ListeningTCP Kind = "listening_ports"
	// ListeningUDP is the same for UDP sockets bound to a port and not
	// connected to a peer (the servers).
	ListeningUDP Kind = "listening_udp"
)

// Spec is one observable.
type Spec struct {
	Kind  Kind
	Path  string   // DiskFree, DiskUsed: a path on the filesystem
	Ports []uint16 // TCPIn, TCPOut: the service's ports
}

// String names the observable the way a rule writes it.
func (s Spec) String() string {
	switch s.Kind {
	case DiskFree, DiskUsed:
		return string(s.Kind) + " " + s.Path
	case TCPIn, TCPOut:
		p := make([]string, len(s.Ports))
		for i, n := range s.Ports {
			p[i] = strconv.Itoa(int(n))
		}
		return string(s.Kind) + " " + strings.Join(p, ",")
	}
	return string(s.Kind)
}

// IsSet reports whether the observable is a set of keys (a CFEngine slist):
// its value is the number of distinct keys, and what matters is which keys
// are there.
func (s Spec) IsSet() bool { return s.Kind == ListeningTCP || s.Kind == ListeningUDP }

// KeyIsAddress reports whether the observable's keys are IP addresses.
func (s Spec) KeyIsAddress() bool { return s.Kind == TCPIn || s.Kind == TCPOut }

// service is one of cfenvd's services and its ports.
type service struct {
	name  string
	ports []uint16
}

// services are cfenvd's and cf-monitord's services, each of which has an
// observable <name>_in and <name>_out.
func services() []service {
	return []service{
		{"ssh", []uint16{22}},
		{"smtp", []uint16{25}},
		{"www", []uint16{80}},
		{"wwws", []uint16{443}},
		{"www_alt", []uint16{8080}},
		{"dns", []uint16{53}},
		{"ftp", []uint16{21}},
		{"imap", []uint16{143}},
		{"imaps", []uint16{993}},
		{"pop3", []uint16{110}},
		{"pop3s", []uint16{995}},
		{"ldap", []uint16{389}},
		{"ldaps", []uint16{636}},
		{"netbiosns", []uint16{137}},
		{"netbiosdgm", []uint16{138}},
		{"netbiosssn", []uint16{139}},
		{"microsoft_ds", []uint16{445}},
		{"nfsd", []uint16{2049}},
		{"ipp", []uint16{631}},
		{"mysql", []uint16{3306}},
		{"postgresql", []uint16{5432}},
		{"mongo", []uint16{27017}},
		{"cfengine", []uint16{5308}},
	}
}

// Builtin returns the observable a rule names with one word: users,
// rootprocs, otherprocs, loadavg, diskfree and diskused (of /),
// listening_ports, listening_udp, and <service>_in and <service>_out for
// each service of Builtins.
func Builtin(name string) (Spec, bool) {
	switch Kind(name) {
	case Users, RootProcs, OtherProcs, LoadAvg, ListeningTCP, ListeningUDP:
		return Spec{Kind: Kind(name)}, true
	case DiskFree, DiskUsed:
		return Spec{Kind: Kind(name), Path: "/"}, true
	}
	for _, s := range services() {
		switch name {
		case s.name + "_in":
			return Spec{Kind: TCPIn, Ports: s.ports}, true
		case s.name + "_out":
			return Spec{Kind: TCPOut, Ports: s.ports}, true
		}
	}
	return Spec{}, false
}

// Builtins returns every name Builtin knows, sorted.
func Builtins() []string {
	out := []string{string(Users), string(RootProcs), string(OtherProcs), string(LoadAvg),
		string(DiskFree), string(DiskUsed), string(ListeningTCP), string(ListeningUDP)}
	for _, s := range services() {
		out = append(out, s.name+"_in", s.name+"_out")
	}
	slices.Sort(out)
	return out
}

// Reading is one observable's sample.
type Reading struct {
	Value float64
	// Keys counts the items by key (remote address, user, program, "PORT
	// PROGRAM"); nil for an observable without keys.
	Keys map[string]uint64
}

// SortedKeys returns the keys, sorted.
func (r Reading) SortedKeys() []string {
	out := make([]string, 0, len(r.Keys))
	for k := range r.Keys {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// Result is a Reading or the error that prevented it.
type Result struct {
	Reading
	Err error
}

// Error is a failure to read one source.
type Error struct {
	Source string // the file or path that could not be read
	Err    error
}

func (e *Error) Error() string { return fmt.Sprintf("observe %s: %v", e.Source, e.Err) }

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// compareSpec orders specs so that equal ones are adjacent.
func compareSpec(a, b Spec) int {
	return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Path, b.Path), slices.Compare(a.Ports, b.Ports))
}
