package history

import (
	"bufio"
	"encoding/xml"
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"github.com/logtally/logtally/internal/num"
)

// SlotStat is the learned baseline of one time-of-week slot.
type SlotStat struct {
	Slot    int
	Weekday time.Weekday
	Time    string  // wall-clock start of the slot, "15:04"
	Av, Dev float64 // expected value and spread, as Score reports them
	N       float64 // effective number of observations of this very slot
}

// Week returns the learned week, Monday 00:00 first: the pooled expectation
// of every slot (neighbours, other days and the whole series included, the
// short-term level excluded).
func (b *Baseline) Week() []SlotStat {
	out := make([]SlotStat, b.nslots)
	for i := range out {
		sec := int64(i) * b.width
		st := SlotStat{
			Slot:    i,
			Weekday: time.Weekday((sec/86400 + 1) % 7),
			Time:    fmt.Sprintf("%02d:%02d", sec%86400/3600, sec%3600/60),
			N:       float64(b.slot(i).N),
		}
		if b.g.Samples > 0 {
			p := b.forecast(sec)
			st.Av = b.inverse(p.seasonal)
			st.Dev = b.spread(p.seasonal, math.Sqrt(p.varTot))
		}
		out[i] = st
	}
	return out
}

// WriteWeekCSV writes week as CSV with the header slot,weekday,time,av,dev,n.
func WriteWeekCSV(w io.Writer, week []SlotStat) error {
	bw := bufio.NewWriter(w)
	bw.WriteString("slot,weekday,time,av,dev,n\n")
	for _, s := range week {
		fmt.Fprintf(bw, "%d,%s,%s,%s,%s,%s\n", s.Slot, s.Weekday, s.Time,
			num.Precise(s.Av, 6), num.Precise(s.Dev, 6), num.Precise(s.N, 6))
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write week csv: %w", err)
	}
	return nil
}

// SVG geometry.
const (
	svgW, svgH                     = 1000, 380
	padL, padR, padT, padB float64 = 80, 20, 44, 56
)

