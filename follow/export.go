package follow

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"
)

// Limits of the export format parser: journal entries come from any
// process on the host (MESSAGE is attacker-controlled), so every field is
// bounded; what passes a bound is read and dropped, never kept.
const (
	maxFieldName = 256      // bytes of a field name
	maxKeptField = 64 << 10 // bytes kept of a field other than MESSAGE
	maxBinary    = 1 << 40  // the largest binary field length taken as sane
)

// errCorrupt reports input that is not journalctl's export format.
var errCorrupt = errors.New("not the journal export format")

// exportEntry is one journal entry as `journalctl --output=export` writes
// it, with the fields logtally uses.
type exportEntry struct {
	cursor   string    // __CURSOR
	realtime time.Time // __REALTIME_TIMESTAMP
	message  []byte    // MESSAGE, at most the reader's limit
	cut      bool      // MESSAGE was longer than the limit
	ident    []byte    // SYSLOG_IDENTIFIER
	comm     []byte    // _COMM
	pid      []byte    // _PID
	sysPid   []byte    // SYSLOG_PID
	hostname []byte    // _HOSTNAME
	size     int64     // bytes of the export stream the entry took
}

// exportReader parses the journal export format: entries separated by an
// empty line, each field either "NAME=value\n" or, for values that are not
// single-line text, "NAME\n" followed by the value's length as a 64-bit
// little-endian number, the value and "\n".
type exportReader struct {
	r       *bufio.Reader
	maxMsg  int // bytes of MESSAGE kept
	scratch []byte
}

func newExportReader(r io.Reader, maxMessage int) *exportReader {
	if maxMessage <= 0 {
		maxMessage = maxKeptField
	}
	return &exportReader{r: bufio.NewReaderSize(r, 64<<10), maxMsg: maxMessage}
}

// next returns the next complete entry. It returns io.EOF at the end of
// the input between entries, io.ErrUnexpectedEOF when the input ends
// inside one (it is dropped: it will be read again), and an error wrapping
// errCorrupt for input that is not the export format.
func (x *exportReader) next() (*exportEntry, error) {
	e := &exportEntry{}
	fields := 0
	for {
		name, binaryField, n, err := x.name()
		e.size += n
		switch {
		case err == io.EOF && fields == 0:
			return nil, io.EOF
		case err == io.EOF:
			return nil, io.ErrUnexpectedEOF
		case err != nil:
			return nil, err
		case name == "" && !binaryField:
			return nil, fmt.Errorf("parse journal export: %w: a field with no name", errCorrupt)
		case name == "":
			if fields == 0 {
				continue // blank lines between entries
			}
			return e, nil
		}
		fields++
		limit := maxKeptField
		if name == "MESSAGE" {
			limit = x.maxMsg
		}
		var value []byte
		var cut bool
		if binaryField {
			value, cut, n, err = x.binaryValue(limit)
		} else {
			value, cut, n, err = x.textValue(limit)
		}
		e.size += n
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		if err := e.set(name, value, cut); err != nil {
			return nil, err
		}
	}
}

// name reads a field name up to '=' (a text field) or '\n' (a binary
// field, or the empty line that ends an entry: name ""). n is the bytes
// read.
func (x *exportReader) name() (name string, binaryField bool, n int64, err error) {
	x.scratch = x.scratch[:0]
	for {
		c, err := x.r.ReadByte()
		if err != nil {
			if err == io.EOF && n > 0 {
				err = io.ErrUnexpectedEOF
			}
			return "", false, n, err
		}
		n++
		switch {
		case c == '=':
			if len(x.scratch) == 0 {
				return "", false, n, fmt.Errorf("parse journal export: %w: a field with no name", errCorrupt)
			}
			return string(x.scratch), false, n, nil
		case c == '\n':
			return string(x.scratch), true, n, nil
		case c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c >= 'a' && c <= 'z':
			if len(x.scratch) >= maxFieldName {
				return "", false, n, fmt.Errorf("parse journal export: %w: a field name longer than %d bytes", errCorrupt, maxFieldName)
			}
			x.scratch = append(x.scratch, c)
		default:
			return "", false, n, fmt.Errorf("parse journal export: %w: byte %q in a field name", errCorrupt, c)
		}
	}
}

// textValue reads a value up to '\n', keeping at most limit bytes.
func (x *exportReader) textValue(limit int) (value []byte, cut bool, n int64, err error) {
	var total int
	for {
		chunk, err := x.r.ReadSlice('\n')
		n += int64(len(chunk))
		body := chunk
		if err == nil {
			body = chunk[:len(chunk)-1]
		}
		total += len(body)
		if room := limit - len(value); room > 0 {
			value = append(value, body[:min(room, len(body))]...)
		}
		switch {
		case err == nil:
			return value, total > limit, n, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		default:
			return nil, false, n, err
		}
	}
}

// binaryValue reads a length-prefixed value and its closing '\n', keeping
// at most limit bytes.
func (x *exportReader) binaryValue(limit int) (value []byte, cut bool, n int64, err error) {
	var size [8]byte
	k, err := io.ReadFull(x.r, size[:])
	n += int64(k)
	if err != nil {
		return nil, false, n, err
	}
	length := binary.LittleEndian.Uint64(size[:])
	if length > maxBinary {
		return nil, false, n, fmt.Errorf("parse journal export: %w: a binary field of %d bytes", errCorrupt, length)
	}
	keep := min(length, uint64(limit))
	value = make([]byte, keep)
	k, err = io.ReadFull(x.r, value)
	n += int64(k)
	if err != nil {
		return nil, false, n, err
	}
	if rest := int64(length - keep); rest > 0 {
		d, err := x.r.Discard(int(min(rest, int64(^uint(0)>>1))))
		n += int64(d)
		if err != nil {
			return nil, false, n, err
		}
		cut = true
	}
	c, err := x.r.ReadByte()
	if err != nil {
		return nil, false, n, err
	}
	n++
	if c != '\n' {
		return nil, false, n, fmt.Errorf("parse journal export: %w: a binary field not followed by a newline", errCorrupt)
	}
	return value, cut, n, nil
}

// set keeps the fields logtally uses.
func (e *exportEntry) set(name string, value []byte, cut bool) error {
	switch name {
	case "__CURSOR":
		e.cursor = string(value)
	case "__REALTIME_TIMESTAMP":
		us, err := strconv.ParseInt(string(value), 10, 64)
		if err != nil || us < 0 {
			return fmt.Errorf("parse journal export: %w: __REALTIME_TIMESTAMP %q", errCorrupt, value)
		}
		e.realtime = time.UnixMicro(us)
	case "MESSAGE":
		e.message, e.cut = value, cut
	case "SYSLOG_IDENTIFIER":
		e.ident = value
	case "_COMM":
		e.comm = value
	case "_PID":
		e.pid = value
	case "SYSLOG_PID":
		e.sysPid = value
	case "_HOSTNAME":
		e.hostname = value
	}
	return nil
}
