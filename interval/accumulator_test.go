package interval

import (
	"maps"
	"math"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/logtally/logtally/internal/ruletest"
	"github.com/logtally/logtally/match"
	"github.com/logtally/logtally/rules"
)

// meas is ruletest.Measurement.
var meas = ruletest.Measurement

// fold runs lines through one measurement and returns its accumulator.
func fold(t *testing.T, m *rules.Measurement, in string) *Accumulator {
	t.Helper()
	g, err := NewGroup("x", []*rules.Measurement{m}, match.Options{})
	if err != nil {
		t.Fatal(err)
	}
	f := g.NewFold(time.Minute)
	for _, l := range strings.Split(strings.TrimSuffix(in, "\n"), "\n") {
		f.Line([]byte(l), false, Dating{})
	}
	return f.At(time.Time{}, 0)
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
		foldAll := func(lines []string) *Accumulator {
			f := g.NewFold(time.Minute)
			for _, l := range lines {
				f.Line([]byte(l), false, Dating{})
			}
			return f.At(time.Time{}, 0)
		}
		whole := foldAll(vals)
		for cut := 0; cut <= len(vals); cut++ {
			a, b := foldAll(vals[:cut]), foldAll(vals[cut:])
			restored := NewAccumulator(m)
			restored.Restore(a.Snapshot())
			restored.Merge(b)
			a.Merge(b)
			for name, got := range map[string]*Accumulator{"merge": a, "snapshot": restored} {
				wv, wok := whole.Value()
				gv, gok := got.Value()
				if wv != gv || wok != gok || got.Counts != whole.Counts || got.Keys()["v"] != whole.Keys()["v"] {
					t.Errorf("%s %s cut %d: %v %v %+v, want %v %v %+v", pol, name, cut, gv, gok, got.Counts, wv, wok, whole.Counts)
				}
			}
		}
	}
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
	if gs[2].Kind != KindInterval || gs[2].Source != "pipe:interval:ss -ltnH" || gs[0].Kind != KindFile || gs[0].Path != "x" {
		t.Fatalf("Groups = %+v %+v %+v: kinds and sources wrong", gs[0], gs[1], gs[2])
	}
	gs, err = Groups([]*rules.Measurement{a, b, p}, "-", match.Options{})
	if err != nil || len(gs) != 1 || gs[0].Source != "-" || gs[0].Path != "-" || gs[0].Kind != KindFile || len(gs[0].Measurements) != 3 {
		t.Fatalf("Groups with override = %+v, %v", gs, err)
	}
}

// TestIgnoreKeys: a selected line whose key is in ignore_keys (an address,
// a network, a literal) is counted as ignored and nowhere else: not
// selected, not in the value, not among the keys; with any key type an
// address key is matched against the networks.
func TestIgnoreKeys(t *testing.T) {
	for _, keyType := range []string{rules.KeyIP, rules.KeyAny} {
		set, err := rules.LoadBytes("r.yaml", []byte(`measurements:
  - handle: fail
    path: /var/log/auth.log
    select_line_matching: 'fail.*'
    key: 'from (\S+)'
    key_type: `+keyType+`
    ignore_keys: [192.0.2.0/24, "2001:db8::/32", 198.51.100.7, "10.1.2.3/8"]
`))
		if err != nil {
			t.Fatal(err)
		}
		in := strings.Join([]string{
			"fail from 192.0.2.1",   // in 192.0.2.0/24
			"fail from 192.0.2.254", // in 192.0.2.0/24
			"fail from 192.0.3.1",
			"fail from 2001:db8::9",      // in 2001:db8::/32
			"fail from ::ffff:192.0.2.5", // mapped: in 192.0.2.0/24
			"fail from 198.51.100.7",     // the address
			"fail from 198.51.100.8",
			"fail from 10.200.0.1", // 10.1.2.3/8 means 10.0.0.0/8
			"fail from 203.0.113.9",
			"fail without a key",
		}, "\n")
		a := fold(t, set.Measurements[0], in)
		if v, _ := a.Value(); a.Ignored != 6 || a.Selected != 4 || v != 4 {
			t.Errorf("%s: ignored %d, selected %d, value %v; want 6, 4, 4", keyType, a.Ignored, a.Selected, v)
		}
		for _, k := range []string{"192.0.3.1", "198.51.100.8", "203.0.113.9"} {
			if a.Keys()[k] != 1 {
				t.Errorf("%s: key %s counted %d times, want 1: %v", keyType, k, a.Keys()[k], a.Keys())
			}
		}
		if len(a.Keys()) != 3 {
			t.Errorf("%s: keys %v, want only those not ignored", keyType, a.Keys())
		}
	}
	set, err := rules.LoadBytes("r.yaml", []byte(`measurements:
  - handle: user
    path: /var/log/auth.log
    select_line_matching: 'login.*'
    key: 'user=(\S+)'
    key_type: word
    ignore_keys: [nagios, backup]
`))
	if err != nil {
		t.Fatal(err)
	}
	a := fold(t, set.Measurements[0], "login user=nagios\nlogin user=nagios2\nlogin user=backup\nlogin user=root\n")
	if a.Ignored != 2 || a.Selected != 2 || a.Keys()["nagios2"] != 1 {
		t.Errorf("literal keys: ignored %d selected %d keys %v; want 2, 2 and nagios2 counted", a.Ignored, a.Selected, a.Keys())
	}
}

// TestFlush: folding lines in batches, each flushed into one fold (and the
// batch's fold reused), gives what folding them at once gives.
func TestFlush(t *testing.T) {
	m := meas("m", rules.Real, rules.PolicySum, "v.*", `v (\d+)`, `k(\w)`, "")
	g, err := NewGroup("x", []*rules.Measurement{m}, match.Options{})
	if err != nil {
		t.Fatal(err)
	}
	lines := []string{"v 3 ka", "v 7 kb", "x", "v 1 ka", "v 9 kc", "v 4 ka"}
	at := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	whole := g.NewFold(time.Minute)
	for _, l := range lines {
		whole.Line([]byte(l), false, Live(at))
	}
	into, batch := g.NewFold(time.Minute), g.NewFold(time.Minute)
	for i, l := range lines {
		batch.Line([]byte(l), false, Live(at))
		if i%2 == 1 {
			batch.Flush(into)
			if len(batch.Buckets) != 0 {
				t.Fatalf("batch fold not emptied: %d buckets", len(batch.Buckets))
			}
		}
	}
	want, got := whole.At(at, 0), into.At(at, 0)
	wv, _ := want.Value()
	gv, _ := got.Value()
	if wv != gv || want.Counts != got.Counts || !maps.Equal(want.Keys(), got.Keys()) || into.Buckets[at.Unix()].Lines != 6 {
		t.Fatalf("flushed %v %+v %v, want %v %+v %v", gv, got.Counts, got.Keys(), wv, want.Counts, want.Keys())
	}
}
