package history

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
	"time"
)

// train feeds weeks of synthetic counts and returns the baseline and the
// time after the last sample.
func train(t testing.TB, cfg Config, s *synth, start time.Time, weeks int) (*Baseline, time.Time) {
	t.Helper()
	b := New(cfg)
	at := start
	for i := 0; i < weeks*2016; i++ {
		b.Observe(at, s.draw(s.level(at)))
		at = at.Add(5 * time.Minute)
	}
	return b, at
}

func TestScoreDoesNotLearn(t *testing.T) {
	b, at := train(t, utcConfig(), newSynth(1, 20, 0), monday, 2)
	m1, p1 := b.Encode(false)
	s1 := b.Score(at, 500)
	s2 := b.Score(at, 500)
	m2, p2 := b.Encode(false)
	if s1 != s2 || !bytes.Equal(m1, m2) || len(p1) != len(p2) {
		t.Fatalf("Score changed the baseline")
	}
	// Observe scores against the baseline as it was before the sample.
	if o := b.Observe(at, 500); o != s1 {
		t.Fatalf("Observe = %+v, Score before = %+v", o, s1)
	}
	if after := b.Score(at, 500); after == s1 {
		t.Fatalf("Observe did not learn")
	}
}

func TestSmallAndLargeDeviations(t *testing.T) {
	for _, tc := range []struct {
		name      string
		base      float64
		mult, add float64 // value = mult × normal level + add
		anomalous bool
	}{
		{"0 to 2 on a mostly-zero series", 0.05, 0, 2, false},
		{"0 to 1 on a mostly-zero series", 0.05, 0, 1, false},
		{"50 to 5000", 50, 100, 0, true},
		{"50 to 500", 50, 10, 0, true},
		{"50 to 60", 50, 1.2, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSynth(3, tc.base, 0)
			b, at := train(t, utcConfig(), s, monday, 3)
			at = at.Add(14 * time.Hour) // Monday 14:00, level = 1.7 × base
			for i := 0; i < 14*12; i++ {
				b.Observe(at.Add(time.Duration(i-14*12)*5*time.Minute), s.draw(s.level(at.Add(time.Duration(i-14*12)*5*time.Minute))))
			}
			v := tc.mult*s.level(at) + tc.add
			sc := b.Score(at, v)
			if got := sc.Level == 3; got != tc.anomalous {
				t.Fatalf("value %g (av %.2f, dev %.2f): level %d, z %.2f; want anomalous=%v", v, sc.Av, sc.Dev, sc.Level, sc.Z, tc.anomalous)
			}
		})
	}
}

// TestLevelShiftAbsorbed: a lasting tripling of the level is flagged, not
// absorbed within the hour, and absorbed (no more anomalies) within weeks.
func TestLevelShiftAbsorbed(t *testing.T) {
	s := newSynth(5, 10, 0)
	b, at := train(t, utcConfig(), s, monday, 3)
	shift := at
	var firstHour []Score
	lastAnomaly := time.Time{}
	for i := 0; i < 6*2016; i++ {
		sc := b.Observe(at, s.draw(3*s.level(at)))
		if at.Sub(shift) < time.Hour {
			firstHour = append(firstHour, sc)
		}
		if sc.Level == 3 {
			lastAnomaly = at
		}
		at = at.Add(5 * time.Minute)
	}
	if firstHour[0].Level != 3 {
		t.Errorf("first shifted sample: level %d, want an anomaly", firstHour[0].Level)
	}
	// The expectation does not follow the shift within the hour.
	if last := firstHour[len(firstHour)-1]; last.Av > 2*s.level(shift.Add(55*time.Minute)) {
		t.Errorf("an hour after the shift the expectation is %.1f, normal %.1f: absorbed within the hour", last.Av, s.level(shift.Add(55*time.Minute)))
	}
	if d := lastAnomaly.Sub(shift); d > 4*Week {
		t.Errorf("anomalies continue %v after the shift, want absorbed within 4 weeks", d.Round(time.Hour))
	}
	wk := b.Week()
	noon := wk[(2*86400+14*3600)/300] // Wednesday 14:00
	want := 3 * s.level(monday.Add(2*24*time.Hour+14*time.Hour))
	if math.Abs(noon.Av-want) > 0.25*want {
		t.Errorf("learned Wednesday 14:00 = %.1f after the shift, want about %.1f", noon.Av, want)
	}
	t.Logf("last anomaly %v after the shift", lastAnomaly.Sub(shift).Round(time.Hour))
}

