package history

import (
	"sort"
	"strings"
	"time"
)

// Persists reports whether a measurement class persists (CFEngine's
// persistence): h_high_dev2, h_low_dev2, h_high_anomaly and
// h_low_anomaly. The direction classes, _dev1 (one deviation, set most
// days for nothing), _microanomaly, _learning and _unavailable are facts
// of one interval and never persist.
func Persists(class string) bool {
	for _, s := range []string{"_high_dev2", "_low_dev2", "_high_anomaly", "_low_anomaly"} {
		if strings.HasSuffix(class, s) {
			return true
		}
	}
	return false
}

// Persistent is the classes that stay set after the interval that set
// them, by the time they stop being set. The actions engine keeps it in
// the state file; a replay keeps it in memory (Hold).
type Persistent map[string]time.Time

// Touch records that class c was set at now, with persistence d. With
// reset, the expiry restarts at every setting; otherwise (CFEngine's
// preserve) a class that is still alive keeps its first expiry, so a long
// episode that flaps rises again only once the hold is over. It reports
// whether the expiry changed.
func (p Persistent) Touch(c string, d time.Duration, reset bool, now time.Time) bool {
	if _, alive := p[c]; alive && !reset {
		return false
	}
	p[c] = now.Add(d)
	return true
}

// Expire forgets the classes whose persistence is over at now and returns
// them.
func (p Persistent) Expire(now time.Time) []string {
	var out []string
	for c, until := range p {
		if !until.After(now) {
			delete(p, c)
			out = append(out, c)
		}
	}
	return out
}

// Hold follows one measurement's classes over a replay, in time order, as
// the daemon keeps them: the classes that persist (Persists) stay set for
// the persistence after a setting, and a class rises when it is set and
// was not at the previous interval.
type Hold struct {
	d     time.Duration
	reset bool
	kept  Persistent
	prev  map[string]bool
}

// NewHold returns a Hold with persistence d (0: none) and its policy
// (reset, or preserve when false).
func NewHold(d time.Duration, reset bool) *Hold {
	return &Hold{d: d, reset: reset, kept: Persistent{}, prev: map[string]bool{}}
}

// Add takes the classes set by the interval that ends at now and returns
// the classes in force — those set, then those held by persistence,
// sorted — and the classes among them that rose.
func (h *Hold) Add(now time.Time, set []string) (classes, rises []string) {
	h.kept.Expire(now)
	classes = append([]string(nil), set...)
	cur := make(map[string]bool, len(classes))
	for _, c := range classes {
		cur[c] = true
		if h.d > 0 && Persists(c) {
			h.kept.Touch(c, h.d, h.reset, now)
		}
	}
	var held []string
	for c := range h.kept {
		if !cur[c] {
			cur[c] = true
			held = append(held, c)
		}
	}
	sort.Strings(held)
	classes = append(classes, held...)
	for _, c := range classes {
		if !h.prev[c] {
			rises = append(rises, c)
		}
	}
	h.prev = cur
	return classes, rises
}
