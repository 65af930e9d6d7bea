#!/usr/bin/env python3
"""Local random search whose objective is robust to the grid: the mean, over
several `bins` values, of the best standard score found by `nab --sweep`.
Exploration aid only. Usage: robust_search.py BIN NABDIR OUT.tsv N [SEED]
"""
import random, subprocess, sys

SPACE = {
    "rate_horizon": [1500, 2000, 3000],
    "rate_gain": [45, 60, 75],
    "tod_weight": [0.65, 0.7, 0.75],
    "smooth_weight": [0.8, 0.9, 1],
    "smooth": [48, 64, 96],
    "cooldown": [20, 30, 40],
    "squash": [25, 30, 35],
    "levels": [5, 6, 7],
    "warmup": [130, 150, 170],
}
BINS = [40, 44, 48, 52, 56]
THRESH = ",".join("%.3f" % (0.3 + 0.025 * i) for i in range(29))


def best(binary, nab, sets):
    args = [binary, "nab", nab, "--sweep", THRESH] + [a for k, v in sets.items() for a in ("--set", "%s=%s" % (k, v))]
    rows = [l.split() for l in subprocess.run(args, capture_output=True, text=True).stdout.splitlines()[1:]]
    return max(rows, key=lambda r: float(r[1]))


def main():
    binary, nab, out_path, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    rng = random.Random(int(sys.argv[5]) if len(sys.argv) > 5 else 1)
    with open(out_path, "a") as out:
        for _ in range(n):
            sets = {k: rng.choice(v) for k, v in SPACE.items()}
            res = [best(binary, nab, dict(sets, bins=b)) for b in BINS]
            scores = [float(r[1]) for r in res]
            out.write("%.3f\t%s\t%s\n" % (sum(scores) / len(scores), " ".join("%s@%s" % (r[1], r[0]) for r in res),
                                          " ".join("%s=%s" % kv for kv in sets.items())))
            out.flush()


main()
