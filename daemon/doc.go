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
// A batch of lines is folded into its interval's accumulators, and the
// stream position just after it recorded, in one step (see stream). When
// an interval of a stream is complete, its accumulators and positions are
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
// read: its batch is stamped with that interval when the follower hands it
// over, and matched outside any lock the commit needs. At the end of an
// interval every stream reads what was written before it (a check of its
// files, the read of a whole file), concurrently and within cutBudget,
// then moves on to the next interval; the interval is committed for every
// stream that is complete. A stream that is not (a matcher at its regex
// time limit, the output of an interval command killed at the interval's
// end still draining) is late with its own samples only: they are
// committed on their own, exactly once, with their positions, as soon as
// they are complete, and their classes join the next decision (the
// interval's own decision keeps its measurements' latest classes); no other stream waits for it, and no interval of another
// stream takes its lines. Lines that were appended while logtally was down (follow marks them
// Backlog) belong to the interval of their own timestamp (package
// timestamp), between the end of the last committed interval and now; a
// backlog line without a recognisable timestamp, or with one outside that
// range, goes to the current interval. Each sample counts how many lines
// were attributed which way (Backdated, Undated). When a file was followed
// continuously (its position resumed, or its rotated predecessor found and
// drained), every interval of the downtime gets a sample, zero where nothing
// was written; otherwise the downtime is a gap, not a zero.
//
// # Streams that cannot be read
//
// An interval in which a stream could not be read is unavailable: a file
// stream with no file open at the interval's end (missing, unreadable; a
// glob matching nothing), a stream command that exited, could not start or
// was killed during the interval or is not running at its end, an interval
// command whose run failed, could not start, was killed at its timeout or
// at its interval's end (a run never outlives the interval it is for, so
// that the next one starts on time) or did not run, a whole file that could not be read. Its measurements'
// samples set h_unavailable and teach the baseline nothing; without a line
// read they have no value (a gap, not a zero), and the lines read before
// the stream failed are counted. The first unavailable interval of an
// outage is logged (WARN, once per outage and process), and so is the first
// available one after it (INFO); /metrics has stream_up and
// stream_unavailable_intervals_total, the status page marks the stream
// down, and down/<source> (since, why) tells `status`.
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
// # Reload
//
// SIGHUP swaps in the new rules between two lines: a stream the new rules
// still have keeps its follower, positions and the intervals folded so far
// (its measurements regrouped by handle). A stream they no longer have (a
// measurement's path or command changed) first reads what was written
// before the reload (a file stream), then stops; what it read is
// committed with the next close, with its positions, and counts for the
// measurements that still exist in the intervals it was read in (an
// interval's sample holds the lines of the old stream and of the new). A
// stream that a reload brings back before that close resumes where the
// retired one stopped, not from the committed position, so that nothing
// is counted twice. Before the swap every file stream reads what was
// written until then, under the rules it was written under. What a
// measurement the new rules no longer have counted in the interval under
// way is committed as that interval's partial sample, as a shutdown
// commits it: in its total, without a point; the reload logs which
// measurements it removed. A run in progress of an interval command or a
// file read whole that a reload removes is dropped: its value is of the
// whole run.
//
// # State keys
//
//	pos/<source>\x00<path>    follow.Position of one file of one stream
//	down/<source>             an outage of a stream: since when, why
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
// and the kernel (package observe), each source on a goroutine of its
// own, and join the interval as samples of their own. The commit waits
// for them within the cut budget, except for those whose last reading took
// longer (or whose source was still busy): it does not wait for a reading
// that is not expected to make it. An observable read later is committed
// late, on its own, and its sample joins the next decision, so that a slow
// source (a process with a million open files for listening_ports, a disk
// that hangs in statfs) delays no other stream's commit, and after its
// first slow reading no commit at all. One not read within its expireafter
// (DefaultSampleLimit), or whose source is still busy with an earlier
// interval, is a gap.
// A snapshot stream (an interval command, a file read whole, an
// observable) with ifelapsed is sampled only when it is due; the intervals
// in between repeat its last sample. Each file watch (watch_files) scans
// on a goroutine of its own, started at the beginning of an interval and
// taken at the close; its classes, variables and the state of its scan
// are part of that close's transaction, and its changes are appended to
// the change log once committed. A request of `logtally accept-changes`
// for a running daemon is applied at a close, in its transaction.
package daemon
