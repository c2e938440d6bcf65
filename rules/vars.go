package rules

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/logtally/logtally/internal/text"
)

// CanonicalVar returns the logtally name of a variable reference written
// with the names of cfenvd and CFEngine 3's mon and sys contexts, so that a
// report copied from their manuals works: mon.value_h, mon.av_h and
// mon.dev_h are value_h, av_h and dev_h; cfenvd's average_h and stddev_h
// are av_h and dev_h; sys.host is host; mon.env_time is env_time. Any other
// name is returned as it is.
func CanonicalVar(name string) string {
	if name == "sys.host" {
		return VarHost
	}
	name = strings.TrimPrefix(name, "mon.")
	if h, ok := strings.CutPrefix(name, "average_"); ok {
		return VarAv + h
	}
	if h, ok := strings.CutPrefix(name, "stddev_"); ok {
		return VarDev + h
	}
	return name
}

// VarKey is $(key), the source a per: key command or report fires for:
// text from a log line.
const VarKey = "key"

// The variables that are not per measurement: $(classes), the active
// classes; $(host); $(env_time), when the sample was taken (CFEngine's
// mon.env_time); and, in the message and command of a notice policy's
// alarm or page only, $(notice), the class that rose, $(priority) and
// $(message), the notice's text.
const (
	VarClasses  = "classes"
	VarHost     = "host"
	VarEnvTime  = "env_time"
	VarNotice   = "notice"
	VarPriority = "priority"
	VarMessage  = "message"
)

// The prefixes of the variables each interval gives commands, reports and
// class expressions per measurement h (value_h, …) or file watch. This is
// their one list: the interval engine and the daemon build them, the
// actions engine expands them and passes them in the environment, and the
// validator checks references to them.
const (
	VarValue      = "value_"      // the value: a number, or text for a set or a string
	VarAv         = "av_"         // the expected value (weekly measurements)
	VarDev        = "dev_"        // its deviation
	VarZ          = "z_"          // the score
	VarEntropy    = "entropy_"    // the entropy of the keys
	VarTop        = "top_"        // the top key: text from a log line
	VarExpected   = "expected_"   // a set's expected members
	VarUnexpected = "unexpected_" // a set's members not expected
	VarMissing    = "missing_"    // a set's expected members missing
	VarChanged    = "changed_"    // a watch's changed paths
	VarAdded      = "added_"      // a watch's added paths
	VarRemoved    = "removed_"    // a watch's removed paths
)

// runtimeVars are the per-measurement variables, with the name of their
// environment variable and whether their value is text that logs, file
// names or process names control (which must never reach a shell).
var runtimeVars = [...]struct {
	prefix, env string
	text        bool
}{
	{VarValue, "LOGTALLY_VALUE_", false},
	{VarAv, "LOGTALLY_AV_", false},
	{VarDev, "LOGTALLY_DEV_", false},
	{VarZ, "LOGTALLY_Z_", false},
	{VarEntropy, "LOGTALLY_ENTROPY_", false},
	{VarTop, "LOGTALLY_TOP_", true},
	{VarExpected, "LOGTALLY_EXPECTED_", true},
	{VarUnexpected, "LOGTALLY_UNEXPECTED_", true},
	{VarMissing, "LOGTALLY_MISSING_", true},
	{VarChanged, "LOGTALLY_CHANGED_", true},
	{VarAdded, "LOGTALLY_ADDED_", true},
	{VarRemoved, "LOGTALLY_REMOVED_", true},
}

// SplitVar splits the name of a per-measurement variable (canonical, see
// CanonicalVar) into its prefix (VarValue, …) and the handle; ok is false
// for any other name.
func SplitVar(name string) (prefix, handle string, ok bool) {
	i, h := runtimeVar(name)
	if i < 0 {
		return "", "", false
	}
	return runtimeVars[i].prefix, h, true
}

// VarEnv returns the environment variable that carries a per-measurement
// variable to a command (LOGTALLY_VALUE_h for value_h); ok is false for
// any other name, and for a handle that cannot be part of an environment
// variable's name (letters, digits and '_').
func VarEnv(name string) (env string, ok bool) {
	i, h := runtimeVar(name)
	if i < 0 || h == "" {
		return "", false
	}
	for j := 0; j < len(h); j++ {
		if !isNameChar(h[j]) {
			return "", false
		}
	}
	return runtimeVars[i].env + h, true
}

