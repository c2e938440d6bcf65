package match

import (
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/dlclark/regexp2"
)

// rule is one compiled spec. This first implementation runs plain regexp2
// for every pattern: it is the reference semantics that faster engines are
// checked against.
type rule struct {
	sel     *regexp2.Regexp // the select pattern wrapped as \A(?:…)\z
	extract *regexp2.Regexp
	exGroup int
	key     *regexp2.Regexp
	keyGrp  int
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
	return compileRegexp2(`\A(?:`+pat+`)\z`, timeout)
}

// compileGroup compiles an extraction or key pattern and returns the number
// of its first capture group (.NET numbering: unnamed groups first).
func compileGroup(pat string, timeout time.Duration) (*regexp2.Regexp, int, error) {
	re, err := compileRegexp2(pat, timeout)
	if err != nil {
		return nil, 0, err
	}
	nums := re.GetGroupNumbers()
	if len(nums) < 2 {
		return nil, 0, ErrNoGroup
	}
	return re, nums[1], nil
}

func compileRule(sp Spec, opts Options) (*rule, []*Error) {
	var errs []*Error
	r := &rule{}
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
		if r.key, r.keyGrp, err = compileGroup(sp.Key, opts.Timeout); err != nil {
			errs = append(errs, &Error{Field: FieldKey, Err: err})
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return r, nil
}

// toRunes converts a line as regexp2 sees a string: each byte of an invalid
// UTF-8 sequence becomes U+FFFD.
func toRunes(line []byte) []rune {
	return []rune(string(line))
}

func (r *rule) match(i int, line []byte, buf *[]byte) (Hit, bool) {
	runes := toRunes(line)
	ok, err := r.sel.MatchRunes(runes)
	if err != nil {
		return Hit{Rule: i, Timeout: true}, true
	}
	if !ok {
		return Hit{}, false
	}
	h := Hit{Rule: i, Selected: true}
	if r.extract != nil {
		v, found, timeout := groupOf(r.extract, r.exGroup, runes, buf)
		h.Timeout = h.Timeout || timeout
		if found {
			h.Value = v
		} else {
			h.ExtractMiss = true
		}
	}
	if r.key != nil {
		k, found, timeout := groupOf(r.key, r.keyGrp, runes, buf)
		h.Timeout = h.Timeout || timeout
		if found {
			h.Key = k
		}
	}
	return h, true
}

// groupOf searches runes with re and returns group n of the leftmost match,
// encoded as UTF-8 and appended to *buf.
func groupOf(re *regexp2.Regexp, n int, runes []rune, buf *[]byte) (val []byte, found, timeout bool) {
	m, err := re.FindRunesMatch(runes)
	if err != nil {
		return nil, false, true
	}
	if m == nil {
		return nil, false, false
	}
	g := m.GroupByNumber(n)
	if g == nil || len(g.Captures) == 0 {
		return nil, false, false
	}
	start := len(*buf)
	for _, c := range g.Runes() {
		*buf = utf8.AppendRune(*buf, c)
	}
	return (*buf)[start:len(*buf):len(*buf)], true, false
}

// String describes the engines of a set, for diagnostics.
func (s *Set) String() string {
	return fmt.Sprintf("match.Set{%d rules, regexp2}", len(s.rules))
}
