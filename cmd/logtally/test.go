package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"runtime/debug"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	lineprotocol "github.com/influxdata/line-protocol/v2/lineprotocol"
	"github.com/spf13/cobra"

	"github.com/logtally/logtally/follow"
	"github.com/logtally/logtally/internal/num"
	"github.com/logtally/logtally/interval"
	"github.com/logtally/logtally/match"
	"github.com/logtally/logtally/measure"
	"github.com/logtally/logtally/observe"
	"github.com/logtally/logtally/output"
	"github.com/logtally/logtally/rules"
	"github.com/logtally/logtally/timestamp"
)

// testOpts are the flags of logtally test.
type testOpts struct {
	rules, log, format, proc string
	printMissed              string // "" off, "*" lines no rule selected, else handles
	printMatched             bool
	timeout                  time.Duration
	when                     timeRange
}

func newTestCmd(e *env) *cobra.Command {
	var o testOpts
	cmd := newCommand("test [--rules PATH] [--log FILE|-] [--format table|json|lp] [--print-missed] [--print-matched]",
		"run the rules once over files, stdin or commands", `
Run every measurement once over the whole current content of its stream and
print, per measurement: the value, the lines read, the lines selected,
extraction misses, regex timeouts and the rule's own time: what its
patterns took on the lines the shared pass gave it as candidates (timed on
a sample of them). File measurements read their file (a glob reads every match; .gz
files are decompressed). Pipe measurements run their command once, with
--timeout. --log replaces the stream of every measurement with one file, or
stdin for "-": a copy of a log, or a captured command output
(ss -ltnH > ports.txt). Observables (observe:) are read once from /proc,
or from a copy of one given by --proc; a set (listening_ports, data_type
slist) also prints its members and what expect: makes of them.

Then, per stream, a summary: the lines read, those selected by at least one
rule and by none, the lines in which syslog says that a message was
repeated (rsyslog's "message repeated N times: [ ... ]", BSD syslogd's
"last message repeated N times"), each counted as the N lines it stands
for (syslog_repeats in the rules), how many of the selected lines begin
with a timestamp logtally recognises, and in which format (syslog, RFC
3339, RFC 5424, ctime, or the rule's timestamp: layout) — lines without
one cannot be dated after a restart or by learn — and the time of the one pass that all the stream's
rules share. A rule that selected nothing although its pattern occurs in the
stream gets a hint: select_line_matching must match the whole line, so
'Invalid user' selects nothing where '.*Invalid user.*' selects every line
that contains it. A journal stream that read no entry says why: no
journal files where journalctl looks, journal files this user may not read
(then journalctl reads only the others, or fails: run as root, or as a
member of the files' group), or no entry of its selection in the time
range, with the time of the last one.

Lines are matched and folded into values by the interval engine the daemon
uses (a block scan finds the candidate lines, and a large file is read with
every core), and --format lp writes the daemon's points, with the counts of
the pass as extra fields.`, `
  logtally test --rules examples/rules/ssh.yaml --log /var/log/auth.log
  journalctl -u ssh -o short-iso | logtally test --rules ssh.yaml --log - --format json
  logtally test --rules mail.yaml --log mail.log --print-missed | head
  logtally test --rules ssh.yaml --log auth.log --print-missed=ssh_username_probe
  logtally test --rules examples/rules/ports.yaml --proc examples/testdata/ports/proc`,
		func(*cobra.Command, []string) int { return runTest(e, o) })
	f := cmd.Flags()
	f.StringVar(&o.rules, "rules", defaultRules, "rules directory or file")
	f.StringVar(&o.log, "log", "", `read this file (or "-" for stdin) instead of the stream of every measurement`)
	f.StringVar(&o.format, "format", "table", "output format: table, json or lp (InfluxDB line protocol)")
	f.StringVar(&o.printMissed, "print-missed", "", `print the lines no measurement selected; with =HANDLE[,HANDLE], the lines of each one's stream that it did not select`)
	f.Lookup("print-missed").NoOptDefVal = "*"
	f.BoolVar(&o.printMatched, "print-matched", false, "print the selected lines, prefixed with the handles that selected them")
	f.DurationVar(&o.timeout, "timeout", 30*time.Second, "time limit of each pipe command, and of the observables' reading")
	o.when.addFlags(f)
	f.StringVar(&o.proc, "proc", observe.DefaultProc, "where proc(5) is mounted, or a copy of it, for the observables")
	completeWords(cmd, "format", "table", "json", "lp")
	return cmd
}

