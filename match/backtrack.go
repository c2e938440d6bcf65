package match

import (
	"bytes"
	"fmt"
	"regexp"
	"regexp/syntax"
	"unicode/utf8"
)

// This file finds the first group of an RE2 pattern without allocating:
// Go's regexp returns submatch positions only in a new slice. It is Go's
// own bounded backtracker (regexp/backtrack.go, BSD licence), run on the
// program regexp/syntax compiles for the same pattern, with its state kept
// in the Matcher. Leftmost-first semantics, a visited bit per (instruction,
// position) so the time is linear; lines too long for the bit vector go to
// regexp.FindSubmatchIndex instead.

const (
	maxBacktrackProg   = 500        // instructions
	maxBacktrackVector = 256 * 1024 // visited bits
)

// re2Prog is an RE2 pattern whose group 1 is wanted.
type re2Prog struct {
	re       *regexp.Regexp // the same pattern, for long lines
	prog     *syntax.Prog
	prefix   []byte // literal every match starts with
	anchored bool
	maxLen   int // longest line for the backtracker
}

func compileRE2Prog(pat string) (*re2Prog, error) {
	re, err := regexp.Compile(pat)
	if err != nil {
		return nil, fmt.Errorf("compile re2: %w", err)
	}
	sre, err := syntax.Parse(pat, syntax.Perl)
	if err != nil {
		return nil, fmt.Errorf("parse re2: %w", err)
	}
	prog, err := syntax.Compile(sre.Simplify())
	if err != nil {
		return nil, fmt.Errorf("compile re2: %w", err)
	}
	p := &re2Prog{re: re, prog: prog}
	if prog.StartCond()&syntax.EmptyBeginText != 0 {
		p.anchored = true
	} else if prefix, _ := prog.Prefix(); prefix != "" {
		p.prefix = []byte(prefix)
	}
	if len(prog.Inst) <= maxBacktrackProg {
		p.maxLen = maxBacktrackVector/len(prog.Inst) - 1
	}
	return p, nil
}

type btJob struct {
	pc  uint32
	arg bool
	pos int
}

// backtracker is the reusable state of group searches.
type backtracker struct {
	end      int
	cap      [4]int // positions of group 0 and group 1
	matchcap [4]int
	jobs     []btJob
	visited  []uint32
}

// group1 returns the bounds of group 1 of the leftmost-first match of p in
// line. found is false when there is no match or group 1 did not take
// part.
func (b *backtracker) group1(p *re2Prog, line []byte) (lo, hi int, found bool) {
	if len(line) > p.maxLen {
		loc := p.re.FindSubmatchIndex(line)
		if len(loc) < 4 || loc[2] < 0 {
			return 0, 0, false
		}
		return loc[2], loc[3], true
	}
	b.reset(p.prog, len(line))
	if p.anchored {
		b.cap[0] = 0
		if !b.try(p.prog, line, uint32(p.prog.Start), 0) {
			return 0, 0, false
		}
	} else {
		matched := false
		for pos, width := 0, -1; pos <= len(line) && width != 0; pos += width {
			if len(p.prefix) > 0 {
				adv := bytes.Index(line[pos:], p.prefix)
				if adv < 0 {
					return 0, 0, false
				}
				pos += adv
			}
			b.cap[0] = pos
			if b.try(p.prog, line, uint32(p.prog.Start), pos) {
				matched = true
				break
			}
			_, width = step(line, pos)
		}
		if !matched {
			return 0, 0, false
		}
	}
	if b.matchcap[2] < 0 || b.matchcap[3] < 0 {
		return 0, 0, false
	}
	return b.matchcap[2], b.matchcap[3], true
}

func (b *backtracker) reset(prog *syntax.Prog, end int) {
	b.end = end
	b.jobs = b.jobs[:0]
	n := (len(prog.Inst)*(end+1) + 31) / 32
	if cap(b.visited) < n {
		b.visited = make([]uint32, n)
	} else {
		b.visited = b.visited[:n]
		clear(b.visited)
	}
	b.cap = [4]int{-1, -1, -1, -1}
	b.matchcap = [4]int{-1, -1, -1, -1}
}

