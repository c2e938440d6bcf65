package match

import (
	"bytes"
	"errors"
	"strconv"
	"strings"
	"unicode/utf8"
)

// This file turns a parse tree into the cheaper engines: the outer `.*` of
// a select pattern trimmed, a plan of literal pieces, an RE2 pattern (exact
// on every line, or exact on ASCII lines only), and the literals every
// match must contain.

var (
	// errNotRE2 reports a construct RE2 cannot express (lookaround,
	// backreferences, atomic groups, counts over 1000, ...).
	errNotRE2 = errors.New("needs regexp2")
	// errNeedsASCII reports a construct whose RE2 translation is exact only
	// on ASCII lines (\b, \B, case folding of non-ASCII runes, [:name:]).
	errNeedsASCII = errors.New("exact on ASCII lines only")
)

// topItems returns the items of the top-level concatenation, or nil when
// the pattern has a top-level alternation.
func topItems(root *node) []*node {
	if root.kind != kAlt || len(root.subs) != 1 {
		return nil
	}
	return root.subs[0].subs
}

// isDotStar reports whether n is a plain `.*` or `.*?`.
func isDotStar(n *node) bool {
	return n.kind == kRepeat && n.min == 0 && n.max < 0 && n.subs[0].kind == kDot
}

// selectPlan is a select pattern with its outer `.*` trimmed: a whole-line
// match of `.*X.*` is a search for X (lines contain no '\n'), of `.*X` a
// search for X\z and of `X.*` a search for \AX.
type selectPlan struct {
	root      *node
	items     []*node // the trimmed top-level items; nil with alternation
	trimStart bool
	trimEnd   bool
	text      string // the pattern without the trimmed items, for regexp2
}

// planTrim trims the outer `.*` of a select pattern: only plain `.*` or
// `.*?` items, at the ends of a top-level concatenation (never inside a
// group, never with a top-level alternation, where `a|b.*` would change).
func planTrim(pattern string, root *node) *selectPlan {
	sp := &selectPlan{root: root, text: pattern}
	all := topItems(root)
	if all == nil {
		return sp
	}
	items := all
	if len(items) > 0 && isDotStar(items[0]) {
		sp.trimStart = true
		items = items[1:]
	}
	if len(items) > 0 && isDotStar(items[len(items)-1]) {
		sp.trimEnd = true
		items = items[:len(items)-1]
	}
	sp.items = items
	if sp.trimStart || sp.trimEnd {
		runes := []rune(pattern)
		var b strings.Builder
		from := 0
		if sp.trimStart {
			b.WriteString(string(runes[:all[0].start]))
			from = all[0].end
		}
		if sp.trimEnd {
			last := all[len(all)-1]
			b.WriteString(string(runes[from:last.start]))
			from = last.end
		}
		b.WriteString(string(runes[from:]))
		sp.text = b.String()
	}
	return sp
}

// body returns the trimmed pattern as one node.
func (sp *selectPlan) body() *node {
	if topItems(sp.root) == nil {
		return sp.root
	}
	return &node{kind: kConcat, subs: sp.items}
}

// mode returns how the trimmed pattern is anchored: "whole" (both ends),
// "prefix" (start only), "suffix" (end only) or "search".
func (sp *selectPlan) mode() string {
	switch {
	case sp.trimStart && sp.trimEnd:
		return "search"
	case sp.trimStart:
		return "suffix"
	case sp.trimEnd:
		return "prefix"
	}
	return "whole"
}

// literalPlan matches a select pattern made only of literal text, `.*`
// and outer anchors, with bytes.Index: pieces in order with any text
// between them.
type literalPlan struct {
	pieces [][]byte
	// gapBefore is true when text may precede the first piece, gapAfter
	// when text may follow the last.
	gapBefore, gapAfter bool
	// gaps is true when a `.*` can take text somewhere.
	gaps bool
}

