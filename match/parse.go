package match

import (
	"errors"
	"fmt"
	"unicode"

	"github.com/dlclark/regexp2/syntax"
)

// This file parses a pattern the way regexp2 (the .NET dialect) does, into
// a small tree that the rest of the package analyses: trimming of the outer
// `.*`, required literals, translation to RE2, and Lint. The parser follows
// regexp2's scanner (syntax/parser.go) step by step so that positions,
// options, quantifiers, escapes and classes are read exactly as regexp2
// reads them. It is only ever run on patterns that regexp2 has accepted.
//
// Constructs whose meaning the rest of the package does not model are still
// parsed, as nodes the translator refuses (lookaround, atomic groups,
// backreferences, conditionals). The few that the parser cannot delimit
// without regexp2's full capture bookkeeping (balancing groups,
// multi-digit backreferences, which may be octal escapes depending on
// which groups exist) make the parse fail with an *unsupported error;
// such a pattern simply runs on regexp2 as written.

// errUnsupported reports a construct the parser does not model; every
// *unsupported error is one.
var errUnsupported = errors.New("construct not modelled")

// whatMultiDigitRef names a backreference such as \10 in errors.
const whatMultiDigitRef = "multi-digit backreference"

// unsupported says which construct the parser refused, and where.
type unsupported struct {
	what string
	pos  int
}

func (e *unsupported) Error() string {
	return fmt.Sprintf("parse pattern: %s at %d: %v", e.what, e.pos, errUnsupported)
}

func (e *unsupported) Is(target error) bool { return target == errUnsupported }

// nodeKind is the kind of a parse-tree node.
type nodeKind uint8

const (
	kEmpty           nodeKind = iota // matches the empty string
	kChar                            // one rune; lowered when fold
	kClass                           // [...] or a class escape such as \d
	kDot                             // .
	kBegin                           // ^ \A \G (lines contain no '\n')
	kEnd                             // $ \z \Z (lines contain no '\n')
	kWordBoundary                    // \b
	kNotWordBoundary                 // \B
	kBackref                         // \1 \k<name>
	kConcat                          // subs in sequence
	kAlt                             // subs as alternatives
	kRepeat                          // subs[0]{min,max}
	kGroup                           // (?:...), or (...) under (?n)
	kCapture                         // (...) or (?<name>...)
	kLook                            // (?=...) (?!...) (?<=...) (?<!...)
	kAtomic                          // (?>...)
	kCond                            // (?(cond)yes|no): subs are cond and body
)

// node is one node of the parse tree.
type node struct {
	kind nodeKind
	r    rune   // kChar
	fold bool   // kChar, kClass: case-insensitive (the rune is lowered)
	cls  *class // kClass
	// dotAll is set on kDot under (?s).
	dotAll bool
	subs   []*node
	// min and max bound a kRepeat; max < 0 means unbounded.
	min, max int
	lazy     bool
	// name is a kCapture's name, "" for an unnamed group.
	name string
	// numbered marks a kCapture whose number is explicit, (?<3>...).
	numbered bool
	// neg and behind describe a kLook.
	neg, behind bool
	// start and end delimit the node in the pattern's runes, with its
	// quantifier.
	start, end int
}

// class is a character class atom: a bracket expression or an escape such
// as \d or \p{L}. Besides its text, it is modelled as regexp2's CharSet
// builds it (syntax/charclass.go), so that its members can be computed
// over all runes: explicit ranges, Unicode categories in the order they
// were added, negation and a subtracted class.
type class struct {
	text string // as written, e.g. `[a-z]` or `\d`
	fold bool
	// modeled is false when the class has a part the model does not
	// follow ([:name:], which regexp2 skips in its own way).
	modeled  bool
	neg      bool
	ranges   []rune // lo, hi pairs
	cats     []catRef
	anything bool // a category and its negation: every rune
	sub      *class
}

// catRef is a category of a class: a name of Go's unicode tables, or " "
// for \s (unicode.IsSpace) and "W" for \w (regexp2's IsWordChar).
type catRef struct {
	name string
	neg  bool
}

// simple reports whether the class is a list of characters and ranges.
func (c *class) simple() bool {
	return c.modeled && len(c.cats) == 0 && !c.anything && c.sub == nil
}

