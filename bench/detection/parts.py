#!/usr/bin/env python3
"""NAB scores of a results folder on the tuned and the held-out part of the
corpus, for every profile of the scorer, at fixed thresholds.

Usage: parts.py CORPUS_DIR RESULTS_DIR [THRESHOLD ...]   (default 1 0.5)

The held-out part is listed in split.txt next to this file; the tuned part
is every other labelled file. The list is checked against its rule (within
each category, files sorted by the SHA-256 of their key, the 1st, 4th, 7th,
... held out) so that it cannot drift. nab_score.py is taken from
CORPUS_DIR, or from the folder named by NAB_SCORER.
"""
import hashlib
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def heldout_rule(keys):
    """The held-out keys by the rule of split.txt."""
    by_cat = {}
    for k in keys:
        by_cat.setdefault(k.split("/")[0], []).append(k)
    out = set()
    for cat in by_cat.values():
        cat.sort(key=lambda k: hashlib.sha256(k.encode()).hexdigest())
        out.update(cat[0::3])
    return out


def read_split():
    with open(os.path.join(HERE, "split.txt")) as f:
        return {ln.strip() for ln in f if ln.strip() and not ln.startswith("#")}


def main():
    corpus, results = sys.argv[1], sys.argv[2]
    thresholds = [float(t) for t in sys.argv[3:]] or [1.0, 0.5]
    sys.path.insert(0, os.environ.get("NAB_SCORER", corpus))
    sys.path.insert(0, corpus)
    import nab_score as ns
    files = ns.load_corpus(corpus)
    scores = ns.load_results(results, files)
    held = read_split()
    if set(files) >= held and held != heldout_rule(files):
        sys.exit("split.txt does not follow its rule for this corpus")
    parts = [("tuned", sorted(k for k in files if k not in held)),
             ("held-out", sorted(k for k in files if k in held)),
             ("all", sorted(files))]
    print("%-20s %-9s %5s %6s" % ("profile", "part", "files", "wins")
          + "".join("%22s" % ("thr %g: NAB [det,FP]" % t) for t in thresholds))
    for prof in ns.PROFILE_ORDER:
        for name, keys in parts:
            keys = [k for k in keys if k in scores]
            if not keys:
                continue
            wins = sum(files[k].n_windows for k in keys)
            line = "%-20s %-9s %5d %6d" % (prof, name, len(keys), wins)
            for t in thresholds:
                r = ns.evaluate(files, scores, keys, prof, t)
                det = sum(ns.hit_windows(files[k], scores[k], t) for k in keys)
                line += "%22s" % ("%6.1f [%d,%d]" % (r["score"], det, r["counts"][2]))
            print(line)


if __name__ == "__main__":
    main()
