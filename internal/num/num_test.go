package num_test

import (
	"math"
	"testing"

	"github.com/logtally/logtally/internal/num"
)

func TestHuman(t *testing.T) {
	for _, tc := range []struct {
		v    float64
		want string
	}{
		{4.124128003, "4.1"},
		{2.371114802, "2.4"},
		{63245916, "63245916"},
		{6.3245916e+07, "63245916"},
		{1234.5678, "1235"},
		{12.34, "12.3"},
		{99.96, "100"},
		{4, "4"},
		{4.0001, "4"},
		{0.52, "0.52"},
		{0.0523, "0.052"},
		{0.0052, "0.005"},
		{0.0004, "0"},
		{8.8e-10, "0"},
		{-8.8e-10, "0"},
		{-3.25, "-3.2"},
		{-0.04, "-0.04"},
		{0, "0"},
		{1e20, "100000000000000000000"},
		{math.NaN(), "NaN"},
		{math.Inf(1), "+Inf"},
		{math.Inf(-1), "-Inf"},
	} {
		if got := num.Human(tc.v); got != tc.want {
			t.Errorf("Human(%v) = %q, want %q", tc.v, got, tc.want)
		}
	}
}

func TestPrecise(t *testing.T) {
	for _, tc := range []struct {
		v      float64
		digits int
		want   string
	}{
		{4.124128003123, 10, "4.124128003"},
		{6.3245916e+07, 10, "63245916"},
		{6.3245916e+07, 6, "63245916"},
		{63245916.7, 6, "63245900"},
		{1 << 53, 6, "9007199254740992"},
		{0.1 + 0.2, 10, "0.3"},
		{8.8e-10, 10, "0"},
		{1.5e-5, 6, "0.000015"},
		{-2.5, 6, "-2.5"},
		{math.NaN(), 6, "NaN"},
	} {
		if got := num.Precise(tc.v, tc.digits); got != tc.want {
			t.Errorf("Precise(%v, %d) = %q, want %q", tc.v, tc.digits, got, tc.want)
		}
	}
}

func TestClean(t *testing.T) {
	for v, want := range map[float64]float64{8.8e-10: 0, -9.9e-7: 0, 1e-6: 1e-6, 4.5: 4.5, 0: 0} {
		if got := num.Clean(v); got != want {
			t.Errorf("Clean(%v) = %v, want %v", v, got, want)
		}
	}
}

func TestPlural(t *testing.T) {
	for _, tc := range []struct {
		n    int
		noun string
		pl   []string
		want string
	}{
		{1, "file", nil, "1 file"},
		{0, "file", nil, "0 files"},
		{2, "class", []string{"classes"}, "2 classes"},
		{1, "class", []string{"classes"}, "1 class"},
	} {
		if got := num.Plural(tc.n, tc.noun, tc.pl...); got != tc.want {
			t.Errorf("Plural(%d, %q) = %q, want %q", tc.n, tc.noun, got, tc.want)
		}
	}
}

func TestRound(t *testing.T) {
	for _, tc := range []struct{ v, want float64 }{
		{0.1 + 0.2, 0.3},
		{8.8e-10, 0},
		{4.124128003123456, 4.124128003},
		{63245916, 63245916},
		{-1e-7, 0},
		{12345678901234, 12345678901234},
	} {
		if got := num.Round(tc.v, num.Digits); got != tc.want {
			t.Errorf("Round(%v) = %v, want %v", tc.v, got, tc.want)
		}
	}
	if got := num.Round(math.Inf(1), num.Digits); !math.IsInf(got, 1) {
		t.Errorf("Round(+Inf) = %v", got)
	}
}
