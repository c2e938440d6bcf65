// Package timestamp recognises the time at the start of a log line, so that
// lines read after a restart (or by `logtally learn`) are attributed to the
// interval of their own timestamp rather than to the moment they were read.
//
// Recognised without configuration, at the start of the line:
//
//   - syslog (RFC 3164): "Jan  2 15:04:05" or "Jan 02 15:04:05", optionally
//     after a "<PRI>" prefix. The year is not in the line: it is inferred
//     from a reference time (the file's modification time, or now), and a
//     date more than two days after the reference belongs to the previous
//     year, so December lines read in January land in the right year.
//   - RFC 3339 / ISO 8601: "2006-01-02T15:04:05Z", with optional fraction,
//     a "Z", "+07:00" or "+0700" offset (journalctl -o short-iso), or a space
//     instead of the "T". Without an offset the zone is the parser's.
//   - RFC 5424: "<PRI>1 2006-01-02T15:04:05.000Z host app ...".
//   - ctime: "Mon Jan  2 15:04:05 2006" (xferlog, many daemons), optionally
//     in square brackets.
//
// A rule may instead give its own layout (`timestamp:`), a Go reference
// layout matched at the start of the line (after an optional '['), with
// `timezone:` for layouts that carry no zone.
package timestamp

import (
	"bytes"
	"fmt"
	"time"
)

// maxFuture is how far after the reference time a yearless syslog date may
// be before it is taken to belong to the previous year.
const maxFuture = 48 * time.Hour

// Parser recognises timestamps. It is safe for concurrent use.
type Parser struct {
	layout string
	loc    *time.Location
}

// New returns a Parser. layout is a Go reference layout, or "" for the
// built-in formats; loc is the zone of timestamps that carry none (nil means
// time.Local).
func New(layout string, loc *time.Location) (*Parser, error) {
	if loc == nil {
		loc = time.Local
	}
	if layout != "" {
		ref := time.Date(2006, 1, 2, 15, 4, 5, 0, time.UTC)
		if _, err := time.Parse(layout, ref.Format(layout)); err != nil {
			return nil, fmt.Errorf("timestamp layout %q: %w", layout, err)
		}
	}
	return &Parser{layout: layout, loc: loc}, nil
}

// Format is the format of a recognised timestamp.
type Format uint8

// Formats.
const (
	None    Format = iota // no timestamp recognised
	Syslog                // RFC 3164: "Jan  2 15:04:05"
	RFC3339               // RFC 3339 / ISO 8601
	RFC5424               // "<PRI>1 2006-01-02T15:04:05Z ..."
	Ctime                 // "Mon Jan  2 15:04:05 2006"
	Layout                // the Parser's own layout
)

// String names the format as the documentation does.
func (f Format) String() string {
	switch f {
	case Syslog:
		return "syslog"
	case RFC3339:
		return "RFC 3339"
	case RFC5424:
		return "RFC 5424"
	case Ctime:
		return "ctime"
	case Layout:
		return "layout"
	}
	return "none"
}

// Parse returns the time at the start of line. ref is the reference time for
// formats without a year.
func (p *Parser) Parse(line []byte, ref time.Time) (time.Time, bool) {
	t, f := p.Recognise(line, ref)
	return t, f != None
}

// Recognise returns the time at the start of line and its format; None
// when no timestamp is recognised. ref is the reference time for formats
// without a year.
func (p *Parser) Recognise(line []byte, ref time.Time) (time.Time, Format) {
	if p.layout != "" {
		t, ok := p.parseLayout(line, ref)
		return result(t, ok, Layout)
	}
	b := line
	pri := false
	if len(b) > 2 && b[0] == '<' {
		if i := bytes.IndexByte(b[:min(len(b), 6)], '>'); i > 1 && allDigits(b[1:i]) {
			b = b[i+1:]
			pri = true
		}
	}
	if pri && len(b) > 2 && b[0] >= '1' && b[0] <= '9' && b[1] == ' ' {
		// RFC 5424: "<PRI>VERSION TIMESTAMP ..."
		t, ok := p.iso(b[2:])
		return result(t, ok, RFC5424)
	}
	if len(b) > 0 && b[0] == '[' {
		b = b[1:]
	}
	if len(b) >= 19 && isDigit(b[0]) {
		t, ok := p.iso(b)
		return result(t, ok, RFC3339)
	}
	if t, ok := p.syslog(b, ref); ok {
		return t, Syslog
	}
	t, ok := p.ctime(b)
	return result(t, ok, Ctime)
}

