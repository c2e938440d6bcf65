#!/usr/bin/env bash
# bench/match.sh: logtally test with examples/rules/ssh.yaml over a
# 1,000,000-line sshd corpus, beside grep -c -x -E run once per pattern and
# grep -c -x -E -f over all patterns, on the same file in the same run.
# Prints wall-clock and CPU (user+sys) seconds and lines/s for each run, the
# best of the runs, and the ratios; checks that every grep count equals the
# number of lines logtally selected for the same pattern. On a busy machine
# trust the CPU column (logtally uses every CPU on a large file, so its
# wall time is below its CPU time).
#
#   bash bench/match.sh            # N=1000000 lines, RUNS=3
#   N=200000 RUNS=5 bash bench/match.sh
#   BEFORE=/tmp/logtally-old bash bench/match.sh   # also time another build, in turn
#
# The corpus repeats a real log with two rsyslog "message repeated 5 times:
# [ Failed password ...]" lines per 2,000, which logtally counts as the 5
# lines they stand for (syslog_repeats) and grep as one line that its
# pattern does not match: the counts are compared with the rules run once
# more with syslog_repeats: off, and the difference is printed.
#
# Every contender writes its output to a file: GNU grep, when its standard
# output is /dev/null, stops at the first matching line, as -q does, and
# counts nothing.
#
# The corpus is built by ../shared/corpus/make-auth-corpus.sh (set CORPUS_SH
# to its path if it lives elsewhere), cached in bench/out.
set -eu
cd "$(dirname "$0")/.."
n=${N:-1000000}
runs=${RUNS:-3}
out=bench/out
mkdir -p "$out"
corpus_sh=${CORPUS_SH:-../shared/corpus/make-auth-corpus.sh}
corpus="$out/auth-$n.log"
if [ ! -s "$corpus" ]; then
	echo "building a $n-line corpus with $corpus_sh" >&2
	sh "$corpus_sh" "$n" "$corpus"
fi
go build -o "$out/logtally" ./cmd/logtally

# The select patterns of the rule file, as POSIX extended regexes: the same
# patterns with \d written [0-9] and (?:…) written (…), anchored with -x.
grep "select_line_matching:" examples/rules/ssh.yaml |
	sed -e "s/^ *select_line_matching: '//" -e "s/'\$//" -e 's/\\d/[0-9]/g' -e 's/(?:/(/g' > "$out/ssh.ere"
grep "handle:" examples/rules/ssh.yaml | sed -e 's/^ *- handle: *//' > "$out/ssh.handles"
# The same rules taking syslog's repeat lines as they are, as grep does.
sed -e 's/^\(  - handle: .*\)$/\1\n    syslog_repeats: off/' examples/rules/ssh.yaml > "$out/ssh-off.yaml"

# timed OUT CMD...: runs CMD with its output in OUT and sets wall and cpu
# (seconds).
timed() {
	local t o=$1
	shift
	t=$( { TIMEFORMAT='%R %U %S'; time "$@" > "$o"; } 2>&1 | tail -1)
	wall=$(echo "$t" | cut -d' ' -f1)
	cpu=$(echo "$t" | awk '{print $2 + $3}')
}

each_pattern() {
	while IFS= read -r p; do
		grep -c -x -E -e "$p" "$corpus" || true
	done < "$out/ssh.ere"
}

lt() { "$out/logtally" test --rules examples/rules/ssh.yaml --log "$corpus" --format json; }
before() { "$BEFORE" test --rules examples/rules/ssh.yaml --log "$corpus" --format json; }
all() { grep -c -x -E -f "$out/ssh.ere" "$corpus"; }

# min A B: the smaller number.
min() { echo "$1 $2" | awk '{print ($1 < $2) ? $1 : $2}'; }

# Warm the page cache so that every contender reads from memory.
cat "$corpus" > /dev/null

