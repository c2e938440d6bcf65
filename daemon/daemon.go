package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"

	lineprotocol "github.com/influxdata/line-protocol/v2/lineprotocol"

	"github.com/logtally/logtally/actions"
	"github.com/logtally/logtally/follow"
	"github.com/logtally/logtally/internal/buildinfo"
	"github.com/logtally/logtally/interval"
	"github.com/logtally/logtally/match"
	"github.com/logtally/logtally/measure"
	"github.com/logtally/logtally/observe"
	"github.com/logtally/logtally/output"
	"github.com/logtally/logtally/rules"
	"github.com/logtally/logtally/state"
	"github.com/logtally/logtally/web"
)

// MaxCatchUp bounds how far back lines appended during a downtime are
// attributed by their timestamps; older lines are counted in the first
// interval of the window.
const MaxCatchUp = 7 * 24 * time.Hour

// Config configures a Daemon.
type Config struct {
	Rules string // rules directory or file
	State string // state file
	// Interval overrides settings.interval when positive.
	Interval time.Duration
	// Outputs are destinations given on the command line, in addition to
	// settings.outputs. With neither, samples go to stdout.
	Outputs []rules.Output
	// Watch is "inotify" (default) or "poll"; PollEvery the poll period.
	Watch     string
	PollEvery time.Duration
	// DryRun logs the commands that would run instead of running them.
	DryRun bool
	Clock  follow.Clock // real clock when nil
	Logger *slog.Logger
	// Stdout receives the "-" destination (os.Stdout when nil).
	Stdout io.Writer
	// Build is the running binary's version, shown on the status page and
	// in logtally_build_info.
	Build buildinfo.Info
	// Stderr receives reports sent to stderr (os.Stderr when nil).
	Stderr io.Writer
	// Listen is the address of the status page and /metrics ("" for none).
	Listen string
}

// Daemon is `logtally run`. Create it with New, run it with Run.
type Daemon struct {
	cfg   Config
	log   *slog.Logger
	clock follow.Clock
	store *state.Store
	// sampler reads the observables (the running system when nil); tests
	// set it.
	sampler *observe.Sampler

	mu sync.Mutex // guards everything below against the status reader
	// budget is how long the end of an interval waits at most for the
	// streams and the observables (cutBudget; tests change it).
	budget   time.Duration
	set      *rules.Set
	interval time.Duration
	eng      *interval.Engine
	streams  map[string]*stream
	// retired are the streams a reload removed whose follower was stopped
	// (see retire): what they read before that is committed with the next
	// close, with their positions.
	retired []*stream
	observe *observer // the host observables (observe:)
	watches *watches  // the file watches (watch_files)
	senders []*output.Sender
	spool   map[string]int // spool size by sender name
	// precs is the timestamp precision of each sender's lines: its
	// output's precision, which an HTTP request declares to InfluxDB.
	precs   map[string]lineprotocol.Precision
	actions *actions.Engine
	survey  *interval.Survey // settings.survey's, or of an hour without a file (for Report)
	actCtx  context.Context  // cancelled when commands must stop being started

	curStart  time.Time
	catchFrom time.Time               // first interval of the downtime being filled; zero once done
	pending   []func(*state.Tx) error // commits that failed, retried with the next one
	// lateReady is signalled when a late stream may have completed an
	// interval.
	lateReady chan struct{}
	followCtx context.Context
	wg        sync.WaitGroup
	stats     Stats
	started   time.Time
}

// Stats are the daemon's own counters.
type Stats struct {
	Commits        uint64
	CommitFailures uint64
	Reloads        uint64
	ReloadFailures uint64
	SpoolDropped   uint64
}

