package interval

import (
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/logtally/logtally/match"
	"github.com/logtally/logtally/rules"
)

// snapshot is a measurement of an interval command's output.
func snapshot(handle, dataType string) *rules.Measurement {
	m := meas(handle, dataType, rules.PolicyLast, "", "", "", "")
	m.StreamType, m.Command, m.PipeMode, m.Path = rules.StreamPipe, []string{"df"}, rules.PipeInterval, ""
	return m
}

// select_line_number reads the n-th line of each snapshot: of each
// interval's bucket, whether lines come one by one or in blocks.
func TestSelectLineNumber(t *testing.T) {
	second := snapshot("second", rules.Int)
	second.SelectLine, second.Extract = 2, `(\d+)%`
	first := snapshot("first", rules.Counter)
	first.SelectLine = 1
	other := snapshot("pct", rules.Counter)
	other.Select = `.*%.*`
	g, err := NewGroup("pipe:df", []*rules.Measurement{second, first, other}, match.Options{})
	if err != nil {
		t.Fatal(err)
	}
	out1 := "Filesystem Use%\n/dev/sda1 41%\n/dev/sdb1 77%\n"
	out2 := "Filesystem Use%\n/dev/sda1 42%\n"
	f := g.NewFold(time.Minute)
	t1 := time.Unix(600, 0)
	for _, l := range strings.Split(strings.TrimSuffix(out1, "\n"), "\n") {
		f.Line([]byte(l), false, Live(t1))
	}
	t2 := t1.Add(time.Minute)
	f.Block([]byte(out2), 2, t2)
	for _, tc := range []struct {
		at      time.Time
		i       int
		want    float64
		selects uint64
	}{
		{t1, 0, 41, 1}, {t1, 1, 1, 1}, {t1, 2, 3, 3},
		{t2, 0, 42, 1}, {t2, 1, 1, 1}, {t2, 2, 2, 2},
	} {
		a := f.At(tc.at, tc.i)
		if v, ok := a.Value(); !ok || v != tc.want || a.Selected != tc.selects {
			t.Errorf("%s at %v: value %v %v, selected %d; want %v, %d", g.Measurements[tc.i].Handle, tc.at.Unix(), v, ok, a.Selected, tc.want, tc.selects)
		}
	}
	// A replay by timestamps has no snapshot, so no line number.
	f2 := g.NewFold(time.Minute)
	f2.Line([]byte("Filesystem Use%"), false, Dating{ByTimestamp: true})
	if a := f2.At(time.Time{}, 1); a.Selected != 0 {
		t.Errorf("a replayed line was selected by number: %+v", a.Counts)
	}
}

func TestSlistAndString(t *testing.T) {
	in := "from 192.0.2.1\nfrom 192.0.2.2\nfrom 192.0.2.2\nfrom ::ffff:192.0.2.3\nfrom evil$(x)\nother\n"
	set := meas("peers", rules.Slist, "", "from .*", `^from (.*)$`, "", rules.KeyIP)
	a := fold(t, set, in)
	want := map[string]uint64{"192.0.2.1": 1, "192.0.2.2": 2, "192.0.2.3": 1}
	if v, ok := a.Value(); !ok || v != 3 || !maps.Equal(a.Keys(), want) || a.KeyRejects != 1 {
		t.Errorf("slist: %v %v keys %v rejects %d", v, ok, a.Keys(), a.KeyRejects)
	}
	if _, ok := a.Text(); ok {
		t.Error("an slist has a text")
	}
	empty := fold(t, set, "other\n")
	if v, ok := empty.Value(); !ok || v != 0 {
		t.Errorf("the empty set: %v %v", v, ok)
	}

	whole := meas("lines", rules.Slist, "", "mount .*", "", "", "")
	if a := fold(t, whole, "mount a\nmount b\nmount a\n"); !maps.Equal(a.Keys(), map[string]uint64{"mount a": 2, "mount b": 1}) {
		t.Errorf("slist without extraction: %v", a.Keys())
	}

	str := meas("kernel", rules.String, "", "Linux version .*", `version (\S+)`, "", "")
	a = fold(t, str, "Linux version 6.1.0 (gcc)\nLinux version 6.12.9 (gcc)\n")
	if txt, ok := a.Text(); !ok || txt != "6.12.9" {
		t.Errorf("string: %q %v", txt, ok)
	}
	if _, ok := a.Value(); ok {
		t.Error("a string has a number")
	}
	b := NewAccumulator(str)
	b.Restore(a.Snapshot())
	if txt, _ := b.Text(); txt != "6.12.9" {
		t.Errorf("restored text %q", txt)
	}
	c := fold(t, str, "Linux version 6.13 (gcc)\n")
	b.Merge(c)
	if txt, _ := b.Text(); txt != "6.13" {
		t.Errorf("merged text %q, want the later", txt)
	}
	if _, ok := fold(t, str, "other\n").Text(); ok {
		t.Error("a string without a line has a text")
	}
}
