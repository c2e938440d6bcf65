#!/bin/sh
# A one-minute demonstration of logtally run: a writer appends real sshd
# lines to a log at a steady rate, with a burst of username probes in the
# middle; logtally follows the log with the ssh example rules and prints one
# line-protocol sample per measurement every 2 seconds. At the end it shows
# `logtally status`. Needs Go; nothing is installed and nothing outside a
# temporary directory is touched.
set -eu
cd "$(dirname "$0")/../.."
duration=${DURATION:-50}
tmp=$(mktemp -d)
trap 'kill $writer $burst $lt 2>/dev/null || true; rm -rf "$tmp"' EXIT INT TERM

echo "building logtally..." >&2
go build -o "$tmp/logtally" ./cmd/logtally

# The ssh example rules, pointed at the demo log.
sed "s#/var/log/auth.log#$tmp/auth.log#" examples/rules/ssh.yaml > "$tmp/ssh.yaml"
: > "$tmp/auth.log"

# The writer: real lines from examples/testdata/ssh/auth.log at a steady
# pace; after 30 seconds, a storm of 400 invalid users from one address.
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
	sleep 30
	n=0
	while [ $n -lt 400 ]; do
		printf 'Dec 10 07:00:00 demo sshd[4242]: Invalid user probe%d from 203.0.113.7\n' $n
		n=$((n + 1))
	done >> "$tmp/auth.log"
) &
burst=$!

echo "logtally run: one sample per measurement every 2s (InfluxDB line protocol); status page on http://127.0.0.1:9321/" >&2
"$tmp/logtally" run --rules "$tmp/ssh.yaml" --state "$tmp/state.db" --interval 2s --listen 127.0.0.1:9321 --log-level warn &
lt=$!
sleep "$duration"
kill -TERM $lt
wait $lt || true
kill $writer 2>/dev/null || true
echo >&2
"$tmp/logtally" status --state "$tmp/state.db"
