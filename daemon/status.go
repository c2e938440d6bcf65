package daemon

import (
	"sort"
	"strings"
	"time"

	"github.com/logtally/logtally/actions"
	"github.com/logtally/logtally/follow"
	"github.com/logtally/logtally/interval"
	"github.com/logtally/logtally/state"
	"github.com/logtally/logtally/tripwire"
)

// Status is what a state file says: stream positions, and per measurement
// its last sample and total. `logtally status` prints it; it is read from a
// snapshot, so the daemon may be running.
type Status struct {
	CommittedEnd time.Time           `json:"committed_end"`
	Interval     string              `json:"interval"`
	Streams      []StreamStatus      `json:"streams"`
	Measurements []MeasurementStatus `json:"measurements"`
	// Classes are the classes set at the last committed interval, with the
	// expiry of persistent ones.
	Classes []actions.ActiveClass `json:"classes"`
	// Watches are the file watches: how far the last scan came, and how
	// many files differ from the baseline (update_hashes: no).
	Watches []WatchStatus `json:"watches,omitempty"`
	// Down are the streams that could not be read at their last committed
	// interval: their measurements' intervals are unavailable.
	Down []StreamDown `json:"down,omitempty"`
	// Unusable are the values that do not decode (a state file damaged
	// inside a record): the rest is shown without them, and the daemon
	// drops them when it starts.
	Unusable []UnusableValue `json:"unusable,omitempty"`
}

// UnusableValue is a value of the state file that does not decode.
type UnusableValue struct {
	Key string `json:"key"`
	Err string `json:"error"`
}

// StreamDown is a stream that cannot be read, since when and why.
type StreamDown struct {
	Source string    `json:"source"`
	Since  time.Time `json:"since"`
	Why    string    `json:"why"`
}

// WatchStatus is one file watch's committed state.
type WatchStatus struct {
	Handle      string            `json:"handle"`
	Progress    tripwire.Progress `json:"progress"`
	Outstanding int               `json:"outstanding"`
}

// StreamStatus is one followed file's saved position.
type StreamStatus struct {
	Source string `json:"source"`
	Path   string `json:"path"`
	Dev    uint64 `json:"dev"`
	Ino    uint64 `json:"ino"`
	Offset int64  `json:"offset"`
	// Cursor is where a journal stream resumes (its last entry's cursor).
	Cursor string `json:"cursor,omitempty"`
}

// MeasurementStatus is one measurement's committed state.
type MeasurementStatus struct {
	Handle string           `json:"handle"`
	Total  float64          `json:"total"`
	Since  time.Time        `json:"since,omitzero"`
	Count  uint64           `json:"samples"`
	Last   *interval.Sample `json:"last,omitempty"`
	Open   *interval.Open   `json:"open,omitempty"`
	// Threshold is the adaptive anomaly threshold of an alarm budget, at
	// the state file's interval.
	Threshold *interval.Adaptive `json:"threshold,omitempty"`
}

// ReadStatus reads the status of a state file.
func ReadStatus(store *state.Store) (*Status, error) {
	st := &Status{}
	// A value that does not decode is shown as unusable, not read: one
	// damaged record must not hide the rest.
	unusable := func(k string, err error) {
		st.Unusable = append(st.Unusable, UnusableValue{Key: k, Err: err.Error()})
	}
	err := store.View(func(tx *state.Tx) error {
		end, _, err := tx.Get(interval.KeyCommittedEnd)
		if err != nil {
			return err
		}
		if end != "" {
			if st.CommittedEnd, err = time.Parse(time.RFC3339Nano, end); err != nil {
				unusable(interval.KeyCommittedEnd, err)
			}
		}
		if st.Interval, _, err = tx.Get(interval.KeyInterval); err != nil {
			return err
		}
		if st.Classes, err = actions.ReadActive(tx); err != nil {
			return err
		}
		if err := tx.Ascend(prefixPos, func(k, v string) bool {
			var p follow.Position
			if err := decodeJSON(v, &p); err != nil {
				unusable(k, err)
				return true
			}
			src, path := splitPosKey(k)
			st.Streams = append(st.Streams, StreamStatus{Source: src, Path: path, Dev: p.Dev, Ino: p.Ino, Offset: p.Offset, Cursor: p.Cursor})
			return true
		}); err != nil {
			return err
		}
		if err := tx.Ascend(prefixDown, func(k, v string) bool {
			var o streamDown
			if err := decodeJSON(v, &o); err != nil {
				unusable(k, err)
				return true
			}
			st.Down = append(st.Down, StreamDown{Source: strings.TrimPrefix(k, prefixDown), Since: o.Since, Why: o.Why})
			return true
		}); err != nil {
			return err
		}
		byHandle := map[string]*MeasurementStatus{}
		get := func(h string) *MeasurementStatus {
			m := byHandle[h]
			if m == nil {
				m = &MeasurementStatus{Handle: h}
				byHandle[h] = m
			}
			return m
		}
		scan := func(prefix string, f func(h, v string) error) error {
			return tx.Ascend(prefix, func(k, v string) bool {
				if err := f(strings.TrimPrefix(k, prefix), v); err != nil {
					unusable(k, err)
				}
				return true
			})
		}
		if err := scan(interval.PrefixTotal, func(h, v string) error {
			var t interval.Total
			if err := decodeJSON(v, &t); err != nil {
				return err
			}
			m := get(h)
			m.Total, m.Since, m.Count = t.Total, t.Since, t.Samples
			return nil
		}); err != nil {
			return err
		}
		if err := scan(interval.PrefixSample, func(h, v string) error {
			var s interval.Sample
			if err := decodeJSON(v, &s); err != nil {
				return err
			}
			get(h).Last = &s
			return nil
		}); err != nil {
			return err
		}
		if err := scan(interval.PrefixOpen, func(h, v string) error {
			var o interval.Open
			if err := decodeJSON(v, &o); err != nil {
				return err
			}
			get(h).Open = &o
			return nil
		}); err != nil {
			return err
		}
		if st.Interval != "" {
			prefix := interval.PrefixThreshold + st.Interval + "/"
			if err := scan(prefix, func(h, v string) error {
				var a interval.Adaptive
				if err := decodeJSON(v, &a); err != nil {
					return err
				}
				get(h).Threshold = &a
				return nil
			}); err != nil {
				return err
			}
		}
		for _, m := range byHandle {
			st.Measurements = append(st.Measurements, *m)
		}
		handles, err := tripwire.Handles(tx)
		if err != nil {
			return err
		}
		for _, h := range handles {
			ws := WatchStatus{Handle: h}
			if _, err := tx.GetJSON(tripwire.Prefix+h+"/progress", &ws.Progress); err != nil {
				return err
			}
			if err := tx.Ascend(tripwire.Prefix+h+"/s/", func(string, string) bool { ws.Outstanding++; return true }); err != nil {
				return err
			}
			st.Watches = append(st.Watches, ws)
		}
		sort.Slice(st.Measurements, func(i, j int) bool { return st.Measurements[i].Handle < st.Measurements[j].Handle })
		return nil
	})
	return st, err
}
