package match

import (
	"bytes"
	"slices"
)

// Dispatch: the candidates of a line among rules bound to templates.
//
// 1000 rules that differ by an address share their block anchor (the
// literals they have in common), so every line the anchor finds is a
// line of all 1000. The prefilter of all rules would sort them out with
// a pass over the line for every rule's literals; rules bound to a
// template (template.go) are told apart more cheaply: their texts begin
// with the same bytes (" from 198.18."), so each occurrence of that start
// in the line is looked up, by the text that follows it, among the
// rules' texts. The rules found are the only ones whose text the line
// has, a superset of those that match: each is then verified in full.

// minDispatchStart is the shortest common start worth searching for:
// shorter ones stop too often.
const minDispatchStart = 3

// maxDispatchLens bounds the distinct lengths of a template's texts, each
// one lookup per occurrence of the start.
const maxDispatchLens = 8

// maxDispatchTemplates bounds the templates of one anchor, each one
// search of the line.
const maxDispatchTemplates = 8

// dispatch finds the candidates of a line among an anchor's rules.
type dispatch struct {
	tmpls []tmplDispatch
}

// tmplDispatch is one template's part of a dispatch.
type tmplDispatch struct {
	start  []byte             // the start the texts have in common
	search litSearch          // finds start by its rarest bytes
	end    []byte             // the end they have in common
	lens   []int              // the lengths of the texts, ascending
	byText map[string][]int32 // the rules of each text
}

// newDispatch returns the dispatch of the rules, or nil when one of them
// is not bound to a template whose texts are told apart this way: a
// case-sensitive one, whose texts share a start of minDispatchStart
// bytes or more. cost, the byte costs of the log, picks how each start is
// searched for: " from 198.18." begins with a space, the most frequent
// byte of a log line, where bytes.Index stops at every word.
func newDispatch(rules []*rule, idx []int, cost *byteCost) *dispatch {
	d := &dispatch{}
	byTmpl := map[*template]int{}
	for _, i := range idx {
		s := rules[i].sel.split
		if s == nil || s.t.fold || s.t.prefix < minDispatchStart || len(s.lit) < s.t.prefix {
			return nil
		}
		k, ok := byTmpl[s.t]
		if !ok {
			if len(d.tmpls) == maxDispatchTemplates {
				return nil
			}
			k = len(d.tmpls)
			byTmpl[s.t] = k
			d.tmpls = append(d.tmpls, tmplDispatch{start: s.lit[:s.t.prefix], end: s.lit, byText: map[string][]int32{}})
		}
		td := &d.tmpls[k]
		td.end = td.end[len(td.end)-commonSuffix(td.end, s.lit):]
		if !slices.Contains(td.lens, len(s.lit)) {
			if len(td.lens) == maxDispatchLens {
				return nil
			}
			td.lens = append(td.lens, len(s.lit))
		}
		td.byText[string(s.lit)] = append(td.byText[string(s.lit)], int32(i))
	}
	for k := range d.tmpls {
		slices.Sort(d.tmpls[k].lens)
		d.tmpls[k].search = newLitSearch(string(d.tmpls[k].start), cost)
	}
	return d
}

// candidates adds to cand the rules whose text the line has, and marks
// them in dispatched with, in found, where their text first occurs (the
// occurrences of the start are visited in order, and a rule's text
// begins with it).
func (d *dispatch) candidates(line []byte, cand, dispatched []uint64, found []int32) {
	for k := range d.tmpls {
		td := &d.tmpls[k]
		for from := 0; ; {
			q := td.search.index(line, from)
			if q == none {
				break
			}
			for _, n := range td.lens {
				if q+n > len(line) {
					break
				}
				if !bytes.HasSuffix(line[:q+n], td.end) {
					continue // cheaper than looking the text up
				}
				for _, r := range td.byText[string(line[q:q+n])] {
					cand[r/64] |= 1 << (r % 64)
					if dispatched[r/64]&(1<<(r%64)) == 0 {
						dispatched[r/64] |= 1 << (r % 64)
						found[r] = int32(q)
					}
				}
			}
			from = q + 1
		}
	}
}

// commonSuffix returns the length of the end a and b have in common.
func commonSuffix(a, b []byte) int {
	n := 0
	for n < len(a) && n < len(b) && a[len(a)-1-n] == b[len(b)-1-n] {
		n++
	}
	return n
}
