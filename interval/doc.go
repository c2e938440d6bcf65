// Package interval is logtally's interval engine: everything that turns the
// lines of a stream into the samples of an interval and the samples into
// what the rest of the program writes, as a pure computation without I/O.
// `logtally run`, `test`, `learn` and `backtest` all drive it.
//
//   - Streams: which stream a measurement reads (Kind, SourceOf) and the
//     measurements that share one (Group), matched once per line.
//
//   - Folding: a line's hits become part of an interval's values in one
//     place, Fold, which dates each line (Dating: by arrival, by its own
//     timestamp within bounds for a backlog, or unbounded for a replay of
//     logs) and folds it into that interval's accumulators. A line in which
//     syslog says that a message was repeated N times (package repeats)
//     counts there as the N lines it stands for (syslog_repeats): rsyslog's
//     with its wrapper removed, BSD syslogd's as N more of the line before,
//     whose hits each source of a stream keeps between batches (LastLine).
//
//   - Values: an Accumulator folds one measurement's hits with CFEngine's
//     data types and multiline policies:
//
//     counter: the number of selected lines. With an extraction_regex, only
//     selected lines whose extraction succeeds count; a failed extraction is
//     an extraction miss, never a zero sample.
//     int, real: the number extracted from each selected line
//     (match.ParseNumber), folded by select_multiline_policy: sum, average,
//     first or last (the default, as CFEngine). An int value is truncated
//     toward zero per line; an int average keeps its fraction (the average
//     of integers is a real number: cf-monitord divides the sum by the
//     count). A line whose extraction or number fails is an extraction
//     miss. An interval with no value has no sample (a gap) unless the
//     policy is sum, whose empty value is 0.
//
//     Keys (the first group of `key`) are counted per interval for entropy
//     and the top source. A key is validated by the rule's key_type before
//     it is counted; a rejected key is counted as such and dropped.
//
//     slist: the distinct values (the first group of extraction_regex, or
//     the whole line) are the keys, and their number the value; with
//     expect: the sample names the unexpected and missing ones and sets
//     h_unexpected and h_missing. string: the last value, as text.
//     select_line_number keeps only the n-th line of each interval of a
//     snapshot stream. An observable's reading becomes an accumulator
//     (Sampled) that joins the close like any other.
package interval
