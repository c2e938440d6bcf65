package match

import (
	"bytes"
	"errors"
	"fmt"
	"math/bits"
	"runtime"
	"sync"
	"time"
)

// DefaultTimeout is the time limit of a line when Options.Timeout is zero.
const DefaultTimeout = 100 * time.Millisecond

// Spec is one rule's patterns.
type Spec struct {
	Select  string // must match the whole line; required
	Extract string // optional unanchored search; its first group is the value
	Key     string // optional unanchored search; its first group is the key
}

// Options tune compilation.
type Options struct {
	// Timeout is the time limit of a line: all the regexp2 matches of all
	// the rules on one line share it (budget.go), and together run at most
	// TimeoutSlack past it. A rule whose match times out, or that is left
	// without time, reports a Hit with Timeout set. Zero means
	// DefaultTimeout.
	Timeout time.Duration
}

// Field names used in errors.
const (
	FieldSelect  = "select_line_matching"
	FieldExtract = "extraction_regex"
	FieldKey     = "key"
)

// Error is a compile error of one pattern of one spec.
type Error struct {
	Index int    // index of the spec in the slice given to Compile
	Field string // FieldSelect, FieldExtract or FieldKey
	Err   error
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s: %v", e.Field, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// ErrNoGroup is returned for an extraction or key pattern without a capture
// group.
var ErrNoGroup = errors.New("pattern has no capture group; the value is the first group, e.g. 'took (\\d+) ms'")

// Hit is the outcome of one line for one rule. Match reports a Hit for every
// rule that selected the line or timed out trying; rules that simply did not
// match are not reported.
type Hit struct {
	Rule int // index into the specs given to Compile

	// Selected is true when Select matched the whole line. It is false when
	// the select match timed out (Timeout is then true).
	Selected bool

	// Timeout is true when a regexp2 match of this rule on this line hit
	// the line's time limit, or was not run because the line had spent
	// it. A select timeout counts the line as a miss; an extract timeout
	// counts as an extraction miss; a key timeout leaves Key nil.
	Timeout bool

	// Value is the first group of Extract when it matched. It aliases the
	// line or a buffer owned by the Set, and is valid until the next call to
	// Match on the same Matcher.
	Value []byte
	// ExtractMiss is true when the rule has an Extract pattern and it did
	// not match (or timed out) on a selected line.
	ExtractMiss bool

	// Key is the first group of Key when it matched, with the same lifetime
	// as Value. A key that matched an empty group is empty but not nil.
	Key []byte
}

// Set is the compiled rules of one stream. It is safe for concurrent use;
// each goroutine matches through its own Matcher.
type Set struct {
	specs []Spec
	rules []*rule
	opts  Options
	// all finds the candidate rules of a line for Match, built the first
	// time a line needs it (filter): a block scan whose anchors
	// dispatch every line (dispatch.go) never does.
	all     *lineFilter
	allOnce sync.Once
	// hasExact is set when some rule has exact literals, which the block
	// scan can search for.
	hasExact bool
	// needASCII is set when some engine depends on the line being ASCII.
	needASCII bool
	// keys and shared are what clauseKeys returns, made once.
	keys     [][]string
	shared   map[string]int
	keysOnce sync.Once
}

// Compile compiles the specs of one stream. All errors are returned, joined;
// each is an *Error.
func Compile(specs []Spec, opts Options) (*Set, error) {
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	s := &Set{specs: append([]Spec(nil), specs...), opts: opts}
	rules, ruleErrs := compileRules(specs, opts)
	var errs []error
	for i, r := range rules {
		if ruleErrs[i] != nil {
			for _, e := range ruleErrs[i] {
				e := *e // the same spec twice shares its errors
				e.Index = i
				errs = append(errs, &e)
			}
			continue
		}
		s.rules = append(s.rules, r)
		s.needASCII = s.needASCII || r.needsASCII()
		s.hasExact = s.hasExact || len(r.exact) > 0
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return s, nil
}

// filter returns the prefilter of all the set's rules.
func (s *Set) filter() *lineFilter {
	s.allOnce.Do(func() { s.all = newLineFilter(s.rules, nil, s.needASCII) })
	return s.all
}

// parallelRules is the number of rules above which they are compiled on
// every CPU.
const parallelRules = 64

// compileRules compiles each spec: a spec the same as an earlier one
// shares its rule, specs that differ by one run of literal text are
// bound to a template compiled once (template.go), and the others are
// compiled in full, on every CPU when they are many, each goroutine with
// its own oracle, so that a large rule set loads in a fraction of the
// time. The result does not depend on the split.
func compileRules(specs []Spec, opts Options) ([]*rule, [][]*Error) {
	rules := make([]*rule, len(specs))
	errs := make([][]*Error, len(specs))
	compile := func(i int, o *oracle) { rules[i], errs[i] = compileRule(specs[i], opts, o) }
	roles, plans := planTemplates(specs)
	var full []int // on their own, and the templates' representatives
	for i, r := range roles {
		if r.same < 0 && (r.tmpl < 0 || plans[r.tmpl].rep == i) {
			full = append(full, i)
		}
	}
	inParallel(full, compile)
	var alone []int // bound to no template after all
	o := newOracle()
	for _, p := range plans {
		rep := rules[p.rep]
		var t *template
		if rep != nil {
			t = buildTemplate(specs[p.rep], rep, p.runs[p.hole], o)
		}
		if t != nil {
			t.prefix = p.prefix
		}
		for _, i := range p.members {
			switch text := roles[i].text; {
			case t == nil || !t.bindable(text):
				if i != p.rep {
					alone = append(alone, i)
				}
			case i == p.rep:
				own := rep.sel.exact
				if own == nil {
					own = &lazySelector{sel: rep.sel}
					own.once.Do(func() {})
				}
				rules[i] = t.bind(specs[i], text, opts, own)
				rules[i].ref, rules[i].lazy = rep.ref, nil
			default:
				rules[i] = t.bind(specs[i], text, opts, nil)
			}
		}
	}
	inParallel(alone, compile)
	for i, r := range roles {
		if r.same >= 0 {
			rules[i], errs[i] = rules[r.same], errs[r.same]
		}
	}
	return rules, errs
}

// inParallel calls f for each index: on every CPU when they are many,
// each goroutine with an oracle of its own.
func inParallel(idx []int, f func(i int, o *oracle)) {
	workers := 1
	if len(idx) >= parallelRules {
		workers = min(runtime.GOMAXPROCS(0), len(idx)/(parallelRules/2))
	}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			o := newOracle()
			for k := w; k < len(idx); k += workers {
				f(idx[k], o)
			}
		}()
	}
	wg.Wait()
}