func runTest(e *env, o testOpts) int {
	switch o.format {
	case "table", "json", "lp":
	default:
		fmt.Fprintf(e.stderr, "logtally test: unknown --format %q (want table, json or lp)\n", o.format)
		return exitInvalid
	}
	if e.getenv("GOGC") == "" {
		// One pass allocates mostly while the rules are loaded and
		// compiled, garbage of a few milliseconds: at the default
		// GOGC (100) the collector ran five times in the first 0.2 s
		// of 1000 rules over a million lines, at 400 once, for a peak
		// RSS of 37 MB instead of 33.
		defer debug.SetGCPercent(debug.SetGCPercent(400))
	}
	set, ok := loadRules(e, o.rules)
	if !ok {
		return exitInvalid
	}
	opts := match.Options{Timeout: set.Settings.RegexTimeout}
	groups, err := interval.Groups(set.Measurements, o.log, opts)
	if err != nil {
		fmt.Fprintf(e.stderr, "logtally test: %v\n", err)
		return exitFailure
	}
	// Printed lines go to stdout before a table, and to stderr when stdout
	// carries JSON or line protocol.
	lineOut := e.stdout
	if o.format != "table" {
		lineOut = e.stderr
	}
	var missed map[string]bool // nil: every rule; empty: none
	switch o.printMissed {
	case "":
		missed = map[string]bool{}
	case "*":
	default:
		missed = map[string]bool{}
		for _, h := range strings.Split(o.printMissed, ",") {
			if set.Measurement(h) == nil {
				fmt.Fprintf(e.stderr, "logtally test: --print-missed: no measurement %q\n", h)
				return exitInvalid
			}
			missed[h] = true
		}
	}
	var observeLines measure.Observer
	if o.printMissed != "" || o.printMatched {
		observeLines = lineObserver(lineOut, missed, o.printMatched)
	}
	since, until, err := o.when.parse(time.Now())
	if err != nil {
		fmt.Fprintf(e.stderr, "logtally test: %v\n", err)
		return exitInvalid
	}
	open := func(g *interval.Group) ([]measure.Input, error) {
		m := g.Measurements[0]
		switch {
		case m.StreamType == rules.StreamPipe && o.log == "":
			return openPipeOnce(m, o.timeout, e.stderr)
		case m.StreamType == rules.StreamJournal && o.log == "":
			return measure.OpenJournal(m, since, until, set.Settings.MaxLineLength, func(ev follow.Event) {
				if ev.Kind != follow.EventExit { // a failed exit is the error OpenJournal returns
					fmt.Fprintf(e.stderr, "logtally test: %s\n", ev.String())
				}
			})
		}
		return measure.OpenPath(g.Path, e.stdin)
	}
	results := measure.Evaluate(groups, open, set.Settings.MaxLineLength, observeLines)
	results = append(results, observeOnce(set, o.proc, o.timeout)...)
	measure.SortResults(results, set)
	rep := newTestReport(results, opts)

	code := exitOK
	if writeTestErrors(e.stderr, results) {
		code = exitFailure
	}
	switch o.format {
	case "json":
		err = writeTestJSON(e.stdout, rep)
	case "lp":
		if err = writeTestLP(e.stdout, set, results, time.Now()); err == nil {
			writeTestSummary(e.stderr, rep)
		}
	default:
		if err = writeTestTable(e.stdout, rep); err == nil {
			writeTestSummary(e.stdout, rep)
		}
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "logtally test: %v\n", err)
		return exitFailure
	}
	return code
}

