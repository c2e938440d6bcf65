#!/usr/bin/env python3
"""Is one detector better than another on the labelled series, or lucky?

Usage: compare.py CORPUS_DIR RESULTS_A RESULTS_B [THRESHOLD]   (default 1)

Prints the standard-profile NAB score of both results folders at a fixed
threshold on the tuned part, the held-out part (split.txt) and all files,
the difference B - A, and a 90% interval for that difference from a paired
bootstrap over files (files drawn with replacement, both detectors scored
on the same draw, 2000 draws, fixed seed). One window is worth about two
points on the tuned part and three on the held-out part, so a difference
whose interval contains 0 is not evidence of a better model.
nab_score.py is taken from CORPUS_DIR or $NAB_SCORER.
"""
import os
import random
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    corpus, ra, rb = sys.argv[1:4]
    thr = float(sys.argv[4]) if len(sys.argv) > 4 else 1.0
    sys.path.insert(0, os.environ.get("NAB_SCORER", corpus))
    sys.path.insert(0, corpus)
    import nab_score as ns
    files = ns.load_corpus(corpus)
    a = ns.load_results(ra, files)
    b = ns.load_results(rb, files)
    with open(os.path.join(HERE, "split.txt")) as f:
        held = {ln.strip() for ln in f if ln.strip() and not ln.startswith("#")}
    keys = [k for k in sorted(files) if k in a and k in b]
    w = ns.PROFILES["standard"]

    def raw(scores):
        r = ns.evaluate(files, scores, keys, "standard", thr)
        return {k: r["per_file"][k][0] for k in keys}

    pa, pb = raw(a), raw(b)

    def norm(p, ks):
        # null = -A_fn per window, perfect = A_tp per window (every window
        # of these files has scored rows).
        n = sum(files[k].n_windows for k in ks)
        if n == 0:
            return None
        return 100 * (sum(p[k] for k in ks) + w["fn"] * n) / ((w["tp"] + w["fn"]) * n)

    rng = random.Random(1)
    print("standard profile, threshold %g" % thr)
    print("%-9s %5s %6s %8s %8s %8s %18s" % ("part", "files", "wins", "A", "B", "B - A", "90% interval"))
    for name, sub in [("tuned", [k for k in keys if k not in held]),
                      ("held-out", [k for k in keys if k in held]),
                      ("all", keys)]:
        if not sub:
            continue
        d = []
        for _ in range(2000):
            draw = [rng.choice(sub) for _ in sub]
            x, y = norm(pa, draw), norm(pb, draw)
            if x is not None:
                d.append(y - x)
        d.sort()
        lo, hi = d[int(0.05 * len(d))], d[int(0.95 * len(d)) - 1]
        sa, sb = norm(pa, sub), norm(pb, sub)
        print("%-9s %5d %6d %8.1f %8.1f %+8.1f    [%+5.1f, %+5.1f]"
              % (name, len(sub), sum(files[k].n_windows for k in sub), sa, sb, sb - sa, lo, hi))


if __name__ == "__main__":
    main()
