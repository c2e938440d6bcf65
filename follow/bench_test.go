package follow

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// countHandler counts lines and nothing else.
type countHandler struct {
	mu    sync.Mutex
	lines int
}

func (c *countHandler) Batch(b *Batch) {
	c.mu.Lock()
	c.lines += len(b.Lines)
	c.mu.Unlock()
}

func (c *countHandler) Event(Event) {}

// benchLog writes n sshd-like lines to a new file and returns its path and
// size.
func benchLog(b *testing.B, n int) (string, int64) {
	b.Helper()
	line := "Mar  1 12:00:00 host sshd[1234]: Invalid user admin from 203.0.113.7 port 52144\n"
	fn := filepath.Join(b.TempDir(), "auth.log")
	if err := os.WriteFile(fn, []byte(strings.Repeat(line, n)), 0o644); err != nil {
		b.Fatal(err)
	}
	return fn, int64(len(line) * n)
}

// BenchmarkFollowAppended measures how fast a check delivers lines appended
// to a followed file.
func BenchmarkFollowAppended(b *testing.B) {
	const n = 100_000
	fn, size := benchLog(b, n)
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		files, err := NewFiles(FileConfig{Paths: []string{fn}, Start: "beginning", Watch: "poll", Clock: newFakeClock()})
		if err != nil {
			b.Fatal(err)
		}
		var c countHandler
		s := scannerOf(files, &c)
		for s.scan(true); s.more; s.scan(false) {
		}
		s.closeAll()
		if c.lines != n {
			b.Fatalf("%d lines, want %d", c.lines, n)
		}
	}
}

// BenchmarkFollowLineByLine measures the cost of one check that finds one
// new line in a large followed file: the content checks (head, sampled
// windows, tail) and the read, as when a log grows a line at a time.
func BenchmarkFollowLineByLine(b *testing.B) {
	fn, _ := benchLog(b, 100_000)
	files, err := NewFiles(FileConfig{Paths: []string{fn}, Start: "end", Watch: "poll", Clock: newFakeClock()})
	if err != nil {
		b.Fatal(err)
	}
	var c countHandler
	s := scannerOf(files, &c)
	defer s.closeAll()
	s.scan(true)
	w, err := os.OpenFile(fn, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	line := []byte("Mar  1 12:00:01 host sshd[1234]: Accepted publickey for root from 203.0.113.9 port 52145\n")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := w.Write(line); err != nil {
			b.Fatal(err)
		}
		s.scan(false)
	}
	if c.lines != b.N {
		b.Fatalf("%d lines, want %d", c.lines, b.N)
	}
}

// BenchmarkReadWhole measures a whole-file read (track_growing_file: false).
func BenchmarkReadWhole(b *testing.B) {
	const n = 100_000
	fn, size := benchLog(b, n)
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		var c countHandler
		if err := ReadWhole(fn, 0, &c); err != nil {
			b.Fatal(err)
		}
		if c.lines != n {
			b.Fatalf("%d lines, want %d", c.lines, n)
		}
	}
}

// BenchmarkPipe measures reading a command's output.
func BenchmarkPipe(b *testing.B) {
	const n = 100_000
	fn, size := benchLog(b, n)
	p, err := NewPipe(PipeConfig{Argv: []string{"cat", fn}, Mode: "interval"})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		var c countHandler
		if err := p.RunOnce(context.Background(), &c); err != nil {
			b.Fatal(err)
		}
		if c.lines != n {
			b.Fatalf("%d lines, want %d", c.lines, n)
		}
	}
}

// BenchmarkResolveGlob measures a check's expansion of a glob in a
// directory of 1,000 files (10 logs, each with 99 rotated files): the
// glob match and the listing of the directory's identities that a log
// joining the glob is compared with.
func BenchmarkResolveGlob(b *testing.B) {
	dir := b.TempDir()
	for i := 0; i < 10; i++ {
		base := filepath.Join(dir, "app"+strings.Repeat("x", i)+".log")
		if err := os.WriteFile(base, nil, 0o644); err != nil {
			b.Fatal(err)
		}
		for n := 1; n < 100; n++ {
			if err := os.WriteFile(base+"."+strconv.Itoa(n)+".gz", nil, 0o644); err != nil {
				b.Fatal(err)
			}
		}
	}
	s := newScanner(FileConfig{Paths: []string{filepath.Join(dir, "*.log")}}, nil, func() bool { return false })
	s.resolve()
	s.started = true
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s.resolve()
	}
}
