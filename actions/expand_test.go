package actions

import (
	"math"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"
)

func TestFormatNumber(t *testing.T) {
	cases := []struct {
		v    float64
		want string
	}{
		{42, "42"},
		{0, "0"},
		{math.Copysign(0, -1), "0"},
		{-17, "-17"},
		{2.5, "2.5"},
		{1.0 / 3, "0.3333333333"},
		{0.1 + 0.2, "0.3"},
		{-2.75, "-2.75"},
		{123456789.123456, "123456789.1"},
		{1e20, "100000000000000000000"},
		{1e21, "1e+21"},
		{1 << 53, "9007199254740992"},
		{1.5e-7, "0"}, // zero up to rounding (num.Epsilon)
		{math.NaN(), "NaN"},
		{math.Inf(1), "+Inf"},
		{math.Inf(-1), "-Inf"},
	}
	for _, tc := range cases {
		if got := formatNumber(tc.v); got != tc.want {
			t.Errorf("formatNumber(%v) = %q, want %q", tc.v, got, tc.want)
		}
	}
}

func newExpander(t testing.TB, in *Interval) *expander {
	t.Helper()
	e, err := New(loadRules(t, measurementKey+`
  - handle: other
    path: /var/log/o.log
    select_line_matching: '.*'
`), Options{})
	if err != nil {
		t.Fatal(err)
	}
	return &expander{e: e, in: in, classes: "a b"}
}

func TestExpand(t *testing.T) {
	in := &Interval{End: time.Now(), Vars: map[string]float64{"value_h": 5, "z_h": -1.25},
		Keys: map[string]string{"top_h": "$(value_h)", "top_empty": ""}}
	x := newExpander(t, in)
	cases := []struct {
		in, want string
		tainted  bool
	}{
		{"plain", "plain", false},
		{"$(value_h)", "5", false},
		{"a$(value_h)b$(z_h)c", "a5b-1.25c", false},
		{"$$(value_h)", "$5", false},
		{"$(classes)", "a b", false},
		{"$(top_h)", "$(value_h)", true}, // inserted text is not expanded again
		{"$(top_empty)", "", false},
		{"$(value_other)|$(top_other)", "|", false}, // a measurement without a value
		{"$(nope)", "$(nope)", false},
		{"$(", "$(", false},
		{"$()", "$()", false},
		{"$(a b)", "$(a b)", false},
		{"$(value_h", "$(value_h", false},
		{"$($(value_h))", "$(5)", false},
		{"${value_h} $value_h", "${value_h} $value_h", false},
	}
	for _, tc := range cases {
		got, tainted := x.expand(tc.in, nil)
		if got != tc.want || tainted != tc.tainted {
			t.Errorf("expand(%q) = %q, %v; want %q, %v", tc.in, got, tainted, tc.want, tc.tainted)
		}
	}
}

// TestReportNumbers: a report shows numbers as a person reads them, a
// command gets them to 10 significant digits; both write what is zero up to
// rounding as 0.
func TestReportNumbers(t *testing.T) {
	in := &Interval{End: time.Now(), Vars: map[string]float64{"value_h": 63245916, "av_h": 4.124128003, "dev_h": 2.371114802, "z_h": 8.8e-10}}
	x := newExpander(t, in)
	const tmpl = "$(value_h) (normal $(av_h) ± $(dev_h)), z $(z_h)"
	if got := x.report(tmpl); got != "63245916 (normal 4.1 ± 2.4), z 0" {
		t.Errorf("report %q", got)
	}
	if got, _ := x.expand(tmpl, nil); got != "63245916 (normal 4.124128003 ± 2.371114802), z 0" {
		t.Errorf("command argument %q", got)
	}

	// A notice's own text is read by people too (an alarm on the terminal,
	// in syslog, in the notice log).
	if got, want := x.e.noticeText("h_high_anomaly", "warning", "192.0.2.1", in), "h_high_anomaly (warning): h 63245916 (normal 4.1 ± 2.4), from 192.0.2.1"; got != want {
		t.Errorf("notice text %q, want %q", got, want)
	}
}

