package follow

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Defaults of FileConfig.
const (
	DefaultPollEvery   = time.Second
	DefaultRotateGrace = 5 * time.Second
)

// FileConfig says which files to follow and how.
type FileConfig struct {
	Paths []string // paths or globs (filepath.Match syntax)
	// Start is where a file seen for the first time at startup begins:
	// "end" (the default: just after its last complete line) or
	// "beginning". A file that appears later is always read from its
	// start.
	Start string
	// Saved holds positions from the state file, by Position.Path.
	Saved map[string]Position
	// Watch is "inotify" (the default) or "poll".
	Watch string
	// PollEvery is the poll period, and the safety re-check period under
	// inotify (DefaultPollEvery when zero).
	PollEvery time.Duration
	// RotateGrace is how long a rotated-away file is still read after the
	// new file appears, extended while it keeps growing, so that lines a
	// writer appends before it reopens are not lost (DefaultRotateGrace
	// when zero).
	RotateGrace time.Duration
	MaxLine     int          // line length limit (lines.DefaultMax when zero)
	Clock       Clock        // injectable; SystemClock when nil
	Logger      *slog.Logger // discarded when nil
}

// Files follows a set of files and globs. Create it with NewFiles; run it
// with Run.
type Files struct {
	cfg     FileConfig
	stats   statsTable
	syncReq chan *syncRequest
	running atomic.Bool
	open    atomic.Int64 // names with a file or FIFO open, after the last check
}