// TestAttackDoesNotBecomeNormal: after a week-long attack at 10× the
// level, the same attack a week later is still an anomaly, in its first
// interval and all along. The requirement is _anomaly, not merely _dev2: a
// remediation guarded by _anomaly must fire again when the attack comes
// back, and the baseline has no reason to call it less unusual than the
// first time (the slots learn only clipped residuals, the spread learns
// capped squared errors, and the tail record counts the attack as one
// episode up to a cap).
func TestAttackDoesNotBecomeNormal(t *testing.T) {
	for seed := uint64(7); seed < 10; seed++ {
		t.Run(fmt.Sprintf("seed%d", seed), func(t *testing.T) {
			s := newSynth(seed, 10, 0)
			b, at := train(t, utcConfig(), s, monday, 3)
			for i := 0; i < 2016; i++ {
				b.Observe(at, poisson(s.rng, 10*s.level(at)))
				at = at.Add(5 * time.Minute)
			}
			for i := 0; i < 2016; i++ {
				b.Observe(at, s.draw(s.level(at)))
				at = at.Add(5 * time.Minute)
			}
			var zs []float64
			for i := 0; i < 24; i++ {
				normal := s.level(at)
				sc := b.Observe(at, poisson(s.rng, 10*normal))
				zs = append(zs, sc.Z)
				if (i == 0 && sc.Av > 2*normal) || sc.Level != 3 {
					t.Errorf("%s: attack value %g scored level %d (av %.1f, normal %.1f, z %.2f), want an anomaly",
						at.Format("Mon 15:04"), sc.Value, sc.Level, sc.Av, normal, sc.Z)
				}
				at = at.Add(5 * time.Minute)
			}
			t.Logf("z of the repeated attack: %.1f", zs)
		})
	}
}

// TestGapIsNotZero: gaps leave the learned week untouched, and the next
// sample is judged against the same baseline.
func TestGapIsNotZero(t *testing.T) {
	s := newSynth(9, 20, 0)
	b, at := train(t, utcConfig(), s, monday, 2)
	before := b.Week()
	for i := 0; i < 288; i++ {
		b.Gap(at)
		at = at.Add(5 * time.Minute)
	}
	after := b.Week()
	for i := range before {
		if before[i] != after[i] {
			t.Fatalf("slot %d changed across a gap: %+v -> %+v", i, before[i], after[i])
		}
	}
	// A day without Gap calls is a gap too: a normal value is normal.
	at = at.Add(24 * time.Hour)
	sc := b.Observe(at, s.level(at))
	if sc.Level != 0 && sc.Level != 1 && sc.Level != -1 {
		t.Fatalf("normal value after a gap: level %d (av %.1f)", sc.Level, sc.Av)
	}
	// And the same gap filled with zeros would have been learned as zeros.
	z := New(utcConfig())
	if z.Score(at, 0).Level != 0 {
		t.Fatalf("empty baseline judged a value")
	}
}

// TestLearningSemantics: classes appear within days, h_learning is gone
// after a month of data.
func TestLearningSemantics(t *testing.T) {
	s := newSynth(11, 30, 0)
	b, at := train(t, utcConfig(), s, monday, 0)
	for i := 0; i < 3*288; i++ {
		b.Observe(at, s.draw(s.level(at)))
		at = at.Add(5 * time.Minute)
	}
	sc := b.Score(at, 50*s.level(at))
	if sc.Level != 3 || !sc.Learning {
		t.Errorf("after 3 days: spike level %d learning %v, want an anomaly while still learning", sc.Level, sc.Learning)
	}
	if n := b.Score(at, s.level(at)); abs(n.Level) > 1 {
		t.Errorf("after 3 days: normal value level %d", n.Level)
	}
	b, at = train(t, utcConfig(), s, monday, 4)
	for i := 0; i < 2016; i += 7 {
		if sc := b.Score(at.Add(time.Duration(i)*5*time.Minute), 30); sc.Learning {
			t.Fatalf("after 4 weeks: slot at %v still learning", at.Add(time.Duration(i)*5*time.Minute).Format("Mon 15:04"))
		}
	}
}

