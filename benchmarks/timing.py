"""What the benchmark scripts share: timing in turns, the machine header, and ``--busy``.

Run them as users will, without the BLAS overrides some shells set::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/NAME.py [--busy]
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from contextlib import contextmanager, nullcontext
from typing import Callable, Iterator

import numpy as np

BLAS_OVERRIDES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
BUSY_LIMIT_S = 3600  # the busy process ends by itself after this long, whatever happens to the benchmark
# Pause, untimed, whenever the turn passes to the other library. After its last call a library's idle threads
# go on spinning for a while (OpenBLAS's for 0.1-0.2 s, libgomp's for less) and take the cores from whichever runs
# next: measured here, a torch LeNet-5 step right after cnnlab's took 9-14 ms against 5.2 ms alone, and settled
# from a 0.2 s pause on. Each side is timed as it runs alone, as users run it.
SETTLE_S = 0.25


def compare_ms(*fns: Callable[[], object], repeat: int, warmup: int = 1, block: int = 1) -> list[float]:
    """Median wall times (ms) of several functions, timed in turns: ``block`` calls of each, ``repeat`` calls in all,
    after ``warmup`` untimed calls of each (allocators, pools, caches).

    Taking turns makes a ratio fair on a shared machine whose speed drifts: a slow spell
    slows every side, not just whichever happened to run during it. Every turn starts
    after ``SETTLE_S`` of rest, so that the other library's spinning threads are gone, and
    one untimed call, which wakes the library's own sleeping threads: each side is timed
    running alone and warm. ``block`` > 1 makes the turns longer and the rests fewer.
    """
    return [1e3 * float(np.median(ts)) for ts in compare_runs(*fns, repeat=repeat, warmup=warmup, block=block)]


def compare_runs(*fns: Callable[[], object], repeat: int, warmup: int = 1, block: int = 1) -> list[list[float]]:
    """Every timed call's wall time (s) of each function, taken in turns as ``compare_ms`` describes."""
    for fn in fns:
        time.sleep(SETTLE_S)
        for _ in range(warmup):
            fn()
    times: list[list[float]] = [[] for _ in fns]
    while len(times[0]) < repeat:
        for fn, ts in zip(fns, times):
            time.sleep(SETTLE_S)
            fn()  # untimed: wakes this library's own threads, which slept through the rest
            for _ in range(min(block, repeat - len(ts))):
                t = time.perf_counter()
                fn()
                ts.append(time.perf_counter() - t)
    return times


def ratio_spread(ours: list[float], theirs: list[float]) -> tuple[float, float, float, float, float]:
    """``(ratio, q1, q3, ours_ms, theirs_ms)``: the ratio of the medians, the quartiles of the ratios of the calls
    timed in the same turn (the spread), and the two medians in ms."""
    n = min(len(ours), len(theirs))
    r = np.asarray(ours[:n]) / np.asarray(theirs[:n])
    q1, q3 = np.percentile(r, [25, 75])
    mo, mt = float(np.median(ours)), float(np.median(theirs))
    return mo / mt, float(q1), float(q3), 1e3 * mo, 1e3 * mt


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def header(what: str) -> str:
    """The lines every benchmark prints first: the machine, the BLAS kernel and threads, the libraries."""
    from threadpoolctl import threadpool_info

    import cnnlab

    lines = [what, f"CPU: {cpu_model()}, {len(os.sched_getaffinity(0))} cores usable, "
                   f"load average {os.getloadavg()[0]:.1f} at start; Python {platform.python_version()}"]
    for lib in threadpool_info():
        arch = f", kernel {lib['architecture']}" if lib.get("architecture") else ""
        lines.append(f"{lib['user_api']}: {lib['internal_api']} {lib.get('version') or ''} ({os.path.basename(lib['filepath'])}"
                     f"{arch}, {lib['num_threads']} threads)")
    lines.append(f"numpy {np.__version__}, cnnlab {cnnlab.__version__}" + _torch_line())
    for name in BLAS_OVERRIDES:
        if name in os.environ:
            lines.append(f"WARNING: {name}={os.environ[name]} is set: it forces OpenBLAS's kernels and is not what users "
                         f"run; use `env -u {' -u '.join(BLAS_OVERRIDES)} python ...`")
    return "\n".join(lines)


def _torch_line() -> str:
    torch = sys.modules.get("torch")
    return f", torch {torch.__version__} ({torch.get_num_threads()} threads)" if torch else ""


def add_busy_option(parser: argparse.ArgumentParser) -> None:
    """``--busy`` and ``--threads``: the options every benchmark shares (apply them with ``setup``)."""
    parser.add_argument("--busy", action="store_true",
                        help="time every case twice: quiet, then beside one CPU-bound process this script starts "
                             "(and stops); report both ratios")
    parser.add_argument("--threads", type=int,
                        help="run both libraries on this many threads (torch's threads, BLAS's, cnnlab's workers); "
                             "default: each library's own choice")


def setup(args: argparse.Namespace) -> None:
    """Apply the shared options and keep freed memory as the CLI does; call before timing anything."""
    from cnnlab import runtime

    runtime.tune_allocator()
    n = getattr(args, "threads", None)
    if n is None:
        return
    from threadpoolctl import threadpool_limits

    threadpool_limits(n)  # every BLAS and OpenMP library loaded so far
    runtime.WORKERS = n
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(n)


_BUSY_LOOP = "import time\nend = time.monotonic() + {limit}\nwhile time.monotonic() < end:\n    pass\n"


@contextmanager
def busy_process(limit_s: float = BUSY_LIMIT_S) -> Iterator[None]:
    """One CPU-bound Python process beside this one, for the ``with`` block (and never longer than ``limit_s``)."""
    proc = subprocess.Popen([sys.executable, "-c", _BUSY_LOOP.format(limit=limit_s)])
    try:
        time.sleep(0.2)  # let it start spinning before anything is timed
        yield
    finally:
        proc.kill()
        proc.wait()


def conditions(busy: bool) -> list[tuple[str, Callable[[], object]]]:
    """``[("quiet", context)]``, plus ``("busy", context)`` with ``--busy``: the conditions to time each case under."""
    return [("quiet", nullcontext)] + ([("busy", busy_process)] if busy else [])
