package interval_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/logtally/logtally/internal/ruletest"
	"github.com/logtally/logtally/interval"
	"github.com/logtally/logtally/match"
	"github.com/logtally/logtally/rules"
)

// repeatMeasurements are an sshd counter keyed by address, a sum and an
// average of the port, and a counter of every line.
func repeatMeasurements() []*rules.Measurement {
	return []*rules.Measurement{
		ruletest.Measurement("failed", rules.Counter, "", `.*sshd\[\d+\]: Failed password for .*`, "", `from (\S+) port`, rules.KeyIP),
		ruletest.Measurement("ports", rules.Int, rules.PolicySum, `.*sshd\[\d+\]: Failed password for .*`, `port (\d+)`, "", ""),
		ruletest.Measurement("avg", rules.Int, rules.PolicyAverage, `.*sshd\[\d+\]: Failed password for .*`, `port (\d+)`, "", ""),
		ruletest.Measurement("all", rules.Counter, "", `.*`, "", "", ""),
	}
}

// foldResult is what a fold made of a stream: per measurement, the
// selected lines, the value, and the count of each key.
type foldResult map[string]string

func describe(f *interval.Fold, g *interval.Group) foldResult {
	out := foldResult{}
	for i, m := range g.Measurements {
		a := f.At(time.Time{}, i)
		v, ok := a.Value()
		s := fmt.Sprintf("selected %d ignored %d value %v/%v", a.Selected, a.Ignored, v, ok)
		if k, n := a.TopKey(); n > 0 {
			s += fmt.Sprintf(" keys %d top %s=%d", len(a.Keys()), k, n)
		}
		out[m.Handle] = s
	}
	out["fold"] = fmt.Sprintf("lines %d repeats %d", f.Lines, f.Repeats)
	return out
}

const (
	sshHead = "Dec 10 07:13:56 LabSZ sshd[24227]: "
	failed1 = sshHead + "Failed password for root from 192.0.2.1 port 100 ssh2"
	failed2 = sshHead + "Failed password for root from 192.0.2.2 port 200 ssh2"
)

