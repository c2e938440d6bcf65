package main

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/logtally/logtally/daemon"
	"github.com/logtally/logtally/history"
	"github.com/logtally/logtally/rules"
	"github.com/logtally/logtally/state"
)

// graphOpts are the flags of logtally graph.
type graphOpts struct {
	state, rules, handle, out string
	interval                  time.Duration
}

func newGraphCmd(e *env) *cobra.Command {
	var o graphOpts
	cmd := newCommand("graph [--state FILE] [--rules PATH] [--handle H] [--interval D] [--out DIR]",
		"write the learned week of each measurement as CSV and SVG", `
Write the learned week of each weekly measurement: DIR/<handle>.csv with
the columns slot,weekday,time,av,dev,n (one row per slot of the week), and
DIR/<handle>.svg, a picture of the mean with a ±dev band from Monday to
Sunday and the last week's samples on top — the picture the status page
shows. Reads the state file of a running or stopped daemon. --rules gives
the baseline's time zone (settings.timezone); without it, the local one.

A baseline is kept per interval width (counts scale with the width). The
baselines shown are those of the interval the daemon last ran at, the ones
it uses; --interval shows those learned at another width.`, `
  logtally graph --out /tmp/week
  logtally graph --state /var/lib/logtally/state.db --handle ssh_username_probe --out .`,
		func(*cobra.Command, []string) int { return runGraph(e, o) })
	f := cmd.Flags()
	f.StringVar(&o.state, "state", defaultState(), "state file")
	f.StringVar(&o.rules, "rules", "", "rules, for the baseline's time zone (optional)")
	f.StringVar(&o.handle, "handle", "", "only this measurement")
	addIntervalFlag(f, &o.interval, "the interval width of the baselines (default: the one the daemon last ran at)")
	f.StringVar(&o.out, "out", ".", "directory to write the CSV and SVG files to")
	_ = cmd.MarkFlagDirname("out")
	return cmd
}

func runGraph(e *env, o graphOpts) int {
	var loc *time.Location
	if o.rules != "" {
		set, err := rules.Load(o.rules)
		if err != nil {
			printRuleErrors(e, err)
			return exitInvalid
		}
		loc = set.Settings.Location
	}
	store, err := state.OpenSnapshot(o.state)
	if err != nil {
		fmt.Fprintf(e.stderr, "logtally graph: %v\n", err)
		return exitFailure
	}
	defer store.Close()
	graphs, err := daemon.ReadWeekGraphs(store, o.handle, o.interval, loc, time.Now())
	if err != nil {
		fmt.Fprintf(e.stderr, "logtally graph: %v\n", err)
		return exitFailure
	}
	if len(graphs) == 0 {
		fmt.Fprintln(e.stderr, "logtally graph: no weekly baseline in the state file yet")
		return exitFailure
	}
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		fmt.Fprintf(e.stderr, "logtally graph: %v\n", err)
		return exitFailure
	}
	for _, g := range graphs {
		for _, f := range []struct {
			ext   string
			write func(*os.File) error
		}{
			{".csv", func(w *os.File) error { return history.WriteWeekCSV(w, g.Week) }},
			{".svg", func(w *os.File) error { return history.WriteWeekSVG(w, g.Handle, g.Week, g.Recent) }},
		} {
			path := filepath.Join(o.out, g.Handle+f.ext)
			if err := writeFile(path, f.write); err != nil {
				fmt.Fprintf(e.stderr, "logtally graph: %v\n", err)
				return exitFailure
			}
			fmt.Fprintln(e.stdout, path)
		}
	}
	return exitOK
}

// writeFile writes a file through a temporary one renamed into place.
func writeFile(path string, write func(*os.File) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := write(tmp); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return os.Rename(tmp.Name(), path)
}
