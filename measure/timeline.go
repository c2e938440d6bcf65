package measure

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/logtally/logtally/lines"
	"github.com/logtally/logtally/match"
)

// Timeline is a stream's lines folded into intervals by each line's own
// timestamp, as `logtally learn` and `logtally backtest` replay logs. The
// range of dated lines (First to Last) is the time the logs cover: an
// interval inside it without a selected line is a real zero, one outside it
// is unknown.
type Timeline struct {
	Group    *Group
	Interval time.Duration
	// Buckets holds one accumulator per measurement of the group for every
	// interval that had a selected line, by interval start (Unix seconds).
	Buckets map[int64][]*Accumulator
	First   time.Time // earliest dated line
	Last    time.Time // latest dated line
	Lines   uint64    // lines read
	Cut     uint64    // lines cut to the length limit
	Undated uint64    // selected lines without a usable timestamp: not counted

	matcher *match.Matcher
	dater   *Dater
}

// NewTimeline returns an empty Timeline for a group.
func NewTimeline(g *Group, interval time.Duration) *Timeline {
	return &Timeline{Group: g, Interval: interval, Buckets: map[int64][]*Accumulator{},
		matcher: g.Set().NewMatcher(), dater: NewDater(g.Measurements)}
}

// Read folds one input (a log file, rotated or not). Formats without a year
// are anchored at the input's modification time (now when it has none).
// progress, when not nil, is called with the bytes consumed so far.
func (tl *Timeline) Read(in Input, maxLine int, progress func(int64)) error {
	ref := in.ModTime
	if ref.IsZero() {
		ref = time.Now()
	}
	r := lines.NewReader(in.R, 0, maxLine)
	var n uint64
	for {
		line, cut, err := r.Next()
		if err == io.EOF {
			if line, cut, ok := r.Final(); ok {
				tl.fold(line, cut, ref)
			}
			break
		}
		if err != nil {
			return fmt.Errorf("read %s: %w", in.Name, err)
		}
		tl.fold(line, cut, ref)
		if n++; progress != nil && n%4096 == 0 {
			progress(r.Offset())
		}
	}
	if progress != nil {
		progress(r.Offset())
	}
	return nil
}

func (tl *Timeline) fold(line []byte, cut bool, ref time.Time) {
	tl.Lines++
	if cut {
		tl.Cut++
	}
	hits := tl.matcher.Match(line)
	tl.dater.Reset()
	// The covered range comes from every line, selected or not.
	if t, ok := tl.dater.Time(0, line, ref); ok {
		if tl.First.IsZero() || t.Before(tl.First) {
			tl.First = t
		}
		if t.After(tl.Last) {
			tl.Last = t
		}
	}
	for i := range hits {
		h := &hits[i]
		if !h.Selected {
			continue
		}
		t, ok := tl.dater.Time(h.Rule, line, ref)
		if !ok {
			tl.Undated++
			continue
		}
		start := t.Truncate(tl.Interval).Unix()
		accs := tl.Buckets[start]
		if accs == nil {
			accs = make([]*Accumulator, len(tl.Group.Measurements))
			for j, m := range tl.Group.Measurements {
				accs[j] = NewAccumulator(m)
			}
			tl.Buckets[start] = accs
		}
		accs[h.Rule].Add(h)
	}
}

// Intervals returns the start of every interval from the one holding First
// to the one holding Last, in order; none when no line was dated.
func (tl *Timeline) Intervals() []time.Time {
	if tl.First.IsZero() {
		return nil
	}
	var out []time.Time
	for t := tl.First.Truncate(tl.Interval); !t.After(tl.Last); t = t.Add(tl.Interval) {
		out = append(out, t)
	}
	return out
}

// At returns the accumulator of measurement i for the interval starting at
// t: an empty one when no line was selected then.
func (tl *Timeline) At(t time.Time, i int) *Accumulator {
	if accs := tl.Buckets[t.Unix()]; accs != nil {
		return accs[i]
	}
	return NewAccumulator(tl.Group.Measurements[i])
}

// RotatedSiblings returns the rotated versions of a log file that sit beside
// it — name.1, name.2.gz, name-20240101, name-20240101.gz and the like —
// oldest first, followed by the file itself when it exists.
func RotatedSiblings(path string) ([]string, error) {
	matches, err := globRotated(path)
	if err != nil {
		return nil, err
	}
	sort.SliceStable(matches, func(i, j int) bool { return rotationAge(matches[i].suffix) > rotationAge(matches[j].suffix) })
	out := make([]string, 0, len(matches))
	for _, m := range matches {
		out = append(out, m.name)
	}
	return out, nil
}

type rotated struct {
	name   string
	suffix string
}

// rotatedSuffix matches what logrotate and newsyslog append to a rotated
// log: a number or a date, optionally compressed.
var rotatedSuffix = regexp.MustCompile(`^(?:\.(\d{1,4})|-(\d{8}(?:\d{2})?))(?:\.gz)?$`)

func globRotated(path string) ([]rotated, error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list rotated logs of %s: %w", path, err)
	}
	var out []rotated
	for _, e := range entries {
		name := e.Name()
		if !strings.HasPrefix(name, base) || !e.Type().IsRegular() {
			continue
		}
		suffix := name[len(base):]
		if suffix != "" && !rotatedSuffix.MatchString(suffix) {
			continue
		}
		out = append(out, rotated{name: filepath.Join(dir, name), suffix: suffix})
	}
	return out, nil
}

// rotationAge orders rotated logs: larger is older. The live file is 0; a
// numbered one is its number; a dated one is older the earlier its date.
func rotationAge(suffix string) float64 {
	m := rotatedSuffix.FindStringSubmatch(suffix)
	switch {
	case suffix == "" || m == nil:
		return 0
	case m[1] != "":
		n, _ := strconv.Atoi(m[1])
		return float64(n)
	default:
		d, _ := strconv.ParseFloat((m[2] + "00")[:10], 64)
		return 1e10 - d
	}
}
