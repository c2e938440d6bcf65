package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/logtally/logtally/daemon"
	"github.com/logtally/logtally/state"
)

// learnOpts are the flags of logtally learn.
type learnOpts struct {
	rules, state string
	interval     time.Duration
	all          bool
	when         timeRange
}

func newLearnCmd(e *env) *cobra.Command {
	var o learnOpts
	cmd := newCommand("learn [--rules PATH] [--state FILE] [--interval D] [--all] [LOG...]",
		"train the baselines from existing logs", `
Train the weekly baselines from existing logs, so that a new install sets
trustworthy classes at once instead of after weeks. Each line is attributed
to the interval of its own timestamp (syslog, with the year inferred from
the file's time and rolled over correctly at new year; RFC 3339; RFC 5424;
or the rule's timestamp: layout). Rotated logs are read too: auth.log.1,
auth.log.2.gz, auth.log-20240101.

Without LOG arguments, each measurement learns from its file and the
rotated versions beside it. Each LOG given applies to the measurements whose
file it is (a rotated or copied auth.log belongs to /var/log/auth.log), or to
every measurement with --all. Journal measurements learn from the entries
of the journal they select, each dated by its own time; --since and --until
bound them.

A baseline belongs to the interval it is learned at (counts scale with the
interval): learn at the interval the daemon runs at. Learning at another
interval trains that interval's baselines and leaves the others as they are.

Learning is idempotent: intervals a baseline already knows are skipped, and
so are those of the daemon's own history. Stop the daemon first (it holds
the state file).`, `
  logtally learn --rules /etc/logtally/rules.d
  logtally learn --rules ssh.yaml /var/log/auth.log.4.gz /var/log/auth.log.3.gz /var/log/auth.log.2.gz
  logtally learn --rules ssh.yaml --all /srv/archive/host1-auth.log
  logtally learn --rules ssh.yaml --interval 1m
  logtally learn --rules ssh-journal.yaml --since 720h`,
		func(_ *cobra.Command, args []string) int { return runLearn(e, o, args) })
	f := cmd.Flags()
	f.StringVar(&o.rules, "rules", defaultRules, "rules directory or file")
	f.StringVar(&o.state, "state", defaultState(), stateFlag)
	addIntervalFlag(f, &o.interval, "sampling interval (default: settings.interval, or 5m): the daemon's, whose baselines it trains")
	f.BoolVar(&o.all, "all", false, "every LOG applies to every weekly file measurement")
	o.when.addFlags(f)
	cmd.Args = cobra.ArbitraryArgs
	cmd.ValidArgsFunction = nil
	return cmd
}

func runLearn(e *env, o learnOpts, logs []string) int {
	set, ok := loadRules(e, o.rules)
	if !ok {
		return exitInvalid
	}
	since, until, err := o.when.parse(time.Now())
	if err != nil {
		fmt.Fprintf(e.stderr, "logtally learn: %v\n", err)
		return exitInvalid
	}
	created, err := prepareStateDir(o.state)
	if created != "" {
		fmt.Fprintf(e.stderr, "logtally learn: created state directory %s\n", created)
	}
	var store *state.Store
	if err == nil {
		store, err = state.Open(o.state, state.Options{})
	}
	if err != nil {
		if errors.Is(err, state.ErrLocked) {
			fmt.Fprintf(e.stderr, "logtally learn: %v: stop the daemon first\n", err)
		} else {
			fmt.Fprintf(e.stderr, "logtally learn: %s\n", stateErr(err))
		}
		return exitFailure
	}
	defer store.Close()
	bar := newProgress(e.stderr)
	var empty emptyStreams
	results, err := daemon.Learn(store, set, daemon.LearnOptions{
		Interval: o.interval, Logs: logs, All: o.all, Since: since, Until: until, Progress: bar.update, Empty: empty.add,
	})
	bar.done()
	empty.write(e.stderr, "learn")
	if err != nil {
		fmt.Fprintf(e.stderr, "logtally %v\n", err)
		return exitFailure
	}
	for _, r := range results {
		if r.Afresh != "" {
			fmt.Fprintf(e.stderr, "logtally learn: %s: the stored baseline is not usable (%s): learned afresh\n", r.Handle, r.Afresh)
		}
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "MEASUREMENT\tINTERVALS\tSKIPPED\tFROM\tTO\tLINES\tUNDATED\t")
	for _, r := range results {
		from, to := "-", "-"
		if r.Intervals > 0 {
			from, to = r.From.Local().Format("2006-01-02 15:04"), r.To.Local().Format("2006-01-02 15:04")
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\t%d\t%d\t\n", r.Handle, r.Intervals, r.Skipped, from, to, r.Lines, r.Undated)
	}
	return func() int { tw.Flush(); return exitOK }()
}

// emptyStreams are the journal streams of a replay that gave no entry,
// with why, to be said once the progress bar is done.
type emptyStreams []string

func (s *emptyStreams) add(source, why string) {
	*s = append(*s, printable([]byte(source))+": nothing read: "+why)
}

func (s emptyStreams) write(w io.Writer, command string) {
	for _, line := range s {
		fmt.Fprintf(w, "logtally %s: %s\n", command, line)
	}
}

// progress draws a progress bar on a terminal, and nothing otherwise.
type progress struct {
	w     io.Writer
	tty   bool
	last  time.Time
	drawn bool
}

func newProgress(w io.Writer) *progress {
	p := &progress{w: w}
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			p.tty = true
		}
	}
	return p
}

func (p *progress) update(done, total int64) {
	if !p.tty || total <= 0 || time.Since(p.last) < 100*time.Millisecond && done < total {
		return
	}
	p.last = time.Now()
	const width = 40
	frac := float64(done) / float64(total)
	if frac > 1 {
		frac = 1
	}
	n := int(frac * width)
	fmt.Fprintf(p.w, "\r[%s%s] %3.0f%% %s / %s", strings.Repeat("#", n), strings.Repeat(".", width-n), 100*frac, size(done), size(total))
	p.drawn = true
}

func (p *progress) done() {
	if p.drawn {
		fmt.Fprintln(p.w)
	}
}

func size(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
