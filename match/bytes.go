package match

import (
	"errors"
	"math/bits"

	"github.com/dlclark/regexp2/syntax"
)

// This file is the "bytes" engine: a pattern compiled from its parse tree
// to a small program that matches the bytes of an ASCII line directly. On
// an ASCII line every rune is one byte, so each character, class and `.`
// of the pattern is a set of bytes (the class sets come from the oracle,
// that is from regexp2 itself, so \w, \s, \d, (?i) and .NET classes mean
// what they mean to regexp2). Lines that are not ASCII go to the exact
// engines, as before.
//
// The program is run by a backtracker with the priorities of regexp2
// (leftmost first; greedy and lazy quantifiers; alternatives in order),
// which is what an extraction or key group needs. Two things keep it
// cheap:
//
//   - A run of a byte class (`\d+`, `\S*`, `[^\]]{1,3}`, `.*`) is one
//     instruction that consumes the run at once. When what follows it
//     cannot start with a byte of the class (`\d+\]`, `\S+ port`), no
//     shorter run can succeed and the run leaves no backtracking point:
//     the match is deterministic. When what follows has a fixed length to
//     the end of the line (`.* \[preauth\]$`), the run's length is
//     computed. Otherwise the run gives back bytes one at a time, trying
//     only positions where what follows can start.
//   - Every instruction where paths join is memoised per position, as in
//     Go's regexp backtracker, and the work of one line is bounded by a
//     budget proportional to (program size × line length). A line that
//     would exceed it (a run of a class inside a loop, such as (?:a+)+b,
//     on a hostile line) is handed to the other engines, which are linear
//     (RE2) or time-limited (regexp2): no pattern backtracks
//     catastrophically here.
//
// Only constructs whose meaning on an ASCII line is certain are compiled:
// characters, classes, `.`, anchors, \b and \B, groups, alternation, and
// repetition of a class or of a group that cannot match the empty string
// (regexp2 and other engines differ on empty iterations). Lookaround,
// backreferences, atomic groups and conditionals leave the pattern on its
// other engines.

// byteSet is a set of bytes.
type byteSet [4]uint64

func (s *byteSet) has(c byte) bool { return s[c>>6]&(1<<(c&63)) != 0 }
func (s *byteSet) add(c byte)      { s[c>>6] |= 1 << (c & 63) }
func (s *byteSet) addAll(t *byteSet) {
	for i := range s {
		s[i] |= t[i]
	}
}
func (s *byteSet) overlaps(t *byteSet) bool {
	return s[0]&t[0]|s[1]&t[1]|s[2]&t[2]|s[3]&t[3] != 0
}

// count returns the number of bytes in the set.
func (s *byteSet) count() int {
	return bits.OnesCount64(s[0]) + bits.OnesCount64(s[1]) + bits.OnesCount64(s[2]) + bits.OnesCount64(s[3])
}

// single returns the only byte of a set of one byte.
func (s *byteSet) single() (byte, bool) {
	if s.count() != 1 {
		return 0, false
	}
	for i, w := range s {
		if w != 0 {
			return byte(i*64 + bits.TrailingZeros64(w)), true
		}
	}
	return 0, false
}

// setOfRanges returns the ASCII members of lo, hi pairs.
func setOfRanges(rs []rune) byteSet {
	var s byteSet
	for i := 0; i+1 < len(rs); i += 2 {
		for r := rs[i]; r <= rs[i+1] && r < 0x80; r++ {
			s.add(byte(r))
		}
	}
	return s
}

// allBytes is the set of every byte.
func allBytes() byteSet { return byteSet{^uint64(0), ^uint64(0), ^uint64(0), ^uint64(0)} }

// bOp is an instruction of the bytes engine.
type bOp uint8

const (
	bLit      bOp = iota // the bytes of lit
	bSet                 // one byte of set
	bRun                 // min..max bytes of set
	bSplit               // next first, then alt
	bSave                // records the position in slot
	bBegin               // start of line
	bEnd                 // end of line
	bWordB               // \b
	bNotWordB            // \B
	bMatch
	bFail
)

