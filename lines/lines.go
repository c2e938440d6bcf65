// Package lines splits a byte stream into log lines the way logtally counts
// them: a line ends at '\n'; one '\r' before the '\n' is stripped; a line
// longer than the limit is cut to the limit and counted as cut, and its
// excess bytes are skipped without being held in memory; a final line
// without a newline is returned only when the caller says the stream is
// complete (Final), because a followed file's partial last line must wait
// for its newline. Invalid UTF-8 is passed through untouched.
//
// Offset tracks the stream offset just after the last line returned, so that
// a position committed with a sample always falls on a line boundary.
//
// Next returns one line at a time; NextBlock returns every complete line
// that is buffered at once, as they are in the stream, for a matcher that
// searches many lines in one pass. Both follow the same rules and can be
// mixed.
package lines

import (
	"bytes"
	"errors"
	"io"
)

// DefaultMax is the default line length limit in bytes.
const DefaultMax = 64 << 10

// minRead is the smallest read issued to the source.
const minRead = 32 << 10

// Stats counts what a Reader has seen.
type Stats struct {
	Lines uint64 // lines returned, cut ones included
	Bytes uint64 // bytes consumed by returned lines, newlines included
	Cut   uint64 // lines longer than the limit, returned cut
}

// Reader splits lines from a source. It is not safe for concurrent use.
type Reader struct {
	src io.Reader
	max int

	buf        []byte
	start, end int   // unconsumed data is buf[start:end]
	offset     int64 // stream offset of buf[start]

	// A line longer than max: its first max bytes are kept in long, and
	// skipped counts the bytes dropped after them.
	inLong  bool
	long    []byte
	skipped int64

	stats Stats
	err   error // sticky non-EOF error from src
}

// NewReader returns a Reader over src whose first byte is at stream offset
// offset. max <= 0 means DefaultMax.
func NewReader(src io.Reader, offset int64, max int) *Reader {
	if max <= 0 {
		max = DefaultMax
	}
	size := max + 1
	if size < minRead*2 {
		size = minRead * 2
	}
	return &Reader{src: src, max: max, buf: make([]byte, size), offset: offset}
}

// Reset points the Reader at a new source starting at offset and drops any
// partial line. Stats are kept.
func (r *Reader) Reset(src io.Reader, offset int64) {
	r.src = src
	r.start, r.end = 0, 0
	r.offset = offset
	r.inLong, r.long, r.skipped = false, r.long[:0], 0
	r.err = nil
}

// Offset returns the stream offset just after the last line returned.
func (r *Reader) Offset() int64 { return r.offset }

// Pending returns the number of bytes of an incomplete last line that have
// been read but not returned.
func (r *Reader) Pending() int64 {
	n := int64(r.end - r.start)
	if r.inLong {
		n += int64(len(r.long)) + r.skipped
	}
	return n
}

// Stats returns the counters.
func (r *Reader) Stats() Stats { return r.stats }

// Max returns the line length limit.
func (r *Reader) Max() int { return r.max }

// Next returns the next complete line without its line ending. The slice is
// valid until the next call. cut reports that the line was longer than the
// limit. When no complete line is available Next returns io.EOF (the source
// is at its end for now; more may come) or the source's error.
func (r *Reader) Next() (line []byte, cut bool, err error) {
	for {
		if i := bytes.IndexByte(r.buf[r.start:r.end], '\n'); i >= 0 {
			raw := r.buf[r.start : r.start+i]
			r.start += i + 1
			if r.inLong {
				n := int64(len(r.long)) + r.skipped + int64(i) + 1
				line = r.long
				r.inLong, r.long, r.skipped = false, r.long[:0], 0
				return r.emit(line, n, true)
			}
			return r.emit(raw, int64(i)+1, false)
		}
		r.absorbLong()
		if r.err != nil {
			return nil, false, r.err
		}
		if err := r.fill(); err != nil {
			return nil, false, err
		}
	}
}

// Block is a run of complete lines returned by NextBlock.
type Block struct {
	// Data holds the lines as they are in the stream, each ended by
	// '\n'; a '\r' before the '\n' is still there, though it is not part
	// of the line. No line of Data is longer than the limit. When Cut is
	// set, Data is instead one line that was longer than the limit, cut
	// to it, without its line ending (as Next returns it).
	Data []byte
	// Lines is the number of lines in Data.
	Lines int
	// Cut reports that Data is one line, cut.
	Cut bool
	// Offset is the stream offset of the first byte of Data.
	Offset int64
}