// addCats adds categories as regexp2's addCategories: duplicates are
// dropped, and a category with its negation makes the class match every
// rune.
func (c *class) addCats(cats ...catRef) {
	for _, ct := range cats {
		if c.anything {
			return
		}
		found := false
		for _, have := range c.cats {
			if have.name == ct.name {
				if have.neg != ct.neg {
					c.anything, c.cats = true, nil
					return
				}
				found = true
				break
			}
		}
		if !found {
			c.cats = append(c.cats, ct)
		}
	}
}

// addProperty adds \p{name} (or \P with neg) as regexp2's addCategory.
func (c *class) addProperty(name string, neg, fold bool) {
	if fold && (name == "Ll" || name == "Lu" || name == "Lt") {
		c.addCats(catRef{"Ll", neg}, catRef{"Lu", neg}, catRef{"Lt", neg})
	}
	c.addCats(catRef{name, neg})
}

// parse options, a subset of regexp2's RegexOptions.
const (
	optI = 1 << iota // IgnoreCase
	optM             // Multiline
	optN             // ExplicitCapture
	optS             // Singleline
	optX             // IgnorePatternWhitespace
)

type parser struct {
	pat  []rune
	pos  int
	opts int
}

// parsePattern parses a pattern that regexp2 accepts. It never panics: a
// construct it does not model, or a bug, makes it return an error and the
// pattern then runs on regexp2 as written.
func parsePattern(pattern string) (n *node, err error) {
	defer func() {
		if r := recover(); r != nil {
			n, err = nil, &unsupported{what: fmt.Sprint("parser failure: ", r)}
		}
	}()
	return parseStrict(pattern)
}

// parseStrict is parsePattern without the recover, for tests.
func parseStrict(pattern string) (*node, error) {
	p := &parser{pat: []rune(pattern)}
	n, err := p.parseAlt(0)
	if err != nil {
		return nil, err
	}
	if p.pos != len(p.pat) {
		return nil, &unsupported{what: fmt.Sprintf("unexpected %q", p.pat[p.pos]), pos: p.pos}
	}
	return n, nil
}

func (p *parser) more() bool      { return p.pos < len(p.pat) }
func (p *parser) left() int       { return len(p.pat) - p.pos }
func (p *parser) peek(i int) rune { return p.pat[p.pos+i] }

func (p *parser) fail(what string) error {
	return &unsupported{what: what, pos: p.pos}
}

// parseAlt parses alternatives up to a ')' (not consumed) or the end.
func (p *parser) parseAlt(depth int) (*node, error) {
	if depth > 1000 {
		return nil, p.fail("nesting too deep")
	}
	start := p.pos
	alt := &node{kind: kAlt, start: start}
	cat := &node{kind: kConcat, start: start}
	for {
		if err := p.skipBlank(); err != nil {
			return nil, err
		}
		if !p.more() || p.peek(0) == ')' {
			break
		}
		if p.peek(0) == '|' {
			cat.end = p.pos
			alt.subs = append(alt.subs, cat)
			p.pos++
			cat = &node{kind: kConcat, start: p.pos}
			continue
		}
		atomStart := p.pos
		atom, err := p.parseAtom(depth)
		if err != nil {
			return nil, err
		}
		if atom == nil { // (?imnsx) changed options
			continue
		}
		atom.start = atomStart
		atom.end = p.pos
		if err := p.skipBlank(); err != nil {
			return nil, err
		}
		if p.more() && p.isTrueQuantifier() {
			if atom, err = p.parseQuantifier(atom); err != nil {
				return nil, err
			}
			atom.start = atomStart
			atom.end = p.pos
		}
		cat.subs = append(cat.subs, atom)
	}
	cat.end = p.pos
	alt.subs = append(alt.subs, cat)
	alt.end = p.pos
	return alt, nil
}