// runtimeVar returns the index in runtimeVars of the variable name, and
// its handle; -1 when it is not a per-measurement variable.
func runtimeVar(name string) (int, string) {
	for i, v := range runtimeVars {
		if h, ok := strings.CutPrefix(name, v.prefix); ok {
			return i, h
		}
	}
	return -1, ""
}

// NextRef finds the first variable reference in s as commands, reports
// and notices expand them: $( then a name of letters, digits, '_' and '.',
// then ). It returns the text before it (where a "$(" that opens no
// reference is text), the name as written, and the text after it; ok is
// false when s has no reference. This is the one definition of a
// reference, for the expander and for the checks of the rules.
func NextRef(s string) (before, name, after string, ok bool) {
	for from := 0; ; {
		i := strings.Index(s[from:], "$(")
		if i < 0 {
			return s, "", "", false
		}
		start := from + i
		rest := s[start+2:]
		j := nameLen(rest)
		if j == 0 || j == len(rest) || rest[j] != ')' {
			from = start + 2 // not a reference
			continue
		}
		return s[:start], rest[:j], rest[j+1:], true
	}
}

// badRefs returns what in s looks like a variable reference but is none,
// which the expander writes as it is (NextRef): "$(" not closed by ")",
// an empty "$()", "$(" then ")" around something that is no name, and
// ${name} where name is a variable (isVar): the expander knows only
// $(name). A ${name} of anything else is left alone, since a shell
// command line, a regex or an awk program may mean it. Each problem is
// a message saying what is written instead.
func badRefs(s string, isVar func(string) bool) []string {
	var out []string
	for from := 0; ; {
		i := strings.IndexByte(s[from:], '$')
		if i < 0 {
			return out
		}
		start := from + i
		from = start + 1
		if start+1 >= len(s) || s[start+1] != '(' && s[start+1] != '{' {
			continue
		}
		rest := s[start+2:]
		name := rest[:nameLen(rest)]
		if s[start+1] == '{' {
			if len(name) < len(rest) && rest[len(name)] == '}' && name != "" && isVar(CanonicalVar(name)) {
				out = append(out, fmt.Sprintf("${%s} is written as it is: variables are written $(%[1]s)", name))
			}
			continue
		}
		if name != "" && len(name) < len(rest) && rest[len(name)] == ')' {
			from = start + 2 + len(name) + 1 // a reference
			continue
		}
		end := strings.IndexByte(rest, ')')
		switch {
		case end < 0:
			msg := fmt.Sprintf("$( is not closed by ), so %s is written as it is", strconv.Quote(clip(s[start:], 40)))
			if name != "" && isVar(CanonicalVar(name)) {
				msg += fmt.Sprintf(" (did you mean $(%s)?)", name)
			}
			out = append(out, msg)
		case end == 0:
			out = append(out, "$() names no variable and is written as it is")
		default:
			out = append(out, fmt.Sprintf("%s is not a variable: a name is letters, digits, '_' and '.', so it is written as it is",
				strconv.Quote(clip(s[start:start+2+end+1], 40))))
		}
	}
}

// nameLen returns the length of the variable name at the start of s.
func nameLen(s string) int {
	j := 0
	for j < len(s) && (isNameChar(s[j]) || s[j] == '.') {
		j++
	}
	return j
}

// clip shortens s to about max bytes, at a character boundary, with "…".
func clip(s string, max int) string {
	if p := text.Prefix(s, max); len(p) < len(s) {
		return p + "…"
	}
	return s
}

func isNameChar(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// textVar returns the prefix of the first text variable s refers to, in
// any of its spellings, or "".
func textVar(s string) string {
	for rest := s; ; {
		_, name, after, ok := NextRef(rest)
		if !ok {
			return ""
		}
		rest = after
		name = CanonicalVar(name)
		if name == VarKey {
			return VarKey
		}
		for _, v := range runtimeVars {
			if v.text && strings.HasPrefix(name, v.prefix) {
				return v.prefix
			}
		}
	}
}
