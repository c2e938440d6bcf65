package web

import (
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func nanValue() float64 { return math.NaN() }

func httptestDo(h http.Handler, method, path string) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	return rec
}

func TestFmtNum(t *testing.T) {
	tests := []struct {
		in   float64
		want string
	}{
		{0, "0"}, {42, "42"}, {6.5, "6.5"}, {3.14159, "3.1"}, {0.184, "0.18"},
		{12.345, "12.3"}, {1234.56, "1235"}, {123456.7, "123457"}, {-0.4, "-0.4"},
		{-0.00001, "0"}, {2.5e10, "25000000000"}, {math.NaN(), "NaN"}, {math.Inf(1), "+Inf"},
		{math.Inf(-1), "-Inf"}, {-0.00004, "0"}, {-0.0, "0"}, {8.8e-10, "0"},
	}
	for _, tt := range tests {
		if got := fmtNum(tt.in); got != tt.want {
			t.Errorf("fmtNum(%v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestFmtDur(t *testing.T) {
	tests := []struct {
		in   time.Duration
		want string
	}{
		{0, "0s"}, {3 * time.Millisecond, "3ms"}, {1520 * time.Millisecond, "1.5s"},
		{5 * time.Second, "5s"}, {42 * time.Second, "42s"}, {5 * time.Minute, "5m"},
		{9*time.Minute + 30*time.Second, "9m 30s"}, {2 * time.Hour, "2h"},
		{3*time.Hour + 12*time.Minute + 5*time.Second, "3h 12m"},
		{76*time.Hour + 12*time.Minute, "3d 4h"}, {-90 * time.Second, "-1m 30s"},
	}
	for _, tt := range tests {
		if got := fmtDur(tt.in); got != tt.want {
			t.Errorf("fmtDur(%v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestFmtCountBytes(t *testing.T) {
	counts := []struct {
		in   uint64
		want string
	}{
		{0, "0"}, {913, "913"}, {8841, "8841"}, {18234, "18\u202f234"}, {1204331, "1\u202f204\u202f331"},
	}
	for _, tt := range counts {
		if got := fmtCount(tt.in); got != tt.want {
			t.Errorf("fmtCount(%d) = %q, want %q", tt.in, got, tt.want)
		}
	}
	sizes := []struct {
		in   uint64
		want string
	}{
		{0, "0 B"}, {1023, "1023 B"}, {1024, "1.0 KiB"}, {151022313, "144.0 MiB"}, {1 << 62, "4.0 EiB"},
	}
	for _, tt := range sizes {
		if got := fmtBytes(tt.in); got != tt.want {
			t.Errorf("fmtBytes(%d) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestClean(t *testing.T) {
	tests := []struct {
		in    string
		max   int
		block bool
		want  string
	}{
		{"plain", 100, false, "plain"},
		{"a\nb\tc", 100, false, "a\u240ab\u2409c"},
		{"a\nb\tc", 100, true, "a\nb\tc"},
		{"\x1b[31m\x00\x7f", 100, false, "\u241b[31m\u2400\u2421"},
		{"bad\xff", 100, false, "bad\ufffd"},
		{"c1\u0085x", 100, true, "c1\ufffdx"},
		{"user\u202etxt.exe\u2066", 100, false, "user\ufffdtxt.exe\ufffd"},
		{"abcdef", 3, false, "abc…"},
		{"ééé", 3, false, "é…"},
		{"<b>&amp;</b>", 100, false, "<b>&amp;</b>"}, // escaping is the template's
	}
	for _, tt := range tests {
		if got := cleanText(tt.in, tt.max, tt.block); got != tt.want {
			t.Errorf("cleanText(%q, %d, %v) = %q, want %q", tt.in, tt.max, tt.block, got, tt.want)
		}
	}
}

func TestBreakable(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"", []string{""}},
		{"abc", []string{"abc"}},
		{"ssh_username_probe_high", []string{"ssh_", "username_", "probe_", "high"}},
		{"/var/log/auth.log", []string{"/", "var/", "log/", "auth.", "log"}},
		{"trailing_", []string{"trailing_"}},
	}
	for _, tt := range tests {
		got := breakable(tt.in)
		if strings.Join(got, "|") != strings.Join(tt.want, "|") {
			t.Errorf("breakable(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestArgvString(t *testing.T) {
	tests := []struct {
		in   []string
		want string
	}{
		{[]string{"systemctl", "restart", "opendkim"}, "systemctl restart opendkim"},
		{[]string{"nft", "{ 203.0.113.7 }"}, `nft "{ 203.0.113.7 }"`},
		{[]string{"sh", "-c", "echo $(id); ls"}, `sh -c "echo $(id); ls"`},
		{[]string{"x", ""}, `x ""`},
		{[]string{"bad\xff"}, `"bad\xff"`},
	}
	for _, tt := range tests {
		if got := argvString(tt.in); got != tt.want {
			t.Errorf("argvString(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestClassLevel(t *testing.T) {
	tests := []struct{ in, want string }{
		{"ssh_high_anomaly", "anomaly"}, {"ssh_high_microanomaly", "dev1"}, {"ssh_high_dev2", "dev2"},
		{"ssh_low_dev1", "dev1"}, {"ssh_normal", "ok"}, {"ssh_learning", "muted"}, {"ssh_high", ""},
		{"probe_storm", ""},
	}
	for _, tt := range tests {
		if got := classLevel(tt.in); got != tt.want {
			t.Errorf("classLevel(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestLocalHost(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"127.0.0.1:9321", true}, {"127.0.0.1", true}, {"[::1]:9321", true}, {"::1", true},
		{"localhost:9321", true}, {"LOCALHOST.", true}, {"mx1.localhost:80", true},
		{"10.1.2.3:9321", true},
		{"attacker.example:9321", false}, {"localhost.attacker.example", false}, {"", false},
	}
	for _, tt := range tests {
		if got := localHost(tt.in); got != tt.want {
			t.Errorf("localHost(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}
