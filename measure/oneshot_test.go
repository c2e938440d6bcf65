package measure

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/logtally/logtally/interval"
	"github.com/logtally/logtally/match"
	"github.com/logtally/logtally/rules"
	"github.com/logtally/logtally/timestamp"
)

// folded is what a one-shot fold of a file gives, in full.
type folded struct {
	lines, cut uint64
	acc        []interval.Snapshot
	err        error
	selected   uint64 // lines selected by at least one measurement
	formats    map[timestamp.Format]uint64
}

// foldFile folds the file at path for group g: line by line (by way of an
// observer) when byLine, else in blocks with the split policy sp.
func foldFile(t *testing.T, g *interval.Group, path string, maxLine int, byLine bool, sp split) folded {
	t.Helper()
	f := g.NewFold(0)
	var observe Observer
	if byLine {
		observe = func(*interval.Group, []byte, []match.Hit) {}
	}
	st := newStream(g)
	st.count(f)
	err := foldStream(f, st, func(*interval.Group) ([]Input, error) { return OpenPath(path, nil) }, maxLine, observe, sp)
	st.done()
	out := folded{lines: f.Lines, cut: f.Cut, err: err, selected: st.Selected, formats: st.Formats}
	for i := range g.Measurements {
		out.acc = append(out.acc, f.At(time.Time{}, i).Snapshot())
	}
	return out
}

// checkSplits requires every way of folding the file to give exactly the
// line-by-line result: blocks in one pass, and blocks in 2, 3, 5 and 16
// parts folded concurrently.
func checkSplits(t *testing.T, ms []*rules.Measurement, path string, maxLine int) {
	t.Helper()
	g, err := interval.NewGroup(path, ms, match.Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := foldFile(t, g, path, maxLine, true, split{parts: 1})
	if want.err != nil {
		t.Fatal(want.err)
	}
	selected := uint64(0)
	for _, a := range want.acc {
		selected += a.Selected
	}
	if selected == 0 {
		t.Fatalf("%s: no line selected: the comparison proves little", path)
	}
	for _, sp := range []split{{parts: 1}, {minPart: 1, parts: 2}, {minPart: 1, parts: 3}, {minPart: 1, parts: 5}, {minPart: 1, parts: 16}} {
		got := foldFile(t, g, path, maxLine, false, sp)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s in %d parts:\n got %+v\nwant %+v", filepath.Base(path), sp.parts, got, want)
		}
	}
	// Evaluate itself, with its default policy.
	rs := Evaluate([]*interval.Group{g}, func(*interval.Group) ([]Input, error) { return OpenPath(path, nil) }, maxLine, nil)
	for i, r := range rs {
		if r.Lines != want.lines || r.Cut != want.cut || r.Counts != want.acc[i].Counts || r.Keys != len(want.acc[i].Keys) {
			t.Errorf("Evaluate %s: %+v, want lines %d cut %d %+v", ms[i].Handle, r, want.lines, want.cut, want.acc[i])
		}
		if s := r.Stream; s.Lines != want.lines || s.Selected != want.selected || !reflect.DeepEqual(s.Formats, want.formats) {
			t.Errorf("Evaluate %s: stream %d lines, %d selected, formats %v; want %d, %d, %v",
				ms[i].Handle, s.Lines, s.Selected, s.Formats, want.lines, want.selected, want.formats)
		}
	}
}