// NextBlock returns the complete lines that are buffered, reading more
// when none is: at least one line, and at most one buffer (64 KiB, or the
// limit if larger). A line longer than the limit comes alone, cut, in a
// Block with Cut set. Data is valid until the next call. When no complete
// line is available NextBlock returns io.EOF (more may come) or the
// source's error, as Next does.
func (r *Reader) NextBlock() (Block, error) {
	for {
		pending := r.buf[r.start:r.end]
		if r.inLong {
			if i := bytes.IndexByte(pending, '\n'); i >= 0 {
				off := r.offset
				n := int64(len(r.long)) + r.skipped + int64(i) + 1
				line := r.long
				r.start += i + 1
				r.inLong, r.long, r.skipped = false, r.long[:0], 0
				line, _, _ = r.emit(line, n, true)
				return Block{Data: line, Lines: 1, Cut: true, Offset: off}, nil
			}
		} else if last := bytes.LastIndexByte(pending, '\n'); last >= 0 {
			data := pending[:last+1]
			if len(data)-1 > r.max {
				// A line may be longer than the limit: the block stops
				// before the first such line, which comes alone.
				data = data[:r.shortLines(data)]
				if len(data) == 0 {
					off := r.offset
					line, cut, err := r.Next()
					return Block{Data: line, Lines: 1, Cut: cut, Offset: off}, err
				}
			}
			off := r.offset
			n := bytes.Count(data, []byte{'\n'})
			r.start += len(data)
			r.offset += int64(len(data))
			r.stats.Lines += uint64(n)
			r.stats.Bytes += uint64(len(data))
			return Block{Data: data, Lines: n, Offset: off}, nil
		}
		r.absorbLong()
		if r.err != nil {
			return Block{}, r.err
		}
		if err := r.fill(); err != nil {
			return Block{}, err
		}
	}
}

// shortLines returns the length of the longest prefix of data made of
// whole lines no longer than the limit.
func (r *Reader) shortLines(data []byte) int {
	pos := 0
	for pos < len(data) {
		i := bytes.IndexByte(data[pos:], '\n')
		if i < 0 || i > r.max {
			break
		}
		pos += i + 1
	}
	return pos
}

// Final returns the incomplete last line, if any, as a complete one: call it
// when the stream is known to be complete (one-shot reads, a drained rotated
// file). ok is false when there is no partial line.
func (r *Reader) Final() (line []byte, cut, ok bool) {
	r.absorbLong()
	if r.inLong {
		n := int64(len(r.long)) + r.skipped + int64(r.end-r.start)
		line = r.long
		r.inLong, r.long, r.skipped = false, r.long[:0], 0
		r.start = r.end
		line, cut, _ = r.emit(line, n, true)
		return line, cut, true
	}
	if r.end == r.start {
		return nil, false, false
	}
	raw := r.buf[r.start:r.end]
	n := int64(len(raw))
	r.start = r.end
	line, cut, _ = r.emit(raw, n, false)
	return line, cut, true
}

// emit accounts for a line that consumed n bytes of the stream.
func (r *Reader) emit(line []byte, n int64, cut bool) ([]byte, bool, error) {
	r.offset += n
	r.stats.Lines++
	r.stats.Bytes += uint64(n)
	if !cut && len(line) > r.max {
		line, cut = line[:r.max], true
	}
	if cut {
		r.stats.Cut++
	} else if len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	return line, cut, nil
}

// absorbLong moves buffered bytes of a line that is already over the limit
// into the long-line state, so that the buffer never holds more than max
// bytes of one line.
func (r *Reader) absorbLong() {
	pending := r.buf[r.start:r.end]
	if !r.inLong && len(pending) <= r.max {
		return
	}
	if !r.inLong {
		r.inLong = true
		r.long = append(r.long[:0], pending[:r.max]...)
		r.skipped = int64(len(pending) - r.max)
	} else {
		r.skipped += int64(len(pending))
	}
	r.start = r.end
}

// fill reads more data from the source.
func (r *Reader) fill() error {
	if r.start > 0 {
		copy(r.buf, r.buf[r.start:r.end])
		r.end -= r.start
		r.start = 0
	}
	if r.end == len(r.buf) {
		// Cannot happen: absorbLong keeps at most max bytes buffered and the
		// buffer is larger than max.
		return errors.New("lines: buffer full")
	}
	n, err := r.src.Read(r.buf[r.end:])
	r.end += n
	if n > 0 {
		return nil
	}
	if err == nil {
		return io.EOF // no data for now; not an error
	}
	if err != io.EOF {
		r.err = err
	}
	return err
}
