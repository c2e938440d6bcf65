package history

import (
	"math"
	"sort"
)

// Entropy cut points: entropy below EntropyLow is "low" (few sources
// dominate), at or above EntropyHigh "high" (many sources, evenly spread).
const (
	EntropyLow  = 0.3
	EntropyHigh = 0.7
)

// Classes returns the classes of measurement h for one score, with
// CFEngine's names: exactly one of h_high, h_low, h_normal (high and low
// only at dev1 or beyond, or with a microanomaly); h_high_dev1,
// h_high_dev2 and h_high_anomaly accumulating with the level (and _low_
// likewise); h_high_microanomaly or h_low_microanomaly, which never comes
// with a _dev class (a deviation too small to matter is no deviation);
// h_learning.
func Classes(h string, s Score) []string {
	out := make([]string, 0, 5)
	micro := s.Micro && s.Level == 0 && s.Z != 0
	dir := "normal"
	switch {
	case s.Level > 0 || (micro && s.Z > 0):
		dir = "high"
	case s.Level < 0 || (micro && s.Z < 0):
		dir = "low"
	}
	out = append(out, h+"_"+dir)
	lvl := s.Level
	if lvl < 0 {
		lvl = -lvl
	}
	names := [...]string{"_dev1", "_dev2", "_anomaly"}
	for i := 0; i < lvl && i < len(names); i++ {
		out = append(out, h+"_"+dir+names[i])
	}
	if micro {
		out = append(out, h+"_"+dir+"_microanomaly")
	}
	if s.Learning {
		out = append(out, h+"_learning")
	}
	return out
}

// Entropy returns the normalised Shannon entropy of the key counts of one
// sample, H/ln(N) with N the total count (0 when one source sent
// everything, 1 when every event came from a different source), and the
// class entropy_h_low (< EntropyLow), entropy_h_medium or entropy_h_high
// (≥ EntropyHigh). Without keys it returns 0 and no class.
func Entropy(h string, counts map[string]uint64) (float64, string) {
	var total float64
	keys := make([]string, 0, len(counts))
	for k, c := range counts {
		if c > 0 {
			total += float64(c)
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return 0, ""
	}
	sort.Strings(keys) // a fixed summation order: same input, same bits
	var e float64
	if total > 1 {
		var hsum float64
		for _, k := range keys {
			p := float64(counts[k]) / total
			hsum -= p * math.Log(p)
		}
		e = hsum / math.Log(total)
		e = math.Max(0, math.Min(1, e))
	}
	cls := "entropy_" + h + "_medium"
	switch {
	case e < EntropyLow:
		cls = "entropy_" + h + "_low"
	case e >= EntropyHigh:
		cls = "entropy_" + h + "_high"
	}
	return e, cls
}