// TestSplitExamples folds the real logs with every example rule file in
// every way.
func TestSplitExamples(t *testing.T) {
	// The real sample logs of the examples, which every checkout has.
	samples, err := filepath.Glob("../examples/testdata/*/*")
	if err != nil {
		t.Fatal(err)
	}
	var logs []string
	for _, s := range samples {
		if !strings.HasSuffix(s, ".json") && !strings.HasSuffix(s, ".md") {
			logs = append(logs, s)
		}
	}
	if len(logs) < 7 {
		t.Fatalf("found %d sample logs under examples/testdata", len(logs))
	}
	ruleFiles, err := filepath.Glob("../examples/rules/*.yaml")
	if err != nil || len(ruleFiles) == 0 {
		t.Fatalf("no example rules: %v", err)
	}
	// The sshd sample four times over, so that parts are many lines long.
	ssh, err := os.ReadFile("../examples/testdata/ssh/auth.log")
	if err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(t.TempDir(), "auth.log")
	if err := os.WriteFile(big, bytes.Repeat(ssh, 4), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, rf := range ruleFiles {
		set, err := rules.Load(rf)
		if err != nil {
			t.Fatal(err)
		}
		for _, log := range append(logs, big) {
			// Only logs where some measurement selects a line say much.
			g, err := interval.NewGroup(log, set.Measurements, match.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if w := foldFile(t, g, log, 0, true, split{parts: 1}); sumSelected(w) == 0 {
				continue
			}
			t.Run(filepath.Base(rf)+"/"+filepath.Base(filepath.Dir(log))+"/"+filepath.Base(log), func(t *testing.T) {
				checkSplits(t, set.Measurements, log, 0)
			})
		}
	}
}

func sumSelected(f folded) uint64 {
	n := uint64(0)
	for _, a := range f.acc {
		n += a.Selected
	}
	return n
}

// TestSplitTricky folds inputs whose lines are awkward to split: CRLF,
// invalid UTF-8, empty lines, lines over the limit (also across part
// boundaries), no final newline, every policy, extraction misses, keys
// past MaxKeys and sums past 2^53 (whose merges would not be exact, so
// the file is folded again in one pass).
func TestSplitTricky(t *testing.T) {
	var b strings.Builder
	for i := range 3000 {
		switch i % 7 {
		case 0:
			fmt.Fprintf(&b, "took %d ms\r\n", i)
		case 1:
			fmt.Fprintf(&b, "took \xff%d ms \xfe\n", i)
		case 2:
			b.WriteString("\n")
		case 3:
			fmt.Fprintf(&b, "took %d ms %s\n", i, strings.Repeat("x", i%150))
		case 4:
			fmt.Fprintf(&b, "took x ms k%d\n", i%40)
		case 5:
			fmt.Fprintf(&b, "took %d.5 ms é k%d\n", i, i%40)
		default:
			fmt.Fprintf(&b, "other %d\r\n", i)
		}
	}
	b.WriteString("took 7 ms without a newline")
	ms := func(keyFmt string) []*rules.Measurement {
		return []*rules.Measurement{
			meas("c", rules.Counter, "", "took.*", "", `(k\d+)`, ""),
			meas("cx", rules.Counter, "", "took.*", `took (\d+)`, "", ""),
			meas("sum", rules.Int, rules.PolicySum, "took.*", `took \D?(\d+)`, "", ""),
			meas("avg", rules.Int, rules.PolicyAverage, "took.*", `took (\S+)`, "", ""),
			meas("first", rules.Real, rules.PolicyFirst, ".*ms.*", `(\d+\.?\d*) ms`, "", ""),
			meas("last", rules.Real, rules.PolicyLast, ".*ms.*", `(\d+\.?\d*) ms`, keyFmt, ""),
			meas("none", rules.Int, rules.PolicyLast, "nothing.*", `(\d+)`, "", ""),
		}
	}
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	plain := write("plain.log", b.String())
	for _, maxLine := range []int{0, 40} {
		t.Run(fmt.Sprint("limit ", maxLine), func(t *testing.T) {
			checkSplits(t, ms(`(\d)`), plain, maxLine)
		})
	}
	// Twelve thousand distinct keys: MaxKeys is reached, and which keys
	// get counted depends on their order.
	var keys strings.Builder
	for i := range 15000 {
		fmt.Fprintf(&keys, "took %d ms key%d\n", i, (i*7919)%12000)
	}
	keysLog := write("keys.log", keys.String())
	t.Run("keys over MaxKeys", func(t *testing.T) {
		checkSplits(t, ms(`key(\d+)`), keysLog, 0)
	})
	// Sums whose partial sums are not exact in floating point.
	var huge strings.Builder
	for i := range 2000 {
		fmt.Fprintf(&huge, "took %d000000000000000 ms\n", 9007+i%13)
	}
	t.Run("sums past 2^53", func(t *testing.T) {
		checkSplits(t, ms(`(\d)`), write("huge.log", huge.String()), 0)
	})
	// A real sum is never split; it still gives the same result.
	realSum := append(ms(`(\d)`), meas("rsum", rules.Real, rules.PolicySum, "took.*", `(\d+\.?\d*) ms`, "", ""))
	t.Run("real sum", func(t *testing.T) {
		checkSplits(t, realSum, plain, 0)
	})
}

// TestMergeable checks the condition under which merged parts are exact:
// it must refuse the parts of a log with more distinct keys than MaxKeys
// and of sums past 2^53, and accept ordinary logs.
func TestMergeable(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name  string
		log   func(b *strings.Builder)
		m     *rules.Measurement
		exact bool
	}{
		{"few keys", func(b *strings.Builder) {
			for i := range 5000 {
				fmt.Fprintf(b, "took %d ms key%d\n", i, i%300)
			}
		}, meas("k", rules.Int, rules.PolicySum, "took.*", `took (\d+)`, `key(\d+)`, ""), true},
		{"keys past MaxKeys", func(b *strings.Builder) {
			for i := range 15000 {
				fmt.Fprintf(b, "took %d ms key%d\n", i, i%12000)
			}
		}, meas("k", rules.Counter, "", "took.*", "", `key(\d+)`, ""), false},
		{"sums past 2^53", func(b *strings.Builder) {
			for range 3000 {
				b.WriteString("took 9007199254740993 ms\n")
			}
		}, meas("s", rules.Int, rules.PolicyAverage, "took.*", `took (\d+)`, "", ""), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b strings.Builder
			tt.log(&b)
			path := filepath.Join(dir, "x.log")
			if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
				t.Fatal(err)
			}
			g, err := interval.NewGroup(path, []*rules.Measurement{tt.m}, match.Options{})
			if err != nil {
				t.Fatal(err)
			}
			file, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer file.Close()
			bounds, err := partBounds(file, int64(b.Len()), 2, nil)
			if err != nil || len(bounds) != 2 {
				t.Fatalf("bounds %v, %v", bounds, err)
			}
			parts := []*interval.Fold{g.NewFold(0), g.NewFold(0)}
			for k := range parts {
				end := int64(b.Len())
				if k == 0 {
					end = bounds[1]
				}
				if err := foldBlocks(parts[k], io.NewSectionReader(file, bounds[k], end-bounds[k]), path, 0); err != nil {
					t.Fatal(err)
				}
			}
			if got := mergeable(g.NewFold(0), parts); got != tt.exact {
				t.Errorf("mergeable = %v, want %v", got, tt.exact)
			}
		})
	}
}

