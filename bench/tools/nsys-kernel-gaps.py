#!/usr/bin/env python3
"""Kernel durations and the gaps before them, per kernel name, from an nsys sqlite export.

Usage: nsys-kernel-gaps.py <report.sqlite> [tail_fraction]
Takes the last tail_fraction (default 0.3) of the traced time (steady decode), and for every stream the gap
between a kernel's start and the end of the kernel before it on the same stream. Needs
`nsys profile --cuda-graph-trace=node` for the kernels inside graphs to show one by one.
"""
import sqlite3
import sys
from collections import defaultdict

db = sqlite3.connect(sys.argv[1])
tail = float(sys.argv[2]) if len(sys.argv) > 2 else 0.3
rows = db.execute(
    "SELECT k.start, k.end, k.streamId, s.value FROM CUPTI_ACTIVITY_KIND_KERNEL k "
    "JOIN StringIds s ON k.shortName = s.id ORDER BY k.start").fetchall()
if not rows:
    sys.exit("no kernels traced")
t0, t1 = rows[0][0], max(r[1] for r in rows)
cut = t1 - (t1 - t0) * tail
rows = [r for r in rows if r[0] >= cut]
by_stream = defaultdict(list)
for r in rows:
    by_stream[r[2]].append(r)
stats = defaultdict(lambda: [0, 0.0, 0.0])  # count, total duration ns, total gap before ns
print(f"window {(t1 - cut) / 1e6:.2f} ms, {len(rows)} kernels, {len(by_stream)} streams")
for sid, ks in sorted(by_stream.items()):
    busy = sum(e - s for s, e, _, _ in ks)
    span = ks[-1][1] - ks[0][0]
    print(f"stream {sid}: {len(ks)} kernels, busy {busy / 1e6:.3f} ms of {span / 1e6:.3f} ms ({100 * busy / span:.0f}%)")
    prev_end = None
    for s, e, _, name in ks:
        st = stats[name]
        st[0] += 1
        st[1] += e - s
        if prev_end is not None:
            st[2] += max(0, s - prev_end)
        prev_end = e
print(f"{'kernel':60s} {'count':>7s} {'mean us':>8s} {'gap us':>7s} {'total ms':>9s}")
for name, (n, d, g) in sorted(stats.items(), key=lambda kv: -(kv[1][1] + kv[1][2])):
    print(f"{name[:60]:60s} {n:7d} {d / n / 1e3:8.2f} {g / n / 1e3:7.2f} {(d + g) / 1e6:9.3f}")
# the last few kernels of every stream in time order: how the ranks' streams interleave (skew at the barriers)
last = sorted(rows, key=lambda r: r[0])[-int(sys.argv[3]) if len(sys.argv) > 3 else -48:]
base = last[0][0]
print(f"\nthe last {len(last)} kernels (start and end relative to the first of them, us)")
for s, e, sid, name in last:
    print(f"{sid:4d} {(s - base) / 1e3:9.2f} {(e - base) / 1e3:9.2f} {(e - s) / 1e3:7.2f}  {name[:70]}")
