package observe

import (
	"errors"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/prometheus/procfs"
)

// TCP states as /proc/net/tcp writes them (include/net/tcp_states.h).
const (
	tcpEstablished = 0x01
	tcpSynSent     = 0x02
	tcpFinWait1    = 0x04
	tcpFinWait2    = 0x05
	tcpClose       = 0x07 // for UDP: bound, not connected
	tcpCloseWait   = 0x08
	tcpLastAck     = 0x09
	tcpListen      = 0x0A
	tcpClosing     = 0x0B
)

// connected reports whether a TCP state is a connection as ss(8) lists
// them by default: not listening, not closed, not in TIME-WAIT, and not a
// half-open SYN-RECV request.
func connected(st uint64) bool {
	switch st {
	case tcpEstablished, tcpSynSent, tcpFinWait1, tcpFinWait2, tcpCloseWait, tcpLastAck, tcpClosing:
		return true
	}
	return false
}

// Socket is one line of /proc/net/{tcp,tcp6,udp,udp6}.
type Socket struct {
	Local, Remote         netip.AddrPort
	State                 uint64
	Inode                 uint64
	UDP                   bool
	LocalPort, RemotePort uint16
}

// Sockets reads the TCP sockets (and the UDP ones when udp is true) of the
// network namespace of proc, IPv4 and IPv6. A missing tcp6 or udp6 file (a
// kernel without IPv6) has no sockets.
//
// Each socket is in the result once. The kernel's files are not a
// snapshot: they are written a page at a time, and each read resumes its
// walk of the socket tables by position, so that a socket added or removed
// meanwhile can make the rows of another one come twice (on a loaded
// machine, a few reads in a thousand repeat connections). A row of a file
// that is the same socket as an earlier one of it (same addresses, state
// and inode) is dropped.
func Sockets(proc string, tcp, udp bool) ([]Socket, error) {
	pfs, err := procfs.NewFS(proc)
	if err != nil {
		return nil, &Error{Source: proc, Err: err}
	}
	type file struct {
		name string
		read func() (procfs.NetIPSocket, error)
		udp  bool
		opt  bool // may be missing
	}
	var files []file
	if tcp {
		files = append(files,
			file{"net/tcp", func() (procfs.NetIPSocket, error) { l, err := pfs.NetTCP(); return procfs.NetIPSocket(l), err }, false, false},
			file{"net/tcp6", func() (procfs.NetIPSocket, error) { l, err := pfs.NetTCP6(); return procfs.NetIPSocket(l), err }, false, true})
	}
	if udp {
		files = append(files,
			file{"net/udp", func() (procfs.NetIPSocket, error) { l, err := pfs.NetUDP(); return procfs.NetIPSocket(l), err }, true, false},
			file{"net/udp6", func() (procfs.NetIPSocket, error) { l, err := pfs.NetUDP6(); return procfs.NetIPSocket(l), err }, true, true})
	}
	var out []Socket
	for _, f := range files {
		lines, err := f.read()
		if err != nil {
			if f.opt && errors.Is(err, fs.ErrNotExist) {
				continue
			}
			return nil, &Error{Source: filepath.Join(proc, f.name), Err: err}
		}
		seen := make(map[Socket]bool, len(lines)) // in this file
		for _, l := range lines {
			if l.LocalPort > 0xffff || l.RemPort > 0xffff {
				continue
			}
			s := Socket{State: l.St, Inode: l.Inode, UDP: f.udp, LocalPort: uint16(l.LocalPort), RemotePort: uint16(l.RemPort)}
			s.Local = netip.AddrPortFrom(addr(l.LocalAddr), s.LocalPort)
			s.Remote = netip.AddrPortFrom(addr(l.RemAddr), s.RemotePort)
			if seen[s] {
				continue
			}
			seen[s] = true
			out = append(out, s)
		}
	}
	return out, nil
}

// addr converts an address, an IPv4-mapped IPv6 one to IPv4.
func addr(ip net.IP) netip.Addr {
	a, _ := netip.AddrFromSlice(ip)
	return a.Unmap()
}

