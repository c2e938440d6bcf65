package match

import "math/bits"

// prefilter finds, in one pass over a line, which of the literals of all
// rules of a set the line contains: an Aho–Corasick automaton compiled to
// a DFA over byte classes, on the line lowered in ASCII.
//
// States are numbered so that those that end a literal come last: the
// inner loop is one table load per byte and a comparison that is rarely
// true. A transition holds the next state's row offset (state<<shift).
type prefilter struct {
	class [256]uint8 // byte → column; uppercase ASCII shares its lowercase's
	shift uint       // log2 of the row width
	trans []uint32   // state<<shift | column → next<<shift; length a power of two
	final uint32     // row offset of the first state that ends a literal
	// out[s] lists the literals that end at state s (including, through
	// failure links, the shorter ones that are suffixes of it).
	outStart []int32
	outIDs   []int32
	nlits    int
	maxLen   int // longest literal
	// ikMask marks the literals that prove nothing on a non-ASCII line.
	ikMask []uint64
}

// newPrefilter builds the automaton for lits; ids are indices into lits.
func newPrefilter(lits []literal) *prefilter {
	pf := &prefilter{nlits: len(lits)}
	pf.ikMask = make([]uint64, (len(lits)+63)/64)
	// Columns: one per distinct byte used by a literal, 0 for all others.
	ncol := 1
	for _, l := range lits {
		pf.maxLen = max(pf.maxLen, len(l.text))
		for i := 0; i < len(l.text); i++ {
			c := l.text[i]
			if pf.class[c] == 0 {
				pf.class[c] = uint8(ncol)
				ncol++
			}
		}
	}
	for c := 'A'; c <= 'Z'; c++ {
		pf.class[c] = pf.class[c+'a'-'A']
	}
	for ncol > 1<<pf.shift {
		pf.shift++
	}
	width := 1 << pf.shift

	// The trie, as a goto table of width columns (0: no edge).
	maxNodes := 1
	for _, l := range lits {
		maxNodes += len(l.text)
	}
	gotoT := make([]int32, maxNodes*width)
	outs := make([][]int32, 1, maxNodes)
	newNode := func() int32 {
		outs = append(outs, nil)
		return int32(len(outs) - 1)
	}
	for id, l := range lits {
		if l.foldIK {
			pf.ikMask[id/64] |= 1 << (id % 64)
		}
		s := int32(0)
		for i := 0; i < len(l.text); i++ {
			col := int32(pf.class[l.text[i]])
			nx := gotoT[s*int32(width)+col]
			if nx == 0 {
				nx = newNode()
				gotoT[s*int32(width)+col] = nx
			}
			s = nx
		}
		outs[s] = append(outs[s], int32(id))
	}

	// Breadth-first: failure links, outputs and the full DFA, in trie
	// numbering.
	n := len(outs)
	fail := make([]int32, n)
	delta := make([]int32, n*width)
	queue := make([]int32, 0, n)
	queue = append(queue, 0)
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		for col := 0; col < width; col++ {
			next := int32(0)
			if nx := gotoT[int(s)*width+col]; nx != 0 && col != 0 {
				next = nx
				if s != 0 {
					fail[nx] = delta[int(fail[s])*width+col]
				}
				outs[nx] = append(outs[nx], outs[fail[nx]]...)
				queue = append(queue, nx)
			} else if s != 0 {
				next = delta[int(fail[s])*width+col]
			}
			delta[int(s)*width+col] = next
		}
	}

	// Renumber: the start state first, the states that end literals last.
	order := make([]int, 0, n)
	for s := range outs {
		if len(outs[s]) == 0 {
			order = append(order, s)
		}
	}
	nfinal := len(order)
	for s := range outs {
		if len(outs[s]) > 0 {
			order = append(order, s)
		}
	}
	renum := make([]int, n)
	for i, s := range order {
		renum[s] = i
	}
	size := 1
	for size < n*width {
		size <<= 1
	}
	pf.trans = make([]uint32, size)
	pf.final = uint32(nfinal) << pf.shift
	pf.outStart = make([]int32, n+1)
	for i, s := range order {
		for col := 0; col < width; col++ {
			pf.trans[i*width+col] = uint32(renum[delta[s*width+col]]) << pf.shift
		}
		pf.outStart[i] = int32(len(pf.outIDs))
		pf.outIDs = append(pf.outIDs, outs[s]...)
	}
	pf.outStart[n] = int32(len(pf.outIDs))
	return pf
}

