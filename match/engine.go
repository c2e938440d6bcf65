package match

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/dlclark/regexp2"
)

// How a rule is compiled. The reference semantics (reference.go) is plain
// regexp2; each pattern gets the cheapest engine that gives the same
// results:
//
//   - select patterns lose their outer `.*` (a whole-line match of `.*X.*`
//     is a search for X, since lines contain no '\n');
//   - "literal": a select pattern of literal text, `.*` and outer anchors
//     runs as a few bytes.Index calls;
//   - "bytes": a pattern the bytes engine compiles (bytes.go) runs on the
//     bytes of ASCII lines; the other lines, and a line that would exceed
//     its work budget, go to the engine listed next that compiles;
//   - "re2": a pattern whose RE2 translation means the same on every line
//     runs on Go's regexp (with a second, smaller translation for ASCII
//     lines when classes such as \d differ there);
//   - "re2+ascii": a pattern whose translation is exact only on ASCII
//     lines (\b, \B, case folding of non-ASCII runes, [:name:]) runs on
//     Go's regexp for ASCII lines and on regexp2 for the others;
//   - "regexp2": lookaround, backreferences, atomic groups, counts over
//     1000 and the like run on regexp2, still trimmed and behind the
//     prefilter.
//
// The RE2 translation is generated from the parse tree (parse.go), not
// copied from the pattern: every character class is written out as the
// set of runes regexp2 gives it (class.go), every group but the wanted
// one becomes non-capturing, anchors are written for lines without '\n'.
// Select patterns also yield literals every match contains; one
// Aho–Corasick pass over the line (prefilter.go) finds them for all rules
// at once, and only the rules whose literals are all present run.
//
// A line that contains '\n' (the line framer never passes one) runs on
// the reference.

// engineKind names an engine.
type engineKind uint8

const (
	engLiteral engineKind = iota
	engRE2
	engRE2ASCII
	engRegexp2
	engBytes
)

func (k engineKind) String() string {
	switch k {
	case engLiteral:
		return "literal"
	case engRE2:
		return "re2"
	case engRE2ASCII:
		return "re2+ascii"
	case engBytes:
		return "bytes"
	}
	return "regexp2"
}

// selector is a compiled select pattern.
type selector struct {
	kind engineKind
	// exact is the selector of the lines bp does not take (kind is
	// engBytes), exact on every line.
	exact *lazySelector
	lit   *literalPlan
	bp    *bytesProg     // bytes: exact on ASCII lines
	re    *regexp.Regexp // re2: exact on every line
	// reASCII is exact on ASCII lines, with smaller classes (re2,
	// re2+ascii).
	reASCII *regexp.Regexp
	r2      *regexp2.Regexp // regexp2, and re2+ascii on non-ASCII lines
	trim    string
	// split is the bytes engine of a rule bound to a template
	// (template.go), exact on ASCII lines (kind is engBytes).
	split *splitSel
}

// finder is a compiled extraction or key pattern.
type finder struct {
	kind      engineKind
	bp        *bytesProg // bytes: exact on ASCII lines
	prog      *re2Prog   // re2: exact on every line
	progASCII *re2Prog   // exact on ASCII lines (re2, re2+ascii)
	r2        *regexp2.Regexp
	group     int
}

// rule is one compiled spec.
type rule struct {
	ref *refRule // nil when lazy compiles it (see reference)
	// lazy is the reference of a rule bound to a template, compiled
	// when first needed.
	lazy     *lazyRef
	sel      selector
	ext, key *finder
	clauses  []clause // literals that every selected line contains (ASCII lower case)
	// exact are clauses of literals that every selected line contains
	// byte for byte; the block scan searches for one of them.
	exact []clause
}

func compileRule(sp Spec, opts Options, o *oracle) (*rule, []*Error) {
	ref, errs := compileRef(sp, opts)
	if errs != nil {
		return nil, errs
	}
	return compileFast(sp, ref, opts, o), nil
}

// compileFast picks the engines of a rule whose reference compiled. A bug
// in the analysis must not take the daemon down with it: a panic leaves
// the rule on the reference engines.
func compileFast(sp Spec, ref *refRule, opts Options, o *oracle) (r *rule) {
	defer func() {
		if recover() != nil {
			r = referenceRule(ref)
		}
	}()
	r = &rule{ref: ref}
	r.sel, r.clauses, r.exact = compileSelector(sp.Select, ref, opts, o)
	if ref.extract != nil {
		r.ext = compileFinder(sp.Extract, ref.extract, ref.exGroup, o)
	}
	if ref.key != nil {
		r.key = compileFinder(sp.Key, ref.key, ref.keyGroup, o)
	}
	return r
}

