package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/logtally/logtally/daemon"
	"github.com/logtally/logtally/interval"
	"github.com/logtally/logtally/state"
)

// surveyOpts are the flags of logtally survey.
type surveyOpts struct {
	rules, state     string
	interval, period time.Duration
	all              bool
}

func newSurveyCmd(e *env) *cobra.Command {
	var o surveyOpts
	cmd := newCommand("survey [--rules PATH] [--interval D] [--period D] [--all] [LOG...] | --state FILE [--period D]",
		"per period and measurement: samples and percentiles of values and scores", `
Spade's survey: for each period (--period, one hour by default, aligned
to the clock) and each measurement, the number of samples and the 50th,
90th and 99th percentiles of their values and of their alarm scores,
tab-separated, with a header line. Percentiles interpolate linearly
between the two closest samples (NumPy's "linear", R's type 7). The alarm
score is |z| where the baseline gives the sample its level, and just
under the next level (from k + 0.99 to k + 1 for level k, the further out
the higher) where the baseline holds the level back: _anomaly is a score
of 3 or more. A measurement without a baseline has no score ("-").

Over logs, as backtest replays them: the rules' file measurements, each
line in the interval of its own timestamp, scored by fresh baselines.
With --state, over a state file: the last week of each weekly
measurement, as the daemon scored it. The state keeps one sample per
time-of-week slot, the interval but at least 5 minutes: of a shorter
interval it keeps the last sample of every 5 minutes, and the survey is
of those (it says so on stderr). settings.survey makes logtally run
append the same rows to a file as each period ends, of every sample.`, `
  logtally survey --rules ssh.yaml /var/log/auth.log.1 /var/log/auth.log
  logtally survey --state /var/lib/logtally/state.db --period 1d`,
		func(cmd *cobra.Command, args []string) int {
			return runSurvey(e, o, args, cmd.Flags().Changed("state"))
		})
	f := cmd.Flags()
	f.StringVar(&o.rules, "rules", defaultRules, "rules directory or file (logs)")
	f.StringVar(&o.state, "state", defaultState(), "state file to survey instead of logs")
	addIntervalFlag(f, &o.interval, "sampling interval (default: settings.interval for logs, the daemon's last for --state)")
	f.DurationVar(&o.period, "period", time.Hour, "survey period")
	f.BoolVar(&o.all, "all", false, "every LOG applies to every file measurement")
	cmd.Args = cobra.ArbitraryArgs
	cmd.ValidArgsFunction = nil
	return cmd
}

func runSurvey(e *env, o surveyOpts, logs []string, fromState bool) int {
	if o.period <= 0 {
		fmt.Fprintln(e.stderr, "logtally survey: --period must be longer than 0")
		return exitInvalid
	}
	var rows []interval.SurveyRow
	if fromState {
		if len(logs) > 0 {
			fmt.Fprintln(e.stderr, "logtally survey: --state takes no LOG arguments")
			return exitInvalid
		}
		store, err := state.OpenSnapshot(o.state)
		if err != nil {
			fmt.Fprintf(e.stderr, "logtally survey: %v\n", err)
			return exitFailure
		}
		defer store.Close()
		sv, err := daemon.SurveyState(store, o.interval, o.period, time.Now())
		if err != nil {
			fmt.Fprintf(e.stderr, "logtally survey: %v\n", err)
			return exitFailure
		}
		rows = sv.Rows
		if sv.Spacing > sv.Interval {
			fmt.Fprintf(e.stderr, "logtally survey: the state keeps one sample of every %s of the %s intervals (the last of each): "+
				"the samples and percentiles are of those; settings.survey in logtally run surveys every sample\n", sv.Spacing, sv.Interval)
		}
	} else {
		set, ok := loadRules(e, o.rules)
		if !ok {
			return exitInvalid
		}
		bar := newProgress(e.stderr)
		replays, err := daemon.BacktestLogs(set, daemon.BacktestOptions{Interval: o.interval, Logs: logs, All: o.all, Progress: bar.update})
		bar.done()
		if err != nil {
			// The replay is backtest's, and its errors say so: the
			// command here is survey.
			if inner := errors.Unwrap(err); inner != nil {
				err = inner
			}
			fmt.Fprintf(e.stderr, "logtally survey: %v\n", err)
			return exitFailure
		}
		rows = daemon.SurveyReplays(replays, o.period)
	}
	if err := interval.WriteSurvey(e.stdout, rows, true); err != nil {
		fmt.Fprintf(e.stderr, "logtally survey: %v\n", err)
		return exitFailure
	}
	return exitOK
}
