package rules

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"

	"github.com/logtally/logtally/match"
)

// Classes returns the classes the measurement can set: h_unavailable (an
// interval in which its stream could not be read); for a weekly
// measurement h, h_high, h_low, h_normal, h_learning and the deviation
// classes h_{high,low}_{dev1,dev2,anomaly,microanomaly};
// entropy_h_{high,medium,low} when it has keys (sources, users,
// addresses); and for a set with expect:, h_unexpected and h_missing.
func (m *Measurement) Classes() []string {
	if m.Handle == "" {
		return nil
	}
	h := m.Handle
	out := []string{h + "_unavailable"}
	if m.IsSet() && m.Expect != nil {
		out = append(out, h+"_unexpected", h+"_missing")
	}
	if m.HistoryType == HistoryWeekly {
		out = append(out, h+"_high", h+"_low", h+"_normal", h+"_learning")
		for _, dir := range []string{"_high", "_low"} {
			for _, lvl := range []string{"_dev1", "_dev2", "_anomaly", "_microanomaly"} {
				out = append(out, h+dir+lvl)
			}
		}
	}
	if m.Keyed() && !m.IsSet() {
		out = append(out, "entropy_"+h+"_high", "entropy_"+h+"_medium", "entropy_"+h+"_low")
	}
	return out
}

// Measurement returns the measurement with the handle, or nil.
func (s *Set) Measurement(handle string) *Measurement {
	for _, m := range s.Measurements {
		if m.Handle == handle {
			return m
		}
	}
	return nil
}

