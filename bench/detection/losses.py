#!/usr/bin/env python3
"""Where a results folder loses NAB points (standard profile), per part.

Usage: losses.py CORPUS_DIR RESULTS_DIR [THRESHOLD] [--files]

A perfect detector scores A_tp = 1 per window. The raw score falls short of
that by three kinds of loss, which this prints for the tuned part, the
held-out part (split.txt) and all files:

  missed   A_tp + A_fn for each window without a detection (2 per window),
  late     1 - S(y) of the first detection of each detected window (a
           detection at the window's labelled centre loses about 0.14),
  FP       A_fp * |S(y)| of every detection outside a window (0.11 each
           unless it follows a window closely).

With --files, the losses of each file and the row of each window's first
detection. nab_score.py is taken from CORPUS_DIR or $NAB_SCORER.
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def losses(ns, lf, s, thr, w):
    """(windows, missed, lateness, fp count, fp cost, window details)."""
    wins = {}
    fps = 0
    fp_cost = 0.0
    for i in lf.scorable():
        wid = lf.window_of[i]
        if wid is not None:
            d = wins.setdefault(wid, [i, i, None])
            d[1] = i
            if s[i] >= thr and d[2] is None:
                d[2] = i
        elif s[i] >= thr:
            fps += 1
            fp_cost -= w["fp"] * lf.unweighted[i]
    missed = sum(1 for d in wins.values() if d[2] is None)
    late = sum(w["tp"] * (1 - lf.unweighted[d[2]]) for d in wins.values() if d[2] is not None)
    return len(wins), missed, late, fps, fp_cost, wins


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    per_file = "--files" in sys.argv
    corpus, results = args[0], args[1]
    thr = float(args[2]) if len(args) > 2 else 1.0
    sys.path.insert(0, os.environ.get("NAB_SCORER", corpus))
    sys.path.insert(0, corpus)
    import nab_score as ns
    w = ns.PROFILES["standard"]
    files = ns.load_corpus(corpus)
    scores = ns.load_results(results, files)
    with open(os.path.join(HERE, "split.txt")) as f:
        held = {ln.strip() for ln in f if ln.strip() and not ln.startswith("#")}
    keys = [k for k in sorted(files) if k in scores]
    parts = [("tuned", [k for k in keys if k not in held]),
             ("held-out", [k for k in keys if k in held]),
             ("all", keys)]
    print("standard profile, threshold %g: raw-score losses" % thr)
    print("%-9s %5s %6s %14s %8s %14s" % ("part", "files", "wins", "missed (loss)", "late", "FP (cost)"))
    for name, sub in parts:
        tw = tm = tl = tf = tc = 0
        for k in sub:
            n, m, l, f, c, _ = losses(ns, files[k], scores[k], thr, w)
            tw += n; tm += m; tl += l; tf += f; tc += c
        loss = tm * (w["tp"] + w["fn"])
        print("%-9s %5d %6d %6d (%5.2f) %8.2f %5d (%6.2f)" % (name, len(sub), tw, tm, loss, tl, tf, tc))
    if not per_file:
        return
    print()
    for k in keys:
        lf = files[k]
        n, m, l, f, c, wins = losses(ns, lf, scores[k], thr, w)
        part = "held-out" if k in held else "tuned"
        print("%-58s %-8s wins %d missed %d late %.2f FP %d (%.2f)" % (k, part, n, m, l, f, c))
        for wid, (a, b, d) in wins.items():
            what = "missed" if d is None else "row %d, %.2f" % (d, lf.unweighted[d])
            print("    window %s (rows %d-%d): %s" % (wid.split("|")[1], a, b, what))


if __name__ == "__main__":
    main()