func abs(i int) int {
	if i < 0 {
		return -i
	}
	return i
}

func TestDST(t *testing.T) {
	for _, zone := range []string{"Europe/Berlin", "America/New_York"} {
		t.Run(zone, func(t *testing.T) {
			loc, err := time.LoadLocation(zone)
			if err != nil {
				t.Skipf("zone data not installed: %v", err)
			}
			cfg := Config{Interval: 5 * time.Minute, Location: loc}
			b := New(cfg)
			// Slots follow the wall clock: 12:00 local is slot 12:00 on
			// both sides of each transition.
			for _, day := range []time.Time{
				time.Date(2024, 3, 31, 12, 0, 0, 0, loc), time.Date(2024, 10, 27, 12, 0, 0, 0, loc),
				time.Date(2024, 3, 10, 12, 0, 0, 0, loc), time.Date(2024, 11, 3, 12, 0, 0, 0, loc),
			} {
				want := ((int(day.Weekday())+6)%7*86400 + 12*3600) / 300
				if got := b.SlotOf(day); got != want {
					t.Errorf("%v: slot %d, want %d", day, got, want)
				}
			}
			// A series with a sharp peak at 12:00 local, sampled every 5
			// minutes of real time across both transitions of 2024.
			start := time.Date(2024, 3, 4, 0, 0, 0, 0, loc)
			end := time.Date(2024, 11, 18, 0, 0, 0, 0, loc)
			s := newSynth(13, 5, 0)
			for at := start; at.Before(end); at = at.Add(5 * time.Minute) {
				lt := at.In(loc)
				v := 5.0
				if lt.Hour() == 12 {
					v = 100
				}
				b.Observe(at, s.draw(v))
			}
			wk := b.Week()
			for _, st := range wk {
				peak := st.Time >= "12:15" && st.Time < "12:45"
				off := st.Time < "11:30" || st.Time >= "13:30"
				if peak && st.Av < 50 || off && st.Av > 50 {
					t.Fatalf("%s %s: learned %.1f, peak shifted", st.Weekday, st.Time, st.Av)
				}
			}
		})
	}
}

func TestEncodeDecode(t *testing.T) {
	cfg := utcConfig()
	b, at := train(t, cfg, newSynth(17, 20, 2), monday, 2)
	meta, pages := b.Encode(false)
	c, err := Decode(cfg, meta, pages)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 300; i++ {
		tt := at.Add(time.Duration(i) * 5 * time.Minute)
		if x, y := b.Observe(tt, float64(i%40)), c.Observe(tt, float64(i%40)); x != y {
			t.Fatalf("decoded baseline scores %+v, original %+v", y, x)
		}
	}
	// One interval dirties one page, and writes it with the meta record
	// (whole-series state, the range of values learned and six evidence
	// records, about 940 bytes).
	b.Encode(true)
	b.Observe(at.Add(time.Hour*1000), 7)
	meta, pages = b.Encode(true)
	if len(pages) != 1 {
		t.Fatalf("one interval dirtied %d pages", len(pages))
	}
	for _, p := range pages {
		if n := len(meta) + len(p); n > 980+maskBytes+pageSlots*slotBytes {
			t.Fatalf("one interval writes %d bytes", n)
		}
	}
	if _, p := b.Encode(true); len(p) != 0 {
		t.Fatalf("Encode did not clear the dirty marks")
	}
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"interval", Config{Interval: time.Minute, Location: time.UTC}},
		{"zone", Config{Interval: 5 * time.Minute, Location: time.FixedZone("X", 3600)}},
		{"kind", Config{Interval: 5 * time.Minute, Location: time.UTC, Kind: KindReal}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, p := b.Encode(false)
			if _, err := Decode(tc.cfg, m, p); !errors.Is(err, ErrConfigChanged) {
				t.Fatalf("Decode with another %s: %v, want ErrConfigChanged", tc.name, err)
			}
		})
	}
	// Another half-life is adopted.
	m, p := b.Encode(false)
	if _, err := Decode(Config{Location: time.UTC, HalfLife: 8 * Week}, m, p); err != nil {
		t.Fatalf("Decode with another half-life: %v", err)
	}
	// Corrupt input is an error, not a panic.
	for _, bad := range [][]byte{nil, m[:10], append(append([]byte{}, m...), 0)} {
		if _, err := Decode(cfg, bad, p); err == nil {
			t.Errorf("Decode accepted %d bytes of corrupt meta", len(bad))
		}
	}
}

