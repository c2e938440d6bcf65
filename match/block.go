package match

import (
	"bytes"
	"math"
	"math/bits"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// This file is the block scan: MatchBlock takes many complete lines at
// once and finds the lines that can select each rule by searching the
// whole block for one literal the rule requires, instead of looking at
// every byte of every line. Each rule's anchor is, among the literals
// every selected line contains, the one that costs least to search for in
// the log at hand (its rarest byte's frequency, measured on the first
// block a Matcher sees, plus its share of one search of the block, so
// that rules with a literal in common search for it once); it is
// searched by that byte with bytes.IndexByte, which is vectorised (or with
// bytes.Index when its first byte is about as rare). Only
// the lines where an anchor is found are verified, each by its rules'
// engines, and reported in line order. Rules without an anchor (no
// case-sensitive literal, or too many distinct anchors for searching the
// block once per anchor to pay) take every line through the prefilter, as
// Match does.

// none is the position of a literal that is not in the block.
const none = math.MaxInt

// maxAnchors bounds the distinct anchors of a block scan: each costs one
// search of the block, while the prefilter of the per-line path costs one
// pass over it for all rules at once.
const maxAnchors = 32

// maxAnchorLen caps an anchor literal's length.
const maxAnchorLen = 64

// isExactChar reports whether a character node matches only itself.
func isExactChar(n *node) bool {
	if n.kind != kChar || n.r == utf8.RuneError || n.r == '\n' {
		return false
	}
	// Under (?i), an ASCII character without case still matches only
	// itself (the runes regexp2 folds into ASCII are letters).
	return !n.fold || n.r < utf8.RuneSelf && !(n.r >= 'a' && n.r <= 'z')
}

// byteCost estimates how often bytes occur: from a sample of the log when
// there is one, else from byteFreq.
type byteCost [256]uint32

// costOf returns the estimated frequency of each byte in the sample (per
// 64 KiB, times 16), plus the general frequency so that bytes the sample
// lacks still rank.
func costOf(sample []byte) *byteCost {
	var c byteCost
	var hist [256]uint32
	for _, b := range sample {
		hist[b]++
	}
	for b := range c {
		c[b] = uint32(byteFreq[b])
		if len(sample) > 0 {
			c[b] += uint32(uint64(hist[b]) * 16 * 65536 / uint64(len(sample)))
		}
	}
	return &c
}

// rarest returns the index of the rarest byte of lit.
func (c *byteCost) rarest(lit string, skip int) int {
	best := -1
	for i := 0; i < len(lit); i++ {
		if i != skip && (best < 0 || c[lit[i]] < c[lit[best]]) {
			best = i
		}
	}
	return best
}

// score estimates how many positions a search for the clause stops at.
func (c *byteCost) score(cl clause) uint64 {
	var s uint64
	for _, l := range cl {
		s += uint64(c[l.text[c.rarest(l.text, -1)]])
	}
	return s
}

// pickAnchor returns the clause that is cheapest to search for, with the
// longer literals on a tie; cost nil means the general byte frequencies.
func pickAnchor(cs []clause, cost *byteCost) clause {
	if cost == nil {
		cost = costOf(nil)
	}
	var best clause
	var bestScore uint64
	for _, cl := range cs {
		s := cost.score(cl)
		if best == nil || s < bestScore || s == bestScore && clauseScore(cl) > clauseScore(best) {
			best, bestScore = cl, s
		}
	}
	return best
}

// litSearch finds a literal by its rarest byte, checking a second rare
// byte before comparing the whole literal; or with bytes.Index when its
// first byte is about as rare (bytes.Index looks for the first byte, and
// turns to a vectorised comparison of the whole literal when that byte
// is frequent).
type litSearch struct {
	lit         []byte
	rare, rare2 int
	byFirst     bool
}

func newLitSearch(lit string, cost *byteCost) litSearch {
	s := litSearch{lit: []byte(lit), rare: cost.rarest(lit, -1)}
	s.rare2 = cost.rarest(lit, s.rare)
	if s.rare2 < 0 {
		s.rare2 = s.rare
	}
	s.byFirst = cost[lit[0]] <= 2*cost[lit[s.rare]]
	return s
}

// index returns the position of the first occurrence of the literal in h
// at or after from, or none.
func (s *litSearch) index(h []byte, from int) int {
	if s.byFirst {
		if i := bytes.Index(h[from:], s.lit); i >= 0 {
			return from + i
		}
		return none
	}
	n := len(s.lit)
	c, c2 := s.lit[s.rare], s.lit[s.rare2]
	last := len(h) - n + s.rare // the last position the rare byte can have
	for i := from + s.rare; i <= last; i++ {
		j := bytes.IndexByte(h[i:last+1], c)
		if j < 0 {
			return none
		}
		i += j
		start := i - s.rare
		if h[start+s.rare2] == c2 && string(h[start:start+n]) == string(s.lit) {
			return start
		}
	}
	return none
}

// blockAnchor is one anchor: a clause and the rules that need it.
type blockAnchor struct {
	lits  []litSearch
	rules []uint64
	n     int // the number of rules
	// disp picks the candidates of a line among the rules, when they are
	// many and bound to templates (dispatch.go); nil otherwise.
	disp *dispatch
}

// narrowMin is the number of candidate rules of a line above which the
// prefilter (one pass over the line for the literals of all rules) picks
// those worth verifying.
const narrowMin = 4

// blockPlan is how a Matcher scans blocks: anchors for the rules that
// have one, the prefilter of the per-line path for the others (rest, nil
// when there are none). A nil plan means line by line for all rules.
type blockPlan struct {
	anchors []blockAnchor
	rest    *lineFilter
}

// passCost is what one more search of the block costs, in the units of
// byteCost.score (stops per 64 KiB, times 16): a vectorised search of
// 64 KiB costs about as much as a few dozen stops.
const passCost = 1024

// clauseKey identifies a clause by its literals, in any order.
func clauseKey(cl clause) string {
	texts := make([]string, len(cl))
	for i, l := range cl {
		texts[i] = strconv.Quote(l.text)
	}
	sort.Strings(texts)
	return strings.Join(texts, " ")
}

// clauseKeys returns the clauseKey of each exact clause of each rule, and
// how many rules' clauses have each key. They are made once per Set: each
// Matcher of it (one per part of a file folded in parts) makes its own
// plan, and the keys of 1000 rules' clauses cost more than the rest of a
// plan.
func (s *Set) clauseKeys() ([][]string, map[string]int) {
	s.keysOnce.Do(func() {
		s.keys = make([][]string, len(s.rules))
		s.shared = map[string]int{}
		for i, r := range s.rules {
			s.keys[i] = make([]string, len(r.exact))
			for j, cl := range r.exact {
				s.keys[i][j] = clauseKey(cl)
				s.shared[s.keys[i][j]]++
			}
		}
	})
	return s.keys, s.shared
}

// newBlockPlan picks the anchors of the set's rules with the byte costs
// of a sample of the log. A rule's anchor is the clause that costs least
// to search for, counting its stops and its share of one pass over the
// block: a clause many rules need costs each of them a fraction of a
// pass, so 1000 rules that differ by an address share the search for
// what they have in common, and the prefilter sorts the lines it finds
// among them (narrow).
func (s *Set) newBlockPlan(cost *byteCost) *blockPlan {
	p := &blockPlan{}
	words := (len(s.rules) + 63) / 64
	keys, shared := s.clauseKeys()
	byText := map[string]int{}
	in := make([]bool, len(s.rules))
	hasRest := false
	for i, r := range s.rules {
		var cl clause
		var k string
		var best uint64
		for j, c := range r.exact {
			sc := cost.score(c) + passCost/uint64(shared[keys[i][j]])
			if cl == nil || sc < best || sc == best && clauseScore(c) > clauseScore(cl) {
				cl, k, best = c, keys[i][j], sc
			}
		}
		if cl == nil {
			in[i], hasRest = true, true
			continue
		}
		a, ok := byText[k]
		if !ok {
			a = len(p.anchors)
			byText[k] = a
			ba := blockAnchor{rules: make([]uint64, words)}
			for _, l := range cl {
				ba.lits = append(ba.lits, newLitSearch(l.text, cost))
			}
			p.anchors = append(p.anchors, ba)
		}
		p.anchors[a].rules[i/64] |= 1 << (i % 64)
		p.anchors[a].n++
	}
	if len(p.anchors) == 0 || len(p.anchors) > maxAnchors {
		return nil
	}
	for a := range p.anchors {
		if p.anchors[a].n > narrowMin {
			p.anchors[a].disp = newDispatch(s.rules, p.anchorRules(a), cost)
		}
	}
	if hasRest {
		p.rest = newLineFilter(s.rules, in, s.needASCII)
	}
	return p
}

// blockState is a Matcher's state of the block scan.
type blockState struct {
	planned bool
	plan    *blockPlan
	// next candidate line of each anchor: [start, end) in the block, start
	// none when there is no more.
	starts, ends []int
	// litNext[a][l] is the next occurrence of literal l of anchor a, or
	// -1 when it must be searched for.
	litNext [][]int
	cand    []uint64
	// dispatched marks the candidates of the line a dispatch found, and
	// found is where each one's text first occurs in the line: the
	// verification of its template starts there (splitSel.match).
	dispatched []uint64
	found      []int32
	narrow     []uint64 // candidates of a line by the prefilter of all rules
	seen       []uint64 // literals of the rest's prefilter
	// For recovery: the line being verified (inVerify), the position
	// after the last line verified, and whether fn is running.
	curStart, curEnd int
	doneUpTo         int
	inVerify, inFn   bool
}

// maxSample bounds the sample of the log used to pick anchors.
const maxSample = 256 << 10

// planFor builds the Matcher's plan on its first block.
func (m *Matcher) planFor(block []byte) *blockPlan {
	st := &m.blk
	if st.planned {
		return st.plan
	}
	st.planned = true
	if !m.set.hasExact {
		return nil
	}
	p := m.set.newBlockPlan(costOf(block[:min(len(block), maxSample)]))
	if p == nil {
		return nil
	}
	st.plan = p
	st.starts = make([]int, len(p.anchors))
	st.ends = make([]int, len(p.anchors))
	st.litNext = make([][]int, len(p.anchors))
	for a := range p.anchors {
		st.litNext[a] = make([]int, len(p.anchors[a].lits))
	}
	st.cand = make([]uint64, (len(m.set.rules)+63)/64)
	st.narrow = make([]uint64, len(st.cand))
	st.dispatched = make([]uint64, len(st.cand))
	st.found = make([]int32, len(m.set.rules))
	if p.rest != nil {
		st.seen = make([]uint64, p.rest.seenWords())
	}
	return p
}

// MatchBlock matches every line of block and calls fn, in line order,
// for each line that has hits (as Match reports them), with the line's
// offset in the block. block holds complete lines, each ended by '\n'
// (a last line without one is a line too); a '\r' before the '\n' is not
// part of the line. The line and hits passed to fn are valid until fn
// returns.
//
// The result is the same as calling Match on each line, but a line that
// cannot select any rule costs nothing: see the block scan in block.go.
func (m *Matcher) MatchBlock(block []byte, fn func(off int, line []byte, hits []Hit)) {
	p := m.planFor(block)
	for pos := 0; pos < len(block); {
		if p == nil {
			pos = m.blockLines(block, pos, fn)
			continue
		}
		pos = m.blockFrom(p, block, pos, fn)
	}
}

// blockLines matches the lines of block from pos one by one.
func (m *Matcher) blockLines(block []byte, pos int, fn func(int, []byte, []Hit)) int {
	for pos < len(block) {
		end := lineEnd(block, pos)
		line := trimCR(block[pos:end])
		if hits := m.Match(line); len(hits) > 0 {
			fn(pos, line, hits)
		}
		pos = end + 1
	}
	return pos
}

// lineEnd returns the position of the '\n' that ends the line at pos, or
// len(block).
func lineEnd(block []byte, pos int) int {
	if i := bytes.IndexByte(block[pos:], '\n'); i >= 0 {
		return pos + i
	}
	return len(block)
}

// trimCR strips one '\r' at the end of a line.
func trimCR(line []byte) []byte {
	if n := len(line); n > 0 && line[n-1] == '\r' {
		return line[:n-1]
	}
	return line
}

// blockFrom scans block from pos, a line start, and returns len(block).
// A bug in a fast engine must not take the daemon down with it: when one
// panics on a line, the line is matched by the reference and blockFrom
// returns the position after it, where the scan resumes; when the scan
// itself panics, the rest of the block is matched line by line. A panic
// in fn is fn's.
func (m *Matcher) blockFrom(p *blockPlan, block []byte, pos int, fn func(int, []byte, []Hit)) (next int) {
	st := &m.blk
	st.doneUpTo, st.inVerify, st.inFn = pos, false, false
	done := false
	defer func() {
		if done {
			return
		}
		r := recover()
		if r == nil {
			return
		}
		if st.inFn {
			st.inFn = false
			panic(r)
		}
		if !st.inVerify {
			next = m.blockLines(block, st.doneUpTo, fn)
			return
		}
		st.inVerify = false
		line := trimCR(block[st.curStart:st.curEnd])
		if hits := m.matchReference(line); len(hits) > 0 {
			fn(st.curStart, line, hits)
		}
		next = st.curEnd + 1
	}()
	m.scan(p, block, pos, fn)
	done = true
	return len(block)
}

// scan is the block scan proper.
func (m *Matcher) scan(p *blockPlan, block []byte, pos int, fn func(int, []byte, []Hit)) {
	st := &m.blk
	// Whether a line is ASCII is found out for the lines verified only
	// (most of a block is lines no rule needs).
	ascii := !m.set.needASCII
	for a := range p.anchors {
		for l := range st.litNext[a] {
			st.litNext[a][l] = -1
		}
		m.advance(p, a, block, pos)
	}
	if p.rest != nil {
		// Every line: the rules without an anchor go through the
		// prefilter, the others are candidates where their anchor is.
		for pos < len(block) {
			end := lineEnd(block, pos)
			line := trimCR(block[pos:end])
			n := 0
			for a := range p.anchors {
				if st.starts[a] == pos {
					n += p.anchors[a].n
				}
			}
			if n > narrowMin {
				// Many anchored rules: the prefilter of all rules
				// picks the candidates of the line.
				for a := range p.anchors {
					if st.starts[a] == pos {
						m.advance(p, a, block, end+1)
					}
				}
				f := m.filter()
				lineASCII := f.candidates(line, m.seen, st.cand)
				m.verifyLine(f, m.seen, block, pos, end, ascii || lineASCII)
				pos = end + 1
				m.report(block, fn)
				continue
			}
			lineASCII := p.rest.candidates(line, st.seen, st.cand)
			for a := range p.anchors {
				if st.starts[a] == pos {
					for w, rb := range p.anchors[a].rules {
						st.cand[w] |= rb
					}
					m.advance(p, a, block, end+1)
				}
			}
			m.verifyLine(p.rest, st.seen, block, pos, end, ascii || lineASCII)
			pos = end + 1
			m.report(block, fn)
		}
		return
	}
	for {
		start, end := none, 0
		for a := range p.anchors {
			if st.starts[a] < start {
				start, end = st.starts[a], st.ends[a]
			}
		}
		if start == none {
			return
		}
		clear(st.cand)
		clear(st.dispatched)
		n := 0 // the candidates not dispatched
		for a := range p.anchors {
			if st.starts[a] == start {
				if d := p.anchors[a].disp; d != nil {
					d.candidates(trimCR(block[start:end]), st.cand, st.dispatched, st.found)
				} else {
					for w, rb := range p.anchors[a].rules {
						st.cand[w] |= rb
					}
					n += p.anchors[a].n
				}
				m.advance(p, a, block, end+1)
			}
		}
		if n > narrowMin {
			// Many candidates: verify only those whose literals the
			// prefilter finds in the line.
			f := m.filter()
			lineASCII := f.candidates(trimCR(block[start:end]), m.seen, st.narrow)
			for w := range st.cand {
				st.cand[w] &= st.narrow[w]
			}
			m.verifyLine(f, m.seen, block, start, end, ascii || lineASCII)
		} else {
			m.verifyLine(nil, nil, block, start, end, ascii || isASCII(block[start:end]))
		}
		m.report(block, fn)
	}
}

// verifyLine runs the candidate rules on the line [start, end) of block;
// f and seen are the filter and the literals found by it, if any.
func (m *Matcher) verifyLine(f *lineFilter, seen []uint64, block []byte, start, end int, ascii bool) {
	st := &m.blk
	st.curStart, st.curEnd = start, end
	st.inVerify = true
	m.hits = m.hits[:0]
	m.buf = m.buf[:0]
	m.haveRunes = false
	m.clock.reset()
	m.verify(f, trimCR(block[start:end]), ascii, st.cand, seen)
	st.inVerify = false
	st.doneUpTo = end + 1
}

// report calls fn with the hits of the line just verified.
func (m *Matcher) report(block []byte, fn func(int, []byte, []Hit)) {
	if len(m.hits) == 0 {
		return
	}
	st := &m.blk
	st.inFn = true
	fn(st.curStart, trimCR(block[st.curStart:st.curEnd]), m.hits)
	st.inFn = false
}

// advance finds anchor a's next candidate line at or after from.
func (m *Matcher) advance(p *blockPlan, a int, block []byte, from int) {
	st := &m.blk
	best := none
	for l := range p.anchors[a].lits {
		nx := st.litNext[a][l]
		if nx < from {
			nx = p.anchors[a].lits[l].index(block, from)
			st.litNext[a][l] = nx
		}
		best = min(best, nx)
	}
	if best == none {
		st.starts[a] = none
		return
	}
	st.starts[a] = from
	if i := bytes.LastIndexByte(block[from:best], '\n'); i >= 0 {
		st.starts[a] = from + i + 1
	}
	st.ends[a] = lineEnd(block, best)
}

// anchorRules returns the rules of anchor a, for tests.
func (p *blockPlan) anchorRules(a int) []int {
	var out []int
	for w, word := range p.anchors[a].rules {
		for word != 0 {
			out = append(out, w*64+bits.TrailingZeros64(word))
			word &= word - 1
		}
	}
	return out
}
