package follow

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/logtally/logtally/lines"
)

// Journal renderings: what the text of a journal entry's line is.
const (
	// RenderMessage is the entry's MESSAGE alone (the default).
	RenderMessage = "message"
	// RenderSyslog is a syslog line, "Dec 10 06:55:46 host sshd[24200]:
	// MESSAGE", as `journalctl -o short` writes it, for patterns written
	// for /var/log/auth.log.
	RenderSyslog = "syslog"
)

// JournalConfig says which entries of the systemd journal to read and how
// to turn them into lines.
type JournalConfig struct {
	// Source names the stream in batches, events and metrics ("journal"
	// when empty); the daemon names it by what it selects.
	Source string
	// Units and Identifiers select entries of these systemd units
	// (journalctl --unit) and syslog identifiers (--identifier); Matches
	// are FIELD=value matches. Matches of one field are alternatives,
	// different fields must all match (journalctl's rules).
	Units, Identifiers, Matches []string
	// Directory reads the journal files of a directory (--directory) and
	// Files these journal files (--file) instead of the system journal.
	Directory string
	Files     []string
	// Render is RenderMessage or RenderSyslog; Location is the zone of a
	// syslog rendering's time (time.Local when nil).
	Render   string
	Location *time.Location
	// After is the cursor of the last entry already counted: reading
	// resumes just after it. Without it, Run reads only entries written
	// after it starts, or the whole journal with Beginning.
	After     string
	Beginning bool
	// Since and Until bound what RunOnce reads (zero: unbounded).
	Since, Until time.Time
	MaxLine      int    // line length limit (lines.DefaultMax when zero)
	Journalctl   string // the journalctl program ("journalctl" when empty)
	// Backoff and MaxBackoff pace the restarts of journalctl (as
	// PipeConfig's).
	Backoff, MaxBackoff time.Duration
	Clock               Clock        // injectable; SystemClock when nil
	Logger              *slog.Logger // journalctl's stderr goes here; discarded when nil
}

// Journal follows the systemd journal by running `journalctl
// --output=export` (no cgo, no libsystemd) and delivers one line per
// entry, dated by its __REALTIME_TIMESTAMP (Line.Time). Every batch ends
// with the Position of its last entry, whose Cursor the daemon saves with
// the samples; journalctl is restarted with backoff when it exits, and a
// restart of logtally resumes just after the saved cursor, so that every
// entry is counted exactly once.
//
// Resuming uses journalctl --cursor rather than --after-cursor, and skips
// the cursor's own entry itself: --after-cursor together with matches skips
// the first matching entry when the cursor's entry is gone (systemd 252).
// When the saved entry is gone — the journal was vacuumed or rotated away
// while logtally was down — reading starts at the oldest entry after it,
// and an EventLost says what may have been lost: the time between the two
// entries and, within one journal, how many entries of any unit.
//
// Entries written before the Journal started are delivered as backlog
// (Batch.Backlog), dated by their own time. A message of several lines is
// one line, its line breaks written as spaces.
type Journal struct {
	cfg    JournalConfig
	source string
	pipe   *Pipe

	mu      sync.Mutex // guards last and started
	last    string     // the cursor of the last entry delivered
	started time.Time  // entries before it are backlog
}

// NewJournal checks cfg and returns a Journal. It starts nothing.
func NewJournal(cfg JournalConfig) (*Journal, error) {
	switch cfg.Render {
	case "":
		cfg.Render = RenderMessage
	case RenderMessage, RenderSyslog:
	default:
		return nil, fmt.Errorf("new journal: render %q: want %q or %q", cfg.Render, RenderMessage, RenderSyslog)
	}
	for _, m := range cfg.Matches {
		if name, _, ok := strings.Cut(m, "="); !ok || name == "" || strings.ToUpper(name) != name {
			return nil, fmt.Errorf("new journal: match %q: want FIELD=value", m)
		}
	}
	if cfg.Journalctl == "" {
		cfg.Journalctl = "journalctl"
	}
	if cfg.Location == nil {
		cfg.Location = time.Local
	}
	p, err := NewPipe(PipeConfig{Argv: []string{cfg.Journalctl}, MaxLine: cfg.MaxLine,
		Backoff: cfg.Backoff, MaxBackoff: cfg.MaxBackoff, Clock: cfg.Clock, Logger: cfg.Logger})
	if err != nil {
		return nil, fmt.Errorf("new journal: %w", err)
	}
	if cfg.MaxLine == 0 {
		cfg.MaxLine = lines.DefaultMax
	}
	source := cfg.Source
	if source == "" {
		source = "journal"
	}
	j := &Journal{cfg: cfg, pipe: p, source: source, last: cfg.After}
	p.source = j.source
	p.readOut = j.read
	return j, nil
}

// Source returns the name the journal's batches and events carry.
func (j *Journal) Source() string { return j.source }

// Stats returns a snapshot of the journal's counters.
func (j *Journal) Stats() SourceStats { return j.pipe.Stats() }

// Running reports whether journalctl is running (it is not while it waits
// for its restart after an exit).
func (j *Journal) Running() bool { return j.pipe.Running() }