// writeTestErrors writes the errors of the results, a stream's once for
// all its measurements, and reports whether there was one.
func writeTestErrors(w io.Writer, results []measure.Result) bool {
	type failed struct {
		handles []string
		err     error
	}
	var errs []*failed
	byStream := map[*measure.Stream]*failed{}
	for _, r := range results {
		if r.Err == nil {
			continue
		}
		if f := byStream[r.Stream]; f != nil && r.Stream != nil {
			f.handles = append(f.handles, r.Measurement.Handle)
			continue
		}
		f := &failed{handles: []string{r.Measurement.Handle}, err: r.Err}
		errs = append(errs, f)
		byStream[r.Stream] = f
	}
	for _, f := range errs {
		who := f.handles[0]
		if len(f.handles) > 1 {
			who += fmt.Sprintf(" and %d more", len(f.handles)-1)
		}
		fmt.Fprintf(w, "logtally test: %s: %v\n", who, f.err)
	}
	return len(errs) > 0
}

// observeOnce reads the observables of the rules once, from the proc(5)
// at proc.
func observeOnce(set *rules.Set, proc string, limit time.Duration) []measure.Result {
	var ms []*rules.Measurement
	var specs []observe.Spec
	for _, m := range set.Measurements {
		if m.StreamType == rules.StreamObserve {
			ms = append(ms, m)
			specs = append(specs, *m.Observe)
		}
	}
	if len(ms) == 0 {
		return nil
	}
	s := observe.Sampler{Proc: proc}
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	start := time.Now()
	readings := s.SampleContext(ctx, specs)
	elapsed := time.Since(start)
	out := make([]measure.Result, len(ms))
	for i, r := range readings {
		if r.Err != nil {
			out[i] = measure.Result{Measurement: ms[i], Err: r.Err, Elapsed: elapsed}
			continue
		}
		out[i] = measure.ResultOf(ms[i], interval.Sampled(ms[i], r.Value, r.Keys))
		out[i].Elapsed = elapsed
	}
	return out
}

// lineObserver prints the selected lines (matched) with the handles that
// selected them, and the lines missed: those no rule selected when missed
// is nil, else those each rule of missed did not select.
func lineObserver(w io.Writer, missed map[string]bool, matched bool) measure.Observer {
	var buf bytes.Buffer
	var by []bool // rule index → selected this line
	return func(g *interval.Group, line []byte, hits []match.Hit) {
		selected := false
		buf.Reset()
		by = append(by[:0], make([]bool, len(g.Measurements))...)
		for _, h := range hits {
			if !h.Selected {
				continue
			}
			by[h.Rule] = true
			if selected {
				buf.WriteByte(',')
			}
			selected = true
			buf.WriteString(g.Measurements[h.Rule].Handle)
		}
		if selected && matched {
			fmt.Fprintf(w, "%s: %s\n", buf.Bytes(), printable(line))
		}
		switch {
		case missed == nil && !selected:
			fmt.Fprintf(w, "%s\n", printable(line))
		case missed != nil:
			for i, m := range g.Measurements {
				if missed[m.Handle] && !by[i] {
					if len(missed) == 1 {
						fmt.Fprintf(w, "%s\n", printable(line))
					} else {
						fmt.Fprintf(w, "%s missed: %s\n", m.Handle, printable(line))
					}
				}
			}
		}
	}
}

// printable makes a log line safe to print on a terminal: invalid UTF-8 and
// control characters (escape sequences) are escaped.
func printable(line []byte) string {
	s := strings.ToValidUTF8(string(line), "\uFFFD")
	if strings.IndexFunc(s, func(r rune) bool { return r < 0x20 && r != '\t' || r == 0x7f }) < 0 {
		return s
	}
	q := strconv.QuoteToGraphic(s)
	return q[1 : len(q)-1]
}

// testReport is what `logtally test` prints: the results, each rule's own
// time, the streams as wholes, and the hints for rules that selected
// nothing.
type testReport struct {
	results []measure.Result
	own     map[*rules.Measurement]time.Duration
	streams []*measure.Stream
	hints   []measure.Hint
}