// planLiteral builds a literalPlan when the trimmed select pattern allows
// it. Literal characters must be case-sensitive and not U+FFFD (which
// regexp2 also sees for every invalid UTF-8 byte).
func planLiteral(sp *selectPlan) (*literalPlan, bool) {
	if topItems(sp.root) == nil {
		return nil, false
	}
	items := sp.items
	// Anchors are allowed before the first and after the last piece only.
	first, last := 0, len(items)
	for first < last && items[first].kind == kBegin {
		first++
	}
	for last > first && items[last-1].kind == kEnd {
		last--
	}
	lp := &literalPlan{
		gapBefore: sp.trimStart && first == 0,
		gapAfter:  sp.trimEnd && last == len(items),
	}
	mid := items[first:last]
	var cur []byte
	for i, n := range mid {
		switch {
		case n.kind == kChar && !n.fold && n.r != utf8.RuneError:
			cur = utf8.AppendRune(cur, n.r)
		case isDotStar(n):
			lp.gaps = true
			if cur != nil {
				lp.pieces = append(lp.pieces, cur)
				cur = nil
			}
			if len(lp.pieces) == 0 {
				lp.gapBefore = true
			}
			if i == len(mid)-1 {
				lp.gapAfter = true
			}
		default:
			return nil, false
		}
	}
	if cur != nil {
		lp.pieces = append(lp.pieces, cur)
	}
	lp.gaps = lp.gaps || lp.gapBefore || lp.gapAfter
	return lp, true
}

// match reports whether line matches the plan.
func (lp *literalPlan) match(line []byte) bool {
	ps := lp.pieces
	if len(ps) == 0 {
		return lp.gaps || len(line) == 0
	}
	lo, hi := 0, len(line)
	if !lp.gapBefore {
		if !bytes.HasPrefix(line, ps[0]) {
			return false
		}
		lo = len(ps[0])
		ps = ps[1:]
		if len(ps) == 0 {
			return lp.gapAfter || lo == hi
		}
	}
	if !lp.gapAfter {
		last := ps[len(ps)-1]
		if hi-lo < len(last) || string(line[hi-len(last):]) != string(last) {
			return false
		}
		hi -= len(last)
		ps = ps[:len(ps)-1]
	}
	for _, p := range ps {
		k := bytes.Index(line[lo:hi], p)
		if k < 0 {
			return false
		}
		lo += k + len(p)
	}
	return true
}

// translator writes an RE2 pattern for a parse tree.
type translator struct {
	o *oracle
	// ascii selects a translation exact on ASCII lines only.
	ascii bool
	// target is the capture kept as group 1; every other group becomes
	// non-capturing.
	target *node
	b      strings.Builder
}

// translate returns an RE2 pattern for n. It returns errNeedsASCII when
// !ascii and the translation would be exact on ASCII lines only, and
// errNotRE2 when RE2 cannot express n.
func translate(o *oracle, n *node, ascii bool, target *node, prefix, suffix string) (string, error) {
	t := &translator{o: o, ascii: ascii, target: target}
	t.b.WriteString(prefix)
	if err := t.emit(n); err != nil {
		return "", err
	}
	t.b.WriteString(suffix)
	return t.b.String(), nil
}

// renderKey identifies a character or class written out in one mode.
type renderKey struct {
	ascii, class, fold bool
	r                  rune
	text               string
}

// rendering is a character or class written out, or why it cannot be.
type rendering struct {
	text string
	err  error
}

// render writes out a character or class node.
func (t *translator) render(b *strings.Builder, n *node) error {
	if n.kind == kChar {
		if t.ascii {
			var rs []rune
			for r := rune(0); r < utf8.RuneSelf; r++ {
				if r == n.r || n.fold && toLower(r) == n.r {
					rs = append(rs, r, r)
				}
			}
			writeClass(b, normRanges(rs))
			return nil
		}
		rs, ok := exactChar(n.r, n.fold)
		if !ok {
			return errNeedsASCII
		}
		writeClass(b, rs)
		return nil
	}
	set, ok := t.o.set(n.cls)
	if !ok {
		return errNotRE2
	}
	if t.ascii {
		writeClass(b, asciiRanges(set))
		return nil
	}
	rs, ok := exactClass(n.cls, set)
	if !ok {
		return errNeedsASCII
	}
	writeClass(b, rs)
	return nil
}

