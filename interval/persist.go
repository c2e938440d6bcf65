package interval

import (
	"github.com/logtally/logtally/history"
	"github.com/logtally/logtally/rules"
)

// Row is one interval of a replayed measurement: its sample, its classes
// (with the measurement's persistence applied, as the daemon keeps them)
// and the classes that rose (set now and not at the previous row).
type Row struct {
	*Sample
	Classes []string
	Rises   []string
}

// Rows follows one measurement's classes over the samples of a replay,
// with the measurement's persistence and policy (history.Hold, which the
// actions engine applies to the same classes in the daemon).
type Rows struct {
	hold *history.Hold
}

// NewRows returns a Rows for measurement m.
func NewRows(m *rules.Measurement) *Rows {
	return &Rows{hold: history.NewHold(m.Persist, m.PersistPolicy == rules.PersistReset)}
}

// Add returns the row of the next sample, in time order.
func (r *Rows) Add(s *Sample) Row {
	cls, rises := r.hold.Add(s.End, s.Classes)
	return Row{Sample: s, Classes: cls, Rises: rises}
}