// Check returns the errors Compile would return for the specs, without
// building the fast engines: validating rules costs a tenth of compiling
// them. Specs that differ from a valid one only by a run of literal text
// are valid (see lexRuns).
func Check(specs []Spec, opts Options) error {
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	errs := make([][]*Error, len(specs))
	roles, plans := planTemplates(specs)
	check := func(i int) {
		_, errs[i] = compileRef(specs[i], opts)
	}
	for i, r := range roles {
		if r.same < 0 && (r.tmpl < 0 || plans[r.tmpl].rep == i) {
			check(i)
		}
	}
	for _, p := range plans {
		if errs[p.rep] == nil {
			continue
		}
		for _, i := range p.members {
			if i != p.rep {
				check(i)
			}
		}
	}
	var all []error
	for i, r := range roles {
		es := errs[i]
		if r.same >= 0 {
			es = errs[r.same]
		}
		for _, e := range es {
			e := *e
			e.Index = i
			all = append(all, &e)
		}
	}
	return errors.Join(all...)
}

// Only returns a Set that matches rule i of s alone (as rule 0), sharing
// its compiled engines: what the rule costs without the others.
func (s *Set) Only(i int) *Set {
	r := s.rules[i]
	o := &Set{specs: s.specs[i : i+1 : i+1], rules: []*rule{r}, opts: s.opts,
		needASCII: r.needsASCII(), hasExact: len(r.exact) > 0}
	return o
}

// Len returns the number of rules.
func (s *Set) Len() int { return len(s.rules) }

