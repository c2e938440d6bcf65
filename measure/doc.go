// Package measure reads streams once, to the end, for the commands that do
// not follow them: `logtally test` evaluates every measurement over the
// whole current content of its stream (Evaluate: a block scan, a large file
// folded in parts on every core), and `logtally learn` and `logtally
// backtest` replay logs and their rotated versions by the lines' own
// timestamps (Replay, RotatedSiblings, OpenFile). Every line is folded by
// the interval engine (package interval), as the daemon folds it.
package measure
