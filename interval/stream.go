package interval

import (
	"fmt"
	"strings"

	"github.com/logtally/logtally/match"
	"github.com/logtally/logtally/repeats"
	"github.com/logtally/logtally/rules"
)

// Kind is the kind of stream a measurement reads. It decides how the
// daemon follows the stream and when an interval of it is unavailable.
type Kind string

// Kinds of stream.
const (
	KindFile     Kind = "file"     // a growing file (path or glob), followed
	KindWhole    Kind = "whole"    // track_growing_file: false: the whole file, read each interval
	KindPipe     Kind = "pipe"     // a long-running command, streamed
	KindInterval Kind = "interval" // a command run once per interval
	// KindObserve is the host observables (observe:), sampled once per
	// interval rather than read as lines.
	KindObserve Kind = "observe"
	// KindJournal is the systemd journal, followed from a cursor; its
	// lines carry their own time.
	KindJournal Kind = "journal"
)

// KindOf returns the kind of stream m reads.
func KindOf(m *rules.Measurement) Kind {
	switch {
	case m.StreamType == rules.StreamObserve:
		return KindObserve
	case m.StreamType == rules.StreamJournal:
		return KindJournal
	case m.StreamType == rules.StreamPipe && m.PipeMode == rules.PipeInterval:
		return KindInterval
	case m.StreamType == rules.StreamPipe:
		return KindPipe
	case !m.TrackGrowing:
		return KindWhole
	default:
		return KindFile
	}
}

// SourceOf names the stream m reads; measurements with the same source
// share one stream: one follower, one pass of each line, one Group. A
// command stream is named by its mode and its command line as a shell
// would read it ("pipe:interval:/bin/sh -c 'ss -ltn'"): readable in logs,
// status and metrics, and one name per argv.
func SourceOf(m *rules.Measurement) string {
	switch KindOf(m) {
	case KindObserve:
		return "observe"
	case KindPipe, KindInterval:
		return "pipe:" + m.PipeMode + ":" + rules.QuoteArgv(m.Command)
	case KindWhole:
		return "whole:" + m.Path
	case KindJournal:
		return JournalSource(m)
	default:
		return m.Path
	}
}

// JournalSource names the journal stream of m by what it selects and
// how it renders it: "journal:" and its units, identifiers, matches,
// directory and rendering, e.g. "journal:unit=ssh.service,identifier=sshd".
// Measurements that select the same entries the same way share the
// stream (and its cursor).
func JournalSource(m *rules.Measurement) string {
	var parts []string
	for _, u := range m.JournalUnits {
		parts = append(parts, "unit="+u)
	}
	for _, i := range m.JournalIdentifiers {
		parts = append(parts, "identifier="+i)
	}
	parts = append(parts, m.JournalMatches...)
	if m.JournalDir != "" {
		parts = append(parts, "directory="+m.JournalDir)
	}
	if m.Render == rules.RenderSyslog {
		parts = append(parts, "render=syslog")
	}
	return "journal:" + strings.Join(parts, ",")
}

// Group is the measurements that read one stream, compiled into one
// match.Set so that each line is matched once for all of them.
type Group struct {
	Source       string   // the stream's name (SourceOf), or the override of Groups
	Kind         Kind     // the kind of stream
	Path         string   // file kinds: the path or glob; with an override, the override
	Command      []string // pipe kinds: the command
	Measurements []*rules.Measurement
	set          *match.Set
	// lineSel is each measurement's select_line_number (0: by pattern);
	// nil when none selects by number.
	lineSel []int
	// repeatOf is, by measurement, the form of line whose syslog repeats
	// it expands (noRepeats: none); expands[f] says whether a measurement
	// expands form f, all[f] whether every one does.
	repeatOf     []int8
	expands, all [2]bool
}

// noRepeats is the repeatOf of a measurement that takes repeat lines as
// they are (syslog_repeats: off, a line number, an observable).
const noRepeats = -1

