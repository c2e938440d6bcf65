package output

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"syscall"

	"github.com/logtally/logtally/rules"
)

// Sink is one line-protocol destination.
type Sink interface {
	// Name identifies the destination, stably across restarts: it names
	// the destination's spool in the state file. It contains only
	// [A-Za-z0-9._-] and never a credential.
	Name() string
	// Send delivers lines, which is newline-terminated line protocol.
	// A nil error means the destination has all of them. An error that
	// wraps ErrRejected means the destination refused the data itself
	// (retrying the same lines cannot succeed); any other error is
	// transient. Part of a failed batch may have been delivered: callers
	// resend, and InfluxDB overwrites an identical point.
	Send(ctx context.Context, lines []byte) error
	// Close releases the destination's resources.
	Close() error
}

// ErrRejected is wrapped by Send errors for data the destination refuses
// as malformed.
var ErrRejected = errors.New("destination rejected the data")

// NewSink returns the destination described by o:
//
//   - "-": standard output;
//   - file:///abs/path: a file, appended to and fsynced per batch, reopened
//     when it was rotated away; the first batch sent to a regular file
//     after it is opened is written only as far as the file does not end
//     with it already (a batch a killed process wrote, and sends again);
//     a FIFO or a character device (/dev/null) is written to without
//     fsync, and a FIFO without a reader is a destination that is down;
//   - udp://host:port: UDP datagrams (InfluxDB's UDP listener), best effort;
//     UDP carries no precision, so o.Precision must match the listener's
//     (InfluxDB's default is ns);
//   - http://host:port or https://…: InfluxDB's HTTP write API, 1.x
//     (/write) or 2.x (/api/v2/write), chosen by o.API or the URL path.
//
// It validates o and opens nothing: a destination that is unreachable now
// is retried by its Sender.
func NewSink(o rules.Output) (Sink, error) {
	s, err := newSink(o)
	if err != nil {
		return nil, fmt.Errorf("%s: output %s: %w", o.Pos, redact(o.URL), err)
	}
	return s, nil
}

func newSink(o rules.Output) (Sink, error) {
	if _, err := ParsePrecision(o.Precision); err != nil {
		return nil, err
	}
	if o.URL == "-" {
		return NewWriterSink("stdout", nopCloser{os.Stdout}), nil
	}
	u, err := url.Parse(o.URL)
	if err != nil {
		return nil, fmt.Errorf("parse url: %w", err)
	}
	switch u.Scheme {
	case "file":
		return newFileSink(u)
	case "udp", "udp4", "udp6":
		return newUDPSink(u)
	case "http", "https":
		return newHTTPSink(u, o)
	case "":
		return nil, errors.New(`no scheme: want "-", file:///path, udp://host:port or http(s)://host:port`)
	}
	return nil, fmt.Errorf("unsupported scheme %q: want file, udp, http or https", u.Scheme)
}

// redact hides a password in a URL that is shown in an error.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	return u.Redacted()
}

// spoolName joins parts into a Sink name, replacing every byte outside
// [A-Za-z0-9._-] with '_'.
func spoolName(parts ...string) string {
	var b strings.Builder
	for i, p := range parts {
		if p == "" {
			continue
		}
		if i > 0 {
			b.WriteByte('-')
		}
		for j := 0; j < len(p); j++ {
			c := p[j]
			switch {
			case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '.', c == '_', c == '-':
				b.WriteByte(c)
			default:
				b.WriteByte('_')
			}
		}
	}
	return b.String()
}

