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
// S slots of width w = max(Interval, week/2016): at least five minutes, so
// a 1-second interval keeps 2016 slots, not 604800. A sample at t belongs
// to slot floor(secondsSinceMonday(t in zone)/w), so samples off the grid
// go to the slot that contains them. A repeated local hour (DST end) maps
// twice to the same slots, a skipped one is never visited. Slot s keeps
//
//	n_s ← ρ_v·n_s + ω,   m_s ← m_s + ω(ŷ − m_s)/n_s,   q_s ← q_s + ω(e² − q_s)/n_s
//
// with ω = Interval/w the weight of one sample (one weekly visit of a slot
// weighs 1 however many intervals it holds) and ρ_v = 2^(−week/HalfLife)
// applied once per weekly visit, on the visit's first sample, 1 on the
// others (so n_s tends to 1/(1−ρ), 6.3 at the default four weeks); e the
// prediction error of the sample, ŷ the sample clipped to the anomaly
// level around the prediction. Every sample is scored against its slot as
// it stands. A squared error beyond (3σ)² is an outlier and leaves q_s as it
// is: outliers move a slot's mean by at most a few deviations per visit and
// its spread not at all, so a lasting change (taken up by the local level
// first, after which its errors are ordinary) is absorbed in weeks, and an
// attack does not become the norm.
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
// day); M is the plain mean of the samples of the first slot visit (the
// first sample at 5 minutes and more, the first 300 at 1 second), which
// otherwise would hold the first sample for a day at short intervals,
// whose slots hold many samples of a fraction of a visit each. A young slot therefore leans on its neighbours, then on the same time
// on other days (fully when the days agree, not at all when they differ, as
// weekends do), then on the whole series, and its larger Var(ȳ) widens the
// spread instead of raising false alarms. A short-term level L (for
// non-stationary series) is added: μ = clamp(ȳ + L_k, y_min, y_max), where
// the candidates L_1..L_3 are exponential averages of y − ȳ with half-lives
// 2 h, 12 h and 3 days (L_0 = 0), fed residuals clipped at the dev2 level;
// the candidate in use is the one with the smallest recent squared error
// (half-life 2 days, switched only when another is 10% better). y_min and
// y_max are the least and greatest values ever learned: a season and a
// level that both pull one way can add up to an expectation no sample has
// ever reached (a CPU share above 100%, a rate below zero after a drop),
// and a sample is never judged against that. The spread is
//
//	σ² = max(q̂ + Var(ȳ), floor) · max(1, Z2)
//
// with floor = 1 for counts (Poisson: 0→2 is never an anomaly) and
// (1% of the mean |y|)² for real values, so the variance cannot collapse
// after a quiet stretch; Z2 is the forgetting mean (half-life four weeks)
// of min(z², 9)/E[min(Z², 9)] over the samples that are not anomalies (a
// bulk calibration, ≤ 1 when σ is honest).
//
// # Evidence and calibrated z
//
// Counts are bursty and heavy-tailed, so a Gaussian 3σ would fire several
// times a day. Three kinds of evidence, on three time scales, are computed
// for each sample:
//
//	point:  a = (y − μ)/σ
//	run:    R ← (1−λ)R + λ·clip(a, ±4),   r = R/sqrt(λ/(2−λ))
//	slow:   S ← (1−λs)S + λs·clip((y − ȳ − L_3)/σ, ±4),   s = S/sqrt(max(λs/(2−λs), E[S²]))
//
// with λ = 1 − 2^(−Interval/h), h = max(30 min, 3 intervals): r is a run of
// moderately surprising samples (a level shift, a drift, a dropout to
// zero, a change of variance), which no single sample shows. The slow run
// (half-life max(12 h, 3 intervals)) is measured against the seasonal
// expectation with only the three-day level, so it still sees an
// excursion or a drift of hours that the faster levels have taken up, and
// it is standardised by its own recent spread, E[S²] a forgetting mean
// (half-life three days) of S², each sample's square capped at nine times
// the mean so far: how unusual the recent deviations are against the
// recent distribution of such deviations (the idea of an anomaly
// likelihood), so that a series whose residuals wander for hours is not
// always "slow-anomalous". Each side
// (high, low) of each kind has its own exceedance record, since real counts
// have a heavy upper tail and a light lower one: how often episodes of
// |a| (or |r|) reached the levels 1.5·1.25^k. An episode is a run of
// samples above 1.5, ended by min(6, 30 min) quiet samples in a row; it
// counts once, at its peak, capped at 1.3·L3, so that one attack cannot
// declare attacks normal. The record forgets with a half-life of four
// weeks and starts from 288 seconds' worth of Gaussian pseudo-samples (one
// sample at a five-minute interval, so the record speaks for itself almost
// at once). Rates down to
// one episode in p_a = 12 h and p_b are read off the record: p_b is 2 days,
// or rarer once the record is long enough to hold 6 episodes at a rarer
// rate (6/N per sample, N the record's forgetting count of samples: one
// episode in about 4 days after six weeks of samples, 7 days at most),
// so that a heavy tail that shows only every few days is measured, not
// guessed. Rarer rates,
// which the record cannot measure, are extrapolated as an exponential tail
// through those two levels:
//
//	L(p) = L_b + s·ln(p_b/p),   s = max((L_b − L_a)/ln(p_a/p_b), 1/L_b)
//
// (never thinner than a Gaussian tail). L2 and L3 are the levels of the
// target rates, on the high side of each kind: dev2 once in three weeks;
// anomaly once in four weeks for the point evidence, once in eight weeks
// for the run and once in two weeks for the slow run; the low side of
// each half as often. L2 ≥ 2, L3 ≥ max(3, 1.05·L2). For points and runs
// the anomaly level thus lies beyond the dev2 level by the series' own
// tail (s·ln(4/3) and s·ln(8/3) on the extrapolated tail), so that a
// heavy-tailed series needs a larger excursion for _anomaly than for
// _dev2, not 5% more; a run's target is the rarer because runs of
// moderate deviations (drifts, residuals correlated for hours) are
// common on real series and mostly not incidents. For the slow run the
// anomaly target is the more frequent one, so its L3 is in effect 1.05·L2.
// (Measured on the labelled series, bench/detection.sh, standard profile at
// threshold 1: one anomaly target of two weeks for every kind scored 74.0
// on the part tuned on and 67.2 on the part held out, these 74.5 and
// 68.0; a point target of five weeks loses windows.) The targets are rates in time for intervals up to five
// minutes; a longer interval keeps the per-sample rates of a five-minute
// one (an anomaly of the point evidence once in 8064 samples): at an
// hourly interval, once in four weeks would be once in 672 samples, too
// common to tell from noise. A source's deviation maps to
//
//	|z| = 2|a|/L2 for |a| ≤ L2,   2 + (|a|−L2)/(L3−L2) up to L3,   3|a|/L3 beyond
//
// and the calibrated z is that of the stronger source among those that
// point the sample's own way: the direction is always the sample's (the
// sign of y − μ), and run evidence raises or holds the level of a sample
// that deviates the same way, never flips it (just after a storm, a quiet
// value is low or normal, not a high anomaly). Its level is 1 for |z| ≥ 1,
// 2 for |z| ≥ 2 and 3 for |z| ≥ 3; on stationary data the sources together
// raise _anomaly well under once a week, and a burst far beyond anything
// seen is an anomaly in its first interval. For mostly-zero counts a
// tenfold burst of a fraction of an event is within Poisson noise: at a
// level of 0.2 per interval about 7 to 10 events are needed for an anomaly.
//
// A value never seen is news, whatever the calibration: once the baseline
// has five days of history (time for its range to be explored over the
// daily cycles of the working days: a younger series sets new records as
// a matter of course; on the labelled series five days caught one window
// more than a week, at one false alarm more, and four to five and a half
// days score alike), a sample beyond the
// range of every value learned (y_min to y_max) by more than 5% of its
// width, on the side it deviates, gets level 3 (still subject to the rules
// below: at least 3 deviations out, the noise threshold, the episode). A heavy-tailed series, whose
// calibrated levels sit beyond its frequent spikes, thus still alarms at
// a spike larger than any before; a spike within the range is judged by
// the calibration alone.
//
// # What Av, Dev and Z say
//
// They are on the measurement's own scale, arithmetic a reader can check.
// Av = x(μ) is the expected value (x the inverse of the scale's transform:
// for counts x(y) = y²/4 − 3/8, the median of the forecast), Dev the
// standard deviation of a sample around it, the spread σ of the classes:
// Dev = σ for real values, and for counts, whose band of ±1 deviation is
// x(μ ± σ) = Av ± μσ/2 + σ²/4, its half-width Dev = μσ/2 (μ at least that of
// a zero count); for Poisson counts (σ = 1) that is sqrt(Av + 3/8), about
// the Poisson standard deviation (3.2 at a mean of 10). The learned week
// (Week, the band of `logtally graph`) uses the same formula. The reported
// Z = (Value − Av)/Dev, and the level k (dev1, dev2, anomaly) is the
// calibrated one, but never more than |Z|: a class dev_k means at least k
// deviations out, as CFEngine's, and the rarity its calibration demands
// (on a heavy-tailed series, value 25 against av 10 ± 3.2 is 4.7
// deviations out and may be only dev2). The direction class follows the
// sign of Z.
//
// A deviation |Value − Av| below the noise threshold (Config.Noise, the
// rule key noise_threshold; by default 5 for counts, as cfenvd, and none for
// real values) is too small to matter: it raises no dev class, and when it
// is at least 2 deviations out (|Z| ≥ 2) it is a microanomaly,
// h_high_microanomaly or h_low_microanomaly with h_high or h_low: out by
// the statistics, too small to act on.
//
// # Refractory alarms
//
// Few, well-timed alarms are the goal. After an alarm episode (level 2 or
// 3, consecutive samples with |z| ≥ 2), for 24 hours a new alarm from the
// same kind of evidence (point, run or slow) is held back to level 1 unless
// its strength exceeds 1.2 times the peak of the last alarm's: an alarm no
// stronger than the one of a few hours ago is no news, however far out it
// is. The strength is the sample's deviations |Z| for point evidence and
// the standardised statistic (|r|, |s|) for a run; not the calibrated z,
// which shrinks as the records learn from the very alarm it would be
// compared with. Z itself is reported unchanged; evidence of another kind
// is not held back by this rule, so a burst after a drift, or a drift
// after a burst, still alarms at once, unless it is the same episode:
//
// An anomaly is one episode however its samples go in and out of the
// anomaly level or change sides. An anomaly whose previous sample was not
// one on the same side, less than 2 hours after the last sample with
// anomaly-level evidence (given or held back), is held back to level 2,
// whatever kind of evidence raises it, unless it is at least 1.4 times as
// many deviations out (|Z|) as the farthest sample of the episode (a storm
// half as large again is news; one that creeps up is not): a storm
// with lulls, a spike and the dip after it (the levels it pulled up), or a
// shift while the levels take it up raises _anomaly once; consecutive
// anomalous samples on one side keep the level.
//
// Both rules remember alarms per source (ObserveFrom): a high sample
// whose top key accounts for at least half of its excess over Av has that
// key as its source, and is compared only with the alarms and the
// anomaly episode of its own source, so that a storm from a new address
// is news however recent another address's storm of the same size, and
// the same address storming again is held back as above; a sample without
// a source (no key, a low sample, a storm of many sources none of them
// dominant) is compared with the last alarm and episode of any sample. At
// most 16 sources are remembered (the one whose alarm is oldest is
// forgotten first), each for a day after its last alarm.
//
// # Learning
//
// _learning is set while the measurement has fewer than 12 samples, less
// than a day of history, or while the slot's own weekday has less than 2
// effective observations around it (kernel-average n on the own day): from
// the third week of data on, or at once after `logtally learn` over a month
// of logs. Classes appear before that, with the wider spread that borrowed
// strength carries: neighbouring slots, the same time on other days and
// the whole series all feed the forecast, so a baseline trained by
// `logtally learn` judges its very first live sample in full.
//
// A fresh baseline has only its own few samples. For its first 12, the
// point deviation a is read as a Student-t statistic with n − 1 degrees of
// freedom (n the samples so far), converted to the Gaussian deviation of
// the same tail probability, and compared with the levels of the target
// rates under the Gaussian prior; runs are not judged. Nothing is judged at
// the first two samples (the first has no Av, Dev or Z at all: NaN); a 60-event burst on a series of about 1 per
// interval is an anomaly by the 9th.
//
// # Gaps
//
// A missing sample is not a zero: Gap (or simply the next Learn after a
// hole) only fades the short-term levels toward the slot baseline and the
// run statistics toward 0, and ends any episode; no slot learns anything.
//
// # Held classes
//
// The classes that persist (Persists: _high_dev2, _low_dev2, _high_anomaly,
// _low_anomaly) stay set for a persistence after the interval that set
// them, with CFEngine's policies: preserve (a setting while still held
// keeps the first expiry) or reset. Persistent is that record, which the
// actions engine keeps in the state file, and Hold applies it to a replay
// (Backtest here, the interval engine's rows for `logtally backtest`), so
// that a class rises in a replay exactly when it rises in the daemon.
//
// # Persistence
//
// Encode writes a meta record (about 940 bytes: whole-series state, the
// six exceedance records as float32 counts, configuration, and 48 bytes
// per source whose alarm is remembered, the key as a 64-bit hash; the levels
// calibrated from the records are recomputed by Decode, not stored) and
// pages of 64 slots, compact: per field (float32 n, m, q) a mask of the
// slots whose value differs from the slot before, and those values only.
// A busy series' page takes at most 792 bytes (n seldom changes: about
// 540); a page of a series that never sees a line, or of one whose value
// repeats, a few dozen. One interval dirties one page, so a commit writes
// at most 1.7 KB per measurement and 100 trained weekly measurements take
// at most 2.5 MB. The baseline reads its slots in place from the page
// strings it was decoded from (which the state file holds in memory
// anyway), and decodes a page only while it changes. Decode reads flat
// pages (12 bytes a slot, before version 7) and pages of 16 slots, as
// they were written before, too, and the next Encode writes them all
// again, compact, in pages of 64. It reads the format before
// the slow run statistic (version 2) too, its slow records starting as
// the Gaussian record of its history, the one before the range of
// values (version 3), whose range is taken as that of its slots' means two
// deviations either way, the one before anomaly episodes (version 4),
// with no episode under way, and the one before the alarm memory per
// source (version 5), with no source remembered; it refuses (ErrConfigChanged) a
// baseline learned with another interval, zone or kind, and the caller
// then starts afresh.
//
// Known limits: the run evidence raises false alarms on series whose
// residuals stay biased for hours (real-valued sensor series with slow
// drifts), which the refractory rule only thins out; and the first week of
// a series, while the exceedance records fill, alarms more often than
// later ones. A drift slow enough for the local levels to follow never
// puts a sample 3 deviations from Av, so it raises no _anomaly whatever
// the slow evidence says: the slow evidence raises the level of samples
// that are out, it does not make samples out.
package history
