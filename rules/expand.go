package rules

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// maxExpansions bounds the items one for: may produce.
const maxExpansions = 1000

// forVar is one variable of a for: map, with its values.
type forVar struct {
	name   string
	values []string
}

// combo is one combination of for: values, in variable order.
type combo []struct{ name, value string }

func (c combo) label() string {
	parts := make([]string, len(c))
	for i, kv := range c {
		parts[i] = kv.name + "=" + kv.value
	}
	return strings.Join(parts, ", ")
}

// isVarName reports whether s can name a for: variable.
func isVarName(s string) bool {
	return ValidClassName(s)
}

// forVars parses the for: map of an item. Variables are taken in the
// order they were written, so that the first one varies slowest.
func (o *obj) forVars() ([]forVar, bool) {
	f := o.mapping("for")
	if f == nil {
		return nil, !o.has("for")
	}
	var vars []forVar
	good := true
	for _, name := range sortedKeys(f) {
		if !isVarName(name) {
			f.errAt(f.keyPos(name), child(f.path, name), "letters, digits and underscores", "invalid variable name %s", strconv.Quote(name))
			good = false
			continue
		}
		l, ok := f.list(name)
		if !ok {
			good = false
			continue
		}
		if len(l) == 0 {
			f.errf(name, "give at least one value", "empty list")
			good = false
			continue
		}
		v := forVar{name: name}
		for i, x := range l {
			var s string
			switch x := x.(type) {
			case string:
				s = x
			case bool, nil, []any, map[string]any:
				p, pos := f.elemAt(name, i)
				f.errAt(pos, p, "", "must be a string or a number, not %s", typeName(x))
				good = false
				continue
			default:
				if n, isInt := asInt(x); isInt {
					s = strconv.FormatInt(n, 10)
				} else {
					s = fmt.Sprint(x)
				}
			}
			if slices.Contains(v.values, s) {
				f.errf(name, "", "value %s is listed twice", strconv.Quote(s))
				good = false
				continue
			}
			v.values = append(v.values, s)
		}
		vars = append(vars, v)
	}
	if !good {
		return nil, false
	}
	n := 1
	for _, v := range vars {
		n *= len(v.values)
		if n > maxExpansions {
			o.errf("for", "split the item", "expands to more than %d items", maxExpansions)
			return nil, false
		}
	}
	return vars, true
}

// combos returns the cartesian product of the variables' values, the last
// variable varying fastest.
func combos(vars []forVar) []combo {
	out := []combo{nil}
	for _, v := range vars {
		next := make([]combo, 0, len(out)*len(v.values))
		for _, c := range out {
			for _, val := range v.values {
				nc := append(slices.Clip(c), struct{ name, value string }{v.name, val})
				next = append(next, nc)
			}
		}
		out = next
	}
	return out
}

// substitute replaces $(name) of each variable of c in every string value
// of v (not in map keys). It returns a deep copy; the for: key is dropped
// from the top-level map by the caller.
func substitute(v any, c combo) any {
	switch v := v.(type) {
	case string:
		return substString(v, c)
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = substitute(x, c)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			out[k] = substitute(x, c)
		}
		return out
	default:
		return v
	}
}

func substString(s string, c combo) string {
	if !strings.Contains(s, "$(") {
		return s
	}
	for _, kv := range c {
		s = strings.ReplaceAll(s, "$("+kv.name+")", kv.value)
	}
	return s
}

// expand returns one obj per for: combination of the item o (just o when
// it has no for:), and whether for: was valid.
func (o *obj) expand() ([]*obj, bool) {
	vars, ok := o.forVars()
	if !ok {
		return nil, false
	}
	if len(vars) == 0 {
		m := make(map[string]any, len(o.m))
		for k, v := range o.m {
			if k != "for" {
				m[k] = v
			}
		}
		e := *o
		e.m = m
		return []*obj{&e}, true
	}
	var out []*obj
	for _, c := range combos(vars) {
		m := substitute(o.m, c).(map[string]any)
		delete(m, "for")
		e := *o
		e.m, e.orig, e.label = m, o.m, c.label()
		out = append(out, &e)
	}
	return out, true
}