// scan sets in seen the bit of every literal the line contains and
// reports whether the line is ASCII. seen must be cleared by the caller.
//
// A DFA is a chain of dependent loads, one per byte. To run two chains at
// once, a long line is scanned as two halves that overlap by the longest
// literal less one byte, so that every occurrence lies wholly in one half.
func (pf *prefilter) scan(line []byte, seen []uint64) (ascii bool) {
	var acc byte
	overlap := pf.maxLen - 1
	if len(line) >= 2*overlap+32 {
		mid := (len(line) + overlap) / 2
		acc = pf.scan2(line[:mid], line[mid-overlap:], seen)
	} else {
		acc = pf.scan1(line, seen)
	}
	ascii = acc < 0x80
	if !ascii {
		for i, m := range pf.ikMask {
			seen[i] |= m
		}
	}
	return ascii
}

// scan1 runs the automaton over b and returns the OR of its bytes.
func (pf *prefilter) scan1(b []byte, seen []uint64) byte {
	var acc byte
	v := uint32(0)
	trans, class, final := pf.trans, &pf.class, pf.final
	mask := uint32(len(trans) - 1)
	for _, c := range b {
		acc |= c
		v = trans[(v|uint32(class[c]))&mask]
		if v >= final {
			pf.record(v>>pf.shift, seen)
		}
	}
	return acc
}

// scan2 runs the automaton over a and b at once; len(b) >= len(a).
func (pf *prefilter) scan2(a, b []byte, seen []uint64) byte {
	var acc byte
	va, vb := uint32(0), uint32(0)
	trans, class, final := pf.trans, &pf.class, pf.final
	mask := uint32(len(trans) - 1)
	b2 := b[:len(a)]
	for i, ca := range a {
		cb := b2[i]
		acc |= ca | cb
		va = trans[(va|uint32(class[ca]))&mask]
		vb = trans[(vb|uint32(class[cb]))&mask]
		if va >= final {
			pf.record(va>>pf.shift, seen)
		}
		if vb >= final {
			pf.record(vb>>pf.shift, seen)
		}
	}
	for _, c := range b[len(a):] {
		acc |= c
		vb = trans[(vb|uint32(class[c]))&mask]
		if vb >= final {
			pf.record(vb>>pf.shift, seen)
		}
	}
	return acc
}

func (pf *prefilter) record(s uint32, seen []uint64) {
	for _, id := range pf.outIDs[pf.outStart[s]:pf.outStart[s+1]] {
		seen[id>>6] |= 1 << (id & 63)
	}
}

// words returns the number of uint64 words of a seen set.
func (pf *prefilter) words() int { return (pf.nlits + 63) / 64 }

// requirement is the prefilter condition of one rule: every clause must
// have one of its literals seen.
type requirement [][]litBit

// litBit is one literal's bit in a seen set.
type litBit struct {
	word int
	mask uint64
}

func (rq requirement) ok(seen []uint64) bool {
	for _, c := range rq {
		hit := false
		for _, b := range c {
			if seen[b.word]&b.mask != 0 {
				hit = true
				break
			}
		}
		if !hit {
			return false
		}
	}
	return true
}

// isASCII reports whether b is pure ASCII.
func isASCII(b []byte) bool {
	for len(b) >= 8 {
		x := uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 |
			uint64(b[4])<<32 | uint64(b[5])<<40 | uint64(b[6])<<48 | uint64(b[7])<<56
		if x&0x8080808080808080 != 0 {
			return false
		}
		b = b[8:]
	}
	for _, c := range b {
		if c >= 0x80 {
			return false
		}
	}
	return true
}

