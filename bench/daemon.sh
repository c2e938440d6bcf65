#!/usr/bin/env bash
# bench/daemon.sh: how many lines per second `logtally run` keeps up with on
# one followed file with the ssh example rules, and its memory after
# 1,000,000 lines.
#
# It starts the daemon on an empty log, appends the whole corpus at once,
# and times how long the daemon takes to read and match every line (the
# per-stream line counter on /metrics, which follow updates as it
# delivers). Then it checks the committed total after SIGTERM and reports
# the resident set size (current and peak).
#
#   bash bench/daemon.sh          # N=1000000
set -euo pipefail
cd "$(dirname "$0")/.."
n=${N:-1000000}
out=bench/out
mkdir -p "$out"
corpus_sh=${CORPUS_SH:-../shared/corpus/make-auth-corpus.sh}
corpus="$out/auth-$n.log"
[ -s "$corpus" ] || sh "$corpus_sh" "$n" "$corpus"
go build -o "$out/logtally" ./cmd/logtally
tmp=$(mktemp -d)
trap 'kill $pid 2>/dev/null || true; rm -rf "$tmp"' EXIT

log="$tmp/auth.log"
: > "$log"
sed "s#/var/log/auth.log#$log#" examples/rules/ssh.yaml > "$tmp/rules.yaml"
cat >> "$tmp/rules.yaml" <<RULES
  - handle: bench_lines
    path: $log
    select_line_matching: '.*'
    history_type: scalar
RULES
# measurements: is the rule file's only list; append the extra rule to it.
python3 - "$tmp/rules.yaml" <<'PY'
import sys
p = sys.argv[1]; s = open(p).read()
head, sep, extra = s.partition("  - handle: bench_lines")
# move the extra measurement into the measurements: list (before classes:)
i = head.index("\nclasses:")
open(p, "w").write(head[:i] + "\n" + sep + extra + head[i:])
PY
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$out/logtally" run --rules "$tmp/rules.yaml" --state "$tmp/state.db" --interval 5s \
	--listen "127.0.0.1:$port" --output /dev/null --log-level warn 2> "$tmp/err.log" &
pid=$!
lines() {
	curl -s "http://127.0.0.1:$port/metrics" | awk '/^logtally_stream_lines_total/ {s += $2} END {print s + 0}'
}
until curl -s -o /dev/null "http://127.0.0.1:$port/metrics"; do sleep 0.05; done
rss() { awk -v k="$1" '$1 == k":" {print $2 / 1024 " MiB"}' /proc/$pid/status; }
echo "idle:  RSS $(rss VmRSS)"

t0=$(date +%s.%N)
cat "$corpus" >> "$log"
until [ "$(lines)" -ge "$n" ]; do sleep 0.02; done
t1=$(date +%s.%N)
secs=$(echo "$t1 - $t0" | bc -l)
cpu=$(awk '{print ($14 + $15) / 100}' /proc/$pid/stat)
echo "read and matched $n lines in $(printf %.2f "$secs") s wall: $(printf %.0f "$(echo "$n / $secs" | bc -l)") lines/s (process CPU so far ${cpu}s)"
echo "after: RSS $(rss VmRSS), peak RSS $(rss VmHWM)"
kill -TERM $pid
wait $pid || true
total=$("$out/logtally" status --state "$tmp/state.db" --json | python3 -c 'import json,sys; print(int(next(m["total"] for m in json.load(sys.stdin)["measurements"] if m["handle"]=="bench_lines")))')
echo "committed total of bench_lines: $total (want $n)"
[ "$total" -eq "$n" ]