// referenceRule returns a rule that runs the reference as it is.
func referenceRule(ref *refRule) *rule {
	r := &rule{ref: ref, sel: selector{kind: engRegexp2, r2: ref.sel, trim: "whole"}}
	if ref.extract != nil {
		r.ext = &finder{kind: engRegexp2, r2: ref.extract, group: ref.exGroup}
	}
	if ref.key != nil {
		r.key = &finder{kind: engRegexp2, r2: ref.key, group: ref.keyGroup}
	}
	return r
}

// compileSelector picks the engine of a select pattern. ref is the
// reference, which compiled. Unless the pattern is a literal, the bytes
// engine takes the ASCII lines when it can compile the pattern; the
// engine picked otherwise takes the rest.
func compileSelector(pat string, ref *refRule, opts Options, o *oracle) (selector, []clause, []clause) {
	root, err := parsePattern(pat)
	if err != nil {
		s, clauses := compileExactSelector(pat, ref, opts, o)
		return s, clauses, nil
	}
	sp := planTrim(pat, root)
	exact := required(sp.body(), anchorLiterals)
	var bp *bytesProg
	if _, literal := planLiteral(sp); !literal {
		if p, err := compileBytes(o, sp.body(), nil, !sp.trimStart, !sp.trimEnd); err == nil {
			bp = p
		}
	}
	if bp == nil {
		s, clauses := compileExactSelector(pat, ref, opts, o)
		return s, clauses, exact
	}
	// The bytes engine takes the ASCII lines; the engine of the others is
	// compiled when the first of them comes (most logs have none), with
	// its own oracle since Matchers may race to it.
	s := selector{kind: engBytes, bp: bp, trim: sp.mode(), exact: &lazySelector{build: func() selector {
		s, _ := compileExactSelector(pat, ref, opts, newOracle())
		return s
	}}}
	return s, pickClauses(required(sp.body(), prefilterLiterals)), exact
}

// lazySelector is a selector compiled on first use.
type lazySelector struct {
	once  sync.Once
	build func() selector
	sel   selector
}

// get returns the selector, compiling it on the first call.
func (l *lazySelector) get() *selector {
	l.once.Do(func() { l.sel, l.build = l.build(), nil })
	return &l.sel
}

// compileExactSelector picks the engine of a select pattern among those
// that are exact on every line.
func compileExactSelector(pat string, ref *refRule, opts Options, o *oracle) (selector, []clause) {
	fallback := selector{kind: engRegexp2, r2: ref.sel, trim: "whole"}
	root, err := parsePattern(pat)
	if err != nil {
		return fallback, nil
	}
	sp := planTrim(pat, root)
	body := sp.body()
	clauses := pickClauses(required(body, prefilterLiterals))
	s := selector{kind: engRegexp2, trim: sp.mode()}
	if lp, ok := planLiteral(sp); ok {
		s.kind, s.lit = engLiteral, lp
		return s, clauses
	}
	prefix, suffix := `\A`, `\z`
	if sp.trimStart {
		prefix = ""
	}
	if sp.trimEnd {
		suffix = ""
	}
	exact, ascii := translations(o, body, nil, prefix, suffix)
	var reExact, reASCII *regexp.Regexp
	if exact != "" {
		reExact, _ = regexp.Compile(exact) // fails when too large for RE2
	}
	if ascii != "" && ascii != exact {
		reASCII, _ = regexp.Compile(ascii)
	}
	if reExact != nil {
		s.kind, s.re, s.reASCII = engRE2, reExact, reASCII
		if s.reASCII == nil {
			s.reASCII = reExact
		}
		return s, clauses
	}
	// regexp2 runs the trimmed pattern on the lines RE2 does not take.
	if s.r2, err = compileTrimmed(sp, opts); err != nil {
		return fallback, clauses
	}
	if reASCII != nil {
		s.kind, s.reASCII = engRE2ASCII, reASCII
	}
	return s, clauses
}

