package measure

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/logtally/logtally/interval"
	"github.com/logtally/logtally/lines"
	"github.com/logtally/logtally/match"
	"github.com/logtally/logtally/rules"
)

// Input is one readable piece of a stream: a file, stdin or a command's
// output. Close is called when it has been read.
type Input struct {
	Name    string
	R       io.ReadCloser
	ModTime time.Time // the file's modification time (zero for stdin and pipes)
	// Note says why the input holds nothing, when it does and the opener
	// can tell (a journal whose selection picks no entry); it becomes
	// one of the Stream's Notes.
	Note string
}

// Opener returns the inputs of a group's stream, in reading order.
type Opener func(g *interval.Group) ([]Input, error)

// Observer sees every line of a one-shot evaluation with its hits.
type Observer func(g *interval.Group, line []byte, hits []match.Hit)

// Result is one measurement's value over a whole stream.
type Result struct {
	Measurement *rules.Measurement
	Value       float64
	Valid       bool   // false: the stream gave no value (see Accumulator.Value)
	Lines       uint64 // lines of its stream read
	Cut         uint64 // lines cut to the length limit
	interval.Counts
	TopKey   string
	TopCount uint64
	Keys     int           // distinct keys
	Elapsed  time.Duration // time spent reading and matching its stream (shared by the stream's measurements)
	Err      error         // the stream could not be read
	Stream   *Stream       // the stream as a whole, shared by its measurements' Results
	// Text is a string measurement's value; Set a set's members, and
	// Unexpected, Missing and Classes what expect: makes of them.
	Text                     string
	Set, Unexpected, Missing []string
	Classes                  []string
}

// ResultOf returns the result of measurement m from its accumulator.
func ResultOf(m *rules.Measurement, a *interval.Accumulator) Result {
	s := interval.Describe(m, a)
	r := Result{Measurement: m, Counts: a.Counts, TopKey: s.TopKey, TopCount: s.TopCount, Keys: s.Keys,
		Text: s.Text, Set: s.Set, Unexpected: s.Unexpected, Missing: s.Missing, Classes: s.Classes}
	if s.Value != nil {
		r.Value, r.Valid = *s.Value, true
	}
	return r
}

// Evaluate reads every group's stream once, completely, and returns one
// Result per measurement in group order. A stream that cannot be opened
// gives its measurements a Result with Err set; the others are evaluated.
//
// Lines are matched in blocks (match.Matcher.MatchBlock), and a large
// regular file is split at line boundaries into parts folded concurrently,
// one per CPU, whose accumulators are merged in order; the results are
// those of one sequential pass (see foldParallel). With an observer, which
// sees every line in order, the stream is read line by line.
func Evaluate(groups []*interval.Group, open Opener, maxLine int, observe Observer) []Result {
	return evaluate(groups, open, maxLine, observe, defaultSplit())
}

// split says how a regular file is split into parts folded concurrently.
type split struct {
	minPart int64 // the smallest part worth a goroutine of its own
	parts   int   // the most parts; 1 reads files in one pass
}

// defaultSplit is one part per CPU, of at least 4 MiB.
func defaultSplit() split {
	return split{minPart: 4 << 20, parts: min(runtime.GOMAXPROCS(0), maxParts)}
}

// partsOf returns how many parts a file of size bytes is folded in.
func (s split) partsOf(size int64) int {
	return int(min(int64(s.parts), size/max(s.minPart, 1)))
}

// maxParts bounds the parts a file is split into.
const maxParts = 16

func evaluate(groups []*interval.Group, open Opener, maxLine int, observe Observer, sp split) []Result {
	var out []Result
	for _, g := range groups {
		start := time.Now()
		f := g.NewFold(0)
		s := newStream(g)
		s.count(f)
		err := foldStream(f, s, open, maxLine, observe, sp)
		elapsed := time.Since(start)
		s.Lines, s.Repeats, s.Elapsed = f.Lines, f.Repeats, elapsed
		s.addTimes(f)
		s.done()
		for i, m := range g.Measurements {
			r := ResultOf(m, f.At(time.Time{}, i))
			r.Valid = r.Valid && err == nil
			r.Lines, r.Cut, r.Elapsed, r.Err, r.Stream = f.Lines, f.Cut, elapsed, err, s
			out = append(out, r)
		}
	}
	return out
}

