package cfimport

import (
	"fmt"
	"slices"
	"strings"

	"github.com/logtally/logtally/cfengine"
	"github.com/logtally/logtally/rules"
)

// This file resolves CFEngine variables as the converter needs them: the
// vars: of bundles (strings, lists, arrays such as m[dcc], and the few
// functions whose result is known without a host: canonify, concat), body
// parameters, and the iteration CFEngine does over every list a promise
// names ("$(dir)" with dir a list makes one promise per value).

// variable is one vars: promise.
type variable struct {
	pos   cfengine.Pos
	guard string
	value *cfengine.Value // as written
	kind  string          // string, slist, int, real, ...
	// resolved, once evaluated: the string or the list.
	done, busy bool
	str        string
	list       []string
	isList     bool
	err        error
}

// specialContexts are CFEngine's own variable contexts, whose values only
// a running agent knows.
var specialContexts = []string{"mon", "sys", "this", "match", "edit", "const", "connection", "def"}

// scope is where a string is expanded: a bundle, with the current value
// of each list being iterated and, inside a body, its parameters.
type scope struct {
	c      *converter
	bundle string
	iter   map[string]string // list variable (as named) → current value
	params map[string]string // body parameter → argument
	// keep, when set, leaves references to special contexts as written
	// instead of failing (report messages: logtally knows mon.*).
	keep bool
}

// errVar is an unresolvable reference.
type errVar struct {
	ref string
	why string
}

func (e *errVar) Error() string { return fmt.Sprintf("$(%s) %s", e.ref, e.why) }

// expand replaces every $(x) and ${x} of s.
func (sc *scope) expand(s string) (string, error) {
	return sc.expandDepth(s, 0)
}

func (sc *scope) expandDepth(s string, depth int) (string, error) {
	if depth > 20 {
		return "", &errVar{ref: s, why: "refers to itself"}
	}
	var b strings.Builder
	for {
		i, j, inner := nextRef(s)
		if i < 0 {
			b.WriteString(s)
			return b.String(), nil
		}
		b.WriteString(s[:i])
		name, err := sc.expandDepth(inner, depth+1) // $(m[$(x)]): the inner reference first
		if err != nil {
			return "", err
		}
		v, err := sc.lookup(name, depth)
		if err != nil {
			var ev *errVar
			if sc.keep && asErrVar(err, &ev) && ev.why == specialWhy {
				b.WriteString("$(" + name + ")")
				s = s[j:]
				continue
			}
			return "", err
		}
		b.WriteString(v)
		s = s[j:]
	}
}

func asErrVar(err error, ev **errVar) bool {
	e, ok := err.(*errVar)
	if ok {
		*ev = e
	}
	return ok
}

const specialWhy = "is known only to a running CFEngine agent"

// nextRef finds the first $(...) or ${...} of s: its start, its end and
// what is inside. i is -1 when there is none.
func nextRef(s string) (i, j int, inner string) {
	for k := 0; k+1 < len(s); k++ {
		if s[k] != '$' || (s[k+1] != '(' && s[k+1] != '{') {
			continue
		}
		closeCh := byte(')')
		if s[k+1] == '{' {
			closeCh = '}'
		}
		depth := 0
		for m := k + 2; m < len(s); m++ {
			switch c := s[m]; {
			case c == '(' || c == '{':
				depth++
			case c == closeCh && depth == 0:
				return k, m + 1, s[k+2 : m]
			case c == ')' || c == '}':
				depth--
			}
		}
		return -1, 0, ""
	}
	return -1, 0, ""
}

// refNames returns the names referenced in s, inner ones too, as written.
func refNames(s string) []string {
	var out []string
	for {
		i, j, inner := nextRef(s)
		if i < 0 {
			return out
		}
		out = append(out, refNames(inner)...)
		if !strings.Contains(inner, "$") {
			out = append(out, inner)
		}
		s = s[j:]
	}
}

// lookup returns the value of the variable name in the scope.
func (sc *scope) lookup(name string, depth int) (string, error) {
	if v, ok := sc.iter[name]; ok {
		return v, nil
	}
	if v, ok := sc.params[name]; ok {
		return v, nil
	}
	bundle, local := sc.bundle, name
	if b, l, ok := splitQualified(name); ok {
		bundle, local = b, l
	}
	if slices.Contains(specialContexts, bundle) && bundle != sc.bundle {
		if bundle == "const" {
			switch local {
			case "n":
				return "\n", nil
			case "t":
				return "\t", nil
			case "r":
				return "\r", nil
			case "dollar":
				return "$", nil
			case "dirsep":
				return "/", nil
			}
		}
		return "", &errVar{ref: name, why: specialWhy}
	}
	v := sc.c.variable(bundle, local)
	if v == nil {
		return "", &errVar{ref: name, why: "is not defined in bundle " + bundle}
	}
	sc.c.resolve(bundle, v, depth)
	if v.err != nil {
		return "", v.err
	}
	if v.isList {
		return "", &errVar{ref: name, why: "is a list, used where one value is needed"}
	}
	return v.str, nil
}

// splitQualified splits bundle.var (and ns:bundle.var); the dot of an
// array index (m[a.b]) does not count.
func splitQualified(name string) (bundle, local string, ok bool) {
	head := name
	if i := strings.IndexByte(head, '['); i >= 0 {
		head = head[:i]
	}
	i := strings.IndexByte(head, '.')
	if i < 0 {
		return "", "", false
	}
	bundle = head[:i]
	if k := strings.LastIndexByte(bundle, ':'); k >= 0 {
		bundle = bundle[k+1:]
	}
	return bundle, name[i+1:], true
}