// maxRE2Repeat is RE2's largest repeat count.
const maxRE2Repeat = 1000

func (t *translator) emit(n *node) error {
	b := &t.b
	switch n.kind {
	case kEmpty:
		b.WriteString(`(?:)`)
	case kChar, kClass:
		// Rules of one file repeat their characters and classes: each is
		// written out once per translation mode.
		k := renderKey{ascii: t.ascii, r: n.r, fold: n.fold}
		if n.kind == kClass {
			k.class, k.fold = true, n.cls.fold
			k.text = n.cls.text
		}
		r, ok := t.o.rendered[k]
		if !ok {
			var sb strings.Builder
			r.err = t.render(&sb, n)
			r.text = sb.String()
			t.o.rendered[k] = r
		}
		if r.err != nil {
			return r.err
		}
		b.WriteString(r.text)
	case kDot:
		if n.dotAll {
			b.WriteString(`(?s:.)`)
		} else {
			b.WriteString(`[^\n]`)
		}
	case kBegin:
		b.WriteString(`\A`)
	case kEnd:
		b.WriteString(`\z`)
	case kWordBoundary, kNotWordBoundary:
		// RE2's \b is ASCII; regexp2's word characters are Unicode, and
		// agree with RE2's on ASCII.
		if !t.ascii {
			return errNeedsASCII
		}
		if n.kind == kWordBoundary {
			b.WriteString(`\b`)
		} else {
			b.WriteString(`\B`)
		}
	case kBackref, kLook, kAtomic:
		return errNotRE2
	case kConcat:
		for _, s := range n.subs {
			if err := t.emit(s); err != nil {
				return err
			}
		}
	case kAlt:
		if len(n.subs) == 1 {
			return t.emit(n.subs[0])
		}
		b.WriteString(`(?:`)
		for i, s := range n.subs {
			if i > 0 {
				b.WriteByte('|')
			}
			if err := t.emit(s); err != nil {
				return err
			}
		}
		b.WriteByte(')')
	case kGroup, kCapture:
		if n == t.target {
			b.WriteByte('(')
		} else {
			b.WriteString(`(?:`)
		}
		if err := t.emit(n.subs[0]); err != nil {
			return err
		}
		b.WriteByte(')')
	case kRepeat:
		return t.emitRepeat(n)
	default:
		return errNotRE2
	}
	return nil
}

func (t *translator) emitRepeat(n *node) error {
	if n.min > maxRE2Repeat || n.max > maxRE2Repeat {
		return errNotRE2
	}
	sub := n.subs[0]
	if t.target != nil && contains(sub, t.target) && nullable(sub) {
		// regexp2 and RE2 treat empty iterations differently, which shows
		// in the groups they capture.
		return errNotRE2
	}
	b := &t.b
	b.WriteString(`(?:`)
	if err := t.emit(sub); err != nil {
		return err
	}
	b.WriteByte(')')
	switch {
	case n.min == 0 && n.max < 0:
		b.WriteByte('*')
	case n.min == 1 && n.max < 0:
		b.WriteByte('+')
	case n.min == 0 && n.max == 1:
		b.WriteByte('?')
	case n.max < 0:
		b.WriteString("{" + strconv.Itoa(n.min) + ",}")
	case n.min == n.max:
		b.WriteString("{" + strconv.Itoa(n.min) + "}")
	default:
		b.WriteString("{" + strconv.Itoa(n.min) + "," + strconv.Itoa(n.max) + "}")
	}
	if n.lazy {
		b.WriteByte('?')
	}
	return nil
}

