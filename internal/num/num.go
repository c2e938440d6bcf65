// Package num writes the numbers of samples and baselines the same way in
// every output: for people (reports, status, the status page, test,
// backtest's summary), with the precision a person reads, and for
// programs (line protocol, /metrics, JSON, CSV, command arguments), with
// the floating-point residue of sums and decays removed and exactly. In
// both, a value that is zero up to rounding is 0, never 8.8e-10, and an
// ordinary value is written in plain digits, never 6.3245916e+07.
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

// Precise writes v with at most digits significant digits, Clean, as
// Exact writes it (4.124128003, 63245916, 0): for programs and for
// command arguments.
func Precise(v float64, digits int) string {
	return string(AppendExact(nil, Round(v, digits)))
}

// PlainMax is the magnitude from which Exact writes a number in exponent
// form: 1e21 has 22 digits, more than anyone counts.
const PlainMax = 1e21

// Exact writes v for programs: the shortest decimal that reads back as
// exactly v, in plain digits (63245916, 0.000015, 4.124128003) where its
// magnitude is from Epsilon to below PlainMax, the range in which
// encoding/json writes plain digits too, and in exponent form (1e+21,
// 4e-07) outside it, where plain digits would be absurd; NaN, +Inf and
// -Inf as such, and -0 as 0. It neither rounds nor cleans: a caller
// writing its own values passes Round(v, Digits).
func Exact(v float64) string { return string(AppendExact(nil, v)) }

// AppendExact appends v, written as Exact writes it, to dst.
func AppendExact(dst []byte, v float64) []byte {
	if s, ok := special(v); ok {
		return append(dst, s...)
	}
	if v == 0 {
		return append(dst, '0')
	}
	if a := math.Abs(v); a < Epsilon || a >= PlainMax {
		return strconv.AppendFloat(dst, v, 'g', -1, 64)
	}
	return strconv.AppendFloat(dst, v, 'f', -1, 64)
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