// bInst is one instruction.
type bInst struct {
	op   bOp
	lazy bool // bRun
	// poss marks a run after which no shorter (or, lazy, longer) run
	// can succeed: it leaves no backtracking point.
	poss bool
	// contEmpty (bRun) is set when what follows the run can succeed
	// without consuming a byte.
	contEmpty bool
	slot      uint8
	next      int32 // the following instruction; bSplit: the first choice
	alt       int32 // bSplit: the second choice
	// memo is the row of this instruction in the memo when paths join
	// here, else -1.
	memo     int32
	min, max int32 // bRun; max < 0: unbounded
	// tail (bRun) is the fixed length of what follows up to the end of
	// the line, or -1.
	tail  int32
	lit   []byte
	set   byteSet // bSet, bRun
	first byteSet // bRun: the bytes what follows can start with
}

// bytesProg is a compiled pattern.
type bytesProg struct {
	insts []bInst
	start int32
	// anchored: the match starts at 0 (select patterns with no leading
	// `.*`); otherwise the program searches.
	anchored bool
	// prefix finds a literal every match starts with (its lit is nil when
	// there is none); firstSet the bytes a match can start with, unless
	// startAny (a match may be empty).
	prefix   litSearch
	firstSet byteSet
	startAny bool
	memoRows int
	capture  bool // the program records group 1 in slots 0 and 1
	word     byteSet
}

// maxBytesInsts bounds a program's size (repetitions of groups are
// written out).
const maxBytesInsts = 2000

// maxMemoBits bounds the memo of one line; a longer line goes to the
// other engines.
const maxMemoBits = 1 << 25

var errBytesUnsupported = errors.New("not supported by the bytes engine")

// bytesCompiler builds a program.
type bytesCompiler struct {
	o      *oracle
	target *node
	insts  []bInst
	err    error
}

// compileBytes compiles n for the bytes engine. target is the capture to
// record (nil for a select pattern); anchorStart and anchorEnd make the
// match start at 0 and end at the end of the line.
func compileBytes(o *oracle, n, target *node, anchorStart, anchorEnd bool) (p *bytesProg, err error) {
	defer func() {
		// A bug in the compiler leaves the pattern on its other engines.
		if r := recover(); r != nil {
			p, err = nil, errBytesUnsupported
		}
	}()
	c := &bytesCompiler{o: o, target: target}
	k := c.emit(bInst{op: bMatch})
	if anchorEnd {
		k = c.emit(bInst{op: bEnd, next: k})
	}
	start := c.compile(n, k)
	if c.err != nil {
		return nil, c.err
	}
	p = &bytesProg{insts: c.insts, start: start, anchored: anchorStart, capture: target != nil}
	for b := 0; b < 0x80; b++ {
		if syntax.IsWordChar(rune(b)) {
			p.word.add(byte(b))
		}
	}
	if target != nil && !p.savesBoth() {
		return nil, errBytesUnsupported
	}
	p.analyse()
	return p, nil
}

// savesBoth reports whether the program records both ends of the group.
func (p *bytesProg) savesBoth() bool {
	var s0, s1 bool
	for _, in := range p.insts {
		if in.op == bSave {
			s0 = s0 || in.slot == 0
			s1 = s1 || in.slot == 1
		}
	}
	return s0 && s1
}

func (c *bytesCompiler) emit(in bInst) int32 {
	if len(c.insts) >= maxBytesInsts {
		if c.err == nil {
			c.err = errBytesUnsupported
		}
		return 0
	}
	in.memo = -1
	c.insts = append(c.insts, in)
	return int32(len(c.insts) - 1)
}

func (c *bytesCompiler) fail() int32 {
	if c.err == nil {
		c.err = errBytesUnsupported
	}
	return 0
}

