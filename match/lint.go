package match

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/dlclark/regexp2"
	"github.com/dlclark/regexp2/syntax"
)

// Lint returns warnings about a pattern that is valid but risky, such as
// one that can backtrack catastrophically under regexp2, or one that
// cannot run behind the prefilter. It returns nil for a pattern it has
// nothing to say about or that does not compile (Compile reports that).
//
// It warns about three shapes, found on the parse tree with character sets
// taken from regexp2 itself, in the pattern and inside its lookarounds
// (whose bodies always run on regexp2):
//   - a quantifier over a group that holds another unbounded quantifier,
//     when nothing in each iteration separates one from the next, such as
//     (a+)+, (.*)* or (\w+\s?)*: the same text splits across iterations in
//     exponentially many ways;
//   - a quantified alternation whose branches can start with the same
//     character, such as (a|a)* or (\w|\d)+ (literal words that cannot
//     share text, such as (GET|PUT)+ or (a|ab)*, are fine);
//   - when the pattern can only run on regexp2, unbounded quantifiers next
//     to each other over overlapping characters, such as \d+\d+ or .*.*=,
//     which backtrack polynomially on a line that fails.
func Lint(pattern string) []string {
	w, _ := lint(pattern)
	return w
}

// lint is Lint, which also returns the parse tree it walked (nil when the
// pattern is invalid or not analysed).
func lint(pattern string) ([]string, *node) {
	// regexp2 rejects a pattern in its parser (its code writer fails only
	// on a bug of its own): parsing is enough to know, and costs a third
	// of compiling.
	if _, err := syntax.Parse(pattern, syntax.RegexOptions(regexp2.None)); err != nil {
		return nil, nil
	}
	root, err := parsePattern(pattern)
	var un *unsupported
	if errors.As(err, &un) {
		fix := "Rewrite the pattern without it if you can."
		if un.what == whatMultiDigitRef {
			fix = "Name the group and refer to it as \\k<name>, e.g. (?<user>\\w+) ... \\k<user>."
		}
		return []string{fmt.Sprintf("the pattern uses a %s, which logtally does not analyse, so the rule runs "+
			"on plain regexp2 for every line, with no prefilter: slow on a busy log. %s", un.what, fix)}, nil
	}
	if err != nil {
		return nil, nil
	}
	l := &linter{o: newOracle(), pattern: []rune(pattern), root: root}
	l.walk(root)
	return l.warnings, root
}

// LintAll returns Lint's warnings for each of the patterns. Patterns
// that differ only by runs of literal text where no check looks (as the
// rules of a `for:` list, or one rule per address, do) are linted once:
//
// A run is a sequence of atoms that each match one printable ASCII
// character (template.go), so patterns of the same shape parse into the
// same tree but for the characters of their runs, and regexp2 reads them
// alike. The checks look at characters only inside unbounded repeats
// (what their bodies and branches can match) and inside lookarounds
// (whose bodies are checked, and named, on their own); elsewhere a run's
// characters are mandatory items of a sequence, which end a row of
// adjacent repeats whatever they are. The warnings quote repeats, their
// branches and lookarounds only. So a pattern has the warnings of an
// earlier one of its shape whose runs inside repeats and lookarounds are
// the same as its own. Patterns with inline options, where (?i) would
// make a character stand for others, are linted one by one.
func LintAll(patterns []string) [][]string {
	out := make([][]string, len(patterns))
	type shapeLint struct {
		sensitive []int               // the runs inside repeats and lookarounds
		byRuns    map[string][]string // the warnings per text of those runs
	}
	shapes := map[string]*shapeLint{}
	for i, pat := range patterns {
		shape, runs, ok := lexRuns(pat)
		if !ok || hasOptions(shape) {
			out[i] = Lint(pat)
			continue
		}
		sl := shapes[shape]
		if sl == nil {
			w, root := lint(pat)
			out[i] = w
			if root == nil {
				continue // invalid or not analysed: each on its own
			}
			sl = &shapeLint{sensitive: sensitiveRuns(pat, runs, root), byRuns: map[string][]string{}}
			sl.byRuns[runsKey(runs, sl.sensitive)] = w
			shapes[shape] = sl
			continue
		}
		k := runsKey(runs, sl.sensitive)
		w, ok := sl.byRuns[k]
		if !ok {
			w = Lint(pat)
			sl.byRuns[k] = w
		}
		out[i] = w
	}
	return out
}

// hasOptions reports whether a pattern's shape sets inline options, as
// (?i) or (?s:...), do.
func hasOptions(shape string) bool {
	for i := 0; i+2 < len(shape); i++ {
		if shape[i] == '(' && shape[i+1] == '?' && strings.IndexByte("imnsxIMNSX-", shape[i+2]) >= 0 {
			return true
		}
	}
	return false
}

