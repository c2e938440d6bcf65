#!/usr/bin/env bash
# bench/starve.sh: how late `logtally run` commits a steady stream's
# intervals while a hostile stream's every line reaches the regex time
# limit (issue scenario: ten catastrophic 41-byte lines a second at the
# default limit). The end-to-end test (tests/starve_test.go) proves that
# the steady commits do not wait for the hostile stream; this measures
# how late they are on this machine, which depends on its speed and load.
#
# It starts the daemon at a 2 s interval on two empty files, writes the
# hostile lines for S seconds and, in the middle of each interval, a known
# number of lines to the steady file, then reads from the daemon's log
# when each interval was committed and checks the committed counts.
#
#   bash bench/starve.sh          # S=30
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${S:-30}
out=bench/out
mkdir -p "$out"
go build -o "$out/logtally" ./cmd/logtally
tmp=$(mktemp -d)
pid=
trap '[ -z "$pid" ] || kill $pid 2>/dev/null || true; rm -rf "$tmp"' EXIT
: > "$tmp/steady.log"
: > "$tmp/hostile.log"
cat > "$tmp/rules.yaml" <<RULES
measurements:
  - handle: steady
    path: $tmp/steady.log
    select_line_matching: '.*tick.*'
    history_type: scalar
  - handle: hostile
    path: $tmp/hostile.log
    select_line_matching: '(?=a)(a|aa)+b'
    history_type: scalar
RULES
"$out/logtally" run --rules "$tmp/rules.yaml" --state "$tmp/state.db" --interval 2s \
	--listen= --output "$tmp/out.lp" 2> "$tmp/log" &
pid=$!
until grep -qs 'msg=committed ' "$tmp/log"; do sleep 0.05; done

python3 - "$tmp" "$secs" <<'PY'
import os, re, sys, threading, time
tmp, secs = sys.argv[1], float(sys.argv[2])
width = 2.0
stop = threading.Event()
def hostile():
    with open(os.path.join(tmp, "hostile.log"), "a") as f:
        while not stop.wait(0.1):
            f.write("a" * 41 + "\n"); f.flush()
threading.Thread(target=hostile, daemon=True).start()
want = {}
first = (int(time.time() / width) + 1) * width
for i in range(int(secs / width)):
    start = first + i * width
    time.sleep(max(0, start + width / 2 - time.time()))
    n = 3 + i % 4
    with open(os.path.join(tmp, "steady.log"), "a") as f:
        f.write("tick\n" * n)
    want[int(start + width)] = n
stop.set()
time.sleep(max(0, first + len(want) * width + 3 - time.time()))
open(os.path.join(tmp, "want"), "w").write("".join(f"{e} {n}\n" for e, n in sorted(want.items())))
PY
kill -TERM $pid
wait $pid || true
pid=

python3 - "$tmp" <<'PY'
import datetime, re, statistics, sys
tmp = sys.argv[1]
width = 2
want = dict(map(int, l.split()) for l in open(f"{tmp}/want"))
def ts(s):
    return datetime.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()
late, pending = {}, {}
for l in open(f"{tmp}/log"):
    m = re.search(r"time=(\S+) level=INFO msg=committed interval_start=(\S+) partial=false .* late=(\d+)$", l)
    if m:
        end = int(ts(m[2])) + width
        late[end] = ts(m[1]) - end
        pending[end] = int(m[3])
got = {}
for l in open(f"{tmp}/out.lp"):
    m = re.match(r"steady(?:,\S*)? \S*value=([0-9.]+)\S* (\d+)$", l.strip())
    if m:
        end = int(m[2][:10])
        got[end] = got.get(end, 0) + float(m[1])
lates = [late[e] for e in want if e in late]
wrong = [e for e in want if got.get(e) != want[e]]
print(f"{len(want)} steady intervals, {len(lates)} committed; hostile stream late at {sum(1 for e in want if pending.get(e))} of the commits")
if lates:
    print(f"commit after the interval's end: median {statistics.median(lates):.3f} s, max {max(lates):.3f} s")
print(f"intervals with a wrong count: {len(wrong)}" + (f" {[(e, got.get(e), want[e]) for e in wrong]}" if wrong else ""))
sys.exit(1 if wrong or len(lates) != len(want) else 0)
PY
