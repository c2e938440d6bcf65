package daemon

import (
	"encoding/json"
	"sort"
	"strings"
	"time"

	"github.com/logtally/logtally/interval"
	"github.com/logtally/logtally/rules"
	"github.com/logtally/logtally/state"
)

// prefixDown keys the outage of a stream that cannot be read
// (down/<source>: streamDown); absent while it can be.
const prefixDown = "down/"

// streamDown is an outage of a stream, as the state file keeps it.
type streamDown struct {
	Since time.Time `json:"since"` // the first interval it could not be read in
	Why   string    `json:"why"`
}

// reason says why a stream could not be read at end, the end of an
// interval, from what its follower knows now, or "" when it could be: a file stream with no
// file open (missing, unreadable), a stream command or journalctl that
// failed to start, exited or was killed. One that has not started yet is
// starting, not down (the first interval may end before a loaded machine
// has started it). An interval command and a whole-file read say so when
// they end.
func reason(s *stream, end time.Time) string {
	switch s.kind {
	case interval.KindFile:
		if s.files != nil && s.files.Open() == 0 {
			return "no file to read: " + s.path + " is missing or cannot be opened"
		}
	case interval.KindPipe:
		if s.pipe != nil && s.pipe.DownAt(end) {
			return "the command is not running"
		}
	case interval.KindJournal:
		if s.journal != nil && s.journal.DownAt(end) {
			return "journalctl is not running"
		}
	}
	return ""
}

// availability follows each stream's availability through the intervals
// it hands over: the first unavailable interval of an outage is logged
// (WARN, once), and so is the first available one after it (INFO); each
// unavailable interval is counted. It returns the state writes that keep
// the outages (down/<source>) for `status`. Callers hold d.mu.
func (d *Daemon) availability(in gathered) interval.Writes {
	var ws interval.Writes
	streams := make([]*stream, 0, len(in.taken))
	for s := range in.taken {
		streams = append(streams, s)
	}
	sort.Slice(streams, func(i, j int) bool { return streams[i].source < streams[j].source })
	for _, s := range streams {
		t := in.taken[s]
		for i, start := range t.starts {
			why := t.down[i]
			switch {
			case why != "":
				s.unavailable++
				if !s.down {
					s.down, s.downSince, s.downWhy = true, start, why
					b, _ := json.Marshal(streamDown{Since: start, Why: why}) // a time and a string: always encodes
					ws = append(ws, interval.Write{Key: prefixDown + s.source, Value: string(b)})
				}
				if !s.warned {
					s.warned = true
					s.quiet.Store(true)
					d.log.Warn("stream unavailable: its measurements have no value, and learn nothing, until it can be read again",
						"stream", s.source, "since", s.downSince, "why", why, "classes", unavailableClasses(s))
				}
			case s.down:
				d.log.Info("stream available again", "stream", s.source, "down_since", s.downSince,
					"intervals_unavailable", s.unavailable-s.unavailableBefore)
				s.down, s.warned = false, false
				s.quiet.Store(false)
				ws = append(ws, interval.Write{Key: prefixDown + s.source, Delete: true})
			}
			if !s.down {
				s.unavailableBefore = s.unavailable
			}
		}
	}
	return ws
}

// unavailableClasses lists the classes a stream's outage sets.
func unavailableClasses(s *stream) string {
	var out []string
	for _, m := range s.group.Measurements {
		out = append(out, interval.UnavailableClass(m.Handle))
	}
	return strings.Join(out, " ")
}

// loadDown reads the outage of a stream that the state file keeps, so that
// its end is logged and cleared. Callers own s.
func loadDown(tx *state.Tx, s *stream) error {
	var o streamDown
	ok, err := tx.GetJSON(prefixDown+s.source, &o)
	if err != nil || !ok {
		return err
	}
	s.down, s.downSince, s.downWhy = true, o.Since, o.Why
	return nil
}

// migrateDown renames the outages of command streams kept under their old
// names, whose argv was joined with NUL bytes ("pipe:interval:ss\x00-ltn"),
// to the names streams have now (interval.SourceOf: "pipe:interval:ss
// -ltn"), so that an outage recorded before an upgrade ends as one.
func migrateDown(tx *state.Tx) error {
	type rename struct{ from, to, value string }
	var rs []rename
	if err := tx.Ascend(prefixDown+"pipe:", func(k, v string) bool {
		src := strings.TrimPrefix(k, prefixDown)
		rest := strings.TrimPrefix(src, "pipe:")
		mode, argv, ok := strings.Cut(rest, ":")
		if ok && strings.Contains(argv, "\x00") {
			rs = append(rs, rename{k, prefixDown + "pipe:" + mode + ":" + rules.QuoteArgv(strings.Split(argv, "\x00")), v})
		}
		return true
	}); err != nil {
		return err
	}
	for _, r := range rs {
		if err := tx.Delete(r.from); err != nil {
			return err
		}
		if err := tx.Set(r.to, r.value); err != nil {
			return err
		}
	}
	return nil
}
