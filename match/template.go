package match

import (
	"bytes"
	"strings"
	"sync"
)

// Templates: rules that differ only by a literal.
//
// A `for:` list, or one rule per address, makes many rules whose select
// patterns are the same but for one run of literal text:
//
//	.*sshd\[\d+\]: Failed password for .* from 198\.18\.0\.7 port \d+ ssh2
//	.*sshd\[\d+\]: Failed password for .* from 198\.18\.0\.8 port \d+ ssh2
//
// Such rules are compiled once, as a template. A lexer (lexRuns) splits
// every pattern into its runs of literal characters and the rest (its
// shape); rules with the same shape, extraction and key, whose runs differ
// in one place only (the hole), share everything but that run:
//
//   - The pattern is valid for all of them when it is for one. The lexer
//     only takes as literal a printable ASCII character that is not special,
//     or a backslash before ASCII punctuation other than < and ' (which
//     start \<name> and \'name'), and gives up on a pattern with (?x),
//     (?#...), a class inside a class, an escape it does not know or a
//     brace that is not a quantifier; so a run is a sequence of atoms that
//     each match one character, wherever they stand, and replacing it by
//     another such sequence changes nothing else that regexp2 reads.
//   - The select pattern, trimmed of its outer `.*`, is a concatenation
//     A·H·B where H is the hole's characters: a line matches the whole
//     pattern exactly when, at some occurrence of H's text in it, A
//     matches everything before and B everything after. A and B are
//     compiled once for the bytes engine; a rule is its text for H. This
//     holds for A and B free of assertions that look across their ends
//     (\b, \B, lookaround; ^ only at the start of A, $ only at the end of
//     B) and of what the bytes engine does not compile (backreferences,
//     atomic groups, conditionals), which is what buildTemplate requires;
//     other patterns are compiled one by one, as before.
//   - A rule's literals for the prefilter and the block scan are the
//     template's (from A and B) and its own text for H, which tells the
//     rules apart: a line is a candidate of the rules whose text it has.
//   - Lines that are not ASCII, and the rare line on which A or B would
//     exceed the bytes engine's work budget, go to the rule's own exact
//     engine, compiled from its pattern the first time one comes; so does
//     the rule's regexp2 reference, which only a line containing '\n' or a
//     panic in a fast engine needs.
//
// Rules with the same patterns share one compiled rule.

// patRun is a run of literal characters of a pattern: [start, end) in the
// pattern's bytes, and the characters it matches.
type patRun struct {
	start, end int
	text       string
}

// lexRuns splits a pattern into its shape, the pattern with each run of
// literal characters replaced by a NUL, and its runs. ok is false when
// the pattern has a construct the lexer does not follow (see above).
func lexRuns(pat string) (shape string, runs []patRun, ok bool) {
	var key []byte
	var text []byte
	runStart := -1
	litStart := -1 // the start of the run's last literal token
	// flush ends the run at end, if there is one.
	flush := func(end int) {
		if runStart >= 0 && end > runStart {
			runs = append(runs, patRun{start: runStart, end: end, text: string(text)})
			key = append(key, 0)
		}
		runStart, litStart, text = -1, -1, text[:0]
	}
	opaque := func(from, to int) {
		flush(from)
		key = append(key, pat[from:to]...)
	}
	lit := func(from, to int, c byte) {
		if runStart < 0 {
			runStart = from
		}
		litStart = from
		text = append(text, c)
	}
	for i := 0; i < len(pat); {
		c := pat[i]
		switch {
		case c == '\\':
			if i+1 >= len(pat) {
				return "", nil, false
			}
			d := pat[i+1]
			switch {
			case isEscapedLiteral(d):
				lit(i, i+2, d)
			case strings.IndexByte("dDwWsSbBAzZG", d) >= 0:
				opaque(i, i+2)
			default:
				return "", nil, false
			}
			i += 2
			continue
		case c == '[':
			j, ok := classEnd(pat, i)
			if !ok {
				return "", nil, false
			}
			opaque(i, j)
			i = j
			continue
		case c == '(':
			j, ok := groupOpenEnd(pat, i)
			if !ok {
				return "", nil, false
			}
			opaque(i, j)
			i = j
			continue
		case c == '*' || c == '+' || c == '?' || c == '{':
			j := i + 1
			if c == '{' {
				if j = braceQuantifierEnd(pat, i); j < 0 {
					return "", nil, false
				}
			}
			if j < len(pat) && pat[j] == '?' {
				j++ // lazy
			}
			from := i
			if litStart >= 0 {
				// The quantifier takes the run's last character.
				from = litStart
				text = text[:len(text)-1]
			}
			opaque(from, j)
			i = j
			continue
		case c == ')' || c == '|' || c == '.' || c == '^' || c == '$':
			opaque(i, i+1)
		case c >= 0x20 && c < 0x7f:
			lit(i, i+1, c)
		default:
			opaque(i, i+1)
		}
		i++
	}
	flush(len(pat))
	return string(key), runs, true
}

