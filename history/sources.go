package history

import (
	"hash/fnv"
	"math"
	"time"
)

// Source names where a sample's lines came from: the key (the rule's key
// group, a source address) with the most lines of the interval and how
// many it had. The refractory and episode rules keep their memory of
// alarms per source, so that a storm from a new source is news however
// recent another source's storm is. The zero value is no source.
type Source struct {
	Key   string
	Lines float64
}

// maxSources bounds the sources whose alarms the baseline remembers:
// beyond it the one whose alarm is oldest is forgotten (a source an
// attacker invents is news anyway).
const maxSources = 16

// sourceShare is the part of a high sample's excess over Av that its
// top key must account for to be the sample's source: a storm of many
// sources, none of them dominant, has no source and is judged against
// the memory of every alarm.
const sourceShare = 0.5

// sourceAlarm is the alarm memory of one source: what the whole-series
// fields AlarmZ, AlarmSrc, AlarmAt, AnomAt and AnomPeak keep for every
// sample, kept for the samples of one source.
type sourceAlarm struct {
	Key      uint64  // hash of the key (keyHash)
	AlarmAt  int64   // unix seconds of the last sample of its last alarm episode
	AlarmZ   float64 // peak evidence strength of that episode
	AlarmSrc float64 // the evidence that started it
	AnomAt   float64 // unix seconds of its last sample with anomaly-level evidence
	AnomPeak float64 // the largest |Z| of its anomaly episode
}

// keyHash returns the hash a source's key is remembered by (never 0,
// which is no source): a fixed size, whatever the key a log line gives.
func keyHash(k string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(k))
	if s := h.Sum64(); s != 0 {
		return s
	}
	return 1
}

// sourceOf returns the hash of the source of a sample of value v whose
// expected value is av: its top key when the sample is high and the key
// accounts for at least sourceShare of its excess over av; 0 otherwise.
func sourceOf(src Source, v, av float64) uint64 {
	if src.Key == "" || src.Lines <= 0 || !(v > av) || src.Lines < sourceShare*(v-av) {
		return 0
	}
	return keyHash(src.Key)
}

// source returns the alarm memory of source k, or nil.
func (b *Baseline) source(k uint64) *sourceAlarm {
	for i := range b.g.Sources {
		if b.g.Sources[i].Key == k {
			return &b.g.Sources[i]
		}
	}
	return nil
}

// addSource returns the alarm memory of source k, added when new (in
// place of the one with the oldest alarm when the memory is full).
func (b *Baseline) addSource(k uint64) *sourceAlarm {
	if s := b.source(k); s != nil {
		return s
	}
	if len(b.g.Sources) >= maxSources {
		old := 0
		for i, s := range b.g.Sources {
			if s.last() < b.g.Sources[old].last() {
				old = i
			}
		}
		b.g.Sources = append(b.g.Sources[:old], b.g.Sources[old+1:]...)
	}
	b.g.Sources = append(b.g.Sources, sourceAlarm{Key: k})
	return &b.g.Sources[len(b.g.Sources)-1]
}

// last returns the unix seconds of the source's last alarm or anomaly.
func (s *sourceAlarm) last() float64 { return math.Max(float64(s.AlarmAt), s.AnomAt) }

// forgetSources drops the alarm memory of the sources whose last alarm is
// older than both rules look back, at u.
func (b *Baseline) forgetSources(u int64) {
	keep := b.g.Sources[:0]
	horizon := math.Max(b.p.refractory, b.p.episodeHold)
	for _, s := range b.g.Sources {
		if float64(u)-s.last() < horizon {
			keep = append(keep, s)
		}
	}
	b.g.Sources = keep
}

// alarmMemory is what the refractory and episode rules compare a sample
// with: the last alarm and anomaly episode of the sample's source, or of
// any sample when it has none.
type alarmMemory struct {
	alarmAt  int64
	alarmZ   float64
	alarmSrc float64
	anomAt   float64
	anomPeak float64
}

// memoryOf returns the alarm memory a sample of source k (0: none) is
// compared with: the source's own when it has one, none for a source
// without an alarm, the whole series' for a sample without a source.
func (b *Baseline) memoryOf(k uint64) alarmMemory {
	if k == 0 {
		return alarmMemory{b.g.AlarmAt, b.g.AlarmZ, b.g.AlarmSrc, b.g.AnomAt, b.g.AnomPeak}
	}
	if s := b.source(k); s != nil {
		return alarmMemory{s.AlarmAt, s.AlarmZ, s.AlarmSrc, s.AnomAt, s.AnomPeak}
	}
	return alarmMemory{}
}

// rememberSource records, for the sample's source, what learn records of
// its alarm and anomaly episodes for the whole series.
func (b *Baseline) rememberSource(u int64, p pred, sc Score) {
	b.forgetSources(u)
	if p.key == 0 || (iabs(sc.Level) < 2 && !p.anom) {
		return
	}
	s := b.addSource(p.key)
	if iabs(sc.Level) >= 2 {
		if math.Abs(b.g.PrevZ) < 2 || s.AlarmAt == 0 {
			s.AlarmZ, s.AlarmSrc = p.strength, p.src
		} else {
			s.AlarmZ = math.Max(s.AlarmZ, p.strength)
		}
		s.AlarmAt = u
	}
	if p.anom {
		if dt := float64(u) - s.AnomAt; s.AnomAt == 0 || dt <= 0 || dt >= b.p.episodeHold {
			s.AnomPeak = 0
		}
		s.AnomAt = float64(u)
		s.AnomPeak = math.Max(s.AnomPeak, math.Abs(sc.Z))
	}
}

// ObserveFrom is Observe for a sample whose lines have a source (see
// Source): its alarm is held back by the refractory and episode rules
// only against the earlier alarms of the same source.
func (b *Baseline) ObserveFrom(t time.Time, v float64, src Source) Score {
	sc, p := b.scoreFrom(t, v, src)
	b.learn(t, v, p, sc, b.g.Samples == 0)
	return sc
}