// New checks the configuration. It opens nothing and starts nothing.
func New(cfg Config) (*Daemon, error) {
	if cfg.Rules == "" || cfg.State == "" {
		return nil, errors.New("new daemon: rules and state are required")
	}
	if cfg.Interval < 0 {
		return nil, fmt.Errorf("new daemon: negative interval %v", cfg.Interval)
	}
	if cfg.Clock == nil {
		cfg.Clock = follow.SystemClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Daemon{cfg: cfg, log: cfg.Logger, clock: cfg.Clock, budget: cutBudget, lateReady: make(chan struct{}, 1)}, nil
}

// ownPrograms is where the daemon finds its programs: exec looks a
// command's or a pipe stream's program up in the PATH of the daemon's own
// environment (not in a command's env:).
func ownPrograms() rules.ProgramPath {
	return rules.ProgramPath{PATH: os.Getenv("PATH"), Of: "the daemon's PATH"}
}

// Run runs the daemon until ctx is done: then it closes the current
// interval early, commits it and returns nil. A value on reload makes it
// reload the rules. It returns an error when it cannot start: invalid rules
// (a rules.ErrorList), or a state file it cannot use.
func (d *Daemon) Run(ctx context.Context, reload <-chan struct{}) error {
	set, err := rules.Load(d.cfg.Rules)
	if err != nil {
		return err
	}
	set.CheckPrograms(ownPrograms())
	for _, w := range set.Warnings {
		d.log.Warn("rules", "warning", w.String())
	}
	store, err := state.Open(d.cfg.State, state.Options{Logger: d.log})
	if err != nil {
		return fmt.Errorf("open state: %w", err)
	}
	d.store = store
	defer store.Close()

	d.mu.Lock()
	d.started = d.clock.Now()
	d.mu.Unlock()
	d.interval = set.Settings.Interval
	if d.cfg.Interval > 0 {
		d.interval = d.cfg.Interval
	}
	if err := d.start(set); err != nil {
		return err
	}
	engine, err := actions.New(set, d.actionOptions(set))
	if err != nil {
		return fmt.Errorf("start actions: %w", err)
	}
	if err := store.View(engine.Load); err != nil {
		return fmt.Errorf("load action state: %w", err)
	}
	d.actions = engine
	actCtx, stopActions := context.WithCancel(context.Background())
	d.actCtx = actCtx
	defer stopActions()
	followCtx, stopFollowers := context.WithCancel(context.Background())
	d.followCtx = followCtx
	defer func() {
		stopFollowers()
		d.wg.Wait()
	}()
	senderCtx, stopSenders := context.WithCancel(context.Background())
	defer stopSenders()
	if err := d.startSenders(senderCtx, set); err != nil {
		return err
	}
	d.mu.Lock()
	for _, s := range d.streams {
		d.startFollower(s)
	}
	d.mu.Unlock()
	// Each file is opened, and its position fixed, before the daemon says it
	// has started: a line written after "started" is counted.
	d.syncFiles()
	if d.cfg.Listen != "" {
		srv := web.New(d, d.log)
		webCtx, stopWeb := context.WithCancel(context.Background())
		defer stopWeb()
		go func() {
			// The status page is a convenience: a busy port is logged, not fatal.
			if err := srv.Serve(webCtx, d.cfg.Listen); err != nil {
				d.log.Error("status page not served", "listen", d.cfg.Listen, "err", err)
			}
		}()
	}
	// Loading the state file and compiling the rules leave garbage several
	// times the size of what stays (buntdb parses every command of its
	// file): it is returned to the system now, not over the next minutes.
	debug.FreeOSMemory()
	d.log.Info("started", "rules", d.cfg.Rules, "state", d.cfg.State, "interval", d.interval,
		"measurements", len(set.Measurements), "streams", len(d.streams), "catch_up_from", d.catchFrom)

	started := time.Time{}
	for {
		if !started.Equal(d.curStart) {
			started = d.curStart
			d.startIntervalCommands(started)
		}
		d.startScans()
		end := d.curStart.Add(d.interval)
		select {
		case <-d.clock.After(end.Sub(d.clock.Now())):
			d.endInterval(false)
		case <-d.lateReady:
			d.commitLate()
		case <-reload:
			d.reload()
		case <-ctx.Done():
			d.endInterval(true)
			d.mu.Lock()
			for _, s := range d.streams {
				s.stopping.Store(true)
			}
			d.mu.Unlock()
			d.stopScans()
			stopFollowers()
			d.wg.Wait()
			d.stopActions(stopActions)
			d.flushSenders()
			d.log.Info("stopped")
			return nil
		}
	}
}

// start reads what the state file knows and builds the measurements and
// streams, without starting anything.
func (d *Daemon) start(set *rules.Set) error {
	now := d.clock.Now()
	d.curStart = now.Truncate(d.interval)
	d.eng = interval.New(d.interval)
	var r interval.Resume
	err := d.store.Update(func(tx *state.Tx) error {
		if err := dropUnusable(tx, d.log); err != nil {
			return err
		}
		if err := migrateDown(tx); err != nil {
			return err
		}
		var err error
		r, err = d.eng.Start(tx)
		return err
	})
	if err != nil {
		return fmt.Errorf("read state: %w", err)
	}
	if r.Migrated > 0 || r.Dropped > 0 {
		d.log.Warn("state file migrated: baselines are now kept per interval width", "moved", r.Migrated, "dropped", r.Dropped)
	}
	if r.Was != 0 && r.Was != d.interval {
		d.log.Warn("interval changed: the baselines of the new interval are used (new ones where none was learned) and the downtime is a gap",
			"was", r.Was, "now", d.interval)
	}
	lower := r.CommittedEnd
	if !r.Earliest.IsZero() && (lower.IsZero() || r.Earliest.Before(lower)) {
		lower = r.Earliest
	}
	if lower.IsZero() || !lower.Before(d.curStart) {
		lower = d.curStart
	}
	if d.curStart.Sub(lower) > MaxCatchUp {
		lower = d.curStart.Add(-MaxCatchUp).Truncate(d.interval)
	}
	if lower.Before(d.curStart) {
		d.catchFrom = lower
	}
	d.streams = map[string]*stream{}
	d.observe = newObserver(d.sampler)
	d.watches = newWatches(d)
	if err := d.apply(set, lower); err != nil {
		return err
	}
	// The outages of streams the rules no longer have are over.
	return d.store.Update(func(tx *state.Tx) error {
		var stale []string
		if err := tx.Ascend(prefixDown, func(k, _ string) bool {
			if _, ok := d.streams[strings.TrimPrefix(k, prefixDown)]; !ok {
				stale = append(stale, k)
			}
			return true
		}); err != nil {
			return err
		}
		for _, k := range stale {
			if err := tx.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
}

// apply installs a rule set: streams (new ones created with their saved
// positions, existing ones given their new group) and measurement states
// (the engine's: baselines loaded from the state file). Streams no longer
// needed are stopped. lower is the lower bound for dating new streams'
// backlog. On error nothing changes.
func (d *Daemon) apply(set *rules.Set, lower time.Time) error {
	bySource := map[string][]*rules.Measurement{}
	var order []string
	for _, m := range set.Measurements {
		if m.StreamType == rules.StreamObserve {
			continue // sampled at each close, not followed
		}
		src := interval.SourceOf(m)
		if _, ok := bySource[src]; !ok {
			order = append(order, src)
		}
		bySource[src] = append(bySource[src], m)
	}
	opts := match.Options{Timeout: set.Settings.RegexTimeout}
	streams := map[string]*stream{}
	regroup := map[*stream]*interval.Group{}
	var added []*stream
	for _, src := range order {
		g, err := interval.NewGroup(src, bySource[src], opts)
		if err != nil {
			return err
		}
		if s, ok := d.streams[src]; ok {
			regroup[s] = g
			streams[src] = s
			continue
		}
		s := &stream{
			source: src, kind: g.Kind, path: g.Path, interval: d.interval, clock: d.clock,
			log:     d.log,
			parts:   map[int64]*part{},
			arrival: d.curStart, lower: lower,
		}
		s.setGroup(g)
		s.saveStart = d.saveStart(src)
		s.ready = d.signalLate
		if err := d.newFollower(s, set); err != nil {
			return err
		}
		streams[src] = s
		added = append(added, s)
	}
	var warnings []interval.Warning
	err := d.store.View(func(tx *state.Tx) error {
		for _, s := range added {
			if err := loadDown(tx, s); err != nil {
				return err
			}
		}
		var err error
		if warnings, err = d.eng.Apply(set, tx); err != nil {
			return err
		}
		return d.watches.apply(set, tx)
	})
	if err != nil {
		return fmt.Errorf("read state: %w", err)
	}
	for _, w := range warnings {
		d.log.Warn("baseline not usable: starting afresh", "handle", w.Handle, "interval", d.interval, "err", w.Err)
	}
	for s, g := range regroup {
		s.mu.Lock()
		s.setGroup(g)
		s.mu.Unlock()
	}
	for _, src := range slices.Sorted(maps.Keys(d.streams)) {
		if _, ok := streams[src]; !ok {
			d.retire(d.streams[src])
		}
	}
	d.set, d.streams = set, streams
	// The survey is kept for SIGUSR1's report also without a file.
	period := set.Settings.Survey.Period
	if set.Settings.Survey.File == "" {
		period = rules.DefaultSurveyPeriod
	}
	if d.survey == nil || d.survey.Period() != period {
		d.survey = interval.NewSurvey(period)
	}
	return nil
}

// retire removes a stream the rules no longer have. A follower that
// runs on its own (a file, the journal, a stream command) is stopped by
// the reload (stopRetired) and what it read until then is committed with
// the next close, with its positions: its lines were read under the rules
// of the interval under way, and count for the measurements that still
// exist (Closing.Add merges by handle). A stream whose runs the loop
// starts (an interval command, a file read whole) stops at once, and what
// its run in progress folds is dropped. Callers hold d.mu.
func (d *Daemon) retire(s *stream) {
	switch s.kind {
	case interval.KindFile, interval.KindJournal, interval.KindPipe:
		if s.cancel != nil {
			d.retired = append(d.retired, s)
			return
		}
	}
	s.stopping.Store(true)
	if s.cancel != nil {
		s.cancel()
	}
}

// stopRetired stops the followers of streams just retired: a file stream
// first reads what was written before the reload, then each follower is
// cancelled and waited for (bounded by syncTimeout), so that no batch of
// a retired stream is in progress when its intervals are taken. A
// follower that does not stop in time drops the batch it is folding
// (stopping), with its position.
func (d *Daemon) stopRetired(retired []*stream) {
	ctx, cancel := context.WithTimeout(context.Background(), syncTimeout)
	defer cancel()
	var wg sync.WaitGroup
	for _, s := range retired {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if s.files != nil {
				if err := s.files.Sync(ctx); err != nil {
					d.log.Warn("sync", "stream", s.source, "err", err)
				}
			}
			s.cancel()
			select {
			case <-s.done:
			case <-ctx.Done():
				s.stopping.Store(true)
				d.log.Warn("reload: a removed stream did not stop in time: what it reads now is not counted", "stream", s.source)
			}
		}()
	}
	wg.Wait()
}

// saved reads the positions saved for a stream. A stream a reload retired
// whose intervals are not committed yet (the rules changed back within an
// interval) has read further than the state file says: its new follower
// starts where it stopped, so that no line is counted twice.
func (d *Daemon) saved(source string) (map[string]follow.Position, error) {
	var saved map[string]follow.Position
	err := d.store.View(func(tx *state.Tx) error {
		var err error
		saved, err = savedPositions(tx, source)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("read the positions of %s: %w", source, err)
	}
	for _, r := range d.retired {
		if r.source == source {
			r.reached(saved)
		}
	}
	return saved, nil
}

// newFollower creates (but does not start) a stream's follower.
func (d *Daemon) newFollower(s *stream, set *rules.Set) error {
	m := s.group.Measurements[0]
	switch s.kind {
	case interval.KindFile:
		saved, err := d.saved(s.source)
		if err != nil {
			return err
		}
		if len(saved) == 0 {
			err := d.store.View(func(tx *state.Tx) error {
				var err error
				saved, err = respelledPositions(tx, s.source)
				return err
			})
			if err != nil {
				return fmt.Errorf("read the positions of %s: %w", s.source, err)
			}
		}
		start := rules.StartEnd
		for _, gm := range s.group.Measurements {
			if gm.Start == rules.StartBeginning {
				start = rules.StartBeginning
			}
		}
		f, err := follow.NewFiles(follow.FileConfig{
			Paths: []string{m.Path}, Start: start, Saved: saved,
			Watch: d.cfg.Watch, PollEvery: d.cfg.PollEvery,
			MaxLine: set.Settings.MaxLineLength, Clock: d.clock, Logger: d.log,
		})
		if err != nil {
			return fmt.Errorf("follow %s: %w", s.source, err)
		}
		s.files = f
		if len(saved) == 0 {
			s.lower = d.curStart // nothing to catch up for a new stream
			s.observedFrom = d.clock.Now()
		} else if s.lower.Before(d.curStart) {
			s.catchFrom = s.lower // followed without a break, if nothing is lost
		}
	case interval.KindPipe, interval.KindInterval:
		mode := rules.PipeStream
		timeout := m.Timeout
		if s.kind == interval.KindInterval {
			mode = rules.PipeInterval
			if timeout <= 0 || timeout > d.interval {
				timeout = d.interval
			}
		}
		p, err := follow.NewPipe(follow.PipeConfig{
			Argv: m.Command, Mode: mode, Timeout: timeout,
			MaxLine: set.Settings.MaxLineLength, Clock: d.clock, Logger: d.log,
		})
		if err != nil {
			return fmt.Errorf("pipe %s: %w", s.source, err)
		}
		s.pipe = p
		s.lower = d.curStart
		if s.kind == interval.KindPipe {
			s.observedFrom = d.clock.Now() // an interval command reads a whole snapshot
		}
	case interval.KindWhole:
		s.lower = d.curStart
	case interval.KindJournal:
		saved, err := d.saved(s.source)
		if err != nil {
			return err
		}
		after := saved[journalPos].Cursor
		beginning := false
		for _, gm := range s.group.Measurements {
			beginning = beginning || gm.Start == rules.StartBeginning
		}
		cfg := measure.JournalConfig(m, set.Settings.MaxLineLength)
		cfg.After, cfg.Beginning, cfg.Clock, cfg.Logger = after, beginning, d.clock, d.log
		j, err := follow.NewJournal(cfg)
		if err != nil {
			return fmt.Errorf("journal %s: %w", s.source, err)
		}
		s.journal = j
		if after == "" {
			s.lower = d.curStart // nothing to catch up for a new stream
			s.observedFrom = d.clock.Now()
		} else if s.lower.Before(d.curStart) {
			s.catchFrom = s.lower // followed without a break, if nothing is lost
		}
	}
	return nil
}

// saveStart returns the function that saves, for a file of the stream,
// the position reading starts from when it is opened without a saved
// position (seen for the first time, appeared, replaced). It is written at
// once, in its own transaction, and only if no position is saved under the
// name: a commit may already have saved a later one. Until the first
// commit that covers the file, that is where a restart after a crash
// resumes; without it the file would be taken as seen for the first time
// again (start: end), and the lines read since it was opened never
// counted.
func (d *Daemon) saveStart(source string) func(follow.Position) {
	return func(p follow.Position) {
		key := posKey(source, p.Path)
		err := d.store.Update(func(tx *state.Tx) error {
			if _, ok, err := tx.Get(key); err != nil || ok {
				return err
			}
			return tx.SetJSON(key, p)
		})
		if err != nil {
			d.log.Warn("save start position: a crash before the next commit may lose this file's lines",
				"stream", source, "path", p.Path, "err", err)
		}
	}
}

// startFollower starts a stream's follower goroutine (interval commands
// and whole files are run from the loop instead).
func (d *Daemon) startFollower(s *stream) {
	if s.cancel != nil || (s.kind != interval.KindFile && s.kind != interval.KindPipe && s.kind != interval.KindJournal) {
		return
	}
	ctx, cancel := context.WithCancel(d.followCtx)
	s.cancel = cancel
	s.done = make(chan struct{})
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		defer close(s.done)
		var err error
		switch {
		case s.files != nil:
			err = s.files.Run(ctx, s)
		case s.journal != nil:
			err = s.journal.Run(ctx, s)
		default:
			err = s.pipe.Run(ctx, s)
		}
		if err != nil {
			d.log.Error("follower stopped", "stream", s.source, "err", err)
		}
	}()
}

// signalLate tells the loop that a late stream may have completed an
// interval (see commitLate).
func (d *Daemon) signalLate() {
	select {
	case d.lateReady <- struct{}{}:
	default:
	}
}

// actionOptions are the options of the actions engine.
func (d *Daemon) actionOptions(set *rules.Set) actions.Options {
	return actions.Options{DryRun: d.cfg.DryRun, Logger: d.log, Stderr: d.cfg.Stderr,
		NoticeLog: NoticeLog(set.Settings.NoticeLog, d.cfg.State)}
}

// NoticeLog returns the notice log of a rule set's notice_log setting and
// a state file: the setting, or notices.jsonl beside the state file.
func NoticeLog(setting, stateFile string) string {
	if setting != "" {
		return setting
	}
	return filepath.Join(filepath.Dir(stateFile), "notices.jsonl")
}

// stopActions waits a bounded time for running commands, then kills them.
func (d *Daemon) stopActions(cancel context.CancelFunc) {
	cancel()
	ctx, stop := context.WithTimeout(context.Background(), 10*time.Second)
	defer stop()
	if err := d.actions.Wait(ctx); err != nil {
		d.log.Warn("commands still running at shutdown", "err", err)
	}
}

// startSenders starts one output.Sender per destination.
func (d *Daemon) startSenders(ctx context.Context, set *rules.Set) error {
	outs := append([]rules.Output(nil), d.cfg.Outputs...)
	outs = append(outs, set.Settings.Outputs...)
	if len(outs) == 0 {
		o, err := rules.ParseOutputURL("-", "")
		if err != nil {
			return err
		}
		outs = append(outs, o)
	}
	d.spool = map[string]int{}
	d.precs = map[string]lineprotocol.Precision{}
	for _, o := range outs {
		prec, err := output.ParsePrecision(o.Precision)
		if err != nil {
			return fmt.Errorf("output %s: %w", o.URL, err)
		}
		var sink output.Sink
		if o.URL == "-" && d.cfg.Stdout != nil {
			sink = output.NewWriterSink("stdout", d.cfg.Stdout)
		} else if sink, err = output.NewSink(o); err != nil {
			return fmt.Errorf("output %s: %w", o.URL, err)
		}
		if _, dup := d.spool[sink.Name()]; dup {
			return fmt.Errorf("output %s: given twice", o.URL)
		}
		snd := output.NewSender(d.store, sink, o, d.log)
		d.senders = append(d.senders, snd)
		d.spool[sink.Name()] = o.SpoolSize
		d.precs[sink.Name()] = prec
		go func() {
			if err := snd.Run(ctx); err != nil {
				d.log.Error("output stopped", "output", snd.Name(), "err", err)
			}
		}()
	}
	return nil
}

// flushSenders gives every destination a last, bounded chance to take what
// is spooled; what it does not take stays in the spool for the next run.
func (d *Daemon) flushSenders() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, s := range d.senders {
		if err := s.Flush(ctx); err != nil {
			d.log.Warn("output not flushed: kept in the spool", "output", s.Name(), "err", err)
		}
	}
}

// reload loads the rules again and, if they are valid, swaps them in. On
// any error the running rules stay and every error is logged.
func (d *Daemon) reload() {
	set, err := rules.Load(d.cfg.Rules)
	if err != nil {
		d.mu.Lock()
		d.stats.ReloadFailures++
		d.mu.Unlock()
		var list rules.ErrorList
		if errors.As(err, &list) {
			for _, e := range list {
				d.log.Error("reload: rules not changed", "error", e.Error())
			}
		} else {
			d.log.Error("reload: rules not changed", "err", err)
		}
		return
	}
	set.CheckPrograms(ownPrograms())
	for _, w := range set.Warnings {
		d.log.Warn("rules", "warning", w.String())
	}
	if set.Settings.Interval != d.set.Settings.Interval && d.cfg.Interval == 0 {
		d.log.Warn("reload: a new interval takes effect at the next restart", "running", d.interval, "rules", set.Settings.Interval)
	}
	engine, err := d.actions.Rebuild(set, d.actionOptions(set))
	if err == nil {
		err = d.store.View(engine.Load)
	}
	if err != nil {
		d.mu.Lock()
		d.stats.ReloadFailures++
		d.mu.Unlock()
		d.log.Error("reload: rules not changed", "err", err)
		return
	}
	// What was written before the reload is read under the rules it was
	// written under.
	d.syncFiles()
	d.mu.Lock()
	old, retired := d.streams, len(d.retired)
	removed := removedHandles(d.set, set)
	err = d.apply(set, d.curStart)
	if err == nil {
		d.actions = engine
		d.stats.Reloads++
	} else {
		d.stats.ReloadFailures++
	}
	stop := d.retired[retired:]
	d.mu.Unlock()
	if err != nil {
		d.log.Error("reload: rules not changed", "err", err)
		return
	}
	if len(removed) > 0 {
		d.log.Info("reload: measurements removed: what they counted in the interval under way is committed as its partial sample", "handles", removed)
	}
	// The streams removed stop before the new ones start, which may follow
	// the same files.
	d.stopRetired(stop)
	d.mu.Lock()
	for src, s := range d.streams {
		if _, existed := old[src]; !existed {
			d.startFollower(s)
		}
	}
	d.mu.Unlock()
	// New files are opened before the reload is reported, as at start.
	d.syncFiles()
	d.log.Info("reloaded", "measurements", len(set.Measurements), "streams", len(d.streams))
}

// removedHandles returns the handles of the measurements of was that now
// has not, sorted.
func removedHandles(was, now *rules.Set) []string {
	kept := map[string]bool{}
	for _, m := range now.Measurements {
		kept[m.Handle] = true
	}
	var out []string
	for _, m := range was.Measurements {
		if !kept[m.Handle] {
			out = append(out, m.Handle)
		}
	}
	slices.Sort(out)
	return out
}
