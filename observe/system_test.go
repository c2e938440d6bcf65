package observe_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"maps"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/logtally/logtally/internal/testutil"
	"github.com/logtally/logtally/observe"
)

// These tests compare each observable with the system tool that shows the
// same figure — ps, who, uptime, df, ss — on this machine at the same
// moment. Other programs run meanwhile, so each comparison reads the
// observable before and after the tool, and either checks what was stable
// over both readings or tries again until nothing changed in between.

// attempts bounds the retries of a comparison disturbed by the machine's
// activity.
const attempts = 50

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).Output()
	if err != nil {
		t.Fatalf("%s %s: %v", name, strings.Join(args, " "), err)
	}
	return string(out)
}

func sample(t *testing.T, s *observe.Sampler, specs ...observe.Spec) []observe.Reading {
	t.Helper()
	res := s.Sample(specs)
	out := make([]observe.Reading, len(res))
	for i, r := range res {
		if r.Err != nil {
			t.Fatalf("sample %v: %v", specs[i], r.Err)
		}
		out[i] = r.Reading
	}
	return out
}

func builtin(t *testing.T, name string) observe.Spec {
	t.Helper()
	sp, ok := observe.Builtin(name)
	if !ok {
		t.Fatalf("no built-in observable %s", name)
	}
	return sp
}

// TestProcessesMatchPs: every process seen before and after ps is in ps's
// listing with the same effective user, and ps lists no process that
// neither reading saw (but itself); the counts of rootprocs and otherprocs
// are then those of ps within the processes that came or went.
func TestProcessesMatchPs(t *testing.T) {
	testutil.NeedTool(t, "ps")
	for try := 1; ; try++ {
		before, err := observe.Processes("/proc")
		if err != nil {
			t.Fatal(err)
		}
		out := run(t, "ps", "-e", "-o", "pid=,euid=")
		after, err := observe.Processes("/proc")
		if err != nil {
			t.Fatal(err)
		}
		ps := map[int]uint64{}
		for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
			f := strings.Fields(l)
			if len(f) != 2 {
				t.Fatalf("ps line %q", l)
			}
			pid, _ := strconv.Atoi(f[0])
			euid, _ := strconv.ParseUint(f[1], 10, 64)
			ps[pid] = euid
		}
		seen := map[int]uint64{}
		for _, p := range before {
			seen[p.PID] = p.EUID
		}
		stable := 0
		for _, p := range after {
			if euid, ok := seen[p.PID]; ok && euid == p.EUID {
				stable++
				if got, ok := ps[p.PID]; !ok || got != p.EUID {
					t.Fatalf("process %d (%s, euid %d) was there before and after ps, which shows euid %d (listed: %v)", p.PID, p.Name, p.EUID, got, ok)
				}
			}
			seen[p.PID] = p.EUID
		}
		var unseen []int
		for pid := range ps {
			if _, ok := seen[pid]; !ok {
				unseen = append(unseen, pid)
			}
		}
		if len(unseen) > 1 { // ps itself is one
			if try < attempts {
				continue
			}
			t.Fatalf("ps lists %d processes neither reading saw: %v", len(unseen), unseen)
		}
		if stable < 10 {
			t.Fatalf("only %d processes were stable over the readings", stable)
		}
		// The sampler's counts are those of the same scan.
		var s observe.Sampler
		r := sample(t, &s, builtin(t, "rootprocs"), builtin(t, "otherprocs"))
		psRoot, psOther := 0, 0
		for _, euid := range ps {
			if euid == 0 {
				psRoot++
			} else {
				psOther++
			}
		}
		churn := float64(len(before) + len(after) - 2*stable + len(unseen))
		if math.Abs(r[0].Value-float64(psRoot))+math.Abs(r[1].Value-float64(psOther)) > churn+float64(len(unseen))+5 {
			t.Errorf("rootprocs %v otherprocs %v; ps: %d and %d (churn %v)", r[0].Value, r[1].Value, psRoot, psOther, churn)
		}
		if n := r[0].Keys["observe.test"] + r[1].Keys[currentUser(t)]; n == 0 {
			t.Errorf("this test's process is in neither key set: root %v other %v", r[0].Keys, r[1].Keys)
		}
		return
	}
}