// DownAt reports whether journalctl was down at t (Pipe.DownAt).
func (j *Journal) DownAt(t time.Time) bool { return j.pipe.DownAt(t) }

// Cursor returns the cursor of the last entry delivered ("" before the
// first).
func (j *Journal) Cursor() string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.last
}

// Run follows the journal until ctx is done, restarting journalctl with
// backoff when it exits. Without a cursor to resume after, it first takes
// the cursor of the journal's last entry (reported as the Pos of an
// EventOpen, for the daemon to save at once) and follows from there, or
// reads the whole journal with Beginning.
func (j *Journal) Run(ctx context.Context, h Handler) error {
	j.mu.Lock()
	j.started = j.pipe.cfg.Clock.Now()
	j.mu.Unlock()
	if j.Cursor() == "" && !j.cfg.Beginning {
		tail, err := j.tail(ctx)
		sk := j.pipe.newSink(h)
		switch {
		case err != nil:
			sk.event(Event{Kind: EventOpenError, Source: j.source, Err: err, Detail: "reading the whole journal instead"})
		case tail != "":
			j.mu.Lock()
			j.last = tail
			j.mu.Unlock()
			sk.event(Event{Kind: EventOpen, Source: j.source, Detail: "following new entries", Pos: Position{Cursor: tail}})
		default:
			sk.event(Event{Kind: EventOpen, Source: j.source, Detail: "the journal is empty: reading it from its start"})
		}
	}
	j.pipe.argv = func() []string { return j.args(true) }
	return j.pipe.Run(ctx, h)
}

// RunOnce reads the journal once, from Since (or the entry after After)
// to Until or its end, and returns. It returns an error when journalctl
// could not be started or failed.
func (j *Journal) RunOnce(ctx context.Context, h Handler) error {
	j.pipe.argv = func() []string { return j.args(false) }
	return j.pipe.run(ctx, j.pipe.newSink(h), 0, time.Time{})
}

// args returns journalctl's command line for one run.
func (j *Journal) args(follow bool) []string {
	a := []string{j.cfg.Journalctl, "--output=export", "--no-pager", "--quiet"}
	if j.cfg.Directory != "" {
		a = append(a, "--directory="+j.cfg.Directory)
	}
	for _, f := range j.cfg.Files {
		a = append(a, "--file="+f)
	}
	if follow {
		// --follow alone shows only the last 10 entries before following.
		a = append(a, "--follow", "--lines=all")
	}
	if c := j.Cursor(); c != "" {
		a = append(a, "--cursor="+c)
	}
	if !j.cfg.Since.IsZero() {
		a = append(a, "--since=@"+unixSeconds(j.cfg.Since))
	}
	if !j.cfg.Until.IsZero() {
		a = append(a, "--until=@"+unixSeconds(j.cfg.Until))
	}
	for _, u := range j.cfg.Units {
		a = append(a, "--unit="+u)
	}
	for _, i := range j.cfg.Identifiers {
		a = append(a, "--identifier="+i)
	}
	return append(a, j.cfg.Matches...)
}

// unixSeconds writes t for journalctl's "@seconds" time, to the
// microsecond.
func unixSeconds(t time.Time) string {
	us := t.UnixMicro()
	s := strconv.FormatInt(us/1e6, 10)
	if frac := us % 1e6; frac != 0 {
		s += fmt.Sprintf(".%06d", frac)
	}
	return s
}

// tail returns the cursor of the last entry the Journal selects, "" when
// there is none. It is one of the selected entries, so that resuming at it
// finds it again: an entry of another unit would look vacuumed.
func (j *Journal) tail(ctx context.Context) (string, error) {
	e, err := j.lastEntry(ctx)
	if e == nil || err != nil {
		return "", err
	}
	return e.cursor, nil
}

// lastEntry returns the last entry the Journal selects, nil when there is none.
func (j *Journal) lastEntry(ctx context.Context) (*exportEntry, error) {
	a := append(j.args(false)[1:], "--lines=1")
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, j.cfg.Journalctl, a...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		if msg := strings.TrimSpace(stderr.String()); msg != "" {
			return nil, fmt.Errorf("journal tail: %w: %s", err, msg)
		}
		return nil, fmt.Errorf("journal tail: %w", err)
	}
	e, err := newExportReader(bytes.NewReader(out), 1).next()
	switch {
	case errors.Is(err, io.EOF):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("journal tail: %w", err)
	}
	return e, nil
}

