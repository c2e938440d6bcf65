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

	"github.com/logtally/logtally/interval"
	"github.com/logtally/logtally/lines"
)

// Replay folds one input (a log file, rotated or not) into f by each
// line's own timestamp, as `logtally learn` and `logtally backtest` replay
// logs (see interval.Dating). Formats without a year are anchored at the
// input's modification time (now when it has none). progress, when not
// nil, is called with the bytes consumed so far.
func Replay(f *interval.Fold, in Input, maxLine int, progress func(int64)) error {
	d := interval.Dating{ByTimestamp: true, Ref: in.ModTime}
	if d.Ref.IsZero() {
		d.Ref = time.Now()
	}
	r := lines.NewReader(in.R, 0, maxLine)
	var n uint64
	for {
		line, cut, err := r.Next()
		if err == io.EOF {
			if line, cut, ok := r.Final(); ok {
				f.Line(line, cut, d)
			}
			break
		}
		if err != nil {
			return fmt.Errorf("read %s: %w", in.Name, err)
		}
		f.Line(line, cut, d)
		if n++; progress != nil && n%4096 == 0 {
			progress(r.Offset())
		}
	}
	if progress != nil {
		progress(r.Offset())
	}
	return nil
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
