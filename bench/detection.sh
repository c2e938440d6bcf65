#!/bin/sh
# Scores logtally's baseline on the labelled series of a NAB-style corpus
# with the default configuration, at the fixed thresholds that correspond to
# remediating on _anomaly (1) and on _dev2 (0.5): the scorer's full report,
# the standard-profile score per category, then every profile's score on
# the part of the corpus the model was tuned on and on the part held out of
# tuning (detection/split.txt), and where each part loses its points
# (missed windows, late detections, false positives: detection/losses.py).
#
# Usage: bench/detection.sh [CORPUS_DIR] [OUT_DIR]
#
# Whether a change is better or lucky: score both versions (OUT_DIR/results
# of each run) and compare them with a paired bootstrap over files:
#
#	python3 bench/detection/compare.py CORPUS_DIR OLD/results NEW/results
#
# A synthetic labelled corpus of count series (spikes, bursts, level
# shifts, dropouts) is a check that does not depend on the NAB files:
#
#	go run ./bench/detection -synth DIR -seed 1
#	NAB_SCORER=/work/shared/detection bench/detection.sh DIR
set -eu
here=$(cd "$(dirname "$0")" && pwd)
corpus=${1:-/work/shared/detection}
out=${2:-$(mktemp -d)}
scorer=${NAB_SCORER:-$corpus}
cd "$here/.."
# Every series goes through the real command line, `logtally backtest
# --series`, with the default configuration; its class rises become the
# detector's scores.
go build -o "$out/logtally" ./cmd/logtally
for f in "$corpus"/data/*/*.csv; do
	rel=${f#"$corpus/data/"}
	mkdir -p "$out/results/$(dirname "$rel")"
	"$out/logtally" backtest --series "$f" --handle series 2> /dev/null |
		python3 "$here/detection/scores.py" > "$out/results/$rel"
done
python3 "$scorer/nab_score.py" "$out/results" --nab-root "$corpus" \
	--threshold 1 --threshold 0.5 --per-file
echo
NAB_SCORER=$scorer python3 "$here/detection/categories.py" "$corpus" "$out/results"
echo
NAB_SCORER=$scorer python3 "$here/detection/losses.py" "$corpus" "$out/results" 1
