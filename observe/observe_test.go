package observe

import (
	"context"
	"encoding/binary"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/logtally/logtally/internal/testutil"
)

func TestBuiltin(t *testing.T) {
	cases := []struct {
		name string
		want Spec
		ok   bool
	}{
		{"users", Spec{Kind: Users}, true},
		{"diskfree", Spec{Kind: DiskFree, Path: "/"}, true},
		{"www_in", Spec{Kind: TCPIn, Ports: []uint16{80}}, true},
		{"smtp_out", Spec{Kind: TCPOut, Ports: []uint16{25}}, true},
		{"wwws_in", Spec{Kind: TCPIn, Ports: []uint16{443}}, true},
		{"listening_ports", Spec{Kind: ListeningTCP}, true},
		{"www", Spec{}, false},
		{"tcp_in", Spec{}, false},
		{"", Spec{}, false},
	}
	for _, tc := range cases {
		got, ok := Builtin(tc.name)
		if ok != tc.ok || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Builtin(%q) = %v, %v; want %v, %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
	for _, n := range Builtins() {
		if _, ok := Builtin(n); !ok {
			t.Errorf("Builtins lists %q, which Builtin does not know", n)
		}
	}
}

func record(typ uint16, pid int32, user string) []byte {
	b := make([]byte, utmpSize)
	binary.NativeEndian.PutUint16(b[utmpTypeOff:], typ)
	binary.NativeEndian.PutUint32(b[utmpPidOff:], uint32(pid))
	copy(b[utmpUserOff:utmpUserOff+utmpUserLen], user)
	return b
}

func TestParseUtmp(t *testing.T) {
	long := "abcdefghijklmnopqrstuvwxyz012345" // 32 bytes: no terminating NUL
	var b []byte
	b = append(b, record(userProcess, 10, "alice")...)
	b = append(b, record(8, 11, "gone")...)
	b = append(b, record(userProcess, 12, "")...)
	b = append(b, record(userProcess, 13, long)...)
	b = append(b, record(userProcess, 14, "cut")[:100]...)
	want := []Login{{"alice", 10}, {long, 13}}
	if got := ParseUtmp(b); !reflect.DeepEqual(got, want) {
		t.Errorf("ParseUtmp = %v, want %v", got, want)
	}
}

func FuzzParseUtmp(f *testing.F) {
	f.Add(record(userProcess, 1, "root"))
	f.Add(append(record(userProcess, -1, "x"), 1, 2, 3))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, l := range ParseUtmp(b) {
			if l.User == "" || len(l.User) > utmpUserLen {
				t.Fatalf("login %+v", l)
			}
		}
		if n := len(ParseUtmp(b)); n > len(b)/utmpSize {
			t.Fatalf("%d logins from %d bytes", n, len(b))
		}
	})
}

