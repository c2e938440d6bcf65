#!/usr/bin/env bash
# bench/rules.sh: how the cost of logtally grows with the number of rules.
#
# The corpus is the 1,000,000-line sshd corpus of bench/match.sh with the
# source address of every "Failed password" line rewritten to one of 120
# addresses (198.18.0.0 to 198.18.0.119, the benchmarking range of RFC
# 2544), in turn. Rule k selects the failed passwords from address k:
#
#   .*sshd\[\d+\]: Failed password for .* from 198\.18\.0\.7 port \d+ ssh2
#
# with rules 0 to N-1 for N = 10, 100 and 1000: every rule of the 10 and the
# 100 occurs in the corpus, 120 of the 1000 do, the others do not.
#
# For each N it prints, over RUNS runs of each, `logtally test` and grep
# in turn, the median and the range (the machine may be shared: the
# load average is printed at the start and the end):
#   - `logtally test` over the corpus (wall and CPU seconds);
#   - one `grep -c -E -f` pass with the union of the N patterns, as one
#     alternation of the addresses (GNU grep 3.8, given the N patterns one
#     per line, takes minutes: its DFA cache thrashes; the single
#     alternation selects exactly the same lines);
#   - `logtally run` catching up with the whole corpus (a file read from
#     its beginning, start: beginning): the time until the daemon has read
#     every line, from its /metrics;
# and checks that logtally's count of every rule equals grep's count of
# that rule's address among the lines the union selects, and that the
# daemon committed the same totals.
#
# Then the memory of `logtally run` with 100 and 1000 weekly measurements
# (the same rules, trained by `logtally learn` on the corpus so that every
# baseline is full): RSS idle, idle after five scrapes of /metrics a
# second apart, and RSS and peak RSS after 1,000,000 appended lines.
#
#   bash bench/rules.sh                  # N=1000000 lines, RUNS=5
#   RUNS=5 SIZES="100 1000" bash bench/rules.sh
#   SKIP_RUN=1 SKIP_RSS=1 bash bench/rules.sh   # logtally test and grep only
set -euo pipefail
cd "$(dirname "$0")/.."
n=${N:-1000000}
runs=${RUNS:-5}
sizes=${SIZES:-10 100 1000}
out=bench/out
mkdir -p "$out"
corpus_sh=${CORPUS_SH:-../shared/corpus/make-auth-corpus.sh}
base="$out/auth-$n.log"
corpus="$out/rules-auth-$n.log"
if [ ! -s "$base" ]; then
	echo "building a $n-line corpus with $corpus_sh" >&2
	sh "$corpus_sh" "$n" "$base"
fi
if [ ! -s "$corpus" ] || [ "$base" -nt "$corpus" ]; then
	perl -pe 'if (/Failed password for .* from \S+ port \d+ ssh2$/) { my $k = $i++ % 120; s/ from \S+ port / from 198.18.0.$k port /; }' "$base" > "$corpus.tmp"
	mv "$corpus.tmp" "$corpus"
fi
go build -o "$out/logtally" ./cmd/logtally
tmp=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill $pid 2>/dev/null; rm -rf "$tmp"' EXIT

addr() { echo "198.18.$(($1 / 256)).$(($1 % 256))"; }

# rules K PATH [EXTRA]: the rule file of K rules reading PATH, each
# measurement with the extra YAML lines EXTRA (indented by 4).
rules() {
	local k a
	echo "measurements:"
	for k in $(seq 0 $(($1 - 1))); do
		a=$(addr "$k")
		printf '  - handle: failed_from_%04d\n    path: %s\n' "$k" "$2"
		printf "    select_line_matching: '.*sshd\\\\[\\\\d+\\\\]: Failed password for .* from %s port \\\\d+ ssh2'\n" "${a//./\\.}"
		[ -z "${3:-}" ] || printf '%s\n' "$3"
	done
}