// TestRepeatLines: a line in which syslog says a message was repeated N
// times counts as N lines, by Line and by Block alike, and only where
// syslog writes it.
func TestRepeatLines(t *testing.T) {
	tests := []struct {
		name  string
		lines []string
		want  map[string]string
	}{
		{"rsyslog", []string{failed1, sshHead + "message repeated 5 times: [ Failed password for root from 192.0.2.1 port 100 ssh2]", failed2},
			map[string]string{
				"failed": "selected 7 ignored 0 value 7/true keys 2 top 192.0.2.1=6",
				"ports":  "selected 7 ignored 0 value 800/true",
				"avg":    fmt.Sprintf("selected 7 ignored 0 value %v/true", 800.0/7),
				"all":    "selected 7 ignored 0 value 7/true",
				"fold":   "lines 3 repeats 1"}},
		{"bsd", []string{failed1, "Dec 10 07:14:30 LabSZ last message repeated 3 times", "Dec 10 07:15:30 LabSZ last message repeated 2 times", failed2},
			map[string]string{
				"failed": "selected 7 ignored 0 value 7/true keys 2 top 192.0.2.1=6",
				"ports":  "selected 7 ignored 0 value 800/true",
				"all":    "selected 7 ignored 0 value 7/true",
				"fold":   "lines 4 repeats 2"}},
		{"bsd after an unselected line", []string{failed1, "Dec 10 07:14:00 LabSZ cron[1]: job", "Dec 10 07:14:30 LabSZ last message repeated 3 times"},
			map[string]string{
				"failed": "selected 1 ignored 0 value 1/true keys 1 top 192.0.2.1=1",
				"all":    "selected 5 ignored 0 value 5/true",
				"fold":   "lines 3 repeats 1"}},
		{"bsd first", []string{"Dec 10 07:14:30 LabSZ last message repeated 3 times", failed1},
			map[string]string{
				"failed": "selected 1 ignored 0 value 1/true keys 1 top 192.0.2.1=1",
				"all":    "selected 1 ignored 0 value 1/true",
				"fold":   "lines 2 repeats 1"}},
		{"bsd after rsyslog", []string{sshHead + "message repeated 2 times: [ Failed password for root from 192.0.2.2 port 200 ssh2]", "Dec 10 07:14:30 LabSZ last message repeated 3 times"},
			map[string]string{
				"failed": "selected 5 ignored 0 value 5/true keys 1 top 192.0.2.2=5",
				"ports":  "selected 5 ignored 0 value 1000/true",
				"fold":   "lines 2 repeats 2"}},
		{"forged in a user name", []string{sshHead + "Failed password for invalid user message repeated 999999 times: [ x from 192.0.2.9 port 1 ssh2]"},
			map[string]string{
				"failed": "selected 1 ignored 0 value 1/true keys 1 top 192.0.2.9=1",
				"all":    "selected 1 ignored 0 value 1/true",
				"fold":   "lines 1 repeats 0"}},
		{"forged bsd in a message", []string{failed1, sshHead + "last message repeated 999999 times"},
			map[string]string{
				"failed": "selected 1 ignored 0 value 1/true keys 1 top 192.0.2.1=1",
				"all":    "selected 2 ignored 0 value 2/true",
				"fold":   "lines 2 repeats 0"}},
		{"count too large", []string{sshHead + "message repeated 1000001 times: [ Failed password for root from 192.0.2.1 port 100 ssh2]"},
			map[string]string{
				"failed": "selected 0 ignored 0 value 0/true",
				"all":    "selected 1 ignored 0 value 1/true",
				"fold":   "lines 1 repeats 0"}},
		{"count zero", []string{sshHead + "message repeated 0 times: [ Failed password for root from 192.0.2.1 port 100 ssh2]"},
			map[string]string{
				"failed": "selected 0 ignored 0 value 0/true",
				"all":    "selected 1 ignored 0 value 1/true"}},
		{"once", []string{sshHead + "message repeated 1 times: [ Failed password for root from 192.0.2.1 port 100 ssh2]"},
			map[string]string{
				"failed": "selected 1 ignored 0 value 1/true keys 1 top 192.0.2.1=1",
				"fold":   "lines 1 repeats 1"}},
		{"no closing bracket", []string{sshHead + "message repeated 5 times: [ Failed password for root from 192.0.2.1 port 100 ssh2"},
			map[string]string{
				"failed": "selected 0 ignored 0 value 0/true",
				"all":    "selected 1 ignored 0 value 1/true",
				"fold":   "lines 1 repeats 0"}},
		{"CRLF", []string{failed1 + "\r", sshHead + "message repeated 5 times: [ Failed password for root from 192.0.2.1 port 100 ssh2]\r", "Dec 10 07:14:30 LabSZ last message repeated 3 times\r"},
			map[string]string{
				"failed": "selected 9 ignored 0 value 9/true keys 1 top 192.0.2.1=9",
				"fold":   "lines 3 repeats 2"}},
	}
	g, err := interval.NewGroup("x", repeatMeasurements(), match.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			byLine := g.NewFold(0)
			for _, l := range tt.lines {
				byLine.Line([]byte(strings.TrimSuffix(l, "\r")), false, interval.Dating{})
			}
			got := describe(byLine, g)
			for k, want := range tt.want {
				if got[k] != want {
					t.Errorf("Line: %s: %s, want %s", k, got[k], want)
				}
			}
			// Block, whole and split at every line: the same.
			text := strings.Join(tt.lines, "\n") + "\n"
			for split := 0; split <= len(tt.lines); split++ {
				f := g.NewFold(0)
				first := strings.Join(tt.lines[:split], "\n")
				if split > 0 {
					first += "\n"
				}
				f.Block([]byte(first), split, time.Time{})
				f.Block([]byte(text[len(first):]), len(tt.lines)-split, time.Time{})
				if b := describe(f, g); fmt.Sprint(b) != fmt.Sprint(got) {
					t.Errorf("Block split at %d:\n%v\nLine:\n%v", split, b, got)
				}
			}
		})
	}
}

// TestRepeatCut: a repeat line cut to the length limit is an ordinary
// line, even when what is left ends with ']'.
func TestRepeatCut(t *testing.T) {
	g, err := interval.NewGroup("x", repeatMeasurements(), match.Options{})
	if err != nil {
		t.Fatal(err)
	}
	f := g.NewFold(0)
	f.Line([]byte(sshHead+"message repeated 5 times: [ Failed password for root from 192.0.2.1 port 100 ssh2 [x]"), true, interval.Dating{})
	if a := f.At(time.Time{}, 0); a.Selected != 0 || f.Repeats != 0 {
		t.Errorf("a cut line counted %d times, %d repeats", a.Selected, f.Repeats)
	}
}

