package follow

import (
	"errors"
	"io"
	"os"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/logtally/logtally/lines"
)

// pollSource reads a pipe or FIFO through the runtime's poller. While block
// is false a read that would block returns no data, which lines.Reader
// reports as io.EOF ("nothing more for now"), so that lines already read
// are delivered before waiting for more. eof is set at the real end of
// the stream (every writer closed).
//
// A read deadline (set on the file once a command's process group is dead)
// only cuts off waiting: data already in the pipe is still read, however
// long the Handler takes with it.
type pollSource struct {
	f     *os.File
	rc    syscall.RawConn
	block bool
	eof   bool

	// What the reader is doing, for Files.Sync on FIFOs (read from other
	// goroutines): reads counts read attempts; parks counts the times the
	// reader went to wait on an empty pipe with every complete line it had
	// read delivered (block set); parked is true while it waits so.
	reads  atomic.Uint64
	parks  atomic.Uint64
	parked atomic.Bool
}

func newPollSource(f *os.File) (*pollSource, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return nil, err
	}
	return &pollSource{f: f, rc: rc}, nil
}

// Read implements io.Reader.
func (s *pollSource) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	n, again, err := s.read(p, s.block)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		// Waiting is over, but take what is already there.
		_ = s.f.SetReadDeadline(time.Time{})
		n, again, err = s.read(p, false)
		switch {
		case err == nil && again:
			err = os.ErrDeadlineExceeded
		case err == nil:
			_ = s.f.SetReadDeadline(time.Now().Add(drainAfterKill))
		}
	}
	switch {
	case err != nil:
		return 0, err
	case again:
		return 0, nil
	case n == 0:
		s.eof = true
		return 0, io.EOF
	}
	return n, nil
}

// read does one read(2); with wait it waits for data, else again reports
// that none was ready.
func (s *pollSource) read(p []byte, wait bool) (n int, again bool, err error) {
	var rerr error
	err = s.rc.Read(func(fd uintptr) bool {
		s.parked.Store(false)
		s.reads.Add(1)
		for {
			n, rerr = syscall.Read(int(fd), p)
			if !errors.Is(rerr, syscall.EINTR) {
				break
			}
		}
		again = false
		if errors.Is(rerr, syscall.EAGAIN) {
			if wait {
				s.parks.Add(1)
				s.parked.Store(true)
				return false // wait until readable
			}
			again = true
		}
		return true
	})
	if err != nil {
		return 0, false, err
	}
	if again {
		return 0, true, nil
	}
	if rerr != nil {
		return 0, false, rerr
	}
	return n, false, nil
}

// idleSince reports whether the reader has, since parks was parks0, been
// waiting on an empty pipe with every complete line delivered: then
// everything written to the pipe before parks0 was taken has been
// delivered.
func (s *pollSource) idleSince(parks0 uint64) bool {
	if s.parks.Load() > parks0 {
		return true // it waited on an empty pipe after parks0
	}
	if !s.parked.Load() {
		return false
	}
	// Waiting since before parks0: idle if nothing has arrived since, which
	// holds if the pipe is empty while no read happened in between.
	reads := s.reads.Load()
	n := -1
	if err := s.rc.Control(func(fd uintptr) {
		// TIOCINQ is FIONREAD: the bytes waiting in the pipe.
		if v, err := unix.IoctlGetInt(int(fd), unix.TIOCINQ); err == nil {
			n = v
		}
	}); err != nil {
		return false
	}
	return n == 0 && s.parked.Load() && s.reads.Load() == reads
}

// pump reads lines from r (over src) and delivers them in batches through
// deliver until the stream ends or fails. A batch is handed over as soon as
// no more data is ready, so lines are never held back while the reader
// waits. When the stream ends, its partial last line is delivered as a
// complete one: the stream is complete. onLine, when not nil, is called
// after each line with the total stream bytes read so far and may return
// false to stop reading.
func pump(r *lines.Reader, src *pollSource, b *batcher, deliver func(), onLine func(total int64) bool) error {
	var total int64
	add := func(line []byte, cut bool, before int64) bool {
		n := r.Offset() - before
		total += n
		b.add(line, cut, n)
		if b.full() {
			deliver()
		}
		return onLine == nil || onLine(total)
	}
	for {
		src.block = b.empty()
		before := r.Offset()
		line, cut, err := r.Next()
		if err == nil {
			if !add(line, cut, before) {
				deliver()
				return nil
			}
			continue
		}
		if errors.Is(err, io.EOF) && !src.eof {
			deliver()
			continue
		}
		if errors.Is(err, io.EOF) {
			before := r.Offset()
			if line, cut, ok := r.Final(); ok {
				add(line, cut, before)
			}
			deliver()
			return nil
		}
		deliver()
		return err
	}
}
