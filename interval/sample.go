package interval

import (
	"math"
	"time"

	"github.com/logtally/logtally/history"
)

// Sample is one closed interval of one measurement.
type Sample struct {
	Handle string    `json:"handle"`
	Start  time.Time `json:"start"`
	End    time.Time `json:"end"`
	// Value is nil when the interval gave no value (an int or real
	// measurement without a selected line, or a stream that could not be
	// read): a gap, not a zero.
	Value *float64 `json:"value"`
	Av    *float64 `json:"av,omitempty"`
	Dev   *float64 `json:"dev,omitempty"`
	Z     *float64 `json:"z,omitempty"`
	// Classes are the measurement's classes this interval.
	Classes []string `json:"classes,omitempty"`
	Lines   uint64   `json:"lines"` // lines its stream delivered in the interval
	Counts
	TopKey   string   `json:"top_key,omitempty"`
	TopCount uint64   `json:"top_count,omitempty"`
	Keys     int      `json:"keys,omitempty"`
	Entropy  *float64 `json:"entropy,omitempty"`
	// Partial marks an interval closed early by a shutdown; it is completed
	// by the next run.
	Partial bool `json:"partial,omitempty"`
	// CatchUp marks an interval of a downtime, filled from the backlog, or
	// one committed after the intervals that followed it.
	CatchUp bool `json:"catch_up,omitempty"`
	// Short marks an interval its stream observed only in part (it began
	// during the interval, with nothing to catch up): committed and counted
	// in the total, but neither scored nor learned, so that a partial count
	// never looks like a drop.
	Short bool `json:"short,omitempty"`

	// Score is the baseline's verdict, when the sample was scored.
	Score *history.Score `json:"-"`
}

// Scored reports whether the sample was scored against a baseline.
func (s *Sample) Scored() bool { return s.Score != nil }

// Total is the sum of every value committed for a measurement since the
// state file began.
type Total struct {
	Total   float64   `json:"total"`
	Samples uint64    `json:"samples"`
	Since   time.Time `json:"since"`
}

// Open is a partial interval committed at shutdown, continued by the next
// run.
type Open struct {
	Start    time.Time `json:"start"`
	Snapshot Snapshot  `json:"snapshot"`
	// Counted is the value already added to the total for this interval.
	Counted float64 `json:"counted"`
}

// finite returns a pointer to v, or nil when v is NaN or infinite.
func finite(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}