func TestKindAutoSwitchesToReal(t *testing.T) {
	b := New(utcConfig())
	at := monday
	for i := 0; i < 2016; i++ {
		v := 40 + 5*math.Sin(float64(i)/40)
		if i < 100 {
			v = math.Round(v)
		}
		b.Observe(at, v)
		at = at.Add(5 * time.Minute)
	}
	sc := b.Score(at, 45)
	if math.Abs(sc.Av-45) > 6 || sc.Dev <= 0 || sc.Dev > 10 {
		t.Fatalf("after switching to real values: %+v", sc)
	}
	if sc := b.Score(at, 400); sc.Level != 3 {
		t.Fatalf("400 on a 35..45 series: level %d", sc.Level)
	}
}

func TestWeekCSVAndSVG(t *testing.T) {
	b, at := train(t, utcConfig(), newSynth(19, 20, 0), monday, 1)
	wk := b.Week()
	if len(wk) != 2016 || wk[0].Weekday != time.Monday || wk[0].Time != "00:00" || wk[2015].Weekday != time.Sunday || wk[2015].Time != "23:55" {
		t.Fatalf("week layout: first %+v last %+v", wk[0], wk[2015])
	}
	var csv bytes.Buffer
	if err := WriteWeekCSV(&csv, wk); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(csv.String()), "\n")
	if lines[0] != "slot,weekday,time,av,dev,n" || len(lines) != 2017 || !strings.HasPrefix(lines[1], "0,Monday,00:00,") {
		t.Fatalf("csv: %q ... (%d lines)", lines[:2], len(lines))
	}
	var recent []Sample
	for i := 0; i < 288; i++ {
		recent = append(recent, Sample{T: at.Add(time.Duration(i) * 5 * time.Minute), V: float64(i % 30)})
	}
	var svg bytes.Buffer
	if err := WriteWeekSVG(&svg, "ssh <probes> & more", wk, recent); err != nil {
		t.Fatal(err)
	}
	out := svg.String()
	for _, want := range []string{"<svg", "Mon", "Sun", "ssh &lt;probes&gt; &amp; more", "<polygon", "<polyline", "<circle"} {
		if !strings.Contains(out, want) {
			t.Errorf("svg lacks %q", want)
		}
	}
	if strings.Contains(strings.ToLower(out), "<script") {
		t.Errorf("svg has a script")
	}
	if err := wellFormed(out); err != nil {
		t.Errorf("svg not well-formed XML: %v", err)
	}
}

