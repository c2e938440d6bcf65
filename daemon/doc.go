// Package daemon is `logtally run`: it follows every stream of the rules,
// schedules the intervals, and commits, in one state transaction per
// interval, what the interval engine (package interval) computed from the
// lines — the samples, the baselines, the line-protocol points for every
// destination (an outbox drained by output.Sender) — with the stream
// positions that produced them and the actions engine's decision. Then it
// runs the commands and reports whose guards rose. Compute first, then
// write: the engine's Close computes everything of an interval; the commit
// only applies it. It also drives the engine for `learn` and `backtest`,
// and reads the state file for `status` and `graph`.
//
// # Exactly once
//
// A line is counted when it is folded into an accumulator; the stream
// position just after it is recorded in the same critical section. At the
// end of an interval the accumulators and positions of every stream are
// taken together and committed in one transaction, so the committed
// positions always describe exactly the lines the committed samples count.
// After a crash (kill -9 at any moment) the daemon resumes from the committed
// positions: what was read but not committed is read again, and counted once.
// follow verifies each saved position (device, inode, fingerprints of the
// file's head, of windows sampled across it and of the bytes before the
// offset) before trusting it. The positions that follow's events carry
// (a file opened, rotated away, truncated, moved; a position no longer
// needed, dropped only while its name still holds that file) are folded in
// the same way, in the order they happened.
//
// A commit that fails (a full disk) is kept and retried with the next one;
// nothing read is dropped.
//
// # Time
//
// Intervals are aligned to the wall clock (multiples of the interval since
// the Unix epoch). A line read live belongs to the interval in which it is
// read. Lines that were appended while logtally was down (follow marks them
// Backlog) belong to the interval of their own timestamp (package
// timestamp), between the end of the last committed interval and now; a
// backlog line without a recognisable timestamp, or with one outside that
// range, goes to the current interval. Each sample counts how many lines
// were attributed which way (Backdated, Undated). When a file was followed
// continuously (its position resumed, or its rotated predecessor found and
// drained), every interval of the downtime gets a sample, zero where nothing
// was written; otherwise the downtime is a gap, not a zero.
//
// SIGTERM closes the current interval early: its partial accumulators are
// committed as the open interval (key open/<handle>) with the positions, the
// baseline does not learn from them, no point is written, and the next
// start continues the same interval from them (or, if it has passed,
// completes it from the backlog) and writes it once, complete.
// A measurement's total — the sum of every value committed since the state
// file began — therefore counts every line exactly once, which `status`
// shows so that exactly-once can be checked from outside.
//
// # State keys
//
//	pos/<source>\x00<path>    follow.Position of one file of one stream
//
// The interval engine owns the keys of what it computes (samples, totals,
// partial intervals, baselines per interval width, recent values, the
// committed end): see package interval.
//
// Other packages own their prefixes: actions (classes, guards, last runs),
// output (spool/), tripwire (watch/: the file watches' baselines, what
// they saw, their progress).
//
// # Observables and file watches
//
// The host observables (observe:) are sampled at each close, from /proc
// and the kernel (package observe), within DefaultSampleLimit, and join
// the interval as samples of their own; one that cannot be read is a gap.
// A snapshot stream (an interval command, a file read whole, an
// observable) with ifelapsed is sampled only when it is due; the intervals
// in between repeat its last sample. Each file watch (watch_files) scans
// on a goroutine of its own, started at the beginning of an interval and
// taken at the close; its classes, variables and the state of its scan
// are part of that close's transaction, and its changes are appended to
// the change log once committed. A request of `logtally accept-changes`
// for a running daemon is applied at a close, in its transaction.
package daemon
