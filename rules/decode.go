package rules

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// sink collects the errors and warnings of one Load.
type sink struct {
	errs  ErrorList
	warns []Warning
}

// obj is one map of a rule file under validation, with what is needed to
// report errors at the right place. Items expanded by for: have the
// substituted map in m, the written one in orig and the combination in
// label.
type obj struct {
	file   string
	ix     *posIndex
	path   string
	parent *obj
	m      map[string]any
	orig   map[string]any
	s      *sink
	item   string // identity of the for: item this map belongs to
	label  string // the for: combination, e.g. "m=dcc"

	allowed []string // the keys allowed in m, once checked
}

func (o *obj) sub(key string, m map[string]any) *obj {
	return &obj{file: o.file, ix: o.ix, path: child(o.path, key), parent: o, m: m, s: o.s, item: o.item, label: o.label}
}

// selfPos is the position of the map itself (of its first key for a list
// element), or of the nearest enclosing map that has one.
func (o *obj) selfPos() Pos {
	for p := o; p != nil; p = p.parent {
		if np, ok := p.ix.lookup(p.path); ok {
			return np.val
		}
	}
	return Pos{File: o.file}
}

// keyPos is the position of key, or of the map when key is not there.
func (o *obj) keyPos(key string) Pos {
	if np, ok := o.ix.lookup(child(o.path, key)); ok {
		return np.key
	}
	return o.selfPos()
}

// valPos is the position of key's value.
func (o *obj) valPos(key string) Pos {
	if np, ok := o.ix.lookup(child(o.path, key)); ok {
		return np.val
	}
	return o.selfPos()
}

func (o *obj) errAt(pos Pos, key, hint, format string, args ...any) {
	o.s.errs = append(o.s.errs, &Error{Pos: pos, Key: key, Msg: fmt.Sprintf(format, args...), Hint: hint, Expansion: o.label, item: o.item})
}

// errf reports an error about key's value.
func (o *obj) errf(key, hint, format string, args ...any) {
	o.errAt(o.valPos(key), child(o.path, key), hint, format, args...)
}

// warnf reports a warning about key's value.
func (o *obj) warnf(key, format string, args ...any) {
	// No expansion label: warnings that do not depend on a for: variable
	// then repeat exactly and are printed once.
	msg := fmt.Sprintf(format, args...)
	o.s.warns = append(o.s.warns, Warning{Pos: o.valPos(key), Key: child(o.path, key), Msg: msg})
}

// checkKeys reports every key that is not allowed.
func (o *obj) checkKeys(allowed []string) {
	o.allowed = allowed
	for _, k := range sortedKeys(o) {
		if !slices.Contains(allowed, k) {
			o.errAt(o.keyPos(k), child(o.path, k), didYouMean(k, allowed), "unknown key %s", strconv.Quote(k))
		}
	}
}

// sortedKeys returns the keys of o.m in the order they were written.
func sortedKeys(o *obj) []string {
	keys := make([]string, 0, len(o.m))
	for k := range o.m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		if c := comparePos(o.keyPos(a), o.keyPos(b)); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	return keys
}

func (o *obj) has(key string) bool {
	_, ok := o.m[key]
	return ok
}

// typeName describes a decoded value for error messages.
func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "an empty value"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case int, int64, uint64, int32, uint32, float64, float32:
		return "a number"
	case []any:
		return "a list"
	case map[string]any:
		return "a map"
	default:
		return fmt.Sprintf("a %T", v)
	}
}

// str returns key's string value; ok is false when it is absent or not a
// string (the latter is reported).
func (o *obj) str(key string) (string, bool) {
	v, present := o.m[key]
	if !present {
		return "", false
	}
	s, isStr := v.(string)
	if !isStr {
		hint := ""
		if _, num := asInt(v); num {
			hint = "quote it to make it a string"
		}
		o.errf(key, hint, "must be a string, not %s", typeName(v))
		return "", false
	}
	return s, true
}

