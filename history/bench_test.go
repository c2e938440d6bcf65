package history

import (
	"testing"
	"time"
)

func BenchmarkObserve(b *testing.B) {
	s := newSynth(1, 20, 2)
	bl, at := train(b, utcConfig(), s, monday, 1)
	vals := make([]float64, 4096)
	for i := range vals {
		vals[i] = s.draw(20)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		bl.Observe(at, vals[i%len(vals)])
		at = at.Add(5 * time.Minute)
	}
}

// BenchmarkEncodeInterval: one interval's commit of one measurement.
func BenchmarkEncodeInterval(b *testing.B) {
	bl, at := train(b, utcConfig(), newSynth(2, 20, 0), monday, 4)
	bl.Encode(false)
	var n int
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		bl.Observe(at, 20)
		at = at.Add(5 * time.Minute)
		meta, pages := bl.Encode(true)
		n = len(meta)
		for _, p := range pages {
			n += len(p)
		}
	}
	b.SetBytes(int64(n))
	b.ReportMetric(float64(n), "bytes/interval")
}

// BenchmarkStateSize100: the encoded size of 100 fully trained weekly
// measurements (values only; the store adds its keys).
func BenchmarkStateSize100(b *testing.B) {
	bl, _ := train(b, utcConfig(), newSynth(3, 20, 0), monday, 5)
	b.ResetTimer()
	var total int
	for i := 0; i < b.N; i++ {
		total = 0
		for m := 0; m < 100; m++ {
			meta, pages := bl.Encode(false)
			total += len(meta)
			for _, p := range pages {
				total += len(p)
			}
		}
	}
	b.ReportMetric(float64(total), "bytes/100-measurements")
	b.ReportMetric(float64(bl.Pages()), "pages/measurement")
}
