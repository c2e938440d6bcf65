// Package history is logtally's time-of-week baseline: for each weekly
// measurement it learns what is normal at every time of the week, scores
// each new sample against that (before learning it) and names the result
// with CFEngine's classes (h_high_dev2, h_low_anomaly, h_learning, …).
//
// # Scale
//
// Counts (KindCount, or KindAuto while every value is a non-negative
// integer) are modelled on the variance-stabilising scale
// y = 2·sqrt(x + 3/8), where Poisson noise has variance ≈ 1 whatever the
// level; real values (KindReal, or KindAuto from the first value that is not
// a count, when the learned state is converted once by the delta method) on
// their own scale, y = x. All statistics below are on the y scale.
//
// # Slots
//
// The week (Monday 00:00 of the configured zone's wall clock) is cut into
// S = ceil(week/Interval) slots; a sample at t belongs to slot
// floor(secondsSinceMonday(t in zone)/Interval), so samples off the grid go
// to the interval that contains them. A repeated local hour (DST end) maps
// twice to the same slots, a skipped one is never visited. Slot s keeps
//
//	n_s ← ρ·n_s + 1,   m_s ← m_s + (ŷ − m_s)/n_s,   q_s ← q_s + (min(e², c²) − q_s)/n_s
//
// with ρ = 2^(−week/HalfLife) per weekly visit (so n_s tends to 1/(1−ρ),
// 6.3 at the default four weeks), e the prediction error of the sample, ŷ
// the sample clipped to the anomaly level around the prediction, c the
// error cap (4 on the z scale). Outliers thus move a slot by at most a few
// deviations per visit: a lasting change is absorbed in weeks, an attack
// does not become the norm.
//
// # Forecast (borrowing strength)
//
// For the slot of t, each weekday d (own day d = 0) contributes the
// kernel-pooled stats of the slots at the same time of day within ±30 min,
// weights κ_j = exp(−|j·Interval|/10 min):
//
//	W_d = Σ κ_j n_j,   M_d = Σ κ_j n_j m_j / W_d,   q̂ = (Σ_d Σ_j κ_j n_j q_j + Q) / (Σ_d W_d + 1)
//
// Q is the whole series' forgetting error variance (half-life 1 day). The
// between-day variance τ² = max(0, mean_d W_d[(M_d − M_0)² − q̂(1/W_d + 1/W_0)])
// decides how much other days count (best linear unbiased predictor):
//
//	P_0 = W_0/q̂,   P_d = 1/(τ² + q̂/W_d),   P_g = 1/(V + q̂)
//	ȳ = (P_0 M_0 + Σ P_d M_d + P_g M) / (P_0 + Σ P_d + P_g),   Var(ȳ) = 1/(P_0 + Σ P_d + P_g)
//
// M and V are the whole series' forgetting mean and variance (half-life 1
// day). A young slot therefore leans on its neighbours, then on the same time
// on other days (fully when the days agree, not at all when they differ, as
// weekends do), then on the whole series, and its larger Var(ȳ) widens the
// spread instead of raising false alarms. A short-term level L (for
// non-stationary series) is added: μ = ȳ + L_k, where the candidates
// L_1..L_3 are exponential averages of y − ȳ with half-lives 2 h, 12 h and 3
// days (L_0 = 0), fed residuals clipped at the dev2 level; the candidate in
// use is the one with the smallest recent squared error (half-life 2 days,
// switched only when another is 10% better). The spread is
//
//	σ² = max(q̂ + Var(ȳ), floor) · max(1, Z2)
//
// with floor = 1 for counts (Poisson: 0→2 is never an anomaly) and
// (1% of the mean |y|)² for real values, so the variance cannot collapse
// after a quiet stretch; Z2 is the forgetting mean of min(z², 16)/0.9989
// (a bulk calibration, ≤ 1 when σ is honest).
//
// # Calibrated z
//
// Counts are bursty and heavy-tailed, so a Gaussian 3σ would fire several
// times a day. The raw deviation a = (y − μ)/σ is mapped to the reported z
// through two learned levels: Q2, the |a| exceeded by about one episode in
// 576 samples (two days at 5 min), and Q3, one in 4032 (two weeks). An
// episode is a run of samples with |a| ≥ 1.5 and counts once, at its peak
// (capped at 1.3·Q3, so one attack cannot declare attacks normal); the
// record forgets with a half-life of two weeks and starts from one day of
// Gaussian pseudo-samples. Then
//
//	|z| = 2|a|/Q2 for |a| ≤ Q2,   2 + (|a|−Q2)/(Q3−Q2) up to Q3,   3|a|/Q3 beyond
//
// with Q2 ≥ 2 and Q3 ≥ max(3, 1.05·Q2). So dev1 is |z| ≥ 1, dev2 (|z| ≥ 2)
// is met about every two days on normal data and anomaly (|z| ≥ 3) about
// every two weeks or less; a burst far beyond anything seen is an anomaly
// in its first interval. Dev = σ·Q2/2 (back on the value scale: for
// counts Dev = x(μ + σQ2/2) − x(μ), the upper spread), so Av ± Dev is z = ±1.
// Micro is set when the deviation is 3 on the learned spread alone but not
// once the noise floor is included: statistically out, too small to matter.
// For mostly-zero counts a tenfold burst of a fraction of an event is within
// Poisson noise: at a level of 0.2 per interval about 7 events are needed
// for an anomaly.
//
// # Learning
//
// Level stays 0 for the first 12 samples. Learning is set while the
// measurement has less than a day of history or while the slot's own
// weekday has less than 2 effective observations around it (kernel-average
// n on the own day): from the third week of data on, or at once after
// `logtally learn` over a month of logs. Classes appear before that (from
// the 13th sample), with the wider spread that borrowed strength carries.
//
// # Gaps
//
// A missing sample is not a zero: Gap (or simply the next Learn after a
// hole) only fades the short-term levels toward the slot baseline; no slot
// learns anything.
//
// # Persistence
//
// Encode writes a meta record (about 530 bytes: whole-series state,
// calibration record, configuration) and pages of 16 slots × 12 bytes
// (float32 n, m, q); one interval dirties one page, so a commit writes about
// 720 bytes per measurement and 100 trained weekly measurements take 2.5 MB.
// Decode refuses (ErrConfigChanged) a baseline learned with another
// interval, zone or kind; the caller then starts afresh.
//
// Known limits: after a week-long attack the tail calibration is wider, so
// the same attack a week later scores lower (still out, not necessarily an
// anomaly); on stationary Poisson counts _anomaly rises 0–1.4 times per
// week per measurement (0.7 on average), above the one-per-week target for
// a few series.
package history