// sensitiveRuns returns the indices of the runs of pat that lie inside an
// unbounded repeat or a lookaround of its parse tree.
func sensitiveRuns(pat string, runs []patRun, root *node) []int {
	var spans [][2]int // in runes
	var walk func(n *node)
	walk = func(n *node) {
		if n.kind == kLook || n.kind == kRepeat && large(n) {
			spans = append(spans, [2]int{n.start, n.end})
			return // what is inside is inside
		}
		for _, s := range n.subs {
			walk(s)
		}
	}
	walk(root)
	var out []int
	for r, run := range runs {
		lo := utf8.RuneCountInString(pat[:run.start])
		hi := lo + utf8.RuneCountInString(pat[run.start:run.end])
		for _, sp := range spans {
			if lo < sp[1] && sp[0] < hi {
				out = append(out, r)
				break
			}
		}
	}
	return out
}

// runsKey joins the texts of the runs listed.
func runsKey(runs []patRun, which []int) string {
	var b strings.Builder
	for _, r := range which {
		b.WriteString(runs[r].text)
		b.WriteByte(0)
	}
	return b.String()
}

type linter struct {
	o       *oracle
	pattern []rune
	root    *node
	engine  engineKind
	// haveEngine is set once engine is known: it costs a translation
	// and an RE2 compilation, which only a warning needs.
	haveEngine bool
	warnings   []string
	reported   map[*node]bool
	look       *node // the lookaround being walked, if any
}

// lintEngine returns the engine the pattern runs on as an extraction (a
// select pattern may do better once trimmed, never worse).
func lintEngine(o *oracle, root *node) engineKind {
	expr, err := translate(o, root, false, nil, "", "")
	kind := engRE2
	if errors.Is(err, errNeedsASCII) {
		kind = engRE2ASCII
		expr, err = translate(o, root, true, nil, "", "")
	}
	if err != nil {
		return engRegexp2
	}
	if _, err := regexp.Compile(expr); err != nil {
		return engRegexp2
	}
	return kind
}

// kind returns the engine the pattern runs on, found on first use.
func (l *linter) kind() engineKind {
	if !l.haveEngine {
		l.engine, l.haveEngine = lintEngine(l.o, l.root), true
	}
	return l.engine
}

func (l *linter) text(n *node) string { return string(l.pattern[n.start:n.end]) }

// where says on which lines regexp2 runs the pattern.
func (l *linter) where() string {
	switch l.kind() {
	case engRegexp2:
		return " This pattern needs regexp2 (lookaround, backreference, atomic group or the like), so the risk is real on every line."
	case engRE2ASCII:
		return " This pattern runs on regexp2 for lines that are not ASCII."
	}
	return " logtally runs it on RE2, which does not backtrack, but it stays fragile wherever regexp2 or PCRE runs it."
}

func (l *linter) warn(n *node, format string, args ...any) {
	if l.reported == nil {
		l.reported = map[*node]bool{}
	}
	if l.reported[n] {
		return
	}
	l.reported[n] = true
	msg := fmt.Sprintf(format, args...)
	if l.look != nil {
		// Said first: the lookaround is what the reader will look for.
		msg = fmt.Sprintf("inside the %s %q: %s", lookName(l.look), l.text(l.look), msg)
	}
	l.warnings = append(l.warnings, msg)
}

// lookName names a lookaround the way the regexp2 documentation does.
func lookName(n *node) string {
	switch {
	case n.behind && n.neg:
		return "negative lookbehind"
	case n.behind:
		return "lookbehind"
	case n.neg:
		return "negative lookahead"
	}
	return "lookahead"
}

// large reports whether a repeat can iterate many times.
func large(n *node) bool { return n.max < 0 || n.max > 10 }

func (l *linter) walk(n *node) {
	if n.kind == kLook {
		// A lookaround's body backtracks like any pattern, on regexp2,
		// at every position where the lookaround is tried; it is atomic
		// to what surrounds it, so only its own body is checked here.
		outer := l.look
		l.look = n
		for _, s := range n.subs {
			l.walk(s)
		}
		l.look = outer
		return
	}
	if n.kind == kRepeat && large(n) {
		l.checkNested(n)
		l.checkAlternation(n)
	}
	if n.kind == kConcat {
		l.checkAdjacent(n)
	}
	for _, s := range n.subs {
		l.walk(s)
	}
}

// checkNested warns about an unbounded repeat inside the body of the
// repeat r when nothing in the body separates iterations.
func (l *linter) checkNested(r *node) {
	body := r.subs[0]
	var inner *node
	var find func(n *node)
	find = func(n *node) {
		if inner != nil || n.kind == kLook {
			return
		}
		if n.kind == kRepeat && large(n) {
			inner = n
			return
		}
		for _, s := range n.subs {
			find(s)
		}
	}
	find(body)
	if inner == nil || l.separated(body, l.chars(inner)) {
		return
	}
	l.warn(r, "nested quantifier in %q: %q can take the same text in different iterations of the outer quantifier, "+
		"so regexp2 tries exponentially many ways on a line that almost matches (catastrophic backtracking). "+
		"Make each iteration end with something the inner quantifier cannot match, e.g. (\\w+\\s)* instead of (\\w+\\s?)*, "+
		"or drop the outer quantifier.%s", l.text(r), l.text(inner), l.where())
}

