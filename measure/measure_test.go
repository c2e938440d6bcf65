package measure

import (
	"bytes"
	"compress/gzip"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/logtally/logtally/match"
	"github.com/logtally/logtally/rules"
)

func meas(handle, dataType, policy, sel, ex, key, keyType string) *rules.Measurement {
	if keyType == "" {
		keyType = rules.KeyAny
	}
	if policy == "" {
		policy = rules.PolicyLast
	}
	return &rules.Measurement{Handle: handle, StreamType: rules.StreamFile, Path: "x", DataType: dataType,
		Policy: policy, Select: sel, Extract: ex, Key: key, KeyType: keyType, TrackGrowing: true,
		HistoryType: rules.HistoryWeekly, Start: rules.StartEnd}
}

// fold runs lines through one measurement and returns its accumulator.
func fold(t *testing.T, m *rules.Measurement, in string) *Accumulator {
	t.Helper()
	g, err := NewGroup("x", []*rules.Measurement{m}, match.Options{})
	if err != nil {
		t.Fatal(err)
	}
	rs := Evaluate([]*Group{g}, func(*Group) ([]Input, error) {
		return []Input{{Name: "x", R: io.NopCloser(strings.NewReader(in))}}, nil
	}, 0, nil)
	if rs[0].Err != nil {
		t.Fatal(rs[0].Err)
	}
	f := g.NewFolder()
	for _, l := range strings.Split(strings.TrimSuffix(in, "\n"), "\n") {
		f.Fold([]byte(l), false)
	}
	return f.Acc[0]
}

func TestAccumulator(t *testing.T) {
	in := "took 10 ms\ntook 20 ms\nother\ntook x ms\ntook 5.9 ms\n"
	tests := []struct {
		name   string
		m      *rules.Measurement
		want   float64
		valid  bool
		sel    uint64
		misses uint64
	}{
		{"counter", meas("c", rules.Counter, "", "took.*", "", "", ""), 4, true, 4, 0},
		{"counter with extraction skips misses", meas("c", rules.Counter, "", "took.*", `took (\d+)`, "", ""), 3, true, 4, 1},
		{"int last", meas("i", rules.Int, rules.PolicyLast, "took.*", `took (\S+)`, "", ""), 5, true, 4, 1},
		{"int first", meas("i", rules.Int, rules.PolicyFirst, "took.*", `took (\S+)`, "", ""), 10, true, 4, 1},
		{"int sum truncates per line", meas("i", rules.Int, rules.PolicySum, "took.*", `took (\S+)`, "", ""), 35, true, 4, 1},
		{"int average keeps the fraction", meas("i", rules.Int, rules.PolicyAverage, "took.*", `took (\S+)`, "", ""), 35.0 / 3, true, 4, 1},
		{"real sum", meas("r", rules.Real, rules.PolicySum, "took.*", `took (\S+)`, "", ""), 35.9, true, 4, 1},
		{"real average", meas("r", rules.Real, rules.PolicyAverage, "took.*", `took (\S+)`, "", ""), 35.9 / 3, true, 4, 1},
		{"real no value is a gap", meas("r", rules.Real, rules.PolicyLast, "nothing.*", `(\d+)`, "", ""), 0, false, 0, 0},
		{"real sum of nothing is zero", meas("r", rules.Real, rules.PolicySum, "nothing.*", `(\d+)`, "", ""), 0, true, 0, 0},
		{"counter of nothing is zero", meas("c", rules.Counter, "", "nothing.*", "", "", ""), 0, true, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := fold(t, tt.m, in)
			v, ok := a.Value()
			if ok != tt.valid || math.Abs(v-tt.want) > 1e-9 {
				t.Errorf("Value = %v, %v; want %v, %v", v, ok, tt.want, tt.valid)
			}
			if a.Selected != tt.sel || a.ExtractMisses != tt.misses {
				t.Errorf("selected %d misses %d, want %d %d", a.Selected, a.ExtractMisses, tt.sel, tt.misses)
			}
		})
	}
}

