package daemon

import (
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/logtally/logtally/interval"
	"github.com/logtally/logtally/output"
	"github.com/logtally/logtally/rules"
	"github.com/logtally/logtally/state"
	"github.com/logtally/logtally/tripwire"
)

// watches runs the file watches of the rules (watch_files). Each watch
// scans on a goroutine of its own, started at the beginning of an interval
// and taken at its close, so that a large tree never delays the other
// measurements; a scan not finished at a close is taken at a later one.
type watches struct {
	d        *Daemon
	mu       sync.Mutex // guards everything below against the scans
	byHandle map[string]*watch
	dropped  []string // watches the rules lost, whose state the next commit drops
	logPath  string
	scans    sync.WaitGroup
	// unlogged are the fresh changes of closes not committed yet, logged
	// once their commit succeeds; done are the accept requests they apply.
	unlogged []loggedChanges
	done     []func()
}

// watch is one watch and its scan.
type watch struct {
	rule    *rules.Watch
	w       *tripwire.Watcher
	running bool             // a scan owns w
	result  *tripwire.Result // a finished scan not yet taken
	// outstanding are the changes of the last scan, reported again at
	// each close until the next scan (update_hashes: no).
	outstanding []tripwire.Change
	progress    tripwire.Progress
}

type loggedChanges struct {
	handle  string
	at      time.Time
	changes []tripwire.Change
}

func newWatches(d *Daemon) *watches {
	return &watches{d: d, byHandle: map[string]*watch{}}
}

// config is a watch's tripwire configuration.
func config(r *rules.Watch) tripwire.Config {
	return tripwire.Config{Paths: append([]string(nil), r.Paths...), Exclude: r.Exclude, Hash: r.Hash, Report: r.Report,
		Update: r.Update, MaxBytes: r.MaxBytes, MaxFiles: r.MaxFiles}
}

// loadWatcher returns the watcher of rule r with its saved state.
func loadWatcher(tx *state.Tx, r *rules.Watch) (*tripwire.Watcher, error) {
	w, err := tripwire.New(config(r))
	if err != nil {
		return nil, err
	}
	meta, base, seen, err := tripwire.Load(tx, r.Handle)
	if err != nil {
		return nil, err
	}
	w.Restore(meta, base, seen)
	return w, nil
}

// apply installs the watches of a rule set: one whose configuration did
// not change keeps its state; a new or changed one is loaded from tx.
func (ws *watches) apply(set *rules.Set, tx *state.Tx) error {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	ws.logPath = set.Settings.FileChangeLog
	if ws.logPath == "" {
		ws.logPath = filepath.Join(filepath.Dir(ws.d.cfg.State), "file_changes.jsonl")
	}
	next := map[string]*watch{}
	for _, r := range set.Watches {
		if old, ok := ws.byHandle[r.Handle]; ok && reflect.DeepEqual(config(old.rule), config(r)) {
			old.rule = r
			next[r.Handle] = old
			continue
		}
		w, err := loadWatcher(tx, r)
		if err != nil {
			return err
		}
		next[r.Handle] = &watch{rule: r, w: w}
	}
	saved, err := tripwire.Handles(tx)
	if err != nil {
		return err
	}
	for _, h := range saved {
		if _, ok := next[h]; !ok {
			ws.dropped = append(ws.dropped, h)
		}
	}
	ws.byHandle = next
	return nil
}

// start starts a scan of every watch that is idle and whose last scan was
// taken.
func (ws *watches) start() {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	for _, w := range ws.byHandle {
		if w.running || w.result != nil {
			continue
		}
		w.running = true
		ws.scans.Add(1)
		go func(w *watch) {
			defer ws.scans.Done()
			r := w.w.Scan()
			for _, err := range r.Errors {
				ws.d.log.Warn("watch", "handle", w.rule.Handle, "err", err)
			}
			ws.mu.Lock()
			w.running, w.result, w.progress = false, &r, r.Progress
			ws.mu.Unlock()
		}(w)
	}
}

// startScans starts the scans of the watches for the interval beginning.
func (d *Daemon) startScans() { d.watches.start() }

