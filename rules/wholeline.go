package rules

import (
	"regexp/syntax"
	"strconv"
	"strings"
	"unicode"
)

// leadingLiteral returns the text every match of pattern must begin with,
// as far as Go's syntax can read the pattern ("" when it begins with
// anything else, or cannot be read: regexp2 takes more than Go does).
func leadingLiteral(pattern string) string {
	if strings.HasPrefix(pattern, ".*") {
		return "" // what most patterns begin with: no need to parse them
	}
	re, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil {
		return ""
	}
	for {
		switch re.Op {
		case syntax.OpCapture:
			re = re.Sub[0]
			continue
		case syntax.OpConcat:
			subs := re.Sub
			for len(subs) > 0 && (subs[0].Op == syntax.OpBeginLine || subs[0].Op == syntax.OpBeginText) {
				subs = subs[1:]
			}
			if len(subs) == 0 {
				return ""
			}
			re = subs[0]
			continue
		case syntax.OpLiteral:
			return string(re.Rune)
		}
		return ""
	}
}

// timestampWords are the words a log line's timestamp may begin with:
// syslog's month and ctime's weekday.
var timestampWords = []string{"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
	"mon", "tue", "wed", "thu", "fri", "sat", "sun"}

// checkWholeLine warns about a measurement of a followed file whose
// select_line_matching can only match lines that begin with a word
// ('Invalid user .*', 'sshd\[\d+\]: .*'): the pattern must match the whole
// line, and a log line begins with its timestamp, so such a pattern
// matches lines it was not written for, if any. A pattern that begins with
// .*, with a class or a digit, or with a month or weekday name, is left
// alone.
func (o *obj) checkWholeLine(m *Measurement) {
	// The lines of a followed file, and journal lines rendered as syslog
	// lines, begin with their timestamp; a journal MESSAGE does not, nor
	// does a file read whole (/proc/meminfo, /etc/passwd).
	if m.Select == "" || (m.StreamType != StreamFile || !m.TrackGrowing) && !(m.StreamType == StreamJournal && m.Render == RenderSyslog) {
		return
	}
	lit := leadingLiteral(m.Select)
	if lit == "" || !unicode.IsLetter([]rune(lit)[0]) {
		return
	}
	low := strings.ToLower(lit)
	for _, w := range timestampWords {
		if strings.HasPrefix(low, w) && (len(low) == len(w) || !unicode.IsLetter(rune(low[len(w)]))) {
			return
		}
	}
	o.warnf("select_line_matching", "matches only lines that begin with %s, but it must match the whole line and a log line begins with its timestamp; did you mean %s?",
		strconv.Quote(lit), "'"+strings.ReplaceAll(WholeLine(m.Select), "'", "''")+"'")
}

// WholeLine returns a pattern that selects the lines in which pattern
// occurs anywhere: pattern with .* before and after it, where it does not
// already begin or end so, without ^ and $ anchors, and grouped when it is
// an alternation. It is what a search pattern (as fail2ban and mtail take
// them) becomes as a select_line_matching, which must match the whole line.
func WholeLine(pattern string) string {
	p := strings.TrimPrefix(pattern, "^")
	if strings.HasSuffix(p, "$") && !strings.HasSuffix(p, `\$`) {
		p = strings.TrimSuffix(p, "$")
	}
	if p == "" {
		return pattern
	}
	if strings.Contains(p, "|") {
		// An alternation is grouped (one that Go cannot read is taken for
		// one); without a '|' there is none to parse for.
		if re, err := syntax.Parse(p, syntax.Perl); err != nil || re.Op == syntax.OpAlternate {
			p = "(?:" + p + ")"
		}
	}
	if !strings.HasPrefix(p, ".*") {
		p = ".*" + p
	}
	if !strings.HasSuffix(p, ".*") || strings.HasSuffix(p, `\.*`) {
		p += ".*"
	}
	return p
}