// TestShortInterval: a 1-second interval keeps 2016 slots of 5 minutes
// (not 604800), forgets per weekly visit of a slot rather than per sample,
// scores every sample against its slot, and encodes small.
func TestShortInterval(t *testing.T) {
	cfg := Config{Interval: time.Second, Location: time.UTC}
	b := New(cfg)
	if b.Slots() != 2016 || b.SlotWidth() != 5*time.Minute {
		t.Fatalf("1 s interval: %d slots of %v, want 2016 of 5m", b.Slots(), b.SlotWidth())
	}
	rng := rand.New(rand.NewPCG(21, 22))
	// Two weeks of per-second counts: 2 per second by day, 0.2 at night.
	rate := func(at time.Time) float64 {
		if h := at.Hour(); h >= 8 && h < 20 {
			return 2
		}
		return 0.2
	}
	at := monday
	rises, prev := 0, false
	for i := 0; i < 14*86400; i++ {
		sc := b.Observe(at, poisson(rng, rate(at)))
		anom := sc.Level == 3 || sc.Level == -3
		if i > 7*86400 && anom && !prev {
			t.Logf("rise %s z %.2f v %g av %.2f", at.Format("Mon 15:04:05"), sc.Z, sc.Value, sc.Av)
			rises++
		}
		prev = anom
		at = at.Add(time.Second)
	}
	// Per-visit forgetting: after two weekly visits a slot weighs about
	// 1 + ρ, not hundreds of samples.
	noon := b.SlotOf(monday.Add(12 * time.Hour))
	if n := b.slot(noon).N; n < 1.5 || n > 2.01 {
		t.Errorf("slot weight after two weekly visits of 300 samples: %.2f, want about 1.8", n)
	}
	if got := b.Week()[noon].Av; math.Abs(got-2) > 0.5 {
		t.Errorf("learned Monday 12:00: %.2f per second, want about 2", got)
	}
	if b.Week()[noon].Time != "12:00" {
		t.Errorf("slot of Monday 12:00 labelled %s", b.Week()[noon].Time)
	}
	// Stationary: at most one anomaly episode in the second week.
	if rises > 1 {
		t.Errorf("%d anomaly episodes in a stationary week", rises)
	}
	// A sample is scored against its own slot: a burst by day and silence
	// by day are both out; a normal second is not.
	day := at.Add(12 * time.Hour)
	if sc := b.Score(day, 40); sc.Level != 3 {
		t.Errorf("40 events in a second at 2/s: level %d (z %.2f)", sc.Level, sc.Z)
	}
	if sc := b.Score(day, 2); abs(sc.Level) >= 2 {
		t.Errorf("a normal second: level %d (z %.2f)", sc.Level, sc.Z)
	}
	// The state stays small: meta plus 32 pages of 64 slots.
	meta, pages := b.Encode(false)
	size := len(meta)
	for _, p := range pages {
		size += len(p)
	}
	if size > 2016*slotBytes+32*maskBytes+2048 {
		t.Errorf("encoded 1 s baseline: %d bytes", size)
	}
	// One interval dirties one page.
	b.Observe(at, 1)
	meta, pages = b.Encode(true)
	if len(pages) != 1 || len(meta)+len(pages[b.SlotOf(at)/pageSlots]) > 960+maskBytes+pageSlots*slotBytes {
		t.Errorf("one 1 s interval wrote %d pages, %d bytes of meta", len(pages), len(meta))
	}
}

// TestDecodeOldPages: a baseline stored in pages of 16 slots, as before
// pages of 64, is read whole, and written again whole in pages of 64,
// which read back the same.
func TestDecodeOldPages(t *testing.T) {
	cfg := Config{Location: time.UTC}
	b := New(cfg)
	at := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 3000 {
		b.Observe(at.Add(time.Duration(i)*5*time.Minute), float64(i%40))
	}
	meta, _ := b.Encode(false)
	pages := flatPages(b)
	// The same baseline as written before: 16 flat slots to a page.
	old := b.encodeMeta(5)
	binary.LittleEndian.PutUint16(old[15:], oldPageSlots)
	oldPages := map[int]string{}
	for p, data := range pages {
		for k := 0; k*oldPageSlots*slotBytes < len(data); k++ {
			part := data[k*oldPageSlots*slotBytes : min((k+1)*oldPageSlots*slotBytes, len(data))]
			if strings.Trim(part, "\x00") != "" {
				oldPages[p*pageSlots/oldPageSlots+k] = part
			}
		}
	}
	c, err := Decode(cfg, old, oldPages)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := fmt.Sprint(c.Week()), fmt.Sprint(b.Week()); got != want {
		t.Fatal("the week read from pages of 16 slots differs")
	}
	_, again := c.Encode(true)
	if len(again) != b.Pages() {
		t.Fatalf("%d pages written again, want all %d", len(again), b.Pages())
	}
	d, err := Decode(cfg, meta, again)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := fmt.Sprint(d.Week()), fmt.Sprint(b.Week()); got != want {
		t.Fatal("the week written again in pages of 64 slots differs")
	}
	// A page beyond the last page of 16 slots is damage.
	oldPages[(b.Slots()+oldPageSlots-1)/oldPageSlots] = strings.Repeat("\x00", oldPageSlots*slotBytes)
	if _, err := Decode(cfg, old, oldPages); err == nil {
		t.Fatal("a page out of range was read")
	}
}

// flatPages returns b's used pages as versions before 7 wrote them: 12
// bytes (float32 n, m, q) per slot.
func flatPages(b *Baseline) map[int]string {
	_, pages := b.Encode(false)
	flat := map[int]string{}
	for p := range pages {
		lo, hi := b.pageRange(p)
		var buf []byte
		for i := lo; i < hi; i++ {
			s := b.slot(i)
			for _, v := range []float32{s.N, s.M, s.Q} {
				buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
			}
		}
		flat[p] = string(buf)
	}
	return flat
}

