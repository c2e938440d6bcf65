package rules

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// parseDuration parses Go duration syntax ("30s", "1h30m") extended with
// days ("1d" = 24h) and weeks ("2w" = 168h). Negative durations are refused.
func parseDuration(s string) (time.Duration, error) {
	if s == "" {
		return 0, errors.New("empty duration")
	}
	if s == "0" {
		return 0, nil
	}
	if s[0] == '-' || s[0] == '+' {
		return 0, errors.New("a duration cannot have a sign")
	}
	var total time.Duration
	rest := s
	for rest != "" {
		i := 0
		for i < len(rest) && (rest[i] >= '0' && rest[i] <= '9' || rest[i] == '.') {
			i++
		}
		j := i
		for j < len(rest) && !(rest[j] >= '0' && rest[j] <= '9' || rest[j] == '.') {
			j++
		}
		num, unit := rest[:i], rest[i:j]
		if num == "" || unit == "" {
			return 0, fmt.Errorf("invalid duration %q", s)
		}
		rest = rest[j:]
		mult := time.Duration(1)
		switch unit {
		case "d":
			unit, mult = "h", 24
		case "w":
			unit, mult = "h", 7*24
		}
		d, err := time.ParseDuration(num + unit)
		if err != nil {
			return 0, fmt.Errorf("invalid duration %q", s)
		}
		if d > math.MaxInt64/mult || total > math.MaxInt64-d*mult {
			return 0, fmt.Errorf("duration %q is too long", s)
		}
		total += d * mult
	}
	return total, nil
}

// formatDuration prints a duration the way rule files write it.
func formatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// parseSize parses a byte size: a plain number, or a number with a unit
// k, K, KB, KiB, m, M, MB, MiB, g, G, GB or GiB. All units are powers of
// 1024, as sysadmins mean them for buffer sizes.
func parseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	i := 0
	for i < len(t) && t[i] >= '0' && t[i] <= '9' {
		i++
	}
	if i == 0 {
		return 0, fmt.Errorf("invalid size %q", s)
	}
	n, err := strconv.ParseInt(t[:i], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("invalid size %q", s)
	}
	var mult int64
	switch strings.TrimSpace(t[i:]) {
	case "", "b", "B":
		mult = 1
	case "k", "K", "KB", "kB", "KiB":
		mult = 1 << 10
	case "m", "M", "MB", "MiB":
		mult = 1 << 20
	case "g", "G", "GB", "GiB":
		mult = 1 << 30
	default:
		return 0, fmt.Errorf("invalid size %q", s)
	}
	if n > math.MaxInt64/mult {
		return 0, fmt.Errorf("size %q is too large", s)
	}
	return n * mult, nil
}

// strftimeVerbs maps the common strftime conversions to Go layout elements.
var strftimeVerbs = map[byte]string{
	'Y': "2006", 'y': "06", 'm': "01", 'd': "02", 'e': "_2", 'H': "15",
	'I': "03", 'M': "04", 'S': "05", 'p': "PM", 'b': "Jan", 'h': "Jan",
	'B': "January", 'a': "Mon", 'A': "Monday", 'z': "-0700", 'Z': "MST",
	'j': "002", 'T': "15:04:05", 'D': "01/02/06", 'F': "2006-01-02",
	'R': "15:04", '%': "%",
}

// strftimeToGo converts a strftime layout to a Go time layout. %f (a
// fraction of a second) must follow '.' or ','; %s (seconds since the epoch)
// has no Go layout and is refused.
func strftimeToGo(s string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		if i+1 >= len(s) {
			return "", errors.New("strftime layout ends with a lone %")
		}
		i++
		v := s[i]
		if v == 'f' {
			if i < 2 || s[i-2] != '.' && s[i-2] != ',' {
				return "", errors.New("%f must follow '.' or ','")
			}
			b.WriteString("000000")
			continue
		}
		g, ok := strftimeVerbs[v]
		if !ok {
			return "", fmt.Errorf("unsupported strftime conversion %%%c", v)
		}
		b.WriteString(g)
	}
	return b.String(), nil
}

// checkLayout verifies that a Go layout formats a time that it can parse
// back, and that it holds at least one time element.
func checkLayout(layout string) error {
	t1 := time.Date(2024, 11, 28, 21, 7, 9, 123456789, time.UTC)
	t2 := time.Date(2023, 2, 3, 4, 5, 6, 0, time.FixedZone("XYZ", 3600))
	s := t1.Format(layout)
	if s == t2.Format(layout) {
		return errors.New("layout has no date or time element")
	}
	if _, err := time.Parse(layout, s); err != nil {
		return fmt.Errorf("layout cannot parse its own output %q: %w", s, err)
	}
	return nil
}

// suggest returns the candidate closest to s by edit distance, if close
// enough to be a likely typo.
func suggest(s string, candidates []string) string {
	best, bestD := "", math.MaxInt
	for _, c := range candidates {
		if d := editDistance(strings.ToLower(s), strings.ToLower(c)); d < bestD {
			best, bestD = c, d
		}
	}
	limit := max(1, min(3, len(s)/3))
	if bestD <= limit {
		return best
	}
	return ""
}

// maxEditLen bounds the cost of editDistance on hostile input.
const maxEditLen = 64

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	if len(a) > maxEditLen || len(b) > maxEditLen {
		if a == b {
			return 0
		}
		return math.MaxInt
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// didYouMean returns a hint naming the closest candidate, or listing the
// candidates when there are few.
func didYouMean(s string, candidates []string) string {
	if c := suggest(s, candidates); c != "" {
		return "did you mean " + c + "?"
	}
	if len(candidates) <= 8 {
		return "one of " + strings.Join(candidates, ", ")
	}
	return ""
}
