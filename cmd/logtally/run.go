package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/logtally/logtally/daemon"
	"github.com/logtally/logtally/internal/buildinfo"
	"github.com/logtally/logtally/rules"
	"github.com/logtally/logtally/state"
)

// defaultState is where the state file lives: /var/lib/logtally for root,
// the working directory for an ordinary user.
func defaultState() string {
	if os.Geteuid() == 0 {
		return "/var/lib/logtally/state.db"
	}
	return "logtally.db"
}

// stateFlag is the help of the --state flag of the commands that write
// the state file.
const stateFlag = "state file; its directory must exist, but for the default's, which is created"

// prepareStateDir creates the directory of the default state file when it
// is missing (a package ships /var/lib/logtally, a plain install may not
// have it), and returns it when it did. Another path's directory must
// exist (state.ErrNoDir): a mistyped --state is an error, not a new tree.
func prepareStateDir(path string) (created string, err error) {
	if path != defaultState() {
		return "", nil
	}
	dir := filepath.Dir(path)
	ok, err := state.CreateDir(dir)
	if !ok {
		dir = ""
	}
	return dir, err
}

// stateErr adds to an error opening the state file what to do about a
// missing directory.
func stateErr(err error) string {
	if errors.Is(err, state.ErrNoDir) {
		return err.Error() + ": create it, or correct --state (only the default's directory is created)"
	}
	return err.Error()
}

// runOpts are the flags of logtally run.
type runOpts struct {
	rules, state        string
	interval, pollEvery time.Duration
	outputs             []string
	watch               string
	dryRun              bool
	listen              string
	logLevel, logFormat string
}

func newRunCmd(e *env) *cobra.Command {
	var o runOpts
	cmd := newCommand("run [--rules PATH] [--state FILE] [--interval DURATION] [--output -|FILE|URL]...",
		"follow every stream, sample each interval, commit, act", `
Follow every stream of the rules, close one sample per measurement per
interval (aligned to the wall clock), score it against its weekly baseline,
commit it with the stream positions that produced it, run the commands and
reports whose guards rose, and write every sample as InfluxDB line protocol.

Lines appended while logtally was down are counted when it comes back, in
the intervals of their own timestamps. SIGHUP reloads the rules (on any
error the running rules stay); SIGUSR1 logs an intermediate report (the
survey of the periods under way, the key tables of the last interval, the
anomaly thresholds and alarm budgets); SIGTERM or SIGINT closes the current
interval, commits it and exits 0. Logs go to stderr, one line per event. The status
page and Prometheus /metrics are served on --listen.

Destinations (--output, repeatable; added to settings.outputs; stdout when
neither is given): "-" for stdout, a file path, udp://host:port, or
http://host:8086/write?db=NAME (InfluxDB 1.x) or
https://host/api/v2/write?org=ORG&bucket=BUCKET with the token in the
LOGTALLY_INFLUX_TOKEN environment variable (InfluxDB 2.x).`, `
  logtally run --rules /etc/logtally/rules.d
  logtally run --rules examples/rules/ssh.yaml --state /tmp/lt.db --interval 10s
  logtally run --output http://127.0.0.1:8086/write?db=logtally --output /var/log/logtally.lp`,
		func(*cobra.Command, []string) int { return runRun(e, o) })
	f := cmd.Flags()
	f.StringVar(&o.rules, "rules", defaultRules, "rules directory or file")
	f.StringVar(&o.state, "state", defaultState(), stateFlag)
	addIntervalFlag(f, &o.interval, "sampling interval (default: settings.interval, or 5m)")
	f.StringArrayVar(&o.outputs, "output", nil, `destination of the samples: "-", a file, udp://… or http(s)://… (repeatable)`)
	f.StringVar(&o.watch, "watch", "inotify", "how files are watched: inotify or poll")
	f.DurationVar(&o.pollEvery, "poll-interval", time.Second, "poll period, and the safety re-check period under inotify")
	f.BoolVar(&o.dryRun, "dry-run", false, "log the commands that would run instead of running them")
	f.StringVar(&o.listen, "listen", "127.0.0.1:9321", `address of the status page and Prometheus /metrics ("" for none)`)
	f.StringVar(&o.logLevel, "log-level", "info", "debug, info, warn or error")
	f.StringVar(&o.logFormat, "log-format", "text", "text or json")
	completeWords(cmd, "watch", "inotify", "poll")
	completeWords(cmd, "log-level", "debug", "info", "warn", "error")
	completeWords(cmd, "log-format", "text", "json")
	return cmd
}

func runRun(e *env, o runOpts) int {
	log, err := newLogger(e, o.logLevel, o.logFormat)
	if err != nil {
		fmt.Fprintf(e.stderr, "logtally run: %v\n", err)
		return exitInvalid
	}
	var outputs []rules.Output
	for _, u := range o.outputs {
		out, err := rules.ParseOutputURL(u, e.getenv("LOGTALLY_INFLUX_TOKEN"))
		if err != nil {
			fmt.Fprintf(e.stderr, "logtally run: --output: %v\n", err)
			return exitInvalid
		}
		outputs = append(outputs, out)
	}
	created, err := prepareStateDir(o.state)
	if err != nil {
		fmt.Fprintf(e.stderr, "logtally run: %v\n", err)
		return exitFailure
	}
	if created != "" {
		log.Info("created state directory", "dir", created)
	}
	d, err := daemon.New(daemon.Config{
		Rules: o.rules, State: o.state, Interval: o.interval, Outputs: outputs,
		Watch: o.watch, PollEvery: o.pollEvery, DryRun: o.dryRun, Logger: log, Stdout: e.stdout, Stderr: e.stderr,
		Build: buildinfo.Read(), Listen: o.listen,
	})
	if err != nil {
		fmt.Fprintf(e.stderr, "logtally run: %v\n", err)
		return exitInvalid
	}
	// A reader of stdout that goes away must not kill the daemon: the
	// samples stay in the spool.
	signal.Ignore(syscall.SIGPIPE)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	reload := make(chan struct{}, 1)
	go func() {
		for range hup {
			select {
			case reload <- struct{}{}:
			default:
			}
		}
	}()
	// SIGUSR1 logs an intermediate report (Spade's): the survey so far,
	// the key tables, the anomaly thresholds.
	usr1 := make(chan os.Signal, 1)
	signal.Notify(usr1, syscall.SIGUSR1)
	defer signal.Stop(usr1)
	go func() {
		for range usr1 {
			d.Report()
		}
	}()
	if err := d.Run(ctx, reload); err != nil {
		var list rules.ErrorList
		if errors.As(err, &list) {
			printRuleErrors(e, err)
			return exitInvalid
		}
		fmt.Fprintf(e.stderr, "logtally run: %s\n", stateErr(err))
		return exitFailure
	}
	return exitOK
}

// newLogger returns the structured logger of the daemon, on stderr.
func newLogger(e *env, level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(e.stderr, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(e.stderr, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", format)
}
