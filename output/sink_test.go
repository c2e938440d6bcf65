package output

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/logtally/logtally/rules"
)

func TestNewSink(t *testing.T) {
	pos := rules.Pos{File: "/etc/logtally/rules/out.yaml", Line: 7, Col: 5}
	tests := []struct {
		name string
		o    rules.Output
		want string // the sink's name; "" for an error
		errs []string
	}{
		{name: "stdout", o: rules.Output{URL: "-"}, want: "stdout"},
		{name: "file", o: rules.Output{URL: "file:///var/log/logtally/points.lp"}, want: "file-var_log_logtally_points.lp"},
		{name: "file localhost", o: rules.Output{URL: "file://localhost/tmp/x.lp"}, want: "file-tmp_x.lp"},
		{name: "file relative", o: rules.Output{URL: "file://points.lp"}, errs: []string{"file:///absolute/path"}},
		{name: "file directory", o: rules.Output{URL: "file:///var/log/"}, errs: []string{"absolute/path"}},
		{name: "udp", o: rules.Output{URL: "udp://127.0.0.1:8089"}, want: "udp-127.0.0.1-8089"},
		{name: "udp6", o: rules.Output{URL: "udp://[::1]:8089"}, want: "udp-__1-8089"},
		{name: "udp no port", o: rules.Output{URL: "udp://127.0.0.1"}, errs: []string{"udp://host:port"}},
		{name: "v1", o: rules.Output{URL: "http://127.0.0.1:8086", Database: "db"}, want: "http-127.0.0.1-8086-db"},
		{name: "v1 rp", o: rules.Output{URL: "http://127.0.0.1:8086/", Database: "db", RetentionPolicy: "week"}, want: "http-127.0.0.1-8086-db-week"},
		{name: "v1 db from url", o: rules.Output{URL: "http://influx:8086/write?db=logs"}, want: "http-influx-8086-logs"},
		{name: "v1 without db", o: rules.Output{URL: "http://u:s3cret@127.0.0.1:8086"},
			errs: []string{"out.yaml:7:5", "database is required", "u:xxxxx@"}},
		{name: "v2", o: rules.Output{URL: "https://influx.example.com", Org: "ops", Bucket: "logs", Token: "t"}, want: "https-influx.example.com-443-ops-logs"},
		{name: "v2 by path", o: rules.Output{URL: "http://h:8086/api/v2/write?org=o&bucket=b"}, want: "http-h-8086-o-b"},
		{name: "v2 without bucket", o: rules.Output{URL: "http://h:8086", API: "v2", Org: "o"}, errs: []string{"org and bucket"}},
		{name: "bad api", o: rules.Output{URL: "http://h:8086", API: "v3", Database: "d"}, errs: []string{`api "v3"`}},
		{name: "bad precision", o: rules.Output{URL: "-", Precision: "h"}, errs: []string{`precision "h"`}},
		{name: "no scheme", o: rules.Output{URL: "influx:8086"}, errs: []string{"unsupported scheme"}},
		{name: "empty", o: rules.Output{URL: ""}, errs: []string{"no scheme"}},
		{name: "ftp", o: rules.Output{URL: "ftp://h/x"}, errs: []string{`unsupported scheme "ftp"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.o.Pos = pos
			s, err := NewSink(tc.o)
			if tc.want == "" {
				if err == nil {
					t.Fatalf("NewSink(%+v) = %s, want an error", tc.o, s.Name())
				}
				for _, e := range tc.errs {
					if !strings.Contains(err.Error(), e) {
						t.Errorf("error %q does not contain %q", err, e)
					}
				}
				if strings.Contains(err.Error(), "s3cret") {
					t.Errorf("error %q shows the password", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("NewSink: %v", err)
			}
			defer s.Close()
			if s.Name() != tc.want {
				t.Errorf("Name() = %q, want %q", s.Name(), tc.want)
			}
		})
	}
}

// request is what a test HTTP server saw.
type request struct {
	method, path string
	query        url.Values
	header       http.Header
	body         string // decompressed
	gzipped      bool
}

// recorder is an httptest handler that records requests and answers with
// the statuses of replies in turn (204 once they run out).
type recorder struct {
	reqs    chan request
	replies chan int
	t       *testing.T
}

func newRecorder(t *testing.T, replies ...int) (*recorder, *httptest.Server) {
	r := &recorder{reqs: make(chan request, 100), replies: make(chan int, len(replies)), t: t}
	for _, c := range replies {
		r.replies <- c
	}
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return r, srv
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	var body io.Reader = req.Body
	gz := req.Header.Get("Content-Encoding") == "gzip"
	if gz {
		zr, err := gzip.NewReader(req.Body)
		if err != nil {
			r.t.Errorf("body is not gzip: %v", err)
			w.WriteHeader(500)
			return
		}
		body = zr
	}
	b, err := io.ReadAll(body)
	if err != nil {
		r.t.Errorf("read body: %v", err)
	}
	r.reqs <- request{req.Method, req.URL.Path, req.URL.Query(), req.Header.Clone(), string(b), gz}
	code := http.StatusNoContent
	select {
	case code = <-r.replies:
	default:
	}
	if code == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", "7")
	}
	w.WriteHeader(code)
	if code != http.StatusNoContent {
		io.WriteString(w, `{"error":"partial write: unable to parse 'x\u0000': bad"}`)
	}
}

func TestHTTPv1Wire(t *testing.T) {
	for _, gz := range []bool{false, true} {
		t.Run(map[bool]string{false: "plain", true: "gzip"}[gz], func(t *testing.T) {
			rec, srv := newRecorder(t)
			s, err := NewSink(rules.Output{URL: srv.URL + "/influx/", Database: "logs", RetentionPolicy: "week",
				Username: "writer", Password: "p&ss=", Precision: "ms", Gzip: gz})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			lines := "m,host=a value=1 1700000000000\nm,host=a value=2 1700000001000\n"
			if err := s.Send(context.Background(), []byte(lines)); err != nil {
				t.Fatalf("Send: %v", err)
			}
			r := <-rec.reqs
			want := url.Values{"db": {"logs"}, "rp": {"week"}, "precision": {"ms"}}
			if r.method != "POST" || r.path != "/influx/write" || r.query.Encode() != want.Encode() {
				t.Errorf("request %s %s?%s, want POST /influx/write?%s", r.method, r.path, r.query.Encode(), want.Encode())
			}
			req := http.Request{Header: r.header}
			if u, p, ok := req.BasicAuth(); !ok || u != "writer" || p != "p&ss=" {
				t.Errorf("basic auth = %q %q %v, want writer p&ss=", u, p, ok)
			}
			if r.body != lines || r.gzipped != gz {
				t.Errorf("body %q (gzip %v), want %q (gzip %v)", r.body, r.gzipped, lines, gz)
			}
		})
	}
}

// InfluxDB 2.x is not packaged for Debian and 1.6.7 has no /api/v2/write,
// so the v2 wire format is checked against this test server: the path, the
// query parameters, the token, the gzip body and the precision.
func TestHTTPv2Wire(t *testing.T) {
	for _, gz := range []bool{false, true} {
		t.Run(map[bool]string{false: "plain", true: "gzip"}[gz], func(t *testing.T) {
			rec, srv := newRecorder(t)
			s, err := NewSink(rules.Output{URL: srv.URL, Org: "my org", Bucket: "logs/week", Token: "tok==",
				Precision: "ns", Gzip: gz})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			lines := "m value=1 1700000000000000000\n"
			if err := s.Send(context.Background(), []byte(lines)); err != nil {
				t.Fatalf("Send: %v", err)
			}
			r := <-rec.reqs
			want := url.Values{"org": {"my org"}, "bucket": {"logs/week"}, "precision": {"ns"}}
			if r.path != "/api/v2/write" || r.query.Encode() != want.Encode() {
				t.Errorf("request %s?%s, want /api/v2/write?%s", r.path, r.query.Encode(), want.Encode())
			}
			if got := r.header.Get("Authorization"); got != "Token tok==" {
				t.Errorf("Authorization = %q, want Token tok==", got)
			}
			if got := r.header.Get("Content-Type"); got != "text/plain; charset=utf-8" {
				t.Errorf("Content-Type = %q", got)
			}
			if r.body != lines || r.gzipped != gz {
				t.Errorf("body %q (gzip %v), want %q (gzip %v)", r.body, r.gzipped, lines, gz)
			}
		})
	}
}

// TestHTTPv1CredentialsNeverInURL checks that credentials given in the URL
// (user info, or u= and p= in the query) travel in the Authorization
// header, where proxies do not log them, and never in the request URL.
func TestHTTPv1CredentialsNeverInURL(t *testing.T) {
	rec, srv := newRecorder(t)
	tests := []struct {
		url, user, pass string
	}{
		{strings.Replace(srv.URL, "://", "://ann:s3cret@", 1) + "?db=d", "ann", "s3cret"},
		{srv.URL + "/write?db=d&u=bob&p=s3cret", "bob", "s3cret"},
	}
	for _, tc := range tests {
		s, err := NewSink(rules.Output{URL: tc.url})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Send(context.Background(), []byte("m v=1\n")); err != nil {
			t.Fatal(err)
		}
		r := <-rec.reqs
		req := http.Request{Header: r.header}
		if u, p, ok := req.BasicAuth(); !ok || u != tc.user || p != tc.pass {
			t.Errorf("%s: basic auth %q %q, want %q %q", tc.url, u, p, tc.user, tc.pass)
		}
		if strings.Contains(r.query.Encode(), "s3cret") || strings.Contains(s.Name(), "s3cret") {
			t.Errorf("%s: password in the request URL %q or name %q", tc.url, r.query.Encode(), s.Name())
		}
		s.Close()
	}
}

func TestHTTPErrors(t *testing.T) {
	tests := []struct {
		code       int
		rejected   bool
		retryAfter time.Duration
	}{
		{400, true, 0},
		{413, true, 0},
		{422, true, 0},
		{401, false, 0},
		{403, false, 0},
		{404, false, 0},
		{429, false, 7 * time.Second},
		{500, false, 0},
		{503, false, 0},
	}
	for _, tc := range tests {
		t.Run(http.StatusText(tc.code), func(t *testing.T) {
			_, srv := newRecorder(t, tc.code)
			s, err := NewSink(rules.Output{URL: srv.URL, Database: "db"})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			err = s.Send(context.Background(), []byte("m v=1\n"))
			var he *HTTPError
			if !errors.As(err, &he) || he.StatusCode != tc.code {
				t.Fatalf("Send = %v, want an HTTPError %d", err, tc.code)
			}
			if errors.Is(err, ErrRejected) != tc.rejected {
				t.Errorf("errors.Is(ErrRejected) = %v, want %v", !tc.rejected, tc.rejected)
			}
			if he.RetryAfter != tc.retryAfter {
				t.Errorf("RetryAfter = %v, want %v", he.RetryAfter, tc.retryAfter)
			}
			if he.Message != "partial write: unable to parse 'x\uFFFD': bad" {
				t.Errorf("Message = %q", he.Message)
			}
		})
	}
}

func TestHTTPUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	s, err := NewSink(rules.Output{URL: "http://" + addr, Database: "db", Password: "s3cret", Username: "u"})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Send(context.Background(), []byte("m v=1\n"))
	if err == nil || errors.Is(err, ErrRejected) {
		t.Fatalf("Send = %v, want a transient error", err)
	}
	if strings.Contains(err.Error(), "s3cret") {
		t.Errorf("error %q shows the password", err)
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		h    string
		want time.Duration
	}{
		{"", 0},
		{"30", 30 * time.Second},
		{"-1", 0},
		{"soon", 0},
		{"Mon, 01 Jan 2024 00:01:00 GMT", time.Minute},
		{"Sun, 31 Dec 2023 00:00:00 GMT", 0},
	}
	for _, tc := range tests {
		if got := retryAfter(tc.h, now); got != tc.want {
			t.Errorf("retryAfter(%q) = %v, want %v", tc.h, got, tc.want)
		}
	}
}

func TestFileSinkFollowsRotation(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out", "points.lp")
	s, err := NewSink(rules.Output{URL: "file://" + path})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()

	// The directory does not exist yet: an error, not a crash, and the
	// next Send succeeds once it does.
	if err := s.Send(ctx, []byte("a v=1\n")); err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("Send into a missing directory = %v, want an error naming %s", err, path)
	}
	if err := os.Mkdir(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		before func()
		lines  string
	}{
		{nil, "a v=1\n"},
		{nil, "a v=2\na v=3\n"},
		{func() { mustRename(t, path, path+".1") }, "a v=4\n"},
		{func() { mustRemove(t, path) }, "a v=5\n"},
		{func() { mustWrite(t, path, "") }, "a v=6\n"}, // truncated in place (copytruncate)
	}
	for _, st := range steps {
		if st.before != nil {
			st.before()
		}
		if err := s.Send(ctx, []byte(st.lines)); err != nil {
			t.Fatalf("Send %q: %v", st.lines, err)
		}
	}
	for file, want := range map[string]string{path + ".1": "a v=1\na v=2\na v=3\n", path: "a v=6\n"} {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != want {
			t.Errorf("%s = %q, want %q", file, b, want)
		}
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o640 {
		t.Errorf("mode %v, want 0640", fi.Mode().Perm())
	}
}

// TestFileSinkResendAfterCrash: a process killed after writing a batch to
// a file and before the spool recorded it (kill -9 between the two) sends
// the batch again when it restarts. The file already ends with all of it,
// a part of its records, or a torn part of a record (a write cut short):
// a new sink writes only what the file lacks, so that every point is in
// the file once. Text that merely looks alike in the middle of a line is
// not taken for a delivered record.
func TestFileSinkResendAfterCrash(t *testing.T) {
	const prev = "a v=1 100\n"
	const batch = "a v=2 200\nb v=2 200\na v=3 300\n"
	cases := []struct {
		name, file, want string
	}{
		{"nothing delivered", prev, prev + batch},
		{"all delivered", prev + batch, prev + batch},
		{"first record delivered", prev + "a v=2 200\n", prev + batch},
		{"torn record", prev + "a v=2 200\nb v=", prev + batch},
		{"empty file", "", batch},
		{"the whole file is the batch", batch, batch},
		{"alike in mid-line", "xa v=2 200\n", "xa v=2 200\n" + batch},
		{"an earlier point, not the batch", "b v=2 200\n" + prev, "b v=2 200\n" + prev + batch},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "points.lp")
			mustWrite(t, path, c.file)
			s, err := NewSink(rules.Output{URL: "file://" + path})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if err := s.Send(context.Background(), []byte(batch)); err != nil {
				t.Fatal(err)
			}
			// The sink's next batches are new: written whole.
			if err := s.Send(context.Background(), []byte("a v=4 400\n")); err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != c.want+"a v=4 400\n" {
				t.Errorf("file = %q, want %q", b, c.want+"a v=4 400\n")
			}
		})
	}
}

// TestFileSinkFullDisk writes to /dev/full, where every write fails with
// ENOSPC: Send reports it and keeps working.
func TestFileSinkFullDisk(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full")
	}
	s, err := NewSink(rules.Output{URL: "file:///dev/full"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for range 2 {
		if err := s.Send(context.Background(), []byte("a v=1\n")); err == nil || !strings.Contains(err.Error(), "no space") {
			t.Fatalf("Send = %v, want ENOSPC", err)
		}
	}
}

// TestFileSinkSpecialFiles: a character device takes writes without an
// fsync it does not support; a FIFO without a reader is a destination that
// is down (Send fails at once, never waits), and once a reader opens it,
// it gets the lines.
func TestFileSinkSpecialFiles(t *testing.T) {
	s, err := NewSink(rules.Output{URL: "file:///dev/null"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for range 2 {
		if err := s.Send(context.Background(), []byte("a v=1\n")); err != nil {
			t.Fatalf("Send to /dev/null = %v, want nil", err)
		}
	}

	fifo := filepath.Join(t.TempDir(), "points.fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	s, err = NewSink(rules.Output{URL: "file://" + fifo})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Send(context.Background(), []byte("a v=1\n")); err == nil {
		t.Fatal("Send to a FIFO without a reader succeeded")
	}
	r, err := os.OpenFile(fifo, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := s.Send(context.Background(), []byte("a v=2\n")); err != nil {
		t.Fatalf("Send to a FIFO with a reader = %v", err)
	}
	buf := make([]byte, 64)
	n, err := r.Read(buf)
	if err != nil || string(buf[:n]) != "a v=2\n" {
		t.Fatalf("read from the FIFO %q, %v; want the line sent", buf[:n], err)
	}
}

func mustRename(t *testing.T, from, to string) {
	t.Helper()
	if err := os.Rename(from, to); err != nil {
		t.Fatal(err)
	}
}

func mustRemove(t *testing.T, path string) {
	t.Helper()
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
}

func mustWrite(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o640); err != nil {
		t.Fatal(err)
	}
}

func TestUDPSinkDatagrams(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	s, err := NewSink(rules.Output{URL: "udp://" + pc.LocalAddr().String()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	var lines bytes.Buffer
	for i := range 100 {
		lines.WriteString("probe,host=web1,user=u")
		lines.WriteString(strings.Repeat("x", i))
		lines.WriteString(" value=1 1700000000\n")
	}
	long := "long s=\"" + strings.Repeat("y", 3000) + "\" 1700000000\n"
	lines.WriteString(long)
	lines.WriteString("last v=1 1700000000\n")
	if err := s.Send(context.Background(), lines.Bytes()); err != nil {
		t.Fatalf("Send: %v", err)
	}

	var got bytes.Buffer
	buf := make([]byte, 1<<16)
	_ = pc.SetReadDeadline(time.Now().Add(10 * time.Second))
	for got.Len() < lines.Len() {
		n, _, err := pc.ReadFrom(buf)
		if err != nil {
			t.Fatalf("read datagram after %d of %d bytes: %v", got.Len(), lines.Len(), err)
		}
		d := buf[:n]
		if n == 0 || d[n-1] != '\n' {
			t.Fatalf("datagram does not end a line: %q", d)
		}
		if n > UDPPayload && (bytes.Count(d, []byte("\n")) != 1 || string(d) != long) {
			t.Fatalf("datagram of %d bytes > %d holds more than the one long line", n, UDPPayload)
		}
		got.Write(d)
	}
	if got.String() != lines.String() {
		t.Fatalf("datagrams do not add up to the lines sent")
	}

	huge := "huge s=\"" + strings.Repeat("z", maxUDPPayload) + "\"\n"
	if err := s.Send(context.Background(), []byte("ok v=1\n"+huge)); !errors.Is(err, ErrRejected) {
		t.Fatalf("Send of a line longer than a datagram = %v, want ErrRejected", err)
	}
}

func TestDatagram(t *testing.T) {
	tests := []struct {
		in   string
		max  int
		want int
	}{
		{"", 10, 0},
		{"ab\n", 10, 3},
		{"ab\ncd\n", 10, 6},
		{"ab\ncd\nef\n", 6, 6},
		{"ab\ncd\nef\n", 7, 6},
		{"abcdefghij\nk\n", 4, 11}, // an overlong first line goes alone
		{"a\nbcdefghij\n", 4, 2},
		{"abc", 10, 3}, // no final newline
	}
	for _, tc := range tests {
		if got := datagram([]byte(tc.in), tc.max); got != tc.want {
			t.Errorf("datagram(%q, %d) = %d, want %d", tc.in, tc.max, got, tc.want)
		}
	}
}

func TestWriterSink(t *testing.T) {
	var buf bytes.Buffer
	s := NewWriterSink("test out", &buf)
	if s.Name() != "test_out" {
		t.Errorf("Name = %q", s.Name())
	}
	if err := s.Send(context.Background(), []byte("m v=1\n")); err != nil || buf.String() != "m v=1\n" {
		t.Fatalf("Send = %v, wrote %q", err, buf.String())
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}
