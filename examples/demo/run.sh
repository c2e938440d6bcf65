#!/bin/sh
# A half-minute demonstration of logtally run: a writer appends real sshd
# lines to a log at a steady rate, with a burst of username probes in the
# middle; logtally follows the log with the ssh example rules, writes one
# line-protocol sample per measurement every second to a file, and raises
# its report when the burst comes. At the end it shows the report,
# the last samples and `logtally status`. Needs Go; nothing is installed and nothing outside a
# temporary directory is touched.
set -eu
cd "$(dirname "$0")/../.."
duration=${DURATION:-25}
tmp=$(mktemp -d)
trap 'kill $writer $burst $lt 2>/dev/null || true; rm -rf "$tmp"' EXIT INT TERM

echo "building logtally..." >&2
go build -o "$tmp/logtally" ./cmd/logtally

# The ssh example rules, pointed at the demo log, with the storm's alarm
# sent to this terminal (stderr) instead of syslog, which a container or a
# CI machine does not have.
sed -e "s#/var/log/auth.log#$tmp/auth.log#" -e "s#to: syslog#to: stderr#" examples/rules/ssh.yaml > "$tmp/ssh.yaml"
: > "$tmp/auth.log"

# The writer: real lines from examples/testdata/ssh/auth.log at a steady
# pace; after 15 seconds (15 samples: a fresh baseline judges from its
# third, and the burst is far beyond what it has seen), a storm of 400
# invalid users from one address.
(
	while :; do
		while IFS= read -r line; do
			printf '%s\n' "$line"
			sleep 0.02
		done < examples/testdata/ssh/auth.log
	done >> "$tmp/auth.log"
) &
writer=$!
(
	sleep 15
	n=0
	while [ $n -lt 400 ]; do
		printf 'Dec 10 07:00:00 demo sshd[4242]: Invalid user probe%d from 203.0.113.7\n' $n
		n=$((n + 1))
	done >> "$tmp/auth.log"
) &
burst=$!

# Samples go to a file (InfluxDB line protocol); the terminal shows what a
# person reads: logtally's report when the storm is noticed.
echo "logtally run: one sample per measurement every second, written to samples.lp; status page on http://127.0.0.1:9321/" >&2
echo "a storm of username probes arrives after 15 seconds; the report logtally raises shows here" >&2
"$tmp/logtally" run --rules "$tmp/ssh.yaml" --state "$tmp/state.db" --interval 1s --listen 127.0.0.1:9321 \
	--output "$tmp/samples.lp" --log-level warn 2> "$tmp/run.log" &
lt=$!
tail -f "$tmp/run.log" >&2 &
tailer=$!
trap 'kill $writer $burst $lt $tailer 2>/dev/null || true; rm -rf "$tmp"' EXIT INT TERM
elapsed=0
while [ $elapsed -lt "$duration" ]; do
	sleep 5
	elapsed=$((elapsed + 5))
	printf '  %ss: %s samples written\n' $elapsed "$(wc -l < "$tmp/samples.lp" | tr -d ' ')" >&2
done
kill -TERM $lt
wait $lt || true
kill $writer $tailer 2>/dev/null || true

echo >&2
echo "==> the report logtally raised:" >&2
grep ' ssh_probe_storm_report: ' "$tmp/run.log" >&2 || echo "(none: the storm was not noticed)" >&2
echo >&2
echo "==> the last samples of $(wc -l < "$tmp/samples.lp" | tr -d ' ') written as InfluxDB line protocol:" >&2
grep -v '^logtally_class' "$tmp/samples.lp" | tail -n 8 >&2
echo >&2
echo "==> logtally status:" >&2
"$tmp/logtally" status --state "$tmp/state.db"
