package main

import (
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/logtally/logtally/actions"
	"github.com/logtally/logtally/daemon"
	"github.com/logtally/logtally/history"
	"github.com/logtally/logtally/internal/num"
	"github.com/logtally/logtally/interval"
	"github.com/logtally/logtally/rules"
)

// backtestOpts are the flags of logtally backtest.
type backtestOpts struct {
	rules, series, handle string
	interval              time.Duration
	all                   bool
	when                  timeRange
	targetAlerts          int
}

func newBacktestCmd(e *env) *cobra.Command {
	var o backtestOpts
	cmd := newCommand("backtest [--rules PATH] [--interval D] [--all] [LOG...] | --series FILE.csv [--handle H] [--interval D]",
		"replay logs or a series and show every class rise", `
Replay history through fresh baselines, as a new install would have seen it,
without touching any state, and show every class rise. Each interval is
scored before it is learned, exactly as the daemon does.

Stdout is CSV with the header timestamp,handle,value,av,dev,z,classes,score
— one row per measurement per interval, classes space-separated, score
the alarm score (see survey; _anomaly is a score of 3 or more); NaN where
there is none: a measurement without a baseline, and a baseline's first
sample, which has nothing yet to be judged by. Stderr gets a
summary: every _dev2, _anomaly and entropy rise with its time and values,
and how often the other classes rose.

With --target-alerts K, the summary then gives, for each measurement with a
baseline, the anomaly_threshold (an alarm score, see survey) that would
have raised K anomaly rises over the replayed period (Spade's threshold
learning), and how many the default threshold, 3, raises; written in the
measurement's rule, the threshold raises those K.

With rules, the summary then lists every command and report that would
have fired (or been suppressed by ifelapsed), decided exactly as the daemon
decides them; nothing is run. With --series, give --rules to evaluate the
rules' commands and reports against the series' classes; a measurement of
the rules with the series' --handle lends it its settings (persistence,
anomaly_threshold, alarm_budget, time zone).

Inputs: logs, chosen as for learn (without LOG arguments, the file of
each file measurement, weekly or not, and its rotated versions; the
journal, from --since to --until, for journal measurements); or
--series, a CSV of timestamp,value rows (header optional; timestamps RFC 3339 or
"2006-01-02 15:04:05") for one measurement named by --handle, so the
detector can be evaluated on any count series. The interval defaults to the
most common spacing between rows.`, `
  logtally backtest --rules ssh.yaml /var/log/auth.log.2.gz /var/log/auth.log.1 > replay.csv
  logtally backtest --series requests.csv --handle api_requests 2> rises.txt
  logtally backtest --rules ssh.yaml --target-alerts 4 /var/log/auth.log.1 > /dev/null`,
		func(cmd *cobra.Command, args []string) int {
			return runBacktest(e, o, args, cmd.Flags().Changed("rules"))
		})
	f := cmd.Flags()
	f.StringVar(&o.rules, "rules", defaultRules, "rules directory or file (log replay)")
	f.StringVar(&o.series, "series", "", "CSV file of timestamp,value rows to replay instead of logs")
	f.StringVar(&o.handle, "handle", "series", "measurement name of --series")
	addIntervalFlag(f, &o.interval, "sampling interval (default: settings.interval for logs, the most common spacing for --series)")
	f.BoolVar(&o.all, "all", false, "every LOG applies to every file measurement")
	f.IntVar(&o.targetAlerts, "target-alerts", 0, "report, per measurement, the anomaly_threshold that would have raised this many anomaly rises")
	o.when.addFlags(f)
	cmd.Args = cobra.ArbitraryArgs
	cmd.ValidArgsFunction = nil
	return cmd
}