// whole is the dating of a one-shot evaluation: every line in one
// interval.
var whole = interval.Dating{}

func foldStream(f *interval.Fold, s *Stream, open Opener, maxLine int, observe Observer, sp split) error {
	inputs, err := open(f.Group)
	if err != nil {
		return err
	}
	for _, in := range inputs {
		if in.Note != "" {
			s.Notes = append(s.Notes, in.Note)
		}
	}
	h := &headCapture{complete: true}
	h.capture(inputs)
	defer func() { s.Head, s.Complete = h.head(), h.complete }()
	var errs []string
	for i, in := range inputs {
		if err := foldInput(f, s, in, maxLine, observe, sp); err != nil {
			errs = append(errs, err.Error())
		}
		h.wait()
		if err := in.R.Close(); err != nil {
			errs = append(errs, fmt.Sprintf("%s: %v", in.Name, err))
		}
		inputs[i].R = nil
	}
	if len(errs) > 0 {
		return fmt.Errorf("read %s: %s", f.Group.Source, strings.Join(errs, "; "))
	}
	return nil
}

func foldInput(f *interval.Fold, s *Stream, in Input, maxLine int, observe Observer, sp split) error {
	if observe != nil {
		return foldLines(f, in.R, in.Name, maxLine, observe)
	}
	if file, size, ok := splittable(in); ok {
		if parts := sp.partsOf(size); parts > 1 && !needsOrder(f.Group) {
			return foldParallel(f, s, file, in.Name, size, parts, maxLine)
		}
	}
	return foldBlocks(f, in.R, in.Name, maxLine)
}

// foldLines folds a stream line by line, showing each line to observe.
func foldLines(f *interval.Fold, src io.Reader, name string, maxLine int, observe Observer) error {
	r := lines.NewReader(src, 0, maxLine)
	for {
		line, cut, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		observe(f.Group, line, f.Line(line, cut, whole))
	}
	if line, cut, ok := r.Final(); ok {
		observe(f.Group, line, f.Line(line, cut, whole))
	}
	return nil
}

// foldBlocks folds a stream in blocks of lines.
func foldBlocks(f *interval.Fold, src io.Reader, name string, maxLine int) error {
	r := lines.NewReader(src, 0, maxLine)
	for {
		b, err := r.NextBlock()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if b.Cut {
			f.Line(b.Data, true, whole)
		} else {
			f.Block(b.Data, b.Lines, time.Time{})
		}
	}
	if line, cut, ok := r.Final(); ok {
		f.Line(line, cut, whole)
	}
	return nil
}

// splittable returns the file of an input that is a regular file (not
// decompressed, not a pipe), and its size.
func splittable(in Input) (*os.File, int64, bool) {
	file, ok := in.R.(*os.File)
	if !ok {
		return nil, 0, false
	}
	fi, err := file.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		return nil, 0, false
	}
	return file, fi.Size(), true
}

// needsOrder reports whether a group's values depend on the order in which
// its lines are folded beyond what merging parts in order preserves: real
// sums and averages (floating-point addition is not associative), and a
// line selected by its number.
func needsOrder(g *interval.Group) bool {
	for _, m := range g.Measurements {
		if m.DataType == rules.Real && (m.Policy == rules.PolicySum || m.Policy == rules.PolicyAverage) || m.SelectLine > 0 {
			return true
		}
	}
	return false
}

// partBounds splits a file of size bytes into at most parts ranges that
// start at line boundaries: each ends just after the first '\n' at or
// after its nominal end, and after the lines that continue the one
// before it (continues: BSD syslogd's "last message repeated N times",
// which counts the line before it again; nil for none). A part that would
// be empty is dropped.
func partBounds(file io.ReaderAt, size int64, parts int, continues func(line []byte) bool) ([]int64, error) {
	bounds := []int64{0}
	buf := make([]byte, 64<<10)
	for k := 1; k < parts; k++ {
		pos := max(size*int64(k)/int64(parts), bounds[len(bounds)-1])
		for pos < size {
			n, err := file.ReadAt(buf[:min(int64(len(buf)), size-pos)], pos)
			if i := bytes.IndexByte(buf[:n], '\n'); i >= 0 {
				pos += int64(i) + 1
				break
			}
			pos += int64(n)
			if err != nil && err != io.EOF {
				return nil, err
			}
			if n == 0 {
				pos = size
			}
		}
		for continues != nil && pos < size {
			n, err := file.ReadAt(buf[:min(int64(maxContinuing), size-pos)], pos)
			if err != nil && err != io.EOF {
				return nil, err
			}
			i := bytes.IndexByte(buf[:n], '\n')
			if i < 0 && pos+int64(n) == size {
				i = n // the last line, without a '\n'
			}
			if i < 0 || !continues(bytes.TrimSuffix(buf[:i], []byte{'\r'})) {
				break
			}
			pos += int64(i) + 1
		}
		if pos >= size {
			break
		}
		if pos > bounds[len(bounds)-1] {
			bounds = append(bounds, pos)
		}
	}
	return bounds, nil
}

