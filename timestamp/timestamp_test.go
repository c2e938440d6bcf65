package timestamp

import (
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	ref := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	jan := time.Date(2027, 1, 3, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		layout string
		line   string
		ref    time.Time
		want   time.Time
		ok     bool
	}{
		{"syslog", "", "Nov 22 06:55:46 host sshd[1]: x", ref, time.Date(2026, 11, 22, 6, 55, 46, 0, time.UTC), true},
		{"syslog padded day", "", "Nov  2 06:55:46 host x", ref, time.Date(2026, 11, 2, 6, 55, 46, 0, time.UTC), true},
		{"syslog zero day", "", "Jun 09 07:30:58 host x", ref, time.Date(2026, 6, 9, 7, 30, 58, 0, time.UTC), true},
		{"syslog with pri", "", "<34>Nov 22 06:55:46 host x", ref, time.Date(2026, 11, 22, 6, 55, 46, 0, time.UTC), true},
		{"syslog future is last year", "", "Dec 10 06:55:46 host x", ref, time.Date(2025, 12, 10, 6, 55, 46, 0, time.UTC), true},
		{"syslog december read in january", "", "Dec 31 23:59:59 host x", jan, time.Date(2026, 12, 31, 23, 59, 59, 0, time.UTC), true},
		{"syslog january read in january", "", "Jan  2 00:00:01 host x", jan, time.Date(2027, 1, 2, 0, 0, 1, 0, time.UTC), true},
		{"syslog tomorrow is this year", "", "Nov 24 10:00:00 host x", ref, time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC), true},
		{"syslog feb 30", "", "Feb 30 10:00:00 host x", ref, time.Time{}, false},
		{"syslog leap second", "", "Nov 22 23:59:60 host x", ref, time.Date(2026, 11, 22, 23, 59, 59, 0, time.UTC), true},
		{"rfc3339 z", "", "2024-01-02T15:04:05Z x", ref, time.Date(2024, 1, 2, 15, 4, 5, 0, time.UTC), true},
		{"rfc3339 frac offset", "", "2024-01-02T15:04:05.250+01:00 x", ref, time.Date(2024, 1, 2, 14, 4, 5, 250e6, time.UTC), true},
		{"short-iso", "", "2024-01-02T15:04:05+0100 host sshd[1]: x", ref, time.Date(2024, 1, 2, 14, 4, 5, 0, time.UTC), true},
		{"space no zone", "", "2024-01-02 15:04:05 x", ref, time.Date(2024, 1, 2, 15, 4, 5, 0, time.UTC), true},
		{"comma fraction", "", "2024-01-02 15:04:05,123 INFO", ref, time.Date(2024, 1, 2, 15, 4, 5, 123e6, time.UTC), true},
		{"rfc5424", "", "<34>1 2003-10-11T22:14:15.003Z mymachine su - ID47 - x", ref, time.Date(2003, 10, 11, 22, 14, 15, 3e6, time.UTC), true},
		{"ctime xferlog", "", "Mon Feb 21 15:21:32 2011 1 198.51.100.36 528 /x b _ i a a@ ftp 0 * c", ref, time.Date(2011, 2, 21, 15, 21, 32, 0, time.UTC), true},
		{"ctime bracketed", "", "[Mon Feb 21 15:21:32 2011] [error] x", ref, time.Date(2011, 2, 21, 15, 21, 32, 0, time.UTC), true},
		{"bad month", "", "2024-13-02T15:04:05Z", ref, time.Time{}, false},
		{"no timestamp", "", "sshd[1]: Invalid user x", ref, time.Time{}, false},
		{"empty", "", "", ref, time.Time{}, false},
		{"short", "", "Nov 22", ref, time.Time{}, false},
		{"layout", "02/01/2006 15:04:05", "23/11/2026 10:00:00 msg", ref, time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC), true},
		{"layout bracketed", "2006/01/02 15:04", "[2026/11/23 10:07] msg", ref, time.Date(2026, 11, 23, 10, 7, 0, 0, time.UTC), true},
		{"layout yearless", "Jan _2 15:04", "Dec  9 10:07 msg", ref, time.Date(2025, 12, 9, 10, 7, 0, 0, time.UTC), true},
		{"layout no match", "2006/01/02 15:04", "no time here", ref, time.Time{}, false},
		{"layout zone given", "2006-01-02 15:04:05", "2026-07-01 12:00:00 x", ref, time.Date(2026, 7, 1, 10, 0, 0, 0, time.UTC), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			loc := time.UTC
			if tt.name == "layout zone given" {
				loc = berlin
			}
			p, err := New(tt.layout, loc)
			if err != nil {
				t.Fatal(err)
			}
			got, ok := p.Parse([]byte(tt.line), tt.ref)
			if ok != tt.ok || (ok && !got.Equal(tt.want)) {
				t.Errorf("Parse(%q) = %v, %v; want %v, %v", tt.line, got, ok, tt.want, tt.ok)
			}
		})
	}
}