// read reads one run's export stream: entries are parsed as they come and
// delivered in batches, a batch being handed over when no further entry is
// ready, when it is full, and at the end.
func (j *Journal) read(f *os.File, sk *sink, g *group) error {
	type parsed struct {
		e   *exportEntry
		err error
	}
	ch := make(chan parsed, 256)
	go func() {
		defer close(ch)
		r := newExportReader(f, j.cfg.MaxLine)
		for {
			e, err := r.next()
			ch <- parsed{e, err}
			if err != nil {
				return
			}
		}
	}()
	j.mu.Lock()
	resume, started := j.last, j.started
	j.mu.Unlock()
	first := true
	var b batcher
	var end Position
	flush := func() { sk.deliver(&b, j.source, end) }
	var line []byte
	for {
		var p parsed
		if b.empty() {
			p = <-ch
		} else {
			select {
			case p = <-ch:
			default:
				flush()
				continue
			}
		}
		if p.err != nil {
			flush()
			for range ch {
			}
			switch {
			case errors.Is(p.err, io.EOF):
				return nil
			case g.reason() != "" || errors.Is(p.err, os.ErrDeadlineExceeded):
				return nil // killed: the output ended with it
			case errors.Is(p.err, io.ErrUnexpectedEOF):
				return nil // journalctl ended inside an entry: it is read again
			}
			return fmt.Errorf("read journal: %w", p.err)
		}
		e := p.e
		if first && resume != "" {
			first = false
			if e.cursor == resume {
				continue // the entry already counted
			}
			j.reportLost(sk, resume, e)
		}
		first = false
		if e.cursor != "" && resume != "" && before(e.cursor, resume) {
			continue // older than what was counted: never twice
		}
		backlog := e.realtime.Before(started)
		if !b.empty() && b.backlog != backlog {
			flush()
		}
		b.backlog = backlog
		var cut bool
		line, cut = j.render(line[:0], e)
		b.addTimed(line, cut, e.size, e.realtime)
		end = Position{Cursor: e.cursor}
		j.mu.Lock()
		j.last = e.cursor
		j.mu.Unlock()
		if b.full() {
			flush()
		}
	}
}

// render writes an entry's line into buf: its MESSAGE, or a syslog line,
// cut to the line limit; line breaks at its end are dropped, the others
// become spaces.
func (j *Journal) render(buf []byte, e *exportEntry) ([]byte, bool) {
	if j.cfg.Render == RenderSyslog {
		buf = e.realtime.In(j.cfg.Location).AppendFormat(buf, time.Stamp)
		if len(e.hostname) > 0 {
			buf = append(append(buf, ' '), e.hostname...)
		}
		ident := e.ident
		if len(ident) == 0 {
			ident = e.comm
		}
		pid := e.pid
		if len(pid) == 0 {
			pid = e.sysPid
		}
		if len(ident) > 0 {
			buf = append(append(buf, ' '), ident...)
			if len(pid) > 0 {
				buf = append(append(append(buf, '['), pid...), ']')
			}
			buf = append(buf, ':')
		}
		buf = append(buf, ' ')
	}
	start := len(buf)
	buf = append(buf, bytes.TrimRight(e.message, "\r\n")...)
	for i := start; i < len(buf); i++ {
		if buf[i] == '\n' || buf[i] == '\r' {
			buf[i] = ' '
		}
	}
	cut := e.cut
	if len(buf) > j.cfg.MaxLine {
		buf, cut = buf[:j.cfg.MaxLine], true
	}
	return buf, cut
}

// reportLost says what may have been lost when the entry to resume after
// is no longer in the journal and first is the entry reading resumes at.
func (j *Journal) reportLost(sk *sink, resume string, first *exportEntry) {
	was, now := parseCursor(resume), parseCursor(first.cursor)
	detail := "the entry to resume after is no longer in the journal (vacuumed, or rotated away while logtally was down)"
	if was.realtime.IsZero() {
		detail += fmt.Sprintf("; entries before %s may have been lost", first.realtime.UTC().Format(time.RFC3339Nano))
	} else {
		detail += fmt.Sprintf("; entries written from %s to %s may have been lost",
			was.realtime.UTC().Format(time.RFC3339Nano), first.realtime.UTC().Format(time.RFC3339Nano))
	}
	if was.seqnumID != "" && was.seqnumID == now.seqnumID && now.seqnum > was.seqnum+1 {
		detail += fmt.Sprintf(": %d journal entries (of every unit), sequence numbers %d to %d", now.seqnum-was.seqnum-1, was.seqnum+1, now.seqnum-1)
	}
	sk.event(Event{Kind: EventLost, Source: j.source, Detail: detail})
}

// journalCursor is what a cursor says of its entry.
type journalCursor struct {
	seqnumID string    // s=
	seqnum   uint64    // i=
	realtime time.Time // t=
}

// parseCursor reads a cursor ("s=…;i=…;b=…;m=…;t=…;x=…", hexadecimal
// numbers); fields it cannot read are left zero.
func parseCursor(c string) journalCursor {
	var jc journalCursor
	for _, f := range strings.Split(c, ";") {
		k, v, _ := strings.Cut(f, "=")
		switch k {
		case "s":
			jc.seqnumID = v
		case "i":
			jc.seqnum, _ = strconv.ParseUint(v, 16, 64)
		case "t":
			if us, err := strconv.ParseInt(v, 16, 64); err == nil {
				jc.realtime = time.UnixMicro(us)
			}
		}
	}
	return jc
}

// before reports whether cursor a is of an entry written before b's, in
// the same journal (the same sequence number space); entries of different
// journals are not compared.
func before(a, b string) bool {
	ca, cb := parseCursor(a), parseCursor(b)
	return ca.seqnumID != "" && ca.seqnumID == cb.seqnumID && ca.seqnum > 0 && ca.seqnum <= cb.seqnum
}
