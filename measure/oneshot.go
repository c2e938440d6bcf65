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

	"github.com/logtally/logtally/lines"
	"github.com/logtally/logtally/match"
	"github.com/logtally/logtally/rules"
)

// Groups groups measurements by the stream they read: file measurements by
// path, pipe measurements by command and mode; or all of them by override,
// when it is not empty (`test --log` replaces the stream of every
// measurement: a captured command output tests pipe rules as a copied log
// tests file rules). Order follows the measurements' order.
func Groups(ms []*rules.Measurement, override string, opts match.Options) ([]*Group, error) {
	var order []string
	by := map[string][]*rules.Measurement{}
	for _, m := range ms {
		src := m.Path
		switch {
		case override != "":
			src = override
		case m.StreamType == rules.StreamPipe:
			src = PipeSource(m)
		}
		if _, ok := by[src]; !ok {
			order = append(order, src)
		}
		by[src] = append(by[src], m)
	}
	groups := make([]*Group, 0, len(order))
	for _, src := range order {
		g, err := NewGroup(src, by[src], opts)
		if err != nil {
			return nil, err
		}
		groups = append(groups, g)
	}
	return groups, nil
}

// Input is one readable piece of a stream: a file, stdin or a command's
// output. Close is called when it has been read.
type Input struct {
	Name    string
	R       io.ReadCloser
	ModTime time.Time // the file's modification time (zero for stdin and pipes)
}

// Opener returns the inputs of a group's stream, in reading order.
type Opener func(g *Group) ([]Input, error)

// Observer sees every line of a one-shot evaluation with its hits.
type Observer func(g *Group, line []byte, hits []match.Hit)