// WriteWeekSVG draws week as a plain SVG picture (no script): the expected
// value as a line with a ±Dev band from Monday to Sunday, and the recent
// samples on top as dots, placed by the weekday and wall clock of their own
// time (pass them in the baseline's zone). The x axis is labelled with the
// weekdays, the y axis with values. When no expected value and no sample
// is negative (counts, most gauges), the band stops at 0: a measurement
// that has never been below 0 is not drawn as normally below it.
func WriteWeekSVG(w io.Writer, title string, week []SlotStat, recent []Sample) error {
	floor := 0.0
	for _, s := range week {
		floor = math.Min(floor, s.Av)
	}
	for _, s := range recent {
		if !math.IsNaN(s.V) && !math.IsInf(s.V, 0) {
			floor = math.Min(floor, s.V)
		}
	}
	if floor < 0 {
		floor = math.Inf(-1) // a series with negative values: the band as it is
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, s := range week {
		lo = math.Min(lo, math.Max(s.Av-s.Dev, floor))
		hi = math.Max(hi, s.Av+s.Dev)
	}
	for _, s := range recent {
		if !math.IsNaN(s.V) && !math.IsInf(s.V, 0) {
			lo = math.Min(lo, s.V)
			hi = math.Max(hi, s.V)
		}
	}
	if math.IsInf(lo, 0) || math.IsInf(hi, 0) || math.IsNaN(lo) || math.IsNaN(hi) {
		lo, hi = 0, 1
	}
	ticks := niceTicks(lo, hi, 5)
	lo, hi = math.Min(lo, ticks[0]), math.Max(hi, ticks[len(ticks)-1])
	if hi <= lo {
		hi = lo + 1
	}
	pw, ph := float64(svgW)-padL-padR, float64(svgH)-padT-padB
	weekSecs := float64(Week / time.Second)
	xOf := func(sec float64) float64 { return padL + pw*sec/weekSecs }
	yOf := func(v float64) float64 { return padT + ph*(1-(v-lo)/(hi-lo)) }
	secOf := func(s SlotStat) float64 {
		return float64((int(s.Weekday)+6)%7*86400) + clockSecs(s.Time)
	}

	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", svgW, svgH, svgW, svgH)
	fmt.Fprintf(bw, `<rect width="%d" height="%d" fill="white"/>`+"\n", svgW, svgH)
	fmt.Fprintf(bw, `<text x="%g" y="24" font-size="16">%s</text>`+"\n", padL, escape(title))
	// Grid and axes.
	for _, t := range ticks {
		y := yOf(t)
		fmt.Fprintf(bw, `<line x1="%g" y1="%.1f" x2="%g" y2="%.1f" stroke="#e0e0e0"/>`+"\n", padL, y, padL+pw, y)
		fmt.Fprintf(bw, `<text x="%g" y="%.1f" text-anchor="end" dominant-baseline="middle">%s</text>`+"\n", padL-6, y, num.Human(t))
	}
	days := [...]string{"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"}
	for d, name := range days {
		x := xOf(float64(d * 86400))
		fmt.Fprintf(bw, `<line x1="%.1f" y1="%g" x2="%.1f" y2="%g" stroke="#c8c8c8"/>`+"\n", x, padT, x, padT+ph)
		fmt.Fprintf(bw, `<text x="%.1f" y="%g" text-anchor="middle">%s</text>`+"\n", xOf(float64(d*86400+43200)), padT+ph+18, name)
	}
	fmt.Fprintf(bw, `<rect x="%g" y="%g" width="%g" height="%g" fill="none" stroke="#444"/>`+"\n", padL, padT, pw, ph)
	fmt.Fprintf(bw, `<text x="%g" y="%g" text-anchor="middle">weekday (local time)</text>`+"\n", padL+pw/2, float64(svgH)-12)
	fmt.Fprintf(bw, `<text x="16" y="%g" text-anchor="middle" transform="rotate(-90 16 %g)">value</text>`+"\n", padT+ph/2, padT+ph/2)
	if len(week) > 0 {
		// Band: upper edge left to right, lower edge back.
		var band, mean strings.Builder
		for _, s := range week {
			fmt.Fprintf(&band, "%.1f,%.1f ", xOf(secOf(s)), yOf(s.Av+s.Dev))
			fmt.Fprintf(&mean, "%.1f,%.1f ", xOf(secOf(s)), yOf(s.Av))
		}
		for i := len(week) - 1; i >= 0; i-- {
			s := week[i]
			fmt.Fprintf(&band, "%.1f,%.1f ", xOf(secOf(s)), yOf(math.Max(s.Av-s.Dev, math.Max(floor, lo))))
		}
		fmt.Fprintf(bw, `<polygon points="%s" fill="#9ecae1" fill-opacity="0.5" stroke="none"><title>av ± dev</title></polygon>`+"\n", strings.TrimSpace(band.String()))
		fmt.Fprintf(bw, `<polyline points="%s" fill="none" stroke="#08519c" stroke-width="1.5"><title>av</title></polyline>`+"\n", strings.TrimSpace(mean.String()))
	}
	for _, s := range recent {
		if math.IsNaN(s.V) || math.IsInf(s.V, 0) {
			continue
		}
		wd := (int(s.T.Weekday()) + 6) % 7
		h, m, sec := s.T.Clock()
		x := xOf(float64(wd*86400 + h*3600 + m*60 + sec))
		fmt.Fprintf(bw, `<circle cx="%.1f" cy="%.1f" r="1.8" fill="#d94801"/>`+"\n", x, yOf(s.V))
	}
	// Legend.
	lx := padL + pw - 250
	fmt.Fprintf(bw, `<rect x="%g" y="12" width="14" height="10" fill="#9ecae1"/><text x="%g" y="21">av ± dev</text>`+"\n", lx, lx+18)
	fmt.Fprintf(bw, `<line x1="%g" y1="17" x2="%g" y2="17" stroke="#08519c" stroke-width="2"/><text x="%g" y="21">av</text>`+"\n", lx+90, lx+104, lx+108)
	fmt.Fprintf(bw, `<circle cx="%g" cy="17" r="3" fill="#d94801"/><text x="%g" y="21">recent samples</text>`+"\n", lx+145, lx+152)
	bw.WriteString("</svg>\n")
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write week svg: %w", err)
	}
	return nil
}

func clockSecs(hhmm string) float64 {
	t, err := time.Parse("15:04", hhmm)
	if err != nil {
		return 0
	}
	return float64(t.Hour()*3600 + t.Minute()*60)
}

func escape(s string) string {
	var sb strings.Builder
	xml.EscapeText(&sb, []byte(s))
	return sb.String()
}

// niceTicks returns about n round tick values covering [lo, hi].
func niceTicks(lo, hi float64, n int) []float64 {
	if hi <= lo {
		hi = lo + 1
	}
	raw := (hi - lo) / float64(n)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := mag
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	var out []float64
	for v := math.Floor(lo/step) * step; v <= hi+step*1e-9 && len(out) < 50; v += step {
		out = append(out, v)
	}
	if len(out) == 0 || out[len(out)-1] < hi {
		out = append(out, math.Ceil(hi/step)*step)
	}
	return out
}
