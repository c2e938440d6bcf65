package match

import (
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/dlclark/regexp2"
)

// Character sets are compared over a sample alphabet: all of ASCII, which
// is exact for the RE2 translation used on ASCII lines, plus a few dozen
// non-ASCII runes chosen to tell Unicode classes apart (letters of several
// scripts and cases, digits, marks, connector punctuation, every kind of
// space, the runes whose case folding differs between regexp2 and RE2).
// Every class computed over all runes is checked against regexp2 on the
// sample, and Lint uses it to decide whether two classes overlap.
const sampleExtra = "\u0080\u0085\u00a0\u00aa\u00b2\u00b5\u00ba\u00c0\u00c9\u00d7\u00df\u00e9\u00f7\u00ff" +
	"\u0130\u0131\u017f\u01c5\u02b0\u0300\u0391\u03a3\u03b1\u03c2\u0410\u0430\u05d0\u0627" +
	"\u0660\u0903\u0966\u1680\u2000\u2003\u200a\u200b\u200c\u200d\u2028\u2029\u202f\u203f" +
	"\u205f\u2126\u2160\u212a\u3000\u3042\u4e2d\ue000\ufb01\ufe33\uff10\uff21\ufffd" +
	"\U00010400\U0001d7ce\U0001f600\U0010ffff"

// runeSet is a set over the sample alphabet: bits 0-127 are ASCII, bit
// 128+j is the j-th rune of sampleExtra.
type runeSet [4]uint64

func (s *runeSet) add(i int)     { s[i>>6] |= 1 << (i & 63) }
func (s runeSet) has(i int) bool { return s[i>>6]&(1<<(i&63)) != 0 }
func (s runeSet) and(t runeSet) (u runeSet) {
	for i := range s {
		u[i] = s[i] & t[i]
	}
	return u
}
func (s runeSet) or(t runeSet) (u runeSet) {
	for i := range s {
		u[i] = s[i] | t[i]
	}
	return u
}
func (s runeSet) empty() bool { return s[0]|s[1]|s[2]|s[3] == 0 }

// overlaps reports whether the sets share a sample rune.
func (s runeSet) overlaps(t runeSet) bool { return !s.and(t).empty() }

// sampleRunes calls f with the index and rune of every sample rune.
func sampleRunes(f func(i int, r rune)) {
	for r := rune(0); r < utf8.RuneSelf; r++ {
		f(int(r), r)
	}
	i := utf8.RuneSelf
	for _, r := range sampleExtra {
		f(i, r)
		i++
	}
}

// fullSet returns the set of every sample rune.
func fullSet() runeSet {
	var s runeSet
	sampleRunes(func(i int, _ rune) { s.add(i) })
	return s
}

// charSet returns the sample runes that a literal character matches:
// itself, or under case folding every rune r with ToLower(r) == lc (regexp2
// lowers the pattern when parsing and the input when matching).
func charSet(lc rune, fold bool) runeSet {
	var s runeSet
	sampleRunes(func(i int, r rune) {
		if r == lc || fold && unicode.ToLower(r) == lc {
			s.add(i)
		}
	})
	return s
}

// dotSet returns the sample runes '.' matches.
func dotSet(dotAll bool) runeSet {
	s := fullSet()
	if !dotAll {
		s[0] &^= 1 << '\n'
	}
	return s
}

// nonASCIILower lists the runes outside ASCII whose lower case is ASCII
// (the only ones regexp2's case folding maps into ASCII): U+0130 'İ' → 'i'
// and U+212A 'K' (Kelvin) → 'k'. A test checks the list against the
// Unicode tables.
const nonASCIILower = "\u0130\u212a"

// oracle computes what a class atom matches by asking regexp2 itself, one
// sample rune at a time, so that \w, \s, \d, \p{..}, .NET subtraction,
// [:name:] and case folding mean exactly what they mean to regexp2.
type oracle struct {
	cache map[string]runeSet
	// rendered holds the RE2 text of characters and classes (translate).
	rendered map[renderKey]rendering
}

func newOracle() *oracle {
	return &oracle{cache: map[string]runeSet{}, rendered: map[renderKey]rendering{}}
}