// parseQuantifier parses the quantifier at p.pos (isTrueQuantifier holds)
// and wraps atom in it.
func (p *parser) parseQuantifier(atom *node) (*node, error) {
	ch := p.peek(0)
	p.pos++
	var lo, hi int
	switch ch {
	case '*':
		lo, hi = 0, -1
	case '+':
		lo, hi = 1, -1
	case '?':
		lo, hi = 0, 1
	case '{':
		var err error
		if lo, err = p.scanDecimal(); err != nil {
			return nil, err
		}
		hi = lo
		if p.more() && p.peek(0) == ',' {
			p.pos++
			if !p.more() || p.peek(0) == '}' {
				hi = -1
			} else if hi, err = p.scanDecimal(); err != nil {
				return nil, err
			}
		}
		if !p.more() || p.peek(0) != '}' {
			return nil, p.fail("bad quantifier")
		}
		p.pos++
	default:
		return nil, p.fail("bad quantifier")
	}
	if err := p.skipBlank(); err != nil {
		return nil, err
	}
	lazy := false
	if p.more() && p.peek(0) == '?' {
		p.pos++
		lazy = true
	}
	if hi >= 0 && lo > hi {
		return nil, p.fail("bad repeat size")
	}
	return &node{kind: kRepeat, subs: []*node{atom}, min: lo, max: hi, lazy: lazy}, nil
}

// parseAtom parses one atom at p.pos. It returns nil for an option
// setting such as (?i), which changes p.opts for the rest of the group.
func (p *parser) parseAtom(depth int) (*node, error) {
	ch := p.peek(0)
	if p.isOrdinary(ch) {
		p.pos++
		return p.char(ch), nil
	}
	switch ch {
	case '[':
		p.pos++
		c, err := p.parseClass()
		if err != nil {
			return nil, err
		}
		c.fold = p.opts&optI != 0
		return &node{kind: kClass, cls: c, fold: c.fold}, nil
	case '(':
		p.pos++
		return p.parseGroup(depth)
	case '\\':
		p.pos++
		return p.parseBackslash()
	case '^':
		p.pos++
		return &node{kind: kBegin}, nil
	case '$':
		p.pos++
		return &node{kind: kEnd}, nil
	case '.':
		p.pos++
		return &node{kind: kDot, dotAll: p.opts&optS != 0}, nil
	}
	return nil, p.fail(fmt.Sprintf("unexpected %q", ch))
}

// char returns a literal character node under the current options.
func (p *parser) char(ch rune) *node {
	if p.opts&optI != 0 {
		return &node{kind: kChar, r: unicode.ToLower(ch), fold: true}
	}
	return &node{kind: kChar, r: ch}
}

// isOrdinary reports whether ch at p.pos is a literal character, as
// regexp2's scanner decides (isSpecial / isStopperX, and '{' that does not
// start a quantifier).
func (p *parser) isOrdinary(ch rune) bool {
	if ch == '{' {
		return !p.isTrueQuantifier()
	}
	if p.opts&optX != 0 {
		return !isStopperX(ch)
	}
	return !isSpecial(ch)
}

// regexp2's ASCII categories (syntax/parser.go: _category).
const (
	catQ = 5 // quantifier
	catS = 4 // ordinary stopper
	catZ = 3 // ScanBlank stopper
	catX = 2 // whitespace
)

func category(ch rune) int {
	switch ch {
	case '*', '+', '?', '{':
		return catQ
	case '$', '(', ')', '.', '[', '\\', '^', '|':
		return catS
	case '#':
		return catZ
	case '\t', '\n', '\v', '\f', '\r', ' ':
		return catX
	}
	return 0
}

func isSpecial(ch rune) bool  { return ch <= '|' && category(ch) >= catS }
func isStopperX(ch rune) bool { return ch <= '|' && category(ch) >= catX }
func isBlank(ch rune) bool    { return ch <= ' ' && category(ch) == catX }

// isTrueQuantifier mirrors regexp2: '*', '+', '?', or '{' followed by
// digits and '}' or ',' digits* '}'.
func (p *parser) isTrueQuantifier() bool {
	n := p.left()
	if n == 0 {
		return false
	}
	start := p.pos
	ch := p.pat[start]
	if ch != '{' {
		return ch <= '{' && category(ch) >= catQ
	}
	pos := start
	// digits advances over a run of digits, leaving ch at the first
	// character after it (or the last one, when n runs out).
	digits := func() {
		for {
			n--
			if n <= 0 {
				return
			}
			pos++
			ch = p.pat[pos]
			if ch < '0' || ch > '9' {
				return
			}
		}
	}
	digits()
	if n == 0 || pos-start == 1 {
		return false
	}
	if ch == '}' {
		return true
	}
	if ch != ',' {
		return false
	}
	digits()
	return n > 0 && ch == '}'
}

