"""The one timing helper of the benchmark scripts (run them as `python benchmarks/NAME.py`)."""

from __future__ import annotations

import time
from typing import Callable

import numpy as np


def compare_ms(*fns: Callable[[], object], repeat: int, warmup: int = 1, block: int = 1) -> list[float]:
    """Median wall times (ms) of several functions, timed in turns: ``block`` calls of each, ``repeat`` calls in all,
    after ``warmup`` untimed calls of each (allocators, pools, caches).

    Taking turns makes a ratio fair on a shared machine whose speed drifts: a slow spell
    slows every side, not just whichever happened to run during it. ``block`` > 1 keeps
    one library's idle threads (torch's OpenMP workers spin for a while after each op)
    from taxing the other's first call of every turn too often.
    """
    for fn in fns:
        for _ in range(warmup):
            fn()
    times: list[list[float]] = [[] for _ in fns]
    while len(times[0]) < repeat:
        for fn, ts in zip(fns, times):
            for _ in range(min(block, repeat - len(ts))):
                t = time.perf_counter()
                fn()
                ts.append(time.perf_counter() - t)
    return [1e3 * float(np.median(ts)) for ts in times]
