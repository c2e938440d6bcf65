#!/usr/bin/env python3
"""NAB scores of a results folder at fixed thresholds, using the scorer
shipped with the corpus (nab_score.py): the standard profile per category,
then every profile of the scorer on the part of the corpus the model was
tuned on and on the part held out of tuning.

Usage: categories.py CORPUS_DIR RESULTS_DIR [THRESHOLD ...]   (default 1 0.5)

nab_score.py is taken from CORPUS_DIR, or from the folder named by the
environment variable NAB_SCORER when the corpus has none (a generated one).

The held-out part is listed in split.txt next to this file; the tuned part
is every other labelled file. The list is checked against its rule (within
each category, files sorted by the SHA-256 of their key, the 1st, 4th, 7th,
... held out) so that it cannot drift.
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


def cell(ns, files, scores, keys, profile, t):
    """'score [detected windows,false positives]' of keys at threshold t."""
    r = ns.evaluate(files, scores, keys, profile, t)
    det = sum(ns.hit_windows(files[k], scores[k], t) for k in keys)
    if sum(files[k].n_windows for k in keys) == 0:
        return "   - [%d,%d]" % (det, r["counts"][2])
    return "%6.1f [%d,%d]" % (r["score"], det, r["counts"][2])


def main():
    corpus, results = sys.argv[1], sys.argv[2]
    thresholds = [float(t) for t in sys.argv[3:]] or [1.0, 0.5]
    sys.path.insert(0, os.environ.get("NAB_SCORER", corpus))
    sys.path.insert(0, corpus)
    import nab_score as ns
    files = ns.load_corpus(corpus)
    scores = ns.load_results(results, files)
    keys = [k for k in sorted(files) if k in scores]
    heads = "".join("%22s" % ("thr %g: NAB [det,FP]" % t) for t in thresholds)

    cats = sorted({k.split("/")[0] for k in keys})
    print("%-24s %6s" % ("category", "wins") + heads)
    for cat in cats + ["TOTAL"]:
        sub = [k for k in keys if cat == "TOTAL" or k.startswith(cat + "/")]
        print("%-24s %6d" % (cat, sum(files[k].n_windows for k in sub))
              + "".join("%22s" % cell(ns, files, scores, sub, "standard", t) for t in thresholds))

    held = read_split()
    if set(files) >= held and held != heldout_rule(files):
        sys.exit("split.txt does not follow its rule for this corpus")
    parts = [("tuned", [k for k in keys if k not in held]),
             ("held-out", [k for k in keys if k in held]),
             ("all", keys)]
    print()
    print("%-20s %-9s %5s %6s" % ("profile", "part", "files", "wins") + heads)
    for prof in ns.PROFILE_ORDER:
        for name, sub in parts:
            if sub:
                print("%-20s %-9s %5d %6d" % (prof, name, len(sub), sum(files[k].n_windows for k in sub))
                      + "".join("%22s" % cell(ns, files, scores, sub, prof, t) for t in thresholds))


if __name__ == "__main__":
    main()
