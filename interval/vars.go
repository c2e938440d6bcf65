package interval

import (
	"strconv"
	"strings"

	"github.com/logtally/logtally/rules"
)

// MaxListed bounds the members a list variable names; the rest are
// counted ("… and 12 more").
const MaxListed = 100

// AddVars adds the sample's variables (rules.VarValue, …) for commands,
// reports and the comparisons of class expressions: its value, av, dev, z
// and entropy (those it has) to vars, and its top key to keys; a set's or
// a string's value, and a set's expected, unexpected and missing members,
// are text, in keys. This is the one place they are built, for the daemon and for
// backtest's simulation of commands and reports alike.
func (s *Sample) AddVars(vars map[string]float64, keys map[string]string) {
	text := s.Set != nil || s.Text != ""
	for _, v := range []struct {
		name string
		p    *float64
	}{{rules.VarValue, s.Value}, {rules.VarAv, s.Av}, {rules.VarDev, s.Dev}, {rules.VarZ, s.Z}, {rules.VarEntropy, s.Entropy}} {
		if v.p != nil && !(text && v.name == rules.VarValue) {
			vars[v.name+s.Handle] = *v.p
		}
	}
	if s.TopKey != "" && s.Set == nil {
		keys[rules.VarTop+s.Handle] = s.TopKey
	}
	switch {
	case s.Set != nil:
		keys[rules.VarValue+s.Handle] = List(s.Set)
		if s.Expected != nil {
			keys[rules.VarExpected+s.Handle] = List(s.Expected)
			keys[rules.VarUnexpected+s.Handle] = List(s.Unexpected)
			keys[rules.VarMissing+s.Handle] = List(s.Missing)
		}
	case s.Text != "":
		keys[rules.VarValue+s.Handle] = s.Text
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
