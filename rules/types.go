package rules

import (
	"fmt"
	"time"

	"github.com/logtally/logtally/observe"
)

// Pos is a position in a rule file. Line and Col are 1-based; a zero Line
// means the position is the whole file.
type Pos struct {
	File string
	Line int
	Col  int
}

// String formats the position as file:line:col, the form editors jump to.
func (p Pos) String() string {
	switch {
	case p.Line == 0:
		return p.File
	case p.Col == 0:
		return fmt.Sprintf("%s:%d", p.File, p.Line)
	default:
		return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
	}
}

// Stream types.
const (
	StreamFile = "file"
	StreamPipe = "pipe"
	// StreamJournal is the systemd journal, read with journalctl; unit:,
	// identifier: and match: select its entries.
	StreamJournal = "journal"
	// StreamObserve is a built-in host observable (the observe: list),
	// read from /proc and the kernel; Measurement.Observe says which.
	StreamObserve = "observe"
)

// Journal renderings: the text of a journal entry's line.
const (
	RenderMessage = "message" // the entry's MESSAGE
	RenderSyslog  = "syslog"  // "Dec 10 06:55:46 host sshd[24200]: MESSAGE", as journalctl -o short
)

// What a measurement makes of the lines in which syslog says a message
// was repeated (syslog_repeats).
const (
	// RepeatsExpand counts rsyslog's "message repeated N times: [ MSG ]"
	// as N lines of MSG (header kept), and BSD syslogd's "last message
	// repeated N times" as N more of the previous line.
	RepeatsExpand = "expand"
	// RepeatsOff matches those lines as they are, as any other line.
	RepeatsOff = "off"
)

// Pipe modes.
const (
	// PipeStream runs a long-lived command (journalctl -f) and restarts it
	// with backoff when it exits.
	PipeStream = "stream"
	// PipeInterval runs the command once per interval; its output is that
	// interval's stream.
	PipeInterval = "interval"
)

// Data types.
const (
	Counter = "counter"
	Int     = "int"
	Real    = "real"
	// Slist is CFEngine's list: the set of distinct values (the first
	// group of extraction_regex, or the whole line) of an interval; its
	// number is the value, the values are the keys.
	Slist = "slist"
	// String is the last value of an interval, as text.
	String = "string"
)

// Multiline policies: how the values extracted from several lines of one
// interval fold into one sample.
const (
	PolicySum     = "sum"
	PolicyAverage = "average"
	PolicyFirst   = "first"
	PolicyLast    = "last"
)

// History types.
const (
	HistoryWeekly = "weekly" // time-of-week baseline and classes
	HistoryScalar = "scalar" // current value only
	// HistoryStatic is CFEngine's synonym of HistoryScalar; a loaded
	// Measurement never has it.
	HistoryStatic = "static"
	HistoryLog    = "log" // every sample is kept and written out, no baseline
)

// Start positions for a file seen for the first time.
const (
	StartEnd       = "end"
	StartBeginning = "beginning"
)

// Key types: the validation applied to a key before it may reach a command.
const (
	KeyAny  = "any"  // any text; passed only as one argv element or env value
	KeyIP   = "ip"   // an IPv4 or IPv6 address and nothing else
	KeyWord = "word" // [A-Za-z0-9._@-]+, at most 256 bytes
)

// PerKey is the value of per: that makes a command or report fire once per
// source.
const PerKey = "key"

// Persistence policies, as CFEngine's: preserve keeps the first expiry while
// the class stays set; reset restarts the timer each time it is set again.
const (
	PersistPreserve = "preserve"
	PersistReset    = "reset"
)

// Set is the validated content of every rule file of a directory.
type Set struct {
	Files        []string // the files loaded, in load order
	Settings     Settings
	Measurements []*Measurement
	Watches      []*Watch // watch_files
	Classes      []*Class
	Commands     []*Command
	Reports      []*Report
	// Policy is the notice policy, in order: the first entry that
	// matches a notice decides what is done with it.
	Policy   []*PolicyEntry
	Warnings []Warning
	// Programs are the programs the daemon starts that can be checked
	// before it runs (CheckPrograms).
	Programs []Program
}

