package num_test

import (
	"math"
	"strconv"
	"strings"
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

func TestExact(t *testing.T) {
	for _, tc := range []struct {
		v    float64
		want string
	}{
		{6.3245916e+07, "63245916"},
		{1e6, "1000000"},
		{-1234567.5, "-1234567.5"},
		{4.124128003, "4.124128003"},
		{0.30000000000000004, "0.30000000000000004"}, // exact: rounding is Round's
		{1.5e-5, "0.000015"},
		{1e-6, "0.000001"},
		{9.9e-7, "9.9e-07"},
		{1e20, "100000000000000000000"},
		{123456789012345678901, "123456789012345680000"},
		{1e21, "1e+21"},
		{-2.5e300, "-2.5e+300"},
		{0, "0"},
		{math.Copysign(0, -1), "0"},
		{math.NaN(), "NaN"},
		{math.Inf(1), "+Inf"},
		{math.Inf(-1), "-Inf"},
	} {
		if got := num.Exact(tc.v); got != tc.want {
			t.Errorf("Exact(%v) = %q, want %q", tc.v, got, tc.want)
		}
	}
}

// FuzzExact: whatever the float, Exact writes it so that it reads back as
// the same float, with an exponent only outside [Epsilon, PlainMax).
func FuzzExact(f *testing.F) {
	for _, v := range []float64{0, 1, 6.3245916e+07, 1.5e-5, 9.9e-7, 1e21, 1e21 - 65536, -1e-300, math.MaxFloat64, math.SmallestNonzeroFloat64} {
		f.Add(math.Float64bits(v))
	}
	f.Fuzz(func(t *testing.T, bits uint64) {
		v := math.Float64frombits(bits)
		s := num.Exact(v)
		if math.IsNaN(v) {
			if s != "NaN" {
				t.Fatalf("Exact(NaN) = %q", s)
			}
			return
		}
		back, err := strconv.ParseFloat(s, 64)
		if err != nil || back != v {
			t.Fatalf("Exact(%v) = %q reads back as %v (%v)", v, s, back, err)
		}
		a := math.Abs(v)
		if exp := strings.ContainsAny(s, "eE"); exp != (a != 0 && !math.IsInf(v, 0) && (a < num.Epsilon || a >= num.PlainMax)) {
			t.Fatalf("Exact(%v) = %q: exponent form %v", v, s, exp)
		}
	})
}