// isEscapedLiteral reports whether a backslash before c makes the literal
// character c: ASCII punctuation and space, but not < and ', with which
// \<name> and \'name' are backreferences.
func isEscapedLiteral(c byte) bool {
	switch {
	case c == ' ':
		return true
	case c < '!' || c > '~', c == '<', c == '\'', c == '_':
		return false
	case c >= '0' && c <= '9', c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		return false
	}
	return true
}

// classEnd returns the end of the bracket expression at pat[i] == '['; ok
// is false for a class inside a class ([:name:], subtraction) or an
// unterminated one.
func classEnd(pat string, i int) (int, bool) {
	j := i + 1
	if j < len(pat) && pat[j] == '^' {
		j++
	}
	if j < len(pat) && pat[j] == ']' {
		j++ // a leading ] is a member
	}
	for j < len(pat) {
		switch pat[j] {
		case '\\':
			j += 2
			continue
		case '[':
			return 0, false
		case ']':
			return j + 1, true
		}
		j++
	}
	return 0, false
}

// groupOpenEnd returns the end of what opens the group at pat[i] == '(':
// "(", "(?:", a lookaround, a named group or an option setting. ok is
// false for comments, conditionals, balancing groups and (?x).
func groupOpenEnd(pat string, i int) (int, bool) {
	if i+1 >= len(pat) || pat[i+1] != '?' {
		return i + 1, true
	}
	j := i + 2
	if j >= len(pat) {
		return 0, false
	}
	switch pat[j] {
	case ':', '=', '!', '>':
		return j + 1, true
	case '<':
		j++
		if j < len(pat) && (pat[j] == '=' || pat[j] == '!') {
			return j + 1, true
		}
		k := j
		for k < len(pat) && (isWordByte(pat[k])) {
			k++
		}
		if k == j || k >= len(pat) || pat[k] != '>' {
			return 0, false
		}
		return k + 1, true
	}
	for ; j < len(pat); j++ {
		switch pat[j] {
		case 'i', 'm', 'n', 's', 'I', 'M', 'N', 'S', '-':
		case ':', ')':
			return j + 1, true
		default:
			return 0, false // x and X, or not an option
		}
	}
	return 0, false
}

// braceQuantifierEnd returns the end of {n}, {n,} or {n,m} at pat[i], or
// -1 when the brace does not start one (regexp2 then takes it as a
// character, which the lexer leaves alone).
func braceQuantifierEnd(pat string, i int) int {
	j := i + 1
	digits := func() int {
		k := j
		for j < len(pat) && pat[j] >= '0' && pat[j] <= '9' {
			j++
		}
		return j - k
	}
	if digits() == 0 || j >= len(pat) {
		return -1
	}
	if pat[j] == ',' {
		j++
		digits()
	}
	if j >= len(pat) || pat[j] != '}' {
		return -1
	}
	return j + 1
}