// separated reports whether every match of body contains a character
// outside set at its top level: a mandatory item whose characters are
// disjoint from set.
func (l *linter) separated(body *node, set runeSet) bool {
	items := seqItems(body)
	for _, it := range items {
		if !nullable(it) && !zeroWidth(it) && !l.chars(it).overlaps(set) {
			return true
		}
	}
	return false
}

// seqItems returns the top-level sequence of n, through single-branch
// groups.
func seqItems(n *node) []*node {
	switch n.kind {
	case kAlt:
		if len(n.subs) == 1 {
			return seqItems(n.subs[0])
		}
	case kConcat:
		var out []*node
		for _, s := range n.subs {
			out = append(out, seqItems(s)...)
		}
		return out
	case kGroup, kCapture, kAtomic:
		return seqItems(n.subs[0])
	}
	return []*node{n}
}

// checkAlternation warns about a repeated alternation whose branches can
// start with the same character.
func (l *linter) checkAlternation(r *node) {
	alt := r.subs[0]
	for alt.kind == kGroup || alt.kind == kCapture || alt.kind == kAtomic ||
		alt.kind == kAlt && len(alt.subs) == 1 || alt.kind == kConcat && len(alt.subs) == 1 {
		alt = alt.subs[0]
	}
	if alt.kind != kAlt {
		return
	}
	starts := l.first(alt)
	for i, a := range alt.subs {
		for _, b := range alt.subs[i+1:] {
			if !l.first(a).overlaps(l.first(b)) || l.distinctWords(a, b, starts) {
				continue
			}
			l.warn(r, "alternation in %q: the branches %q and %q can match the same character, "+
				"so regexp2 tries every way to share the text between them on a line that almost matches "+
				"(catastrophic backtracking). Make the branches exclusive, e.g. one class [\\w\\d] instead of (\\w|\\d), or drop a branch that repeats another.%s",
				l.text(r), l.textOf(a), l.textOf(b), l.where())
			return
		}
	}
}

func (l *linter) textOf(n *node) string {
	if n.end > n.start {
		return string(l.pattern[n.start:n.end])
	}
	return ""
}

// distinctWords reports whether two branches are literal words that
// cannot share text in a repetition: neither starts the other, or the
// longer one goes on with a character no branch starts with, as in
// (a|ab)*.
func (l *linter) distinctWords(a, b *node, starts runeSet) bool {
	wa, ok1 := word(a)
	wb, ok2 := word(b)
	if !ok1 || !ok2 || len(wa) == 0 || len(wb) == 0 {
		return false
	}
	if len(wa) > len(wb) {
		wa, wb = wb, wa
	}
	if string(wa) != string(wb[:len(wa)]) {
		return true
	}
	return len(wb) > len(wa) && !charSet(wb[len(wa)], false).overlaps(starts)
}

func word(n *node) ([]rune, bool) {
	var w []rune
	for _, it := range seqItems(n) {
		if it.kind != kChar || it.fold {
			return nil, false
		}
		w = append(w, it.r)
	}
	return w, true
}

// checkAdjacent warns about unbounded repeats of a sequence with only
// optional items between them and overlapping characters.
func (l *linter) checkAdjacent(cat *node) {
	items := cat.subs
	for i, a := range items {
		if a.kind != kRepeat || !large(a) {
			continue
		}
		for _, b := range items[i+1:] {
			if b.kind == kRepeat && large(b) && l.chars(a).overlaps(l.chars(b)) && l.kind() == engRegexp2 {
				l.warn(a, "adjacent quantifiers %q and %q can match the same characters: on a line that fails, "+
					"regexp2 tries every split of the text between them (polynomial backtracking). "+
					"Merge them into one, or separate them with a character neither can match.%s",
					l.text(a), l.text(b), l.where())
				break
			}
			if !nullable(b) {
				break
			}
		}
	}
}

// chars returns the characters n can consume.
func (l *linter) chars(n *node) runeSet {
	switch n.kind {
	case kChar:
		return charSet(n.r, n.fold)
	case kClass:
		if s, ok := l.o.set(n.cls); ok {
			return s
		}
		return fullSet()
	case kDot:
		return dotSet(n.dotAll)
	case kBackref:
		return fullSet()
	case kLook:
		return runeSet{}
	}
	var s runeSet
	for _, c := range n.subs {
		s = s.or(l.chars(c))
	}
	return s
}

// first returns the characters a match of n can start with.
func (l *linter) first(n *node) runeSet {
	switch n.kind {
	case kChar, kClass, kDot, kBackref:
		return l.chars(n)
	case kConcat:
		var s runeSet
		for _, c := range n.subs {
			s = s.or(l.first(c))
			if !nullable(c) {
				break
			}
		}
		return s
	case kAlt:
		var s runeSet
		for _, c := range n.subs {
			s = s.or(l.first(c))
		}
		return s
	case kRepeat, kGroup, kCapture, kAtomic:
		return l.first(n.subs[0])
	case kCond:
		return l.chars(n)
	}
	return runeSet{}
}
