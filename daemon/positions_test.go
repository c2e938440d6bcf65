package daemon

import (
	"log/slog"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/logtally/logtally/follow"
	"github.com/logtally/logtally/internal/ruletest"
	"github.com/logtally/logtally/interval"
	"github.com/logtally/logtally/match"
	"github.com/logtally/logtally/rules"
	"github.com/logtally/logtally/state"
)

// TestPositionsCommittedWithTheirCounts drives a file stream's events, as
// the follower reports them around copytruncate with compress and a
// kill -9, into a real state file: what is saved at once (before any
// commit), and what one commit then leaves saved. A position is saved
// outside a commit only where no line read before it is pending, and a
// commit deletes the position of every file that ended under a name in
// its intervals, whichever of them the state file still holds.
func TestPositionsCommittedWithTheirCounts(t *testing.T) {
	const (
		src  = "/l/a.log"
		cp1  = "/l/a.log.1"
		gz1  = "/l/a.log.1.gz"
		gz2  = "/l/a.log.2.gz"
		base = uint64(100)
	)
	pos := func(path string, ino uint64, off int64) follow.Position {
		return follow.Position{Path: path, Dev: 1, Ino: ino, Offset: off}
	}
	id := func(path string, ino uint64) follow.Position { return follow.Position{Path: path, Dev: 1, Ino: ino} }
	type step struct {
		e     *follow.Event
		batch *follow.Position // a batch of lines ending there
	}
	ev := func(kind follow.EventKind, path string, p follow.Position) step {
		return step{e: &follow.Event{Kind: kind, Source: src, Path: path, Pos: p}}
	}
	lines := func(end follow.Position) step { return step{batch: &end} }
	cases := []struct {
		name string
		// saved before the daemon starts (by an earlier run)
		before map[string]follow.Position
		steps  []step
		// saved at once, before the commit (a kill -9 finds these)
		atOnce map[string]follow.Position
		// saved after the commit of the interval
		after map[string]follow.Position
	}{{
		// The log was read to 4000 in this interval, then copied away and
		// truncated: the copy is opened at 4000. Saved at once, that
		// offset would tell a restart after a kill -9 that the lines the
		// commit never counted were read (2600 of 3000).
		name:   "copy opened at the offset its original was read to",
		before: map[string]follow.Position{src: pos(src, base, 0)},
		steps: []step{
			lines(pos(src, base, 4000)),
			ev(follow.EventOpen, cp1, pos(cp1, 7, 4000)),
			ev(follow.EventClose, cp1, id(cp1, 7)),
			ev(follow.EventTruncate, src, pos(src, base, 0)),
		},
		atOnce: map[string]follow.Position{src: pos(src, base, 0)},
		after:  map[string]follow.Position{src: pos(src, base, 0)},
	}, {
		// A file rotated in and away while stopped is read whole: its
		// start may be saved at once (nothing before it is pending).
		name:   "file read whole from its start",
		before: map[string]follow.Position{src: pos(src, base, 10)},
		steps: []step{
			ev(follow.EventOpen, gz1, pos(gz1, 8, 0)),
			lines(pos(gz1, 8, 8500)),
			ev(follow.EventClose, gz1, id(gz1, 8)),
		},
		atOnce: map[string]follow.Position{src: pos(src, base, 10), gz1: pos(gz1, 8, 0)},
		after:  map[string]follow.Position{src: pos(src, base, 10)},
	}, {
		// The state file still holds a.log.1.gz of file X at offset 0
		// (read whole, then a kill -9 before the commit). At the restart
		// X has become a.log.2.gz and is read again (rightly, its counts
		// were never committed); another file Y, a.log.1.gz now, is read
		// whole. Both end. Kept, X's old position would have it read a
		// third time at the next restart (850 lines counted twice).
		name:   "two files end under one name in one interval",
		before: map[string]follow.Position{src: pos(src, base, 10), gz1: pos(gz1, 8, 0)},
		steps: []step{
			ev(follow.EventMove, gz1, pos(gz2, 8, 0)),
			ev(follow.EventResume, gz2, pos(gz2, 8, 0)),
			ev(follow.EventOpen, gz1, pos(gz1, 9, 0)),
			lines(pos(gz2, 8, 8500)),
			ev(follow.EventClose, gz2, id(gz2, 8)),
			lines(pos(gz1, 9, 4500)),
			ev(follow.EventClose, gz1, id(gz1, 9)),
		},
		atOnce: map[string]follow.Position{src: pos(src, base, 10), gz1: pos(gz1, 8, 0)},
		after:  map[string]follow.Position{src: pos(src, base, 10)},
	}, {
		// A saved plain file found again as its gzip twin (a new inode)
		// ends its old position by its old identity.
		name:   "saved file found again compressed",
		before: map[string]follow.Position{src: pos(src, base, 0), cp1: pos(cp1, 7, 4000)},
		steps: []step{
			ev(follow.EventClose, cp1, id(cp1, 7)),
			ev(follow.EventResume, gz1, pos(gz1, 9, 4000)),
			ev(follow.EventClose, gz1, id(gz1, 9)),
		},
		atOnce: map[string]follow.Position{src: pos(src, base, 0), cp1: pos(cp1, 7, 4000)},
		after:  map[string]follow.Position{src: pos(src, base, 0)},
	}, {
		// Another file's position that took the name is kept.
		name:   "name taken by another file",
		before: map[string]follow.Position{src: pos(src, base, 10), gz1: pos(gz1, 8, 0)},
		steps: []step{
			ev(follow.EventMove, gz1, pos(gz2, 8, 0)),
			ev(follow.EventOpen, gz1, pos(gz1, 9, 0)),
			lines(pos(gz1, 9, 100)),
			ev(follow.EventClose, gz2, id(gz2, 8)),
		},
		atOnce: map[string]follow.Position{src: pos(src, base, 10), gz1: pos(gz1, 8, 0)},
		after:  map[string]follow.Position{src: pos(src, base, 10), gz1: pos(gz1, 9, 100)},
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			store, err := state.Open(filepath.Join(t.TempDir(), "state.db"), state.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer store.Close()
			if err := store.Update(func(tx *state.Tx) error {
				for k, p := range tc.before {
					if err := tx.SetJSON(posKey(src, k), p); err != nil {
						return err
					}
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			d := &Daemon{store: store, log: slog.New(slog.DiscardHandler)}
			s := positionStream(t, src)
			s.saveStart = d.saveStart(src)
			for _, st := range tc.steps {
				if st.e != nil {
					s.Event(*st.e)
				} else {
					s.Batch(&follow.Batch{Source: src, Lines: []follow.Line{{Data: []byte("x")}}, End: *st.batch})
				}
			}
			if got := savedOf(t, store, src); !equalPositions(got, tc.atOnce) {
				t.Errorf("saved before the commit:\n got %v\nwant %v", got, tc.atOnce)
			}
			at := s.arrival
			s.cut(at, at.Add(time.Minute), "")
			tk, ok := s.take(at)
			if !ok {
				t.Fatal("the interval is not complete")
			}
			closed := ended{}
			positions := map[string]follow.Position{}
			for p, v := range tk.positions {
				positions[posKey(src, p)] = v
			}
			for p, ids := range tk.closed {
				closed[posKey(src, p)] = ids
			}
			if err := store.Update(func(tx *state.Tx) error { return writePositions(tx, positions, closed) }); err != nil {
				t.Fatal(err)
			}
			if got := savedOf(t, store, src); !equalPositions(got, tc.after) {
				t.Errorf("saved after the commit:\n got %v\nwant %v", got, tc.after)
			}
		})
	}
}

// positionStream returns a file stream of one counter over src, in the
// interval starting at 10:00.
func positionStream(t *testing.T, src string) *stream {
	t.Helper()
	m := ruletest.Measurement("all", rules.Counter, "", ".*", "", "", "")
	m.Path = src
	g, err := interval.NewGroup(src, []*rules.Measurement{m}, match.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s := &stream{source: src, kind: interval.KindFile, path: src, interval: time.Minute,
		log: slog.New(slog.DiscardHandler), parts: map[int64]*part{},
		arrival: time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)}
	s.setGroup(g)
	return s
}

// savedOf reads the positions saved for src.
func savedOf(t *testing.T, store *state.Store, src string) map[string]follow.Position {
	t.Helper()
	var got map[string]follow.Position
	if err := store.View(func(tx *state.Tx) error {
		var err error
		got, err = savedPositions(tx, src)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return got
}

// equalPositions compares saved positions by name, identity and offset.
func equalPositions(got, want map[string]follow.Position) bool {
	keys := func(m map[string]follow.Position) []string {
		out := make([]string, 0, len(m))
		for k := range m {
			out = append(out, k)
		}
		slices.Sort(out)
		return out
	}
	if !slices.Equal(keys(got), keys(want)) {
		return false
	}
	for k, w := range want {
		g := got[k]
		if g.Dev != w.Dev || g.Ino != w.Ino || g.Offset != w.Offset {
			return false
		}
	}
	return true
}