// byteClass returns the bytes a single-character node matches on an ASCII
// line.
func (c *bytesCompiler) byteClass(n *node) (byteSet, bool) {
	switch n.kind {
	case kChar:
		var s byteSet
		for r := rune(0); r < 0x80; r++ {
			if r == n.r || n.fold && toLower(r) == n.r {
				s.add(byte(r))
			}
		}
		return s, true
	case kClass:
		set, ok := c.o.set(n.cls)
		if !ok {
			return byteSet{}, false
		}
		return setOfRanges(asciiRanges(set)), true
	case kDot:
		s := allBytes()
		if !n.dotAll {
			s[0] &^= 1 << '\n'
		}
		return s, true
	case kGroup, kCapture:
		if n == c.target {
			return byteSet{}, false
		}
		alt := n.subs[0]
		if len(alt.subs) == 1 && len(alt.subs[0].subs) == 1 {
			return c.byteClass(alt.subs[0].subs[0])
		}
	}
	return byteSet{}, false
}

// compile emits code that matches n and continues at k, and returns its
// entry.
func (c *bytesCompiler) compile(n *node, k int32) int32 {
	if c.err != nil {
		return 0
	}
	switch n.kind {
	case kEmpty:
		return k
	case kChar, kClass, kDot:
		s, ok := c.byteClass(n)
		if !ok {
			return c.fail()
		}
		return c.emitSet(s, k)
	case kBegin:
		return c.emit(bInst{op: bBegin, next: k})
	case kEnd:
		return c.emit(bInst{op: bEnd, next: k})
	case kWordBoundary:
		return c.emit(bInst{op: bWordB, next: k})
	case kNotWordBoundary:
		return c.emit(bInst{op: bNotWordB, next: k})
	case kConcat:
		return c.compileSeq(c.flatten(n.subs, nil), k)
	case kAlt:
		if len(n.subs) == 1 {
			return c.compile(n.subs[0], k)
		}
		entries := make([]int32, len(n.subs))
		for i, s := range n.subs {
			entries[i] = c.compile(s, k)
		}
		e := entries[len(entries)-1]
		for i := len(entries) - 2; i >= 0; i-- {
			e = c.emit(bInst{op: bSplit, next: entries[i], alt: e})
		}
		return e
	case kGroup:
		return c.compile(n.subs[0], k)
	case kCapture:
		if n != c.target {
			return c.compile(n.subs[0], k)
		}
		end := c.emit(bInst{op: bSave, slot: 1, next: k})
		body := c.compile(n.subs[0], end)
		return c.emit(bInst{op: bSave, slot: 0, next: body})
	case kRepeat:
		return c.compileRepeat(n, k)
	}
	// Lookaround, backreferences, atomic groups, conditionals.
	return c.fail()
}

// emitSet emits one byte of s: a literal when s has one byte.
func (c *bytesCompiler) emitSet(s byteSet, k int32) int32 {
	if b, ok := s.single(); ok {
		return c.emit(bInst{op: bLit, lit: []byte{b}, next: k})
	}
	if s == (byteSet{}) {
		return c.emit(bInst{op: bFail})
	}
	return c.emit(bInst{op: bSet, set: s, next: k})
}

// flatten splices the items of single-alternative groups that are not
// the target into the sequence, so that literals run across them.
func (c *bytesCompiler) flatten(items []*node, out []*node) []*node {
	for _, n := range items {
		if (n.kind == kGroup || n.kind == kCapture && n != c.target) && len(n.subs[0].subs) == 1 {
			out = c.flatten(n.subs[0].subs[0].subs, out)
			continue
		}
		out = append(out, n)
	}
	return out
}

// compileSeq compiles a sequence, joining characters that match one byte
// each into literals.
func (c *bytesCompiler) compileSeq(items []*node, k int32) int32 {
	var lit []byte // reversed
	flush := func() {
		if len(lit) == 0 {
			return
		}
		b := make([]byte, len(lit))
		for i := range lit {
			b[i] = lit[len(lit)-1-i]
		}
		k = c.emit(bInst{op: bLit, lit: b, next: k})
		lit = nil
	}
	for i := len(items) - 1; i >= 0; i-- {
		n := items[i]
		if n.kind == kChar {
			if s, ok := c.byteClass(n); ok {
				if b, ok := s.single(); ok {
					lit = append(lit, b)
					continue
				}
			}
		}
		flush()
		k = c.compile(n, k)
	}
	flush()
	return k
}