// translations returns the RE2 translations of n, exact on every line and
// exact on ASCII lines (where classes are smaller: \d is [0-9], not every
// decimal digit of Unicode), "" for those that do not exist.
func translations(o *oracle, n, target *node, prefix, suffix string) (exact, ascii string) {
	exact, err := translate(o, n, false, target, prefix, suffix)
	if err != nil && !errors.Is(err, errNeedsASCII) {
		return "", ""
	}
	ascii, err = translate(o, n, true, target, prefix, suffix)
	if err != nil {
		return "", ""
	}
	return exact, ascii
}

// compileTrimmed compiles the trimmed select pattern for regexp2.
func compileTrimmed(sp *selectPlan, opts Options) (*regexp2.Regexp, error) {
	switch sp.mode() {
	case "search":
		return compileSearch(sp.text, opts.Timeout)
	case "suffix":
		return compileWrapped(searchPrefix, sp.text, `\z`, opts.Timeout)
	case "prefix":
		return compileWrapped(`\A`, sp.text, "", opts.Timeout)
	}
	return compileWrapped(`\A`, sp.text, `\z`, opts.Timeout)
}

// compileFinder picks the engine of an extraction or key pattern.
func compileFinder(pat string, ref *regexp2.Regexp, group int, o *oracle) *finder {
	f := &finder{kind: engRegexp2, r2: ref, group: group}
	root, err := parsePattern(pat)
	if err != nil {
		return f
	}
	target := captureTarget(root, ref.GetGroupNumbers(), ref.GetGroupNames())
	if target == nil {
		return f
	}
	exact, ascii := translations(o, root, target, "", "")
	var pExact, pASCII *re2Prog
	if exact != "" {
		pExact, _ = compileRE2Prog(exact)
	}
	if ascii != "" && ascii != exact {
		pASCII, _ = compileRE2Prog(ascii)
	}
	switch {
	case pExact != nil:
		f.kind, f.prog, f.progASCII = engRE2, pExact, pASCII
		if f.progASCII == nil {
			f.progASCII = pExact
		}
	case pASCII != nil:
		f.kind, f.progASCII = engRE2ASCII, pASCII
	}
	if bp, err := compileBytes(o, root, target, false, false); err == nil {
		f.kind, f.bp = engBytes, bp
	}
	return f
}

// maxClauses bounds the prefilter clauses of one rule.
const maxClauses = 4

// pickClauses keeps the strongest clauses, without duplicates.
func pickClauses(cs []clause) []clause {
	seen := map[string]bool{}
	var out []clause
	for _, c := range cs {
		var keys []string
		for _, l := range c {
			keys = append(keys, l.text)
		}
		sort.Strings(keys)
		k := strings.Join(keys, "\x00")
		if seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, c)
	}
	sort.SliceStable(out, func(i, j int) bool { return clauseScore(out[i]) > clauseScore(out[j]) })
	if len(out) > maxClauses {
		out = out[:maxClauses]
	}
	return out
}

// needsASCII reports whether the rule's engines depend on whether the line
// is ASCII.
func (r *rule) needsASCII() bool {
	return r.sel.kind == engRE2 || r.sel.kind == engRE2ASCII || r.sel.bp != nil || r.sel.split != nil ||
		r.ext != nil && (r.ext.prog != r.ext.progASCII || r.ext.bp != nil) ||
		r.key != nil && (r.key.prog != r.key.progASCII || r.key.bp != nil)
}

func (r *rule) match(m *Matcher, i int, line []byte, ascii bool) (Hit, bool) {
	ok, timeout := r.sel.match(m, line, ascii)
	if timeout {
		return Hit{Rule: i, Timeout: true}, true
	}
	if !ok {
		return Hit{}, false
	}
	h := Hit{Rule: i, Selected: true}
	if r.ext != nil {
		v, found, timeout := r.ext.find(m, line, ascii)
		h.Timeout = h.Timeout || timeout
		if found {
			h.Value = v
		} else {
			h.ExtractMiss = true
		}
	}
	if r.key != nil {
		k, found, timeout := r.key.find(m, line, ascii)
		h.Timeout = h.Timeout || timeout
		if found {
			h.Key = k
		}
	}
	return h, true
}