// set returns the sample runes the class matches. ok is false when the
// class does not compile on its own, which does not happen for a class
// taken from a pattern regexp2 accepted.
func (o *oracle) set(c *class) (runeSet, bool) {
	key := "\x00" + c.text
	if c.fold {
		key = "\x01" + c.text
	}
	if s, ok := o.cache[key]; ok {
		return s, true
	}
	pat := `\A(?:` + c.text + `)\z`
	if c.fold {
		pat = `\A(?i:` + c.text + `)\z`
	}
	re, err := regexp2.Compile(pat, regexp2.None)
	if err != nil {
		return runeSet{}, false
	}
	var s runeSet
	sampleRunes(func(i int, r rune) {
		if ok, err := re.MatchString(string(r)); ok && err == nil {
			s.add(i)
		}
	})
	o.cache[key] = s
	return s, true
}

// sampleIndex returns the sample index of r, or -1.
func sampleIndex(r rune) int {
	if r < utf8.RuneSelf {
		return int(r)
	}
	i := utf8.RuneSelf
	for _, x := range sampleExtra {
		if x == r {
			return i
		}
		i++
	}
	return -1
}

// asciiRanges returns the ASCII part of s as lo, hi pairs.
func asciiRanges(s runeSet) []rune {
	var rs []rune
	for r := 0; r < utf8.RuneSelf; r++ {
		if !s.has(r) {
			continue
		}
		if n := len(rs); n > 0 && rs[n-1] == rune(r-1) {
			rs[n-1] = rune(r)
		} else {
			rs = append(rs, rune(r), rune(r))
		}
	}
	return rs
}

// normRanges sorts and merges lo, hi pairs.
func normRanges(rs []rune) []rune {
	type pair struct{ lo, hi rune }
	ps := make([]pair, 0, len(rs)/2)
	for i := 0; i+1 < len(rs); i += 2 {
		ps = append(ps, pair{rs[i], rs[i+1]})
	}
	sort.Slice(ps, func(i, j int) bool { return ps[i].lo < ps[j].lo })
	var out []rune
	for _, p := range ps {
		if n := len(out); n > 0 && p.lo <= out[n-1]+1 {
			out[n-1] = max(out[n-1], p.hi)
			continue
		}
		out = append(out, p.lo, p.hi)
	}
	return out
}

// negRanges returns the complement of normalised ranges in 0..MaxRune.
func negRanges(rs []rune) []rune {
	var out []rune
	next := rune(0)
	for i := 0; i+1 < len(rs); i += 2 {
		if rs[i] > next {
			out = append(out, next, rs[i]-1)
		}
		next = rs[i+1] + 1
	}
	if next <= unicode.MaxRune {
		out = append(out, next, unicode.MaxRune)
	}
	return out
}

func inRanges(rs []rune, r rune) bool {
	for i := 0; i+1 < len(rs); i += 2 {
		if rs[i] <= r && r <= rs[i+1] {
			return true
		}
	}
	return false
}

// exactClass returns the members of a class over all runes, when they can
// be known exactly: a class without case folding that the model follows,
// or a class of ASCII characters and ranges with folding (which then
// reaches outside ASCII only through U+0130 and U+212A, decided by the
// oracle). sample is the oracle's answer over the sample alphabet, which
// the result must agree with.
func exactClass(c *class, sample runeSet) ([]rune, bool) {
	var rs []rune
	switch {
	case !c.fold && c.modeled:
		rs = c.members()
	case c.fold && c.simple():
		for _, r := range c.ranges {
			if r >= utf8.RuneSelf {
				return nil, false
			}
		}
		rs = asciiRanges(sample)
		var special []rune
		for _, r := range nonASCIILower {
			if sample.has(sampleIndex(r)) {
				special = append(special, r, r)
			}
		}
		if c.neg {
			// Every other rune outside ASCII lowers to itself, outside
			// the class, so a negated class has it.
			rest := negRanges(normRanges([]rune{0, utf8.RuneSelf - 1, 0x130, 0x130, 0x212a, 0x212a}))
			special = append(special, rest...)
		}
		rs = normRanges(append(rs, special...))
	default:
		return nil, false
	}
	ok := true
	sampleRunes(func(i int, r rune) {
		if inRanges(rs, r) != sample.has(i) {
			ok = false
		}
	})
	return rs, ok
}

// members computes a modelled class over all runes, as regexp2's CharIn
// decides membership: a rune is in the class when it is in a range, or in
// a category before the first negated one, or outside that negated one
// (CharIn stops there); then the class's negation, then its subtraction.
func (c *class) members() []rune {
	var rs []rune
	if c.anything {
		rs = []rune{0, unicode.MaxRune}
	} else {
		rs = append(rs, c.ranges...)
		for _, ct := range c.cats {
			t := categoryRanges(ct.name)
			if ct.neg {
				rs = append(rs, negRanges(t)...)
				break
			}
			rs = append(rs, t...)
		}
	}
	rs = normRanges(rs)
	if c.neg {
		rs = negRanges(rs)
	}
	if c.sub != nil {
		rs = intersectRanges(rs, negRanges(c.sub.members()))
	}
	return rs
}

