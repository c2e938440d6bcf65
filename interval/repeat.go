package interval

import (
	"bytes"
	"time"

	"github.com/logtally/logtally/match"
	"github.com/logtally/logtally/repeats"
)

// ownedHits is a copy of a line's hits that outlives the line: their
// values and keys are copied into one buffer of the fold's own. It holds
// one line's hits at most (one per rule, values and keys no longer than
// the line), and is reused.
type ownedHits struct {
	hits []match.Hit
	buf  []byte
}

func (o *ownedHits) reset() { o.hits, o.buf = o.hits[:0], o.buf[:0] }

// own replaces o's hits with a copy of hits.
func (o *ownedHits) own(hits []match.Hit) {
	o.reset()
	o.add(hits, nil)
}

// add appends a copy of the hits keep accepts (all when keep is nil).
func (o *ownedHits) add(hits []match.Hit, keep func(rule int) bool) {
	need := len(o.buf)
	for i := range hits {
		if keep == nil || keep(hits[i].Rule) {
			need += len(hits[i].Value) + len(hits[i].Key)
		}
	}
	if need > cap(o.buf) {
		// The hits kept so far alias the old buffer, which stays theirs.
		o.buf = make([]byte, len(o.buf), need)
	}
	for i := range hits {
		if keep != nil && !keep(hits[i].Rule) {
			continue
		}
		h := hits[i]
		h.Value, h.Key = o.bytes(h.Value), o.bytes(h.Key)
		o.hits = append(o.hits, h)
	}
}

// bytes copies b into the buffer, keeping nil nil and empty empty.
func (o *ownedHits) bytes(b []byte) []byte {
	if b == nil {
		return nil
	}
	start := len(o.buf)
	o.buf = append(o.buf, b...)
	return o.buf[start:len(o.buf):len(o.buf)]
}

// repeat folds a whole line in which syslog says that a message was
// repeated (see LineAt) and returns the hits it gave, for observers.
func (f *Fold) repeat(line []byte, r repeats.Repeat, form repeats.Form, d Dating, at time.Time, arrived *Bucket) []match.Hit {
	g := f.Group
	f.Repeats++
	expands := func(rule int) bool { return g.repeatOf[rule] == int8(form) }
	others := func(rule int) bool { return g.repeatOf[rule] != int8(form) }
	f.out.reset()
	var selected []byte // the text OnSelected sees: the line as it was selected
	if !g.all[form] {
		// Measurements that do not expand this form take the line as
		// it is, as any other line.
		hits := f.matcher.Match(line)
		f.out.add(hits, others)
		f.fold(line, f.out.hits, 1, d, at, arrived)
		if anySelected(f.out.hits) {
			selected = line
		}
	}
	n := len(f.out.hits)
	var expanded []match.Hit // valid until the next match
	switch r.Kind {
	case repeats.Wrapped:
		f.unwrap = r.Unwrap(f.unwrap[:0], line)
		hits := f.matcher.Match(f.unwrap)
		f.out.add(hits, expands)
		expanded = f.out.hits[n:]
		f.fold(f.unwrap, expanded, uint64(r.N), d, at, arrived)
		if anySelected(expanded) {
			selected = f.unwrap
		}
	case repeats.Previous:
		// The hits of the line before, for the measurements that expand
		// this form, dated by this line (the time of the repetitions).
		f.out.add(f.prev.hits, expands)
		expanded = f.out.hits[n:]
		f.fold(line, expanded, uint64(r.N), d, at, arrived)
		if anySelected(expanded) {
			selected = line
		}
	}
	if f.keepPrev && r.Kind == repeats.Wrapped {
		// What a BSD repeat after this line repeats: the line as the
		// measurements that expand BSD repeats took it.
		if form == repeats.Header {
			f.prev.own(expanded)
		} else {
			f.prev.own(f.out.hits[:n])
		}
	}
	if selected != nil && f.OnSelected != nil {
		f.OnSelected(selected)
	}
	return f.out.hits
}

// anySelected reports whether a hit is a selection.
func anySelected(hits []match.Hit) bool {
	for i := range hits {
		if hits[i].Selected {
			return true
		}
	}
	return false
}

// repeatedWord is in every repeat line, rsyslog's ("message repeated N
// times: [") and BSD syslogd's ("last message repeated N times"): a block
// where it does not occur has none. It begins with 'g', rarer in logs
// than the first byte of "message repeated " or "repeated ", on which
// bytes.Index stops to compare: over the million sshd lines of
// bench/match.sh the search takes 6 ms, against 12 and 31 ms.
var repeatedWord = []byte("ge repeated ")

// nextRepeat finds the first repeat line of a block of complete lines
// that a measurement of the group expands: the line is data[start:end]
// ('\r' included), end the position of its '\n' or len(data); start is
// -1 when there is none.
func (g *Group) nextRepeat(data []byte) (start, end int, r repeats.Repeat, form repeats.Form) {
	for from := 0; from < len(data); {
		i := bytes.Index(data[from:], repeatedWord)
		if i < 0 {
			break
		}
		i += from
		start = bytes.LastIndexByte(data[:i], '\n') + 1
		end = len(data)
		if j := bytes.IndexByte(data[i:], '\n'); j >= 0 {
			end = i + j
		}
		if r, form = g.parseRepeat(trimCR(data[start:end])); r.Kind != repeats.None {
			return start, end, r, form
		}
		from = end + 1
	}
	return -1, 0, repeats.Repeat{}, 0
}

// trimCR strips one '\r' at the end of a line.
func trimCR(line []byte) []byte {
	if n := len(line); n > 0 && line[n-1] == '\r' {
		return line[:n-1]
	}
	return line
}