func (c *bytesCompiler) compileRepeat(n *node, k int32) int32 {
	sub := n.subs[0]
	if s, ok := c.byteClass(sub); ok && !contains(sub, c.target) {
		if n.max == 0 {
			return k
		}
		if n.min == 1 && n.max == 1 {
			return c.emitSet(s, k)
		}
		return c.emit(bInst{op: bRun, set: s, min: int32(n.min), max: int32(n.max), lazy: n.lazy, next: k})
	}
	// Repetition of a group is written out; its body must consume, as
	// engines differ on empty iterations.
	if nullable(sub) || zeroWidth(sub) {
		return c.fail()
	}
	if n.min > maxBytesInsts || n.max > maxBytesInsts {
		return c.fail()
	}
	if n.max == 0 {
		return k
	}
	t := k
	if n.max < 0 {
		loop := c.emit(bInst{op: bSplit})
		body := c.compile(sub, loop)
		if c.err != nil {
			return 0
		}
		if n.lazy {
			c.insts[loop].next, c.insts[loop].alt = k, body
		} else {
			c.insts[loop].next, c.insts[loop].alt = body, k
		}
		t = loop
	} else {
		for i := n.min; i < n.max && c.err == nil; i++ {
			body := c.compile(sub, t)
			if n.lazy {
				t = c.emit(bInst{op: bSplit, next: k, alt: body})
			} else {
				t = c.emit(bInst{op: bSplit, next: body, alt: k})
			}
		}
	}
	for i := 0; i < n.min && c.err == nil; i++ {
		t = c.compile(sub, t)
	}
	return t
}

// firstOf returns the bytes the code at pc can start with, and whether it
// can succeed without consuming a byte (a bEnd stops the walk: what
// follows it succeeds only at the end of the line, where there is no byte
// to look at).
func (p *bytesProg) firstOf(pc int32) (first byteSet, empty bool) {
	return p.reach(pc, false)
}

// emptyAtEnd reports whether the code at pc can succeed at the end of the
// line without consuming: as firstOf, with bEnd passed.
func (p *bytesProg) emptyAtEnd(pc int32) bool {
	_, empty := p.reach(pc, true)
	return empty
}

// reach walks the code at pc as far as it goes without consuming a byte:
// first are the bytes it can consume next, empty whether it reaches
// bMatch. A bEnd is passed when atEnd (the walk is at the end of the
// line), and stops the walk otherwise.
func (p *bytesProg) reach(pc int32, atEnd bool) (first byteSet, empty bool) {
	seen := make([]bool, len(p.insts))
	var walk func(pc int32)
	walk = func(pc int32) {
		if seen[pc] {
			return
		}
		seen[pc] = true
		in := &p.insts[pc]
		switch in.op {
		case bLit:
			first.add(in.lit[0])
		case bSet:
			first.addAll(&in.set)
		case bRun:
			first.addAll(&in.set)
			if in.min == 0 {
				walk(in.next)
			}
		case bSplit:
			walk(in.next)
			walk(in.alt)
		case bSave, bBegin, bWordB, bNotWordB:
			walk(in.next)
		case bEnd:
			if atEnd {
				walk(in.next)
			}
		case bMatch:
			empty = true
		}
	}
	walk(pc)
	return first, empty
}

// tailLen returns the fixed length of the code at pc up to the end of the
// line, or -1 when it has none.
func (p *bytesProg) tailLen(pc int32) int32 {
	n := int32(0)
	for range len(p.insts) {
		in := &p.insts[pc]
		switch in.op {
		case bLit:
			n += int32(len(in.lit))
		case bSet:
			n++
		case bSave:
		case bEnd:
			if p.insts[in.next].op == bMatch {
				return n
			}
			return -1
		default:
			return -1
		}
		pc = in.next
	}
	return -1
}