func isWordByte(c byte) bool {
	return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// specRole says how a spec is compiled.
type specRole struct {
	same int // the index of an earlier identical spec whose rule it shares, or -1
	tmpl int // the template it is bound to, or -1
	text string
}

// templatePlan is a group of specs that differ only by one run of their
// select pattern.
type templatePlan struct {
	rep     int // the spec compiled in full
	hole    int // the run that differs
	members []int
	// runs are the representative's runs.
	runs []patRun
	// prefix is the length of the start the members' texts have in
	// common: their literals are taken from where they differ.
	prefix int
}

// planTemplates finds the specs that are the same as an earlier one, and
// the groups of specs that differ only by one run of literal text.
func planTemplates(specs []Spec) ([]specRole, []*templatePlan) {
	roles := make([]specRole, len(specs))
	first := map[Spec]int{}
	type lexed struct {
		i    int
		runs []patRun
	}
	type shapeKey struct {
		shape, extract, key string
	}
	byShape := map[shapeKey][]lexed{}
	var order []shapeKey
	for i, sp := range specs {
		roles[i] = specRole{same: -1, tmpl: -1}
		if j, ok := first[sp]; ok {
			roles[i].same = j
			continue
		}
		first[sp] = i
		shape, runs, ok := lexRuns(sp.Select)
		if !ok || len(runs) == 0 {
			continue
		}
		k := shapeKey{shape, sp.Extract, sp.Key}
		if _, ok := byShape[k]; !ok {
			order = append(order, k)
		}
		byShape[k] = append(byShape[k], lexed{i, runs})
	}
	var plans []*templatePlan
	for _, k := range order {
		group := byShape[k]
		if len(group) < 2 {
			continue
		}
		// The runs that differ among the group.
		nruns := len(group[0].runs)
		var differ []int
		for r := range nruns {
			for _, g := range group[1:] {
				if g.runs[r].text != group[0].runs[r].text {
					differ = append(differ, r)
					break
				}
			}
		}
		// With several, the hole is the run that leaves the fewest
		// subgroups (a for: over two lists: templates over the inner one).
		hole, best := -1, 0
		var bestSub map[string][]lexed
		var bestOrder []string
		for _, h := range differ {
			sub := map[string][]lexed{}
			var subOrder []string
			for _, g := range group {
				var b strings.Builder
				for r, run := range g.runs {
					if r != h {
						b.WriteString(run.text)
						b.WriteByte(0)
					}
				}
				s := b.String()
				if _, ok := sub[s]; !ok {
					subOrder = append(subOrder, s)
				}
				sub[s] = append(sub[s], g)
			}
			if hole < 0 || len(sub) < best {
				hole, best, bestSub, bestOrder = h, len(sub), sub, subOrder
			}
		}
		for _, s := range bestOrder {
			members := bestSub[s]
			if len(members) < 2 {
				continue
			}
			p := &templatePlan{rep: members[0].i, hole: hole, runs: members[0].runs}
			for _, m := range members {
				p.members = append(p.members, m.i)
				roles[m.i].tmpl = len(plans)
				roles[m.i].text = m.runs[hole].text
			}
			p.prefix = len(p.runs[hole].text)
			for _, m := range members[1:] {
				p.prefix = min(p.prefix, commonPrefix(p.runs[hole].text, m.runs[hole].text))
			}
			plans = append(plans, p)
		}
	}
	return roles, plans
}

// commonPrefix returns the length of the start a and b have in common.
func commonPrefix(a, b string) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}

// template is the compiled part that the rules of a templatePlan share.
type template struct {
	a, b *bytesProg // nil: the part is empty
	// searchA: an empty A may end anywhere (the pattern began with .*);
	// searchB: an empty B may begin anywhere (it ended with .*).
	searchA, searchB bool
	fold             bool // the hole is case-insensitive: its letters match in either case
	trim             string
	ext, key         *finder
	base             *refRule // the extraction and key of the reference
	clauses, exact   []clause // the literals of A and B
	prefix           int      // see templatePlan
	progSize         int      // size(), counted once: every line verified needs it
}

// buildTemplate compiles the shared part of a template from its
// representative, whose rule compiled. It returns nil when the pattern is
// not A·H·B as the template needs.
func buildTemplate(sp Spec, rep *rule, hole patRun, o *oracle) *template {
	root, err := parsePattern(sp.Select)
	if err != nil {
		return nil
	}
	plan := planTrim(sp.Select, root)
	if topItems(root) == nil {
		return nil
	}
	items := plan.items
	// The hole's characters, as runes of the pattern (everything up to the
	// end of a run is ASCII, but what precedes it may not be).
	start := len([]rune(sp.Select[:hole.start]))
	end := start + hole.end - hole.start
	first, last := -1, -1
	for k, n := range items {
		if n.start == start {
			first = k
		}
		if n.end == end {
			last = k
		}
	}
	if first < 0 || last < first {
		return nil
	}
	for k := first; k <= last; k++ {
		// Characters in one run share their options: all are
		// case-insensitive (fold), or none.
		n := items[k]
		if n.kind != kChar || n.r >= 0x80 || !n.fold && !isExactChar(n) || n.fold != items[first].fold ||
			k > first && items[k-1].end != n.start {
			return nil
		}
	}
	a, b := items[:first], items[last+1:]
	if !crossFree(a, kBegin) || !crossFree(b, kEnd) {
		return nil
	}
	t := &template{searchA: plan.trimStart, searchB: plan.trimEnd, fold: items[first].fold, trim: plan.mode(),
		ext: rep.ext, key: rep.key, base: rep.ref}
	if len(a) > 0 {
		if t.a, err = compileBytes(o, &node{kind: kConcat, subs: a}, nil, !plan.trimStart, true); err != nil {
			return nil
		}
		t.clauses = required(&node{kind: kConcat, subs: a}, prefilterLiterals)
		t.exact = required(&node{kind: kConcat, subs: a}, anchorLiterals)
	}
	if len(b) > 0 {
		if t.b, err = compileBytes(o, &node{kind: kConcat, subs: b}, nil, true, !plan.trimEnd); err != nil {
			return nil
		}
		t.clauses = append(t.clauses, required(&node{kind: kConcat, subs: b}, prefilterLiterals)...)
		t.exact = append(t.exact, required(&node{kind: kConcat, subs: b}, anchorLiterals)...)
	}
	t.clauses = pickClauses(t.clauses)
	if len(t.clauses) >= maxClauses {
		t.clauses = t.clauses[:maxClauses-1] // room for the rule's own
	}
	t.progSize = t.size()
	return t
}

