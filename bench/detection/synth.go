package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"time"
)

// synthLayout is the timestamp layout of the generated corpus.
const synthLayout = "2006-01-02 15:04:05"

// countGen draws one synthetic count series with labelled anomalies.
type countGen struct {
	rng      *rand.Rand
	base     float64 // mean count per interval at the daily average
	k        float64 // negative binomial shape (0: Poisson)
	weekend  float64 // weekend level relative to weekdays
	peakHour float64 // hour of the daily peak
	amp      float64 // daily amplitude (0..0.9)
	trend    float64 // relative change of the level over the whole series
	step     time.Duration
	n        int
	start    time.Time
}

type anomaly struct {
	kind  string
	at    int // first anomalous sample
	len   int // samples (level shifts last to the end)
	scale float64
}

// writeSynthCorpus writes a NAB-style corpus of synthetic count series with
// labelled spikes, bursts, level shifts and dropouts: DIR/data/<cat>/*.csv
// and DIR/labels/combined_windows.json (NAB's window rule: 10% of the file
// divided among its anomalies, centred on each anomaly's start).
func writeSynthCorpus(dir string, seed uint64, files int) error {
	labels := map[string][][2]string{}
	kinds := map[string][]string{}
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	cats := []string{"synthBusy", "synthModerate", "synthSparse"}
	for i := 0; i < files; i++ {
		cat := cats[i%len(cats)]
		g := &countGen{
			rng:      rand.New(rand.NewPCG(rng.Uint64(), rng.Uint64())),
			weekend:  0.3 + 0.8*rng.Float64(),
			peakHour: 10 + 8*rng.Float64(),
			amp:      0.2 + 0.7*rng.Float64(),
			trend:    (rng.Float64() - 0.5) * 1.0,
			step:     5 * time.Minute,
			start:    time.Date(2015, 2, 2+rng.IntN(7), rng.IntN(24), 5*rng.IntN(12), 0, 0, time.UTC),
		}
		switch cat {
		case "synthBusy":
			g.base = 30 + 300*rng.Float64()
			g.k = 2 + 20*rng.Float64()
		case "synthModerate":
			g.base = 3 + 20*rng.Float64()
			g.k = 1 + 10*rng.Float64()
		default:
			g.base = 0.2 + 1.5*rng.Float64()
			g.k = 0.5 + 3*rng.Float64()
		}
		weeks := 4 + rng.IntN(5)
		g.n = weeks * 2016
		anoms := g.plan()
		name := fmt.Sprintf("%s/synth_%02d.csv", cat, i)
		if err := g.write(filepath.Join(dir, "data", name), anoms); err != nil {
			return err
		}
		width := int(0.1 * float64(g.n) / float64(len(anoms)))
		var wins [][2]string
		for _, a := range anoms {
			lo := max(a.at-width/2, 0)
			hi := min(a.at+width/2, g.n-1)
			wins = append(wins, [2]string{g.ts(lo) + ".000000", g.ts(hi) + ".000000"})
		}
		labels[name] = wins
		for _, a := range anoms {
			kinds[name] = append(kinds[name], fmt.Sprintf("%s@%s x%.2f len %d", a.kind, g.ts(a.at), a.scale, a.len))
		}
	}
	if err := os.MkdirAll(filepath.Join(dir, "labels"), 0o755); err != nil {
		return fmt.Errorf("create labels folder: %w", err)
	}
	buf, err := json.MarshalIndent(labels, "", " ")
	if err != nil {
		return fmt.Errorf("encode labels: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "labels", "combined_windows.json"), buf, 0o644); err != nil {
		return fmt.Errorf("write labels: %w", err)
	}
	buf, err = json.MarshalIndent(kinds, "", " ")
	if err != nil {
		return fmt.Errorf("encode anomaly kinds: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "labels", "anomalies.json"), buf, 0o644); err != nil {
		return fmt.Errorf("write anomaly kinds: %w", err)
	}
	return nil
}

func (g *countGen) ts(i int) string {
	return g.start.Add(time.Duration(i) * g.step).Format(synthLayout)
}

// plan places 1–4 anomalies after the first 15% of the series (NAB's
// probation), at least a window apart.
func (g *countGen) plan() []anomaly {
	na := 1 + g.rng.IntN(4)
	lo := int(0.2 * float64(g.n))
	gap := (g.n - lo) / na
	var out []anomaly
	for j := 0; j < na; j++ {
		a := anomaly{at: lo + j*gap + g.rng.IntN(gap/2)}
		switch g.rng.IntN(5) {
		case 0:
			a.kind, a.len, a.scale = "spike", 1+g.rng.IntN(2), 6+14*g.rng.Float64()
		case 1:
			a.kind, a.len, a.scale = "burst", 3+g.rng.IntN(24), 3+7*g.rng.Float64()
		case 2:
			a.kind, a.len, a.scale = "shift", g.n, 2+2*g.rng.Float64()
			if g.rng.IntN(3) == 0 {
				a.scale = 0.2 + 0.2*g.rng.Float64()
			}
			// A lasting shift ends the list: later anomalies would be
			// judged against the shifted level.
			out = append(out, a)
			sort.Slice(out, func(i, j int) bool { return out[i].at < out[j].at })
			return out
		case 3:
			a.kind, a.len, a.scale = "dropout", 12+g.rng.IntN(12*12), 0
		default:
			a.kind, a.len, a.scale = "burst", 12+g.rng.IntN(36), 2.5+3*g.rng.Float64()
		}
		out = append(out, a)
	}
	return out
}

// level returns the expected count of sample i without anomalies.
func (g *countGen) level(i int) float64 {
	t := g.start.Add(time.Duration(i) * g.step)
	h := float64(t.Hour()) + float64(t.Minute())/60
	l := g.base * (1 + g.amp*math.Cos(2*math.Pi*(h-g.peakHour)/24))
	if wd := t.Weekday(); wd == time.Saturday || wd == time.Sunday {
		l *= g.weekend
	}
	return l * (1 + g.trend*float64(i)/float64(g.n))
}

func (g *countGen) write(path string, anoms []anomaly) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("create data folder: %w", err)
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("create series: %w", err)
	}
	w := bufio.NewWriter(f)
	fmt.Fprintln(w, "timestamp,value")
	// Unlabelled natural bursts: about twice a week, 30 min to 2 h at
	// 1.5–2.5× the level, as busy real streams have.
	natural := 0
	natScale := 1.0
	for i := 0; i < g.n; i++ {
		if natural == 0 && g.rng.Float64() < 2.0/2016 {
			natural = 6 + g.rng.IntN(19)
			natScale = 1.5 + g.rng.Float64()
		}
		mult := 1.0
		if natural > 0 {
			mult = natScale
			natural--
		}
		lambda := g.level(i) * mult
		for _, a := range anoms {
			if i >= a.at && i < a.at+a.len {
				switch a.kind {
				case "dropout":
					lambda = 0
				default:
					lambda = math.Max(lambda*a.scale, 5*a.scale)
				}
			}
		}
		fmt.Fprintf(w, "%s,%g\n", g.ts(i), g.draw(lambda))
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("write series: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close series: %w", err)
	}
	return nil
}

func (g *countGen) draw(lambda float64) float64 {
	if lambda <= 0 {
		return 0
	}
	if g.k > 0 {
		lambda *= gammaDraw(g.rng, g.k) / g.k
	}
	return poissonDraw(g.rng, lambda)
}

func gammaDraw(rng *rand.Rand, shape float64) float64 {
	if shape < 1 {
		return gammaDraw(rng, shape+1) * math.Pow(rng.Float64(), 1/shape)
	}
	d := shape - 1.0/3
	c := 1 / math.Sqrt(9*d)
	for {
		x := rng.NormFloat64()
		v := 1 + c*x
		if v <= 0 {
			continue
		}
		v = v * v * v
		if math.Log(rng.Float64()) < 0.5*x*x+d-d*v+d*math.Log(v) {
			return d * v
		}
	}
}

func poissonDraw(rng *rand.Rand, lambda float64) float64 {
	if lambda > 60 {
		return math.Max(0, math.Round(lambda+math.Sqrt(lambda)*rng.NormFloat64()))
	}
	l := math.Exp(-lambda)
	k := 0.0
	for p := rng.Float64(); p > l; p *= rng.Float64() {
		k++
	}
	return k
}