// TestRecognise: each line's format is named, whatever else it holds.
func TestRecognise(t *testing.T) {
	ref := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	builtIn, _ := New("", time.UTC)
	custom, _ := New("02/01/2006 15:04:05", time.UTC)
	for _, tc := range []struct {
		p    *Parser
		line string
		want Format
	}{
		{builtIn, "Nov 22 06:55:46 host sshd[1]: x", Syslog},
		{builtIn, "<34>Nov 22 06:55:46 host x", Syslog},
		{builtIn, "2024-01-02T15:04:05+0100 host sshd[1]: x", RFC3339},
		{builtIn, "2024-01-02 15:04:05,123 INFO", RFC3339},
		{builtIn, "<34>1 2003-10-11T22:14:15.003Z mymachine su - ID47 - x", RFC5424},
		{builtIn, "Mon Feb 21 15:21:32 2011 1 198.51.100.36 528 /x b _ i a a@ ftp 0 * c", Ctime},
		{builtIn, "[Mon Feb 21 15:21:32 2011] [error] x", Ctime},
		{builtIn, "sshd[1]: Invalid user x", None},
		{builtIn, "2024-13-02T15:04:05Z", None},
		{custom, "23/11/2026 10:00:00 msg", Layout},
		{custom, "Nov 22 06:55:46 host x", None},
	} {
		tm, f := tc.p.Recognise([]byte(tc.line), ref)
		if f != tc.want {
			t.Errorf("Recognise(%q) = %v, want %v", tc.line, f, tc.want)
		}
		if pt, ok := tc.p.Parse([]byte(tc.line), ref); ok != (f != None) || !pt.Equal(tm) {
			t.Errorf("Parse(%q) = %v %v, Recognise %v %v", tc.line, pt, ok, tm, f)
		}
	}
}

func TestBadLayout(t *testing.T) {
	if _, err := New("2006-13-45 99", nil); err == nil {
		t.Fatal("New accepted a layout that cannot parse its own output")
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"Jan  2 15:04:05 x", "<13>1 2024-01-02T03:04:05.6+01:00", "Mon Jan  2 15:04:05 2006", "2024-01-02 15:04:05,1"} {
		f.Add(s)
	}
	p, _ := New("", time.UTC)
	ref := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := p.Parse([]byte(s), ref)
		if ok && (got.Year() < 1969 || got.Year() > 9999) {
			t.Fatalf("Parse(%q) = %v: year out of range", s, got)
		}
	})
}

// TestTally: a Tally counts what Recognise says of each line, whether or
// not the line repeats the last syslog timestamp.
func TestTally(t *testing.T) {
	ref := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	p, _ := New("", time.UTC)
	lines := []string{
		"Nov 22 06:55:46 host sshd[1]: a",
		"Nov 22 06:55:46 host sshd[2]: b", // same second
		"Nov 22 06:55:46",                 // the timestamp alone
		"Feb 30 06:55:46 host x",          // invalid date
		"Feb 30 06:55:46 host y",          // again, after an invalid one
		"2024-01-02T15:04:05Z x",          // RFC 3339
		"Nov 22 06:55:4",                  // too short
		"<34>Nov 22 06:55:46 host x",      // syslog with PRI
		"<34>Nov 22 06:55:46 host y",
		"Nov 22 06:55:47 host sshd[3]: c",
	}
	tally := p.NewTally(ref)
	want := map[Format]uint64{}
	for _, l := range lines {
		tally.Add([]byte(l))
		_, f := p.Recognise([]byte(l), ref)
		want[f]++
	}
	got := tally.Counts()
	if len(got) != len(want) {
		t.Fatalf("counts %v, want %v", got, want)
	}
	for f, n := range want {
		if got[f] != n {
			t.Errorf("counts %v, want %v", got, want)
		}
	}
	twice := p.NewTally(ref)
	twice.Merge(tally)
	twice.Merge(tally)
	if c := twice.Counts(); c[Syslog] != 2*want[Syslog] || c[None] != 2*want[None] {
		t.Errorf("merged twice: %v, want twice %v", c, want)
	}
}

func BenchmarkRecogniseSyslog(b *testing.B) {
	p, _ := New("", nil)
	line := []byte("Dec 10 06:55:46 LabSZ sshd[24200]: Invalid user webmaster from 173.234.31.186")
	ref := time.Now()
	for b.Loop() {
		p.Recognise(line, ref)
	}
}
