package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/logtally/logtally/actions"
	"github.com/logtally/logtally/daemon"
	"github.com/logtally/logtally/rules"
)

// noticesOpts are the flags of logtally notices.
type noticesOpts struct {
	state, rules, file string
	since              time.Duration
	notice, action     string
	all, asJSON        bool
}

func newNoticesCmd(e *env) *cobra.Command {
	var o noticesOpts
	cmd := newCommand("notices [--state FILE | --file FILE] [--since D] [--notice PATTERN] [--action A] [--all] [--json]",
		"show the notice log: class rises and what the notice policy did", `
Show the notice log that logtally run writes: one line per notice (a rise
of a class that a rule names) with its priority, the action the notice
policy took (ignore, log, alarm, page, or suppressed within a suppression
window), the policy entry that decided, the source and the message; and
the tally lines of suppressed notices.

The log is settings.notice_log of the rules (--rules), or notices.jsonl
beside the state file (--state); --file names it directly. Ignored notices
are left out unless --all is given.`, `
  logtally notices --since 24h
  logtally notices --notice 'ssh_*' --action page
  logtally notices --file /var/log/logtally/notices.jsonl --json | jq .`,
		func(cmd *cobra.Command, _ []string) int { return runNotices(e, o, cmd.Flags().Changed("rules")) })
	f := cmd.Flags()
	f.StringVar(&o.state, "state", defaultState(), "state file, beside which the notice log is by default")
	f.StringVar(&o.rules, "rules", defaultRules, "rules directory or file, for settings.notice_log")
	f.StringVar(&o.file, "file", "", "the notice log to read")
	f.DurationVar(&o.since, "since", 0, "only the notices of this last period (e.g. 24h); 0 for all")
	f.StringVar(&o.notice, "notice", "", "only the notices of the classes matching this pattern (ssh_*)")
	f.StringVar(&o.action, "action", "", "only the notices of this action: ignore, log, alarm, page, suppressed or tally")
	f.BoolVar(&o.all, "all", false, "include the ignored notices")
	f.BoolVar(&o.asJSON, "json", false, "print the log's JSON lines")
	completeWords(cmd, "action", noticeActions()...)
	return cmd
}

// noticeActions returns the values of notices --action: the actions a
// notice log records, and tally for its tally lines.
func noticeActions() []string {
	return []string{"ignore", "log", "alarm", "page", "suppressed", "tally"}
}

func runNotices(e *env, o noticesOpts, rulesGiven bool) int {
	file := o.file
	if file == "" {
		setting := ""
		if rulesGiven {
			set, ok := loadRules(e, o.rules)
			if !ok {
				return exitInvalid
			}
			setting = set.Settings.NoticeLog
		} else if set, err := rules.Load(o.rules); err == nil {
			setting = set.Settings.NoticeLog
		}
		file = daemon.NoticeLog(setting, o.state)
	}
	if o.action != "" && !slices.Contains(noticeActions(), o.action) {
		fmt.Fprintf(e.stderr, "logtally notices: --action %q: unknown action (%s)\n", o.action, strings.Join(noticeActions(), ", "))
		return exitInvalid
	}
	if _, err := path.Match(o.notice, ""); err != nil {
		fmt.Fprintf(e.stderr, "logtally notices: --notice %q: %v\n", o.notice, err)
		return exitInvalid
	}
	data, err := os.ReadFile(file)
	if err != nil {
		fmt.Fprintf(e.stderr, "logtally notices: %v\n", err)
		return exitFailure
	}
	ns, bad := actions.ReadNotices(data)
	if bad > 0 {
		fmt.Fprintf(e.stderr, "logtally notices: %s: %d lines are not notices\n", file, bad)
	}
	now := time.Now()
	var out []actions.Notice
	for _, n := range ns {
		switch {
		case o.since > 0 && n.Time.Before(now.Add(-o.since)):
		case o.notice != "" && !matchPattern(o.notice, n.Notice):
		case o.action == actions.TallyType && n.Type != actions.TallyType:
		case o.action != "" && o.action != actions.TallyType && (n.Type != actions.NoticeType || n.Action != o.action):
		case !o.all && o.action == "" && n.Type == actions.NoticeType && n.Action == rules.ActionIgnore:
		default:
			out = append(out, n)
		}
	}
	if o.asJSON {
		enc := json.NewEncoder(e.stdout)
		for _, n := range out {
			if err := enc.Encode(n); err != nil {
				fmt.Fprintf(e.stderr, "logtally notices: %v\n", err)
				return exitFailure
			}
		}
		return exitOK
	}
	printNotices(e.stdout, out)
	return exitOK
}

func matchPattern(pattern, name string) bool {
	ok, _ := path.Match(pattern, name)
	return ok
}

func printNotices(w io.Writer, ns []actions.Notice) {
	if len(ns) == 0 {
		fmt.Fprintln(w, "no notice")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tNOTICE\tPRIORITY\tACTION\tPOLICY\tKEY\tMESSAGE\t")
	for _, n := range ns {
		action := n.Action
		if n.Type == actions.TallyType {
			action = "tally (" + n.Action + ")"
		}
		msg := n.Message
		if len(n.Command) > 0 {
			msg += " → " + strings.Join(n.Command, " ")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", fmtTime(n.Time), printable([]byte(n.Notice)), n.Priority, action,
			orDash(n.Policy), orDash(printable([]byte(n.Key))), printable([]byte(msg)))
	}
	tw.Flush()
}
