package measure

import (
	"bytes"
	"io"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/logtally/logtally/interval"
	"github.com/logtally/logtally/match"
	"github.com/logtally/logtally/rules"
	"github.com/logtally/logtally/timestamp"
)

// HeadBytes is how much of the start of each stream a one-shot evaluation
// keeps (Stream.Head), to explain rules that selected nothing without
// reading the stream again.
const HeadBytes = 4 << 20

// Stream is what a one-shot evaluation saw of one stream as a whole, as
// fail2ban-regex sums up a log: the Results of the stream's measurements
// share it.
type Stream struct {
	Group    *interval.Group
	Lines    uint64 // lines read
	Selected uint64 // lines selected by at least one measurement
	// Repeats is the lines in which syslog says a message was repeated
	// that measurements counted as the lines they stand for
	// (interval.Fold.Repeats).
	Repeats uint64
	// Formats counts the timestamps of the selected lines by format, as
	// the measurements date lines (timestamp.None: not recognised).
	Formats map[timestamp.Format]uint64
	tally   *timestamp.Tally
	// Layout is the measurements' own timestamp layout, when they declare
	// one (timestamp.Layout counts it).
	Layout  string
	Elapsed time.Duration // the one pass over the stream, shared by its measurements
	// Times is, per measurement, the time its own patterns took within
	// the pass: on the lines the shared prefilter gave it as a candidate
	// (match.Matcher.RuleTimes).
	Times []time.Duration
	// Head is the start of the stream, whole lines only, at most
	// HeadBytes; Complete is true when it is the whole stream.
	Head     []byte
	Complete bool
	// Notes say why inputs of the stream held nothing (Input.Note).
	Notes []string

	loc *time.Location // the zone of timestamps without one
}

// headLines returns Head's lines.
func (s *Stream) headLines() uint64 { return uint64(bytes.Count(s.Head, []byte{'\n'})) }

// headCapture keeps the first HeadBytes of a stream's inputs.
type headCapture struct {
	buf      []byte
	complete bool // every input was read to its end and fitted
	// reading is the read of a stream's one regular file, done beside
	// the pass rather than before it.
	reading sync.WaitGroup
}

func (h *headCapture) Write(p []byte) (int, error) {
	room := max(HeadBytes-len(h.buf), 0)
	h.buf = append(h.buf, p[:min(room, len(p))]...)
	if len(p) > room {
		h.complete = false
	}
	return len(p), nil
}

// capture makes inputs copy what is read of them into h. A regular file is
// read with ReadAt, which leaves its offset (and its parallel folding)
// alone; other inputs are read through a tee. A stream that is one
// regular file has its head read while the pass begins (4 MiB are a few
// milliseconds, spent before the pass's first line otherwise); wait
// before the file is closed.
func (h *headCapture) capture(inputs []Input) {
	for i, in := range inputs {
		if f, ok := in.R.(*os.File); ok {
			if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
				if len(inputs) == 1 {
					h.reading.Add(1)
					go func() {
						defer h.reading.Done()
						h.readAt(f, fi.Size())
					}()
					continue
				}
				h.readAt(f, fi.Size())
				continue
			}
		}
		inputs[i].R = struct {
			io.Reader
			io.Closer
		}{io.TeeReader(in.R, h), in.R}
	}
}

// readAt adds the start of a regular file of size bytes.
func (h *headCapture) readAt(f *os.File, size int64) {
	room := HeadBytes - len(h.buf)
	if room <= 0 {
		h.complete = false
		return
	}
	want := min(int64(room), size)
	at := len(h.buf)
	h.buf = slices.Grow(h.buf, int(want))
	n, _ := f.ReadAt(h.buf[at:at+int(want)], 0)
	h.buf = h.buf[:at+n]
	if size > int64(room) {
		h.complete = false
	}
}

// wait waits for the read of a regular file's head.
func (h *headCapture) wait() { h.reading.Wait() }

// head returns the captured bytes cut to whole lines. A complete stream's
// last line may lack its newline: it is given one.
func (h *headCapture) head() []byte {
	h.wait()
	b := h.buf
	if h.complete {
		if len(b) > 0 && b[len(b)-1] != '\n' {
			b = append(b, '\n')
		}
		return b
	}
	if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
		return b[:i+1]
	}
	return nil
}