// writerSink writes to an io.Writer.
type writerSink struct {
	name string
	mu   sync.Mutex
	w    io.WriteCloser
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

// NewWriterSink returns a Sink named name that writes to w; Close closes w
// if it is an io.Closer. The "-" output is NewWriterSink("stdout", …) on
// standard output, which Close leaves open.
func NewWriterSink(name string, w io.Writer) Sink {
	wc, ok := w.(io.WriteCloser)
	if !ok {
		wc = nopCloser{w}
	}
	return &writerSink{name: spoolName(name), w: wc}
}

func (s *writerSink) Name() string { return s.name }

func (s *writerSink) Send(_ context.Context, lines []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.w.Write(lines); err != nil {
		return fmt.Errorf("write %s: %w", s.name, err)
	}
	return nil
}

func (s *writerSink) Close() error { return s.w.Close() }

// fileSink appends to a file. The file is opened on the first Send and
// reopened (created if need be) whenever the path no longer names the open
// file, so a log rotator may move it away at any time.
type fileSink struct {
	path string
	name string
	mu   sync.Mutex
	f    *os.File
	// opened is set when f was opened and nothing was sent to it yet:
	// the first batch may be one a killed process wrote already.
	opened bool
}

func newFileSink(u *url.URL) (Sink, error) {
	if u.Host != "" && u.Host != "localhost" {
		return nil, fmt.Errorf("file url has host %q: want file:///absolute/path", u.Host)
	}
	if u.Path == "" || !strings.HasPrefix(u.Path, "/") || strings.HasSuffix(u.Path, "/") {
		return nil, errors.New("want file:///absolute/path to a file")
	}
	return &fileSink{path: u.Path, name: spoolName("file", strings.TrimPrefix(u.Path, "/"))}, nil
}

func (s *fileSink) Name() string { return s.name }

func (s *fileSink) Send(_ context.Context, lines []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.open(); err != nil {
		return fmt.Errorf("open output %s: %w", s.path, err)
	}
	// Only a regular file can be synced and cut back: /dev/null, another
	// character device or a FIFO takes the write as it is.
	var size int64 = -1
	regular := false
	if fi, err := s.f.Stat(); err == nil && fi.Mode().IsRegular() {
		size, regular = fi.Size(), true
	}
	if s.opened && regular {
		lines = lines[s.delivered(size, lines):]
	}
	s.opened = false
	_, err := s.f.Write(lines)
	if err == nil && regular {
		err = s.f.Sync()
	}
	if err != nil {
		// Take back a partial batch (a full disk) so the retry does not
		// leave a torn line behind, then start afresh next time.
		if regular {
			_ = s.f.Truncate(size)
		}
		s.f.Close()
		s.f = nil
		return fmt.Errorf("write output %s: %w", s.path, err)
	}
	return nil
}

// open makes s.f the file at s.path, reopening it if it was moved or
// removed since it was opened.
func (s *fileSink) open() error {
	if s.f != nil {
		cur, err1 := os.Stat(s.path)
		open, err2 := s.f.Stat()
		if err1 == nil && err2 == nil && os.SameFile(cur, open) {
			return nil
		}
		s.f.Close()
		s.f = nil
	}
	flag := os.O_WRONLY | os.O_APPEND | os.O_CREATE
	if fi, err := os.Stat(s.path); err == nil && fi.Mode()&os.ModeNamedPipe != 0 {
		// Opening a FIFO for writing waits for a reader; without one, fail
		// (ENXIO) and retry later, as for any destination that is down.
		// Writes then go through the runtime's poller.
		flag |= syscall.O_NONBLOCK
	}
	f, err := os.OpenFile(s.path, flag, 0o640)
	if err != nil {
		return err
	}
	s.f, s.opened = f, true
	return nil
}

// delivered returns how many leading bytes of lines the file already ends
// with, from the start of a line: the part of a batch that a process
// killed after writing it, before the spool recorded the write, delivered
// already (all of it, some of its records, or a record cut short). The
// batch's points are dated and never written twice, so the same bytes at
// the end of the file are that delivery, not a coincidence. size is the
// size of s.f; a file that cannot be read back is taken to hold none.
func (s *fileSink) delivered(size int64, lines []byte) int {
	n := min(size, int64(len(lines)))
	if n <= 0 {
		return 0
	}
	r, err := os.Open(s.path)
	if err != nil {
		return 0
	}
	defer r.Close()
	if a, err1 := r.Stat(); err1 != nil {
		return 0
	} else if b, err2 := s.f.Stat(); err2 != nil || !os.SameFile(a, b) {
		return 0
	}
	// The tail, and the byte before it, which says whether the tail
	// begins a line.
	lead := int64(0)
	if size > n {
		lead = 1
	}
	buf := make([]byte, n+lead)
	if _, err := r.ReadAt(buf, size-n-lead); err != nil {
		return 0
	}
	tail := buf[lead:]
	for p, lineStart := 0, lead == 0 || buf[0] == '\n'; ; lineStart = true {
		if lineStart && bytes.HasPrefix(lines, tail[p:]) {
			return len(tail) - p
		}
		i := bytes.IndexByte(tail[p:], '\n')
		if i < 0 || p+i+1 == len(tail) {
			return 0
		}
		p += i + 1
	}
}

func (s *fileSink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return nil
	}
	err := s.f.Close()
	s.f = nil
	return err
}

// UDP payload limits. A datagram of at most UDPPayload bytes crosses any
// IPv4 or IPv6 path without fragmentation (1280-byte minimum IPv6 MTU
// less the headers); a longer line is sent alone, up to the UDP maximum.
const (
	UDPPayload    = 1232
	maxUDPPayload = 65507
)

// udpSink sends datagrams of whole lines.
type udpSink struct {
	addr string
	name string
	mu   sync.Mutex
	conn net.Conn
}

func newUDPSink(u *url.URL) (Sink, error) {
	if u.Port() == "" || u.Hostname() == "" {
		return nil, errors.New("want udp://host:port")
	}
	if u.Path != "" && u.Path != "/" {
		return nil, fmt.Errorf("udp url has a path %q", u.Path)
	}
	return &udpSink{addr: u.Host, name: spoolName(u.Scheme, u.Hostname(), u.Port())}, nil
}

func (s *udpSink) Name() string { return s.name }

// Send sends lines as datagrams of whole lines. UDP is fire and forget:
// a nil error means the datagrams left this host, not that they arrived.
func (s *udpSink) Send(_ context.Context, lines []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for line := range bytes.Lines(lines) {
		if len(line) > maxUDPPayload {
			return fmt.Errorf("send %s: line of %d bytes exceeds a datagram: %w", s.addr, len(line), ErrRejected)
		}
	}
	if s.conn == nil {
		c, err := net.Dial("udp", s.addr)
		if err != nil {
			return fmt.Errorf("dial %s: %w", s.addr, err)
		}
		s.conn = c
	}
	for len(lines) > 0 {
		n := datagram(lines, UDPPayload)
		if _, err := s.conn.Write(lines[:n]); err != nil {
			// ECONNREFUSED reports a previous datagram's ICMP error;
			// redial so a listener that moved is found again.
			s.conn.Close()
			s.conn = nil
			return fmt.Errorf("send %s: %w", s.addr, err)
		}
		lines = lines[n:]
	}
	return nil
}

// datagram returns the length of the longest prefix of whole lines of b
// that fits in max bytes, or of the first line if it alone is longer.
func datagram(b []byte, max int) int {
	n := 0
	for line := range bytes.Lines(b) {
		if n > 0 && n+len(line) > max {
			break
		}
		n += len(line)
	}
	return n
}

func (s *udpSink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn == nil {
		return nil
	}
	err := s.conn.Close()
	s.conn = nil
	return err
}
