package interval

import (
	"cmp"
	"math"
	"slices"
	"strconv"
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
	// KeyTable is the interval's per-key counts: the rule's top_keys most
	// frequent keys and the rest summed; nil without a key or a table.
	KeyTable *KeyTable `json:"key_table,omitempty"`
	// Set is the members of a set measurement (slist, listening_ports),
	// in natural order; Unexpected and Missing compare it with expect:.
	Set        []string `json:"set,omitempty"`
	Unexpected []string `json:"unexpected,omitempty"`
	Missing    []string `json:"missing,omitempty"`
	Expected   []string `json:"-"` // the rule's expect: list

	// Text is the value of a string measurement.
	Text string `json:"text,omitempty"`
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
	// Unavailable marks an interval in which the measurement's stream
	// could not be read throughout (its file missing or unreadable at the
	// interval's end, its command failing, exiting, not started or
	// killed): it has the class h_unavailable, and the baseline learns
	// nothing of it. Without a line read it has no value (a gap, not a
	// zero); lines read before the stream failed are counted.
	Unavailable bool `json:"unavailable,omitempty"`

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

// SortNatural sorts set members in natural order: a leading number compares
// as a number ("80 httpd" before "443 httpd"), the rest as text.
func SortNatural(items []string) {
	slices.SortFunc(items, compareNatural)
}

func compareNatural(a, b string) int {
	na, ra := leadingNumber(a)
	nb, rb := leadingNumber(b)
	switch {
	case na >= 0 && nb >= 0:
		return cmp.Or(cmp.Compare(na, nb), cmp.Compare(ra, rb), cmp.Compare(a, b))
	case na >= 0:
		return -1
	case nb >= 0:
		return 1
	}
	return cmp.Compare(a, b)
}

// leadingNumber splits s into its leading decimal number (-1 when none)
// and the rest.
func leadingNumber(s string) (int64, string) {
	i := 0
	for i < len(s) && i < 18 && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == 0 {
		return -1, s
	}
	n, err := strconv.ParseInt(s[:i], 10, 64)
	if err != nil {
		return -1, s
	}
	return n, s[i:]
}
