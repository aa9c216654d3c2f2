#!/usr/bin/env python3
"""Summarizes an async-profiler collapsed-stack file for one thread: the share of its samples under each frame
(inclusive), and the most frequent call paths below an anchor frame.
usage: collapsed-summary.py FILE THREAD_PREFIX [ANCHOR [DEPTH]]   e.g. wall.collapsed '[main' BenchRunner.measure 8"""
import collections
import sys

path, thread = sys.argv[1], sys.argv[2]
anchor = sys.argv[3] if len(sys.argv) > 3 else None
depth = int(sys.argv[4]) if len(sys.argv) > 4 else 8
paths, total = collections.Counter(), 0
for line in open(path):
    stack, n = line.rsplit(' ', 1)
    frames = stack.split(';')
    if not frames[0].startswith(thread):
        continue
    hit = [i for i, f in enumerate(frames) if anchor is None or f.endswith(anchor)]
    if not hit:
        continue
    n = int(n)
    total += n
    below = frames[hit[0] + 1:hit[0] + 1 + depth]
    paths[' > '.join(f.split('/')[-1][:60] for f in below)] += n
print(f"{total} samples of {thread} under {anchor}")
for p, c in paths.most_common(40):
    print(f"{100.0 * c / max(total, 1):5.1f}%  {p}")
