package daemon

import (
	"bytes"
	"fmt"
	"os"
	"syscall"
	"time"

	"github.com/logtally/logtally/interval"
	"github.com/logtally/logtally/state"
)

// surveyCommitted adds the samples of a committed close to the survey of
// settings.survey and appends the rows of the periods that are over to its
// file (without a file, the survey is only kept for Report). The current period is kept in memory: a restart begins a new row
// for it. Callers hold d.mu.
func (d *Daemon) surveyCommitted(res *interval.Result) {
	if d.survey == nil || res.Partial {
		return
	}
	var rows []interval.SurveyRow
	for _, s := range res.Samples {
		rows = append(rows, d.survey.Add(s)...)
	}
	rows = append(rows, d.survey.Flush(res.End)...)
	if len(rows) == 0 || d.set.Settings.Survey.File == "" {
		return
	}
	interval.SortSurvey(rows)
	if err := appendSurvey(d.set.Settings.Survey.File, rows); err != nil {
		d.log.Error("survey not written", "file", d.set.Settings.Survey.File, "err", err)
	}
}

// appendSurvey appends rows to a survey file, with the header line when
// the file is new or empty.
func appendSurvey(path string, rows []interval.SurveyRow) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE|syscall.O_NONBLOCK|syscall.O_NOCTTY, 0o640)
	if err != nil {
		return fmt.Errorf("open survey: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("stat survey: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("write survey %s: not a regular file", path)
	}
	var b bytes.Buffer
	if err := interval.WriteSurvey(&b, rows, fi.Size() == 0); err != nil {
		return err
	}
	if _, err := f.Write(b.Bytes()); err != nil {
		return fmt.Errorf("write survey: %w", err)
	}
	return f.Close()
}

// StateSurvey is the survey of a state file.
type StateSurvey struct {
	Rows []interval.SurveyRow
	// Interval is the interval surveyed, and Spacing that of the samples
	// the state keeps of it: one per time-of-week slot
	// (interval.RecentSpacing), so of an interval shorter than a slot
	// (five minutes) the survey has the last sample of each slot.
	Interval, Spacing time.Duration
}

// SurveyState returns the survey of a state file's recent-values rings:
// the last week of each weekly measurement at the interval the daemon last
// ran at (or width, when given), in periods of the given length.
func SurveyState(store *state.Store, width, period time.Duration, now time.Time) (StateSurvey, error) {
	var rows []interval.SurveyRow
	err := store.View(func(tx *state.Tx) error {
		if width <= 0 {
			iv, _, err := tx.Get(interval.KeyInterval)
			if err != nil {
				return err
			}
			if width, err = time.ParseDuration(iv); err != nil || width <= 0 {
				return fmt.Errorf("the state file says no interval (%q): give --interval", iv)
			}
		}
		handles, err := interval.Baselines(tx, width)
		if err != nil {
			return err
		}
		for _, h := range handles {
			recent, err := interval.RecentScored(tx, width, h, now)
			if err != nil {
				return err
			}
			sv := interval.NewSurvey(period)
			for _, r := range recent {
				v := r.V
				s := &interval.Sample{Handle: h, Start: r.T, End: r.T.Add(width), Value: &v}
				rows = append(rows, sv.AddScore(s, r.Score)...)
			}
			rows = append(rows, sv.Flush(time.Time{})...)
		}
		return nil
	})
	interval.SortSurvey(rows)
	if err != nil {
		return StateSurvey{}, err
	}
	return StateSurvey{Rows: rows, Interval: width, Spacing: interval.RecentSpacing(width)}, nil
}

// SurveyReplays returns the survey of a backtest's replays, in periods of
// the given length.
func SurveyReplays(replays []Replay, period time.Duration) []interval.SurveyRow {
	var rows []interval.SurveyRow
	for _, r := range replays {
		sv := interval.NewSurvey(period)
		for _, row := range r.Rows {
			rows = append(rows, sv.Add(row.Sample)...)
		}
		rows = append(rows, sv.Flush(time.Time{})...)
	}
	interval.SortSurvey(rows)
	return rows
}
