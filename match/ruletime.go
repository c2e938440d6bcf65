package match

import "time"

// The time of each rule within the shared pass. `logtally test` shows
// what each rule costs; since every line is matched once for all rules,
// what a rule costs is the time its own engines take on the lines the
// prefilter or the block scan gave it as a candidate. Timing every
// verification would cost two clock reads each, more than many
// verifications themselves, so a rule's first verification and every
// timeSample-th after it are timed, and the rule's time is their total
// scaled to all its verifications. A verification that times out is no
// sample of the others: it costs the line's time limit, and scaled it
// would charge that limit to every verification (twice the limit for a
// rule with one other line). Its time is measured (the line's budget reads
// the clock when a regexp2 match starts and when it times out) and added
// as it is.

// timeSample is how often a rule's verification is timed.
const timeSample = 16

// ruleTimes is a Matcher's record of the time of each rule.
type ruleTimes struct {
	runs    []uint64        // verifications of each rule, without those that timed out
	sampled []uint64        // of which timed
	spent   []time.Duration // the time of the timed ones
	lost    []time.Duration // the time of the verifications that timed out
}

// TimeRules makes the Matcher estimate the time each rule's own engines
// take on the lines it matches (RuleTimes). It costs about one clock read
// per timeSample verifications of each rule.
func (m *Matcher) TimeRules() {
	if m.times != nil {
		return
	}
	n := len(m.set.rules)
	m.times = &ruleTimes{runs: make([]uint64, n), sampled: make([]uint64, n), spent: make([]time.Duration, n), lost: make([]time.Duration, n)}
}

// RuleTimes returns, per rule, the estimated time its engines took on the
// lines matched since TimeRules: a rule that was never a candidate of a
// line took none. It is nil when TimeRules was not called.
func (m *Matcher) RuleTimes() []time.Duration {
	t := m.times
	if t == nil {
		return nil
	}
	out := make([]time.Duration, len(t.runs))
	for i, n := range t.runs {
		if t.sampled[i] > 0 {
			out[i] = time.Duration(float64(t.spent[i]) * float64(n) / float64(t.sampled[i]))
		}
		out[i] += t.lost[i]
	}
	return out
}

// matchTimed is rule i's match on the line, timed when its turn comes, and
// measured when it times out.
func (m *Matcher) matchTimed(i int, line []byte, ascii bool) (Hit, bool) {
	t := m.times
	t.runs[i]++
	m.clock.startRule()
	if t.runs[i]%timeSample != 1 {
		h, ok := m.set.rules[i].match(m, i, line, ascii)
		if h.Timeout {
			t.runs[i]--
			t.lost[i] += m.clock.lost
		}
		return h, ok
	}
	start := time.Now()
	h, ok := m.set.rules[i].match(m, i, line, ascii)
	if h.Timeout {
		t.runs[i]--
		t.lost[i] += m.clock.lost
		return h, ok
	}
	// A clock that did not advance still saw the rule run.
	t.spent[i] += max(time.Since(start), 1)
	t.sampled[i]++
	return h, ok
}