// analyse computes what the matcher needs besides the instructions: each
// run's continuation, which runs are deterministic, the join points that
// are memoised, and how a search finds its start positions.
func (p *bytesProg) analyse() {
	indeg := make([]int, len(p.insts))
	indeg[p.start]++
	for i := range p.insts {
		in := &p.insts[i]
		switch in.op {
		case bMatch, bFail:
			continue
		case bSplit:
			indeg[in.next] += 2 // a choice point: memoised
			indeg[in.alt] += 2
			continue
		case bRun:
			in.first, in.contEmpty = p.firstOf(in.next)
			in.tail = p.tailLen(in.next)
			in.poss = !in.contEmpty && !in.set.overlaps(&in.first)
			if !in.poss && in.tail < 0 {
				indeg[in.next] += 2 // resumed at several positions
			}
		}
		indeg[in.next]++
	}
	for i := range p.insts {
		if indeg[i] > 1 {
			p.insts[i].memo = int32(p.memoRows)
			p.memoRows++
		}
	}
	p.firstSet, p.startAny = p.firstOf(p.start)
	if !p.anchored {
		pc := p.start
		for p.insts[pc].op == bSave {
			pc = p.insts[pc].next
		}
		switch in := &p.insts[pc]; in.op {
		case bLit:
			p.prefix = newLitSearch(string(in.lit), costOf(nil))
		case bBegin:
			// Every match starts at 0: no search.
			p.anchored = true
			return
		}
		if !p.startAny {
			// A match may also start at the end of the line when it can
			// be empty there (an end anchor).
			p.startAny = p.emptyAtEnd(p.start)
		}
	}
}

// bytesFrame is a backtracking point.
type bytesFrame struct {
	kind uint8
	pc   int32
	pos  int32 // frAlt: where to resume; runs: the current end
	lim  int32 // runs: the shortest (greedy) or longest (lazy) end
}

const (
	frAlt uint8 = iota
	frGreedy
	frLazy
	frRestore // pc is the slot, pos the old value
)

// bytesState is a Matcher's scratch space for the bytes engine.
type bytesState struct {
	stack   []bytesFrame
	memo    []uint64
	rows    int // memo rows of the program being run
	memoLen int // positions per memo row
	memoOn  bool
	caps    [2]int32
	// work counts instructions run, bytes consumed by runs and positions
	// scanned while backtracking; budget bounds it.
	work, budget int
	gaveUp       bool
}

// budgetFactor scales the work budget of a line: (program size + join
// points + 1) × (line length + 1) × budgetFactor.
const budgetFactor = 4

// match reports whether the program matches the ASCII line. ok is false
// when the line is too long for the memo: the caller uses another engine.
func (p *bytesProg) match(st *bytesState, line []byte) (matched, ok bool) {
	st.memoOn, st.gaveUp = false, false
	st.rows, st.memoLen = p.memoRows, len(line)+1
	if p.memoRows*st.memoLen > maxMemoBits {
		return false, false
	}
	st.work, st.budget = 0, (len(p.insts)+p.memoRows+1)*st.memoLen*budgetFactor
	if p.anchored {
		m := p.exec(st, line, 0)
		return m, !st.gaveUp
	}
	for pos := 0; pos <= len(line); pos++ {
		switch {
		case p.prefix.lit != nil:
			if pos = p.prefix.index(line, pos); pos == none {
				return false, true
			}
		case !p.startAny:
			for pos < len(line) && !p.firstSet.has(line[pos]) {
				pos++
			}
			if pos == len(line) {
				return false, true
			}
		}
		if p.exec(st, line, pos) {
			return true, true
		}
		if st.gaveUp {
			return false, false
		}
	}
	return false, true
}

// group returns the bounds of the group of the leftmost match.
func (p *bytesProg) group(st *bytesState, line []byte) (lo, hi int, found, ok bool) {
	matched, ok := p.match(st, line)
	if !ok || !matched || st.caps[0] < 0 || st.caps[1] < 0 {
		return 0, 0, false, ok
	}
	return int(st.caps[0]), int(st.caps[1]), true, true
}

// visit marks (row, pos) and reports whether it was not marked yet. The
// memo is cleared the first time a match needs it.
func (st *bytesState) visit(row int32, pos int32) bool {
	if !st.memoOn {
		st.memoOn = true
		n := (st.rows*st.memoLen + 63) / 64
		if cap(st.memo) < n {
			st.memo = make([]uint64, n)
		} else {
			st.memo = st.memo[:n]
			clear(st.memo)
		}
	}
	i := int(row)*st.memoLen + int(pos)
	w, bit := i>>6, uint64(1)<<(i&63)
	if st.memo[w]&bit != 0 {
		return false
	}
	st.memo[w] |= bit
	return true
}