// skipBlank skips (?#...) comments and, under (?x), whitespace and #
// comments, as regexp2's scanBlank.
func (p *parser) skipBlank() error {
	for {
		if p.opts&optX != 0 {
			for p.more() && isBlank(p.peek(0)) {
				p.pos++
			}
			if !p.more() {
				return nil
			}
			if p.peek(0) == '#' {
				for p.more() && p.peek(0) != '\n' {
					p.pos++
				}
				continue
			}
		}
		if p.left() >= 3 && p.peek(0) == '(' && p.peek(1) == '?' && p.peek(2) == '#' {
			for p.more() && p.peek(0) != ')' {
				p.pos++
			}
			if !p.more() {
				return p.fail("unterminated comment")
			}
			p.pos++
			continue
		}
		return nil
	}
}

func (p *parser) scanDecimal() (int, error) {
	i := 0
	for p.more() {
		d := p.peek(0) - '0'
		if d < 0 || d > 9 {
			break
		}
		p.pos++
		if i > (1<<31-1)/10 {
			return 0, p.fail("number too large")
		}
		i = i*10 + int(d)
		if i > 1<<31-1 {
			return 0, p.fail("number too large")
		}
	}
	return i, nil
}

func (p *parser) scanCapname() string {
	start := p.pos
	for p.more() && syntax.IsWordChar(p.peek(0)) {
		p.pos++
	}
	return string(p.pat[start:p.pos])
}

// parseGroup parses what follows a '(' up to and including its ')'.
func (p *parser) parseGroup(depth int) (*node, error) {
	saved := p.opts
	g, err := p.groupOpen()
	if err != nil {
		return nil, err
	}
	if g == nil { // (?imnsx-imnsx): options persist to the end of the group
		return nil, nil
	}
	if g.kind == kCond {
		if !p.more() || p.peek(0) != '(' {
			return nil, p.fail("bad conditional")
		}
		p.pos++
		start := p.pos - 1
		cond, err := p.parseGroup(depth + 1)
		if err != nil {
			return nil, err
		}
		if cond == nil {
			return nil, p.fail("bad conditional")
		}
		cond.start, cond.end = start, p.pos
		if cond.kind == kCapture {
			cond.kind = kGroup
		}
		g.subs = append(g.subs, cond)
	}
	body, err := p.parseAlt(depth + 1)
	if err != nil {
		return nil, err
	}
	if !p.more() || p.peek(0) != ')' {
		return nil, p.fail("missing )")
	}
	p.pos++
	p.opts = saved
	g.subs = append(g.subs, body)
	return g, nil
}

// groupOpen reads the group's kind after '(' and sets the options for its
// body. It returns nil for an option setting without a body.
func (p *parser) groupOpen() (*node, error) {
	if !p.more() || p.peek(0) != '?' || (p.left() > 1 && p.peek(1) == ')') {
		if p.opts&optN != 0 {
			return &node{kind: kGroup}, nil
		}
		return &node{kind: kCapture}, nil
	}
	p.pos++ // '?'
	if !p.more() {
		return nil, p.fail("bad group")
	}
	ch := p.peek(0)
	p.pos++
	switch ch {
	case ':':
		return &node{kind: kGroup}, nil
	case '=':
		return &node{kind: kLook}, nil
	case '!':
		return &node{kind: kLook, neg: true}, nil
	case '>':
		return &node{kind: kAtomic}, nil
	case '<', '\'':
		close := '>'
		if ch == '\'' {
			close = '\''
		}
		if !p.more() {
			return nil, p.fail("bad group")
		}
		if c := p.peek(0); close == '>' && (c == '=' || c == '!') {
			p.pos++
			return &node{kind: kLook, behind: true, neg: c == '!'}, nil
		}
		c := p.peek(0)
		switch {
		case c >= '0' && c <= '9':
			if _, err := p.scanDecimal(); err != nil {
				return nil, err
			}
			if !p.more() || p.peek(0) != close {
				return nil, p.fail("balancing group")
			}
			p.pos++
			return &node{kind: kCapture, numbered: true}, nil
		case syntax.IsWordChar(c):
			name := p.scanCapname()
			if !p.more() || p.peek(0) != close {
				return nil, p.fail("balancing group")
			}
			p.pos++
			return &node{kind: kCapture, name: name}, nil
		}
		return nil, p.fail("balancing group")
	case '(':
		// A conditional. Its condition, (name), (1) or (?=...), has the
		// extent of a group; regexp2 never captures it.
		p.pos--
		return &node{kind: kCond}, nil
	}
	// (?imnsx-imnsx) or (?imnsx-imnsx:...)
	p.pos--
	p.scanOptions()
	if !p.more() {
		return nil, p.fail("bad group")
	}
	ch = p.peek(0)
	p.pos++
	switch ch {
	case ')':
		return nil, nil
	case ':':
		return &node{kind: kGroup}, nil
	}
	return nil, p.fail("bad group")
}