// missing reports that a required key is absent, unless an unknown key
// already reported looks like a typo of it: one mistake, one error.
func (o *obj) missing(key, hint, format string, args ...any) {
	for k := range o.m {
		if len(o.allowed) > 0 && !slices.Contains(o.allowed, k) && suggest(k, o.allowed) == key {
			return
		}
	}
	if format == "" {
		format, args = "required key %s is missing", []any{key}
	}
	o.errAt(o.selfPos(), child(o.path, key), hint, format, args...)
}

// required returns key's non-empty string value, reporting it when absent.
func (o *obj) required(key, hint string) (string, bool) {
	if !o.has(key) {
		o.missing(key, hint, "")
		return "", false
	}
	s, ok := o.str(key)
	if ok && s == "" {
		o.errf(key, hint, "must not be empty")
		return "", false
	}
	return s, ok
}

// enum returns key's value, which must be one of allowed; def when absent.
func (o *obj) enum(key, def string, allowed ...string) string {
	s, ok := o.str(key)
	if !ok {
		return def
	}
	if !slices.Contains(allowed, s) {
		o.errf(key, didYouMean(s, allowed), "unknown value %s", strconv.Quote(s))
		return def
	}
	return s
}

func (o *obj) boolean(key string, def bool) bool {
	v, present := o.m[key]
	if !present {
		return def
	}
	b, ok := v.(bool)
	if !ok {
		o.errf(key, "true or false, unquoted", "must be a boolean, not %s", typeName(v))
		return def
	}
	return b
}

const durationHint = "a duration such as 30s, 5m, 1h30m, 1d or 2w"

// duration returns key's duration value; def when absent or invalid.
func (o *obj) duration(key string, def time.Duration) time.Duration {
	v, present := o.m[key]
	if !present {
		return def
	}
	if n, ok := asInt(v); ok && n == 0 {
		return 0
	}
	s, ok := v.(string)
	if !ok {
		o.errf(key, durationHint, "must be a duration with a unit, not %s", typeName(v))
		return def
	}
	d, err := parseDuration(s)
	if err != nil {
		o.errf(key, durationHint, "%v", err)
		return def
	}
	return d
}

// asInt converts the decoders' numbers (int from YAML, int64 from TOML,
// float64 from JSON) to an int when integral.
func asInt(v any) (int64, bool) {
	switch n := v.(type) {
	case int:
		return int64(n), true
	case int64:
		return n, true
	case int32:
		return int64(n), true
	case uint64:
		if n <= math.MaxInt64 {
			return int64(n), true
		}
	case uint32:
		return int64(n), true
	case float64:
		if n == math.Trunc(n) && math.Abs(n) < 1<<53 {
			return int64(n), true
		}
	}
	return 0, false
}

// integer returns key's integer value within [lo, hi]; def when absent or
// invalid.
func (o *obj) integer(key string, def, lo, hi int64) int64 {
	v, present := o.m[key]
	if !present {
		return def
	}
	n, ok := asInt(v)
	if !ok {
		o.errf(key, "", "must be a whole number, not %s", typeName(v))
		return def
	}
	if n < lo || n > hi {
		o.errf(key, "", "%d is out of range [%d, %d]", n, lo, hi)
		return def
	}
	return n
}

// number returns key's finite, non-negative number; def when absent or
// invalid (reported).
func (o *obj) number(key string, def float64, hint string) float64 {
	v, present := o.m[key]
	if !present {
		return def
	}
	var f float64
	switch n := v.(type) {
	case float64:
		f = n
	case float32:
		f = float64(n)
	default:
		i, ok := asInt(v)
		if !ok {
			o.errf(key, hint, "must be a number, not %s", typeName(v))
			return def
		}
		f = float64(i)
	}
	if math.IsNaN(f) || math.IsInf(f, 0) || f < 0 {
		o.errf(key, hint, "must be a number of at least 0, not %v", f)
		return def
	}
	return f
}

// elemAt returns the path of element i of key's list, and where it is
// written: its own position, or the list's when the index has none.
func (o *obj) elemAt(key string, i int) (string, Pos) {
	p := elem(child(o.path, key), i)
	if np, ok := o.ix.lookup(p); ok {
		return p, np.val
	}
	return p, o.valPos(key)
}