func (b *backtracker) shouldVisit(pc uint32, pos int) bool {
	n := uint(int(pc)*(b.end+1) + pos)
	if b.visited[n/32]&(1<<(n&31)) != 0 {
		return false
	}
	b.visited[n/32] |= 1 << (n & 31)
	return true
}

func (b *backtracker) push(prog *syntax.Prog, pc uint32, pos int, arg bool) {
	if prog.Inst[pc].Op != syntax.InstFail && (arg || b.shouldVisit(pc, pos)) {
		b.jobs = append(b.jobs, btJob{pc: pc, arg: arg, pos: pos})
	}
}

const endOfText rune = -1

func step(line []byte, pos int) (rune, int) {
	if pos < len(line) {
		if c := line[pos]; c < utf8.RuneSelf {
			return rune(c), 1
		}
		return utf8.DecodeRune(line[pos:])
	}
	return endOfText, 0
}

func emptyContext(line []byte, pos int) syntax.EmptyOp {
	r1, r2 := endOfText, endOfText
	if uint(pos-1) < uint(len(line)) {
		r1, _ = utf8.DecodeLastRune(line[:pos])
	}
	if uint(pos) < uint(len(line)) {
		r2, _ = utf8.DecodeRune(line[pos:])
	}
	return syntax.EmptyOpContext(r1, r2)
}

// try runs a backtracking search from pos (leftmost-first: the first match
// found is the one).
func (b *backtracker) try(prog *syntax.Prog, line []byte, pc uint32, pos int) bool {
	b.push(prog, pc, pos, false)
	for len(b.jobs) > 0 {
		l := len(b.jobs) - 1
		pc := b.jobs[l].pc
		pos := b.jobs[l].pos
		arg := b.jobs[l].arg
		b.jobs = b.jobs[:l]
		goto Skip
	CheckAndLoop:
		if !b.shouldVisit(pc, pos) {
			continue
		}
	Skip:
		inst := &prog.Inst[pc]
		switch inst.Op {
		default:
			return false
		case syntax.InstAlt:
			if arg {
				arg = false
				pc = inst.Arg
				goto CheckAndLoop
			}
			b.push(prog, pc, pos, true)
			pc = inst.Out
			goto CheckAndLoop
		case syntax.InstAltMatch:
			switch prog.Inst[inst.Out].Op {
			case syntax.InstRune, syntax.InstRune1, syntax.InstRuneAny, syntax.InstRuneAnyNotNL:
				b.push(prog, inst.Arg, pos, false)
				pc = inst.Arg
				pos = b.end
				goto CheckAndLoop
			}
			b.push(prog, inst.Out, b.end, false)
			pc = inst.Out
			goto CheckAndLoop
		case syntax.InstRune:
			r, w := step(line, pos)
			if !inst.MatchRune(r) {
				continue
			}
			pos += w
			pc = inst.Out
			goto CheckAndLoop
		case syntax.InstRune1:
			r, w := step(line, pos)
			if r != inst.Rune[0] {
				continue
			}
			pos += w
			pc = inst.Out
			goto CheckAndLoop
		case syntax.InstRuneAnyNotNL:
			r, w := step(line, pos)
			if r == '\n' || r == endOfText {
				continue
			}
			pos += w
			pc = inst.Out
			goto CheckAndLoop
		case syntax.InstRuneAny:
			r, w := step(line, pos)
			if r == endOfText {
				continue
			}
			pos += w
			pc = inst.Out
			goto CheckAndLoop
		case syntax.InstCapture:
			if arg {
				b.cap[inst.Arg] = pos
				continue
			}
			if inst.Arg < uint32(len(b.cap)) {
				b.push(prog, pc, b.cap[inst.Arg], true)
				b.cap[inst.Arg] = pos
			}
			pc = inst.Out
			goto CheckAndLoop
		case syntax.InstEmptyWidth:
			if syntax.EmptyOp(inst.Arg)&^emptyContext(line, pos) != 0 {
				continue
			}
			pc = inst.Out
			goto CheckAndLoop
		case syntax.InstNop:
			pc = inst.Out
			goto CheckAndLoop
		case syntax.InstMatch:
			b.cap[1] = pos
			b.matchcap = b.cap
			return true
		}
	}
	return false
}
