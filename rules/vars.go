package rules

import "strings"

// CanonicalVar returns the logtally name of a variable reference written
// with the names of cfenvd and CFEngine 3's mon and sys contexts, so that a
// report copied from their manuals works: mon.value_h, mon.av_h and
// mon.dev_h are value_h, av_h and dev_h; cfenvd's average_h and stddev_h
// are av_h and dev_h; sys.host is host; mon.env_time is env_time. Any other
// name is returned as it is.
func CanonicalVar(name string) string {
	if name == "sys.host" {
		return "host"
	}
	name = strings.TrimPrefix(name, "mon.")
	if h, ok := strings.CutPrefix(name, "average_"); ok {
		return "av_" + h
	}
	if h, ok := strings.CutPrefix(name, "stddev_"); ok {
		return "dev_" + h
	}
	return name
}

// VarKey is $(key), the source a per: key command or report fires for:
// text from a log line.
const VarKey = "key"

// textPrefixes are the variables whose values are text that logs, file
// names or process names control: they must never reach a shell.
var textPrefixes = []string{"top_", "expected_", "unexpected_", "missing_", "changed_", "added_", "removed_"}

// textVar returns the prefix of the first text variable s refers to, in
// any of its spellings, or "".
func textVar(s string) string {
	for rest := s; ; {
		i := strings.Index(rest, "$(")
		if i < 0 {
			return ""
		}
		rest = rest[i+2:]
		name := CanonicalVar(rest)
		if strings.HasPrefix(name, VarKey+")") {
			return VarKey
		}
		for _, p := range textPrefixes {
			if strings.HasPrefix(name, p) {
				return p
			}
		}
	}
}