func (s *selector) match(m *Matcher, line []byte, ascii bool) (ok, timeout bool) {
	if ascii && s.bp != nil {
		if ok, done := s.bp.match(&m.bs, line); done {
			return ok, false
		}
	}
	if ascii && s.split != nil {
		if ok, done := s.split.match(&m.bs, line, m.from); done {
			return ok, false
		}
	}
	if s.exact != nil {
		s = s.exact.get()
	}
	switch {
	case s.kind == engLiteral:
		return s.lit.match(line), false
	case s.re != nil && !ascii:
		return s.re.Match(line), false
	case ascii && s.reASCII != nil:
		return s.reASCII.Match(line), false
	}
	return m.clock.matchRunes(s.r2, m.lineRunes(line))
}

func (f *finder) find(m *Matcher, line []byte, ascii bool) (val []byte, found, timeout bool) {
	if ascii && f.bp != nil {
		if lo, hi, found, done := f.bp.group(&m.bs, line); done {
			if !found {
				return nil, false, false
			}
			return m.value(line, lo, hi), true, false
		}
	}
	p := f.prog
	if ascii {
		p = f.progASCII
	}
	if p == nil {
		return groupOf(&m.clock, f.r2, f.group, m.lineRunes(line), &m.buf)
	}
	lo, hi, ok := m.bt.group1(p, line)
	if !ok {
		return nil, false, false
	}
	return m.value(line, lo, hi), true, false
}

// lineRunes returns the line as regexp2 sees it, converted once per line.
func (m *Matcher) lineRunes(line []byte) []rune {
	if !m.haveRunes {
		m.runes = appendRunes(m.runes[:0], line)
		m.haveRunes = true
	}
	return m.runes
}

// value returns line[lo:hi] as regexp2 would give it: the bytes
// themselves when they are valid UTF-8, else a copy in m.buf with U+FFFD
// for each invalid byte. It is never nil.
func (m *Matcher) value(line []byte, lo, hi int) []byte {
	v := line[lo:hi:hi]
	if v != nil && utf8.Valid(v) {
		return v
	}
	start := len(m.buf)
	for i := 0; i < len(v); {
		r, w := utf8.DecodeRune(v[i:])
		m.buf = utf8.AppendRune(m.buf, r)
		i += w
	}
	return m.buf[start:len(m.buf):len(m.buf)]
}

// EngineInfo describes how one rule is matched.
type EngineInfo struct {
	// Select is the select pattern's engine: "literal", "bytes", "re2",
	// "re2+ascii" or "regexp2".
	Select string
	// NonASCII is the engine that takes the lines that are not ASCII when
	// Select is "bytes" (which takes the ASCII lines), else "".
	NonASCII string
	// Trim says how the outer `.*` were trimmed: "search" (both), "prefix"
	// (the trailing one: the match is anchored at the start), "suffix" (the
	// leading one) or "whole" (none).
	Trim string
	// Extract and Key are the engines of the other patterns, "" when the
	// rule has none.
	Extract, Key string
	// Prefilter lists the literals a line must contain before the rule
	// runs: one of each inner list, compared in ASCII lower case. It is
	// empty when the rule runs on every line.
	Prefilter [][]string
}

// Engine returns the engine of rule i's select pattern: "literal",
// "bytes", "re2", "re2+ascii" or "regexp2".
func (s *Set) Engine(i int) string { return s.rules[i].sel.kind.String() }

// Describe returns how rule i is matched.
func (s *Set) Describe(i int) EngineInfo {
	r := s.rules[i]
	info := EngineInfo{Select: r.sel.kind.String(), Trim: r.sel.trim}
	if r.sel.exact != nil {
		e := r.sel.exact.get()
		info.NonASCII, info.Trim = e.kind.String(), e.trim
	}
	if r.ext != nil {
		info.Extract = r.ext.kind.String()
	}
	if r.key != nil {
		info.Key = r.key.kind.String()
	}
	for _, c := range r.clauses {
		var or []string
		for _, l := range c {
			or = append(or, l.text)
		}
		info.Prefilter = append(info.Prefilter, or)
	}
	return info
}

// String describes the engines of a set, for diagnostics.
func (s *Set) String() string {
	count := map[string]int{}
	pre := 0
	for _, r := range s.rules {
		count[r.sel.kind.String()]++
		if len(r.clauses) > 0 {
			pre++
		}
	}
	var parts []string
	for _, k := range []engineKind{engLiteral, engBytes, engRE2, engRE2ASCII, engRegexp2} {
		if n := count[k.String()]; n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", k, n))
		}
	}
	return fmt.Sprintf("match.Set{%d rules: %s; %d behind the prefilter}", len(s.rules), strings.Join(parts, ", "), pre)
}