// TestDecodeOlderVersions: a baseline stored in an older format (version
// 2, before the slow run statistic; 3, before the range of values; 4,
// before anomaly episodes; 5, before the alarm memory per source; 6,
// before compact pages) is read, not discarded: its slots, whole-series
// state and evidence records are taken over, the slow evidence of version
// 2 starts from a Gaussian record, and it is written back in the current
// format, every page of it.
func TestDecodeOlderVersions(t *testing.T) {
	for _, ver := range []byte{2, 3, 4, 5, 6} {
		t.Run(fmt.Sprintf("version%d", ver), func(t *testing.T) {
			cfg := utcConfig()
			b, at := train(t, cfg, newSynth(23, 20, 2), monday, 2)
			pages := flatPages(b)
			old := b.encodeMeta(ver)
			c, err := Decode(cfg, old, pages)
			if err != nil {
				t.Fatalf("Decode of a version %d baseline: %v", ver, err)
			}
			if wb, wc := b.Week(), c.Week(); len(wb) != len(wc) || wb[100] != wc[100] || wb[1500] != wc[1500] {
				t.Errorf("learned week changed: %+v -> %+v", wb[100], wc[100])
			}
			kept := nTails
			if ver == 2 {
				kept = nTailsV2
			}
			for i := 0; i < kept; i++ {
				if b.g.Tails[i] != c.g.Tails[i] {
					t.Errorf("record %d changed: %+v -> %+v", i, b.g.Tails[i], c.g.Tails[i])
				}
			}
			// The range of values, which these versions did not keep, is
			// taken from the slots: it holds every slot's mean.
			if ver >= 4 && (c.g.Min != b.g.Min || c.g.Max != b.g.Max) {
				t.Errorf("range [%.2f, %.2f], learned [%.2f, %.2f]", c.g.Min, c.g.Max, b.g.Min, b.g.Max)
			}
			if c.g.Min > b.g.Min+1 || c.g.Max < b.g.Max-1 || c.g.Min >= c.g.Max {
				t.Errorf("range from the slots [%.2f, %.2f], learned [%.2f, %.2f]", c.g.Min, c.g.Max, b.g.Min, b.g.Max)
			}
			for i := 0; i < 50; i++ {
				tt := at.Add(time.Duration(i) * 5 * time.Minute)
				x, y := b.Score(tt, 25), c.Score(tt, 25)
				if x.Av != y.Av || x.Dev != y.Dev || x.Z != y.Z {
					t.Fatalf("version %d baseline scores %+v, original %+v", ver, y, x)
				}
				b.Observe(tt, float64(15+i%10))
				c.Observe(tt, float64(15+i%10))
			}
			// Some of those samples were anomalies: a spike after the
			// episode is over.
			if sc := c.Score(at.Add(7*time.Hour), 500); sc.Level != 3 {
				t.Errorf("version %d baseline: 500 on counts of 20 is level %d", ver, sc.Level)
			}
			// Its flat pages are encoded again: the next interval writes
			// every one of them, compact.
			d, err := Decode(cfg, old, pages)
			if err != nil {
				t.Fatal(err)
			}
			meta, again := d.Encode(true)
			if meta[4] != formatVersion {
				t.Errorf("re-encoded as version %d", meta[4])
			}
			if len(again) != d.Pages() {
				t.Errorf("%d pages written again, want all %d", len(again), d.Pages())
			}
			e, err := Decode(cfg, meta, again)
			if err != nil {
				t.Fatal(err)
			}
			for i := range b.nslots {
				if d.slot(i) != e.slot(i) {
					t.Fatalf("slot %d written again as %+v, read %+v", i, e.slot(i), d.slot(i))
				}
			}
		})
	}
}

