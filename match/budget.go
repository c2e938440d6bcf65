package match

import (
	"time"

	"github.com/dlclark/regexp2"
)

// The time limit of a line.
//
// Options.Timeout is a budget for a whole line: every regexp2 match of
// every rule on that line draws on it. Two things stood between
// regexp2's MatchTimeout and such a budget:
//
//   - regexp2 does not read the time when it checks its deadline: a
//     goroutine of its own (fastclock.go) stores the time every
//     clockPeriod, 100 ms by default, and each deadline is set one period
//     beyond the limit so that a stale clock never fires early. A match
//     therefore ran for its limit plus 100 to 200 ms: about 200 ms whether
//     the limit was 20, 50 or 100 ms, 600 ms for 500 ms.
//   - MatchTimeout bounds one call. A line that three rules run on regexp2
//     (select, extract and key each) could take the limit many times.
//
// Owning the clock outright is not possible: regexp2 offers no way to
// cancel a match and reads no clock but its own, and a goroutine cannot be
// stopped from outside. So regexp2's check is kept and made fine-grained,
// and the budget is kept here:
//
//   - the clock's period is set to clockPeriod, once, in init: regexp2
//     keeps it in an unsynchronised package variable that its clock
//     goroutine reads, so it may only be written before the first match
//     can start, and never again. A timed-out match then ends within two
//     periods of its limit. The clock goroutine only runs while matches
//     with a time limit are being made (regexp2 stops it a second after
//     the last deadline), so an idle daemon does not wake for it;
//   - the first regexp2 match of a line starts the line's deadline (lines
//     that only the linear engines see never read the time); each match
//     gets what remains as its MatchTimeout; once nothing remains, the
//     rules still to run on regexp2 are not run and report a timeout, as
//     the rule that spent the budget does. A line thus costs its linear
//     engines plus at most Timeout + TimeoutSlack in regexp2, whatever the
//     number of rules.
//
// MatchTimeout is a field of the compiled Regexp, and a Set is shared by
// Matchers on several goroutines, so each Matcher runs copies of its own,
// compiled the first time it needs them.

// clockPeriod is how often regexp2's clock reads the time.
const clockPeriod = 5 * time.Millisecond

// TimeoutSlack is how far past its line's limit a regexp2 match may run:
// the deadline regexp2 sets is one clockPeriod beyond the limit, and its
// clock may lag the time by one more.
const TimeoutSlack = 2 * clockPeriod

// MinTimeout is the shortest line limit that a timed-out line keeps to
// within a factor of two.
const MinTimeout = TimeoutSlack

func init() {
	regexp2.SetTimeoutCheckPeriod(clockPeriod)
}

// lineClock is the time budget of the line being matched, and the
// Matcher's own copies of the regexp2 patterns it has run.
type lineClock struct {
	limit    time.Duration
	now      func() time.Time // time.Now; tests step it
	started  bool
	deadline time.Time
	spent    bool // the line ran out of its budget
	own      map[*regexp2.Regexp]*regexp2.Regexp
	// rule is when the rule under way first asked for the budget on this
	// line, and lost what the rules that timed out since startRule cost
	// on it, measured from there (see matchTimed): all of a rule's
	// regexp2 matches on the line, not only the one that ran out, so a
	// timed-out line is charged at least what remained of its limit when
	// the rule began.
	rule time.Time
	lost time.Duration
}

// startRule starts measuring one rule's matches on the line.
func (c *lineClock) startRule() {
	c.rule, c.lost = time.Time{}, 0
}

func newLineClock(limit time.Duration) lineClock {
	return lineClock{limit: limit, now: time.Now}
}

// reset starts a new line.
func (c *lineClock) reset() {
	c.started, c.spent, c.rule = false, false, time.Time{}
}

// take returns the copy of re to run with what remains of the line's
// budget as its time limit; ok is false when nothing remains.
func (c *lineClock) take(re *regexp2.Regexp) (own *regexp2.Regexp, ok bool) {
	now := c.now()
	if !c.started {
		c.started = true
		c.deadline = now.Add(c.limit)
	}
	if c.rule.IsZero() {
		c.rule = now
	}
	left := c.deadline.Sub(now)
	if left <= 0 {
		c.spent = true
		c.lost += now.Sub(c.rule)
		return nil, false
	}
	own = c.own[re]
	if own == nil {
		if c.own == nil {
			c.own = map[*regexp2.Regexp]*regexp2.Regexp{}
		}
		var err error
		if own, err = regexp2.Compile(re.String(), regexp2.None); err != nil {
			// Cannot happen (the same text compiled before); the shared
			// pattern still has the whole limit as its own.
			return re, true
		}
		c.own[re] = own
	}
	own.MatchTimeout = left
	return own, true
}

// matchRunes is re.MatchRunes within the line's budget.
func (c *lineClock) matchRunes(re *regexp2.Regexp, runes []rune) (ok, timeout bool) {
	own, ok := c.take(re)
	if !ok {
		return false, true
	}
	ok, err := own.MatchRunes(runes)
	if err != nil {
		c.timedOut()
		return false, true
	}
	return ok, false
}

// timedOut records that the match under way ran out of the line's budget,
// and what it cost.
func (c *lineClock) timedOut() {
	c.spent = true
	c.lost += c.now().Sub(c.rule)
}

// findRunes is re.FindRunesMatch within the line's budget.
func (c *lineClock) findRunes(re *regexp2.Regexp, runes []rune) (m *regexp2.Match, timeout bool) {
	own, ok := c.take(re)
	if !ok {
		return nil, true
	}
	m, err := own.FindRunesMatch(runes)
	if err != nil {
		c.timedOut()
		return nil, true
	}
	return m, false
}