// repeatForm returns the form of line whose repeats m expands, or
// noRepeats: a journal entry's MESSAGE is bare, other lines begin with a
// syslog header.
func repeatForm(m *rules.Measurement) int8 {
	switch {
	case m.SyslogRepeats == rules.RepeatsOff || m.SelectLine > 0 || m.StreamType == rules.StreamObserve:
		return noRepeats
	case m.StreamType == rules.StreamJournal && m.Render != rules.RenderSyslog:
		return int8(repeats.Bare)
	default:
		return int8(repeats.Header)
	}
}

// parseRepeat returns what a whole line says of repeats, in the forms
// the group's measurements expand.
func (g *Group) parseRepeat(line []byte) (repeats.Repeat, repeats.Form) {
	for form, on := range g.expands {
		if on {
			if r := repeats.Parse(line, repeats.Form(form)); r.Kind != repeats.None {
				return r, repeats.Form(form)
			}
		}
	}
	return repeats.Repeat{}, 0
}

// ContinuesPrevious reports whether line (whole) is BSD syslogd's "last
// message repeated N times", which a measurement of the group counts as
// N more of the line before: a stream folded in parts is not split there.
func (g *Group) ContinuesPrevious(line []byte) bool {
	r, _ := g.parseRepeat(line)
	return r.Kind == repeats.Previous
}

// expanding reports whether the group expands repeat lines of some form.
func (g *Group) expanding() bool { return g.expands[0] || g.expands[1] }

// NewGroup compiles the measurements of one stream, which are all of the
// kind and source of the first.
func NewGroup(source string, ms []*rules.Measurement, opts match.Options) (*Group, error) {
	specs := make([]match.Spec, len(ms))
	var lineSel []int
	for i, m := range ms {
		specs[i] = match.Spec{Select: m.Select, Extract: m.Extract, Key: m.Key}
		if n := m.SelectLine; n > 0 || m.StreamType == rules.StreamObserve {
			// select_line_number: every line is a candidate; Fold keeps
			// the one with the number. An observable takes no line (-1).
			specs[i].Select = ".*"
			if lineSel == nil {
				lineSel = make([]int, len(ms))
			}
			if n == 0 {
				n = -1
			}
			lineSel[i] = n
		}
		if (m.DataType == rules.Slist || m.DataType == rules.String) && m.Extract == "" {
			specs[i].Extract = "^(.*)$" // the value is the whole line
		}
	}
	set, err := match.Compile(specs, opts)
	if err != nil {
		return nil, fmt.Errorf("compile %s: %w", source, err)
	}
	g := &Group{Source: source, Measurements: ms, set: set, lineSel: lineSel, repeatOf: make([]int8, len(ms))}
	g.all = [2]bool{true, true}
	for i, m := range ms {
		f := repeatForm(m)
		g.repeatOf[i] = f
		for form := range g.all {
			g.all[form] = g.all[form] && f == int8(form)
		}
		if f != noRepeats {
			g.expands[f] = true
		}
	}
	if len(ms) > 0 {
		g.Kind, g.Path, g.Command = KindOf(ms[0]), ms[0].Path, ms[0].Command
	}
	return g, nil
}

// Set returns the group's compiled matcher set.
func (g *Group) Set() *match.Set { return g.set }

// Groups groups measurements by the stream they read (SourceOf); or all of
// them into one group reading override, when it is not empty (`test --log`
// replaces the stream of every measurement: a captured command output tests
// pipe rules as a copied log tests file rules). Order follows the
// measurements' order. Observables, which are sampled rather than read, are
// in no group.
func Groups(ms []*rules.Measurement, override string, opts match.Options) ([]*Group, error) {
	var order []string
	by := map[string][]*rules.Measurement{}
	for _, m := range ms {
		if m.StreamType == rules.StreamObserve {
			continue
		}
		src := SourceOf(m)
		if override != "" {
			src = override
		}
		if _, ok := by[src]; !ok {
			order = append(order, src)
		}
		by[src] = append(by[src], m)
	}
	groups := make([]*Group, 0, len(order))
	for _, src := range order {
		g, err := NewGroup(src, by[src], opts)
		if err != nil {
			return nil, err
		}
		if override != "" {
			g.Kind, g.Path, g.Command = KindFile, override, nil
		}
		groups = append(groups, g)
	}
	return groups, nil
}
