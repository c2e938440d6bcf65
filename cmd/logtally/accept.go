package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/logtally/logtally/daemon"
)

// acceptOpts are the flags of logtally accept-changes.
type acceptOpts struct {
	rules, state, watch string
	wait                time.Duration
}

func newAcceptCmd(e *env) *cobra.Command {
	var o acceptOpts
	cmd := newCommand("accept-changes [--rules PATH] [--state FILE] [--watch HANDLE] [--wait D] [PATH...]",
		"accept the file changes watch_files reports", `
Make what the file watches (watch_files) last saw their baseline, so that a
change reported at every interval (update_hashes: no) stops being reported:
every outstanding change of every watch, of one watch (--watch), or of the
files given (a directory stands for all it holds). A change is accepted as
it was last seen; a later change is reported again.

With the daemon stopped, the state file is changed at once. With the daemon
running (it holds the state file), the request is handed to it: it applies
it at the end of its current interval, and this command waits for that
(--wait) and says so.`, `
  logtally accept-changes
  logtally accept-changes --watch etc_ssh /etc/ssh/sshd_config
  logtally accept-changes --state /tmp/lt.db --rules rules.d /etc/cron.d`,
		func(_ *cobra.Command, args []string) int { return runAccept(e, o, args) })
	f := cmd.Flags()
	f.StringVar(&o.rules, "rules", defaultRules, "rules directory or file")
	f.StringVar(&o.state, "state", defaultState(), stateFlag)
	f.StringVar(&o.watch, "watch", "", "the handle of one watch (default: every watch)")
	f.DurationVar(&o.wait, "wait", 15*time.Minute, "how long to wait for a running daemon to apply the request")
	cmd.Args = cobra.ArbitraryArgs
	return cmd
}

func runAccept(e *env, o acceptOpts, paths []string) int {
	set, ok := loadRules(e, o.rules)
	if !ok {
		return exitInvalid
	}
	created, err := prepareStateDir(o.state)
	if created != "" {
		fmt.Fprintf(e.stderr, "logtally accept-changes: created state directory %s\n", created)
	}
	var res daemon.Accepted
	if err == nil {
		res, err = daemon.AcceptChanges(o.state, set, o.watch, paths, o.wait)
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "logtally accept-changes: %s\n", stateErr(err))
		return exitFailure
	}
	if res.ByDaemon {
		fmt.Fprintln(e.stdout, "accepted by the running daemon")
	} else {
		fmt.Fprintf(e.stdout, "accepted %d changed files\n", res.Files)
	}
	return exitOK
}
