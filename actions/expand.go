package actions

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/logtally/logtally/internal/num"
	"github.com/logtally/logtally/internal/text"
	"github.com/logtally/logtally/rules"
)

// Limits of report text.
const (
	// MaxReportKey is the number of bytes of one text from a log line
	// kept in a report, before escaping.
	MaxReportKey = 256
	// MaxReportLen is the number of bytes of a report message, after
	// escaping.
	MaxReportLen = 4 << 10
)

// expander expands $(var) references for one interval.
type expander struct {
	e       *Engine
	in      *Interval
	classes string   // active classes, sorted, space-separated
	invalid []string // keys referenced that fail their key_type
	// key is $(key), the source of a per: key firing, from the top keys
	// of measurement keyOf.
	key, keyOf string
	// notice, priority and message are $(notice), $(priority) and
	// $(message) of an alarm or a page.
	notice, priority, message string
	human                     bool // numbers for people (reports), not programs (commands)
}

// expand replaces the $(name) references (rules.NextRef) of s in one
// left-to-right pass; inserted text is never expanded again. logText, when
// not nil, transforms text from a log line before it is inserted. tainted
// reports whether non-empty text from a log line was inserted.
func (x *expander) expand(s string, logText func(string) string) (out string, tainted bool) {
	if !strings.Contains(s, "$(") {
		return s, false
	}
	var b strings.Builder
	b.Grow(len(s))
	for {
		before, name, after, ok := rules.NextRef(s)
		b.WriteString(before)
		if !ok {
			return b.String(), tainted
		}
		s = after
		v, fromLog, ok := x.lookup(rules.CanonicalVar(name))
		if !ok {
			x.e.warnOnce("actions: unknown variable left as written", "$("+name+")")
			b.WriteString("$(" + name + ")")
			continue
		}
		if fromLog && v != "" {
			if !x.validKey(rules.CanonicalVar(name), v) {
				x.invalid = append(x.invalid, name)
				if logText == nil {
					continue // never into a command
				}
			}
			tainted = true
			if logText != nil {
				v = logText(v)
			}
		}
		b.WriteString(v)
	}
}

// lookup returns the value of a variable (by its canonical name, see
// rules.CanonicalVar), whether it is text from a log line, and whether the
// variable is known.
func (x *expander) lookup(name string) (val string, fromLog, ok bool) {
	switch name {
	case rules.VarClasses:
		return x.classes, false, true
	case rules.VarHost:
		return x.e.set.Settings.Host, false, true
	case rules.VarKey:
		return x.key, true, true
	case rules.VarNotice, rules.VarPriority:
		if x.notice != "" {
			if name == rules.VarNotice {
				return x.notice, false, true
			}
			return x.priority, false, true
		}
	case rules.VarMessage:
		if x.notice != "" {
			return x.message, true, true
		}
	case rules.VarEnvTime:
		// CFEngine's mon.env_time: when the sample was taken, as ctime(3)
		// writes it.
		return x.in.End.Local().Format(time.ANSIC), false, true
	}
	if v, ok := x.in.Vars[name]; ok {
		if x.human {
			return num.Human(v), false, true
		}
		return formatNumber(v), false, true
	}
	if v, ok := x.in.Keys[name]; ok {
		return v, true, true
	}
	if _, h, ok := rules.SplitVar(name); ok && x.e.meas[h] {
		return "", false, true // a measurement without a value this interval
	}
	return "", false, false
}

// formatNumber writes a number for a command: to 10 significant digits,
// without exponent below 1e21, and 0 when it is zero up to rounding
// (num.Precise).
func formatNumber(v float64) string { return num.Precise(v, 10) }

// validKey checks a key again against the key_type of its measurement.
// The daemon validates keys as it extracts them; this is defence in depth
// at the point where a key meets a command.
func (e *Engine) validKey(name, v string) bool {
	h, ok := strings.CutPrefix(name, rules.VarTop)
	if !ok {
		return true
	}
	switch e.keyTypes[h] {
	case rules.KeyIP:
		if len(v) > 64 {
			return false
		}
		a, err := netip.ParseAddr(v)
		return err == nil && a.Zone() == ""
	case rules.KeyWord:
		if len(v) == 0 || len(v) > 256 {
			return false
		}
		for i := 0; i < len(v); i++ {
			c := v[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '@' || c == '-') {
				return false
			}
		}
	}
	return true
}