// newStream prepares the summary of g's stream.
func newStream(g *interval.Group) *Stream {
	s := &Stream{Group: g}
	for _, m := range g.Measurements {
		if m.Timestamp != "" {
			s.Layout, s.loc = m.Timestamp, m.Location
			break
		}
	}
	return s
}

// part returns an empty summary for a part of the stream, to be merged.
func (s *Stream) part() *Stream {
	return &Stream{Group: s.Group, Layout: s.Layout, loc: s.loc}
}

// count makes f count the selected lines it folds, and their timestamp
// formats, into s, and time each measurement's patterns.
func (s *Stream) count(f *interval.Fold) {
	p, err := timestamp.New(s.Layout, s.loc)
	if err != nil {
		p, _ = timestamp.New("", s.loc)
	}
	s.tally = p.NewTally(time.Now())
	f.TimeRules()
	f.OnSelected = func(line []byte) {
		s.Selected++
		s.tally.Add(line)
	}
}

// merge adds the counts of a part of the stream, folded by f.
func (s *Stream) merge(part *Stream, f *interval.Fold) {
	s.Selected += part.Selected
	s.tally.Merge(part.tally)
	s.addTimes(f)
}

// done fills Formats once the stream is read.
func (s *Stream) done() { s.Formats = s.tally.Counts() }

// addTimes adds the time each measurement took in f to Times.
func (s *Stream) addTimes(f *interval.Fold) {
	ts := f.RuleTimes()
	if s.Times == nil {
		s.Times = make([]time.Duration, len(ts))
	}
	for i, d := range ts {
		s.Times[i] += d
	}
}

// Hint explains why a measurement selected no line although its pattern
// occurs in the stream.
type Hint struct {
	Measurement *rules.Measurement
	// Found is the number of lines, of the Of lines examined, in which the
	// pattern occurs (matched anywhere in the line); Suggest, a pattern
	// that matches the whole line, selects exactly those.
	Found, Of uint64
	Suggest   string
	// Whole is true when the lines examined are the whole stream (else
	// its first Of lines).
	Whole bool
}

// Hint returns the hint for a measurement of the stream that selected no
// line: select_line_matching must match the whole line, so a pattern
// written for a search ('Invalid user', as fail2ban and mtail take it)
// selects nothing. When the pattern occurs in lines of Head, Hint says in
// how many and gives the pattern that selects them. ok is false when there
// is nothing to say.
func (s *Stream) Hint(m *rules.Measurement, opts match.Options) (Hint, bool) {
	hs := s.Hints([]*rules.Measurement{m}, opts)
	if len(hs) == 0 {
		return Hint{}, false
	}
	return hs[0], true
}

// Hints returns the hints of measurements of the stream that selected no
// line (see Hint), in their order, those with nothing to say left out.
// The whole-line patterns of all of them are matched in one pass over
// Head.
func (s *Stream) Hints(ms []*rules.Measurement, opts match.Options) []Hint {
	if len(s.Head) == 0 {
		return nil
	}
	var asked []*rules.Measurement
	var suggest []*rules.Measurement
	for _, m := range ms {
		if sug := rules.WholeLine(m.Select); sug != m.Select {
			asked = append(asked, m)
			suggest = append(suggest, &rules.Measurement{Select: sug, DataType: rules.Counter, KeyType: rules.KeyAny})
		}
	}
	if len(asked) == 0 {
		return nil
	}
	g, err := interval.NewGroup(s.Group.Source, suggest, opts)
	if err != nil {
		if len(asked) == 1 {
			return nil
		}
		// One suggestion that does not compile: each on its own.
		var out []Hint
		for _, m := range asked {
			out = append(out, s.Hints([]*rules.Measurement{m}, opts)...)
		}
		return out
	}
	found := make([]uint64, len(asked))
	g.Set().NewMatcher().MatchBlock(s.Head, func(_ int, _ []byte, hits []match.Hit) {
		for _, h := range hits {
			if h.Selected {
				found[h.Rule]++
			}
		}
	})
	var out []Hint
	for i, m := range asked {
		if found[i] > 0 {
			out = append(out, Hint{Measurement: m, Found: found[i], Of: s.headLines(), Suggest: suggest[i].Select, Whole: s.Complete})
		}
	}
	return out
}