// result is Recognise's answer for a parse: f when ok, else None.
func result(t time.Time, ok bool, f Format) (time.Time, Format) {
	if !ok {
		return time.Time{}, None
	}
	return t, f
}

func (p *Parser) parseLayout(line []byte, ref time.Time) (time.Time, bool) {
	b := line
	if len(b) > 0 && b[0] == '[' {
		b = b[1:]
	}
	n := len(p.layout)
	hi := min(len(b), n+10)
	for l := hi; l >= n-4 && l > 0; l-- {
		t, err := time.ParseInLocation(p.layout, string(b[:l]), p.loc)
		if err != nil {
			continue
		}
		if t.Year() == 0 {
			t = withYear(t, ref)
		}
		return t, plausible(t)
	}
	return time.Time{}, false
}

var months = [12]string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}

func month(b []byte) (time.Month, bool) {
	if len(b) < 3 {
		return 0, false
	}
	for i, m := range months {
		if b[0] == m[0] && b[1] == m[1] && b[2] == m[2] {
			return time.Month(i + 1), true
		}
	}
	return 0, false
}

// syslogFields reads the fields of "Jan  2 15:04:05" or "Jan 02 15:04:05"
// at the start of b, with the day in 1..31 (not yet checked against the
// month).
func syslogFields(b []byte) (mon time.Month, day, h, m, s int, ok bool) {
	if len(b) < syslogLen || b[3] != ' ' {
		return 0, 0, 0, 0, 0, false
	}
	if mon, ok = month(b); !ok {
		return 0, 0, 0, 0, 0, false
	}
	switch {
	case b[4] == ' ' && isDigit(b[5]):
		day = int(b[5] - '0')
	case isDigit(b[4]) && isDigit(b[5]):
		day = int(b[4]-'0')*10 + int(b[5]-'0')
	default:
		return 0, 0, 0, 0, 0, false
	}
	if b[6] != ' ' {
		return 0, 0, 0, 0, 0, false
	}
	h, m, s, ok = clock(b[7:15])
	if !ok || day < 1 || day > 31 {
		return 0, 0, 0, 0, 0, false
	}
	return mon, day, h, m, s, true
}

// syslog parses "Jan  2 15:04:05" or "Jan 02 15:04:05".
func (p *Parser) syslog(b []byte, ref time.Time) (time.Time, bool) {
	mon, day, h, m, s, ok := syslogFields(b)
	if !ok {
		return time.Time{}, false
	}
	// withYear, from the components at hand rather than from t's.
	y := ref.In(p.loc).Year()
	t := time.Date(y, mon, day, h, m, s, 0, p.loc)
	if t.After(ref.Add(maxFuture)) {
		t = time.Date(y-1, mon, day, h, m, s, 0, p.loc)
	}
	if t.Day() != day { // Feb 30 (and Feb 29 outside a leap year)
		return time.Time{}, false
	}
	return t, true
}

// withYear puts a yearless date in the year that makes it not more than
// maxFuture after ref.
func withYear(t, ref time.Time) time.Time {
	y := ref.In(t.Location()).Year()
	t = time.Date(y, t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), t.Location())
	if t.After(ref.Add(maxFuture)) {
		t = time.Date(y-1, t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), t.Location())
	}
	return t
}

// ctime parses "Mon Jan  2 15:04:05 2006".
func (p *Parser) ctime(b []byte) (time.Time, bool) {
	if len(b) < 24 || b[3] != ' ' {
		return time.Time{}, false
	}
	t, err := time.ParseInLocation(time.ANSIC, string(b[:24]), p.loc)
	if err != nil || !plausible(t) {
		return time.Time{}, false
	}
	return t, true
}

