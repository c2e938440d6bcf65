package match

import (
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/dlclark/regexp2"
)

// This file is the reference semantics: every pattern runs in plain
// regexp2, select wrapped as \A(?:pat)\z, extract and key as searches for
// the leftmost match (see searchPrefix) whose first group (.NET numbering)
// is the result, on the line converted to runes as regexp2 sees a string. The fast engines are checked
// against it, and it matches the rare line that contains a '\n'.

// refRule is one spec compiled for plain regexp2.
type refRule struct {
	sel      *regexp2.Regexp // \A(?:select)\z
	extract  *regexp2.Regexp
	exGroup  int
	key      *regexp2.Regexp
	keyGroup int
}

// compileRegexp2 compiles a pattern with logtally's regexp2 options.
func compileRegexp2(pat string, timeout time.Duration) (*regexp2.Regexp, error) {
	re, err := regexp2.Compile(pat, regexp2.None)
	if err != nil {
		return nil, err
	}
	re.MatchTimeout = timeout
	return re, nil
}

// compileWrapped compiles prefix(?:pat)suffix. Under (?x) a # comment runs
// to the end of the line, so a pattern that ends in one would swallow the
// wrapper's ")": it is then ended with a newline, which (?x) ignores. (A
// pattern that compiles alone fails to compile wrapped only that way.)
func compileWrapped(prefix, pat, suffix string, timeout time.Duration) (*regexp2.Regexp, error) {
	re, err := compileRegexp2(prefix+"(?:"+pat+")"+suffix, timeout)
	if err == nil {
		return re, nil
	}
	if re, err2 := compileRegexp2(prefix+"(?:"+pat+"\n)"+suffix, timeout); err2 == nil {
		return re, nil
	}
	return nil, err
}

// compileSelect compiles a select_line_matching pattern so that it must
// match the whole line. The pattern is first compiled alone so that an error
// speaks of what the user wrote, not of the wrapper.
func compileSelect(pat string, timeout time.Duration) (*regexp2.Regexp, error) {
	if pat == "" {
		return nil, errors.New("empty pattern; use '.*' to select every line")
	}
	if _, err := compileRegexp2(pat, timeout); err != nil {
		return nil, err
	}
	return compileWrapped(`\A`, pat, `\z`, timeout)
}

// searchPrefix turns an anchored regexp2 match into a search for the
// leftmost match: a lazy any-character prefix tries each start position in
// turn, with the pattern's own backtracking order at each, as a search
// does. regexp2's own search is not used: it skips ahead with a first-
// character set that mishandles case folding when case-sensitive and
// case-insensitive parts are mixed, and so misses matches
// ("(?i:k)|\p{Lu}" does not find "I").
const searchPrefix = `\A(?s:.*?)`

// compileSearch compiles an unanchored search for pat.
func compileSearch(pat string, timeout time.Duration) (*regexp2.Regexp, error) {
	return compileWrapped(searchPrefix, pat, "", timeout)
}

// compileGroup compiles an extraction or key pattern for a search and
// returns the number of its first capture group (.NET numbering: unnamed
// groups first).
func compileGroup(pat string, timeout time.Duration) (*regexp2.Regexp, int, error) {
	re, err := compileRegexp2(pat, timeout)
	if err != nil {
		return nil, 0, err
	}
	nums := re.GetGroupNumbers()
	if len(nums) < 2 {
		return nil, 0, ErrNoGroup
	}
	search, err := compileSearch(pat, timeout)
	if err != nil {
		return nil, 0, err
	}
	return search, nums[1], nil
}

func compileRef(sp Spec, opts Options) (*refRule, []*Error) {
	var errs []*Error
	r := &refRule{}
	var err error
	if r.sel, err = compileSelect(sp.Select, opts.Timeout); err != nil {
		errs = append(errs, &Error{Field: FieldSelect, Err: err})
	}
	if sp.Extract != "" {
		if r.extract, r.exGroup, err = compileGroup(sp.Extract, opts.Timeout); err != nil {
			errs = append(errs, &Error{Field: FieldExtract, Err: err})
		}
	}
	if sp.Key != "" {
		if r.key, r.keyGroup, err = compileGroup(sp.Key, opts.Timeout); err != nil {
			errs = append(errs, &Error{Field: FieldKey, Err: err})
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return r, nil
}

// appendRunes appends line as regexp2 sees a string: each byte of an
// invalid UTF-8 sequence becomes U+FFFD.
func appendRunes(dst []rune, line []byte) []rune {
	for i := 0; i < len(line); {
		c := line[i]
		if c < utf8.RuneSelf {
			dst = append(dst, rune(c))
			i++
			continue
		}
		r, w := utf8.DecodeRune(line[i:])
		dst = append(dst, r)
		i += w
	}
	return dst
}

// match matches one rule, within the line's time budget c.
func (r *refRule) match(c *lineClock, i int, runes []rune, buf *[]byte) (Hit, bool) {
	ok, timeout := c.matchRunes(r.sel, runes)
	if timeout {
		return Hit{Rule: i, Timeout: true}, true
	}
	if !ok {
		return Hit{}, false
	}
	h := Hit{Rule: i, Selected: true}
	if r.extract != nil {
		v, found, timeout := groupOf(c, r.extract, r.exGroup, runes, buf)
		h.Timeout = h.Timeout || timeout
		if found {
			h.Value = v
		} else {
			h.ExtractMiss = true
		}
	}
	if r.key != nil {
		k, found, timeout := groupOf(c, r.key, r.keyGroup, runes, buf)
		h.Timeout = h.Timeout || timeout
		if found {
			h.Key = k
		}
	}
	return h, true
}

// groupOf searches runes with re, within the line's time budget c, and
// returns group n of the leftmost match, encoded as UTF-8 and appended to
// *buf. A group that matched the empty string gives an empty, non-nil
// slice.
func groupOf(c *lineClock, re *regexp2.Regexp, n int, runes []rune, buf *[]byte) (val []byte, found, timeout bool) {
	m, timeout := c.findRunes(re, runes)
	if timeout {
		return nil, false, true
	}
	if m == nil {
		return nil, false, false
	}
	g := m.GroupByNumber(n)
	if g == nil || len(g.Captures) == 0 {
		return nil, false, false
	}
	if *buf == nil {
		*buf = make([]byte, 0, 64)
	}
	start := len(*buf)
	for _, c := range g.Runes() {
		*buf = utf8.AppendRune(*buf, c)
	}
	return (*buf)[start:len(*buf):len(*buf)], true, false
}

// referenceSet is a whole set in plain regexp2, for tests and benchmarks.
type referenceSet struct {
	rules []*refRule
	clock lineClock
	runes []rune
	hits  []Hit
	buf   []byte
}

func compileReference(specs []Spec, opts Options) (*referenceSet, error) {
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	s := &referenceSet{clock: newLineClock(opts.Timeout)}
	var errs []error
	for i, sp := range specs {
		r, err := compileRef(sp, opts)
		for _, e := range err {
			e.Index = i
			errs = append(errs, e)
		}
		s.rules = append(s.rules, r)
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("compile reference: %w", errors.Join(errs...))
	}
	return s, nil
}

// match is Matcher.Match in the reference semantics.
func (s *referenceSet) match(line []byte) []Hit {
	s.hits = s.hits[:0]
	s.buf = s.buf[:0]
	s.runes = appendRunes(s.runes[:0], line)
	s.clock.reset()
	for i, r := range s.rules {
		if h, ok := r.match(&s.clock, i, s.runes, &s.buf); ok {
			s.hits = append(s.hits, h)
		}
	}
	return s.hits
}
