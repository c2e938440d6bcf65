package daemon

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/logtally/logtally/actions"
	"github.com/logtally/logtally/follow"
	"github.com/logtally/logtally/history"
	"github.com/logtally/logtally/interval"
	"github.com/logtally/logtally/rules"
	"github.com/logtally/logtally/state"
)

// benchClock is a clock the benchmark moves by hand; its timers never
// fire (the benchmark closes intervals itself).
type benchClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *benchClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *benchClock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

func (c *benchClock) After(time.Duration) <-chan time.Time { return nil }

// Shape of the commit benchmark: as many weekly measurements as a large
// host has, over a few files, with 5-minute intervals.
const (
	benchMeasurements = 100
	benchFiles        = 10
	benchInterval     = 5 * time.Minute
	benchTraining     = 5 * 7 * 24 * time.Hour // five weeks: fully trained
)

// benchRate is the expected count of measurement i at t: a daily rhythm,
// levels from a fraction of an event to a few hundred per interval.
func benchRate(i int, t time.Time) float64 {
	h := float64(t.Hour()) + float64(t.Minute())/60
	base := math.Pow(1.07, float64(i%80)) / 2
	return base * (1 + 0.7*math.Sin(2*math.Pi*(h-8)/24))
}

// poisson draws a Poisson count (normal approximation above 30).
func poisson(rng *rand.Rand, mean float64) float64 {
	if mean > 30 {
		return max(0, math.Round(mean+rng.NormFloat64()*math.Sqrt(mean)))
	}
	l, k, p := math.Exp(-mean), 0.0, 1.0
	for {
		p *= rng.Float64()
		if p <= l {
			return k
		}
		k++
	}
}

// benchDaemon is a daemon set up as Run sets it up, without its loop:
// benchMeasurements weekly measurements whose baselines have learned
// benchTraining of samples, a real state file (fsync on every commit) and
// the stdout destination drained by its sender.
type benchDaemon struct {
	d      *Daemon
	clock  *benchClock
	state  string
	paths  []string
	offset []int64
	rng    *rand.Rand
	stop   func()
}