// iso parses an RFC 3339-like timestamp at the start of b.
func (p *Parser) iso(b []byte) (time.Time, bool) {
	if len(b) < 19 || b[4] != '-' || b[7] != '-' || (b[10] != 'T' && b[10] != ' ') {
		return time.Time{}, false
	}
	year, ok1 := num(b[0:4])
	mon, ok2 := num(b[5:7])
	day, ok3 := num(b[8:10])
	h, m, s, ok4 := clock(b[11:19])
	if !ok1 || !ok2 || !ok3 || !ok4 || year < 1970 || mon < 1 || mon > 12 || day < 1 || day > 31 {
		return time.Time{}, false
	}
	rest := b[19:]
	nsec := 0
	if len(rest) > 1 && (rest[0] == '.' || rest[0] == ',') && isDigit(rest[1]) {
		i := 1
		scale := 100000000
		for i < len(rest) && isDigit(rest[i]) {
			if scale > 0 {
				nsec += int(rest[i]-'0') * scale
				scale /= 10
			}
			i++
		}
		rest = rest[i:]
	}
	loc := p.loc
	switch {
	case len(rest) > 0 && (rest[0] == 'Z' || rest[0] == 'z'):
		loc = time.UTC
	case len(rest) >= 5 && (rest[0] == '+' || rest[0] == '-'):
		oh, okh := num(rest[1:3])
		var om int
		var okm bool
		if rest[3] == ':' && len(rest) >= 6 {
			om, okm = num(rest[4:6])
		} else {
			om, okm = num(rest[3:5])
		}
		if okh && okm && oh <= 23 && om <= 59 {
			off := (oh*60 + om) * 60
			if rest[0] == '-' {
				off = -off
			}
			loc = time.FixedZone("", off)
		}
	}
	t := time.Date(year, time.Month(mon), day, h, m, s, nsec, loc)
	if t.Day() != day {
		return time.Time{}, false
	}
	return t, true
}

// clock parses "15:04:05".
func clock(b []byte) (h, m, s int, ok bool) {
	if len(b) < 8 || b[2] != ':' || b[5] != ':' {
		return 0, 0, 0, false
	}
	h, ok1 := num(b[0:2])
	m, ok2 := num(b[3:5])
	s, ok3 := num(b[6:8])
	if !ok1 || !ok2 || !ok3 || h > 23 || m > 59 || s > 60 {
		return 0, 0, 0, false
	}
	if s == 60 { // leap second: the last second of the minute
		s = 59
	}
	return h, m, s, true
}

// plausible rejects dates no log line carries, such as year 0.
func plausible(t time.Time) bool {
	return t.Year() >= 1970 && t.Year() <= 9999
}

func num(b []byte) (int, bool) {
	n := 0
	for _, c := range b {
		if !isDigit(c) {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, len(b) > 0
}

func allDigits(b []byte) bool {
	_, ok := num(b)
	return ok
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// syslogLen is the length of a syslog timestamp, "Jan  2 15:04:05": all
// that the syslog format reads of a line.
const syslogLen = 15

// Tally counts the timestamp formats of lines (as `logtally test` sums up
// a log), cheaply for the common syslog lines. It is not safe for
// concurrent use.
type Tally struct {
	n   [Layout + 1]uint64 // lines by format
	p   *Parser
	ref time.Time
}

// NewTally returns an empty Tally of the formats p recognises; ref is as
// for Recognise.
func (p *Parser) NewTally(ref time.Time) *Tally { return &Tally{p: p, ref: ref} }

// Counts returns the lines counted by format (None: no timestamp
// recognised); formats without a line are left out.
func (t *Tally) Counts() map[Format]uint64 {
	out := map[Format]uint64{}
	for f, n := range t.n {
		if n > 0 {
			out[Format(f)] = n
		}
	}
	return out
}

// Merge adds the counts of u.
func (t *Tally) Merge(u *Tally) {
	for f, n := range u.n {
		t.n[f] += n
	}
}

// Add counts the format of line, as Recognise would name it.
func (t *Tally) Add(line []byte) {
	// A line that begins with a month name has no <PRI>, no '[' and no
	// leading digit, so Recognise reads it as syslog or not at all; and
	// syslog fields with a day up to 28 are a date in every month of
	// every year, which Recognise accepts without fail.
	if t.p.layout == "" {
		if _, day, _, _, _, ok := syslogFields(line); ok && day <= 28 {
			t.n[Syslog]++
			return
		}
	}
	_, f := t.p.Recognise(line, t.ref)
	t.n[f]++
}