// stopScans waits for the scans under way, each bounded by its byte
// budget, for at most DefaultSampleLimit: a scan stuck in a filesystem that
// does not answer does not hold up the shutdown (it touches nothing the
// next start needs).
func (d *Daemon) stopScans() {
	done := make(chan struct{})
	go func() {
		d.watches.scans.Wait()
		close(done)
	}()
	t := time.NewTimer(DefaultSampleLimit)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		d.log.Warn("a file watch's scan is still running at shutdown: left")
	}
}

// watchClose is what the watches add to the commit of a close.
type watchClose struct {
	deltas   map[string]tripwire.Delta
	progress map[string]tripwire.Progress
	dropped  []string
}

// close takes the finished scans into the closing interval: each watch's
// changes set h_changed, h_added and h_removed, $(value_h) and the path
// lists in res.Outcome, and a point; the scans' state goes into the
// commit. A request of `logtally accept-changes` is applied here, when no
// scan is under way.
func (ws *watches) close(res *interval.Result) *watchClose {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	wc := &watchClose{deltas: map[string]tripwire.Delta{}, progress: map[string]tripwire.Progress{}, dropped: ws.dropped}
	ws.dropped = nil
	handles := make([]string, 0, len(ws.byHandle))
	idle := true
	for h, w := range ws.byHandle {
		handles = append(handles, h)
		idle = idle && !w.running
	}
	sort.Strings(handles)
	if idle {
		ws.accept(wc)
	}
	set := ws.d.set
	for _, h := range handles {
		w := ws.byHandle[h]
		changes := w.outstanding
		if r := w.result; r != nil {
			w.result = nil
			changes = r.Changes
			w.outstanding = nil
			if !w.rule.Update {
				w.outstanding = r.Changes
			}
			wc.merge(h, r.Delta)
			wc.progress[h] = r.Progress
			if fresh := freshOnly(r.Changes); len(fresh) > 0 {
				ws.unlogged = append(ws.unlogged, loggedChanges{handle: h, at: res.End, changes: fresh})
			}
		}
		if res.Outcome != nil {
			addWatchOutcome(res.Outcome, h, changes)
		}
		res.Points = append(res.Points, output.SamplePoint(h, set.Settings.Host, set.Settings.Tags, res.End, float64(len(changes))))
	}
	return wc
}

// accept applies the pending requests of `logtally accept-changes`.
func (ws *watches) accept(wc *watchClose) {
	reqs, done, errs := tripwire.Take(ws.d.cfg.State)
	for _, err := range errs {
		ws.d.log.Warn("accept-changes", "err", err)
	}
	if len(reqs) == 0 {
		done()
		return
	}
	ws.done = append(ws.done, done)
	for _, r := range reqs {
		for h, w := range ws.byHandle {
			if r.Watch != "" && r.Watch != h {
				continue
			}
			n := len(w.w.Outstanding())
			wc.merge(h, w.w.Accept(r.Paths...))
			w.outstanding = w.w.Outstanding()
			ws.d.log.Info("changes accepted", "handle", h, "paths", r.Paths, "accepted", n-len(w.outstanding))
		}
	}
}

// merge adds a delta of watch h to the commit, after those already there.
func (wc *watchClose) merge(h string, d tripwire.Delta) {
	have, ok := wc.deltas[h]
	if !ok {
		wc.deltas[h] = d
		return
	}
	for p, e := range d.Base {
		have.Base[p] = e
	}
	for p, e := range d.Seen {
		have.Seen[p] = e
	}
	if d.Meta != nil {
		have.Meta = d.Meta
	}
	wc.deltas[h] = have
}

// freshOnly returns the changes a scan found first.
func freshOnly(cs []tripwire.Change) []tripwire.Change {
	var out []tripwire.Change
	for _, c := range cs {
		if c.Fresh {
			out = append(out, c)
		}
	}
	return out
}

// addWatchOutcome adds a watch's classes and variables.
func addWatchOutcome(o *interval.Outcome, h string, changes []tripwire.Change) {
	lists := map[string][]string{}
	for _, c := range changes {
		lists[c.Kind] = append(lists[c.Kind], c.Path)
	}
	for _, k := range []struct{ kind, class, prefix string }{
		{tripwire.Changed, "_changed", rules.VarChanged},
		{tripwire.Added, "_added", rules.VarAdded},
		{tripwire.Removed, "_removed", rules.VarRemoved},
	} {
		if len(lists[k.kind]) > 0 {
			o.Classes = append(o.Classes, h+k.class)
		}
		o.Keys[k.prefix+h] = interval.List(lists[k.kind])
	}
	o.Vars[rules.VarValue+h] = float64(len(changes))
}