// Measurement is one measurement promise: a stream, a selection and a fold.
// Every field is after `for:` expansion and defaulting.
type Measurement struct {
	Pos    Pos
	Handle string // identifier, unique across all files

	StreamType string        // StreamFile, StreamPipe or StreamObserve
	Path       string        // file: path or glob
	Command    []string      // pipe: argv, never run through a shell
	PipeMode   string        // pipe: PipeStream or PipeInterval
	Timeout    time.Duration // pipe: PipeInterval run limit; 0 = the interval

	// journal: the entries of these units and syslog identifiers, and
	// FIELD=value matches (sorted); the line is rendered per Render; the
	// journal files of JournalDir instead of the system journal.
	JournalUnits, JournalIdentifiers, JournalMatches []string
	Render                                           string
	JournalDir                                       string
	// Observe is the observable of a StreamObserve measurement.
	Observe *observe.Spec

	DataType string // Counter, Int, Real, Slist or String
	Select   string // select_line_matching: must match the whole line
	// SelectLine is select_line_number: the measurement reads the n-th
	// line (from 1) of each snapshot of its stream instead of the lines
	// Select matches; 0 when it selects by pattern.
	SelectLine int
	Extract    string // extraction_regex: unanchored; first group is the value
	Key        string // key: unanchored; first group is the source key
	KeyType    string // KeyAny, KeyIP or KeyWord
	// IgnoreKeys are the keys whose lines are not counted (ignore_keys);
	// nil when none.
	IgnoreKeys *KeyFilter
	// TopKeys is the number of keys of an interval's key table (top_keys):
	// the most frequent, the others summed as one; 0 for no table.
	TopKeys      int
	Policy       string // select_multiline_policy
	TrackGrowing bool   // track_growing_file
	// SyslogRepeats is syslog_repeats: RepeatsExpand or RepeatsOff.
	SyslogRepeats string
	HistoryType   string
	Start         string // StartEnd or StartBeginning

	Timestamp string         // optional layout of the line's timestamp (Go layout or strftime)
	Location  *time.Location // timezone: for timestamps without a zone; nil = local

	Units       string
	Description string
	Tags        map[string]string

	Persist       time.Duration // how long _dev2/_anomaly classes persist
	PersistPolicy string        // PersistPreserve or PersistReset

	// IfElapsed is CFEngine's ifelapsed for a measurement: its snapshot
	// stream is sampled at most once per this period; the intervals in
	// between repeat the last value (weekly, scalar) or have none (log).
	// 0: every interval.
	IfElapsed time.Duration
	// ExpireAfter is CFEngine's expireafter: a sampling still running
	// after this is abandoned (its command killed) and the sample is a
	// gap. 0: the interval (or timeout).
	ExpireAfter time.Duration
	// Expect is the set an slist measurement should be (expect:); the
	// values outside it set <h>_unexpected, those missing <h>_missing.
	Expect []string

	// Noise is noise_threshold: a deviation from the expected value
	// smaller than this, in the measurement's units, is too small to
	// matter (a microanomaly at most). 0 means the default (5 for counts,
	// none for real values, as history.Config.Noise); negative means none
	// (noise_threshold: 0).
	Noise float64

	// AnomalyThreshold is anomaly_threshold: the alarm score from which a
	// sample sets the _anomaly classes (see interval.AlarmScore); 0 means
	// the baseline's own, 3.
	AnomalyThreshold float64
	// Budget is alarm_budget: the anomaly threshold adapts so that the
	// measurement raises about Budget.Alarms anomalies per period; nil
	// without.
	Budget *AlarmBudget
}

// AlarmBudget is a measurement's alarm_budget, "2/week": Spade's adaptive
// threshold, method 3. At the end of each period the threshold that
// would have raised exactly Alarms anomalies in it is its ideal; the
// threshold is the average of the ideals of the last Periods periods,
// never below the measurement's anomaly_threshold (or the default).
type AlarmBudget struct {
	Alarms  int           // anomaly rises per period
	Period  time.Duration // an hour, a day or a week
	Unit    string        // hour, day or week
	Periods int           // alarm_budget_periods: how many periods' ideals are averaged
}

// String is the budget as written: "2/week".
func (b *AlarmBudget) String() string { return fmt.Sprintf("%d/%s", b.Alarms, b.Unit) }

