// Command detection replays every labelled series of a NAB-style corpus
// through the interval engine with the default configuration, exactly as
// `logtally backtest --series` does (daemon.BacktestSeries), and writes, for
// each data file DATA/<cat>/<file>.csv, OUT/<cat>/<file>.csv with the
// columns timestamp,anomaly_score: 1.0 where <h>_high_anomaly or
// <h>_low_anomaly rises, 0.5 where a _dev2 class rises without an anomaly
// rising, 0 otherwise. nab_score.py then scores OUT at fixed thresholds.
//
// With -synth DIR it instead writes a NAB-style corpus of synthetic count
// series with labelled spikes, bursts, level shifts and dropouts (data/
// and labels/combined_windows.json), a check that does not depend on the
// NAB files.
//
// Usage: detection [-data DIR] [-out DIR] [-handle H]
//
//	detection -synth DIR [-seed N] [-files N]
package main

import (
	"bufio"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/logtally/logtally/daemon"
	"github.com/logtally/logtally/history"
	"github.com/logtally/logtally/interval"
)

func main() {
	data := flag.String("data", "/work/shared/detection/data", "folder with <category>/<file>.csv series")
	out := flag.String("out", "detection-out", "folder to write <category>/<file>.csv results into")
	handle := flag.String("handle", "series", "measurement handle used for the class names")
	detail := flag.Bool("detail", false, "also write value, av, dev, z and classes of every row (OUT/<cat>/<file>.detail.csv)")
	synth := flag.String("synth", "", "write a synthetic labelled corpus into this folder and exit")
	seed := flag.Uint64("seed", 1, "seed of the synthetic corpus")
	nfiles := flag.Int("files", 30, "number of synthetic series")
	flag.Parse()
	if *synth != "" {
		if err := writeSynthCorpus(*synth, *seed, *nfiles); err != nil {
			fmt.Fprintf(os.Stderr, "detection: %v\n", err)
			os.Exit(1)
		}
		return
	}
	files, err := filepath.Glob(filepath.Join(*data, "*", "*.csv"))
	if err != nil || len(files) == 0 {
		fmt.Fprintf(os.Stderr, "detection: no series under %s\n", *data)
		os.Exit(2)
	}
	var rises, anomalies int
	for _, f := range files {
		a, r, err := run(f, *data, *out, *handle, *detail)
		if err != nil {
			fmt.Fprintf(os.Stderr, "detection: %v\n", err)
			os.Exit(1)
		}
		anomalies += a
		rises += r
	}
	fmt.Fprintf(os.Stderr, "detection: %d files, %d anomaly rises, %d dev2-only rises\n", len(files), anomalies, rises)
}

// run scores one file and returns its anomaly and dev2-only rise counts.
func run(path, dataDir, outDir, handle string, detail bool) (int, int, error) {
	in, err := os.Open(path)
	if err != nil {
		return 0, 0, fmt.Errorf("open series: %w", err)
	}
	defer in.Close()
	series, err := history.ReadSeries(in)
	if err != nil {
		return 0, 0, fmt.Errorf("%s: %w", path, err)
	}
	rows := daemon.BacktestSeries(handle, series, 0, nil).Rows
	rel, err := filepath.Rel(dataDir, path)
	if err != nil {
		return 0, 0, fmt.Errorf("relative path: %w", err)
	}
	dst := filepath.Join(outDir, rel)
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return 0, 0, fmt.Errorf("create output folder: %w", err)
	}
	f, err := os.Create(dst)
	if err != nil {
		return 0, 0, fmt.Errorf("create result: %w", err)
	}
	w := bufio.NewWriter(f)
	fmt.Fprintln(w, "timestamp,anomaly_score")
	if detail {
		if err := writeDetail(strings.TrimSuffix(dst, ".csv")+".detail", rows); err != nil {
			f.Close()
			return 0, 0, err
		}
	}
	var na, nd int
	for _, r := range rows {
		score := "0"
		anom, dev2 := false, false
		for _, c := range r.Rises {
			switch {
			case strings.HasSuffix(c, "_anomaly") && !strings.HasSuffix(c, "_microanomaly"):
				anom = true
			case strings.HasSuffix(c, "_dev2"):
				dev2 = true
			}
		}
		switch {
		case anom:
			score = "1.0"
			na++
		case dev2:
			score = "0.5"
			nd++
		}
		fmt.Fprintf(w, "%s,%s\n", r.Start.UTC().Format("2006-01-02 15:04:05"), score)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return 0, 0, fmt.Errorf("write result: %w", err)
	}
	if err := f.Close(); err != nil {
		return 0, 0, fmt.Errorf("close result: %w", err)
	}
	return na, nd, nil
}

// writeDetail writes the full verdict of every row.
func writeDetail(path string, rows []interval.Row) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("create detail: %w", err)
	}
	w := bufio.NewWriter(f)
	fmt.Fprintln(w, "timestamp,value,av,dev,z,level,classes")
	for _, r := range rows {
		s := history.Score{Value: math.NaN(), Av: math.NaN(), Dev: math.NaN(), Z: math.NaN()}
		switch {
		case r.Score != nil:
			s = *r.Score
		case r.Value != nil:
			s.Value = *r.Value
		}
		fmt.Fprintf(w, "%s,%g,%.4g,%.4g,%.3f,%d,%s\n", r.Start.UTC().Format("2006-01-02 15:04:05"), s.Value, s.Av, s.Dev, s.Z, s.Level, strings.Join(r.Classes, " "))
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("write detail: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close detail: %w", err)
	}
	return nil
}