func TestKeys(t *testing.T) {
	in := strings.Join([]string{
		"fail from 10.0.0.1",
		"fail from 10.0.0.1",
		"fail from ::ffff:10.0.0.2",
		"fail from [2001:db8::1]",
		"fail from $(reboot)",
		"fail from 10.0.0.1;rm",
		"fail from fe80::1%eth0",
	}, "\n")
	a := fold(t, meas("k", rules.Counter, "", "fail.*", "", `from (\S+)`, rules.KeyIP), in)
	if a.Selected != 7 || a.KeyRejects != 3 {
		t.Fatalf("selected %d rejects %d, want 7 and 3", a.Selected, a.KeyRejects)
	}
	if top, n := a.TopKey(); top != "10.0.0.1" || n != 2 {
		t.Fatalf("top = %s %d, want 10.0.0.1 2", top, n)
	}
	if _, ok := a.Keys()["10.0.0.2"]; !ok {
		t.Fatalf("IPv4-mapped address not canonicalised: %v", a.Keys())
	}
	if _, ok := a.Keys()["2001:db8::1"]; !ok {
		t.Fatalf("bracketed IPv6 not accepted: %v", a.Keys())
	}
	w := fold(t, meas("w", rules.Counter, "", "u.*", "", `u (\S+)`, rules.KeyWord), "u alice\nu bob@x.org\nu `id`\nu a$(b)\n")
	if len(w.Keys()) != 2 || w.KeyRejects != 2 {
		t.Fatalf("word keys %v rejects %d, want alice, bob@x.org and 2 rejects", w.Keys(), w.KeyRejects)
	}
	long := fold(t, meas("a", rules.Counter, "", "u.*", "", `u (.*)`, rules.KeyAny), "u "+strings.Repeat("é", 300)+"\nu \xff\xfe\n")
	for k := range long.Keys() {
		if len(k) > MaxKeyLen || !utf8.ValidString(k) {
			t.Fatalf("key %q: longer than %d or not sanitised", k, MaxKeyLen)
		}
	}
}

func TestKeyOverflow(t *testing.T) {
	a := NewAccumulator(meas("k", rules.Counter, "", ".*", "", "(.*)", rules.KeyAny))
	for i := 0; i < MaxKeys+5; i++ {
		a.Add(&match.Hit{Selected: true, Key: []byte(strings.Repeat("k", 1+i%50) + string(rune('a'+i%26)) + strings.Repeat("z", i/1300))})
	}
	if len(a.Keys()) > MaxKeys {
		t.Fatalf("%d keys kept, limit %d", len(a.Keys()), MaxKeys)
	}
	if a.KeyOverflow == 0 && len(a.Keys()) == MaxKeys {
		t.Fatal("overflow not counted")
	}
}

// TestMergeAndSnapshot checks that folding an interval in two parts (merged,
// or across a snapshot and restore) gives the same result as folding it at
// once, for every policy.
func TestMergeAndSnapshot(t *testing.T) {
	vals := []string{"v 3", "v 7", "x", "v 1", "v 9", "v 4"}
	for _, pol := range []string{rules.PolicySum, rules.PolicyAverage, rules.PolicyFirst, rules.PolicyLast} {
		m := meas("m", rules.Real, pol, "v.*|x", `v (\d+)`, `(v)`, "")
		g, err := NewGroup("x", []*rules.Measurement{m}, match.Options{})
		if err != nil {
			t.Fatal(err)
		}
		whole := g.NewFolder()
		for _, l := range vals {
			whole.Fold([]byte(l), false)
		}
		for cut := 0; cut <= len(vals); cut++ {
			a, b := g.NewFolder(), g.NewFolder()
			for _, l := range vals[:cut] {
				a.Fold([]byte(l), false)
			}
			for _, l := range vals[cut:] {
				b.Fold([]byte(l), false)
			}
			restored := NewAccumulator(m)
			restored.Restore(a.Acc[0].Snapshot())
			restored.Merge(b.Acc[0])
			a.Acc[0].Merge(b.Acc[0])
			for name, got := range map[string]*Accumulator{"merge": a.Acc[0], "snapshot": restored} {
				wv, wok := whole.Acc[0].Value()
				gv, gok := got.Value()
				if wv != gv || wok != gok || got.Counts != whole.Acc[0].Counts || got.Keys()["v"] != whole.Acc[0].Keys()["v"] {
					t.Errorf("%s %s cut %d: %v %v %+v, want %v %v %+v", pol, name, cut, gv, gok, got.Counts, wv, wok, whole.Acc[0].Counts)
				}
			}
		}
	}
}