// scanOptions reads option letters as regexp2 does; it stops at the first
// character that is not one (r and e are top-level only and stop it too).
func (p *parser) scanOptions() {
	off := false
	for ; p.more(); p.pos++ {
		var o int
		switch p.peek(0) {
		case '-':
			off = true
			continue
		case '+':
			off = false
			continue
		case 'i', 'I':
			o = optI
		case 'm', 'M':
			o = optM
		case 'n', 'N':
			o = optN
		case 's', 'S':
			o = optS
		case 'x', 'X':
			o = optX
		case 'd', 'D', 'u', 'U':
			// Debug and Unicode: no effect on what we model.
		default:
			return
		}
		if off {
			p.opts &^= o
		} else {
			p.opts |= o
		}
	}
}

// parseBackslash parses an escape after '\'.
func (p *parser) parseBackslash() (*node, error) {
	if !p.more() {
		return nil, p.fail("trailing backslash")
	}
	start := p.pos - 1
	switch ch := p.peek(0); ch {
	case 'A', 'G':
		p.pos++
		return &node{kind: kBegin}, nil
	case 'Z', 'z':
		p.pos++
		return &node{kind: kEnd}, nil
	case 'b':
		p.pos++
		return &node{kind: kWordBoundary}, nil
	case 'B':
		p.pos++
		return &node{kind: kNotWordBoundary}, nil
	case 'w', 'W', 's', 'S', 'd', 'D':
		p.pos++
		c := &class{modeled: true}
		switch ch {
		case 'd', 'D':
			c.addCats(catRef{"Nd", ch == 'D'})
		case 's', 'S':
			c.addCats(catRef{" ", false})
			c.neg = ch == 'S'
		case 'w', 'W':
			c.addCats(catRef{"W", false})
			c.neg = ch == 'W'
		}
		return p.classAtom(start, c), nil
	case 'p', 'P':
		p.pos++
		name, err := p.scanProperty()
		if err != nil {
			return nil, err
		}
		c := &class{modeled: true}
		c.addProperty(name, ch == 'P', p.opts&optI != 0)
		return p.classAtom(start, c), nil
	}
	return p.parseBasicBackslash()
}

func (p *parser) classAtom(start int, c *class) *node {
	c.text = string(p.pat[start:p.pos])
	c.fold = p.opts&optI != 0
	return &node{kind: kClass, cls: c, fold: c.fold}
}

// scanProperty returns X of \pX or \p{X}.
func (p *parser) scanProperty() (string, error) {
	if p.more() && p.peek(0) != '{' {
		p.pos++
		return string(p.pat[p.pos-1]), nil
	}
	if p.left() < 3 {
		return "", p.fail("bad \\p")
	}
	p.pos++ // '{'
	start := p.pos
	for p.more() && (syntax.IsWordChar(p.peek(0)) || p.peek(0) == '-') {
		p.pos++
	}
	name := string(p.pat[start:p.pos])
	if !p.more() || p.peek(0) != '}' {
		return "", p.fail("bad \\p")
	}
	p.pos++
	return name, nil
}

