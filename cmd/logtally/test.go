package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	lineprotocol "github.com/influxdata/line-protocol/v2/lineprotocol"
	"github.com/spf13/cobra"

	"github.com/logtally/logtally/interval"
	"github.com/logtally/logtally/match"
	"github.com/logtally/logtally/measure"
	"github.com/logtally/logtally/output"
	"github.com/logtally/logtally/rules"
)

// testOpts are the flags of logtally test.
type testOpts struct {
	rules, log, format        string
	printMissed, printMatched bool
	timeout                   time.Duration
}

func newTestCmd(e *env) *cobra.Command {
	var o testOpts
	cmd := newCommand("test [--rules PATH] [--log FILE|-] [--format table|json|lp] [--print-missed] [--print-matched]",
		"run the rules once over files, stdin or commands", `
Run every measurement once over the whole current content of its stream and
print, per measurement: the value, the lines read, the lines selected,
extraction misses, regex timeouts and the time spent. File measurements read
their file (a glob reads every match; .gz files are decompressed). Pipe
measurements run their command once, with --timeout. --log replaces the
stream of every measurement with one file, or stdin for "-": a copy of a log,
or a captured command output (ss -ltnH > ports.txt).

Measurements that read the same stream share one pass over it, so their time
is that pass's. Lines are matched and folded into values by the interval
engine the daemon uses (a block scan finds the candidate lines, and a large
file is read with every core), and --format lp writes the daemon's points,
with the counts of the pass as extra fields.`, `
  logtally test --rules examples/rules/ssh.yaml --log /var/log/auth.log
  journalctl -u ssh -o short-iso | logtally test --rules ssh.yaml --log - --format json
  logtally test --rules mail.yaml --log mail.log --print-missed | head`,
		func(*cobra.Command, []string) int { return runTest(e, o) })
	f := cmd.Flags()
	f.StringVar(&o.rules, "rules", defaultRules, "rules directory or file")
	f.StringVar(&o.log, "log", "", `read this file (or "-" for stdin) instead of the stream of every measurement`)
	f.StringVar(&o.format, "format", "table", "output format: table, json or lp (InfluxDB line protocol)")
	f.BoolVar(&o.printMissed, "print-missed", false, "print the lines no measurement selected")
	f.BoolVar(&o.printMatched, "print-matched", false, "print the selected lines, prefixed with the handles that selected them")
	f.DurationVar(&o.timeout, "timeout", 30*time.Second, "time limit of each pipe command")
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
	var observe measure.Observer
	if o.printMissed || o.printMatched {
		observe = lineObserver(lineOut, o.printMissed, o.printMatched)
	}
	open := func(g *interval.Group) ([]measure.Input, error) {
		m := g.Measurements[0]
		if m.StreamType == rules.StreamPipe && o.log == "" {
			return openPipeOnce(m, o.timeout, e.stderr)
		}
		return measure.OpenPath(g.Path, e.stdin)
	}
	results := measure.Evaluate(groups, open, set.Settings.MaxLineLength, observe)
	measure.SortResults(results, set)

	code := exitOK
	for _, r := range results {
		if r.Err != nil {
			fmt.Fprintf(e.stderr, "logtally test: %s: %v\n", r.Measurement.Handle, r.Err)
			code = exitFailure
		}
	}
	switch o.format {
	case "json":
		err = writeTestJSON(e.stdout, results)
	case "lp":
		err = writeTestLP(e.stdout, set, results, time.Now())
	default:
		err = writeTestTable(e.stdout, results)
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "logtally test: %v\n", err)
		return exitFailure
	}
	return code
}

func lineObserver(w io.Writer, missed, matched bool) measure.Observer {
	var buf bytes.Buffer
	return func(g *interval.Group, line []byte, hits []match.Hit) {
		selected := false
		buf.Reset()
		for _, h := range hits {
			if !h.Selected {
				continue
			}
			if selected {
				buf.WriteByte(',')
			}
			selected = true
			buf.WriteString(g.Measurements[h.Rule].Handle)
		}
		switch {
		case selected && matched:
			fmt.Fprintf(w, "%s: %s\n", buf.Bytes(), printable(line))
		case !selected && missed:
			fmt.Fprintf(w, "%s\n", printable(line))
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

type testJSON struct {
	Handle        string   `json:"handle"`
	Value         *float64 `json:"value"`
	Lines         uint64   `json:"lines"`
	Selected      uint64   `json:"selected"`
	ExtractMisses uint64   `json:"extract_misses"`
	Timeouts      uint64   `json:"timeouts"`
	Cut           uint64   `json:"cut"`
	KeyRejects    uint64   `json:"key_rejects,omitempty"`
	Keys          int      `json:"keys,omitempty"`
	TopKey        string   `json:"top_key,omitempty"`
	TopCount      uint64   `json:"top_count,omitempty"`
	TimeMS        float64  `json:"time_ms"`
	Error         string   `json:"error,omitempty"`
}

func writeTestJSON(w io.Writer, results []measure.Result) error {
	out := struct {
		Measurements []testJSON `json:"measurements"`
	}{Measurements: []testJSON{}}
	for _, r := range results {
		j := testJSON{
			Handle: r.Measurement.Handle, Lines: r.Lines, Selected: r.Selected,
			ExtractMisses: r.ExtractMisses, Timeouts: r.Timeouts, Cut: r.Cut,
			KeyRejects: r.KeyRejects, Keys: r.Keys, TopKey: r.TopKey, TopCount: r.TopCount,
			TimeMS: math.Round(float64(r.Elapsed.Microseconds())) / 1000,
		}
		if r.Valid {
			v := r.Value
			j.Value = &v
		}
		if r.Err != nil {
			j.Error = r.Err.Error()
		}
		out.Measurements = append(out.Measurements, j)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

func writeTestTable(w io.Writer, results []measure.Result) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "HANDLE\tVALUE\tLINES\tSELECTED\tMISSES\tTIMEOUTS\tCUT\tTIME\tTOP KEY\t")
	for _, r := range results {
		val := "-"
		if r.Valid {
			val = strconv.FormatFloat(r.Value, 'g', -1, 64)
		}
		if r.Err != nil {
			val = "error"
		}
		top := ""
		if r.TopKey != "" {
			top = fmt.Sprintf("%s (%d)", printable([]byte(r.TopKey)), r.TopCount)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\t%s\t%s\t\n", r.Measurement.Handle, val, r.Lines,
			r.Selected, r.ExtractMisses, r.Timeouts, r.Cut, r.Elapsed.Round(time.Microsecond), top)
	}
	return tw.Flush()
}

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