// TestPartBounds checks that parts start at line boundaries, that a part
// that would be empty is dropped, and that a file without a newline past
// its first part stays whole.
func TestPartBounds(t *testing.T) {
	tests := []struct {
		in    string
		parts int
		want  []int64
	}{
		{"aaaa\nbbbb\ncccc\ndddd\n", 4, []int64{0, 10, 15}},
		{"aaaa\nbbbb\ncccc\ndddd\n", 2, []int64{0, 15}},
		{"a\nb\nc\nd\ne\nf\ng\nh\n", 4, []int64{0, 6, 10, 14}},
		{strings.Repeat("x", 100) + "\nshort\n", 3, []int64{0, 101}},
		{strings.Repeat("x", 100), 3, []int64{0}},
		{"x\n" + strings.Repeat("y", 200), 2, []int64{0}},
		{"", 2, []int64{0}},
	}
	for _, tt := range tests {
		got, err := partBounds(strings.NewReader(tt.in), int64(len(tt.in)), tt.parts, nil)
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("partBounds(%.20q, %d) = %v, %v; want %v", tt.in, tt.parts, got, err, tt.want)
		}
		for _, b := range got[1:] {
			if tt.in[b-1] != '\n' {
				t.Errorf("partBounds(%.20q): part at %d does not start a line", tt.in, b)
			}
		}
	}
}