// readNet reads the sockets once for the connection observables, or for
// the listening ones (two sources: see Sampler.sources), and the programs
// that own the listening sockets only for the latter.
func (s *Sampler) readNet(specs []Spec) []Result {
	var tcp, udp, listen bool
	for _, sp := range specs {
		switch sp.Kind {
		case ListeningUDP:
			udp, listen = true, true
		case ListeningTCP:
			tcp, listen = true, true
		default:
			tcp = true
		}
	}
	socks, err := Sockets(s.proc(), tcp, udp)
	if err != nil {
		return fail(len(specs), err)
	}
	var owners map[uint64][]string
	if listen {
		want := map[uint64]bool{}
		for _, so := range socks {
			if listening(so) {
				want[so.Inode] = true
			}
		}
		owners = SocketOwners(s.proc(), want)
	}
	out := make([]Result, len(specs))
	for i, sp := range specs {
		r := Reading{Keys: map[string]uint64{}}
		switch sp.Kind {
		case TCPIn, TCPOut:
			for _, so := range socks {
				if so.UDP || !connected(so.State) {
					continue
				}
				port := so.LocalPort
				if sp.Kind == TCPOut {
					port = so.RemotePort
				}
				if slices.Contains(sp.Ports, port) {
					r.Value++
					r.Keys[so.Remote.Addr().String()]++
				}
			}
		case ListeningTCP, ListeningUDP:
			for _, so := range socks {
				if so.UDP != (sp.Kind == ListeningUDP) || !listening(so) {
					continue
				}
				names := owners[so.Inode]
				if len(names) == 0 {
					names = []string{"-"}
				}
				for _, n := range names {
					r.Keys[strconv.Itoa(int(so.LocalPort))+" "+n] = 1
				}
			}
			r.Value = float64(len(r.Keys))
		}
		out[i].Reading = r
	}
	return out
}

// listening reports whether a socket is a server: a TCP socket in LISTEN,
// or a UDP socket bound to a port and connected to no peer.
func listening(so Socket) bool {
	if so.UDP {
		return so.State == tcpClose && so.LocalPort != 0 && so.RemotePort == 0
	}
	return so.State == tcpListen
}

// SocketOwners maps each socket inode of want to the programs (comm) of the
// processes that hold it open, sorted and without repeats, by reading
// every /proc/PID/fd link, as lsof and ss -p do. A socket no visible
// process holds (one of the kernel's, such as nfsd's) is not in the map.
func SocketOwners(proc string, want map[uint64]bool) map[uint64][]string {
	out := map[uint64][]string{}
	if len(want) == 0 {
		return out
	}
	d, err := os.ReadDir(proc)
	if err != nil {
		return out
	}
	for _, e := range d {
		pid := e.Name()
		if _, err := strconv.Atoi(pid); err != nil {
			continue
		}
		fds, err := os.ReadDir(filepath.Join(proc, pid, "fd"))
		if err != nil {
			continue // gone, or not ours to read
		}
		name := ""
		for _, fd := range fds {
			target, err := os.Readlink(filepath.Join(proc, pid, "fd", fd.Name()))
			if err != nil {
				continue
			}
			ino, ok := socketInode(target)
			if !ok || !want[ino] {
				continue
			}
			if name == "" {
				b, err := os.ReadFile(filepath.Join(proc, pid, "comm"))
				if err != nil {
					break
				}
				name = strings.TrimSuffix(string(b), "\n")
				if name == "" {
					name = "-"
				}
			}
			if !slices.Contains(out[ino], name) {
				out[ino] = append(out[ino], name)
				slices.Sort(out[ino])
			}
		}
	}
	return out
}

// socketInode parses the target of a socket's fd link, "socket:[12345]".
func socketInode(target string) (uint64, bool) {
	s, ok := strings.CutPrefix(target, "socket:[")
	if !ok {
		return 0, false
	}
	s, ok = strings.CutSuffix(s, "]")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, false
	}
	return n, true
}
