package measure

import (
	"fmt"
	"io"
	"sort"
	"strings"
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
func Evaluate(groups []*Group, open Opener, maxLine int, observe Observer) []Result {
	var out []Result
	for _, g := range groups {
		start := time.Now()
		f := g.NewFolder()
		err := foldStream(f, open, maxLine, observe)
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

func foldStream(f *Folder, open Opener, maxLine int, observe Observer) error {
	inputs, err := open(f.Group)
	if err != nil {
		return err
	}
	var errs []string
	for i, in := range inputs {
		if err := foldInput(f, in, maxLine, observe); err != nil {
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

func foldInput(f *Folder, in Input, maxLine int, observe Observer) error {
	r := lines.NewReader(in.R, 0, maxLine)
	for {
		line, cut, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("%s: %w", in.Name, err)
		}
		hits := f.Fold(line, cut)
		if observe != nil {
			observe(f.Group, line, hits)
		}
	}
	if line, cut, ok := r.Final(); ok {
		hits := f.Fold(line, cut)
		if observe != nil {
			observe(f.Group, line, hits)
		}
	}
	return nil
}

// SortResults orders results as the measurements appear in set.
func SortResults(rs []Result, set *rules.Set) {
	idx := map[*rules.Measurement]int{}
	for i, m := range set.Measurements {
		idx[m] = i
	}
	sort.SliceStable(rs, func(i, j int) bool { return idx[rs[i].Measurement] < idx[rs[j].Measurement] })
}