// wrap returns write followed by the watches' state: the scans' deltas,
// their progress, and the state of the watches the rules lost.
func (wc *watchClose) wrap(write func(*state.Tx) error) func(*state.Tx) error {
	return func(tx *state.Tx) error {
		if err := write(tx); err != nil {
			return err
		}
		for _, h := range slices.Sorted(maps.Keys(wc.deltas)) {
			if err := tripwire.Commit(tx, h, wc.deltas[h]); err != nil {
				return err
			}
		}
		for _, h := range slices.Sorted(maps.Keys(wc.progress)) {
			if err := tx.SetJSON(tripwire.Prefix+h+"/progress", wc.progress[h]); err != nil {
				return err
			}
		}
		for _, h := range wc.dropped {
			if err := tripwire.Drop(tx, h); err != nil {
				return err
			}
		}
		return nil
	}
}

// committed logs the changes of the closes now committed and completes
// the accept requests they applied.
func (ws *watches) committed() {
	ws.mu.Lock()
	unlogged, done, path := ws.unlogged, ws.done, ws.logPath
	ws.unlogged, ws.done = nil, nil
	ws.mu.Unlock()
	for _, l := range unlogged {
		if err := tripwire.AppendLog(path, l.handle, l.at, l.changes); err != nil {
			ws.d.log.Warn("file change log not written", "path", path, "err", err)
		}
	}
	for _, f := range done {
		f()
	}
}

// progress returns the progress of a watch's last scan.
func (ws *watches) progressOf(h string) (tripwire.Progress, bool) {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	w, ok := ws.byHandle[h]
	if !ok {
		return tripwire.Progress{}, false
	}
	return w.progress, true
}

// Accepted is what AcceptChanges did.
type Accepted struct {
	// Files is the number of files whose change was accepted (directly;
	// unknown when a running daemon applied the request).
	Files int
	// ByDaemon is true when the daemon holding the state file applied the
	// request.
	ByDaemon bool
}

// AcceptChanges makes what the watches last saw their baseline, as
// `logtally accept-changes` asks: of every watch of set, or of the one
// named, for every outstanding change or those of paths (a directory
// stands for all it holds). With the daemon stopped, the state file is
// changed at once. When a daemon holds it, the request is handed to the
// daemon, which applies it at the end of its interval, and AcceptChanges
// waits up to wait for that commit.
func AcceptChanges(statePath string, set *rules.Set, watch string, paths []string, wait time.Duration) (Accepted, error) {
	var rs []*rules.Watch
	for _, r := range set.Watches {
		if watch == "" || r.Handle == watch {
			rs = append(rs, r)
		}
	}
	if len(rs) == 0 {
		if watch != "" {
			return Accepted{}, fmt.Errorf("accept changes: no watch %s in the rules", watch)
		}
		return Accepted{}, errors.New("accept changes: the rules have no watch_files")
	}
	for i, p := range paths {
		paths[i] = filepath.Clean(p)
	}
	store, err := state.Open(statePath, state.Options{})
	if errors.Is(err, state.ErrLocked) {
		req, err := tripwire.Request(statePath, tripwire.AcceptRequest{Watch: watch, Paths: paths, At: time.Now()})
		if err != nil {
			return Accepted{}, err
		}
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		deadline := time.Now().Add(wait)
		for !tripwire.Applied(statePath, req) {
			if time.Now().After(deadline) {
				return Accepted{ByDaemon: true}, fmt.Errorf("accept changes: the daemon has not applied the request after %s; it stays queued in %s", wait, tripwire.RequestFile(statePath))
			}
			<-tick.C
		}
		return Accepted{ByDaemon: true}, nil
	}
	if err != nil {
		return Accepted{}, fmt.Errorf("accept changes: %w", err)
	}
	defer store.Close()
	var out Accepted
	err = store.Update(func(tx *state.Tx) error {
		for _, r := range rs {
			w, err := loadWatcher(tx, r)
			if err != nil {
				return err
			}
			n := len(w.Outstanding())
			d := w.Accept(paths...)
			out.Files += n - len(w.Outstanding())
			if err := tripwire.Commit(tx, r.Handle, d); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return Accepted{}, fmt.Errorf("accept changes: %w", err)
	}
	return out, nil
}