// variable returns the variable local of the bundle, or nil.
func (c *converter) variable(bundle, local string) *variable {
	return c.vars[bundle][local]
}

// resolve evaluates a variable once.
func (c *converter) resolve(bundle string, v *variable, depth int) {
	if v.done {
		return
	}
	if v.busy {
		v.err = &errVar{ref: "...", why: "refers to itself"}
		return
	}
	v.busy = true
	defer func() { v.busy, v.done = false, true }()
	sc := &scope{c: c, bundle: bundle}
	switch v.value.Kind {
	case cfengine.String:
		v.str, v.err = sc.expandDepth(v.value.Text, depth+1)
	case cfengine.List:
		v.isList = true
		for _, it := range v.value.Items {
			switch it.Kind {
			case cfengine.String:
				s, err := sc.expandDepth(it.Text, depth+1)
				if err != nil {
					v.err = err
					return
				}
				v.list = append(v.list, s)
			case cfengine.Var:
				// @(other) splices another list in.
				l, err := c.listOf(sc, strings.Trim(it.Text[1:], "(){}"), depth)
				if err != nil {
					v.err = err
					return
				}
				v.list = append(v.list, l...)
			default:
				v.err = fmt.Errorf("list element %s is a %s, known only to a running agent", it.Text, it.Kind)
				return
			}
		}
	case cfengine.Call:
		v.str, v.err = sc.call(v.value, depth)
	default:
		v.err = fmt.Errorf("a %s is known only to a running agent", v.value.Kind)
	}
}

// listOf returns the list variable name.
func (c *converter) listOf(sc *scope, name string, depth int) ([]string, error) {
	bundle, local := sc.bundle, name
	if b, l, ok := splitQualified(name); ok {
		bundle, local = b, l
	}
	v := c.variable(bundle, local)
	if v == nil {
		return nil, &errVar{ref: name, why: "is not defined in bundle " + bundle}
	}
	c.resolve(bundle, v, depth)
	if v.err != nil {
		return nil, v.err
	}
	if !v.isList {
		return []string{v.str}, nil
	}
	return v.list, nil
}

// call evaluates the functions whose result does not depend on the host.
func (sc *scope) call(v *cfengine.Value, depth int) (string, error) {
	args := make([]string, len(v.Items))
	for i, a := range v.Items {
		if a.Kind != cfengine.String {
			return "", fmt.Errorf("%s(): argument %d is a %s", v.Text, i+1, a.Kind)
		}
		s, err := sc.expandDepth(a.Text, depth+1)
		if err != nil {
			return "", err
		}
		args[i] = s
	}
	switch v.Text {
	case "canonify":
		if len(args) == 1 {
			return rules.CanonifyName(args[0]), nil
		}
	case "concat":
		return strings.Join(args, ""), nil
	}
	return "", fmt.Errorf("%s() is evaluated by a running agent", v.Text)
}

// value returns a value that must be one string. A bare word is one, as
// CFEngine takes it (sample_min(10,15) is sample_min("10","15")).
func (sc *scope) value(v *cfengine.Value) (string, error) {
	switch v.Kind {
	case cfengine.String, cfengine.Ident:
		return sc.expand(v.Text)
	case cfengine.Call:
		return sc.call(v, 0)
	case cfengine.Var:
		return sc.expand(v.Text)
	}
	return "", fmt.Errorf("a %s where a string is expected", v.Kind)
}

// iterations returns one scope per combination of the values of the list
// variables that the strings name (CFEngine's implicit iteration), at
// most maxIterations.
func (c *converter) iterations(bundle string, strs []string) ([]map[string]string, error) {
	type listVar struct {
		name   string
		values []string
	}
	var lists []listVar
	seen := map[string]bool{}
	for _, s := range strs {
		for _, name := range refNames(s) {
			if seen[name] {
				continue
			}
			seen[name] = true
			b, local := bundle, name
			if qb, ql, ok := splitQualified(name); ok {
				b, local = qb, ql
			}
			v := c.variable(b, local)
			if v == nil {
				continue
			}
			c.resolve(b, v, 0)
			if v.err == nil && v.isList {
				lists = append(lists, listVar{name, v.list})
			}
		}
	}
	out := []map[string]string{{}}
	for _, l := range lists {
		if len(out)*len(l.values) > maxIterations {
			return nil, fmt.Errorf("its lists make more than %d promises", maxIterations)
		}
		var next []map[string]string
		for _, m := range out {
			for _, val := range l.values {
				n := make(map[string]string, len(m)+1)
				for k, x := range m {
					n[k] = x
				}
				n[l.name] = val
				next = append(next, n)
			}
		}
		out = next
	}
	return out, nil
}

// maxIterations bounds the promises one promise may expand to.
const maxIterations = 1000

// strings returns every string of a value, for finding the lists it names.
func valueStrings(v *cfengine.Value) []string {
	if v == nil {
		return nil
	}
	switch v.Kind {
	case cfengine.String, cfengine.Var:
		return []string{v.Text}
	}
	var out []string
	for _, it := range v.Items {
		out = append(out, valueStrings(it)...)
	}
	return out
}