func currentUser(t *testing.T) string {
	out := run(t, "id", "-un")
	return strings.TrimSpace(out)
}

// utmpRecord builds one glibc utmp record.
func utmpRecord(typ uint16, pid int32, line, user string) []byte {
	b := make([]byte, 384)
	binary.NativeEndian.PutUint16(b[0:], typ)
	binary.NativeEndian.PutUint32(b[4:], uint32(pid))
	copy(b[8:40], line)
	copy(b[40:44], strings.TrimPrefix(line, "pts/"))
	copy(b[44:76], user)
	copy(b[76:332], "192.0.2.7")
	return b
}

// TestUsersMatchWho writes a utmp file with sessions, a login prompt, a
// boot record and a closed session, and compares with who(1) reading the
// same file; then compares the machine's own utmp with who.
func TestUsersMatchWho(t *testing.T) {
	testutil.NeedTool(t, "who")
	pid := int32(os.Getpid())
	var b bytes.Buffer
	b.Write(utmpRecord(2, 0, "~", "reboot"))         // BOOT_TIME
	b.Write(utmpRecord(6, pid, "tty1", "LOGIN"))     // LOGIN_PROCESS
	b.Write(utmpRecord(7, pid, "pts/0", "alice"))    // USER_PROCESS
	b.Write(utmpRecord(7, pid, "pts/1", "alice"))    // USER_PROCESS
	b.Write(utmpRecord(7, 1, "pts/2", "bob"))        // USER_PROCESS of init: alive
	b.Write(utmpRecord(8, 0, "pts/3", ""))           // DEAD_PROCESS
	b.Write(utmpRecord(7, pid, "pts/4", "carol_xy")) // USER_PROCESS
	b.Write([]byte("partial record"))
	file := filepath.Join(t.TempDir(), "utmp")
	if err := os.WriteFile(file, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	whoUsers := func(out string) map[string]uint64 {
		m := map[string]uint64{}
		for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
			if f := strings.Fields(l); len(f) > 0 {
				m[f[0]]++
			}
		}
		return m
	}
	s := observe.Sampler{Utmp: file}
	r := sample(t, &s, builtin(t, "users"))[0]
	want := whoUsers(run(t, "who", file))
	if r.Value != 4 || !maps.Equal(r.Keys, want) {
		t.Errorf("users %v %v; who %s: %v", r.Value, r.Keys, file, want)
	}

	// The machine's utmp, read by who without arguments (which leaves
	// out sessions whose process is gone, as the sampler does).
	for try := 1; ; try++ {
		a := sample(t, &observe.Sampler{}, builtin(t, "users"))[0]
		w := whoUsers(run(t, "who"))
		z := sample(t, &observe.Sampler{}, builtin(t, "users"))[0]
		if !maps.Equal(a.Keys, z.Keys) && try < attempts {
			continue
		}
		if !maps.Equal(a.Keys, w) {
			t.Errorf("users %v; who: %v", a.Keys, w)
		}
		return
	}
}

// TestLoadMatchesUptime compares the load average with uptime's.
func TestLoadMatchesUptime(t *testing.T) {
	testutil.NeedTool(t, "uptime")
	re := regexp.MustCompile(`load average: ([0-9.]+),`)
	var s observe.Sampler
	for try := 1; ; try++ {
		a := sample(t, &s, builtin(t, "loadavg"))[0]
		m := re.FindStringSubmatch(run(t, "uptime"))
		z := sample(t, &s, builtin(t, "loadavg"))[0]
		if m == nil {
			t.Fatal("uptime shows no load average")
		}
		if a.Value != z.Value && try < attempts {
			continue // the kernel updated it in between
		}
		if got := fmt.Sprintf("%.2f", a.Value); got != m[1] {
			t.Errorf("loadavg %s, uptime %s", got, m[1])
		}
		return
	}
}