// categoryRanges returns a category of a class as normalised ranges.
func categoryRanges(name string) []rune {
	switch name {
	case " ": // unicode.IsSpace
		return normRanges(append([]rune{'\t', '\r', ' ', ' ', 0x85, 0x85, 0xa0, 0xa0},
			tableRanges(unicode.White_Space)...))
	case "W": // regexp2's IsWordChar
		var rs []rune
		for _, t := range []*unicode.RangeTable{unicode.L, unicode.Mn, unicode.Nd, unicode.Pc} {
			rs = append(rs, tableRanges(t)...)
		}
		return normRanges(append(rs, 0x200c, 0x200d))
	}
	// regexp2 merges scripts, then categories, then properties, the later
	// replacing the earlier.
	if t, ok := unicode.Properties[name]; ok {
		return tableRanges(t)
	}
	if t, ok := unicode.Categories[name]; ok {
		return tableRanges(t)
	}
	if t, ok := unicode.Scripts[name]; ok {
		return tableRanges(t)
	}
	return nil
}

// tableRanges returns the runes of a Unicode table as normalised ranges.
func tableRanges(t *unicode.RangeTable) []rune {
	var rs []rune
	for _, r := range t.R16 {
		if r.Stride == 1 {
			rs = append(rs, rune(r.Lo), rune(r.Hi))
			continue
		}
		for c := rune(r.Lo); c <= rune(r.Hi); c += rune(r.Stride) {
			rs = append(rs, c, c)
		}
	}
	for _, r := range t.R32 {
		if r.Stride == 1 {
			rs = append(rs, rune(r.Lo), rune(r.Hi))
			continue
		}
		for c := rune(r.Lo); c <= rune(r.Hi); c += rune(r.Stride) {
			rs = append(rs, c, c)
		}
	}
	return normRanges(rs)
}

// intersectRanges intersects normalised ranges.
func intersectRanges(a, b []rune) []rune {
	var out []rune
	i, j := 0, 0
	for i+1 < len(a) && j+1 < len(b) {
		lo, hi := max(a[i], b[j]), min(a[i+1], b[j+1])
		if lo <= hi {
			out = append(out, lo, hi)
		}
		if a[i+1] < b[j+1] {
			i += 2
		} else {
			j += 2
		}
	}
	return out
}

// exactChar returns the runes a literal character matches over all runes,
// when known: the rune itself, or under folding of an ASCII rune its upper
// and lower case plus the non-ASCII runes that lower to it.
func exactChar(lc rune, fold bool) ([]rune, bool) {
	if !fold {
		return []rune{lc, lc}, true
	}
	if lc >= utf8.RuneSelf {
		return nil, false
	}
	var rs []rune
	for r := rune(0); r < utf8.RuneSelf; r++ {
		if unicode.ToLower(r) == lc {
			rs = append(rs, r, r)
		}
	}
	for _, r := range nonASCIILower {
		if unicode.ToLower(r) == lc {
			rs = append(rs, r, r)
		}
	}
	return normRanges(rs), true
}

// writeClass writes ranges as an RE2 character class.
func writeClass(b *strings.Builder, rs []rune) {
	if len(rs) == 0 {
		b.WriteString(`[^\x00-\x{10FFFF}]`)
		return
	}
	if len(rs) == 2 && rs[0] == rs[1] {
		writeRune(b, rs[0])
		return
	}
	b.WriteByte('[')
	for i := 0; i+1 < len(rs); i += 2 {
		writeClassRune(b, rs[i])
		if rs[i+1] != rs[i] {
			b.WriteByte('-')
			writeClassRune(b, rs[i+1])
		}
	}
	b.WriteByte(']')
}

func isPlain(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == ' ' || r == '_'
}

// writeRune writes r as an RE2 literal.
func writeRune(b *strings.Builder, r rune) {
	if isPlain(r) {
		b.WriteRune(r)
		return
	}
	var buf [16]byte
	b.WriteString(`\x{`)
	b.Write(strconv.AppendUint(buf[:0], uint64(r), 16))
	b.WriteByte('}')
}

func writeClassRune(b *strings.Builder, r rune) {
	if isPlain(r) && r != ' ' {
		b.WriteRune(r)
		return
	}
	var buf [16]byte
	b.WriteString(`\x{`)
	b.Write(strconv.AppendUint(buf[:0], uint64(r), 16))
	b.WriteByte('}')
}