// TestDirtyInputs checks that CRLF line ends, a missing final newline,
// invalid UTF-8 and a 1 MB line give the same counts as the clean input
// (the long line is cut and counted).
func TestDirtyInputs(t *testing.T) {
	clean := "Dec 10 sshd[1]: Invalid user a from 1.2.3.4\nDec 10 sshd[2]: Accepted x\nDec 10 sshd[3]: Invalid user b from 1.2.3.5\n"
	ms := []*rules.Measurement{
		meas("probe", rules.Counter, "", `.*sshd\[.*Invalid user.*`, "", `from (\S+)`, rules.KeyIP),
		meas("pid", rules.Int, rules.PolicySum, `.*sshd\[.*`, `sshd\[(\d+)\]`, "", ""),
	}
	run := func(in string) []Result {
		g, err := NewGroup("x", ms, match.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return Evaluate([]*Group{g}, func(*Group) ([]Input, error) {
			return []Input{{Name: "x", R: io.NopCloser(strings.NewReader(in))}}, nil
		}, 0, nil)
	}
	want := run(clean)
	if want[0].Value != 2 || want[1].Value != 6 || want[0].Keys != 2 {
		t.Fatalf("clean: %v %v keys %d, want 2, 6, 2 keys", want[0].Value, want[1].Value, want[0].Keys)
	}
	long := "Dec 10 sshd[0]: " + strings.Repeat("A", 1<<20) + "\n"
	for name, in := range map[string]string{
		"crlf":         strings.ReplaceAll(clean, "\n", "\r\n"),
		"no newline":   strings.TrimSuffix(clean, "\n"),
		"invalid utf8": strings.Replace(clean, "Accepted x", "Accepted \xff\xfe\xc3", 1),
		"long line":    long + clean,
	} {
		got := run(in)
		for i := range want {
			if got[i].Value != want[i].Value || got[i].Selected != want[i].Selected+boolInt(name == "long line" && i == 1) {
				t.Errorf("%s: %s = %v (selected %d), want %v (selected %d)", name, ms[i].Handle, got[i].Value, got[i].Selected, want[i].Value, want[i].Selected)
			}
		}
		if name == "long line" && (got[0].Cut != 1 || got[0].Lines != 4) {
			t.Errorf("long line: cut %d lines %d, want 1 and 4", got[0].Cut, got[0].Lines)
		}
	}
}

func boolInt(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

func TestGroups(t *testing.T) {
	a := meas("a", rules.Counter, "", ".*", "", "", "")
	b := meas("b", rules.Counter, "", ".*", "", "", "")
	b.Path = "y"
	p := meas("p", rules.Counter, "", ".*", "", "", "")
	p.StreamType, p.Command, p.PipeMode = rules.StreamPipe, []string{"ss", "-ltnH"}, rules.PipeInterval
	gs, err := Groups([]*rules.Measurement{a, b, p}, "", match.Options{})
	if err != nil || len(gs) != 3 {
		t.Fatalf("Groups = %d, %v; want 3", len(gs), err)
	}
	gs, err = Groups([]*rules.Measurement{a, b, p}, "-", match.Options{})
	if err != nil || len(gs) != 1 || gs[0].Source != "-" || len(gs[0].Measurements) != 3 {
		t.Fatalf("Groups with override = %+v, %v", gs, err)
	}
}

func TestOpenPath(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string, gz bool) {
		p := filepath.Join(dir, name)
		if !gz {
			if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			return
		}
		var buf bytes.Buffer
		z := gzip.NewWriter(&buf)
		z.Write([]byte(content))
		z.Close()
		if err := os.WriteFile(p, buf.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("auth.log", "c\n", false)
	write("auth.log.1", "b\n", false)
	write("auth.log.2.gz", "a\n", true)
	ins, err := OpenPath(filepath.Join(dir, "auth.log*"), nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, in := range ins {
		b, err := io.ReadAll(in.R)
		if err != nil {
			t.Fatal(err)
		}
		in.R.Close()
		got = append(got, filepath.Base(in.Name)+"="+strings.TrimSpace(string(b)))
	}
	if strings.Join(got, " ") != "auth.log=c auth.log.1=b auth.log.2.gz=a" {
		t.Fatalf("read %v", got)
	}
	if _, err := OpenPath(filepath.Join(dir, "nope*"), nil); err == nil {
		t.Fatal("empty glob: no error")
	}
	if _, err := OpenPath(filepath.Join(dir, "missing"), nil); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Fatalf("missing file: err = %v, want it to name the file", err)
	}
}