// validKey checks text from a log line against its measurement's key_type:
// $(top_h) against h's, $(key) against that of the measurement it came
// from.
func (x *expander) validKey(name, v string) bool {
	if name == rules.VarKey {
		name = rules.VarTop + x.keyOf
	}
	return x.e.validKey(name, v)
}

// command fills the argv and environment additions of a firing.
func (x *expander) command(c *rules.Command, f *Firing) {
	x.invalid = x.invalid[:0]
	argv := make([]string, len(c.Argv))
	for i, a := range c.Argv {
		var t bool
		argv[i], t = x.expand(a, nil)
		f.tainted = f.tainted || t
		f.chosen = f.chosen || i == 0 && t
	}
	if c.Shell {
		f.shell = true
		f.Argv = append([]string{x.e.opts.Shell, "-c", argv[0], c.Handle}, argv[1:]...)
	} else {
		f.Argv = argv
	}
	names := make([]string, 0, len(c.Env))
	for k := range c.Env {
		names = append(names, k)
	}
	slices.Sort(names)
	env := make([]string, 0, len(names)+5+len(x.in.Vars)+len(x.in.Keys))
	for _, k := range names {
		v, _ := x.expand(c.Env[k], nil)
		env = append(env, k+"="+v)
	}
	env = append(env,
		"LOGTALLY_HANDLE="+c.Handle,
		"LOGTALLY_GUARD="+c.If.String(),
		"LOGTALLY_CLASSES="+x.classes)
	if !x.in.Start.IsZero() {
		env = append(env, "LOGTALLY_INTERVAL_START="+x.in.Start.UTC().Format(time.RFC3339))
	}
	env = append(env, "LOGTALLY_INTERVAL_END="+x.in.End.UTC().Format(time.RFC3339))
	if x.key != "" && x.validKey(rules.VarKey, x.key) && !strings.Contains(x.key, "\x00") {
		env = append(env, "LOGTALLY_KEY="+x.key)
	}
	env = append(env, x.measurementEnv()...)
	f.Env = env
	if len(x.invalid) > 0 {
		h := strings.TrimPrefix(rules.CanonicalVar(x.invalid[0]), rules.VarTop)
		if rules.CanonicalVar(x.invalid[0]) == rules.VarKey {
			h = x.keyOf
		}
		f.invalid = fmt.Sprintf("$(%s) is not a valid %s key", x.invalid[0], x.e.keyTypes[h])
	}
}

// measurementEnv returns LOGTALLY_VALUE_<h> and the others, sorted.
// A key that fails its key_type or holds a NUL byte is left out: it must
// not block commands that do not use it.
func (x *expander) measurementEnv() []string {
	in := x.in
	var env []string
	add := func(name, val string) {
		if e, ok := rules.VarEnv(name); ok {
			env = append(env, e+"="+val)
		}
	}
	for name, v := range in.Vars {
		add(name, formatNumber(v))
	}
	for name, v := range in.Keys {
		if x.e.validKey(name, v) && !strings.Contains(v, "\x00") {
			add(name, v)
		}
	}
	slices.Sort(env)
	return env
}

// report expands a report message into one line.
func (x *expander) report(msg string) string {
	x.human = true
	defer func() { x.human = false }()
	v, _ := x.expand(msg, func(s string) string { return oneLine(cut(s, MaxReportKey)) })
	return cut(oneLine(v), MaxReportLen)
}

// oneLine escapes what could break a line or fool a terminal: invalid
// UTF-8 as \xHH; \n, \r, \t; other characters that are not graphic
// (controls, line and paragraph separators, direction overrides,
// zero-width format characters) as \xHH or \uHHHH. A backslash is kept
// as it is.
func oneLine(s string) string {
	clean := true
	for _, r := range s {
		if r == utf8.RuneError || !unicode.IsGraphic(r) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case unicode.IsGraphic(r):
			b.WriteString(s[i : i+size])
		case r < 0x80:
			fmt.Fprintf(&b, `\x%02x`, r)
		case r <= 0xffff:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			fmt.Fprintf(&b, `\U%08x`, r)
		}
		i += size
	}
	return b.String()
}

// cut shortens s to at most max bytes at a character boundary and says how
// much was cut.
func cut(s string, max int) string {
	p := text.Prefix(s, max)
	if len(p) == len(s) {
		return s
	}
	return p + "…[" + strconv.Itoa(len(s)-len(p)) + " more bytes]"
}