// TestDiskMatchesDf compares diskused and diskfree of / and of the
// filesystem of the temporary directory with df.
func TestDiskMatchesDf(t *testing.T) {
	testutil.NeedTool(t, "df")
	for _, path := range []string{"/", t.TempDir()} {
		for try := 1; ; try++ {
			a, err := observe.DiskUsage(path)
			if err != nil {
				t.Fatal(err)
			}
			out := run(t, "df", "-B1", "--output=used,avail,pcent", path)
			z, err := observe.DiskUsage(path)
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSpace(out), "\n")
			f := strings.Fields(lines[len(lines)-1])
			if len(f) != 3 {
				t.Fatalf("df output %q", out)
			}
			used, _ := strconv.ParseUint(f[0], 10, 64)
			avail, _ := strconv.ParseUint(f[1], 10, 64)
			if (a != z || a != observe.Usage{Used: used, Avail: avail}) && try < attempts {
				continue // something wrote in between
			}
			if (a != observe.Usage{Used: used, Avail: avail}) {
				t.Errorf("%s: %+v; df: used %d avail %d", path, a, used, avail)
			}
			if pct := fmt.Sprintf("%.0f%%", math.Ceil(a.UsedPercent())); pct != f[2] {
				t.Errorf("%s: used %v%% rounds up to %s; df: %s", path, a.UsedPercent(), pct, f[2])
			}
			s := observe.Sampler{}
			r := sample(t, &s, observe.Spec{Kind: observe.DiskUsed, Path: path}, observe.Spec{Kind: observe.DiskFree, Path: path})
			if d := r[0].Value + r[1].Value; math.Abs(d-100) > 1e-9 {
				t.Errorf("%s: diskused %v + diskfree %v = %v", path, r[0].Value, r[1].Value, d)
			}
			if math.Abs(r[0].Value-a.UsedPercent()) > 0.5 {
				t.Errorf("%s: diskused %v, df %v", path, r[0].Value, a.UsedPercent())
			}
			break
		}
	}
}