// TestCompactPages: a page keeps only the values that differ from the
// slot before, so a series that never sees a line learns its week in a
// few bytes a page; every slot reads back as it was, whatever its values
// (zeros, negative zero, repeats), and a page that is not a valid one of
// its slots is refused with the page named.
func TestCompactPages(t *testing.T) {
	cfg := utcConfig()
	quiet, _ := train(t, cfg, newSynth(5, 0, 0), monday, 2)
	_, pages := quiet.Encode(false)
	if len(pages) != quiet.Pages() {
		t.Fatalf("%d pages of %d learned", len(pages), quiet.Pages())
	}
	for p, data := range pages {
		if len(data) > maskBytes+3*4*4 {
			t.Errorf("page %d of a series of zeros: %d bytes", p, len(data))
		}
	}

	slots := make([]slot, pageSlots)
	for k := range slots {
		switch {
		case k%7 == 0:
			slots[k] = slot{N: float32(math.Copysign(0, -1)), M: -1.5, Q: 0}
		case k%3 == 0:
			slots[k] = slots[k-1]
		default:
			slots[k] = slot{N: float32(k), M: float32(k) / 3, Q: float32(k * k)}
		}
	}
	data := encodePage(slots)
	if err := checkPage(data, pageSlots); err != nil {
		t.Fatal(err)
	}
	for k, want := range slots {
		got := pageSlot(data, k)
		if math.Float32bits(got.N) != math.Float32bits(want.N) || got.M != want.M || got.Q != want.Q {
			t.Fatalf("slot %d read back as %+v, want %+v", k, got, want)
		}
	}
	if pageSlot(encodePage(make([]slot, pageSlots)), 63) != (slot{}) || len(encodePage(make([]slot, pageSlots))) != maskBytes {
		t.Fatal("a page of empty slots is not the masks alone")
	}

	nan := math.Float32bits(float32(math.NaN()))
	neg := math.Float32bits(-1)
	last := func(s string, v uint32) string {
		return s[:len(s)-4] + string(binary.LittleEndian.AppendUint32(nil, v))
	}
	short := encodePage(slots[:10])
	for _, tc := range []struct {
		name string
		data string
		n    int
	}{
		{"truncated masks", data[:maskBytes-1], pageSlots},
		{"truncated values", data[:len(data)-1], pageSlots},
		{"trailing bytes", data + "\x00", pageSlots},
		{"a slot beyond the page", data, 10},
		{"q not finite", last(data, nan), pageSlots},
		{"q negative", last(data, neg), pageSlots},
		{"n negative", data[:maskBytes] + string(binary.LittleEndian.AppendUint32(nil, neg)) + data[maskBytes+4:], pageSlots},
		{"a short page's mask", short[:16] + string(binary.LittleEndian.AppendUint64(nil, 1<<10)) + short[maskBytes:], 10},
	} {
		if err := checkPage(tc.data, tc.n); err == nil {
			t.Errorf("%s: accepted", tc.name)
		}
	}
	// Decode names the page.
	meta, pages := quiet.Encode(false)
	pages[3] = pages[3][:maskBytes-1]
	if _, err := Decode(cfg, meta, pages); err == nil || !strings.Contains(err.Error(), "page 3") {
		t.Errorf("Decode of a damaged page: %v", err)
	}
}

// TestWeekSVGFloor: the band of a measurement never below 0 (a quiet
// count: av 0.2 ± 1) stops at 0, with no negative tick on the value axis;
// a series with negative values keeps its band and axis below 0.
func TestWeekSVGFloor(t *testing.T) {
	tick := regexp.MustCompile(`dominant-baseline="middle">([^<]*)</text>`)
	for _, c := range []struct {
		name     string
		av       float64
		negative bool
	}{
		{"count", 0.2, false},
		{"gauge below 0", -0.5, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			wk := make([]SlotStat, 2016)
			for i := range wk {
				wk[i] = SlotStat{Slot: i, Weekday: time.Weekday((i/288 + 1) % 7), Time: "00:00", Av: c.av, Dev: 1, N: 5}
			}
			recent := []Sample{{T: monday, V: 0}, {T: monday.Add(5 * time.Minute), V: 3}}
			var svg bytes.Buffer
			if err := WriteWeekSVG(&svg, c.name, wk, recent); err != nil {
				t.Fatal(err)
			}
			var below []string
			for _, m := range tick.FindAllStringSubmatch(svg.String(), -1) {
				if strings.HasPrefix(m[1], "-") {
					below = append(below, m[1])
				}
			}
			if got := len(below) > 0; got != c.negative {
				t.Errorf("ticks below 0: %v, want some: %v", below, c.negative)
			}
		})
	}
}