func newTestReport(results []measure.Result, opts match.Options) *testReport {
	rep := &testReport{results: results, own: map[*rules.Measurement]time.Duration{}}
	seen := map[*measure.Stream]bool{}
	for _, r := range results {
		if s := r.Stream; s != nil && !seen[s] && r.Err == nil {
			seen[s] = true
			rep.streams = append(rep.streams, s)
			for i, d := range s.Times {
				rep.own[s.Group.Measurements[i]] = d
			}
		}
	}
	// The rules of a stream that selected nothing are explained in one
	// pass over its head.
	silent := map[*measure.Stream][]*rules.Measurement{}
	for _, r := range results {
		if r.Err == nil && r.Selected == 0 && r.Stream != nil {
			silent[r.Stream] = append(silent[r.Stream], r.Measurement)
		}
	}
	for _, s := range rep.streams {
		rep.hints = append(rep.hints, s.Hints(silent[s], opts)...)
	}
	return rep
}

type testJSON struct {
	Handle        string   `json:"handle"`
	Value         *float64 `json:"value"`
	Lines         uint64   `json:"lines"`
	Selected      uint64   `json:"selected"`
	ExtractMisses uint64   `json:"extract_misses"`
	Timeouts      uint64   `json:"timeouts"`
	Cut           uint64   `json:"cut"`
	KeyRejects    uint64   `json:"key_rejects,omitempty"`
	Ignored       uint64   `json:"ignored,omitempty"`
	Keys          int      `json:"keys,omitempty"`
	TopKey        string   `json:"top_key,omitempty"`
	TopCount      uint64   `json:"top_count,omitempty"`
	TimeMS        float64  `json:"time_ms"` // the rule's own time
	Error         string   `json:"error,omitempty"`
	Text          string   `json:"text,omitempty"`
	Set           []string `json:"set,omitempty"`
	Unexpected    []string `json:"unexpected,omitempty"`
	Missing       []string `json:"missing,omitempty"`
	Classes       []string `json:"classes,omitempty"`
}

type streamJSON struct {
	Source     string            `json:"source"`
	Lines      uint64            `json:"lines"`
	Selected   uint64            `json:"selected"`          // by at least one rule
	Unselected uint64            `json:"unselected"`        // by none
	Repeats    uint64            `json:"repeats,omitempty"` // syslog repeat lines counted as the lines they stand for
	Timestamps map[string]uint64 `json:"timestamps"`        // of the selected lines, by format; "none" not recognised
	PassMS     float64           `json:"pass_ms"`           // the one pass its rules share
	Notes      []string          `json:"notes,omitempty"`   // why nothing was read, when it can be told
}

type hintJSON struct {
	Handle  string `json:"handle"`
	Found   uint64 `json:"found"` // lines in which the pattern occurs
	Of      uint64 `json:"of"`    // lines examined
	Whole   bool   `json:"whole"` // the examined lines are the whole stream
	Suggest string `json:"suggest"`
}

// ms gives a duration in milliseconds, to the nanosecond: a rule's own
// time may be far below a microsecond.
func ms(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e6 }

// ownTime is a rule's own time, or an observable's reading.
func (rep *testReport) ownTime(r measure.Result) time.Duration {
	if d, ok := rep.own[r.Measurement]; ok {
		return d
	}
	return r.Elapsed
}