// writtenElemAt is elemAt for an element whose text for: may have
// changed: in an item expanded by for:, the list's position.
func (o *obj) writtenElemAt(key string, i int) (string, Pos) {
	p, pos := o.elemAt(key, i)
	if o.orig != nil {
		return p, o.valPos(key)
	}
	return p, pos
}

// list returns key's list value; ok is false when absent or not a list.
func (o *obj) list(key string) ([]any, bool) {
	v, present := o.m[key]
	if !present {
		return nil, false
	}
	l, ok := v.([]any)
	if !ok {
		o.errf(key, "", "must be a list, not %s", typeName(v))
		return nil, false
	}
	return l, true
}

// mapping returns key's map value as an obj; nil when absent or not a map.
func (o *obj) mapping(key string) *obj {
	v, present := o.m[key]
	if !present {
		return nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		if v == nil {
			m = map[string]any{}
		} else {
			o.errf(key, "", "must be a map, not %s", typeName(v))
			return nil
		}
	}
	return o.sub(key, m)
}

// strList returns key's list of strings. Numbers are refused rather than
// converted, since a YAML 0644 is not the string "0644".
func (o *obj) strList(key string) ([]string, bool) {
	l, ok := o.list(key)
	if !ok {
		return nil, false
	}
	out := make([]string, 0, len(l))
	good := true
	for i, v := range l {
		s, isStr := v.(string)
		if !isStr {
			p, pos := o.elemAt(key, i)
			o.errAt(pos, p, "quote it to make it a string", "must be a string, not %s", typeName(v))
			good = false
			continue
		}
		out = append(out, s)
	}
	return out, good
}

// strMap returns key's map of strings; check, when not nil, validates each
// map key and returns a problem or "".
func (o *obj) strMap(key string, check func(k string) (msg, hint string)) map[string]string {
	m := o.mapping(key)
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m.m))
	for _, k := range sortedKeys(m) {
		if check != nil {
			if msg, hint := check(k); msg != "" {
				m.errAt(m.keyPos(k), child(m.path, k), hint, "%s", msg)
				continue
			}
		}
		if s, ok := m.str(k); ok {
			out[k] = s
		}
	}
	return out
}

// exprPos is the position of offset off inside key's string value, when
// the file's columns can be mapped to the string's bytes.
func (o *obj) exprPos(key string, off int) Pos {
	np, ok := o.ix.lookup(child(o.path, key))
	if !ok {
		return o.selfPos()
	}
	p := np.val
	if np.inner < 0 || p.Col == 0 {
		return p
	}
	if o.orig != nil && fmt.Sprint(o.orig[key]) != fmt.Sprint(o.m[key]) {
		return p // for: substitution moved the bytes
	}
	p.Col += np.inner + off
	return p
}

// expr parses key's class expression.
func (o *obj) expr(key string, s string) *Expr {
	if msg, hint, bad := leftoverVar(s); bad {
		o.errf(key, hint, "%s", msg)
		return nil
	}
	e, err := ParseExpr(s)
	if err != nil {
		off := 0
		msg := err.Error()
		var ee *ExprError
		if errors.As(err, &ee) {
			off, msg = ee.Offset, ee.Msg
		}
		o.errAt(o.exprPos(key, off), child(o.path, key), "CFEngine syntax: . or & for AND, | for OR, ! for NOT, ( ), comparisons such as value_h > 50", "invalid class expression: %s", msg)
		return nil
	}
	return e
}

// leftoverVar describes the first "$(" left in s once for: is expanded,
// in a value that is not expanded at run time: a $(name) that for: does
// not define, or a "$(" that is not closed; hint says what to do.
func leftoverVar(s string) (msg, hint string, bad bool) {
	i := strings.Index(s, "$(")
	if i < 0 {
		return "", "", false
	}
	j := strings.IndexByte(s[i:], ')')
	if j < 0 {
		hint = "close it, e.g. $(x)"
		if n := nameLen(s[i+2:]); n > 0 {
			hint = "close it: $(" + s[i+2:i+2+n] + ")"
		}
		return fmt.Sprintf("$( is not closed by ) in %s", strconv.Quote(clip(s[i:], 40))), hint, true
	}
	return fmt.Sprintf("$(%s) is not defined in for:", s[i+2:i+j]), "add it to for: or remove it", true
}
