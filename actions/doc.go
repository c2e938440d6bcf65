// Package actions turns the classes of each interval into what they are
// for: it keeps classes over time (persistence, user classes), detects the
// guards of commands and reports that rose, applies ifelapsed, and runs the
// commands and delivers the reports.
//
// # Two steps: decide inside the commit, execute after it
//
// Each interval the daemon calls [Engine.Decide] inside the interval's state
// transaction, then [Engine.Execute] once that transaction has committed.
// Decide reads everything it remembers from the transaction and writes its
// changes into it, so the decision and the samples that led to it are
// committed together. A crash after the commit but before the run never
// re-fires a command on restart (at most once), and a commit that fails
// leaves nothing behind: the next interval decides again from the old state.
//
// # Classes over time
//
// The classes of an interval are, in this order:
//
//  1. any, which is always set (nothing is never set);
//  2. the measurement classes the daemon passes in [Interval.Classes];
//  3. the hard classes: CFEngine's time classes of the interval's start in
//     the baseline's time zone (rules.TimeClasses) and the host classes
//     (rules.HostClasses). They are seen by every expression but are not
//     among the classes of the decision, which would otherwise change
//     every few minutes;
//  4. persistent classes still alive from earlier intervals;
//  5. user classes (classes: in rules), evaluated in definition order and
//     iterated to a fixpoint, so that they may refer to each other in any
//     order. Starting from "unset", repeated passes reach the least
//     fixpoint of expressions without negation (a: b, b: a|x sets both
//     when x is set). A cycle through negation (p: !q, q: p) has no
//     fixpoint: evaluation stops after one pass more than there are user
//     classes, keeps the last pass and logs the classes that did not
//     settle, once.
//
// Persistence follows CFEngine. A class with a persistence of p stays set
// until p after the end of the last interval that set it. Of the
// measurement classes only h_high_dev2, h_low_dev2, h_high_anomaly and
// h_low_anomaly persist, with the measurement's persist: and policy:;
// the direction classes, _dev1 (one standard deviation, set most days for
// nothing) and _microanomaly are facts of one interval and never persist.
// User classes persist with their own persist: and policy: (default 10m,
// preserve). With policy preserve a new setting while the class still
// persists does not move its expiry; with reset each setting restarts the
// timer. A persisted class whose expression or measurement no longer sets
// it keeps only its own name: persisting h_high_anomaly does not set
// h_high.
//
// Persistent classes are stored with their expiry under class/<name> and
// survive a restart. The last decision's active classes, with the expiry of
// the persistent ones, are stored under actions/active: they are the
// previous interval for [Decision.Changes] (so a restart reports no
// spurious change) and what [Engine.Active] shows before the first
// interval of a new process.
//
// Expressions (user classes, guards) see the interval's variables
// ([Interval.Vars]) for their comparisons (value_h > 50); a comparison of
// a variable without a value is false.
//
// # Edge-triggered guards and ifelapsed
//
// A command or report fires when its if: expression is true now and was
// false at the previous interval. The previous value is stored under
// guard/<handle> ("1" while true, absent while false), so after a gap the
// previous value is the one stored: a restart never re-fires a guard that
// was already true, and a command new to the rule set fires at its first
// interval if its guard is already true.
//
// A rise within ifelapsed of the last firing of the same handle is
// suppressed. The time of each firing is stored under lock/<handle> in the
// same transaction. Times are the ends of intervals, not the wall clock,
// so replaying history behaves as live running. If the stored time lies in
// the future (the clock was set back), the lock holds for at most
// ifelapsed more.
//
// A rise is also suppressed while a run of the same command is still going
// or waiting for a slot: there are never two runs of one handle at once.
// When the command has expireafter and the run has been going for at least
// that long, the old run is killed (reported as expired) and the new one
// starts as soon as it is gone.
//
// Guards and locks of handles that are no longer in the rule set are
// deleted at the first decision of a new Engine.
//
// # Per-source firings
//
// A command or report with per: key fires once per source: while its
// guard is true, each top source of the keyed measurements it refers to
// (rules.Command.PerKey) that the guard's current true stretch has not yet
// seen fires it once, with the source in $(key). The stretch's sources are
// stored under guard/<handle> as a JSON list, deleted when the guard
// falls; ifelapsed holds per source, under keylock/<handle>/<source>, and
// those locks are deleted as soon as they no longer hold, so that sources
// an attacker invents leave nothing behind. The runs of two sources may
// go side by side; never two of one source.
//
// # Notices and the notice policy
//
// Each rise of a class the rules name (rules.Set.NoticeClasses, or a
// pattern of settings.priorities) is a [Notice], with its priority
// (rules.Set.PriorityOf), its source (the top key of the first keyed
// measurement of the class) and a message. The policy's first matching
// entry (class pattern, priority, predicate) decides: ignore, log, alarm
// (delivered as a report to the entry's to:) or page (a command, run as
// commands are, with $(notice), $(priority), $(key) and $(message)); a
// notice no entry matches is logged. With suppress:, an alarm or page
// opens a window (per class, or per class and source with per: key,
// under notice/suppress/<policy>/<class>[/<source>]) in which the same
// notices are suppressed and counted (notice/tally/<policy>/<class>); once
// the entry's tally: period has passed since the first of them, a tally
// line sums them up. Notices and tally lines are decided in Decide with
// everything else, and appended to the notice log ([Options.NoticeLog])
// by Execute, one JSON object a line, each with the action taken.
//
// # Variables
//
// $(name) is expanded inside each argv element, env value and report
// message, once and from left to right: text that an expansion inserts is
// never expanded again, so a key containing $(reboot) stays that text.
//
//   - $(value_h), $(av_h), $(dev_h), $(z_h), $(entropy_h) and any other
//     name in [Interval.Vars]: numbers. Integral values up to 2^53 are written as
//     integers; others as decimals rounded to 10 significant digits, in
//     exponent notation only from 1e21 on (num.Precise); NaN and
//     infinities as NaN, +Inf, -Inf.
//   - $(top_h) and any other name in [Interval.Keys]: text from a log line.
//   - $(classes): the active classes, sorted, separated by spaces ("any"
//     is not listed).
//   - A variable of a measurement of the rule set that has no value this
//     interval expands to the empty string.
//   - Any other $(x) stays as written and is logged once per Engine.
//
// Text from a log line is only ever the content of one argv element or an
// environment value. Defence in depth, at the point where it meets a
// command (the daemon validates keys as it extracts them, and rules
// refuses $(top_...) in a shell: true command):
//
//   - a command whose argv or env: uses a key that fails its
//     measurement's key_type (ip: an address without zone; word:
//     [A-Za-z0-9._@-], 1 to 256 bytes) is refused and counted;
//   - a shell command whose argv would carry text from a log line is
//     refused and counted;
//   - a command whose argv or env: values contain a NUL byte is refused
//     and counted;
//   - a LOGTALLY_TOP_<h> variable whose key fails its key_type or holds a
//     NUL byte is left out of the environment, so that it blocks no
//     command that does not use it.
//
// Reports are for people and never run anything: a key that fails its
// key_type is shown there, escaped as below.
//
// # Environment of commands
//
// A command gets the base environment ([Options.Environ], or the daemon's),
// then its env: (expanded as above), then these variables, which override
// both:
//
//	LOGTALLY_HANDLE          the command's handle
//	LOGTALLY_GUARD           its if: expression
//	LOGTALLY_CLASSES         as $(classes)
//	LOGTALLY_INTERVAL_START  the interval, RFC 3339 in UTC
//	LOGTALLY_INTERVAL_END
//	LOGTALLY_VALUE_<h>       per measurement h with a value this interval:
//	LOGTALLY_AV_<h>          the same numbers as $(value_h), $(av_h),
//	LOGTALLY_DEV_<h>         $(dev_h), $(z_h), $(entropy_h) and $(top_h)
//	LOGTALLY_Z_<h>
//	LOGTALLY_ENTROPY_<h>
//	LOGTALLY_TOP_<h>
//
// <h> is the measurement handle exactly as written (LOGTALLY_VALUE_ssh_probe):
// handles are case-sensitive, and folding them to upper case could give two
// measurements one name.
//
// # Runs
//
// A command runs without a shell: argv[0] is looked up in the daemon's
// PATH when it has no slash. shell: true runs [Options.Shell] -c argv[0] <handle> argv[1:]...,
// so the handle is $0 and further elements are $1, $2... Each run is the
// leader of a new process group, with standard input /dev/null. It ends
// when its leader has exited and its standard output and error are closed,
// so a background child that keeps them open is part of the run. A run
// still going at its timeout, expired, or still going when [Engine.Wait]'s
// context ends, has its whole process group sent SIGTERM, then SIGKILL
// after [Options.KillGrace]. A child that redirected its output and left
// the group (a daemon) is not touched.
//
// At most [Options.MaxConcurrent] commands run at once; the others wait in
// a queue of [Options.QueueSize] in firing order; a firing that finds the
// queue full is dropped, logged and counted. Standard output and error are
// captured up to [Options.OutputCap] bytes each; the rest is read, counted
// and dropped. Each run is logged as one structured line, whatever the
// handler: argv as Go-quoted strings, output escaped as report text is
// (below), with the exit status or signal, duration and guard. It is kept
// in [Engine.Recent] and counted in [Engine.Stats]. A reload builds the new
// Engine with [Engine.Rebuild], which keeps the runs, queue and counters.
//
// # Reports
//
// A report's message is expanded as above; text from a log line is cut to
// 256 bytes first. The whole message is then made one line: control
// characters, invalid UTF-8 and Unicode line separators and direction
// overrides are written as Go escapes (\n, \x1b, \u2028), and it is cut to
// 4 KiB. It is delivered, in firing order, to
//
//   - stderr: "<interval end> <handle>: <message>";
//   - a file: the same line appended to the file, which is opened for each
//     report (so rotation needs no signal), created with mode 0640 if
//     missing, and must be a regular file;
//   - syslog: "<handle>: <message>" at daemon.warning with tag logtally, to
//     the local syslog daemon; when none is reachable the line goes to
//     stderr instead and the error is counted.
//
// # Dry run
//
// With [Options.DryRun], Execute logs what each firing would do (argv as
// expanded and the environment additions, or the report and its
// destination) and records it in [Engine.Recent] with DryRun set; nothing
// is run or delivered. Decisions are made and stored as in a real run.
package actions