// KnownClasses returns, sorted, every class the rule set can set: "any",
// the classes of every measurement and the user classes.
func (s *Set) KnownClasses() []string {
	out := []string{"any"}
	for _, m := range s.Measurements {
		out = append(out, m.Classes()...)
	}
	for _, w := range s.Watches {
		out = append(out, w.Classes()...)
	}
	for _, c := range s.Classes {
		out = append(out, c.Name)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// finish runs the checks across files and returns the Set or the errors.
func (l *loader) finish() (*Set, error) {
	if l.set.Settings.Host == "" {
		if h, err := os.Hostname(); err == nil {
			l.set.Settings.Host = h
		}
	}
	l.checkMeasurements()
	l.compileRegexps()
	known := l.checkClasses()
	l.uniqueDerived()
	l.checkHandles()
	l.checkExprs(known)
	l.checkVars()
	l.checkPerKey()
	l.checkPolicies()
	if errs := mergeExpansions(l.s.errs, l.nexp); len(errs) > 0 {
		sortErrors(errs)
		return nil, errs
	}
	set := l.set
	for _, e := range l.ms {
		set.Measurements = append(set.Measurements, e.m)
	}
	for _, e := range l.watches {
		set.Watches = append(set.Watches, e.w)
	}
	for _, e := range l.classes {
		set.Classes = append(set.Classes, e.c)
	}
	for _, e := range l.cmds {
		set.Commands = append(set.Commands, e.c)
	}
	for _, e := range l.reps {
		set.Reports = append(set.Reports, e.r)
	}
	for _, e := range l.policies {
		set.Policy = append(set.Policy, e.p)
	}
	set.Warnings = sortWarnings(l.s.warns)
	return set, nil
}

// measurementsOf returns the handles of the measurements whose classes or
// variables e refers to, directly or through the user classes it names,
// in the order of the rule set.
func (s *Set) measurementsOf(e *Expr) []string {
	users := map[string]*Expr{}
	for _, c := range s.Classes {
		users[c.Name] = c.Expr
	}
	return refersTo(e, measurementClasses(s.Measurements), users, s.Measurements)
}

// setter is a measurement or a watch, as what sets classes.
type setter struct {
	handle  string
	classes func() []string
}

// classIndex finds which measurement or watch sets a class, without
// listing every class of every one: 1000 weekly measurements set 14,000
// classes, and a map of them costs more than all the lookups a rule set's
// expressions make. A derived class is its handle with words added before
// or after it (h_high_dev1, entropy_h_low, w_changed), so its candidates
// are the handles written between underscores in its name, each confirmed
// by the classes it sets.
type classIndex struct {
	setters []setter
	byName  map[string][]int // handle → the setters with it, in order
}

func newClassIndex(setters []setter) *classIndex {
	x := &classIndex{setters: setters, byName: make(map[string][]int, len(setters))}
	for i, st := range setters {
		if st.handle != "" {
			x.byName[st.handle] = append(x.byName[st.handle], i)
		}
	}
	return x
}

// measurementClasses is the classIndex of measurements.
func measurementClasses(ms []*Measurement) *classIndex {
	setters := make([]setter, len(ms))
	for i, m := range ms {
		setters[i] = setter{m.Handle, m.Classes}
	}
	return newClassIndex(setters)
}

// owner returns the index of the first setter that sets class c.
func (x *classIndex) owner(c string) (int, bool) {
	best := -1
	for a := 0; a < len(c); a++ {
		if a > 0 && c[a-1] != '_' {
			continue
		}
		for b := a + 1; b <= len(c); b++ {
			if b < len(c) && c[b] != '_' {
				continue
			}
			for _, i := range x.byName[c[a:b]] {
				if best >= 0 && i >= best {
					break
				}
				if slices.Contains(x.setters[i].classes(), c) {
					best = i
					break
				}
			}
		}
	}
	return best, best >= 0
}

// names returns every class of the setters.
func (x *classIndex) names() []string {
	var out []string
	for _, st := range x.setters {
		out = append(out, st.classes()...)
	}
	return out
}

// refersTo is measurementsOf over the classes of ms and the user classes'
// expressions.
func refersTo(e *Expr, owner *classIndex, users map[string]*Expr, ms []*Measurement) []string {
	found := map[string]bool{}
	seen := map[string]bool{}
	var walk func(e *Expr)
	walk = func(e *Expr) {
		if e == nil {
			return
		}
		for _, c := range e.Classes() {
			if i, ok := owner.owner(c); ok {
				found[ms[i].Handle] = true
			}
			if u, ok := users[c]; ok && !seen[c] {
				seen[c] = true
				walk(u)
			}
		}
		for _, v := range e.Vars() {
			if _, h, ok := SplitVar(v); ok {
				found[h] = true
			}
		}
	}
	walk(e)
	var out []string
	for _, m := range ms {
		if found[m.Handle] {
			out = append(out, m.Handle)
		}
	}
	return out
}

// checkPerKey resolves the measurements whose sources a per: key command
// or report fires for: the keyed ones its guard refers to, at least one.
func (l *loader) checkPerKey() {
	if !slices.ContainsFunc(l.cmds, func(e *cmdEntry) bool { return e.perKey }) &&
		!slices.ContainsFunc(l.reps, func(e *repEntry) bool { return e.perKey }) {
		return
	}
	var ms []*Measurement
	for _, e := range l.ms {
		ms = append(ms, e.m)
	}
	owner := measurementClasses(ms)
	users := map[string]*Expr{}
	for _, e := range l.classes {
		users[e.c.Name] = e.c.Expr
	}
	keyed := func(o *obj, e *Expr) []string {
		var out []string
		for _, h := range refersTo(e, owner, users, ms) {
			for _, m := range ms {
				if m.Handle == h && m.Keyed() && !m.IsSet() {
					out = append(out, h)
				}
			}
		}
		if len(out) == 0 && e != nil {
			o.errf("per", "per: key needs a guard on a measurement with key:, e.g. if: ssh_username_probe_high_anomaly",
				"the guard %s refers to no measurement with a key", e)
		}
		return out
	}
	for _, e := range l.cmds {
		if e.perKey {
			e.c.PerKey = keyed(e.o, e.c.If)
		}
	}
	for _, e := range l.reps {
		if e.perKey {
			e.r.PerKey = keyed(e.o, e.r.If)
		}
	}
}

// checkMeasurements reports duplicate handles of measurements,
// observables and watches, which name classes and variables alike.
func (l *loader) checkMeasurements() {
	seen := map[string]*obj{}
	reported := map[string]bool{}
	check := func(h string, o *obj) {
		if h == "" {
			return
		}
		if prev, dup := seen[h]; dup {
			key := "handle"
			if !o.has("handle") && o.has("name") {
				key = "name"
			}
			o.dupHandle(key, h, prev, prev.handlePos(), reported)
			return
		}
		seen[h] = o
	}
	for _, e := range l.ms {
		check(e.m.Handle, e.o)
	}
	for _, e := range l.watches {
		check(e.w.Handle, e.o)
	}
}

// handlePos is where the handle of a measurement, observable or watch is
// written: its handle:, its name:, or the element itself (an observable
// named by a string).
func (o *obj) handlePos() Pos {
	switch {
	case o.has("handle"):
		return o.valPos("handle")
	case o.has("name"):
		return o.valPos("name")
	}
	return o.selfPos()
}

// dupHandle reports a handle already defined at prevPos by prev. A handle
// repeated by the expansions of one item is reported once, in reported.
func (o *obj) dupHandle(key, h string, prev *obj, prevPos Pos, reported map[string]bool) {
	if prev.item == o.item && o.item != "" {
		if !reported[o.item] {
			reported[o.item] = true
			o.errAt(o.valPos(key), child(o.path, key), "use a for: variable in it, e.g. "+h+"_$(x)",
				"handle %s is the same for every combination of for:", h)
			o.s.errs[len(o.s.errs)-1].Expansion = ""
		}
		return
	}
	o.errf(key, "", "handle %s already defined at %s", h, prevPos)
}

// compileRegexps checks that every measurement's patterns compile as the
// daemon compiles them, and adds their lint warnings.
func (l *loader) compileRegexps() {
	specs := make([]match.Spec, len(l.ms))
	for i, e := range l.ms {
		specs[i] = match.Spec{Select: e.m.Select, Extract: e.m.Extract, Key: e.m.Key}
		if specs[i].Select == "" { // already reported; still check the others
			specs[i].Select = ".*"
		}
	}
	err := match.Check(specs, match.Options{Timeout: l.set.Settings.RegexTimeout})
	var errs []error
	if u, ok := err.(interface{ Unwrap() []error }); ok {
		errs = u.Unwrap()
	} else if err != nil {
		errs = []error{err}
	}
	for _, err := range errs {
		var me *match.Error
		if !errors.As(err, &me) || me.Index < 0 || me.Index >= len(l.ms) {
			file := ""
			if len(l.set.Files) > 0 {
				file = l.set.Files[0]
			}
			l.s.errs = append(l.s.errs, &Error{Pos: Pos{File: file}, Msg: "compile rules: " + err.Error()})
			continue
		}
		e := l.ms[me.Index]
		if me.Field == match.FieldSelect && e.m.Select == "" {
			continue
		}
		switch {
		case errors.Is(me.Err, match.ErrNoGroup) && me.Field == match.FieldKey:
			e.o.errf(me.Field, `the key is the first group, e.g. 'from (\S+)'`, "missing capture group")
		case errors.Is(me.Err, match.ErrNoGroup):
			e.o.errf(me.Field, `the value is the first group, e.g. 'took (\d+) ms'`, "missing capture group")
		default:
			e.o.errf(me.Field, "", "invalid regex: %v", me.Err)
		}
	}
	// Linted together: the rules of a for: list, which differ by a
	// literal, are linted once.
	for field, patOf := range map[string]func(*Measurement) string{
		match.FieldSelect:  func(m *Measurement) string { return m.Select },
		match.FieldExtract: func(m *Measurement) string { return m.Extract },
		match.FieldKey:     func(m *Measurement) string { return m.Key },
	} {
		var pats []string
		var of []*mEntry
		for _, e := range l.ms {
			if pat := patOf(e.m); pat != "" {
				pats = append(pats, pat)
				of = append(of, e)
			}
		}
		for i, ws := range match.LintAll(pats) {
			for _, w := range ws {
				of[i].o.warnf(field, "%s", w)
			}
		}
	}
}

// checkClasses reports user classes defined twice or named like a class a
// measurement sets, and returns every class that can be set.
func (l *loader) checkClasses() *knownClasses {
	var setters []setter
	var where []*obj // where each setter's handle is, looked up for an error only
	for _, e := range l.ms {
		setters = append(setters, setter{e.m.Handle, e.m.Classes})
		where = append(where, e.o)
	}
	for _, e := range l.watches {
		setters = append(setters, setter{e.w.Handle, e.w.Classes})
		where = append(where, e.o)
	}
	known := &knownClasses{set: newClassIndex(setters), other: map[string]bool{"any": true}}
	seen := map[string]*classEntry{}
	for _, e := range l.classes {
		name := e.c.Name
		key := child(e.o.path, name)
		i, owned := known.set.owner(name)
		switch {
		case owned:
			st := setters[i]
			e.o.errAt(e.c.Pos, key, "choose another name", "class %s is set by measurement %s (%s)", name, st.handle, where[i].handlePos())
		case seen[name] != nil:
			e.o.errAt(e.c.Pos, key, "", "class %s already defined at %s", name, seen[name].c.Pos)
		case IsTimeClass(name):
			e.o.errAt(e.c.Pos, key, "choose another name", "%s is a time class, set by the clock", name)
		default:
			seen[name] = e
		}
		known.other[name] = true
	}
	return known
}

// knownClasses are the classes a rule set sets: those of its measurements
// and watches, its user classes, "any", and the host's.
type knownClasses struct {
	set   *classIndex
	other map[string]bool
}

func (k *knownClasses) has(c string) bool {
	if k.other[c] {
		return true
	}
	_, ok := k.set.owner(c)
	return ok
}

// names returns the known classes, sorted.
func (k *knownClasses) names() []string {
	out := append(k.set.names(), slices.Collect(maps.Keys(k.other))...)
	slices.Sort(out)
	return slices.Compact(out)
}

// checkHandles reports commands and reports that share a handle; they share
// one namespace, the key of their ifelapsed locks.
func (l *loader) checkHandles() {
	type def struct {
		o   *obj
		pos Pos
	}
	seen := map[string]def{}
	reported := map[string]bool{}
	check := func(h string, o *obj, explicit bool) {
		if h == "" {
			return
		}
		pos := o.selfPos()
		if explicit {
			pos = o.valPos("handle")
		}
		if prev, dup := seen[h]; dup {
			if explicit {
				o.dupHandle("handle", h, prev.o, prev.pos, reported)
			} else {
				o.errAt(pos, o.path, "", "derived handle %s already defined at %s", h, prev.pos)
			}
			return
		}
		seen[h] = def{o, pos}
	}
	for _, e := range l.cmds {
		check(e.c.Handle, e.o, e.explicit)
	}
	for _, e := range l.reps {
		check(e.r.Handle, e.o, e.explicit)
	}
}

// checkExprs warns about classes that no measurement, user class or the
// clock sets, and about variables of comparisons that never have a value.
// A class may come from elsewhere (a persisted class of an older rule
// set), so this is a warning.
func (l *loader) checkExprs(known *knownClasses) {
	for _, c := range HostClasses(l.set.Settings.Host) {
		known.other[c] = true
	}
	// What a suggestion searches, and the variables, are found when an
	// expression first needs them: a rule set of many measurements and
	// no expression does not sort their classes.
	names := sync.OnceValue(known.names)
	vars := sync.OnceValue(l.numericVars)
	varNames := sync.OnceValue(func() []string { return slices.Sorted(maps.Keys(vars())) })
	warn := func(o *obj, key string, e *Expr) {
		if e == nil {
			return
		}
		for _, c := range e.Classes() {
			if known.has(c) || c == "nothing" || IsTimeClass(c) {
				continue
			}
			msg := "class " + c + " is not set by any measurement or class"
			if s := suggest(c, names()); s != "" {
				msg += " (did you mean " + s + "?)"
			}
			o.warnf(key, "%s", msg)
		}
		for _, v := range e.Vars() {
			why, ok := vars()[v]
			switch {
			case !ok:
				msg := "variable " + v + " is not a number any measurement has, so the comparison is always false"
				if s := suggest(v, varNames()); s != "" {
					msg += " (did you mean " + s + "?)"
				}
				o.warnf(key, "%s", msg)
			case why != "":
				o.warnf(key, "variable %s never has a value (%s), so the comparison is always false", v, why)
			}
		}
	}
	for _, e := range l.classes {
		key := e.c.Name
		if _, isMap := e.o.m[key].(map[string]any); isMap {
			warn(e.o.sub(key, nil), "expression", e.c.Expr)
			continue
		}
		warn(e.o, key, e.c.Expr)
	}
	for _, e := range l.cmds {
		warn(e.o, "if", e.c.If)
	}
	for _, e := range l.reps {
		if e.o.has("if") {
			warn(e.o, "if", e.r.If)
		}
	}
	for _, e := range l.policies {
		if e.o.has("if") {
			warn(e.o, "if", e.p.If)
		}
	}
}

// numericVars returns the numeric variables of the measurements and
// watches, for comparisons: each maps to "" when it has a value in some
// interval, or to why it never has one.
func (l *loader) numericVars() map[string]string {
	out := map[string]string{}
	for _, e := range l.ms {
		h := e.m.Handle
		if h == "" {
			continue
		}
		out[VarValue+h] = ""
		if e.m.IsSet() || e.m.DataType == String {
			out[VarValue+h] = "measurement " + h + "'s value is text (data_type " + e.m.DataType + ")"
		}
		for _, p := range []string{VarAv, VarDev, VarZ} {
			out[p+h] = ""
			if e.m.HistoryType != HistoryWeekly {
				out[p+h] = "measurement " + h + " is history_type " + e.m.HistoryType + ", without a baseline"
			}
		}
		out[VarEntropy+h] = ""
		if !e.m.Keyed() || e.m.IsSet() {
			out[VarEntropy+h] = "measurement " + h + " has no key"
		}
	}
	for _, e := range l.watches {
		if e.w.Handle != "" {
			out[VarValue+e.w.Handle] = ""
		}
	}
	return out
}

// checkVars warns about what the expander of commands and reports would
// write as it is, or as nothing: a $( that opens no reference (badRefs), a
// name that is no variable, ${name} for $(name); $(value_h) style
// references to measurements that do not exist; and variables a
// measurement never has: $(top_h) without keys, $(unexpected_h) without
// expect:, $(changed_h) of a measurement rather than a watch.
func (l *loader) checkVars() {
	handles := map[string]*Measurement{}
	watches := map[string]*Watch{}
	var names []string
	for _, e := range l.ms {
		if e.m.Handle != "" {
			handles[e.m.Handle] = e.m
			names = append(names, e.m.Handle)
		}
	}
	for _, e := range l.watches {
		if e.w.Handle != "" {
			watches[e.w.Handle] = e.w
			names = append(names, e.w.Handle)
		}
	}
	// notice is true in a notice policy's message and command.
	isVar := func(name string, notice bool) bool {
		switch name {
		case VarClasses, VarHost, VarEnvTime, VarKey:
			return true
		case VarNotice, VarPriority, VarMessage:
			return notice
		}
		_, _, ok := SplitVar(name)
		return ok
	}
	// What an unknown name is compared with, made when one is first met.
	varNames := sync.OnceValue(func() []string {
		out := []string{VarClasses, VarHost, VarEnvTime, VarKey}
		for _, h := range names {
			for _, v := range runtimeVars {
				out = append(out, v.prefix+h)
			}
		}
		return out
	})
	check := func(o *obj, key string, pos Pos, s string, perKey, notice bool) {
		if !strings.ContainsRune(s, '$') {
			return
		}
		warn := func(format string, args ...any) {
			o.s.warns = append(o.s.warns, Warning{Pos: pos, Key: key, Msg: fmt.Sprintf(format, args...)})
		}
		for _, msg := range badRefs(s, func(n string) bool { return isVar(n, notice) }) {
			warn("%s", msg)
		}
		for rest := s; ; {
			_, written, after, ok := NextRef(rest)
			if !ok {
				return
			}
			rest = after
			name := CanonicalVar(written)
			if name == VarKey && !perKey {
				warn("$(key) is always empty without per: key")
			}
			p, h, ok := SplitVar(name)
			if !ok {
				if !isVar(name, notice) {
					msg := "$(" + written + ") is not a variable, so it is written as it is"
					candidates := varNames()
					if notice {
						candidates = append(slices.Clip(candidates), VarNotice, VarPriority, VarMessage)
					}
					if s := suggest(name, candidates); s != "" {
						msg += " (did you mean $(" + s + ")?)"
					}
					warn("%s", msg)
				}
				continue
			}
			m, w := handles[h], watches[h]
			switch {
			case m == nil && w == nil:
				msg := "$(" + written + ") refers to no measurement " + h
				if s := suggest(h, names); s != "" {
					msg += " (did you mean " + p + s + "?)"
				}
				warn("%s", msg)
			case w != nil && p != VarValue && p != VarChanged && p != VarAdded && p != VarRemoved:
				warn("$(%s) is always empty: %s is a watch_files watch", written, h)
			case m != nil && (p == VarChanged || p == VarAdded || p == VarRemoved):
				warn("$(%s) is always empty: only a watch_files watch has it", written)
			case (p == VarTop || p == VarEntropy) && (!m.Keyed() || m.IsSet()):
				warn("$(%s) is always empty: measurement %s has no key", written, h)
			case (p == VarExpected || p == VarUnexpected || p == VarMissing) && (!m.IsSet() || m.Expect == nil):
				warn("$(%s) is always empty: measurement %s has no expect:", written, h)
			}
		}
	}
	argv := func(o *obj, argv []string, perKey, notice bool) {
		for i, a := range argv {
			p, pos := o.elemAt("command", i)
			check(o, p, pos, a, perKey, notice)
		}
	}
	for _, e := range l.cmds {
		argv(e.o, e.c.Argv, e.perKey, false)
		env := e.o.sub("env", nil)
		for _, k := range slices.Sorted(maps.Keys(e.c.Env)) {
			check(env, child(env.path, k), env.valPos(k), e.c.Env[k], e.perKey, false)
		}
	}
	for _, e := range l.reps {
		check(e.o, child(e.o.path, "message"), e.o.valPos("message"), e.r.Message, e.perKey, false)
	}
	for _, e := range l.policies {
		argv(e.o, e.p.Command, true, true)
		check(e.o, child(e.o.path, "message"), e.o.valPos("message"), e.p.Message, true, true)
	}
}

// TagsFor returns the tags of a measurement's points: the global tags
// overlaid with the measurement's own. The result must not be modified.
func (s *Settings) TagsFor(m *Measurement) map[string]string {
	if len(m.Tags) == 0 {
		return s.Tags
	}
	tags := make(map[string]string, len(s.Tags)+len(m.Tags))
	for k, v := range s.Tags {
		tags[k] = v
	}
	for k, v := range m.Tags {
		tags[k] = v
	}
	return tags
}