// lineFilter finds the candidate rules of a line among some of a set's
// rules: those without literals, and those whose strongest clause has a
// literal in the line (the rule's other clauses are checked by req before
// it runs).
type lineFilter struct {
	// pre finds the literals of the rules; nil when none has one.
	pre      *prefilter
	words    int      // uint64 words of a bit set over rules
	always   []uint64 // the rules without literals
	litRules [][]uint64
	// req is each rule's condition on the literals found; nil for a rule
	// outside the filter or without clauses.
	req []requirement
	// needASCII: some engine depends on whether the line is ASCII.
	needASCII bool
}

// newLineFilter builds a filter for the rules for which in is true (every
// rule when in is nil): each literal gets an id, the automaton is
// compiled, and for each literal the rules that need it are recorded, so
// that a line costs only the rules whose literals it has.
func newLineFilter(rules []*rule, in []bool, needASCII bool) *lineFilter {
	words := (len(rules) + 63) / 64
	f := &lineFilter{words: words, always: make([]uint64, words), req: make([]requirement, len(rules)), needASCII: needASCII}
	type key struct {
		text string
		ik   bool
	}
	ids := map[key]int{}
	var lits []literal
	for i, r := range rules {
		if in != nil && !in[i] {
			continue
		}
		for _, c := range r.clauses {
			for _, l := range c {
				k := key{l.text, l.foldIK}
				if _, ok := ids[k]; !ok {
					ids[k] = len(lits)
					lits = append(lits, l)
				}
			}
		}
	}
	if len(lits) > 0 {
		f.pre = newPrefilter(lits)
		f.litRules = make([][]uint64, len(lits))
		for id := range f.litRules {
			f.litRules[id] = make([]uint64, words)
		}
	}
	// shared[id] is the number of rules that need literal id.
	shared := make([]int, len(lits))
	for i, r := range rules {
		if in != nil && !in[i] {
			continue
		}
		for _, c := range r.clauses {
			for _, l := range c {
				shared[ids[key{l.text, l.foldIK}]]++
			}
		}
	}
	for i, r := range rules {
		if in != nil && !in[i] {
			continue
		}
		if len(r.clauses) == 0 {
			f.always[i/64] |= 1 << (i % 64)
		}
		// A rule is a candidate when its most selective clause holds:
		// the one whose literals the fewest other rules need (with 1000
		// rules that differ by an address, the address), then the one
		// with the longest literals, likely the rarest.
		best, bestShared := 0, 0
		for k, c := range r.clauses {
			n := 0
			for _, l := range c {
				n = max(n, shared[ids[key{l.text, l.foldIK}]])
			}
			if k == 0 || n < bestShared {
				best, bestShared = k, n
			}
		}
		for k, c := range r.clauses {
			var bits []litBit
			for _, l := range c {
				id := ids[key{l.text, l.foldIK}]
				bits = append(bits, litBit{word: id / 64, mask: 1 << (id % 64)})
				if k == best {
					f.litRules[id][i/64] |= 1 << (i % 64)
				}
			}
			f.req[i] = append(f.req[i], bits)
		}
	}
	return f
}

// seenWords returns the number of uint64 words of a seen set.
func (f *lineFilter) seenWords() int {
	if f.pre == nil {
		return 0
	}
	return f.pre.words()
}

// candidates sets cand to the filter's rules that may match the line and
// seen to the literals the line has, and reports whether the line is
// ASCII (true when no engine cares).
func (f *lineFilter) candidates(line []byte, seen, cand []uint64) (ascii bool) {
	copy(cand, f.always)
	if f.pre == nil {
		return !f.needASCII || isASCII(line)
	}
	clear(seen)
	ascii = f.pre.scan(line, seen)
	// The candidates: rules without literals, and rules with a literal the
	// line has.
	for w, word := range seen {
		for word != 0 {
			id := w*64 + bits.TrailingZeros64(word)
			word &= word - 1
			for j, rb := range f.litRules[id] {
				cand[j] |= rb
			}
		}
	}
	return ascii
}