func writeTestJSON(w io.Writer, rep *testReport) error {
	out := struct {
		Measurements []testJSON   `json:"measurements"`
		Streams      []streamJSON `json:"streams"`
		Hints        []hintJSON   `json:"hints"`
	}{Measurements: []testJSON{}, Streams: []streamJSON{}, Hints: []hintJSON{}}
	for _, r := range rep.results {
		j := testJSON{
			Handle: r.Measurement.Handle, Lines: r.Lines, Selected: r.Selected,
			ExtractMisses: r.ExtractMisses, Timeouts: r.Timeouts, Cut: r.Cut,
			KeyRejects: r.KeyRejects, Ignored: r.Ignored, Keys: r.Keys, TopKey: r.TopKey, TopCount: r.TopCount,
			TimeMS: ms(rep.ownTime(r)),
			Text:   r.Text, Set: r.Set, Unexpected: r.Unexpected, Missing: r.Missing, Classes: r.Classes,
		}
		if r.Valid {
			v := num.Clean(r.Value)
			j.Value = &v
		}
		if r.Err != nil {
			j.Error = r.Err.Error()
		}
		out.Measurements = append(out.Measurements, j)
	}
	for _, s := range rep.streams {
		ts := map[string]uint64{}
		for f, n := range s.Formats {
			name := f.String()
			if f == timestamp.Layout {
				name = s.Layout
			}
			ts[name] += n
		}
		if s.Group.Kind == interval.KindJournal {
			// Every entry carries its time: none is undated.
			ts = map[string]uint64{"journal": s.Selected}
		}
		out.Streams = append(out.Streams, streamJSON{Source: streamName(s.Group), Lines: s.Lines, Selected: s.Selected,
			Unselected: s.Lines - s.Selected, Repeats: s.Repeats, Timestamps: ts, PassMS: ms(s.Elapsed), Notes: s.Notes})
	}
	for _, h := range rep.hints {
		out.Hints = append(out.Hints, hintJSON{Handle: h.Measurement.Handle, Found: h.Found, Of: h.Of, Whole: h.Whole, Suggest: h.Suggest})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// shortTime rounds a duration to the microsecond, or to the nanosecond
// below one.
func shortTime(d time.Duration) time.Duration {
	if d < time.Microsecond {
		return d
	}
	return d.Round(time.Microsecond)
}

func writeTestTable(w io.Writer, rep *testReport) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "HANDLE\tVALUE\tLINES\tSELECTED\tMISSES\tTIMEOUTS\tCUT\tTIME\tTOP KEY\t")
	for _, r := range rep.results {
		val := "-"
		if r.Valid {
			val = num.Human(r.Value)
		}
		if r.Err != nil {
			val = "error"
		}
		top := ""
		if r.TopKey != "" {
			top = fmt.Sprintf("%s (%d)", printable([]byte(r.TopKey)), r.TopCount)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\t%s\t%s\t\n", r.Measurement.Handle, val, r.Lines,
			r.Selected, r.ExtractMisses, r.Timeouts, r.Cut, shortTime(rep.ownTime(r)), top)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	// Text values and sets, which do not fit a column; ignored lines.
	for _, r := range rep.results {
		h := r.Measurement.Handle
		if r.Ignored > 0 {
			fmt.Fprintf(w, "%s: %d selected lines of ignored keys (ignore_keys) not counted\n", h, r.Ignored)
		}
		if r.KeyRejects > 0 {
			fmt.Fprintf(w, "%s: %d selected lines counted without a key: theirs is not of key_type %s\n", h, r.KeyRejects, r.Measurement.KeyType)
		}
		if r.Text != "" {
			fmt.Fprintf(w, "%s: %s\n", h, printable([]byte(r.Text)))
		}
		if r.Set == nil {
			continue
		}
		fmt.Fprintf(w, "%s: %s\n", h, printable([]byte(orNone(r.Set))))
		if r.Measurement.Expect != nil {
			fmt.Fprintf(w, "%s: unexpected: %s; missing: %s\n", h, printable([]byte(orNone(r.Unexpected))), printable([]byte(orNone(r.Missing))))
		}
		if len(r.Classes) > 0 {
			fmt.Fprintf(w, "%s: classes %s\n", h, strings.Join(r.Classes, " "))
		}
	}
	return nil
}

func orNone(items []string) string {
	if len(items) == 0 {
		return "none"
	}
	return strings.Join(items, ", ")
}

// streamName names a stream for the summary: a file's path (or what
// --log gave), a command's argv, the journal's selection.
func streamName(g *interval.Group) string {
	switch g.Kind {
	case interval.KindJournal:
		return g.Source
	case interval.KindPipe, interval.KindInterval:
		return strings.Join(g.Command, " ")
	}
	return g.Path
}

// writeTestSummary writes, per stream, what fail2ban-regex sums up (lines
// read, selected, missed, timestamps recognised and their formats), then
// the hints.
func writeTestSummary(w io.Writer, rep *testReport) {
	for _, s := range rep.streams {
		name := streamName(s.Group)
		fmt.Fprintf(w, "\n%s: %d lines read; %d selected by at least one rule, %d by none\n",
			printable([]byte(name)), s.Lines, s.Selected, s.Lines-s.Selected)
		for _, n := range s.Notes {
			fmt.Fprintf(w, "  nothing read: %s\n", n)
		}
		if s.Repeats > 0 {
			fmt.Fprintf(w, "  repeats: %s in which syslog says that a message was repeated, each counted as the lines it stands for (syslog_repeats)\n",
				num.Plural(int(s.Repeats), "line"))
		}
		if s.Group.Kind == interval.KindJournal {
			fmt.Fprintf(w, "  timestamps: every entry is dated by the journal (__REALTIME_TIMESTAMP)\n")
		} else if s.Selected > 0 {
			var parts []string
			for _, f := range []timestamp.Format{timestamp.Syslog, timestamp.RFC3339, timestamp.RFC5424, timestamp.Ctime, timestamp.Layout} {
				if n := s.Formats[f]; n > 0 {
					name := f.String()
					if f == timestamp.Layout {
						name = "layout " + strconv.Quote(s.Layout)
					}
					parts = append(parts, fmt.Sprintf("%s %d", name, n))
				}
			}
			dated := s.Selected - s.Formats[timestamp.None]
			line := fmt.Sprintf("  timestamps: %d of the %d selected lines recognised", dated, s.Selected)
			if len(parts) > 0 {
				line += " (" + strings.Join(parts, ", ") + ")"
			}
			if n := s.Formats[timestamp.None]; n > 0 {
				line += fmt.Sprintf("; %d without one, which learn and backtest cannot date", n)
			}
			fmt.Fprintln(w, line)
		}
		fmt.Fprintf(w, "  time: %s for the one pass its rules share; TIME is each rule's own part of it\n",
			s.Elapsed.Round(time.Microsecond))
	}
	for _, h := range rep.hints {
		of := fmt.Sprintf("%d lines", h.Of)
		if !h.Whole {
			of = fmt.Sprintf("the first %d lines", h.Of)
		}
		fmt.Fprintf(w, "\nhint: %s selected no line, but its pattern occurs in %d of %s.\n"+
			"  select_line_matching must match the whole line; %s selects those %d:\n"+
			"    select_line_matching: %s\n",
			h.Measurement.Handle, h.Found, of, yamlQuote(h.Suggest), h.Found, yamlQuote(h.Suggest))
	}
}

// yamlQuote writes s as a single-quoted YAML scalar, in which backslashes
// stay as written.
func yamlQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// writeTestLP writes one InfluxDB line-protocol point per measurement with a
// value, stamped now, as the daemon writes its samples.
func writeTestLP(w io.Writer, set *rules.Set, results []measure.Result, now time.Time) error {
	eng := interval.New(set.Settings.Interval)
	if _, err := eng.Apply(set, nil); err != nil {
		return err
	}
	var buf []byte
	for _, r := range results {
		if !r.Valid {
			continue
		}
		v := r.Value
		p := eng.Point(&interval.Sample{Handle: r.Measurement.Handle, End: now, Value: &v},
			output.Field{Key: "lines", Value: int64(r.Lines)},
			output.Field{Key: "selected", Value: int64(r.Selected)},
			output.Field{Key: "extract_misses", Value: int64(r.ExtractMisses)},
			output.Field{Key: "timeouts", Value: int64(r.Timeouts)})
		var err error
		if buf, err = output.AppendPoint(buf, p, lineprotocol.Second); err != nil {
			return fmt.Errorf("encode %s: %w", r.Measurement.Handle, err)
		}
	}
	_, err := w.Write(buf)
	return err
}
