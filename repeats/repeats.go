// Package repeats recognises the lines in which a syslog daemon says that
// a message was repeated, so that a line counted by a rule stands for as
// many lines as the daemon reduced into it:
//
//   - rsyslog (RepeatedMsgReduction, on by default on Debian) writes, after
//     a message logged once, "message repeated N times: [ MESSAGE]": the
//     message in brackets was logged N more times. The line with the
//     wrapper removed (its syslog header kept) counts N times.
//   - BSD syslogd (FreeBSD, macOS) and sysklogd write "last message
//     repeated N times" after the header's time and host, without a tag:
//     the previous line of the same file was repeated N more times.
//
// Log lines are attacker-controlled. A wrapper counts only at the exact
// place where syslog puts it: right after the tag of the header
// ("sshd[24227]: " or "sshd: "), which the daemon wrote, for rsyslog; right
// after the host for BSD syslogd. Text that merely contains the wrapper —
// a user name "message repeated 999999 times: [" in a message of sshd's —
// is an ordinary line. N is digits only, without a leading zero, from 1 to
// MaxCount; anything else is an ordinary line. The bracketed message is
// never unwrapped again, so one line never stands for more than MaxCount.
//
// Recognising costs a few byte comparisons on a line that is not a repeat:
// its last byte first, then the header's fixed shape; no regex.
package repeats

import "bytes"

// MaxCount is the largest repeat count recognised. rsyslog and syslogd
// write a repeat line at least every few minutes, so real counts stay in
// the thousands; a larger number is not theirs, and the line is ordinary.
const MaxCount = 1_000_000

// Form says where the message of a line starts.
type Form uint8

// Forms of line.
const (
	// Header lines begin with a syslog header: a time (RFC 3164 "Dec 10
	// 07:13:56", or RFC 3339 as rsyslog's high-precision format writes
	// it), the host, and then the tag and the message. Files written by a
	// syslog daemon, and the journal rendered as syslog.
	Header Form = iota
	// Bare lines are the message alone, as a journal entry's MESSAGE:
	// only rsyslog's form is recognised, from the line's first byte.
	Bare
)

// Kind is the kind of a repeat line.
type Kind uint8

// Kinds of line.
const (
	None     Kind = iota // an ordinary line
	Wrapped              // rsyslog: the line unwrapped (Unwrap) counts N times
	Previous             // BSD syslogd: the previous line counts N more times
)

// Repeat is what Parse found in a line.
type Repeat struct {
	Kind Kind
	N    uint32 // the repeat count, 1..MaxCount
	// Wrapped: line[:head] is the header kept, up to and including the
	// tag's ": " (empty for a bare line); line[start:end] the message in
	// the brackets, without its leading space.
	head, start, end int
}

// Unwrap appends to dst the line a Wrapped repeat stands for: the header
// followed by the message in the brackets. line must be the line given to
// Parse.
func (r Repeat) Unwrap(dst, line []byte) []byte {
	dst = append(dst, line[:r.head]...)
	return append(dst, line[r.start:r.end]...)
}

const (
	wrapper = "message repeated "
	times   = " times: ["
	last    = "last message repeated "
)

// Parse reports whether line is a repeat line of the given form. The line
// must be whole: a line cut to the length limit is never a repeat (its
// closing ']' is lost, or worse, stands elsewhere).
func Parse(line []byte, form Form) Repeat {
	n := len(line)
	if n < len(wrapper)+len(times)+2 {
		return Repeat{}
	}
	if form == Bare {
		if line[n-1] != ']' || !bytes.HasPrefix(line, []byte(wrapper)) {
			return Repeat{}
		}
		return wrapped(line, 0, 0)
	}
	// rsyslog's lines end with ']', BSD syslogd's with "times" (or
	// "time" when once): most lines fail here.
	if c := line[n-1]; c != ']' && c != 's' && c != 'e' {
		return Repeat{}
	}
	msg := hostEnd(line)
	if msg < 0 {
		return Repeat{}
	}
	if line[n-1] != ']' {
		return previous(line[msg:])
	}
	head := tagEnd(line, msg)
	if head < 0 {
		return Repeat{}
	}
	return wrapped(line, head, head)
}

// wrapped parses "message repeated N times: [ MESSAGE]" at line[at:],
// which ends with ']'; head is where the header kept ends.
func wrapped(line []byte, head, at int) Repeat {
	rest := line[at:]
	if !bytes.HasPrefix(rest, []byte(wrapper)) {
		return Repeat{}
	}
	count, k, ok := number(rest[len(wrapper):])
	if !ok {
		return Repeat{}
	}
	rest = rest[len(wrapper)+k:]
	if !bytes.HasPrefix(rest, []byte(times)) {
		return Repeat{}
	}
	start := at + len(wrapper) + k + len(times)
	end := len(line) - 1 // the ']'
	if start > end {
		return Repeat{}
	}
	if start < end && line[start] == ' ' {
		start++ // rsyslog's message keeps the space after the tag's ':'
	}
	if start == end {
		return Repeat{} // nothing was repeated
	}
	return Repeat{Kind: Wrapped, N: count, head: head, start: start, end: end}
}