// crossFree reports whether the items match the same inside a line as on
// their own: no assertion that looks beyond them (keep is the anchor
// allowed: ^ at the start of A, $ at the end of B), nothing the bytes
// engine does not compile.
func crossFree(items []*node, keep nodeKind) bool {
	var ok func(n *node) bool
	ok = func(n *node) bool {
		switch n.kind {
		case kBegin, kEnd:
			if n.kind != keep {
				return false
			}
		case kWordBoundary, kNotWordBoundary, kLook, kBackref, kAtomic, kCond:
			return false
		}
		for _, s := range n.subs {
			if !ok(s) {
				return false
			}
		}
		return true
	}
	for k, n := range items {
		// ^ only at the very start of A, $ only at the very end of B.
		if n.kind == kBegin && (keep != kBegin || k != 0) || n.kind == kEnd && (keep != kEnd || k != len(items)-1) {
			return false
		}
		if n.kind != kBegin && n.kind != kEnd && !ok(n) {
			return false
		}
	}
	return true
}

// bindable reports whether text can fill the template's hole: printable
// ASCII.
func (t *template) bindable(text string) bool {
	if text == "" {
		return false
	}
	for i := 0; i < len(text); i++ {
		if c := text[i]; c < 0x20 || c >= 0x7f {
			return false
		}
	}
	return true
}

// bind returns the rule of sp, the template with text in its hole. own is
// the representative's own exact selector (nil for the other rules, whose
// exact engines are compiled when first needed).
func (t *template) bind(sp Spec, text string, opts Options, own *lazySelector) *rule {
	r := &rule{lazy: &lazyRef{spec: sp, opts: opts, base: t.base}, ext: t.ext, key: t.key}
	exact := own
	if exact == nil {
		exact = &lazySelector{build: func() selector {
			s, _ := compileExactSelector(sp.Select, r.reference(), opts, newOracle())
			return s
		}}
	}
	lit := []byte(text)
	if t.fold {
		lit = bytes.ToLower(lit)
	}
	r.sel = selector{kind: engBytes, trim: t.trim, exact: exact, split: &splitSel{t: t, lit: lit}}
	r.clauses, r.exact = t.clauses, t.exact
	if len(text) >= minLiteral {
		w := strings.ToLower(t.window(text, maxLiteral))
		ik := t.fold && strings.ContainsAny(w, "ik")
		r.clauses = append([]clause{{{text: w, foldIK: ik}}}, t.clauses...)
		if !t.fold || !hasLetter(text) {
			r.exact = append([]clause{{{text: t.window(text, maxAnchorLen)}}}, t.exact...)
		}
	}
	return r
}

// hasLetter reports whether text has an ASCII letter.
func hasLetter(text string) bool {
	for i := 0; i < len(text); i++ {
		if c := text[i] | 0x20; c >= 'a' && c <= 'z' {
			return true
		}
	}
	return false
}

// window returns at most n bytes of text, from where the texts of the
// template's rules begin to differ when it can.
func (t *template) window(text string, n int) string {
	if len(text) <= n {
		return text
	}
	from := min(t.prefix, len(text)-n)
	return text[from : from+n]
}

