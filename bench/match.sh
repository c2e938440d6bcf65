#!/usr/bin/env bash
# bench/match.sh: logtally test with examples/rules/ssh.yaml over a
# 1,000,000-line sshd corpus, beside grep -c -E run once per pattern and
# grep -c -E -f over all patterns, on the same file in the same run.
# Prints wall-clock and CPU (user+sys) seconds and lines/s for each, and the
# ratios. On a busy machine trust the CPU column.
#
#   sh bench/match.sh            # N=1000000 lines
#   N=200000 sh bench/match.sh
#
# The corpus is built by ../shared/corpus/make-auth-corpus.sh (set CORPUS_SH
# to its path if it lives elsewhere), cached in bench/out.
set -eu
cd "$(dirname "$0")/.."
n=${N:-1000000}
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

# timed CMD...: runs CMD and sets wall and cpu (seconds).
timed() {
	local t
	t=$( { TIMEFORMAT='%R %U %S'; time "$@" > /dev/null; } 2>&1 | tail -1)
	wall=$(echo "$t" | cut -d' ' -f1)
	cpu=$(echo "$t" | awk '{print $2 + $3}')
}

each_pattern() {
	while IFS= read -r p; do
		grep -c -x -E -e "$p" "$corpus" || true
	done < "$out/ssh.ere"
}

# Warm the page cache so that every contender reads from memory.
cat "$corpus" > /dev/null

timed "$out/logtally" test --rules examples/rules/ssh.yaml --log "$corpus" --format json
lt_wall=$wall lt_cpu=$cpu
timed each_pattern
each_wall=$wall each_cpu=$cpu
timed grep -c -x -E -f "$out/ssh.ere" "$corpus"
all_wall=$wall all_cpu=$cpu

patterns=$(wc -l < "$out/ssh.ere")
rate() { echo "$n / $1" | bc -l; }
printf '%-36s %8s %8s %14s %14s\n' "($n lines, $patterns patterns)" wall cpu "lines/s wall" "lines/s cpu"
printf '%-36s %8.3f %8.3f %14.0f %14.0f\n' "logtally test --format json" "$lt_wall" "$lt_cpu" "$(rate "$lt_wall")" "$(rate "$lt_cpu")"
printf '%-36s %8.3f %8.3f %14.0f %14.0f\n' "grep -c -x -E, once per pattern" "$each_wall" "$each_cpu" "$(rate "$each_wall")" "$(rate "$each_cpu")"
printf '%-36s %8.3f %8.3f %14.0f %14.0f\n' "grep -c -x -E -f, all patterns" "$all_wall" "$all_cpu" "$(rate "$all_wall")" "$(rate "$all_cpu")"
printf 'time of grep once per pattern / logtally: %.2f (wall), %.2f (cpu)\n' "$(echo "$each_wall / $lt_wall" | bc -l)" "$(echo "$each_cpu / $lt_cpu" | bc -l)"
printf 'time of logtally / grep -f all patterns:  %.2f (wall), %.2f (cpu)\n' "$(echo "$lt_wall / $all_wall" | bc -l)" "$(echo "$lt_cpu / $all_cpu" | bc -l)"
