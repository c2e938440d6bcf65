package match

// prefilter finds, in one pass over a line, which of the literals of all
// rules of a set the line contains: an Aho–Corasick automaton compiled to
// a DFA over byte classes, on the line lowered in ASCII.
//
// Each transition holds the next state's row offset with its low bit set
// when that state ends a literal, so the inner loop is one table load per
// byte and a rarely taken branch.
type prefilter struct {
	class [256]uint8 // byte → column; uppercase ASCII shares its lowercase's
	shift uint       // log2 of the row width
	trans []uint32   // state<<shift | column → next<<shift | ends-a-literal
	// out[s] lists the literals that end at state s (including, through
	// failure links, the shorter ones that are suffixes of it).
	outStart []int32
	outIDs   []int32
	nlits    int
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
	pf.shift = 1 // the low bit of a transition is the ends-a-literal flag
	for ncol > 1<<pf.shift {
		pf.shift++
	}
	width := 1 << pf.shift

	// The trie.
	type tnode struct {
		next map[uint8]int32
		out  []int32
		fail int32
	}
	nodes := []tnode{{next: map[uint8]int32{}}}
	for id, l := range lits {
		if l.foldIK {
			pf.ikMask[id/64] |= 1 << (id % 64)
		}
		s := int32(0)
		for i := 0; i < len(l.text); i++ {
			col := pf.class[l.text[i]]
			nx, ok := nodes[s].next[col]
			if !ok {
				nx = int32(len(nodes))
				nodes = append(nodes, tnode{next: map[uint8]int32{}})
				nodes[s].next[col] = nx
			}
			s = nx
		}
		nodes[s].out = append(nodes[s].out, int32(id))
	}

	// Breadth-first: failure links, outputs and the full DFA.
	n := len(nodes)
	pf.trans = make([]uint32, n*width)
	delta := func(s int32, col uint8) int32 { return int32(pf.trans[int(s)*width+int(col)] >> pf.shift) }
	queue := []int32{0}
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		for col := 0; col < width; col++ {
			var next int32
			if nx, ok := nodes[s].next[uint8(col)]; ok && col != 0 {
				next = nx
				if s != 0 {
					nodes[nx].fail = delta(nodes[s].fail, uint8(col))
				}
				nodes[nx].out = append(nodes[nx].out, nodes[nodes[nx].fail].out...)
				queue = append(queue, nx)
			} else if s != 0 {
				next = delta(nodes[s].fail, uint8(col))
			}
			pf.trans[int(s)*width+col] = uint32(next) << pf.shift
		}
	}
	pf.outStart = make([]int32, n+1)
	for s := range nodes {
		pf.outStart[s] = int32(len(pf.outIDs))
		pf.outIDs = append(pf.outIDs, nodes[s].out...)
	}
	pf.outStart[n] = int32(len(pf.outIDs))
	// Mark the transitions into states that end literals.
	for i, t := range pf.trans {
		if s := t >> pf.shift; len(nodes[s].out) > 0 {
			pf.trans[i] = t | 1
		}
	}
	return pf
}

// scan sets in seen the bit of every literal the line contains and
// reports whether the line is ASCII. seen must be cleared by the caller.
func (pf *prefilter) scan(line []byte, seen []uint64) (ascii bool) {
	var acc byte
	v := uint32(0)
	trans, class := pf.trans, &pf.class
	for _, c := range line {
		acc |= c
		v = trans[v&^1|uint32(class[c])]
		if v&1 != 0 {
			pf.record(v>>pf.shift, seen)
		}
	}
	ascii = acc < 0x80
	if !ascii {
		for i, m := range pf.ikMask {
			seen[i] |= m
		}
	}
	return ascii
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