// contains reports whether x is n or below it.
func contains(n, x *node) bool {
	if n == x {
		return true
	}
	for _, s := range n.subs {
		if contains(s, x) {
			return true
		}
	}
	return false
}

// nullable reports whether n can match the empty string.
func nullable(n *node) bool {
	switch n.kind {
	case kChar, kClass, kDot:
		return false
	case kBackref:
		return true
	case kConcat:
		for _, s := range n.subs {
			if !nullable(s) {
				return false
			}
		}
		return true
	case kAlt:
		for _, s := range n.subs {
			if nullable(s) {
				return true
			}
		}
		return false
	case kRepeat:
		return n.min == 0 || nullable(n.subs[0])
	case kGroup, kCapture, kAtomic:
		return nullable(n.subs[0])
	}
	return true // empty and zero-width assertions
}

// zeroWidth reports whether n never consumes a character.
func zeroWidth(n *node) bool {
	switch n.kind {
	case kEmpty, kBegin, kEnd, kWordBoundary, kNotWordBoundary, kLook:
		return true
	case kConcat, kAlt, kGroup, kCapture, kAtomic, kRepeat:
		for _, s := range n.subs {
			if !zeroWidth(s) {
				return false
			}
		}
		return true
	}
	return false
}

// captureTarget returns the capture that regexp2 numbers first (.NET
// numbering: unnamed groups in order, then named groups in order of first
// appearance), or nil when the pattern has explicitly numbered groups or
// the named group's name is used twice. names and nums are regexp2's view,
// which must agree with the tree.
func captureTarget(root *node, nums []int, names []string) *node {
	var unnamed []*node
	var named []*node
	count := map[string]int{}
	numbered := false
	var walk func(n *node)
	walk = func(n *node) {
		if n.kind == kCapture {
			switch {
			case n.numbered:
				numbered = true
			case n.name == "":
				unnamed = append(unnamed, n)
			default:
				if count[n.name] == 0 {
					named = append(named, n)
				}
				count[n.name]++
			}
		}
		for _, s := range n.subs {
			walk(s)
		}
	}
	walk(root)
	if numbered || len(nums) != 1+len(unnamed)+len(named) || len(names) != len(nums) {
		return nil
	}
	for i := range unnamed {
		if names[i+1] != strconv.Itoa(i+1) || nums[i+1] != i+1 {
			return nil
		}
	}
	for i, n := range named {
		if names[1+len(unnamed)+i] != n.name {
			return nil
		}
	}
	if len(unnamed) > 0 {
		return unnamed[0]
	}
	if len(named) > 0 && count[named[0].name] == 1 {
		return named[0]
	}
	return nil
}

// A literal every match of a select pattern must contain, for the
// prefilter. Its bytes are lowered in ASCII; the prefilter lowers the line
// the same way, so a case-sensitive literal may give a false candidate,
// never a missed one.
type literal struct {
	text string
	// foldIK is set when a case-insensitive 'i' or 'k' is part of the
	// literal: regexp2 also matches them with U+0130 and U+212A, so on a
	// line that is not ASCII the literal proves nothing.
	foldIK bool
}

// clause is satisfied when the line contains one of its literals.
type clause []literal

// minLiteral is the length under which a literal is not worth a prefilter
// entry.
const minLiteral = 3

// maxLiteral caps a literal's length (any part of a required literal is
// required too): the prefilter overlaps the halves of a line by it.
const maxLiteral = 32

// literalPolicy says which literals a walk of the pattern collects.
type literalPolicy struct {
	// char returns the rune a node contributes to a literal run, whether it
	// is a case-folded i or k, and false when the node breaks the run.
	char func(n *node) (r rune, ik, ok bool)
	// maxLen caps a literal's length.
	maxLen int
	// pick chooses the clause that stands for one branch of an alternation.
	pick func([]clause) clause
}