// previous parses BSD syslogd's "last message repeated N times" (or "1
// time"), which must be the whole message.
func previous(msg []byte) Repeat {
	if !bytes.HasPrefix(msg, []byte(last)) {
		return Repeat{}
	}
	count, k, ok := number(msg[len(last):])
	if !ok {
		return Repeat{}
	}
	switch tail := string(msg[len(last)+k:]); {
	case tail == " times", tail == " time" && count == 1:
		return Repeat{Kind: Previous, N: count}
	}
	return Repeat{}
}

// number parses the decimal count at the start of b: ASCII digits, no
// sign, no leading zero, 1..MaxCount. It returns the count and its length.
func number(b []byte) (uint32, int, bool) {
	var v uint32
	k := 0
	for k < len(b) && b[k] >= '0' && b[k] <= '9' {
		if k == 7 { // MaxCount has 7 digits
			return 0, 0, false
		}
		v = v*10 + uint32(b[k]-'0')
		k++
	}
	if k == 0 || b[0] == '0' || v > MaxCount {
		return 0, 0, false
	}
	return v, k, true
}

// hostEnd returns where the message of a syslog line starts: after the
// time, one space, the host and one space; -1 when the line does not
// begin with a syslog header.
func hostEnd(line []byte) int {
	t := timeEnd(line)
	if t < 0 || t >= len(line) || line[t] != ' ' {
		return -1
	}
	host := t + 1
	i := bytes.IndexByte(line[host:min(len(line), host+maxHost+1)], ' ')
	if i <= 0 {
		return -1
	}
	return host + i + 1
}

// maxHost bounds a host name (255 bytes in DNS).
const maxHost = 255

// timeEnd returns the length of the syslog time at the start of line, or
// -1: RFC 3164's "Mmm dd hh:mm:ss" (the day padded with a space or a
// zero), or an RFC 3339 time as rsyslog writes it
// ("2024-01-10T07:13:56.123456+00:00").
func timeEnd(line []byte) int {
	const rfc3164 = len("Dec 10 07:13:56")
	if len(line) < rfc3164 {
		return -1
	}
	if isUpper(line[0]) && isLower(line[1]) && isLower(line[2]) && line[3] == ' ' &&
		(line[4] == ' ' || isDigit(line[4])) && isDigit(line[5]) && line[6] == ' ' &&
		clock(line[7:rfc3164]) {
		return rfc3164
	}
	// RFC 3339: date, 'T', clock, then an optional fraction and zone.
	const minISO = len("2024-01-10T07:13:56")
	if len(line) < minISO || !digits(line[0:4]) || line[4] != '-' || !digits(line[5:7]) || line[7] != '-' ||
		!digits(line[8:10]) || line[10] != 'T' || !clock(line[11:minISO]) {
		return -1
	}
	i := minISO
	for i < len(line) && i < minISO+maxZone && isZoneByte(line[i]) {
		i++
	}
	return i
}

// maxZone bounds what may follow an RFC 3339 clock: a fraction of up to
// nine digits and an offset ("+00:00").
const maxZone = len(".123456789+00:00")

// clock reports whether b is "hh:mm:ss".
func clock(b []byte) bool {
	return len(b) == 8 && digits(b[0:2]) && b[2] == ':' && digits(b[3:5]) && b[5] == ':' && digits(b[6:8])
}

// tagEnd returns where the message after the tag starts, the tag being
// the word at line[from:] that ends with ':' followed by a space: "prog:"
// or "prog[pid]:", prog without spaces, brackets or colons; -1 when there
// is no such tag.
func tagEnd(line []byte, from int) int {
	rest := line[from:min(len(line), from+maxTag+2)]
	sp := bytes.IndexByte(rest, ' ')
	if sp < 2 || rest[sp-1] != ':' {
		return -1
	}
	tag := rest[:sp-1]
	prog := tag
	if tag[len(tag)-1] == ']' {
		open := bytes.IndexByte(tag, '[')
		if open <= 0 || !digits(tag[open+1:len(tag)-1]) {
			return -1
		}
		prog = tag[:open]
	}
	for _, c := range prog {
		if c == '[' || c == ']' || c == ':' || c < '!' || c > '~' {
			return -1
		}
	}
	return from + sp + 1
}

// maxTag bounds a tag, pid included (RFC 3164 allows 32 bytes of name;
// rsyslog writes longer ones).
const maxTag = 128

func isUpper(c byte) bool { return c >= 'A' && c <= 'Z' }
func isLower(c byte) bool { return c >= 'a' && c <= 'z' }
func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// isZoneByte reports whether c may follow the clock of an RFC 3339 time.
func isZoneByte(c byte) bool {
	return isDigit(c) || c == '.' || c == '+' || c == '-' || c == ':' || c == 'Z'
}

// digits reports whether b is one or more ASCII digits.
func digits(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if !isDigit(c) {
			return false
		}
	}
	return true
}