func runBacktest(e *env, o backtestOpts, logs []string, rulesGiven bool) int {
	var replays []daemon.Replay
	var set *rules.Set
	if o.series != "" {
		if len(logs) > 0 {
			fmt.Fprintln(e.stderr, "logtally backtest: --series takes no LOG arguments")
			return exitInvalid
		}
		f, err := os.Open(o.series)
		if err != nil {
			fmt.Fprintf(e.stderr, "logtally backtest: %v\n", err)
			return exitFailure
		}
		samples, err := history.ReadSeries(f)
		f.Close()
		if err != nil {
			fmt.Fprintf(e.stderr, "logtally backtest: %s: %v\n", o.series, err)
			return exitFailure
		}
		if rulesGiven {
			var ok bool
			if set, ok = loadRules(e, o.rules); !ok {
				return exitInvalid
			}
		}
		replays = []daemon.Replay{daemon.BacktestSeries(o.handle, samples, o.interval, set)}
	} else {
		var ok bool
		if set, ok = loadRules(e, o.rules); !ok {
			return exitInvalid
		}
		since, until, err := o.when.parse(time.Now())
		if err != nil {
			fmt.Fprintf(e.stderr, "logtally backtest: %v\n", err)
			return exitInvalid
		}
		bar := newProgress(e.stderr)
		var empty emptyStreams
		replays, err = daemon.BacktestLogs(set, daemon.BacktestOptions{Interval: o.interval, Logs: logs, All: o.all,
			Since: since, Until: until, Progress: bar.update, Empty: empty.add})
		bar.done()
		empty.write(e.stderr, "backtest")
		if err != nil {
			fmt.Fprintf(e.stderr, "logtally %v\n", err)
			return exitFailure
		}
	}
	if err := writeBacktestCSV(e.stdout, replays); err != nil {
		fmt.Fprintf(e.stderr, "logtally backtest: %v\n", err)
		return exitFailure
	}
	writeBacktestSummary(e.stderr, replays)
	if o.targetAlerts > 0 {
		writeLearnedThresholds(e.stderr, replays, o.targetAlerts)
	}
	if set != nil {
		iv := o.interval
		if iv == 0 && o.series != "" && len(replays[0].Rows) > 0 {
			iv = replays[0].Rows[0].End.Sub(replays[0].Rows[0].Start)
		}
		sim, err := daemon.SimulateActions(set, replays, iv)
		if err != nil {
			fmt.Fprintf(e.stderr, "logtally backtest: %v\n", err)
			return exitFailure
		}
		writeFiringSummary(e.stderr, sim.Firings)
		writeNoticeSummary(e.stderr, sim.Notices)
	}
	return exitOK
}

// writeLearnedThresholds writes, for each replayed measurement with a
// baseline, the anomaly threshold that would have raised k anomaly rises
// (interval.LearnThreshold), and how many rises the default threshold
// raises.
func writeLearnedThresholds(w io.Writer, replays []daemon.Replay, k int) {
	fmt.Fprintf(w, "\nthreshold learning, %s per measurement:\n", num.Plural(k, "anomaly rise"))
	for _, r := range replays {
		var pts []interval.Scored
		scored := false
		for _, row := range r.Rows {
			pts = append(pts, interval.Scored{Start: row.Start, Score: interval.SignedScore(row.Sample)})
			scored = scored || row.Score != nil
		}
		if !scored {
			continue
		}
		width := r.Rows[0].End.Sub(r.Rows[0].Start)
		l := interval.LearnThreshold(r.Measurement, width, pts, k, 1)
		def := interval.AlarmRises(r.Measurement, width, pts, interval.DefaultThreshold)
		what := "gives " + num.Plural(l.Rises, "rise")
		if !l.Exact {
			what = fmt.Sprintf("gives %s (no threshold gives exactly %d)", num.Plural(l.Rises, "rise"), k)
		}
		fmt.Fprintf(w, "  %-32s anomaly_threshold: %s %s; the default %s gives %d\n", r.Handle,
			strconv.FormatFloat(l.Threshold, 'f', -1, 64), what, strconv.FormatFloat(interval.DefaultThreshold, 'f', -1, 64), def)
	}
}

// writeNoticeSummary lists the notices a backtest's rules would have
// raised, with what the notice policy would have done with each, and its
// tally lines; then how many notices each action took.
func writeNoticeSummary(w io.Writer, notices []actions.Notice) {
	if len(notices) == 0 {
		return
	}
	fmt.Fprintln(w)
	counts := map[string]int{}
	for _, n := range notices {
		if n.Type == actions.TallyType {
			fmt.Fprintf(w, "%s  tally %s (%s, policy %s): %s\n", n.Time.Format(time.RFC3339), n.Notice, n.Action, n.Policy, n.Message)
			continue
		}
		counts[n.Action]++
		policy := "no policy entry"
		if n.Policy != "" {
			policy = "policy " + n.Policy
		}
		what := n.Message
		if len(n.Command) > 0 {
			what = strings.Join(n.Command, " ")
		}
		fmt.Fprintf(w, "%s  notice %s (%s) would %s (%s): %s\n", n.Time.Format(time.RFC3339), n.Notice, n.Priority,
			noticeVerb(n.Action), policy, printable([]byte(what)))
	}
	fmt.Fprintf(w, "%d notices: %d ignored, %d logged, %d alarms, %d pages, %d suppressed\n",
		len(notices)-countType(notices, actions.TallyType), counts["ignore"], counts["log"], counts["alarm"], counts["page"], counts[actions.ActionSuppressed])
}

// noticeVerb says what an action does, after "would".
func noticeVerb(action string) string {
	switch action {
	case "ignore":
		return "be ignored"
	case "log":
		return "be logged"
	case "alarm":
		return "alarm"
	case "page":
		return "page"
	}
	return "be " + action
}