func newBenchDaemon(b *testing.B) *benchDaemon {
	b.Helper()
	dir := b.TempDir()
	var rb strings.Builder
	rb.WriteString("settings:\n  interval: 5m\nmeasurements:\n")
	bd := &benchDaemon{clock: &benchClock{}, state: filepath.Join(dir, "state.db"), rng: rand.New(rand.NewPCG(1, 1))}
	for f := range benchFiles {
		p := filepath.Join(dir, fmt.Sprintf("app%d.log", f))
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			b.Fatal(err)
		}
		bd.paths = append(bd.paths, p)
	}
	bd.offset = make([]int64, benchFiles)
	for i := range benchMeasurements {
		fmt.Fprintf(&rb, "  - handle: m%03d\n    path: %s\n    select_line_matching: '.*event m%03d from .*'\n", i, bd.paths[i%benchFiles], i)
		if i%2 == 0 {
			rb.WriteString("    key: 'from (\\S+)'\n    key_type: ip\n")
		}
	}
	rulesPath := filepath.Join(dir, "rules.yaml")
	if err := os.WriteFile(rulesPath, []byte(rb.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	set, err := rules.Load(rulesPath)
	if err != nil {
		b.Fatal(err)
	}
	store, err := state.Open(bd.state, state.Options{})
	if err != nil {
		b.Fatal(err)
	}

	// Train every baseline on five weeks of samples, as `logtally learn`
	// does, and store them.
	end := time.Now().Truncate(benchInterval)
	start := end.Add(-benchTraining)
	hcfg := history.Config{Interval: benchInterval, Location: set.Settings.Location, HalfLife: set.Settings.HalfLife}
	err = store.Update(func(tx *state.Tx) error {
		for i, m := range set.Measurements {
			base := history.New(hcfg)
			for t := start; t.Before(end); t = t.Add(benchInterval) {
				base.Observe(t, poisson(bd.rng, benchRate(i, t)))
			}
			if err := interval.SaveBaseline(benchInterval, m.Handle, base, nil).Apply(tx); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}

	bd.clock.set(end)
	d, err := New(Config{Rules: rulesPath, State: bd.state, Clock: bd.clock, Stdout: io.Discard,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	d.store = store
	d.interval = set.Settings.Interval
	if err := d.start(set); err != nil {
		b.Fatal(err)
	}
	for _, h := range d.eng.Handles() {
		if d.eng.State(h).Base == nil {
			b.Fatalf("%s has no baseline", h)
		}
	}
	engine, err := actions.New(set, d.actionOptions(set))
	if err != nil {
		b.Fatal(err)
	}
	if err := store.View(engine.Load); err != nil {
		b.Fatal(err)
	}
	d.actions = engine
	d.actCtx = context.Background()
	ctx, cancel := context.WithCancel(context.Background())
	d.followCtx = ctx
	if err := d.startSenders(ctx, set); err != nil {
		b.Fatal(err)
	}
	// The followers run (the files stay empty: the benchmark hands the
	// streams their lines), so that the end of an interval finds them
	// synced and every stream available.
	d.mu.Lock()
	for _, s := range d.streams {
		d.startFollower(s)
	}
	d.mu.Unlock()
	d.syncFiles()
	bd.d = d
	var once sync.Once
	bd.stop = func() {
		once.Do(func() {
			cancel()
			d.wg.Wait()
			store.Close()
		})
	}
	b.Cleanup(bd.stop)
	return bd
}

// feed hands every stream the lines of one interval, as its follower
// would.
func (bd *benchDaemon) feed(at time.Time) {
	bd.d.mu.Lock()
	defer bd.d.mu.Unlock()
	for f, p := range bd.paths {
		s := bd.d.streams[p]
		var batch follow.Batch
		batch.Source = p
		for i := f; i < benchMeasurements; i += benchFiles {
			n := int(poisson(bd.rng, benchRate(i, at)))
			for range n {
				line := fmt.Sprintf("Nov 23 10:00:00 host app[1]: event m%03d from 192.0.2.%d", i, 1+bd.rng.IntN(20))
				batch.Lines = append(batch.Lines, follow.Line{Data: []byte(line)})
				bd.offset[f] += int64(len(line) + 1)
			}
		}
		batch.End = follow.Position{Path: p, Dev: 1, Ino: uint64(f + 1), Offset: bd.offset[f]}
		s.Batch(&batch)
	}
}

// interval feeds and closes the interval the daemon is in.
func (bd *benchDaemon) closeOne(b *testing.B, timed bool) {
	if timed {
		b.StopTimer()
	}
	start := bd.d.curStart
	bd.feed(start)
	end := start.Add(benchInterval)
	bd.clock.set(end)
	if timed {
		b.StartTimer()
	}
	bd.d.endInterval(false)
	if bd.d.stats.CommitFailures > 0 {
		b.Fatalf("commit failed")
	}
}

func stateSize(b *testing.B, path string) float64 {
	b.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	return float64(fi.Size())
}

// liveSize is the size the state file has right after a compaction: one
// "set" record (buntdb's append-only format) per key.
func liveSize(b *testing.B, store *state.Store) float64 {
	b.Helper()
	n := 0
	record := func(s string) int { return len(strconv.Itoa(len(s))) + len(s) + 5 } // $<len>\r\n<s>\r\n
	err := store.View(func(tx *state.Tx) error {
		return tx.Ascend("", func(k, v string) bool {
			n += len("*3\r\n$3\r\nset\r\n") + record(k) + record(v)
			return true
		})
	})
	if err != nil {
		b.Fatal(err)
	}
	return float64(n)
}

// BenchmarkCommit100Weekly times one interval's commit (closeInterval:
// every stream's accumulators taken, 100 samples scored and learned, and
// one state transaction with the samples, the baselines' dirty pages, the
// positions, classes and output spool, fsynced) for 100 fully trained
// weekly measurements.
//
// It reports the state file's live size (what a compaction leaves) after
// training and after a day of intervals, the bytes one commit appends,
// and the largest the file can grow to: the store compacts the file in
// the background whenever it has doubled since the last compaction (and
// is over 4 MiB), and checks every second, so between compactions it
// holds at most twice the live data plus a second's commits. That bound
// must stay under 20 MB. A day of intervals replayed in seconds leaves
// compaction less time than a real day (a compaction also keeps what was
// committed while it ran), so the benchmark reopens the state file at the
// end, waits (a few seconds at most) for the file to come under the bound,
// and reports its size then.
func BenchmarkCommit100Weekly(b *testing.B) {
	bd := newBenchDaemon(b)
	trained, trainedFile := liveSize(b, bd.d.store), stateSize(b, bd.state)
	var appended float64
	for range int(24 * time.Hour / benchInterval) {
		before := stateSize(b, bd.state)
		bd.closeOne(b, false)
		if grew := stateSize(b, bd.state) - before; grew > appended {
			appended = grew
		}
	}
	live := liveSize(b, bd.d.store)
	bound := max(2*live, 4<<20) + appended
	if bound >= 20e6 {
		b.Errorf("the state file can grow to %.1f MB (live %.1f MB), want under 20 MB", bound/1e6, live/1e6)
	}
	b.ResetTimer()
	for b.Loop() {
		bd.closeOne(b, true)
	}
	b.StopTimer()
	if got := bd.d.stats.Commits; got < uint64(b.N) {
		b.Errorf("%d commits for %d intervals", got, b.N)
	}

	// The file on disk once compaction has caught up, as it does within a
	// second of real time: reopened (as after a restart), the store knows
	// its live size and compacts the file in the background.
	bd.stop()
	store, err := state.Open(bd.state, state.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	deadline := time.Now().Add(10 * time.Second)
	fileDay := stateSize(b, bd.state)
	for fileDay > bound && time.Now().Before(deadline) {
		<-time.After(50 * time.Millisecond)
		fileDay = stateSize(b, bd.state)
	}
	if fileDay > bound {
		b.Errorf("the state file stays at %.1f MB, above the %.1f MB compaction keeps it under", fileDay/1e6, bound/1e6)
	}
	// Reported after the loop: ResetTimer deletes reported metrics.
	b.ReportMetric(trainedFile/1e6, "MB-file-trained")
	b.ReportMetric(trained/1e6, "MB-live-trained")
	b.ReportMetric(live/1e6, "MB-live-day")
	b.ReportMetric(appended/1e3, "kB/commit")
	b.ReportMetric(bound/1e6, "MB-max")
	b.ReportMetric(fileDay/1e6, "MB-file-day")
}
