package match

import (
	"math"
	"testing"
)

func TestParseNumber(t *testing.T) {
	tests := []struct {
		in   string
		want float64
		ok   bool
	}{
		{"42", 42, true},
		{"  42", 42, true},
		{"-7", -7, true},
		{"+7", 7, true},
		{"3.25", 3.25, true},
		{".5", 0.5, true},
		{"5.", 5, true},
		{"1e3", 1000, true},
		{"1E-2", 0.01, true},
		{"2e", 2, true}, // a bare e is not an exponent
		{"10k", 10000, true},
		{"10K", 10240, true},
		{"3m", 3e6, true},
		{"3M", 3 << 20, true},
		{"2g", 2e9, true},
		{"2G", 2 << 30, true},
		{"1.5K", 1536, true},
		{"12ms", 12, true},     // suffix followed by a letter is a word, not a multiplier
		{"12 bytes", 12, true}, // trailing text ignored
		{"12k/s", 12000, true}, // suffix followed by punctuation counts
		{"512 ", 512, true},
		{"", 0, false},
		{"abc", 0, false},
		{"-", 0, false},
		{".", 0, false},
		{"k", 0, false},
		{"1e999", 0, false}, // not finite
		{"99999999999999999999", 1e20, true},
	}
	for _, tt := range tests {
		got, ok := ParseNumber([]byte(tt.in))
		if ok != tt.ok || (ok && math.Abs(got-tt.want) > 1e-9*math.Max(1, math.Abs(tt.want))) {
			t.Errorf("ParseNumber(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func FuzzParseNumber(f *testing.F) {
	for _, s := range []string{"1", "1.5k", "-3e4M", "  +.5G", "x", "1e309", "0x10"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, ok := ParseNumber([]byte(s))
		if ok && (math.IsNaN(v) || math.IsInf(v, 0)) {
			t.Fatalf("ParseNumber(%q) = %v, true: not finite", s, v)
		}
	})
}