// maxContinuing bounds the length of a line that continues the one
// before it ("Dec 10 07:13:56 host last message repeated 3 times").
const maxContinuing = 512

// foldParallel folds a regular file in parts, concurrently, each into a
// Folder of its own, and merges them into f in order. The last part reads
// to the end of the file as it is then, as a sequential read would.
//
// Merging gives exactly the result of one sequential pass: counters add
// up; first and last come from the first and last parts with values;
// int sums and averages are sums of integers, exact in any order while
// the sum of their absolute values stays within 2^53 (real ones are never
// split, see needsOrder); key counts add up as long as the keys of all
// parts together stay within MaxKeys, as the cap on distinct keys then
// never applies. When a merge would not be exact, the file is folded again
// in one pass.
func foldParallel(f *interval.Fold, s *Stream, file *os.File, name string, size int64, parts, maxLine int) error {
	bounds, err := partBounds(file, size, parts, f.Group.ContinuesPrevious)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	folders := make([]*interval.Fold, len(bounds))
	summaries := make([]*Stream, len(bounds))
	srcs := make([]io.Reader, len(bounds))
	errs := make([]error, len(bounds))
	for k := range bounds {
		folders[k] = f.Group.NewFold(0)
		summaries[k] = s.part()
		summaries[k].count(folders[k])
		n := int64(math.MaxInt64) - bounds[k]
		if k+1 < len(bounds) {
			n = bounds[k+1] - bounds[k]
		}
		srcs[k] = io.NewSectionReader(file, bounds[k], n)
	}
	var wg sync.WaitGroup
	for k := 1; k < len(bounds); k++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[k] = foldBlocks(folders[k], srcs[k], name, maxLine)
		}()
	}
	errs[0] = foldBlocks(folders[0], srcs[0], name, maxLine)
	wg.Wait()
	if !mergeable(f, folders) {
		return foldBlocks(f, io.NewSectionReader(file, 0, math.MaxInt64), name, maxLine)
	}
	all := f.Bucket(time.Time{})
	for k, p := range folders {
		f.Lines += p.Lines
		f.Cut += p.Cut
		f.Repeats += p.Repeats
		all.Merge(f.Group, p.Bucket(time.Time{}), p.Group)
		s.merge(summaries[k], p)
		if errs[k] != nil {
			// A sequential read would have stopped here.
			return errs[k]
		}
	}
	return nil
}

// mergeable reports whether merging the parts into f in order gives the
// result of folding their lines into f in one pass.
func mergeable(f *interval.Fold, parts []*interval.Fold) bool {
	for i, m := range f.Group.Measurements {
		exactSum := m.DataType == rules.Int && (m.Policy == rules.PolicySum || m.Policy == rules.PolicyAverage)
		keys := f.At(time.Time{}, i).Keys()
		union := len(keys)
		abs := f.At(time.Time{}, i).AbsSum()
		seen := map[string]bool{}
		for _, p := range parts {
			a := p.At(time.Time{}, i)
			if a.KeyOverflow > 0 {
				return false
			}
			for k := range a.Keys() {
				if _, ok := keys[k]; !ok && !seen[k] {
					seen[k] = true
					union++
				}
			}
			abs += a.AbsSum()
		}
		if union > interval.MaxKeys || exactSum && abs > 1<<53 {
			return false
		}
	}
	return true
}

// SortResults orders results as the measurements appear in set.
func SortResults(rs []Result, set *rules.Set) {
	idx := map[*rules.Measurement]int{}
	for i, m := range set.Measurements {
		idx[m] = i
	}
	sort.SliceStable(rs, func(i, j int) bool { return idx[rs[i].Measurement] < idx[rs[j].Measurement] })
}