// A report copied from the cfenvd or CFEngine 3 manuals uses their names
// for the same variables.
func TestExpandCFEngineNames(t *testing.T) {
	end := time.Date(2026, 3, 9, 14, 5, 0, 0, time.Local)
	in := &Interval{End: end, Vars: map[string]float64{"value_h": 7, "av_h": 2.5, "dev_h": 1.25},
		Keys: map[string]string{"top_h": "192.0.2.1"}}
	x := newExpander(t, in)
	host := x.e.set.Settings.Host
	if host == "" {
		t.Fatal("the rule set has no host name")
	}
	cases := []struct{ in, want string }{
		{"$(mon.value_h)", "7"},
		{"$(mon.av_h) $(mon.dev_h)", "2.5 1.25"},
		{"$(average_h) $(stddev_h)", "2.5 1.25"},
		{"$(mon.average_h)", "2.5"},
		{"$(mon.top_h)", "192.0.2.1"},
		{"$(host)", host},
		{"$(sys.host)", host},
		{"$(env_time)", "Mon Mar  9 14:05:00 2026"},
		{"$(mon.env_time)", "Mon Mar  9 14:05:00 2026"},
		{"$(mon.nope) $(sys.nope)", "$(mon.nope) $(sys.nope)"}, // unknown: left as written
		{"$(mon.value_other)", ""},                             // known, no value this interval
	}
	for _, tc := range cases {
		if got, _ := x.expand(tc.in, nil); got != tc.want {
			t.Errorf("expand(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestOneLine(t *testing.T) {
	cases := []struct{ in, want string }{
		{"plain text, ünïcode ✓", "plain text, ünïcode ✓"},
		{"a\nb\r\tc", `a\nb\r\tc`},
		{"\x1b[31mred\x00", `\x1b[31mred\x00`},
		{"\x7f", `\x7f`},
		{"bad \xff\xfe utf8", `bad \xff\xfe utf8`},
		{"line\u2028sep\u2029", `line\u2028sep\u2029`},
		{"\u202eevil\u200b", `\u202eevil\u200b`},
		{"\u0085next", `\u0085next`},
		{`back\slash`, `back\slash`},
	}
	for _, tc := range cases {
		if got := oneLine(tc.in); got != tc.want {
			t.Errorf("oneLine(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestCut(t *testing.T) {
	cases := []struct {
		in   string
		max  int
		want string
	}{
		{"short", 10, "short"},
		{"abcdef", 3, "abc…[3 more bytes]"},
		{"aé", 2, "a…[2 more bytes]"}, // never half a character
	}
	for _, tc := range cases {
		if got := cut(tc.in, tc.max); got != tc.want {
			t.Errorf("cut(%q, %d) = %q, want %q", tc.in, tc.max, got, tc.want)
		}
	}
}

// checkOneLine fails if s could break a line or is not valid UTF-8.
func checkOneLine(t *testing.T, s string) {
	t.Helper()
	if !utf8.ValidString(s) {
		t.Fatalf("invalid UTF-8: %q", s)
	}
	for _, r := range s {
		if !unicode.IsGraphic(r) {
			t.Fatalf("%U left in %q", r, s)
		}
	}
}

func FuzzOneLine(f *testing.F) {
	for _, s := range []string{"", "a\nb", "\xff", "\u2028", "\x1b[0m", hostileKey} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := oneLine(s)
		checkOneLine(t, out)
		if oneLine(out) != out {
			t.Fatalf("not idempotent: %q", out)
		}
	})
}

func FuzzExpand(f *testing.F) {
	for _, s := range [][2]string{{"$(top_h)", "$(value_h)"}, {"x $(value_h) $(", "`id`"}, {"$($(top_h))", "\n"}, {"msg $(top_h)", hostileKey}} {
		f.Add(s[0], s[1])
	}
	x := newExpander(f, nil)
	f.Fuzz(func(t *testing.T, tmpl, key string) {
		x.in = &Interval{End: time.Now(), Vars: map[string]float64{"value_h": 1}, Keys: map[string]string{"top_h": key}}
		out, tainted := x.expand(tmpl, nil)
		if !strings.Contains(tmpl, "$(") && out != tmpl {
			t.Fatalf("expand(%q) = %q", tmpl, out)
		}
		if tainted != (key != "" && strings.Contains(tmpl, "$(top_h)")) {
			t.Fatalf("expand(%q) tainted = %v", tmpl, tainted)
		}
		if got, _ := x.expand("<$(top_h)>", nil); got != "<"+key+">" {
			t.Fatalf("key %q expanded to %q", key, got)
		}
		rep := x.report(tmpl)
		checkOneLine(t, rep)
		if len(rep) > MaxReportLen+32 {
			t.Fatalf("report of %d bytes", len(rep))
		}
	})
}