// parseBasicBackslash parses backreferences and character escapes, as
// regexp2's scanBasicBackslash.
func (p *parser) parseBasicBackslash() (*node, error) {
	back := p.pos
	ch := p.peek(0)
	angled, k := false, false
	close := rune(0)
	if ch == 'k' {
		if p.left() >= 2 {
			p.pos++
			ch = p.peek(0)
			p.pos++
			if ch == '<' || ch == '\'' {
				angled = true
				close = '>'
				if ch == '\'' {
					close = '\''
				}
			}
		}
		if !angled || !p.more() {
			return nil, p.fail("bad \\k")
		}
		ch = p.peek(0)
		k = true
	} else if (ch == '<' || ch == '\'') && p.left() > 1 {
		angled = true
		close = '>'
		if ch == '\'' {
			close = '\''
		}
		p.pos++
		ch = p.peek(0)
	}
	switch {
	case angled && ch >= '0' && ch <= '9':
		if _, err := p.scanDecimal(); err != nil {
			return nil, err
		}
		if p.more() {
			c := p.peek(0)
			p.pos++
			if c == close {
				return &node{kind: kBackref}, nil
			}
		}
	case !angled && ch >= '1' && ch <= '9':
		// A single digit is a backreference (regexp2 rejects it when the
		// group does not exist); more digits may be an octal escape,
		// depending on which groups exist.
		if p.left() > 1 && p.peek(1) >= '0' && p.peek(1) <= '9' {
			return nil, p.fail(whatMultiDigitRef)
		}
		p.pos++
		return &node{kind: kBackref}, nil
	case angled:
		name := p.scanCapname()
		if name != "" && p.more() {
			c := p.peek(0)
			p.pos++
			if c == close {
				return &node{kind: kBackref}, nil
			}
		}
		if k {
			return nil, p.fail("bad \\k")
		}
	}
	p.pos = back
	r, err := p.scanCharEscape()
	if err != nil {
		return nil, err
	}
	return p.char(r), nil
}

// scanCharEscape reads the escape after '\' that stands for one rune.
func (p *parser) scanCharEscape() (rune, error) {
	if !p.more() {
		return 0, p.fail("trailing backslash")
	}
	ch := p.peek(0)
	p.pos++
	if ch >= '0' && ch <= '7' {
		p.pos--
		return p.scanOctal(), nil
	}
	switch ch {
	case 'x':
		if p.more() && p.peek(0) == '{' {
			p.pos++
			return p.scanHexUntilBrace()
		}
		return p.scanHex(2)
	case 'u':
		return p.scanHex(4)
	case 'a':
		return '\a', nil
	case 'b':
		return '\b', nil
	case 'e':
		return '\x1b', nil
	case 'f':
		return '\f', nil
	case 'n':
		return '\n', nil
	case 'r':
		return '\r', nil
	case 't':
		return '\t', nil
	case 'v':
		return '\v', nil
	case 'c':
		if !p.more() {
			return 0, p.fail("bad \\c")
		}
		c := p.peek(0)
		p.pos++
		if c >= 'a' && c <= 'z' {
			c -= 'a' - 'A'
		}
		c -= '@'
		if c >= 0 && c < ' ' {
			return c, nil
		}
		return 0, p.fail("bad \\c")
	}
	if syntax.IsWordChar(ch) {
		return 0, p.fail("unknown escape")
	}
	return ch, nil
}

func (p *parser) scanOctal() rune {
	c := min(3, p.left())
	i := 0
	for c > 0 && p.more() {
		d := p.peek(0) - '0'
		if d < 0 || d > 7 {
			break
		}
		i = i*8 + int(d)
		c--
		p.pos++
	}
	return rune(i & 0xFF)
}

func (p *parser) scanHex(c int) (rune, error) {
	i := 0
	if p.left() >= c {
		for ; c > 0; c-- {
			d := hexDigit(p.peek(0))
			p.pos++
			if d < 0 {
				break
			}
			i = i*16 + d
		}
	}
	if c > 0 {
		return 0, p.fail("bad hex escape")
	}
	return rune(i), nil
}

