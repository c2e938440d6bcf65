package daemon

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/logtally/logtally/interval"
	"github.com/logtally/logtally/match"
	"github.com/logtally/logtally/measure"
	"github.com/logtally/logtally/rules"
	"github.com/logtally/logtally/state"
)

// LearnOptions configure Learn.
type LearnOptions struct {
	Interval time.Duration // 0: settings.interval
	// Logs are the files to learn from. Each applies to the measurements
	// whose file it is (auth.log.2.gz is a rotated auth.log), or to every
	// file measurement with All. Without Logs, each measurement learns from
	// its file and the rotated versions beside it.
	Logs []string
	All  bool
	// Since and Until bound what journal measurements read of the journal
	// (zero: all of it).
	Since, Until time.Time
	Now          time.Time
	// Progress, when not nil, is called with bytes read and bytes in all.
	Progress func(done, total int64)
	// Empty, when not nil, is told why a journal stream gave no entry.
	Empty func(source, why string)
}

// LearnResult says what one measurement learned.
type LearnResult struct {
	Handle    string
	Files     []string
	Intervals int       // intervals learned
	Skipped   int       // intervals already learned, or not yet complete
	From, To  time.Time // the intervals learned
	Lines     uint64    // lines of its stream read
	Undated   uint64    // selected lines without a usable timestamp: not learned
	// Afresh says why a stored baseline was not usable and learning
	// started from a new one (empty when it was, or none was stored).
	Afresh string
}

// Learn trains the weekly baselines of the rules from existing logs,
// attributing each line to the interval of its own timestamp, and stores
// them in the state file. It only learns intervals after what each baseline
// already knows and before the daemon's own history (the end of its last
// committed interval, or now), so it is idempotent and never learns an
// interval the daemon has learned or will catch up.
func Learn(store *state.Store, set *rules.Set, o LearnOptions) ([]LearnResult, error) {
	width := o.Interval
	if width <= 0 {
		width = set.Settings.Interval
	}
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	timelines, files, err := readTimelines(set, width, o.Logs, o.All, true, o.Since, o.Until, o.Progress, o.Empty)
	if err != nil {
		return nil, fmt.Errorf("learn: %w", err)
	}

	var results []LearnResult
	err = store.Update(func(tx *state.Tx) error {
		if _, _, err := interval.Migrate(tx); err != nil {
			return err
		}
		eng := interval.New(width)
		warnings, err := eng.Apply(set, tx)
		if err != nil {
			return err
		}
		afresh := map[string]string{}
		for _, w := range warnings {
			afresh[w.Handle] = w.Err.Error()
		}
		prev, _, err := tx.Get(interval.KeyInterval)
		if err != nil {
			return err
		}
		// The daemon learns the intervals it commits: learn stops where
		// its history at this width begins.
		bound := o.Now.Truncate(width)
		if prev == width.String() {
			committed, err := interval.GetTime(tx, interval.KeyCommittedEnd)
			if err != nil {
				return err
			}
			if !committed.IsZero() && committed.Before(bound) {
				bound = committed
			}
		}
		var ws interval.Writes
		for gi, tl := range timelines {
			intervals := tl.Intervals()
			for mi, m := range tl.Group.Measurements {
				r := LearnResult{Handle: m.Handle, Files: files[gi], Lines: tl.Lines, Undated: tl.Undated, Afresh: afresh[m.Handle]}
				after, err := interval.GetTime(tx, interval.LearnedKey(width, m.Handle))
				if err != nil {
					return err
				}
				for _, t := range intervals {
					if t.Before(after) || t.Add(width).After(bound) {
						r.Skipped++
						continue
					}
					eng.Sample(m.Handle, t, tl.At(t, mi))
					if r.Intervals == 0 {
						r.From = t
					}
					r.To = t.Add(width)
					r.Intervals++
				}
				if r.Intervals > 0 {
					ws = append(ws, eng.SaveBaseline(m.Handle)...)
					ws = append(ws, interval.Write{Key: interval.LearnedKey(width, m.Handle), Value: r.To.UTC().Format(time.RFC3339Nano)})
				}
				results = append(results, r)
			}
		}
		if prev == "" {
			// A new state file: the learned width is the one to graph.
			ws = append(ws, interval.Write{Key: interval.KeyInterval, Value: width.String()})
		}
		return ws.Apply(tx)
	})
	if err != nil {
		return nil, fmt.Errorf("learn: %w", err)
	}
	sort.Slice(results, func(i, j int) bool { return results[i].Handle < results[j].Handle })
	return results, nil
}

