package rules

import (
	"cmp"
	"slices"
	"strings"
)

// Error is one problem in a rule file: where it is, which key, what is
// wrong and, when there is one, how to fix it.
type Error struct {
	Pos Pos
	// Key is the path of the offending key, e.g.
	// "measurements[3].select_line_matching"; empty for a whole-file error.
	Key string
	Msg string
	// Hint suggests a fix, e.g. "did you mean select_line_matching?".
	Hint string
	// Expansion names the for: combination the error occurs in, e.g.
	// "m=dcc, dir=get"; empty when the error is the same for every
	// combination or the item has no for:.
	Expansion string

	item string // identity of the source item, for merging expansions
}

// Error formats the error as "file:line:col: key: msg, with m=dcc (hint)",
// omitting the parts that are empty.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Pos.String())
	if e.Key != "" {
		b.WriteString(": ")
		b.WriteString(e.Key)
	}
	if e.Msg != "" {
		b.WriteString(": ")
		b.WriteString(e.Msg)
	}
	if e.Expansion != "" {
		b.WriteString(", with ")
		b.WriteString(e.Expansion)
	}
	if e.Hint != "" {
		b.WriteString(" (")
		b.WriteString(e.Hint)
		b.WriteString(")")
	}
	return b.String()
}

// ErrorList is every error found while loading rules, sorted by file, line
// and column.
type ErrorList []*Error

// Error joins the errors, one per line.
func (l ErrorList) Error() string {
	s := make([]string, len(l))
	for i, e := range l {
		s[i] = e.Error()
	}
	return strings.Join(s, "\n")
}

// Unwrap returns the errors, so that errors.As can find an *Error.
func (l ErrorList) Unwrap() []error {
	out := make([]error, len(l))
	for i, e := range l {
		out[i] = e
	}
	return out
}

func comparePos(a, b Pos) int {
	return cmp.Or(cmp.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line), cmp.Compare(a.Col, b.Col))
}

// sortErrors sorts by position, keeping the order of errors at the same
// position.
func sortErrors(l ErrorList) {
	slices.SortStableFunc(l, func(a, b *Error) int { return comparePos(a.Pos, b.Pos) })
}

// mergeExpansions folds the errors of a for: item that occur identically in
// every expansion into one error without an Expansion, so that a typo in an
// item expanded ten times is reported once. nexp maps an item to its number
// of expansions.
func mergeExpansions(l ErrorList, nexp map[string]int) ErrorList {
	type sig struct {
		item, key, msg, hint string
		pos                  Pos
	}
	count := map[sig]int{}
	for _, e := range l {
		if e.Expansion != "" {
			count[sig{e.item, e.Key, e.Msg, e.Hint, e.Pos}]++
		}
	}
	seen := map[sig]bool{}
	out := l[:0:0]
	for _, e := range l {
		if e.Expansion != "" {
			s := sig{e.item, e.Key, e.Msg, e.Hint, e.Pos}
			if n := nexp[e.item]; n > 1 && count[s] == n {
				if seen[s] {
					continue
				}
				seen[s] = true
				e.Expansion = ""
			}
		}
		out = append(out, e)
	}
	return out
}

// sortWarnings sorts warnings by position and drops exact repeats (an item
// expanded by for: repeats a warning that does not depend on the variable).
func sortWarnings(ws []Warning) []Warning {
	slices.SortStableFunc(ws, func(a, b Warning) int {
		return cmp.Or(comparePos(a.Pos, b.Pos), cmp.Compare(a.Key, b.Key), cmp.Compare(a.Msg, b.Msg))
	})
	return slices.CompactFunc(ws, func(a, b Warning) bool { return a == b })
}