func (p *parser) scanHexUntilBrace() (rune, error) {
	i, any := 0, false
	for p.more() {
		ch := p.peek(0)
		p.pos++
		if ch == '}' {
			if !any {
				return 0, p.fail("bad hex escape")
			}
			return rune(i), nil
		}
		any = true
		d := hexDigit(ch)
		if d < 0 {
			return 0, p.fail("bad hex escape")
		}
		i = i*16 + d
		if i > unicode.MaxRune {
			return 0, p.fail("bad hex escape")
		}
	}
	return 0, p.fail("bad hex escape")
}

func hexDigit(ch rune) int {
	switch {
	case ch >= '0' && ch <= '9':
		return int(ch - '0')
	case ch >= 'a' && ch <= 'f':
		return int(ch-'a') + 10
	case ch >= 'A' && ch <= 'F':
		return int(ch-'A') + 10
	}
	return -1
}

// parseClass parses a bracket expression after its '[', as regexp2's
// scanCharSet, including .NET subtraction ([a-z-[aeiou]]) and its skipping
// of [:name:].
func (p *parser) parseClass() (*class, error) {
	start := p.pos - 1
	c := &class{modeled: true}
	if err := p.scanClassBody(c); err != nil {
		return nil, err
	}
	c.text = string(p.pat[start:p.pos])
	return c, nil
}

// scanClassBody scans up to and including the closing ']'.
func (p *parser) scanClassBody(c *class) error {
	fold := p.opts&optI != 0
	if p.more() && p.peek(0) == '^' {
		p.pos++
		c.neg = true
	}
	add := func(lo, hi rune) { c.ranges = append(c.ranges, lo, hi) }
	var prev rune
	inRange := false
	for first := true; p.more(); first = false {
		translated := false
		ch := p.peek(0)
		p.pos++
		switch {
		case ch == ']':
			if !first {
				return nil
			}
		case ch == '\\' && p.more():
			ch = p.peek(0)
			p.pos++
			switch ch {
			case 'd', 'D', 's', 'S', 'w', 'W', 'p', 'P':
				if inRange {
					return p.fail("class in range")
				}
				switch ch {
				case 'd', 'D':
					c.addCats(catRef{"Nd", ch == 'D'})
				case 's', 'S':
					c.addCats(catRef{" ", ch == 'S'})
				case 'w', 'W':
					c.addCats(catRef{"W", ch == 'W'})
				default:
					name, err := p.scanProperty()
					if err != nil {
						return err
					}
					c.addProperty(name, ch == 'P', fold)
				}
				continue
			case '-':
				add('-', '-')
				continue
			default:
				p.pos--
				var err error
				if ch, err = p.scanCharEscape(); err != nil {
					return err
				}
				translated = true
			}
		case ch == '[':
			if p.more() && p.peek(0) == ':' && !inRange {
				save := p.pos
				p.pos++
				if p.left() > 1 && p.peek(0) == '^' {
					p.pos++
				}
				p.scanCapname()
				if p.left() < 2 || p.peek(0) != ':' || p.peek(1) != ']' {
					p.pos = save
				} else {
					p.pos += 2
					c.modeled = false
				}
			}
		}
		switch {
		case inRange:
			inRange = false
			if ch == '[' && !translated && !first {
				add(prev, prev)
				p.pos-- // back to '[' for the subtraction
				if err := p.scanSubtraction(c); err != nil {
					return err
				}
			} else {
				if prev > ch {
					return p.fail("reversed range")
				}
				add(prev, ch)
			}
		case p.left() >= 2 && p.peek(0) == '-' && p.peek(1) != ']':
			prev = ch
			inRange = true
			p.pos++
		case p.left() >= 1 && ch == '-' && !translated && p.peek(0) == '[' && !first:
			if err := p.scanSubtraction(c); err != nil {
				return err
			}
		default:
			add(ch, ch)
		}
	}
	return p.fail("unterminated class")
}

// scanSubtraction scans "[...]" at p.pos, the subtracted class.
func (p *parser) scanSubtraction(c *class) error {
	p.pos++ // '['
	sub := &class{modeled: true}
	if err := p.scanClassBody(sub); err != nil {
		return err
	}
	c.sub = sub
	if !sub.modeled {
		c.modeled = false
	}
	if p.more() && p.peek(0) != ']' {
		return p.fail("subtraction must be last")
	}
	return nil
}
