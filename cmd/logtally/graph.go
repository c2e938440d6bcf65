package main

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/logtally/logtally/daemon"
	"github.com/logtally/logtally/history"
	"github.com/logtally/logtally/rules"
	"github.com/logtally/logtally/state"
)

func cmdGraph(e *env, args []string) int {
	fs := newFlags(e, "graph", "[--state FILE] [--rules PATH] [--handle H] [--out DIR]", `
Write the learned week of each weekly measurement: DIR/<handle>.csv with
the columns slot,weekday,time,av,dev,n (one row per slot of the week), and
DIR/<handle>.svg, a picture of the mean with a ±dev band from Monday to
Sunday and the last week's samples on top — the picture the status page
shows. Reads the state file of a running or stopped daemon. --rules gives
the baseline's time zone (settings.timezone); without it, the local one.`, `
  logtally graph --out /tmp/week
  logtally graph --state /var/lib/logtally/state.db --handle ssh_username_probe --out .`)
	statePath := fs.String("state", defaultState(), "state file")
	rulesPath := fs.String("rules", "", "rules, for the baseline's time zone (optional)")
	handle := fs.String("handle", "", "only this measurement")
	out := fs.String("out", ".", "directory to write the CSV and SVG files to")
	if code, ok := parseFlags(fs, e, args); !ok {
		return code
	}
	var loc *time.Location
	if *rulesPath != "" {
		set, err := rules.Load(*rulesPath)
		if err != nil {
			printRuleErrors(e, err)
			return exitInvalid
		}
		loc = set.Settings.Location
	}
	store, err := state.OpenSnapshot(*statePath)
	if err != nil {
		fmt.Fprintf(e.stderr, "logtally graph: %v\n", err)
		return exitFailure
	}
	defer store.Close()
	graphs, err := daemon.ReadWeekGraphs(store, *handle, loc, time.Now())
	if err != nil {
		fmt.Fprintf(e.stderr, "logtally graph: %v\n", err)
		return exitFailure
	}
	if len(graphs) == 0 {
		fmt.Fprintln(e.stderr, "logtally graph: no weekly baseline in the state file yet")
		return exitFailure
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
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
			path := filepath.Join(*out, g.Handle+f.ext)
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
