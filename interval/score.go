package interval

import (
	"math"

	"github.com/logtally/logtally/history"
)

// DefaultThreshold is the alarm score at which the baseline's own
// calibration raises _anomaly: its level 3.
const DefaultThreshold = 3.0

// AlarmScore is a sample's alarm score: the one number the survey, the
// threshold learning of backtest --target-alerts and alarm budgets rank
// samples by, so that a threshold on it reproduces the baseline's classes.
// It is built from the baseline's verdict (history.Score) alone:
//
//   - at level 3 (anomaly), |z|, which the baseline never lets below 3 there;
//   - below, |z| while under the next level; a sample the baseline held
//     to level k although |z| reached k + 1 (heavy-tailed, refractory,
//     too small to matter) scores just under k + 1, in [k + 0.99, k + 1),
//     the higher the further out: k + 1 − 0.01·(k + 1)/|z|.
//
// So the anomaly class is exactly "score ≥ 3", and a threshold T ≥ 3
// keeps the anomalies whose |z| reaches T; a threshold T below 3 makes
// anomalies of the samples between T and 3, and held samples still rank
// by how far out they are, so that a threshold can pick the few furthest
// of a crowd the baseline held to the same level.
func AlarmScore(sc history.Score) float64 {
	lvl := float64(sc.Level)
	if lvl < 0 {
		lvl = -lvl
	}
	z := math.Abs(sc.Z)
	if math.IsNaN(z) {
		return 0
	}
	if lvl >= 3 {
		return math.Max(z, 3)
	}
	if z < lvl+1 {
		return z
	}
	return lvl + 1 - heldBand*(lvl+1)/z
}

// heldBand is the width of the band under the next level in which
// held-back samples score: little enough not to matter, enough to be read
// (2.99 to 3).
const heldBand = 0.01

// applyThreshold sets a score's level by the anomaly threshold t instead of
// the baseline's own 3: an alarm score of at least t is an anomaly (level
// 3, in the direction of z), one below it at most dev2.
func applyThreshold(sc *history.Score, t float64) {
	if t <= 0 || t == DefaultThreshold || sc.Z == 0 {
		return
	}
	s := AlarmScore(*sc)
	sign := 1
	if sc.Z < 0 {
		sign = -1
	}
	lvl := sc.Level * sign
	switch {
	case s >= t:
		lvl = 3
	case lvl >= 3:
		lvl = 2
	}
	sc.Level = lvl * sign
}
