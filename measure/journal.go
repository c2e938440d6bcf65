package measure

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"time"

	"github.com/logtally/logtally/follow"
	"github.com/logtally/logtally/interval"
	"github.com/logtally/logtally/rules"
)

// JournalConfig returns the follower configuration of a journal
// measurement's stream: its units, identifiers, matches, directory and
// rendering, with the line length limit. The daemon adds the cursor to
// resume after; test, learn and backtest add the time range to read.
func JournalConfig(m *rules.Measurement, maxLine int) follow.JournalConfig {
	return follow.JournalConfig{
		Source: interval.JournalSource(m),
		Units:  m.JournalUnits, Identifiers: m.JournalIdentifiers, Matches: m.JournalMatches,
		Directory: m.JournalDir, Render: m.Render, MaxLine: maxLine,
	}
}

// OpenJournal reads the journal entries a measurement selects, written
// from since to until (zero: unbounded), once, as the stream of a one-shot
// evaluation (`logtally test`). Problems that do not stop the read (a
// journal file that cannot be read) are reported to events. When no entry
// was read, the Input's Note says why (follow.Journal.WhyEmpty), as does
// the error when journalctl failed.
func OpenJournal(m *rules.Measurement, since, until time.Time, maxLine int, events func(follow.Event)) ([]Input, error) {
	cfg := JournalConfig(m, maxLine)
	cfg.Since, cfg.Until = since, until
	j, err := follow.NewJournal(cfg)
	if err != nil {
		return nil, fmt.Errorf("open journal: %w", err)
	}
	c := &journalText{events: events}
	ctx := context.Background()
	if err := j.RunOnce(ctx, c); err != nil {
		if why := j.WhyEmpty(ctx); why != "" {
			return nil, fmt.Errorf("read %s: %w; %s", j.Source(), err, why)
		}
		return nil, fmt.Errorf("read %s: %w", j.Source(), err)
	}
	in := Input{Name: j.Source(), R: io.NopCloser(&c.buf)}
	if c.buf.Len() == 0 {
		in.Note = j.WhyEmpty(ctx)
	}
	return []Input{in}, nil
}

// journalText collects a journal's lines as text.
type journalText struct {
	buf    bytes.Buffer
	events func(follow.Event)
}

func (c *journalText) Batch(b *follow.Batch) {
	for _, l := range b.Lines {
		c.buf.Write(l.Data)
		c.buf.WriteByte('\n')
	}
}

func (c *journalText) Event(e follow.Event) {
	if c.events != nil {
		c.events(e)
	}
}

// ReplayJournal folds the journal entries of the group's stream written
// from since to until (zero: unbounded) into f, each dated by its own
// time (__REALTIME_TIMESTAMP), as `logtally learn` and `logtally backtest`
// replay logs. When it folded no entry, it returns why, as far as it can
// tell (follow.Journal.WhyEmpty); the error says it too when journalctl
// failed.
func ReplayJournal(f *interval.Fold, since, until time.Time, maxLine int, events func(follow.Event)) (string, error) {
	cfg := JournalConfig(f.Group.Measurements[0], maxLine)
	cfg.Since, cfg.Until = since, until
	j, err := follow.NewJournal(cfg)
	if err != nil {
		return "", fmt.Errorf("replay journal: %w", err)
	}
	ctx := context.Background()
	before := f.Lines
	if err := j.RunOnce(ctx, &journalReplay{f: f, events: events}); err != nil {
		if why := j.WhyEmpty(ctx); why != "" && f.Lines == before {
			return "", fmt.Errorf("replay %s: %w; %s", j.Source(), err, why)
		}
		return "", fmt.Errorf("replay %s: %w", j.Source(), err)
	}
	if f.Lines == before {
		return j.WhyEmpty(ctx), nil
	}
	return "", nil
}

// journalReplay folds a journal's lines by their own time.
type journalReplay struct {
	f      *interval.Fold
	events func(follow.Event)
}

func (r *journalReplay) Batch(b *follow.Batch) {
	d := interval.Dating{ByTimestamp: true}
	for _, l := range b.Lines {
		r.f.LineAt(l.Data, l.Cut, d, l.Time)
	}
}

func (r *journalReplay) Event(e follow.Event) {
	if r.events != nil {
		r.events(e)
	}
}