// TestRepeatOff: syslog_repeats: off takes repeat lines as they are; in a
// stream shared with measurements that expand them, each gets its own.
func TestRepeatOff(t *testing.T) {
	ms := repeatMeasurements()
	off := ruletest.Measurement("failed_off", rules.Counter, "", `.*sshd\[\d+\]: .*Failed password for .*`, "", `from (\S+) port`, rules.KeyIP)
	off.SyslogRepeats = rules.RepeatsOff
	allOff := ruletest.Measurement("all_off", rules.Counter, "", `.*`, "", "", "")
	allOff.SyslogRepeats = rules.RepeatsOff
	ms = append(ms, off, allOff)
	g, err := interval.NewGroup("x", ms, match.Options{})
	if err != nil {
		t.Fatal(err)
	}
	lines := []string{failed1, sshHead + "message repeated 5 times: [ Failed password for root from 192.0.2.1 port 100 ssh2]",
		"Dec 10 07:14:30 LabSZ last message repeated 3 times"}
	want := map[string]string{
		"failed":     "selected 9 ignored 0 value 9/true keys 1 top 192.0.2.1=9",
		"all":        "selected 9 ignored 0 value 9/true",
		"failed_off": "selected 2 ignored 0 value 2/true keys 1 top 192.0.2.1=2",
		"all_off":    "selected 3 ignored 0 value 3/true",
		"fold":       "lines 3 repeats 2",
	}
	for _, block := range []bool{false, true} {
		f := g.NewFold(0)
		var hits [][]int
		if block {
			f.Block([]byte(strings.Join(lines, "\n")), len(lines), time.Time{})
		} else {
			for _, l := range lines {
				var rs []int
				for _, h := range f.Line([]byte(l), false, interval.Dating{}) {
					if h.Selected {
						rs = append(rs, h.Rule)
					}
				}
				slices.Sort(rs)
				hits = append(hits, rs)
			}
			// What observers see: each measurement's own view of the line.
			if fmt.Sprint(hits) != "[[0 1 2 3 4 5] [0 1 2 3 4 5] [0 1 2 3 5]]" {
				t.Errorf("Line returned the selections %v", hits)
			}
		}
		got := describe(f, g)
		for k, w := range want {
			if got[k] != w {
				t.Errorf("block %v: %s: %s, want %s", block, k, got[k], w)
			}
		}
	}
}

// TestRepeatJournal: a journal entry's MESSAGE is expanded only when it
// is exactly rsyslog's form; with render: syslog the line has a header.
func TestRepeatJournal(t *testing.T) {
	bare := ruletest.Measurement("bare", rules.Counter, "", `Failed password for .*`, "", `from (\S+) port`, rules.KeyIP)
	bare.StreamType, bare.Path = rules.StreamJournal, ""
	g, err := interval.NewGroup("j", []*rules.Measurement{bare}, match.Options{})
	if err != nil {
		t.Fatal(err)
	}
	f := g.NewFold(0)
	for _, l := range []string{
		"Failed password for root from 192.0.2.1 port 100 ssh2",
		"message repeated 4 times: [ Failed password for root from 192.0.2.1 port 100 ssh2]",
		sshHead + "message repeated 9 times: [ Failed password for root from 192.0.2.1 port 100 ssh2]", // not a MESSAGE
		"last message repeated 7 times",
	} {
		f.Line([]byte(l), false, interval.Dating{})
	}
	if a := f.At(time.Time{}, 0); a.Selected != 5 || f.Repeats != 1 {
		t.Errorf("journal MESSAGE: %d selected, %d repeats; want 5 and 1", a.Selected, f.Repeats)
	}
}

