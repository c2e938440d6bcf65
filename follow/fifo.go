package follow

import (
	"fmt"
	"os"
	"sync/atomic"

	"github.com/logtally/logtally/lines"
)

// fifoReader reads a named pipe in its own goroutine: reading a FIFO
// blocks, and must not hold up the files.
type fifoReader struct {
	id      fileID
	f       *os.File
	src     *pollSource
	done    chan struct{} // closed when the reader has returned
	stopped atomic.Bool   // set before f is closed on purpose
}

// startFIFO opens the FIFO at t's name and starts its reader. It is opened
// read-write: then opening never waits for a writer, and the reader never
// sees end-of-file when one writer closes and the next has not yet opened,
// so several writers one after the other form one stream. Its position is
// not saved (Batch.End is zero): a FIFO keeps nothing to resume from.
func (s *scanner) startFIFO(t *tracked) {
	f, err := os.OpenFile(t.path, os.O_RDWR, 0)
	if err != nil {
		s.reportErr(t, "open fifo", err)
		return
	}
	fi, err := f.Stat()
	if err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		f.Close() // replaced between stat and open: look again at the next check
		return
	}
	src, err := newPollSource(f)
	if err != nil {
		f.Close()
		s.reportErr(t, "open fifo", err)
		return
	}
	t.errKey, t.startup = "", false
	id, _ := idOf(fi)
	fr := &fifoReader{id: id, f: f, src: src, done: make(chan struct{})}
	t.fifo = fr
	s.event(Event{Kind: EventOpen, Source: t.path, Path: t.path, Detail: "fifo opened"})

	source, sk, max := t.path, s.sink, s.cfg.MaxLine
	go func() {
		defer close(fr.done)
		var b batcher
		r := lines.NewReader(src, 0, max)
		err := pump(r, src, &b, func() { sk.deliver(&b, source, Position{}) }, nil)
		if err != nil && !fr.stopped.Load() {
			sk.stats.update(source, func(st *SourceStats) { st.OpenErrors++ })
			sk.event(Event{Kind: EventOpenError, Source: source, Path: source,
				Err: fmt.Errorf("read fifo: %w", err), Detail: "reopened at the next check"})
		}
	}()
}

// exited reports whether the reader returned by itself (a read error).
func (fr *fifoReader) exited() bool {
	select {
	case <-fr.done:
		return true
	default:
		return false
	}
}

// stopFIFO closes t's FIFO, which ends its reader, and waits for it.
func (s *scanner) stopFIFO(t *tracked) {
	fr := t.fifo
	t.fifo = nil
	fr.stopped.Store(true)
	fr.f.Close()
	<-fr.done
}

// fifoMark is a FIFO reader and how often it had waited on an empty pipe
// when a Sync was served.
type fifoMark struct {
	fr    *fifoReader
	parks uint64
}

// fifoMarks returns a mark for every FIFO being read.
func (s *scanner) fifoMarks() []fifoMark {
	var out []fifoMark
	for _, t := range s.tracked {
		if t.fifo != nil {
			out = append(out, fifoMark{fr: t.fifo, parks: t.fifo.src.parks.Load()})
		}
	}
	return out
}

// caughtUp reports whether everything written to the FIFO before m was
// taken has been delivered (or the reader has stopped).
func (m fifoMark) caughtUp() bool {
	return m.fr.exited() || m.fr.src.idleSince(m.parks)
}