func TestSocketInode(t *testing.T) {
	cases := []struct {
		in   string
		want uint64
		ok   bool
	}{
		{"socket:[12345]", 12345, true},
		{"socket:[0]", 0, true},
		{"socket:[]", 0, false},
		{"socket:[12", 0, false},
		{"pipe:[12345]", 0, false},
		{"/dev/null", 0, false},
		{"socket:[-1]", 0, false},
		{"socket:[99999999999999999999]", 0, false},
	}
	for _, tc := range cases {
		got, ok := socketInode(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("socketInode(%q) = %d, %v; want %d, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func FuzzSocketInode(f *testing.F) {
	f.Add("socket:[1]")
	f.Fuzz(func(t *testing.T, s string) {
		n, ok := socketInode(s)
		if !ok {
			return
		}
		mid, found := strings.CutPrefix(s, "socket:[")
		mid, closed := strings.CutSuffix(mid, "]")
		if m, err := strconv.ParseUint(mid, 10, 64); !found || !closed || err != nil || m != n {
			t.Fatalf("socketInode(%q) = %d", s, n)
		}
	})
}

func uitoa(n uint64) string { return strconv.FormatUint(n, 10) }

// fakeProc builds a proc tree: net files, and processes with a status,
// a comm and fd links.
type fakeProc struct {
	t    *testing.T
	root string
}

func newFakeProc(t *testing.T) *fakeProc {
	return &fakeProc{t: t, root: t.TempDir()}
}

func (p *fakeProc) write(name, content string) {
	p.t.Helper()
	path := filepath.Join(p.root, name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		p.t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		p.t.Fatal(err)
	}
}

func (p *fakeProc) process(pid, name string, euid int, sockets ...string) {
	p.t.Helper()
	p.write(pid+"/status", "Name:\t"+name+"\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t"+pid+"\nPid:\t"+pid+
		"\nUid:\t0\t"+uitoa(uint64(euid))+"\t0\t0\nGid:\t0\t0\t0\t0\n")
	p.write(pid+"/comm", name+"\n")
	if err := os.MkdirAll(filepath.Join(p.root, pid, "fd"), 0o755); err != nil {
		p.t.Fatal(err)
	}
	for i, s := range append([]string{"/dev/null", "pipe:[7]"}, sockets...) {
		if err := os.Symlink(s, filepath.Join(p.root, pid, "fd", uitoa(uint64(i)))); err != nil {
			p.t.Fatal(err)
		}
	}
}

const tcpHeader = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"

// The lines are in the kernel's format: addresses as the 32-bit words of
// the address in host byte order (this test assumes a little-endian
// machine, as the kernel's files then are), ports in hex.
const fakeTCP = tcpHeader +
	// 0.0.0.0:22 LISTEN, sshd
	"   0: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 101 1 0 100 0 0 10 0\n" +
	// 127.0.0.1:80 LISTEN, two nginx processes and the fd of a socket-activating init
	"   1: 0100007F:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 102 1 0 100 0 0 10 0\n" +
	// 192.0.2.10:80 <- 198.51.100.7:40000 ESTABLISHED
	"   2: 0A0200C0:0050 076433C6:9C40 01 00000000:00000000 00:00000000 00000000    33        0 201 1 0 100 0 0 10 0\n" +
	// 192.0.2.10:80 <- 198.51.100.7:40001 ESTABLISHED
	"   3: 0A0200C0:0050 076433C6:9C41 01 00000000:00000000 00:00000000 00000000    33        0 202 1 0 100 0 0 10 0\n" +
	// 192.0.2.10:80 <- 203.0.113.9:50000 TIME_WAIT: not a connection
	"   4: 0A0200C0:0050 097100CB:C350 06 00000000:00000000 00:00000000 00000000     0        0 0 1 0 100 0 0 10 0\n" +
	// 192.0.2.10:45000 -> 203.0.113.25:25 SYN_SENT
	"   5: 0A0200C0:AFC8 197100CB:0019 02 00000000:00000000 00:00000000 00000000   100        0 203 1 0 100 0 0 10 0\n" +
	// 192.0.2.10:80 <- 203.0.113.9:50001 SYN_RECV: not yet a connection
	"   6: 0A0200C0:0050 097100CB:C351 03 00000000:00000000 00:00000000 00000000     0        0 0 1 0 100 0 0 10 0\n" +
	// 0.0.0.0:3306 LISTEN, held by nothing visible
	"   7: 00000000:0CEA 00000000:0000 0A 00000000:00000000 00:00000000 00000000   106        0 103 1 0 100 0 0 10 0\n"

const fakeTCP6 = tcpHeader +
	// [::]:22 LISTEN, sshd
	"   0: 00000000000000000000000000000000:0016 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 104 1 0 100 0 0 10 0\n" +
	// [2001:db8::1]:80 <- [2001:db8::2]:41000 ESTABLISHED
	"   1: B80D0120000000000000000001000000:0050 B80D0120000000000000000002000000:A028 01 00000000:00000000 00:00000000 00000000    33        0 204 1 0 100 0 0 10 0\n" +
	// [::ffff:198.51.100.7]:80 <- mapped 198.51.100.7:42000 ESTABLISHED
	"   2: 0000000000000000FFFF00000A0200C0:0050 0000000000000000FFFF0000076433C6:A410 01 00000000:00000000 00:00000000 00000000    33        0 205 1 0 100 0 0 10 0\n"

const udpHeader = "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n"

const fakeUDP = udpHeader +
	// 0.0.0.0:53 unconnected: named
	"  100: 00000000:0035 00000000:0000 07 00000000:00000000 00:00000000 00000000   101        0 301 2 0 0\n" +
	// 192.0.2.10:51000 connected to 192.0.2.1:53: a client
	"  101: 0A0200C0:C738 010200C0:0035 01 00000000:00000000 00:00000000 00000000   101        0 302 2 0 0\n"

func (p *fakeProc) net() {
	p.write("net/tcp", fakeTCP)
	p.write("net/tcp6", fakeTCP6)
	p.write("net/udp", fakeUDP)
	p.process("1", "systemd", 0, "socket:[102]")
	p.process("410", "sshd", 0, "socket:[101]", "socket:[104]")
	p.process("600", "nginx", 0, "socket:[102]")
	p.process("601", "nginx", 33, "socket:[102]", "socket:[201]", "socket:[202]", "socket:[204]", "socket:[205]")
	p.process("700", "named", 101, "socket:[301]")
	p.process("701", "postfix/smtp", 100, "socket:[203]")
}

func TestNetFromFakeProc(t *testing.T) {
	if binary.NativeEndian.Uint16([]byte{1, 0}) != 1 {
		t.Skip("the fake /proc/net files are written for a little-endian machine")
	}
	p := newFakeProc(t)
	p.net()
	s := Sampler{Proc: p.root}
	specs := []Spec{
		{Kind: TCPIn, Ports: []uint16{80}},
		{Kind: TCPOut, Ports: []uint16{25}},
		{Kind: TCPIn, Ports: []uint16{25}},
		{Kind: ListeningTCP},
		{Kind: ListeningUDP},
	}
	want := []Reading{
		{Value: 4, Keys: map[string]uint64{"198.51.100.7": 3, "2001:db8::2": 1}},
		{Value: 1, Keys: map[string]uint64{"203.0.113.25": 1}},
		{Value: 0, Keys: map[string]uint64{}},
		{Value: 5, Keys: map[string]uint64{"22 sshd": 1, "80 nginx": 1, "80 systemd": 1, "3306 -": 1}},
		{Value: 1, Keys: map[string]uint64{"53 named": 1}},
	}
	want[3].Value = float64(len(want[3].Keys))
	for i, r := range s.Sample(specs) {
		if r.Err != nil {
			t.Errorf("%v: %v", specs[i], r.Err)
			continue
		}
		if r.Value != want[i].Value || !maps.Equal(r.Keys, want[i].Keys) {
			t.Errorf("%v: %v %v; want %v %v", specs[i], r.Value, r.Keys, want[i].Value, want[i].Keys)
		}
	}
}

func TestNetWithoutIPv6(t *testing.T) {
	p := newFakeProc(t)
	p.write("net/tcp", tcpHeader)
	p.write("net/udp", udpHeader)
	s := Sampler{Proc: p.root}
	for _, r := range s.Sample([]Spec{{Kind: TCPIn, Ports: []uint16{22}}, {Kind: ListeningUDP}}) {
		if r.Err != nil || r.Value != 0 {
			t.Errorf("%+v", r)
		}
	}
	os.Remove(filepath.Join(p.root, "net/tcp"))
	r := s.Sample([]Spec{{Kind: TCPIn, Ports: []uint16{22}}})[0]
	var oe *Error
	if !errors.As(r.Err, &oe) || oe.Source != filepath.Join(p.root, "net/tcp") || !errors.Is(r.Err, os.ErrNotExist) {
		t.Errorf("missing net/tcp: %v", r.Err)
	}
}

func TestProcsFromFakeProc(t *testing.T) {
	p := newFakeProc(t)
	p.process("1", "systemd", 0)
	p.process("2", "kthreadd", 0)
	p.process("50", "nginx", 33)
	p.process("51", "nginx", 33)
	p.process("60", "bash", 1000)
	p.write("70/comm", "half gone\n") // no status: exited while read
	p.write("self/status", "Name:\tnot a pid\n")
	s := Sampler{Proc: p.root, LookupUser: func(uid uint64) string {
		return map[uint64]string{33: "www-data"}[uid]
	}}
	r := s.Sample([]Spec{{Kind: RootProcs}, {Kind: OtherProcs}})
	if r[0].Err != nil || r[0].Value != 2 || !maps.Equal(r[0].Keys, map[string]uint64{"systemd": 1, "kthreadd": 1}) {
		t.Errorf("rootprocs %+v", r[0])
	}
	if r[1].Err != nil || r[1].Value != 3 || !maps.Equal(r[1].Keys, map[string]uint64{"www-data": 2, "1000": 1}) {
		t.Errorf("otherprocs %+v", r[1])
	}
}

// hungUtmp returns a Sampler whose utmp is a FIFO without a writer (its
// read hangs until release) and whose load average is 0.5.
func hungUtmp(t *testing.T) (*Sampler, string) {
	t.Helper()
	fifo := filepath.Join(t.TempDir(), "utmp")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	p := newFakeProc(t)
	p.write("loadavg", "0.50 0.40 0.30 1/100 4242\n")
	return &Sampler{Proc: p.root, Utmp: fifo}, fifo
}

// release ends the hung read of a FIFO with the bytes b.
func release(t *testing.T, fifo string, b []byte) {
	t.Helper()
	w, err := os.OpenFile(fifo, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(b)
	w.Close()
}

// A source that does not answer delays nothing else, and is not read
// again while its read hangs.
func TestSampleContextHungSource(t *testing.T) {
	s, fifo := hungUtmp(t)
	specs := []Spec{{Kind: Users}, {Kind: LoadAvg}}

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	r := s.SampleContext(ctx, specs)
	cancel()
	// The FIFO never opens: its deadline certainly passes. (Whether the
	// load average was read within it depends on the machine.)
	if !errors.Is(r[0].Err, context.DeadlineExceeded) {
		t.Fatalf("first sample: %+v", r)
	}
	r = s.SampleContext(context.Background(), specs)
	if !errors.Is(r[0].Err, ErrBusy) || r[1].Err != nil || r[1].Value != 0.5 {
		t.Fatalf("while the read hangs: %+v", r)
	}
	release(t, fifo, record(userProcess, 0, "alice"))
	testutil.WaitFor(t, 10*time.Second, "the hung read to end", func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return !s.busy["utmp"]
	})
	file := filepath.Join(t.TempDir(), "utmp")
	if err := os.WriteFile(file, record(userProcess, 0, "bob"), 0o644); err != nil {
		t.Fatal(err)
	}
	s.Utmp = file
	if r := s.Sample(specs); r[0].Err != nil || !maps.Equal(r[0].Keys, map[string]uint64{"bob": 1}) {
		t.Fatalf("after the hang: %+v", r[0])
	}
}

// Start sends each source's part as soon as it is read: a source that
// hangs is late with its own observables only.
func TestStartPartsBySource(t *testing.T) {
	s, fifo := hungUtmp(t)
	parts := s.Start(context.Background(), []Spec{{Kind: Users}, {Kind: LoadAvg}, {Kind: LoadAvg}}, nil)
	first := <-parts
	if !slices.Equal(first.Index, []int{1, 2}) || first.Results[0].Err != nil || first.Results[1].Value != 0.5 {
		t.Fatalf("first part, while the utmp read hangs: %+v", first)
	}
	release(t, fifo, record(userProcess, 0, "alice"))
	second := <-parts
	if !slices.Equal(second.Index, []int{0}) || second.Results[0].Err != nil || !maps.Equal(second.Results[0].Keys, map[string]uint64{"alice": 1}) {
		t.Fatalf("second part: %+v", second)
	}
	if p, more := <-parts; more {
		t.Fatalf("a third part: %+v", p)
	}
}

// A source that does not answer within its limit gives its observables
// DeadlineExceeded; the limit of one source is not another's.
func TestStartLimitBySource(t *testing.T) {
	s, fifo := hungUtmp(t)
	parts := s.Start(context.Background(), []Spec{{Kind: LoadAvg}, {Kind: Users}}, []time.Duration{0, 20 * time.Millisecond})
	got := map[int]Result{}
	for p := range parts {
		for j, i := range p.Index {
			got[i] = p.Results[j]
		}
	}
	if got[0].Err != nil || got[0].Value != 0.5 || !errors.Is(got[1].Err, context.DeadlineExceeded) {
		t.Fatalf("results %+v: want the load average, and the hung utmp past its limit", got)
	}
	release(t, fifo, nil)
}

// TestNetRepeatedRows: a socket whose row the kernel wrote twice in one
// read of its file (it resumes its walk of the tables by position, and the
// tables changed between two pages) is one connection.
func TestNetRepeatedRows(t *testing.T) {
	if binary.NativeEndian.Uint16([]byte{1, 0}) != 1 {
		t.Skip("the fake /proc/net files are written for a little-endian machine")
	}
	p := newFakeProc(t)
	rows := strings.SplitAfter(strings.TrimPrefix(fakeTCP, tcpHeader), "\n")
	// Rows 2 and 3 (two connections to port 80) again, numbered on, as the
	// next page wrote them; and a TIME_WAIT row of the same addresses as
	// row 2, which is another socket.
	again := strings.Replace(rows[2], "   2:", "   8:", 1) + strings.Replace(rows[3], "   3:", "   9:", 1) +
		"  10: 0A0200C0:0050 076433C6:9C40 06 00000000:00000000 00:00000000 00000000     0        0 0 1 0 100 0 0 10 0\n"
	p.write("net/tcp", fakeTCP+again)
	p.write("net/tcp6", fakeTCP6)
	socks, err := Sockets(p.root, true, false)
	if err != nil {
		t.Fatal(err)
	}
	if want := 8 + 3 + 1; len(socks) != want { // the rows of fakeTCP and fakeTCP6, and the TIME_WAIT one
		t.Errorf("%d sockets, want %d: each once, the TIME_WAIT one too", len(socks), want)
	}
	s := Sampler{Proc: p.root}
	r := s.Sample([]Spec{{Kind: TCPIn, Ports: []uint16{80}}})[0]
	if want := map[string]uint64{"198.51.100.7": 3, "2001:db8::2": 1}; r.Err != nil || r.Value != 4 || !maps.Equal(r.Keys, want) {
		t.Errorf("tcp_in 80: %v %v %v; want 4 %v", r.Value, r.Keys, r.Err, want)
	}
}
