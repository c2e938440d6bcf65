// Package web serves logtally's own HTTP endpoints on a loopback address:
// Prometheus /metrics and a one-page status view. Both are rendered from a
// View, a snapshot the daemon builds on each request; the package keeps no
// state of its own.
package web

import (
	"time"

	"github.com/logtally/logtally/history"
	"github.com/logtally/logtally/internal/buildinfo"
)

// Source gives the current View; the daemon implements it.
type Source interface {
	View() View
}

// View is a snapshot of a running daemon.
type View struct {
	Now      time.Time
	Started  time.Time
	Build    buildinfo.Info // the running binary's version and revision
	Host     string
	Rules    string
	State    string
	Interval time.Duration
	// IntervalStart is the start of the interval being accumulated.
	IntervalStart time.Time

	Measurements []MeasurementView
	Classes      []ClassView // every class set now
	// KnownClasses are the classes the rules can set, set now or not.
	KnownClasses []string
	Runs         []RunView // the last command and report runs, newest first
	Streams      []StreamView
	Outputs      []OutputView
	Self         SelfView
}

// MeasurementView is one measurement.
type MeasurementView struct {
	Handle      string
	Description string
	Units       string
	DataType    string
	HistoryType string
	// The last committed sample (nil fields when there is none or no value).
	LastEnd time.Time
	Value   *float64
	Av      *float64
	Dev     *float64
	Z       *float64
	Classes []string
	TopKey  string
	Total   float64
	// Cumulative counters since the daemon started.
	Lines         uint64
	Selected      uint64
	ExtractMisses uint64
	Timeouts      uint64
	KeyRejects    uint64
	Ignored       uint64 // selected lines of an ignored key (ignore_keys)
	// Keys is the last interval's key table (top_keys), Entropy the
	// normalised entropy of its keys.
	Keys    *KeysView
	Entropy *float64
	// Threshold is the anomaly threshold in force (weekly measurements):
	// anomaly_threshold, the default, or the adaptive one of Budget, the
	// alarm_budget ("" without).
	Threshold *float64
	Budget    string
	// The learned week and the last week's samples (weekly measurements),
	// or Graph, which returns them when a graph is drawn: a learned week
	// is 2016 forecasts, which a scrape of /metrics or the status page has
	// no use for (with 1000 weekly measurements, 110 MB and seconds of
	// work on every request).
	Week   []history.SlotStat
	Recent []history.Sample
	Graph  func() (week []history.SlotStat, recent []history.Sample)
}

// hasGraph reports whether the measurement has a week to draw.
func (m *MeasurementView) hasGraph() bool {
	return m.Graph != nil || len(m.Week) > 0 || len(m.Recent) > 0
}

// graph returns the learned week and the last week's samples.
func (m *MeasurementView) graph() ([]history.SlotStat, []history.Sample) {
	if m.Graph != nil {
		return m.Graph()
	}
	return m.Week, m.Recent
}

// KeysView is one interval's table of counts per key: the most frequent
// keys, and the others summed.
type KeysView struct {
	Top       []KeyRow
	Other     uint64 // count of the keys not in Top
	OtherKeys int    // how many keys that is
	Total     uint64
}

// KeyRow is one key of a KeysView.
type KeyRow struct {
	Key   string
	Count uint64
	Share float64 // of Total, 0 to 1
}

// ClassView is one class that is set, and until when it persists (zero when
// it is set only for this interval).
type ClassView struct {
	Name  string
	Until time.Time
}

// RunView is one run of a command or report.
type RunView struct {
	Handle   string
	Kind     string // "command" or "report"
	Guard    string
	Argv     []string
	Start    time.Time
	Duration time.Duration
	Exit     int
	Err      string
	Output   string // excerpt, already made safe to show
	DryRun   bool
}

// StreamView is one stream with its files and counters.
type StreamView struct {
	Source string
	Kind   string // file, whole, pipe, interval, observe
	Files  []FileView
	// Counters since the daemon started.
	Lines       uint64
	Bytes       uint64
	Cut         uint64
	Rotations   uint64
	Truncations uint64
	OpenErrors  uint64
	Restarts    uint64
	Kills       uint64
	Losses      uint64 // reports that lines may be, or are, lost
	LostBytes   uint64 // bytes proven lost
	// Down is set while the stream cannot be read (since DownSince, for
	// DownWhy): its measurements' intervals are unavailable. Unavailable
	// counts those intervals since the daemon started.
	Down        bool
	DownSince   time.Time
	DownWhy     string
	Unavailable uint64
}

// FileView is one followed file's committed position.
type FileView struct {
	Path   string
	Dev    uint64
	Ino    uint64
	Offset int64
}

// OutputView is one destination.
type OutputView struct {
	Name        string
	Sent        uint64
	Failures    uint64
	Invalid     uint64
	Depth       uint64
	DroppedFull uint64
	LastError   string
}

// SelfView are the daemon's own counters.
type SelfView struct {
	Commits        uint64
	CommitFailures uint64
	Reloads        uint64
	ReloadFailures uint64
	CommandRuns    uint64
	CommandFails   uint64
	Suppressed     uint64
}