// Watch is one file-change watch of watch_files: CFEngine's changes body.
type Watch struct {
	Pos     Pos
	Handle  string
	Paths   []string // absolute paths, directories (recursively) and globs
	Exclude []string // globs, matched against the path (with a slash) or the base name
	Hash    string   // sha256, sha512 or best
	Report  string   // report_changes: all, content, stats or none
	Update  bool     // update_hashes
	// MaxBytes bounds the bytes hashed per interval; 0: the default.
	MaxBytes int64
	// MaxFiles bounds the entries listed; 0: the default.
	MaxFiles      int
	Persist       time.Duration // how long its classes persist
	PersistPolicy string
	Description   string
}

// Class is a user class defined by a class expression.
type Class struct {
	Pos           Pos
	Name          string
	Expr          *Expr
	Persist       time.Duration
	PersistPolicy string
	Description   string
	Priority      Priority // of the notices of its rises; 0 when not given
}

// Command is a remediation command run when its guard becomes true.
type Command struct {
	Pos         Pos
	Handle      string // identifies the command's ifelapsed lock; derived when not given
	If          *Expr
	Argv        []string          // $(var) references are expanded at run time
	Shell       bool              // explicit opt-in: run Argv[0] through /bin/sh -c
	IfElapsed   time.Duration     // at most once per this period
	Timeout     time.Duration     // the whole process group is killed after this
	ExpireAfter time.Duration     // a run still going after this is killed and reported
	Env         map[string]string // extra environment; values may use $(var)
	// PerKey, with per: key, are the keyed measurements its guard refers
	// to: it fires once per distinct top source of theirs, $(key); nil
	// without per.
	PerKey []string
	// Priority is that of the notices of the classes its guard names; 0
	// when not given.
	Priority Priority
}

// Report is a templated message emitted when its guard becomes true.
type Report struct {
	Pos       Pos
	Handle    string
	If        *Expr
	Message   string // $(var) references are expanded at run time
	To        string // "stderr", "syslog" or an absolute file path
	IfElapsed time.Duration
	PerKey    []string // as Command.PerKey
	Priority  Priority // as Command.Priority
}

// Settings are the global settings; at most one file may set each of them.
type Settings struct {
	Interval              time.Duration     // sampling interval; default 5m
	Location              *time.Location    // time zone of the weekly baseline; nil = local
	MaxLineLength         int               // bytes; longer lines are cut and counted; default 64 KiB
	RegexTimeout          time.Duration     // time limit of a line's regexp2 matches; default 100ms
	Host                  string            // host tag; default os.Hostname()
	Tags                  map[string]string // extra tags on every point
	HalfLife              time.Duration     // baseline forgetting; default 4 weeks
	MaxConcurrentCommands int               // default 4
	Outputs               []Output
	// FileChangeLog is where watch_files changes are logged, one JSON
	// object a line; "" is file_changes.jsonl beside the state file.
	FileChangeLog string
	// NoticeLog is where notices are logged, one JSON object a line; ""
	// is notices.jsonl beside the state file.
	NoticeLog string
	// Priorities give the notices of the classes matching a pattern a
	// priority (settings.priorities).
	Priorities []ClassPriority
	// Survey is settings.survey; its File is "" when there is none.
	Survey Survey
}

// Survey is where and how often `run` writes the survey: per period and
// measurement, the samples and the percentiles of their values and alarm
// scores.
type Survey struct {
	File   string
	Period time.Duration
}

// DefaultSurveyPeriod is the period of settings.survey.
const DefaultSurveyPeriod = time.Hour

// Output is one line-protocol destination.
type Output struct {
	Pos             Pos
	URL             string // "-" (stdout), file:///path, udp://host:port, http(s)://host:port
	API             string // "v1" or "v2" for HTTP; derived from the URL path when empty
	Database        string // v1
	RetentionPolicy string // v1
	Username        string // v1
	Password        string // v1
	Token           string // v2
	Org             string // v2
	Bucket          string // v2
	Precision       string // ns, us, ms, s; default s
	BatchSize       int
	FlushInterval   time.Duration
	Gzip            bool
	SpoolSize       int // points kept on disk while the destination is down
}

// Warning is something valid but risky, printed by `check`.
type Warning struct {
	Pos Pos
	Key string
	Msg string
}

// String formats the warning as file:line:col: key: message.
func (w Warning) String() string {
	if w.Key == "" {
		return fmt.Sprintf("%s: warning: %s", w.Pos, w.Msg)
	}
	return fmt.Sprintf("%s: warning: %s: %s", w.Pos, w.Key, w.Msg)
}