// learnFiles decides which files each group learns from.
func learnFiles(groups []*interval.Group, logs []string, all bool) ([][]string, error) {
	out := make([][]string, len(groups))
	if len(logs) == 0 {
		for gi, g := range groups {
			paths := []string{g.Path}
			if strings.ContainsAny(g.Path, "*?[") {
				m, err := filepath.Glob(g.Path)
				if err != nil {
					return nil, fmt.Errorf("glob %s: %w", g.Path, err)
				}
				paths = m
			}
			seen := map[string]bool{}
			for _, p := range paths {
				sib, err := measure.RotatedSiblings(p)
				if err != nil {
					return nil, err
				}
				for _, s := range sib {
					if !seen[s] {
						seen[s] = true
						out[gi] = append(out[gi], s)
					}
				}
			}
			if len(out[gi]) == 0 {
				return nil, fmt.Errorf("no log found for %s (give the logs as arguments)", g.Path)
			}
		}
		return out, nil
	}
	for _, l := range logs {
		matched := false
		for gi, g := range groups {
			if all || logBelongs(l, g.Path) {
				out[gi] = append(out[gi], l)
				matched = true
			}
		}
		if !matched {
			return nil, fmt.Errorf("%s is not the file of any measurement (use --all to apply it to every one)", l)
		}
	}
	return out, nil
}

// logBelongs reports whether log is the file at path, or a rotated version
// of it, possibly copied elsewhere: auth.log.2.gz belongs to
// /var/log/auth.log. path may be a glob.
func logBelongs(log, path string) bool {
	name := filepath.Base(log)
	pattern := filepath.Base(path)
	for _, cand := range []string{name, stripRotation(name)} {
		if ok, _ := filepath.Match(pattern, cand); ok {
			return true
		}
	}
	return false
}

func stripRotation(name string) string {
	name = strings.TrimSuffix(name, ".gz")
	if i := strings.LastIndexAny(name, ".-"); i > 0 {
		suffix := name[i+1:]
		if suffix != "" && strings.Trim(suffix, "0123456789") == "" {
			return name[:i]
		}
	}
	return name
}

func fileSize(name string) int64 {
	fi, err := os.Stat(name)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// readTimelines replays the logs of every file measurement (every weekly
// one when weeklyOnly) into one fold per stream, by the lines' own
// timestamps, and the journal of every journal measurement from since to
// until; files[i] are the files fold i read (the journal stream's name for
// a journal). empty, when not nil, is told why a journal gave no entry.
func readTimelines(set *rules.Set, width time.Duration, logs []string, all, weeklyOnly bool, since, until time.Time,
	progress func(done, total int64), empty func(source, why string)) ([]*interval.Fold, [][]string, error) {
	var fileMs, journalMs []*rules.Measurement
	for _, m := range set.Measurements {
		if m.HistoryType != rules.HistoryWeekly && weeklyOnly {
			continue
		}
		switch m.StreamType {
		case rules.StreamFile:
			fileMs = append(fileMs, m)
		case rules.StreamJournal:
			journalMs = append(journalMs, m)
		}
	}
	if len(fileMs)+len(journalMs) == 0 && weeklyOnly {
		return nil, nil, errors.New("no weekly file or journal measurement in the rules")
	}
	if len(fileMs)+len(journalMs) == 0 {
		return nil, nil, errors.New("no file or journal measurement in the rules")
	}
	opts := match.Options{Timeout: set.Settings.RegexTimeout}
	groups, err := interval.Groups(fileMs, "", opts)
	if err != nil {
		return nil, nil, err
	}
	files, err := learnFiles(groups, logs, all)
	if err != nil {
		return nil, nil, err
	}
	var total, done int64
	for _, fs := range files {
		for _, f := range fs {
			total += fileSize(f)
		}
	}
	timelines := make([]*interval.Fold, len(groups))
	for gi, g := range groups {
		tl := g.NewFold(width)
		for _, name := range files[gi] {
			in, err := measure.OpenFile(name)
			if err != nil {
				return nil, nil, err
			}
			base, size := done, fileSize(name)
			err = measure.Replay(tl, in, set.Settings.MaxLineLength, func(n int64) {
				if progress != nil {
					progress(base+min(n, size), total)
				}
			})
			in.R.Close()
			if err != nil {
				return nil, nil, err
			}
			done += size
		}
		timelines[gi] = tl
	}
	jgroups, err := interval.Groups(journalMs, "", opts)
	if err != nil {
		return nil, nil, err
	}
	for _, g := range jgroups {
		tl := g.NewFold(width)
		why, err := measure.ReplayJournal(tl, since, until, set.Settings.MaxLineLength, nil)
		if err != nil {
			return nil, nil, err
		}
		if why != "" && empty != nil {
			empty(g.Source, why)
		}
		timelines = append(timelines, tl)
		files = append(files, []string{g.Source})
	}
	return timelines, files, nil
}
