package main

import (
	"fmt"
	"time"

	"github.com/spf13/pflag"
)

// timeRange is the --since and --until of the commands that read the
// journal once (test, learn, backtest).
type timeRange struct{ since, until string }

func (r *timeRange) addFlags(f *pflag.FlagSet) {
	f.StringVar(&r.since, "since", "", `journal streams: read entries written from this time on: "2024-12-10 06:00", RFC 3339, or a duration ago such as 24h`)
	f.StringVar(&r.until, "until", "", "journal streams: read entries written before this time (as --since)")
}

// parse returns the range; zero times are unbounded.
func (r *timeRange) parse(now time.Time) (since, until time.Time, err error) {
	if since, err = parseWhen(r.since, now); err != nil {
		return since, until, fmt.Errorf("--since: %w", err)
	}
	if until, err = parseWhen(r.until, now); err != nil {
		return since, until, fmt.Errorf("--until: %w", err)
	}
	if !since.IsZero() && !until.IsZero() && !until.After(since) {
		return since, until, fmt.Errorf("--until %s is not after --since %s", r.until, r.since)
	}
	return since, until, nil
}

// parseWhen reads a time as the journal options take it: RFC 3339, a
// local date with or without a time of day, or a duration before now.
func parseWhen(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		if d < 0 {
			d = -d
		}
		return now.Add(-d), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	for _, layout := range []string{"2006-01-02 15:04:05", "2006-01-02 15:04", "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, time.Local); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a time (2024-12-10 06:00, RFC 3339, or a duration ago such as 24h)", s)
}