// connect opens n connections to a new listener on a loopback address and
// returns the listener's port; everything is closed when the test ends.
func connect(t *testing.T, network, address string, n int) uint16 {
	t.Helper()
	ln, err := net.Listen(network, address)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	accepted := make(chan net.Conn, n)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	for i := 0; i < n; i++ {
		c, err := net.Dial(network, ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		s := <-accepted
		t.Cleanup(func() { s.Close() })
	}
	return uint16(ln.Addr().(*net.TCPAddr).Port)
}

// ssCount counts the connected sockets ss lists with a filter.
func ssCount(t *testing.T, filter string) int {
	out := strings.TrimSpace(run(t, "ss", "-Htn", filter))
	if out == "" {
		return 0
	}
	return len(strings.Split(out, "\n"))
}

// TestConnectionsMatchSs opens 20 IPv4 and 5 IPv6 loopback connections to
// two ports and compares the in and out observables with ss, which reads
// the kernel through netlink rather than /proc.
func TestConnectionsMatchSs(t *testing.T) {
	testutil.NeedTool(t, "ss")
	p4 := connect(t, "tcp4", "127.0.0.1:0", 20)
	want6 := 5
	p6 := uint16(0)
	if ln, err := net.Listen("tcp6", "[::1]:0"); err == nil {
		ln.Close()
		p6 = connect(t, "tcp6", "[::1]:0", want6)
	} else {
		want6 = 0
	}
	ports := []uint16{p4}
	if p6 != 0 {
		ports = append(ports, p6)
	}
	in := observe.Spec{Kind: observe.TCPIn, Ports: ports}
	out := observe.Spec{Kind: observe.TCPOut, Ports: ports}
	var s observe.Sampler
	r := sample(t, &s, in, out)
	for i, dir := range []string{"sport", "dport"} {
		n := ssCount(t, fmt.Sprintf("( %s = :%d or %s = :%d )", dir, p4, dir, p6))
		if int(r[i].Value) != n || n != 20+want6 {
			t.Errorf("%v: %v connections, ss %s: %d, opened %d", []observe.Spec{in, out}[i], r[i].Value, dir, n, 20+want6)
		}
		want := map[string]uint64{"127.0.0.1": 20}
		if want6 > 0 {
			want["::1"] = uint64(want6)
		}
		if !maps.Equal(r[i].Keys, want) {
			t.Errorf("%v: keys %v, want %v", []observe.Spec{in, out}[i], r[i].Keys, want)
		}
	}

	// Every connected socket of the machine, against ss's default list.
	all := make([]uint16, 0, 65535)
	for p := 1; p <= 65535; p++ {
		all = append(all, uint16(p))
	}
	for try := 1; ; try++ {
		a := sample(t, &s, observe.Spec{Kind: observe.TCPIn, Ports: all})[0]
		n := ssCount(t, "")
		z := sample(t, &s, observe.Spec{Kind: observe.TCPIn, Ports: all})[0]
		if (a.Value != z.Value || int(a.Value) != n) && try < attempts {
			continue
		}
		if int(a.Value) != n {
			t.Errorf("%v connected sockets; ss lists %d", a.Value, n)
		}
		return
	}
}

// ssListening returns the "PORT PROGRAM" keys of ss -l for tcp (-t) or udp
// (-u), with "-" for a socket ss shows no process of.
func ssListening(t *testing.T, proto string) map[string]uint64 {
	out := run(t, "ss", "-Hln"+proto+"p")
	keys := map[string]uint64{}
	users := regexp.MustCompile(`\("([^"]*)",pid=`)
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(l)
		if len(f) < 5 {
			continue
		}
		local := f[3]
		port := local[strings.LastIndexByte(local, ':')+1:]
		names := users.FindAllStringSubmatch(l, -1)
		if len(names) == 0 {
			keys[port+" -"] = 1
		}
		for _, n := range names {
			keys[port+" "+n[1]] = 1
		}
	}
	return keys
}

// TestListeningMatchesSs listens on a TCP and a UDP port in this process
// and compares listening_ports and listening_udp with ss -lp.
func TestListeningMatchesSs(t *testing.T) {
	testutil.NeedTool(t, "ss")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	comm, err := os.ReadFile("/proc/self/comm")
	if err != nil {
		t.Fatal(err)
	}
	self := strings.TrimSpace(string(comm))
	var s observe.Sampler
	for _, tc := range []struct {
		name  string
		proto string
		port  int
	}{
		{"listening_ports", "t", ln.Addr().(*net.TCPAddr).Port},
		{"listening_udp", "u", pc.LocalAddr().(*net.UDPAddr).Port},
	} {
		for try := 1; ; try++ {
			a := sample(t, &s, builtin(t, tc.name))[0]
			want := ssListening(t, tc.proto)
			z := sample(t, &s, builtin(t, tc.name))[0]
			if (!maps.Equal(a.Keys, z.Keys) || !maps.Equal(a.Keys, want)) && try < attempts {
				continue
			}
			if !maps.Equal(a.Keys, want) {
				t.Errorf("%s: %v; ss -l%sp: %v", tc.name, a.SortedKeys(), tc.proto, slices.Sorted(maps.Keys(want)))
			}
			if k := fmt.Sprintf("%d %s", tc.port, self); a.Keys[k] == 0 {
				t.Errorf("%s: %v lacks %q", tc.name, a.SortedKeys(), k)
			}
			if a.Value != float64(len(a.Keys)) {
				t.Errorf("%s: value %v for %d keys", tc.name, a.Value, len(a.Keys))
			}
			break
		}
	}
}
