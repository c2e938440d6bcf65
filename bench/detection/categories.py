#!/usr/bin/env python3
"""Per-category NAB standard-profile scores of a results folder at fixed
thresholds, using the scorer shipped with the corpus (nab_score.py).

Usage: categories.py CORPUS_DIR RESULTS_DIR [THRESHOLD ...]

nab_score.py is taken from CORPUS_DIR, or from the folder named by the
environment variable NAB_SCORER when the corpus has none (a generated one).
"""
import os
import sys


def main():
    corpus, results = sys.argv[1], sys.argv[2]
    thresholds = [float(t) for t in sys.argv[3:]] or [1.0, 0.5]
    sys.path.insert(0, os.environ.get("NAB_SCORER", corpus))
    sys.path.insert(0, corpus)
    import nab_score as ns
    files = ns.load_corpus(corpus)
    scores = ns.load_results(results, files)
    keys = [k for k in sorted(files) if k in scores]
    cats = sorted({k.split("/")[0] for k in keys})
    head = "%-24s %6s" % ("category", "wins") + "".join(
        "%20s" % ("thr %g: NAB [det,FP]" % t) for t in thresholds)
    print(head)
    for cat in cats + ["TOTAL"]:
        sub = [k for k in keys if cat == "TOTAL" or k.startswith(cat + "/")]
        wins = sum(files[k].n_windows for k in sub)
        line = "%-24s %6d" % (cat, wins)
        for t in thresholds:
            r = ns.evaluate(files, scores, sub, "standard", t)
            det = sum(ns.hit_windows(files[k], scores[k], t) for k in sub)
            fp = r["counts"][2]
            if wins == 0:
                line += "%20s" % ("   - [%d,%d]" % (det, fp))
            else:
                line += "%20s" % ("%6.1f [%d,%d]" % (r["score"], det, fp))
        print(line)


if __name__ == "__main__":
    main()
