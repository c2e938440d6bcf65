package history

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Sample is one value of a series.
type Sample struct {
	T time.Time
	V float64
}

// maxSeriesLine caps the length of one series row.
const maxSeriesLine = 64 << 10

// Timestamp layouts accepted by ReadSeries, after RFC 3339.
var naiveLayouts = [...]string{
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04:05.999999999",
}

// ReadSeries reads "timestamp,value" rows (one sample per row). A header
// line is optional; blank lines are skipped; further columns are ignored.
// Timestamps are RFC 3339 or "2006-01-02 15:04:05" (fractional seconds
// allowed); a timestamp without a zone is read as UTC. Errors name the line.
func ReadSeries(r io.Reader) ([]Sample, error) {
	return ReadSeriesIn(r, time.UTC)
}

// ReadSeriesIn is ReadSeries with timestamps without a zone read as wall
// clock times in loc.
func ReadSeriesIn(r io.Reader, loc *time.Location) ([]Sample, error) {
	if loc == nil {
		loc = time.UTC
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxSeriesLine)
	var out []Sample
	line := 0
	rows := 0 // non-blank lines seen
	for sc.Scan() {
		line++
		text := strings.TrimSpace(strings.TrimSuffix(sc.Text(), "\r"))
		if line == 1 {
			text = strings.TrimPrefix(text, "\ufeff")
		}
		if text == "" {
			continue
		}
		rows++
		ts, vs, ok := strings.Cut(text, ",")
		if !ok {
			return nil, fmt.Errorf("read series: line %d: want timestamp,value", line)
		}
		vs, _, _ = strings.Cut(vs, ",")
		ts = strings.Trim(strings.TrimSpace(ts), `"`)
		vs = strings.Trim(strings.TrimSpace(vs), `"`)
		t, terr := parseTimestamp(ts, loc)
		if terr != nil {
			if rows == 1 && isHeader(vs) {
				continue
			}
			return nil, fmt.Errorf("read series: line %d: timestamp %q: %w", line, clip(ts), terr)
		}
		v, err := strconv.ParseFloat(vs, 64)
		if err != nil {
			return nil, fmt.Errorf("read series: line %d: value %q: not a number", line, clip(vs))
		}
		out = append(out, Sample{T: t, V: v})
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, fmt.Errorf("read series: line %d: longer than %d bytes", line+1, maxSeriesLine)
		}
		return nil, fmt.Errorf("read series: line %d: %w", line+1, err)
	}
	return out, nil
}

// isHeader reports whether a first row whose timestamp failed to parse is a
// header: its value column is not a number either.
func isHeader(vs string) bool {
	_, err := strconv.ParseFloat(vs, 64)
	return err != nil
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

func parseTimestamp(s string, loc *time.Location) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	for _, l := range naiveLayouts {
		if t, err := time.ParseInLocation(l, s, loc); err == nil {
			return t, nil
		}
	}
	return time.Time{}, errors.New("not RFC 3339 or 2006-01-02 15:04:05")
}

// InferInterval returns the most common positive spacing between
// consecutive samples, rounded to the second (ties go to the shorter); 0
// when there are fewer than two distinct timestamps.
func InferInterval(s []Sample) time.Duration {
	counts := map[time.Duration]int{}
	for i := 1; i < len(s); i++ {
		d := s[i].T.Sub(s[i-1].T).Round(time.Second)
		if d > 0 {
			counts[d]++
		}
	}
	keys := make([]time.Duration, 0, len(counts))
	for d := range counts {
		keys = append(keys, d)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	var best time.Duration
	n := 0
	for _, d := range keys {
		if counts[d] > n {
			best, n = d, counts[d]
		}
	}
	return best
}

// Row is the outcome of one sample in a backtest.
type Row struct {
	T       time.Time
	Score   Score
	Classes []string
	Rises   []string // classes set at this row and not at the previous one
}

// Backtest replays series through a fresh baseline (Observe per sample, in
// order) and returns one Row per sample. A zero cfg.Interval is inferred
// from the series. Each sample is attributed to the interval that contains
// it on the configured zone's wall clock; intervals without a sample are
// gaps, not zeros. _dev2 and _anomaly classes persist for persist after
// the sample that first set them (0: not at all), with policy preserve as
// the daemon's default persistence (rules.DefaultPersist) holds them: a
// setting while the class is still held does not restart the timer, so a
// long episode that flaps is seen as the daemon sees it.
func Backtest(handle string, series []Sample, cfg Config, persist time.Duration) []Row {
	if cfg.Interval <= 0 {
		cfg.Interval = InferInterval(series)
	}
	b := New(cfg)
	rows := make([]Row, 0, len(series))
	hold := NewHold(persist, false)
	for _, s := range series {
		sc := b.Observe(s.T, s.V)
		cls, rises := hold.Add(s.T, Classes(handle, sc))
		rows = append(rows, Row{T: s.T, Score: sc, Classes: cls, Rises: rises})
	}
	return rows
}
