package interval

import (
	"time"

	"github.com/logtally/logtally/rules"
	"github.com/logtally/logtally/timestamp"
)

// Dater finds the time of a line for each measurement of a group. The
// measurements of one stream may declare different timestamp layouts and
// zones; each distinct one is parsed at most once per line.
type Dater struct {
	parsers []*timestamp.Parser
	of      []int // measurement index → parser index
	done    []bool
	at      []time.Time
	ok      []bool
}

// NewDater returns a Dater for the measurements of a group, in order.
func NewDater(ms []*rules.Measurement) *Dater {
	type key struct{ layout, loc string }
	d := &Dater{of: make([]int, len(ms))}
	seen := map[key]int{}
	for i, m := range ms {
		k := key{layout: m.Timestamp}
		if m.Location != nil {
			k.loc = m.Location.String()
		}
		idx, ok := seen[k]
		if !ok {
			p, err := timestamp.New(m.Timestamp, m.Location)
			if err != nil {
				// rules validated the layout; fall back to the built-in formats.
				p, _ = timestamp.New("", m.Location)
			}
			idx = len(d.parsers)
			d.parsers = append(d.parsers, p)
			seen[k] = idx
		}
		d.of[i] = idx
	}
	d.done = make([]bool, len(d.parsers))
	d.at = make([]time.Time, len(d.parsers))
	d.ok = make([]bool, len(d.parsers))
	return d
}

// Reset forgets the times of the previous line.
func (d *Dater) Reset() {
	for i := range d.done {
		d.done[i] = false
	}
}

// Time returns the time of line for measurement i (ref anchors formats
// without a year). Call Reset before each new line.
func (d *Dater) Time(i int, line []byte, ref time.Time) (time.Time, bool) {
	p := d.of[i]
	if !d.done[p] {
		d.at[p], d.ok[p] = d.parsers[p].Parse(line, ref)
		d.done[p] = true
	}
	return d.at[p], d.ok[p]
}
