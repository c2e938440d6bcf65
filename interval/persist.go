package interval

import (
	"sort"
	"strings"
	"time"

	"github.com/logtally/logtally/rules"
)

// Persists reports whether a measurement class persists (CFEngine's
// persistence): h_high_dev2, h_low_dev2, h_high_anomaly and
// h_low_anomaly. The direction classes, _dev1 (one deviation, set most
// days for nothing), _microanomaly and _unavailable are facts of one
// interval and never persist.
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
// the state file; a replay keeps it in memory.
type Persistent map[string]time.Time

// Touch records that class c was set at now, with persistence d and a
// policy: preserve keeps the expiry of a class that is still alive; reset
// restarts it. It reports whether the expiry changed.
func (p Persistent) Touch(c string, d time.Duration, policy string, now time.Time) bool {
	if _, alive := p[c]; alive && policy != rules.PersistReset {
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

// Row is one interval of a replayed measurement: its sample, its classes
// (with the measurement's persistence applied, as the daemon keeps them)
// and the classes that rose (set now and not at the previous row).
type Row struct {
	*Sample
	Classes []string
	Rises   []string
}

// Rows follows one measurement's classes over the samples of a replay.
type Rows struct {
	m    *rules.Measurement
	kept Persistent
	prev map[string]bool
}

// NewRows returns a Rows for measurement m.
func NewRows(m *rules.Measurement) *Rows {
	return &Rows{m: m, kept: Persistent{}, prev: map[string]bool{}}
}

// Add returns the row of the next sample, in time order.
func (r *Rows) Add(s *Sample) Row {
	now := s.End
	r.kept.Expire(now)
	cls := append([]string(nil), s.Classes...)
	cur := make(map[string]bool, len(cls))
	for _, c := range cls {
		cur[c] = true
		if r.m.Persist > 0 && Persists(c) {
			r.kept.Touch(c, r.m.Persist, r.m.PersistPolicy, now)
		}
	}
	var held []string
	for c := range r.kept {
		if !cur[c] {
			cur[c] = true
			held = append(held, c)
		}
	}
	sort.Strings(held)
	cls = append(cls, held...)
	row := Row{Sample: s, Classes: cls}
	for _, c := range cls {
		if !r.prev[c] {
			row.Rises = append(row.Rises, c)
		}
	}
	r.prev = cur
	return row
}