// NewFiles checks cfg and returns a follower. It starts no goroutine and
// touches no file: Run does.
func NewFiles(cfg FileConfig) (*Files, error) {
	if len(cfg.Paths) == 0 {
		return nil, errors.New("new files: no path to follow")
	}
	paths := make([]string, 0, len(cfg.Paths))
	for _, p := range cfg.Paths {
		if p == "" {
			return nil, errors.New("new files: empty path")
		}
		if _, err := filepath.Match(p, ""); err != nil {
			return nil, fmt.Errorf("new files: path %q: %w", p, err)
		}
		paths = append(paths, filepath.Clean(p))
	}
	cfg.Paths = paths
	switch cfg.Start {
	case "":
		cfg.Start = "end"
	case "end", "beginning":
	default:
		return nil, fmt.Errorf("new files: start %q: want \"end\" or \"beginning\"", cfg.Start)
	}
	switch cfg.Watch {
	case "":
		cfg.Watch = "inotify"
	case "inotify", "poll":
	default:
		return nil, fmt.Errorf("new files: watch %q: want \"inotify\" or \"poll\"", cfg.Watch)
	}
	switch {
	case cfg.PollEvery < 0:
		return nil, fmt.Errorf("new files: poll period %v is negative", cfg.PollEvery)
	case cfg.PollEvery == 0:
		cfg.PollEvery = DefaultPollEvery
	}
	switch {
	case cfg.RotateGrace < 0:
		return nil, fmt.Errorf("new files: rotate grace %v is negative", cfg.RotateGrace)
	case cfg.RotateGrace == 0:
		cfg.RotateGrace = DefaultRotateGrace
	}
	if cfg.MaxLine < 0 {
		return nil, fmt.Errorf("new files: max line %d is negative", cfg.MaxLine)
	}
	if cfg.Clock == nil {
		cfg.Clock = SystemClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Files{cfg: cfg, syncReq: make(chan *syncRequest)}, nil
}

// Stats returns a snapshot of the counters, by source.
func (f *Files) Stats() map[string]SourceStats { return f.stats.snapshot() }

// Open returns how many followed names had a file or FIFO open at the end
// of the last check (after Sync, the check it asked for): 0 while no file
// of the stream exists or can be opened, and before Run's first check.
func (f *Files) Open() int { return int(f.open.Load()) }

// syncRequest is one Sync call: done is closed once a check made after
// the call has delivered everything readable from the regular files; fifos
// are then the FIFOs to wait for.
type syncRequest struct {
	done  chan struct{}
	fifos []fifoMark
}

// fifoSyncPoll is how often Sync looks whether the FIFO readers have
// caught up.
const fifoSyncPoll = 2 * time.Millisecond

// Sync makes a running follower check every file now and returns once that
// check has delivered everything readable, and every FIFO's reader has
// delivered what was written to it before. The daemon calls it before it
// closes an interval or shuts down, so that lines written up to that moment
// are counted in it (lines still in a FIFO when logtally exits are gone).
func (f *Files) Sync(ctx context.Context) error {
	req := &syncRequest{done: make(chan struct{})}
	select {
	case f.syncReq <- req:
	case <-ctx.Done():
		return fmt.Errorf("sync: %w", ctx.Err())
	}
	select {
	case <-req.done:
	case <-ctx.Done():
		return fmt.Errorf("sync: %w", ctx.Err())
	}
	if len(req.fifos) == 0 {
		return nil
	}
	tick := time.NewTicker(fifoSyncPoll)
	defer tick.Stop()
	for _, m := range req.fifos {
		for !m.caughtUp() {
			select {
			case <-tick.C:
			case <-ctx.Done():
				return fmt.Errorf("sync fifo: %w", ctx.Err())
			}
		}
	}
	return nil
}

// Run follows the files, delivering to h, until ctx is done; then it closes
// every file and returns nil. Nothing a file does makes it fail: errors are
// reported as Events and retried. It returns an error only when called
// while already running.
func (f *Files) Run(ctx context.Context, h Handler) error {
	if !f.running.CompareAndSwap(false, true) {
		return errors.New("run files: already running")
	}
	defer f.running.Store(false)

	s := newScanner(f.cfg, &sink{h: h, mu: new(sync.Mutex), stats: &f.stats, log: f.cfg.Logger},
		func() bool { return ctx.Err() != nil })
	defer s.closeAll()

	var (
		watcher *fsnotify.Watcher
		events  <-chan fsnotify.Event
		errs    <-chan error
	)
	if f.cfg.Watch == "inotify" {
		w, err := fsnotify.NewWatcher()
		if err != nil {
			// Out of inotify instances, for example: polling still works.
			f.cfg.Logger.Warn("inotify unavailable, polling instead", "err", err, "every", f.cfg.PollEvery)
		} else {
			watcher, events, errs = w, w.Events, w.Errors
			defer w.Close()
		}
	}

	var syncs []*syncRequest
	full := true
	var tick <-chan time.Time
	defer f.open.Store(0)
	for {
		s.scan(full)
		f.open.Store(int64(s.openNames()))
		if watcher != nil && (full || s.dirsChanged) {
			s.watch(watcher)
		}
		full = false
		if !s.more {
			for _, req := range syncs {
				req.fifos = s.fifoMarks()
				close(req.done)
			}
			syncs = syncs[:0]
		}

		if tick == nil {
			tick = f.cfg.Clock.After(f.cfg.PollEvery)
		}
		switch {
		case s.more:
			// A file has more to read: check again at once (a Sync waits
			// for the end), unless stopping.
			if ctx.Err() != nil {
				return nil
			}
		default:
			select {
			case <-ctx.Done():
				return nil
			case <-tick:
				tick, full = nil, true
			case req := <-f.syncReq:
				syncs, full = append(syncs, req), true
			case ev, ok := <-events:
				if !ok {
					events = nil
					continue
				}
				full = full || isDirEvent(ev)
			case err, ok := <-errs:
				if !ok {
					errs = nil
					continue
				}
				// Queue overflow and the like: events were lost, so look at
				// everything.
				f.cfg.Logger.Warn("inotify error", "err", err)
				full = true
			}
		}
		// Coalesce whatever else is pending into this one check.
	drain:
		for {
			select {
			case ev, ok := <-events:
				if !ok {
					events = nil
					break drain
				}
				full = full || isDirEvent(ev)
			case req := <-f.syncReq:
				syncs, full = append(syncs, req), true
			default:
				break drain
			}
		}
	}
}

// isDirEvent reports whether ev changes a directory's entries (so globs
// need expanding again), as opposed to a plain write.
func isDirEvent(ev fsnotify.Event) bool {
	return ev.Has(fsnotify.Create) || ev.Has(fsnotify.Remove) || ev.Has(fsnotify.Rename)
}
