// Command detection replays every labelled series of a NAB-style corpus
// through history.Backtest with the default configuration and writes, for
// each data file DATA/<cat>/<file>.csv, OUT/<cat>/<file>.csv with the
// columns timestamp,anomaly_score: 1.0 where <h>_high_anomaly or
// <h>_low_anomaly rises, 0.5 where a _dev2 class rises without an anomaly
// rising, 0 otherwise. nab_score.py then scores OUT at fixed thresholds.
//
// Usage: detection [-data DIR] [-out DIR] [-handle H]
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/logtally/logtally/history"
)

func main() {
	data := flag.String("data", "/work/shared/detection/data", "folder with <category>/<file>.csv series")
	out := flag.String("out", "detection-out", "folder to write <category>/<file>.csv results into")
	handle := flag.String("handle", "series", "measurement handle used for the class names")
	flag.Parse()
	files, err := filepath.Glob(filepath.Join(*data, "*", "*.csv"))
	if err != nil || len(files) == 0 {
		fmt.Fprintf(os.Stderr, "detection: no series under %s\n", *data)
		os.Exit(2)
	}
	var rises, anomalies int
	for _, f := range files {
		a, r, err := run(f, *data, *out, *handle)
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
func run(path, dataDir, outDir, handle string) (int, int, error) {
	in, err := os.Open(path)
	if err != nil {
		return 0, 0, fmt.Errorf("open series: %w", err)
	}
	defer in.Close()
	series, err := history.ReadSeries(in)
	if err != nil {
		return 0, 0, fmt.Errorf("%s: %w", path, err)
	}
	rows := history.Backtest(handle, series, history.Config{})
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
		fmt.Fprintf(w, "%s,%s\n", r.T.UTC().Format("2006-01-02 15:04:05"), score)
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