// Result is one measurement's value over a whole stream.
type Result struct {
	Measurement *rules.Measurement
	Value       float64
	Valid       bool   // false: the stream gave no value (see Accumulator.Value)
	Lines       uint64 // lines of its stream read
	Cut         uint64 // lines cut to the length limit
	Counts
	TopKey   string
	TopCount uint64
	Keys     int           // distinct keys
	Elapsed  time.Duration // time spent reading and matching its stream (shared by the stream's measurements)
	Err      error         // the stream could not be read
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
func Evaluate(groups []*Group, open Opener, maxLine int, observe Observer) []Result {
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

func evaluate(groups []*Group, open Opener, maxLine int, observe Observer, sp split) []Result {
	var out []Result
	for _, g := range groups {
		start := time.Now()
		f := newOneShot(g.NewFolder())
		err := foldStream(f, open, maxLine, observe, sp)
		elapsed := time.Since(start)
		for i, m := range g.Measurements {
			a := f.Acc[i]
			v, ok := a.Value()
			top, n := a.TopKey()
			out = append(out, Result{
				Measurement: m, Value: v, Valid: ok && err == nil,
				Lines: f.Lines, Cut: f.Cut, Counts: a.Counts,
				TopKey: top, TopCount: n, Keys: len(a.Keys()),
				Elapsed: elapsed, Err: err,
			})
		}
	}
	return out
}

// oneShot is a Folder of a one-shot evaluation, which also keeps what
// merging parts of a stream needs to know to be exact.
type oneShot struct {
	*Folder
	// exactSum marks the measurements whose value depends on the order of
	// additions unless they are exact: int with sum or average.
	exactSum []bool
	// absSum is the sum of the absolute values folded into each of them:
	// while it stays within 2^53, every partial sum of integers is exact,
	// in any order.
	absSum []float64
	// onHits folds the hits of a line; made once, for MatchBlock.
	onHits func(off int, line []byte, hits []match.Hit)
}

func newOneShot(f *Folder) *oneShot {
	o := &oneShot{Folder: f, exactSum: make([]bool, len(f.Acc)), absSum: make([]float64, len(f.Acc))}
	for i, m := range f.Group.Measurements {
		o.exactSum[i] = m.DataType == rules.Int && (m.Policy == rules.PolicySum || m.Policy == rules.PolicyAverage)
	}
	o.onHits = func(_ int, _ []byte, hits []match.Hit) { o.add(hits) }
	return o
}

// add folds the hits of one line.
func (o *oneShot) add(hits []match.Hit) {
	for i := range hits {
		h := &hits[i]
		a := o.Acc[h.Rule]
		if !o.exactSum[h.Rule] {
			a.Add(h)
			continue
		}
		n := a.n
		a.Add(h)
		if a.n != n {
			o.absSum[h.Rule] += math.Abs(a.last)
		}
	}
}

// line matches and folds one line, and returns its hits.
func (o *oneShot) line(line []byte, cut bool) []match.Hit {
	o.Lines++
	if cut {
		o.Cut++
	}
	hits := o.matcher.Match(line)
	o.add(hits)
	return hits
}

// block matches and folds a block of complete lines.
func (o *oneShot) block(b lines.Block) {
	if b.Cut {
		o.line(b.Data, true)
		return
	}
	o.Lines += uint64(b.Lines)
	o.matcher.MatchBlock(b.Data, o.onHits)
}

func foldStream(f *oneShot, open Opener, maxLine int, observe Observer, sp split) error {
	inputs, err := open(f.Group)
	if err != nil {
		return err
	}
	var errs []string
	for i, in := range inputs {
		if err := foldInput(f, in, maxLine, observe, sp); err != nil {
			errs = append(errs, err.Error())
		}
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

func foldInput(f *oneShot, in Input, maxLine int, observe Observer, sp split) error {
	if observe != nil {
		return foldLines(f, in.R, in.Name, maxLine, observe)
	}
	if file, size, ok := splittable(in); ok {
		if parts := sp.partsOf(size); parts > 1 && !needsOrder(f.Group) {
			return foldParallel(f, file, in.Name, size, parts, maxLine)
		}
	}
	return foldBlocks(f, in.R, in.Name, maxLine)
}

// foldLines folds a stream line by line, showing each line to observe.
func foldLines(f *oneShot, src io.Reader, name string, maxLine int, observe Observer) error {
	r := lines.NewReader(src, 0, maxLine)
	for {
		line, cut, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		observe(f.Group, line, f.line(line, cut))
	}
	if line, cut, ok := r.Final(); ok {
		observe(f.Group, line, f.line(line, cut))
	}
	return nil
}

// foldBlocks folds a stream in blocks of lines.
func foldBlocks(f *oneShot, src io.Reader, name string, maxLine int) error {
	r := lines.NewReader(src, 0, maxLine)
	for {
		b, err := r.NextBlock()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		f.block(b)
	}
	if line, cut, ok := r.Final(); ok {
		f.line(line, cut)
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
// sums and averages (floating-point addition is not associative).
func needsOrder(g *Group) bool {
	for _, m := range g.Measurements {
		if m.DataType == rules.Real && (m.Policy == rules.PolicySum || m.Policy == rules.PolicyAverage) {
			return true
		}
	}
	return false
}

// partBounds splits a file of size bytes into at most parts ranges that
// start at line boundaries: each ends just after the first '\n' at or
// after its nominal end. A part that would be empty is dropped.
func partBounds(file io.ReaderAt, size int64, parts int) ([]int64, error) {
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
		if pos >= size {
			break
		}
		if pos > bounds[len(bounds)-1] {
			bounds = append(bounds, pos)
		}
	}
	return bounds, nil
}

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
func foldParallel(f *oneShot, file *os.File, name string, size int64, parts, maxLine int) error {
	bounds, err := partBounds(file, size, parts)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	folders := make([]*oneShot, len(bounds))
	srcs := make([]io.Reader, len(bounds))
	errs := make([]error, len(bounds))
	for k := range bounds {
		folders[k] = newOneShot(f.Group.NewFolder())
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
	for k, p := range folders {
		f.Lines += p.Lines
		f.Cut += p.Cut
		for i := range f.Acc {
			f.Acc[i].Merge(p.Acc[i])
			f.absSum[i] += p.absSum[i]
		}
		if errs[k] != nil {
			// A sequential read would have stopped here.
			return errs[k]
		}
	}
	return nil
}

// mergeable reports whether merging the parts into f in order gives the
// result of folding their lines into f in one pass.
func mergeable(f *oneShot, parts []*oneShot) bool {
	for i := range f.Acc {
		keys := f.Acc[i].keys
		union := len(keys)
		abs := f.absSum[i]
		seen := map[string]bool{}
		for _, p := range parts {
			a := p.Acc[i]
			if a.KeyOverflow > 0 {
				return false
			}
			for k := range a.keys {
				if _, ok := keys[k]; !ok && !seen[k] {
					seen[k] = true
					union++
				}
			}
			abs += p.absSum[i]
		}
		if union > MaxKeys || f.exactSum[i] && abs > 1<<53 {
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