// TestRepeatReplay: learn and backtest date the repetitions BSD syslogd
// reports by the repeat line's own time.
func TestRepeatReplay(t *testing.T) {
	g, err := interval.NewGroup("x", repeatMeasurements()[:1], match.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ref := time.Date(2025, 12, 31, 0, 0, 0, 0, time.Local)
	d := interval.Dating{ByTimestamp: true, Ref: ref}
	f := g.NewFold(5 * time.Minute)
	f.Line([]byte("Dec 10 07:13:56 LabSZ sshd[1]: Failed password for root from 192.0.2.1 port 1 ssh2"), false, d)
	f.Line([]byte("Dec 10 07:24:00 LabSZ last message repeated 4 times"), false, d)
	f.Line([]byte("Dec 10 07:31:00 LabSZ sshd[1]: message repeated 2 times: [ Failed password for root from 192.0.2.1 port 1 ssh2]"), false, d)
	at := func(h, m int) uint64 {
		return f.At(time.Date(2025, 12, 10, h, m, 0, 0, time.Local), 0).Selected
	}
	if got := [3]uint64{at(7, 10), at(7, 20), at(7, 30)}; got != [3]uint64{1, 4, 2} {
		t.Errorf("intervals 07:10, 07:20, 07:30 hold %v, want [1 4 2]", got)
	}
}

// TestRepeatAcrossBatches: the daemon folds each batch apart and flushes
// it into the stream's fold; a BSD repeat that starts a batch repeats the
// line that ended the last batch of the same source (Resume, Suspend), of
// no other source, and none after a reload.
func TestRepeatAcrossBatches(t *testing.T) {
	g, err := interval.NewGroup("x", repeatMeasurements()[:1], match.Options{})
	if err != nil {
		t.Fatal(err)
	}
	stream := g.NewFold(time.Minute)
	start := time.Unix(0, 0)
	last := map[string]*interval.LastLine{"a": {}, "b": {}}
	spare := g.NewFold(time.Minute)
	batch := func(source string, lines ...string) {
		spare.Resume(last[source])
		for _, l := range lines {
			spare.Line([]byte(l), false, interval.Live(start))
		}
		spare.Suspend(last[source])
		spare.Flush(stream)
	}
	batch("a", failed1)                                                        // 1
	batch("b", "Dec 10 07:14:00 LabSZ cron[1]: job")                           // 0
	batch("a", "Dec 10 07:14:30 LabSZ last message repeated 3 times")          // 3
	batch("b", "Dec 10 07:14:31 LabSZ last message repeated 9 times")          // 0: cron's
	batch("a", "Dec 10 07:15:30 LabSZ last message repeated 2 times")          // 2
	batch("a", failed2, "Dec 10 07:15:40 LabSZ last message repeated 4 times") // 5
	if got := stream.At(start, 0).Selected; got != 11 {
		t.Errorf("%d selected across batches, want 11", got)
	}
	// An abandoned batch (not suspended) leaves nothing to repeat.
	abandoned := g.NewFold(time.Minute) // dropped with what it folded
	abandoned.Resume(last["a"])
	abandoned.Line([]byte(failed1), false, interval.Live(start))
	batch("a", "Dec 10 07:16:30 LabSZ last message repeated 2 times")
	if got := stream.At(start, 0).Selected; got != 11 {
		t.Errorf("%d selected after an abandoned batch, want 11", got)
	}
	// After a reload, a line of the old rules is not repeated.
	g2, err := interval.NewGroup("x", repeatMeasurements()[:1], match.Options{})
	if err != nil {
		t.Fatal(err)
	}
	batch("a", failed1)
	f := g2.NewFold(time.Minute)
	f.Resume(last["a"])
	f.Line([]byte("Dec 10 07:14:30 LabSZ last message repeated 3 times"), false, interval.Live(start))
	if got := f.At(start, 0).Selected; got != 0 {
		t.Errorf("after a reload, a BSD repeat counted %d of a line of the old rules", got)
	}
}

// FuzzRepeatFold: whatever the lines, and wherever a block is split, Block
// folds them as Line does, and a line never stands for more than
// repeats.MaxCount (the counter of every line grows by at most that much
// per line).
func FuzzRepeatFold(f *testing.F) {
	f.Add([]byte(failed1+"\nDec 10 07:14:30 LabSZ last message repeated 3 times\n"+sshHead+"message repeated 5 times: [ Failed password for root from 192.0.2.1 port 100 ssh2]\n"), uint8(1))
	f.Add([]byte(sshHead+"message repeated 1000000 times: [ x]\r\nDec 10 07:14:30 LabSZ last message repeated 999999 times"), uint8(0))
	f.Add([]byte("message repeated 2 times: [ Failed password for root from 192.0.2.1 port 1 ssh2]\n\n\n"), uint8(2))
	g, err := interval.NewGroup("x", repeatMeasurements(), match.Options{})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte, at uint8) {
		if len(data) > 4096 {
			return
		}
		text := strings.TrimSuffix(string(data), "\n")
		lines := strings.Split(text, "\n")
		byLine := g.NewFold(0)
		for _, l := range lines {
			byLine.Line([]byte(strings.TrimSuffix(l, "\r")), false, interval.Dating{})
		}
		// Blocks of complete lines, each ended by '\n'.
		split := int(at) % (len(lines) + 1)
		block := g.NewFold(0)
		for _, part := range [][]string{lines[:split], lines[split:]} {
			var b strings.Builder
			for _, l := range part {
				b.WriteString(l + "\n")
			}
			block.Block([]byte(b.String()), len(part), time.Time{})
		}
		if a, b := describe(byLine, g), describe(block, g); fmt.Sprint(a) != fmt.Sprint(b) {
			t.Fatalf("Line:\n%v\nBlock split at line %d:\n%v", a, split, b)
		}
		if n := byLine.At(time.Time{}, 3).Selected; n > uint64(len(lines))*1000000 {
			t.Fatalf("%d lines counted %d times", len(lines), n)
		}
	})
}
