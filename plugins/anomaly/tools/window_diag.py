#!/usr/bin/env python3
"""Per-window separability of raw scores dumped by `uplink-anomaly nab --dump DIR`.

For every labelled window: the highest raw score in the window's first
FRAC part, and how many scored rows outside windows reach it (fewer is
better: 0 means a threshold exists that catches this window with no FP).
"""
import os, sys

def main():
    d = sys.argv[1]
    frac = float(sys.argv[2]) if len(sys.argv) > 2 else 0.75
    tot = 0
    for name in sorted(os.listdir(d)):
        rows = [l.split() for l in open(os.path.join(d, name))]
        raw = [float(r[0]) for r in rows]
        win = [r[1] == '1' for r in rows]
        n = len(raw)
        prob = min(int(0.15 * n), 750)
        outside = sorted((raw[i] for i in range(prob, n) if not win[i]), reverse=True)
        # windows
        i = 0
        ws = []
        while i < n:
            if win[i]:
                j = i
                while j + 1 < n and win[j + 1]:
                    j += 1
                ws.append((i, j))
                i = j + 1
            else:
                i += 1
        out = []
        for a, b in ws:
            e = a + int(frac * (b - a + 1))
            m = max(raw[a:e + 1])
            arg = a + raw[a:e + 1].index(m)
            above = sum(1 for x in outside if x >= m)
            out.append("w[%d..%d] max %.3f at %+.2f, out>= %d" % (a, b, m, (arg - b - 1) / (b - a + 1), above))
        top = ["%.3f" % x for x in outside[:3]]
        print("%-58s n=%5d top_out=%s" % (name[:-8], n, ",".join(top)))
        for o in out:
            print("     " + o)

main()
