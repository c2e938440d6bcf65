package rules

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Hard classes are the classes CFEngine discovers rather than defines: the
// time classes and the host name. Class expressions may use them like any
// other class. The time classes describe a moment (the start of the
// interval being decided) in a time zone, with CFEngine's names, and again
// in UTC with the prefix GMT_:
//
//	Yr2026            the year
//	January … December the month
//	Monday … Sunday   the day of the week
//	Day1 … Day31      the day of the month
//	Night, Morning, Afternoon, Evening  the quarter of the day: 00–05, 06–11, 12–17, 18–23 h
//	Hr00 … Hr23       the hour, also written Hr0 … Hr23
//	Q1 … Q4           the quarter of the hour: minutes 00–14, 15–29, 30–44, 45–59
//	Hr14_Q3           the hour and its quarter
//	Min00 … Min59     the minute
//	Min00_05 … Min55_00  the five minutes, the second number excluded
//	Lcycle_0 … Lcycle_2  the year modulo 3
//
// The host classes are the host name canonified (www.example.com becomes
// www_example_com) and its unqualified part (www).

var (
	weekdays = [...]string{"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"}
	shifts   = [...]string{"Night", "Morning", "Afternoon", "Evening"}
)

// TimeClasses returns CFEngine's time classes of t in loc (nil is the
// local zone), and in UTC with the prefix GMT_.
func TimeClasses(t time.Time, loc *time.Location) []string {
	if loc == nil {
		loc = time.Local
	}
	out := make([]string, 0, 26)
	for _, z := range []struct {
		prefix string
		t      time.Time
	}{{"", t.In(loc)}, {"GMT_", t.UTC()}} {
		p, lt := z.prefix, z.t
		h, m := lt.Hour(), lt.Minute()
		q := m/15 + 1
		five := m / 5 * 5
		out = append(out,
			p+"Lcycle_"+strconv.Itoa(lt.Year()%3),
			fmt.Sprintf("%sYr%04d", p, lt.Year()),
			p+lt.Month().String(),
			p+weekdays[lt.Weekday()],
			p+"Day"+strconv.Itoa(lt.Day()),
			p+shifts[h/6],
			fmt.Sprintf("%sHr%02d", p, h),
			p+"Q"+strconv.Itoa(q),
			fmt.Sprintf("%sHr%02d_Q%d", p, h, q),
			fmt.Sprintf("%sMin%02d", p, m),
			fmt.Sprintf("%sMin%02d_%02d", p, five, (five+5)%60),
		)
		if h < 10 {
			out = append(out, p+"Hr"+strconv.Itoa(h))
		}
	}
	return out
}

// HostClasses returns the classes of a host name: the name canonified,
// and its unqualified part (up to the first dot) when it has one.
func HostClasses(host string) []string {
	if host == "" {
		return nil
	}
	out := []string{CanonifyName(host)}
	if short, _, dotted := strings.Cut(host, "."); dotted && short != "" {
		out = append(out, CanonifyName(short))
	}
	return out
}

// IsTimeClass reports whether name is one of CFEngine's time classes (of
// some moment), so that `check` does not call it a class nothing sets.
func IsTimeClass(name string) bool {
	name = strings.TrimPrefix(name, "GMT_")
	for _, w := range weekdays {
		if name == w {
			return true
		}
	}
	for _, s := range shifts {
		if name == s {
			return true
		}
	}
	for m := time.January; m <= time.December; m++ {
		if name == m.String() {
			return true
		}
	}
	num := func(s string, lo, hi, width int) bool {
		if s == "" || len(s) > 4 || (width > 0 && len(s) != width) {
			return false
		}
		n, err := strconv.Atoi(s)
		return err == nil && n >= lo && n <= hi && s[0] != '+' && s[0] != '-'
	}
	if rest, ok := strings.CutPrefix(name, "Hr"); ok {
		hr, q, hasQ := strings.Cut(rest, "_Q")
		if hasQ {
			return num(hr, 0, 23, 2) && num(q, 1, 4, 1)
		}
		return num(rest, 0, 23, 2) || num(rest, 0, 9, 1)
	}
	if rest, ok := strings.CutPrefix(name, "Min"); ok {
		a, b, five := strings.Cut(rest, "_")
		if !five {
			return num(rest, 0, 59, 2)
		}
		x, errA := strconv.Atoi(a)
		y, errB := strconv.Atoi(b)
		return num(a, 0, 55, 2) && num(b, 0, 55, 2) && errA == nil && errB == nil && x%5 == 0 && y == (x+5)%60
	}
	if rest, ok := strings.CutPrefix(name, "Yr"); ok {
		return num(rest, 1970, 9999, 4)
	}
	if rest, ok := strings.CutPrefix(name, "Day"); ok {
		return num(rest, 1, 31, 0) && rest[0] != '0'
	}
	if rest, ok := strings.CutPrefix(name, "Lcycle_"); ok {
		return num(rest, 0, 2, 1)
	}
	if rest, ok := strings.CutPrefix(name, "Q"); ok {
		return num(rest, 1, 4, 1)
	}
	return false
}
