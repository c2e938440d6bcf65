#!/usr/bin/env python3
"""Turn `logtally backtest --series` CSV into NAB detector output.

Reads the backtest CSV (timestamp,handle,value,av,dev,z,classes,score) on stdin
and writes timestamp,anomaly_score: 1.0 on a row where an _anomaly class
rises (set now, not at the previous row), 0.5 where only a _dev2 class
rises, 0 otherwise.
"""
import csv
import sys
from datetime import datetime, timezone

rows = csv.DictReader(sys.stdin)
out = csv.writer(sys.stdout, lineterminator="\n")
out.writerow(["timestamp", "anomaly_score"])
prev = set()
for row in rows:
    classes = set(row["classes"].split())
    rose = classes - prev
    prev = classes
    anomaly = any(c.endswith("_anomaly") and not c.endswith("_microanomaly") for c in rose)
    dev2 = any(c.endswith("_dev2") for c in rose)
    t = datetime.fromisoformat(row["timestamp"].replace("Z", "+00:00")).astimezone(timezone.utc)
    out.writerow([t.strftime("%Y-%m-%d %H:%M:%S"), "1.0" if anomaly else "0.5" if dev2 else "0"])