// Matcher matches lines against a Set. It holds scratch space and is not
// safe for concurrent use.
type Matcher struct {
	set       *Set
	hits      []Hit
	buf       []byte   // backs Hit.Value and Hit.Key
	seen      []uint64 // literals found by the prefilter (see filter)
	cand      []uint64 // rules that may match
	filtered  bool     // seen and cand are sized for the set's filter
	blk       blockState
	runes     []rune // the line as regexp2 sees it
	haveRunes bool
	bt        backtracker // state of RE2 group searches
	bs        bytesState  // state of the bytes engine
	// from is where the text of the rule being verified first occurs in
	// the line, when a dispatch found it (0 otherwise): its template's
	// verification need not look before.
	from  int
	clock lineClock  // the line's time budget, and regexp2 copies
	times *ruleTimes // each rule's time, when TimeRules was called
}

// NewMatcher returns a Matcher for the set.
func (s *Set) NewMatcher() *Matcher {
	return &Matcher{set: s, hits: make([]Hit, 0, len(s.rules)), buf: make([]byte, 0, 256), clock: newLineClock(s.opts.Timeout)}
}

// filter returns the prefilter of all the set's rules, with the
// Matcher's seen and cand sized for it.
func (m *Matcher) filter() *lineFilter {
	f := m.set.filter()
	if !m.filtered {
		m.seen = make([]uint64, f.seenWords())
		m.cand = make([]uint64, f.words)
		m.filtered = true
	}
	return f
}

// Match matches one line (without its newline) and returns a Hit for each
// rule that selected it or timed out. The returned slice and the byte slices
// in it are valid until the next call to Match.
func (m *Matcher) Match(line []byte) (hits []Hit) {
	m.hits = m.hits[:0]
	m.buf = m.buf[:0]
	m.haveRunes = false
	m.clock.reset()
	if bytes.IndexByte(line, '\n') >= 0 {
		return m.matchReference(line)
	}
	defer func() {
		// A bug in a fast engine must not take the daemon down with it:
		// the line is matched again by the reference.
		if recover() != nil {
			hits = m.matchReference(line)
		}
	}()
	return m.matchFast(line)
}

// TimedOut reports whether the line last matched (by Match, or the line
// last passed to MatchBlock's callback) spent its whole time limit: some
// of its hits then have Timeout set.
func (m *Matcher) TimedOut() bool { return m.clock.spent }

func (m *Matcher) matchFast(line []byte) []Hit {
	f := m.filter()
	ascii := f.candidates(line, m.seen, m.cand)
	m.verify(f, line, ascii, m.cand, m.seen)
	return m.hits
}

// verify runs the candidate rules on the line, in rule order, and appends
// their hits. A rule of f must also have its literals in seen.
func (m *Matcher) verify(f *lineFilter, line []byte, ascii bool, cand, seen []uint64) {
	for w, word := range cand {
		for word != 0 {
			i := w*64 + bits.TrailingZeros64(word)
			word &= word - 1
			if f != nil && !f.req[i].ok(seen) {
				continue
			}
			m.from = 0
			if st := &m.blk; st.inVerify && st.dispatched != nil && st.dispatched[w]&(1<<(i%64)) != 0 {
				m.from = int(st.found[i])
			}
			var h Hit
			var ok bool
			if m.times != nil {
				h, ok = m.matchTimed(i, line, ascii)
			} else {
				h, ok = m.set.rules[i].match(m, i, line, ascii)
			}
			if ok {
				m.hits = append(m.hits, h)
			}
		}
	}
	m.from = 0
}

// matchReference matches the line with every rule's reference engines,
// within what remains of the line's time budget (it also takes over a line
// on which a fast engine failed).
func (m *Matcher) matchReference(line []byte) []Hit {
	m.hits = m.hits[:0]
	m.buf = m.buf[:0]
	m.haveRunes = false
	runes := m.lineRunes(line)
	for i, r := range m.set.rules {
		if h, ok := r.reference().match(&m.clock, i, runes, &m.buf); ok {
			m.hits = append(m.hits, h)
		}
	}
	return m.hits
}