// prefilterLiterals are the prefilter's: the line is lowered before the
// scan, so a case-folded ASCII character counts, lowered.
var prefilterLiterals = literalPolicy{
	char: func(n *node) (rune, bool, bool) {
		if n.kind != kChar || n.r == utf8.RuneError || (n.fold && n.r >= utf8.RuneSelf) {
			return 0, false, false
		}
		return toLower(n.r), n.fold && (n.r == 'i' || n.r == 'k'), true
	},
	maxLen: maxLiteral,
	pick:   bestClause,
}

// anchorLiterals are the block scan's: searched in the block as they are,
// byte for byte, so only exact characters count.
var anchorLiterals = literalPolicy{
	char: func(n *node) (rune, bool, bool) {
		if !isExactChar(n) {
			return 0, false, false
		}
		return n.r, false, true
	},
	maxLen: maxAnchorLen,
	pick:   func(cs []clause) clause { return pickAnchor(cs, nil) },
}

// required returns the clauses of literals every match of n satisfies,
// as the policy collects them: the prefilter's (prefilterLiterals) or the
// block scan's anchors (anchorLiterals).
func required(n *node, pol literalPolicy) []clause {
	switch n.kind {
	case kConcat:
		return requiredSeq(flatten(n.subs, nil), pol)
	case kAlt:
		if len(n.subs) == 1 {
			return required(n.subs[0], pol)
		}
		var or clause
		for _, s := range n.subs {
			best := pol.pick(required(s, pol))
			if best == nil {
				return nil
			}
			or = append(or, best...)
		}
		return []clause{or}
	case kRepeat:
		if n.min == 0 {
			return nil
		}
		return required(n.subs[0], pol)
	case kGroup, kCapture, kAtomic:
		return required(n.subs[0], pol)
	}
	return nil // a character alone is shorter than minLiteral
}

// flatten expands single-alternative groups into the sequence, so that a
// literal can run across them.
func flatten(items []*node, out []*node) []*node {
	for _, n := range items {
		if (n.kind == kGroup || n.kind == kCapture || n.kind == kAtomic) && len(n.subs[0].subs) == 1 {
			out = flatten(n.subs[0].subs[0].subs, out)
			continue
		}
		out = append(out, n)
	}
	return out
}

// requiredSeq returns the literals of the runs of literal characters of a
// concatenation, and the clauses of its other items.
func requiredSeq(items []*node, pol literalPolicy) []clause {
	var out []clause
	var cur []byte
	ik := false
	flush := func() {
		if len(cur) >= minLiteral {
			if len(cur) > pol.maxLen {
				cur = cur[:pol.maxLen]
				for !utf8.Valid(cur) {
					cur = cur[:len(cur)-1]
				}
			}
			out = append(out, clause{{text: string(cur), foldIK: ik}})
		}
		cur, ik = nil, false
	}
	for _, n := range items {
		if r, fik, ok := pol.char(n); ok {
			cur = utf8.AppendRune(cur, r)
			ik = ik || fik
			continue
		}
		if !zeroWidth(n) { // the characters around an assertion are still adjacent
			flush()
			out = append(out, required(n, pol)...)
		}
	}
	flush()
	return out
}

// clauseScore rates a clause by its shortest literal.
func clauseScore(c clause) int {
	s := maxLiteral + 1
	for _, l := range c {
		s = min(s, len(l.text))
	}
	return s
}

// bestClause returns the clause with the longest shortest literal.
func bestClause(cs []clause) clause {
	var best clause
	for _, c := range cs {
		if best == nil || clauseScore(c) > clauseScore(best) {
			best = c
		}
	}
	return best
}

// toLower lowers an ASCII letter.
func toLower(r rune) rune {
	if r >= 'A' && r <= 'Z' {
		return r + 'a' - 'A'
	}
	return r
}