// TestOpenFileError: a file that cannot be opened is named once, with the
// operation ("open NAME: no such file or directory", not "open open ...").
func TestOpenFileError(t *testing.T) {
	name := filepath.Join(t.TempDir(), "missing.log")
	_, err := OpenFile(name)
	if want := "open " + name + ": no such file or directory"; err == nil || err.Error() != want {
		t.Errorf("OpenFile: %v, want %q", err, want)
	}
}

// TestSplitRepeats: syslog repeat lines count the same however a file is
// folded: line by line, in blocks, and in parts whose boundaries fall
// before a BSD "last message repeated" line (which is kept with the line
// it repeats).
func TestSplitRepeats(t *testing.T) {
	var b strings.Builder
	const rounds = 400
	for i := range rounds {
		fmt.Fprintf(&b, "Dec 10 07:13:56 LabSZ sshd[%d]: Failed password for root from 192.0.2.%d port %d ssh2\n", i, i%7, i)
		fmt.Fprintf(&b, "Dec 10 07:14:26 LabSZ last message repeated %d times\n", 1+i%3)
		fmt.Fprintf(&b, "Dec 10 07:14:27 LabSZ last message repeated 2 times\r\n")
		fmt.Fprintf(&b, "Dec 10 07:14:56 LabSZ sshd[%d]: message repeated %d times: [ Failed password for root from 192.0.2.%d port %d ssh2]\n", i, 1+i%4, i%7, i)
		fmt.Fprintf(&b, "Dec 10 07:15:00 LabSZ sshd[%d]: Failed password for message repeated 999 times: [ x from 192.0.2.9 port 1 ssh2]\n", i)
		fmt.Fprintf(&b, "Dec 10 07:15:01 LabSZ cron[%d]: message repeated 3 times: [ job]\n", i)
	}
	path := filepath.Join(t.TempDir(), "auth.log")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	ms := []*rules.Measurement{
		meas("failed", rules.Counter, "", `.*sshd\[\d+\]: Failed password for .*`, "", `from (\S+) port`, rules.KeyIP),
		meas("ports", rules.Int, rules.PolicySum, `.*sshd\[\d+\]: Failed password for .*`, `port (\d+)`, "", ""),
		meas("all", rules.Counter, "", `.*`, "", "", ""),
	}
	checkSplits(t, ms, path, 0)
	g, err := interval.NewGroup(path, ms, match.Options{})
	if err != nil {
		t.Fatal(err)
	}
	got := foldFile(t, g, path, 0, false, split{minPart: 1, parts: 16})
	// Per round: 1 + (1+i%3) + 2 + (1+i%4) failed passwords, and the
	// forged one.
	want := uint64(0)
	for i := range rounds {
		want += 1 + uint64(1+i%3) + 2 + uint64(1+i%4) + 1
	}
	if got.acc[0].Selected != want {
		t.Errorf("failed: %d selected, want %d", got.acc[0].Selected, want)
	}
	if all := got.acc[2].Selected; all != want+3*rounds {
		t.Errorf("all: %d selected, want %d", all, want+3*rounds)
	}
}

// TestPartBoundsContinues: a part never starts with a line that continues
// the one before it.
func TestPartBoundsContinues(t *testing.T) {
	in := "aaaa\nbbbb\n+bb\n+bb\ncccc\n+cc"
	continues := func(line []byte) bool { return bytes.HasPrefix(line, []byte("+")) }
	for parts := 2; parts <= 8; parts++ {
		bounds, err := partBounds(strings.NewReader(in), int64(len(in)), parts, continues)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range bounds {
			if in[p] == '+' {
				t.Errorf("%d parts: %v: a part starts at %q", parts, bounds, in[p:])
			}
		}
	}
}