patterns=$(wc -l < "$out/ssh.ere")
rate() { echo "$n / $1" | bc -l; }
row() { printf '%-40s %8.3f %8.3f %14.0f %14.0f\n' "$1" "$2" "$3" "$(rate "$2")" "$(rate "$3")"; }
printf '%-40s %8s %8s %14s %14s\n' "($n lines, $patterns patterns)" wall cpu "lines/s wall" "lines/s cpu"
best_before_wall=1e9 best_before_cpu=1e9 best_lt_wall=1e9 best_lt_cpu=1e9 best_each_wall=1e9 best_each_cpu=1e9 best_all_wall=1e9 best_all_cpu=1e9
for run in $(seq "$runs"); do
	timed "$out/logtally.json" lt
	row "run $run: logtally test --format json" "$wall" "$cpu"
	best_lt_wall=$(min "$best_lt_wall" "$wall") best_lt_cpu=$(min "$best_lt_cpu" "$cpu")
	if [ -n "${BEFORE:-}" ]; then
		timed "$out/before.json" before
		row "run $run: \$BEFORE test --format json" "$wall" "$cpu"
		best_before_wall=$(min "$best_before_wall" "$wall") best_before_cpu=$(min "$best_before_cpu" "$cpu")
	fi
	timed "$out/grep-each.count" each_pattern
	row "run $run: grep -c -x -E, once per pattern" "$wall" "$cpu"
	best_each_wall=$(min "$best_each_wall" "$wall") best_each_cpu=$(min "$best_each_cpu" "$cpu")
	timed "$out/grep-all.count" all
	row "run $run: grep -c -x -E -f, all patterns" "$wall" "$cpu"
	best_all_wall=$(min "$best_all_wall" "$wall") best_all_cpu=$(min "$best_all_cpu" "$cpu")
done
echo "best of $runs:"
row "logtally test --format json" "$best_lt_wall" "$best_lt_cpu"
[ -z "${BEFORE:-}" ] || row "\$BEFORE test --format json" "$best_before_wall" "$best_before_cpu"
row "grep -c -x -E, once per pattern" "$best_each_wall" "$best_each_cpu"
row "grep -c -x -E -f, all patterns" "$best_all_wall" "$best_all_cpu"
printf 'time of grep once per pattern / logtally: %.2f (wall), %.2f (cpu)\n' "$(echo "$best_each_wall / $best_lt_wall" | bc -l)" "$(echo "$best_each_cpu / $best_lt_cpu" | bc -l)"
printf 'time of grep -f all patterns / logtally:  %.2f (wall), %.2f (cpu)\n' "$(echo "$best_all_wall / $best_lt_wall" | bc -l)" "$(echo "$best_all_cpu / $best_lt_cpu" | bc -l)"

# The counts must agree: grep's count of each pattern is the number of
# lines logtally selected for the measurement with that pattern, counted
# or ignored (ignore_keys: a trusted source's lines are selected, not
# counted).
"$out/logtally" test --rules "$out/ssh-off.yaml" --log "$corpus" --format json > "$out/logtally-off.json"
selected() {
	python3 -c 'import json,sys
for m in json.load(open(sys.argv[1]))["measurements"]:
    if m["handle"] == sys.argv[2]: print(m["selected"] + m.get("ignored", 0))' "$1" "$2"
}
status=0
paste -d' ' "$out/ssh.handles" "$out/grep-each.count" | while read -r handle count; do
	got=$(selected "$out/logtally-off.json" "$handle")
	if [ "$got" != "$count" ]; then
		echo "MISMATCH: $handle: logtally selected $got lines, grep counts $count" >&2
		exit 1
	fi
	expanded=$(selected "$out/logtally.json" "$handle")
	[ "$expanded" = "$got" ] || echo "$handle: $expanded with syslog's repeat lines expanded, $got lines as they are"
done || status=1
[ "$status" -eq 0 ] && echo "counts: logtally's selected lines (syslog_repeats: off) equal grep's count for all $patterns patterns"
exit "$status"
