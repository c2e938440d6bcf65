package interval

import (
	"strconv"
	"strings"
)

// Variable prefixes: $(value_h), $(av_h), $(dev_h), $(z_h) and
// $(entropy_h) are numbers (value_h is text for a set or a string
// measurement); $(top_h) is text from a log line; a set has $(expected_h),
// $(unexpected_h) and $(missing_h), its members separated by spaces.
const (
	VarValue      = "value_"
	VarAv         = "av_"
	VarDev        = "dev_"
	VarZ          = "z_"
	VarEntropy    = "entropy_"
	VarTop        = "top_"
	VarExpected   = "expected_"
	VarUnexpected = "unexpected_"
	VarMissing    = "missing_"
)

// MaxListed bounds the members a list variable names; the rest are
// counted ("… and 12 more").
const MaxListed = 100

// AddVars adds the sample's variables for commands, reports and the
// comparisons of class expressions: its value, av, dev, z and entropy
// (those it has) to vars, and its top key to keys; a set's or a string's
// value, and a set's expected, unexpected and missing members, are text,
// in keys. This is the one place they are built, for the daemon and for
// backtest's simulation of commands and reports alike.
func (s *Sample) AddVars(vars map[string]float64, keys map[string]string) {
	text := s.Set != nil || s.Text != ""
	for _, v := range []struct {
		name string
		p    *float64
	}{{VarValue, s.Value}, {VarAv, s.Av}, {VarDev, s.Dev}, {VarZ, s.Z}, {VarEntropy, s.Entropy}} {
		if v.p != nil && !(text && v.name == VarValue) {
			vars[v.name+s.Handle] = *v.p
		}
	}
	if s.TopKey != "" && s.Set == nil {
		keys[VarTop+s.Handle] = s.TopKey
	}
	switch {
	case s.Set != nil:
		keys[VarValue+s.Handle] = List(s.Set)
		if s.Expected != nil {
			keys[VarExpected+s.Handle] = List(s.Expected)
			keys[VarUnexpected+s.Handle] = List(s.Unexpected)
			keys[VarMissing+s.Handle] = List(s.Missing)
		}
	case s.Text != "":
		keys[VarValue+s.Handle] = s.Text
	}
}

// List joins the members of a list variable with spaces, at most
// MaxListed of them.
func List(items []string) string {
	if len(items) <= MaxListed {
		return strings.Join(items, " ")
	}
	return strings.Join(items[:MaxListed], " ") + " … and " + strconv.Itoa(len(items)-MaxListed) + " more"
}