// exec runs the program from pos. On success st.caps holds the group.
func (p *bytesProg) exec(st *bytesState, line []byte, start int) bool {
	insts := p.insts
	n := int32(len(line))
	st.stack = st.stack[:0]
	st.caps = [2]int32{-1, -1}
	pc, pos := p.start, int32(start)
	work, budget := st.work, st.budget
	for {
	run:
		for {
			in := &insts[pc]
			work++
			if in.memo >= 0 && !st.visit(in.memo, pos) {
				break run
			}
			switch in.op {
			case bLit:
				l := in.lit
				if int(n-pos) < len(l) || string(line[pos:int(pos)+len(l)]) != string(l) {
					break run
				}
				pos += int32(len(l))
			case bSet:
				if pos >= n || !in.set.has(line[pos]) {
					break run
				}
				pos++
			case bRun:
				end := n
				if in.max >= 0 && in.max < n-pos {
					end = pos + in.max
				}
				e := pos
				for e < end && in.set.has(line[e]) {
					e++
				}
				if work += int(e - pos); work > budget {
					st.work, st.gaveUp = work, true
					return false
				}
				lo := pos + in.min
				if e < lo {
					break run
				}
				switch {
				case in.tail >= 0:
					t := n - in.tail
					if t < lo || t > e {
						break run
					}
					pos = t
				case in.poss:
					pos = e
				case in.lazy:
					if e > lo {
						st.stack = append(st.stack, bytesFrame{kind: frLazy, pc: pc, pos: lo, lim: e})
					}
					pos = lo
				default:
					if e > lo {
						st.stack = append(st.stack, bytesFrame{kind: frGreedy, pc: pc, pos: e, lim: lo})
					}
					pos = e
				}
			case bSplit:
				st.stack = append(st.stack, bytesFrame{kind: frAlt, pc: in.alt, pos: pos})
			case bSave:
				if len(st.stack) > 0 {
					// Backtracking to a choice point before this one
					// must find the group as it was.
					st.stack = append(st.stack, bytesFrame{kind: frRestore, pc: int32(in.slot), pos: st.caps[in.slot]})
				}
				st.caps[in.slot] = pos
			case bBegin:
				if pos != 0 {
					break run
				}
			case bEnd:
				if pos != n {
					break run
				}
			case bWordB, bNotWordB:
				a := pos > 0 && p.word.has(line[pos-1])
				b := pos < n && p.word.has(line[pos])
				if (a != b) != (in.op == bWordB) {
					break run
				}
			case bMatch:
				st.work = work
				return true
			default:
				break run
			}
			pc = in.next
		}
		// Backtrack.
		if work > budget {
			st.work, st.gaveUp = work, true
			return false
		}
	pop:
		for {
			if len(st.stack) == 0 {
				st.work = work
				return false
			}
			f := &st.stack[len(st.stack)-1]
			switch f.kind {
			case frRestore:
				st.caps[f.pc] = f.pos
			case frAlt:
				pc, pos = f.pc, f.pos
				st.stack = st.stack[:len(st.stack)-1]
				break pop
			case frGreedy:
				in := &insts[f.pc]
				for q := f.pos - 1; q >= f.lim; q-- {
					work++
					if in.contEmpty || in.first.has(line[q]) {
						f.pos = q
						if q == f.lim {
							st.stack = st.stack[:len(st.stack)-1]
						}
						pc, pos = in.next, q
						break pop
					}
				}
			case frLazy:
				in := &insts[f.pc]
				for q := f.pos + 1; q <= f.lim; q++ {
					work++
					if in.contEmpty || q == n || in.first.has(line[q]) {
						f.pos = q
						if q == f.lim {
							st.stack = st.stack[:len(st.stack)-1]
						}
						pc, pos = in.next, q
						break pop
					}
				}
			}
			st.stack = st.stack[:len(st.stack)-1]
		}
	}
}