func countType(ns []actions.Notice, typ string) int {
	n := 0
	for _, x := range ns {
		if x.Type == typ {
			n++
		}
	}
	return n
}

func writeFiringSummary(w io.Writer, fired []daemon.WouldFire) {
	n := 0
	for _, f := range fired {
		what := strings.Join(f.Argv, " ")
		if f.Kind == "report" {
			what = f.Message
		}
		verb := "would fire"
		if f.Suppressed {
			verb = "suppressed (" + f.Reason + ")"
		} else {
			n++
		}
		fmt.Fprintf(w, "%s  %s %s %s, guard %s: %s\n", f.Time.Format(time.RFC3339), f.Kind, f.Handle, verb, f.Guard, what)
	}
	fmt.Fprintf(w, "%s would have fired\n", num.Plural(n, "command or report", "commands and reports"))
}

type replayRow struct {
	handle string
	row    interval.Row
}

// score returns the baseline's verdict on a row (NaN where it has none).
func (r replayRow) score() history.Score {
	if sc := r.row.Score; sc != nil {
		return *sc
	}
	nan := math.NaN()
	return history.Score{Value: *r.row.Value, Av: nan, Dev: nan, Z: nan}
}

// mergeRows orders the rows of every measurement by time, then handle. A
// single measurement's rows keep their own order: a series may go back in
// time, and its rows must match its input row for row.
func mergeRows(replays []daemon.Replay) []replayRow {
	var all []replayRow
	for _, r := range replays {
		for _, row := range r.Rows {
			all = append(all, replayRow{r.Handle, row})
		}
	}
	if len(replays) < 2 {
		return all
	}
	sort.SliceStable(all, func(i, j int) bool {
		if !all[i].row.Start.Equal(all[j].row.Start) {
			return all[i].row.Start.Before(all[j].row.Start)
		}
		return all[i].handle < all[j].handle
	})
	return all
}

func writeBacktestCSV(w io.Writer, replays []daemon.Replay) error {
	cw := csv.NewWriter(w)
	if err := cw.Write([]string{"timestamp", "handle", "value", "av", "dev", "z", "classes", "score"}); err != nil {
		return err
	}
	for _, r := range mergeRows(replays) {
		s := r.score()
		score := strconv.FormatFloat(r.row.AlarmScore(), 'g', 12, 64)
		if err := cw.Write([]string{r.row.Start.Format(time.RFC3339), r.handle, csvNum(s.Value), csvNum(s.Av), csvNum(s.Dev), csvNum(s.Z),
			strings.Join(r.row.Classes, " "), score}); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// csvNum writes a number of the CSV: six significant digits, no exponent
// below 1e21 (num.Precise).
func csvNum(v float64) string { return num.Precise(v, 6) }

// notable reports whether a class rise is worth a line of its own in the
// summary: the deviations that matter and the entropy classes.
func notable(class string) bool {
	return strings.HasSuffix(class, "_dev2") || strings.HasSuffix(class, "_anomaly") || strings.HasPrefix(class, "entropy_")
}

// riseText says what a notable class rose on: an entropy class on the
// spread of the keys, a deviation on the value against its expectation
// (or that there was none yet, on a baseline's first sample).
func riseText(r replayRow, class string) string {
	s := r.score()
	if strings.HasPrefix(class, "entropy_") && r.row.Entropy != nil {
		return fmt.Sprintf("entropy %s over %s, value %s", num.Human(*r.row.Entropy), num.Plural(r.row.Keys, "key"), num.Human(s.Value))
	}
	if math.IsNaN(s.Av) {
		return fmt.Sprintf("value %s, no expectation yet", num.Human(s.Value))
	}
	return fmt.Sprintf("value %s, av %s ± %s, z %s", num.Human(s.Value), num.Human(s.Av), num.Human(s.Dev), num.Human(s.Z))
}

func writeBacktestSummary(w io.Writer, replays []daemon.Replay) {
	counts := map[string]int{}
	listed := 0
	for _, r := range mergeRows(replays) {
		for _, c := range r.row.Rises {
			counts[c]++
			if notable(c) {
				fmt.Fprintf(w, "%s  %-40s rose: %s\n", r.row.Start.Format(time.RFC3339), c, riseText(r, c))
				listed++
			}
		}
	}
	names := make([]string, 0, len(counts))
	for c := range counts {
		names = append(names, c)
	}
	sort.Strings(names)
	fmt.Fprintf(w, "\n%s; rises per class:\n", num.Plural(listed, "notable rise"))
	for _, c := range names {
		fmt.Fprintf(w, "  %-48s %d\n", c, counts[c])
	}
}
