package match

import (
	"math"
	"strconv"
)

// ParseNumber parses an extracted value as CFEngine does: optional leading
// blanks, a decimal number (sign, fraction and exponent allowed), then an
// optional multiplier suffix — k = 1000, K = 1024, m = 1000², M = 1024²,
// g = 1000³, G = 1024³ — that counts only when it is not the start of a
// longer word ("12ms" is 12, not 12 million). Whatever follows is ignored.
// It reports false when b does not start with a number, or the number is not
// finite.
func ParseNumber(b []byte) (float64, bool) {
	i := 0
	for i < len(b) && (b[i] == ' ' || b[i] == '\t') {
		i++
	}
	start := i
	if i < len(b) && (b[i] == '+' || b[i] == '-') {
		i++
	}
	digits := 0
	for i < len(b) && isDigit(b[i]) {
		i++
		digits++
	}
	if i < len(b) && b[i] == '.' {
		j := i + 1
		frac := 0
		for j < len(b) && isDigit(b[j]) {
			j++
			frac++
		}
		if digits+frac > 0 {
			i = j
			digits += frac
		}
	}
	if digits == 0 {
		return 0, false
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		j := i + 1
		if j < len(b) && (b[j] == '+' || b[j] == '-') {
			j++
		}
		k := j
		for k < len(b) && isDigit(b[k]) {
			k++
		}
		if k > j {
			i = k
		}
	}
	v, err := strconv.ParseFloat(string(b[start:i]), 64)
	if err != nil && !isRangeErr(err) {
		return 0, false
	}
	if i < len(b) && (i+1 == len(b) || !isAlnum(b[i+1])) {
		v *= multiplier(b[i])
	}
	if math.IsInf(v, 0) || math.IsNaN(v) {
		return 0, false
	}
	return v, true
}

func multiplier(c byte) float64 {
	switch c {
	case 'k':
		return 1e3
	case 'K':
		return 1 << 10
	case 'm':
		return 1e6
	case 'M':
		return 1 << 20
	case 'g':
		return 1e9
	case 'G':
		return 1 << 30
	}
	return 1
}

func isRangeErr(err error) bool {
	ne, ok := err.(*strconv.NumError)
	return ok && ne.Err == strconv.ErrRange
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isAlnum(c byte) bool {
	return isDigit(c) || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_'
}
