// Package num writes the numbers of samples and baselines the same way in
// every output: for people (reports, status, the status page, test,
// backtest's summary), with the precision a person reads, and for
// programs (line protocol, /metrics, JSON, CSV, command arguments), with
// the floating-point residue of sums and decays removed. In both, a value
// that is zero up to rounding is 0, never 8.8e-10.
package num

import (
	"math"
	"strconv"
	"strings"
)

// Epsilon is the magnitude below which a value is zero up to rounding: a
// baseline that forgets an old count exponentially reaches 8.8e-10 after
// thirty halvings, which is no count at all. A measurement whose values
// are that small should change its unit.
const Epsilon = 1e-6

// Clean returns v, or 0 when its magnitude is below Epsilon.
func Clean(v float64) float64 {
	if math.Abs(v) < Epsilon {
		return 0
	}
	return v
}

// special writes NaN and the infinities; ok is false for other values.
func special(v float64) (string, bool) {
	switch {
	case math.IsNaN(v):
		return "NaN", true
	case math.IsInf(v, 1):
		return "+Inf", true
	case math.IsInf(v, -1):
		return "-Inf", true
	}
	return "", false
}

// Human writes v as a person reads it, never in exponent notation: a whole
// number in full (63245916); from 1 on, one decimal (4.1, 12.3; none from
// 100 on: 1235); below 1, two significant digits and at most three decimals
// (0.52, 0.052, 0.005), so that what rounds to zero is 0. Trailing zeros
// are dropped.
func Human(v float64) string {
	if s, ok := special(v); ok {
		return s
	}
	v = Clean(v)
	a := math.Abs(v)
	if v == math.Trunc(v) && a < 1e15 {
		return strconv.FormatInt(int64(v), 10)
	}
	var dec int
	switch {
	case a >= 100:
		dec = 0
	case a >= 1:
		dec = 1
	default:
		dec = min(3, 1-int(math.Floor(math.Log10(a))))
	}
	return trim(strconv.FormatFloat(v, 'f', dec, 64))
}

// Precise writes v with at most digits significant digits (a whole number
// up to 2^53 in full), never in exponent notation, and Clean: for programs
// and for command arguments (4.124128003, 63245916, 0).
func Precise(v float64, digits int) string {
	if s, ok := special(v); ok {
		return s
	}
	v = Clean(v)
	if v == math.Trunc(v) && math.Abs(v) <= 1<<53 {
		return strconv.FormatInt(int64(v), 10) // exact, whatever digits
	}
	return trim(strconv.FormatFloat(Round(v, digits), 'f', -1, 64))
}

// Round returns Clean(v) rounded to digits significant digits, for
// programs that take the number itself (line protocol, /metrics, JSON):
// 0.1+0.2 is 0.3 there, and 8.8e-10 is 0. Whole numbers (counts, totals)
// are kept exactly.
func Round(v float64, digits int) float64 {
	v = Clean(v)
	if v == math.Trunc(v) || math.IsNaN(v) { // whole numbers (and 0, ±Inf) are exact
		return v
	}
	r, err := strconv.ParseFloat(strconv.FormatFloat(v, 'g', digits, 64), 64)
	if err != nil {
		return v
	}
	return r
}

// Digits is the precision of the numbers written for programs.
const Digits = 10

// trim drops the trailing zeros of a decimal, and the sign of a zero.
func trim(s string) string {
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	if s == "-0" {
		return "0"
	}
	return s
}

// Plural writes a count with its noun: "1 file", "2 files"; plural is the
// noun's plural when it is not noun+"s".
func Plural(n int, noun string, plural ...string) string {
	if n == 1 {
		return "1 " + noun
	}
	p := noun + "s"
	if len(plural) > 0 {
		p = plural[0]
	}
	return strconv.Itoa(n) + " " + p
}
