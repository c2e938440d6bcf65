#!/bin/sh
# Scores logtally's baseline on the labelled series of a NAB-style corpus
# with the default configuration, at the fixed thresholds that correspond to
# remediating on _anomaly (1) and on _dev2 (0.5).
#
# Usage: bench/detection.sh [CORPUS_DIR] [OUT_DIR]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
corpus=${1:-/work/shared/detection}
out=${2:-$(mktemp -d)}
cd "$here/.."
go build -o "$out/detection" ./bench/detection
"$out/detection" -data "$corpus/data" -out "$out/results"
python3 "$corpus/nab_score.py" "$out/results" --nab-root "$corpus" \
	--threshold 1 --threshold 0.5 --per-file