# union K: the K patterns as one extended regex for grep.
union() {
	local k alts=
	for k in $(seq 0 $(($1 - 1))); do
		alts="$alts|$(addr "$k" | sed 's/\./\\./g')"
	done
	echo "sshd\[[0-9]+\]: Failed password for .* from (${alts#|}) port [0-9]+ ssh2\$"
}

timed() {
	local t o=$1
	shift
	t=$( { TIMEFORMAT='%R %U %S'; time "$@" > "$o"; } 2>&1 | tail -1)
	wall=$(echo "$t" | cut -d' ' -f1)
	cpu=$(echo "$t" | awk '{print $2 + $3}')
}
# spread X...: "median (min-max)" of the numbers X.
spread() {
	printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END {
		m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		printf "%.3f (%.3f-%.3f)", m, v[1], v[NR]}'
}
median() { spread "$@" | cut -d' ' -f1; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
metric_lines() {
	curl -s "http://127.0.0.1:$1/metrics" | awk '/^logtally_stream_lines_total/ {s += $2} END {print s + 0}'
}
rss() { awk -v k="$2" '$1 == k":" {printf "%.0f", $2 / 1024}' "/proc/$1/status"; }

# start_daemon RULES STATE PORT: starts logtally run in the background.
start_daemon() {
	"$out/logtally" run --rules "$1" --state "$2" --listen "127.0.0.1:$3" \
		--output /dev/null --log-level warn 2>> "$tmp/err.log" &
	pid=$!
	until curl -s -o /dev/null "http://127.0.0.1:$3/metrics"; do sleep 0.05; done
}
stop_daemon() {
	kill -TERM "$pid"
	wait "$pid" || true
	pid=
}

# counts_of JSON: "handle count" per measurement of logtally test's output.
counts_of() {
	python3 -c 'import json,sys
for m in json.load(open(sys.argv[1]))["measurements"]: print(m["handle"], m["selected"])' "$1"
}

cat "$corpus" > /dev/null
echo "corpus: $corpus ($n lines, $(grep -c 'Failed password' "$corpus") failed passwords from 120 addresses)"
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores; $runs runs each, in turn: median (range), seconds"
printf '%-6s %-21s %-21s %-21s %-21s %6s %22s\n' rules "logtally test wall" "logtally test cpu" "grep -c -E -f wall" "grep -c -E -f cpu" ratio "run catch-up wall/cpu"
status=0
for k in $sizes; do
	rules "$k" /var/log/auth.log > "$tmp/rules-$k.yaml"
	union "$k" > "$tmp/union-$k.ere"
	lt_wall=() lt_cpu=() g_wall=() g_cpu=()
	for _ in $(seq "$runs"); do
		timed "$tmp/lt-$k.json" "$out/logtally" test --rules "$tmp/rules-$k.yaml" --log "$corpus" --format json
		lt_wall+=("$wall") lt_cpu+=("$cpu")
		timed "$tmp/grep-$k.count" grep -c -E -f "$tmp/union-$k.ere" "$corpus"
		g_wall+=("$wall") g_cpu+=("$cpu")
	done
	# Exact counts: grep's count of each address among the lines the
	# union selects, against logtally's count of the rule of that address.
	grep -E -f "$tmp/union-$k.ere" "$corpus" | sed -E 's/.* from ([0-9.]+) port .*/\1/' | sort | uniq -c |
		awk '{print $2, $1}' | sort > "$tmp/grep-$k.by-addr"
	counts_of "$tmp/lt-$k.json" | while read -r h c; do
		[ "$c" -eq 0 ] || echo "$(addr "$((10#${h#failed_from_}))") $c"
	done | sort > "$tmp/lt-$k.by-addr"
	total=$(awk '{s += $2} END {print s + 0}' "$tmp/lt-$k.by-addr")
	if ! cmp -s "$tmp/grep-$k.by-addr" "$tmp/lt-$k.by-addr" || [ "$total" -ne "$(cat "$tmp/grep-$k.count")" ]; then
		echo "MISMATCH with $k rules: logtally selected $total lines, grep $(cat "$tmp/grep-$k.count")" >&2
		diff "$tmp/grep-$k.by-addr" "$tmp/lt-$k.by-addr" | head >&2 || true
		status=1
	fi
	run_col="(skipped)"
	if [ -z "${SKIP_RUN:-}" ]; then
		# Catch-up: the daemon reads the whole corpus from its beginning.
		cp "$corpus" "$tmp/auth.log"
		rules "$k" "$tmp/auth.log" "    start: beginning" > "$tmp/run-$k.yaml"
		rm -f "$tmp/state.db"
		port=$(free_port)
		t0=$(date +%s.%N)
		start_daemon "$tmp/run-$k.yaml" "$tmp/state.db" "$port"
		until [ "$(metric_lines "$port")" -ge "$n" ]; do sleep 0.02; done
		t1=$(date +%s.%N)
		rcpu=$(awk '{print ($14 + $15) / 100}' "/proc/$pid/stat")
		stop_daemon
		run_col=$(printf '%.2f / %.2f s' "$(echo "$t1 - $t0" | bc -l)" "$rcpu")
		"$out/logtally" status --state "$tmp/state.db" --json |
			python3 -c 'import json,sys
for m in json.load(sys.stdin)["measurements"]: print(m["handle"], int(m["total"]))' | sort > "$tmp/run-$k.totals"
		counts_of "$tmp/lt-$k.json" | sort > "$tmp/lt-$k.totals"
		if ! cmp -s "$tmp/run-$k.totals" "$tmp/lt-$k.totals"; then
			echo "MISMATCH with $k rules: logtally run committed other totals than logtally test" >&2
			diff "$tmp/lt-$k.totals" "$tmp/run-$k.totals" | head >&2 || true
			status=1
		fi
	fi
	printf '%-6s %-21s %-21s %-21s %-21s %6.2f %22s\n' "$k" "$(spread "${lt_wall[@]}")" "$(spread "${lt_cpu[@]}")" \
		"$(spread "${g_wall[@]}")" "$(spread "${g_cpu[@]}")" \
		"$(echo "$(median "${lt_wall[@]}") / $(median "${g_wall[@]}")" | bc -l)" "$run_col"
done
[ "$status" -eq 0 ] && echo "counts: every rule's count equals grep's, for every size"

if [ -z "${SKIP_RSS:-}" ]; then
	echo
	printf '%-28s %10s %16s %14s %10s\n' "weekly measurements" "idle RSS" "idle, 5 scrapes" "after 1M lines" "peak RSS"
	for k in 100 1000; do
		: > "$tmp/auth.log"
		rules "$k" "$tmp/auth.log" > "$tmp/rss-$k.yaml"
		rm -f "$tmp/state.db"
		"$out/logtally" learn --rules "$tmp/rss-$k.yaml" --state "$tmp/state.db" --all "$corpus" > /dev/null 2>> "$tmp/err.log"
		port=$(free_port)
		start_daemon "$tmp/rss-$k.yaml" "$tmp/state.db" "$port"
		sleep 2 # settle: the idle figure is the daemon at rest
		idle=$(rss "$pid" VmRSS)
		# At rest as Prometheus leaves it: scraped now and then.
		for _ in 1 2 3 4 5; do
			curl -s -o /dev/null "http://127.0.0.1:$port/metrics"
			sleep 1
		done
		sleep 1
		scraped=$(rss "$pid" VmRSS)
		cat "$corpus" >> "$tmp/auth.log"
		# Once a second, as a scraper might (a scrape of 1000 measurements'
		# series allocates about 25 MB, which 20 scrapes a second would
		# make the peak measured).
		until [ "$(metric_lines "$port")" -ge "$n" ]; do sleep 1; done
		after=$(rss "$pid" VmRSS) peak=$(rss "$pid" VmHWM)
		stop_daemon
		printf '%-28s %6s MiB %12s MiB %10s MiB %6s MiB\n' "$k (trained)" "$idle" "$scraped" "$after" "$peak"
	done
fi
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
exit "$status"