// lazyRef is the reference of a rule bound to a template, compiled when
// first needed.
type lazyRef struct {
	once sync.Once
	spec Spec
	opts Options
	base *refRule // the template's extraction and key
	ref  *refRule
}

// reference returns the rule's regexp2 reference.
func (r *rule) reference() *refRule {
	l := r.lazy
	if l == nil {
		return r.ref
	}
	l.once.Do(func() {
		sel, err := compileSelect(l.spec.Select, l.opts.Timeout)
		if err != nil {
			// The pattern is the representative's with other literal
			// characters (see lexRuns), which compiled.
			panic("match: a pattern bound to a template does not compile: " + err.Error())
		}
		ref := *l.base
		ref.sel = sel
		l.ref = &ref
	})
	return l.ref
}

// splitSel matches a rule bound to a template on an ASCII line: its text
// somewhere, A before it, B after it.
type splitSel struct {
	t   *template
	lit []byte
}

// match reports whether the line matches; ok is false when A or B would
// exceed the bytes engine's budget (the caller uses another engine).
//
// A and B run once per occurrence of the text, each within a budget of
// its own; the work of all occurrences (and the clearing of the memo
// each run starts with) is bounded as the whole pattern's would be, so
// that a line with the text at every position costs what one run of the
// bytes engine may cost, not that times the line's length.
//
// first is where the rule's text may first occur in line: no occurrence
// starts before it (0 when that is not known).
func (s *splitSel) match(st *bytesState, line []byte, first int) (matched, ok bool) {
	t := s.t
	budget := (t.progSize + 1) * (len(line) + 1) * budgetFactor
	work := 0
	// run runs part p on the bytes, and reports false when it or the
	// line's total went over budget.
	run := func(p *bytesProg, b []byte) (matched, ok bool) {
		matched, ok = p.match(st, b)
		work += st.work + 1
		if st.memoOn {
			work += len(st.memo)
		}
		return matched, ok && work <= budget
	}
	for from := first; from+len(s.lit) <= len(line); {
		start := s.index(line, from)
		if start < 0 {
			return false, true
		}
		end := start + len(s.lit)
		from = start + 1
		if work += len(s.lit); work > budget {
			return false, false
		}
		if t.b == nil {
			if !t.searchB && end != len(line) {
				continue
			}
		} else if m, ok := run(t.b, line[end:]); !ok {
			return false, false
		} else if !m {
			continue
		}
		if t.a == nil {
			if !t.searchA && start != 0 {
				continue
			}
		} else if m, ok := run(t.a, line[:start]); !ok {
			return false, false
		} else if !m {
			continue
		}
		return true, true
	}
	return false, true
}

// size is the size of the template's programs, as the bytes engine's
// budget counts it.
func (t *template) size() int {
	n := 0
	for _, p := range []*bytesProg{t.a, t.b} {
		if p != nil {
			n += len(p.insts) + p.memoRows
		}
	}
	return n
}

// index returns the first occurrence of the rule's text in line at or
// after from, or -1; a case-insensitive text matches its ASCII letters in
// either case (on an ASCII line, that is what (?i) makes of them).
func (s *splitSel) index(line []byte, from int) int {
	lit := s.lit
	if !s.t.fold {
		if i := bytes.Index(line[from:], lit); i >= 0 {
			return from + i
		}
		return -1
	}
	// Look for the first character that is not a letter, or for the
	// first letter in both cases.
	j := 0
	for j < len(lit) && lit[j] >= 'a' && lit[j] <= 'z' {
		j++
	}
	for from+len(lit) <= len(line) {
		var start int
		if j < len(lit) {
			i := bytes.IndexByte(line[from+j:], lit[j])
			if i < 0 {
				return -1
			}
			start = from + i
		} else {
			i := bytes.IndexByte(line[from:], lit[0])
			if k := bytes.IndexByte(line[from:], lit[0]-'a'+'A'); k >= 0 && (i < 0 || k < i) {
				i = k
			}
			if i < 0 {
				return -1
			}
			start = from + i
		}
		if start+len(lit) > len(line) {
			return -1
		}
		if equalFoldASCII(line[start:start+len(lit)], lit) {
			return start
		}
		from = start + 1
	}
	return -1
}

// equalFoldASCII reports whether b equals the lowered lit, ASCII letters
// in either case.
func equalFoldASCII(b, lit []byte) bool {
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lit[i] {
			return false
		}
	}
	return true
}
